"""transformers on the same work as a Compass run, for bench/paged_tp/run.sh.

Reads a Compass run's samples.jsonl (the exact prompts) and computes, with
transformers' own GGUF loading of the same file (float32, SDPA):
  scoring     every choice's log-likelihood, requests split as Compass splits
              them (golden_util.encode_pair), in right-padded batches of each
              size tried; the fastest counts
  generation  greedy continuations of every prompt, max_new_tokens each, in
              left-padded batches of each size tried; the fastest counts
Writes a JSON with the seconds of the fastest setting (the compute only, the
model already loaded), the prompt tokens, the generated tokens, and per
sample the log-likelihoods (scoring) for the comparison.

usage: transformers_side.py KIND GGUF SAMPLES_JSONL OUT_JSON [--batches 1 4 16]
       [--max-new-tokens N] [--threads N]
"""
import argparse
import json
import os
import sys
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "goldens"))
from golden_util import encode_pair, smollm2_pre_tokenizer  # noqa: E402


def load(path):
    kw = dict(gguf_file=os.path.basename(path))
    tok = AutoTokenizer.from_pretrained(os.path.dirname(path), **kw)
    tok.backend_tokenizer.pre_tokenizer = smollm2_pre_tokenizer()
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(path), dtype=torch.float32,
                                                 attn_implementation="sdpa", **kw)
    return tok, model.eval()


@torch.no_grad()
def score(model, requests, batch):
    """Sum of log-probs of each continuation. Requests with the same input
    (context + continuation minus its last token: the four one-token choices
    of an MMLU question) share one forward, as lm-evaluation-harness's
    transformers backend does; inputs run longest first."""
    by_input = {}
    for i, (ctx, cont) in enumerate(requests):
        by_input.setdefault(tuple(ctx + cont[:-1]), []).append(i)
    inputs = sorted(by_input, key=len, reverse=True)
    out = [0.0] * len(requests)
    for start in range(0, len(inputs), batch):
        chunk = inputs[start:start + batch]
        width = max(len(x) for x in chunk)
        ids = torch.zeros(len(chunk), width, dtype=torch.long)
        mask = torch.zeros(len(chunk), width, dtype=torch.long)
        for k, x in enumerate(chunk):
            ids[k, :len(x)] = torch.tensor(x)
            mask[k, :len(x)] = 1
        logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), -1)
        for k, x in enumerate(chunk):
            for i in by_input[x]:
                cont = requests[i][1]
                n, length = len(cont), len(x)
                pos = torch.arange(length - n, length)
                out[i] = float(logp[k, pos, torch.tensor(cont)].sum())
    return out


@torch.no_grad()
def generate(model, tok, prompts, batch, max_new):
    tok.padding_side = "left"
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    generated = 0
    for start in range(0, len(prompts), batch):
        chunk = prompts[start:start + batch]
        width = max(len(p) for p in chunk)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        mask = torch.zeros(len(chunk), width, dtype=torch.long)
        for k, p in enumerate(chunk):
            ids[k, width - len(p):] = torch.tensor(p)
            mask[k, width - len(p):] = 1
        out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new,
                             do_sample=False, pad_token_id=pad)
        eos = tok.eos_token_id
        for row in out[:, width:].tolist():
            generated += row.index(eos) + 1 if eos in row else len(row)
    return generated


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["scoring", "generation"])
    ap.add_argument("gguf")
    ap.add_argument("samples")
    ap.add_argument("out")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    tok, model = load(a.gguf)
    samples = [json.loads(line) for line in open(a.samples)]
    result = {"kind": a.kind, "settings": {}}
    if a.kind == "scoring":
        requests, owner = [], []
        for s in samples:
            for c in s["choices"]:
                requests.append(encode_pair(tok, s["prompt"], c))
                owner.append(s["id"])
        result["prompt_tokens"] = sum(len(x) for x in {tuple(c + x[:-1]) for c, x in requests})
        best = None
        for b in a.batches:
            start = time.perf_counter()
            lls = score(model, requests, b)
            seconds = time.perf_counter() - start
            result["settings"][str(b)] = seconds
            if best is None or seconds < best:
                best, result["logprobs"] = seconds, {}
                for sid, ll in zip(owner, lls):
                    result["logprobs"].setdefault(sid, []).append(ll)
        result["seconds"] = best
    else:
        prompts = [tok.encode(s["prompt"], add_special_tokens=False) for s in samples]
        result["prompt_tokens"] = sum(len(p) for p in prompts)
        best = None
        for b in a.batches:
            start = time.perf_counter()
            generated = generate(model, tok, prompts, b, a.max_new_tokens)
            seconds = time.perf_counter() - start
            result["settings"][str(b)] = seconds
            if best is None or seconds < best:
                best, result["generated_tokens"] = seconds, generated
        result["seconds"] = best
    json.dump(result, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
