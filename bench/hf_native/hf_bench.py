#!/usr/bin/env python3
"""transformers on the hf_native benchmark's workloads, timed like hf_native_bench.

usage: hf_bench.py WORKLOAD --kind scoring|generation --batch N [--out FILE] [--threads N]

Written to be transformers at its best on a CPU: SDPA attention,
torch.inference_mode, float32.
- scoring: each distinct context computed once, longest first, left-padded
  batches of N with position ids from the mask, logits only at the last
  position (logits_to_keep=1; the continuations are one token each), then
  log_softmax and the 4 choices' log-probs;
- generation: generate() greedy, left-padded batches of N (longest first),
  each row stopping at its own stop ids (a StoppingCriteria per row; the
  stop token is not counted), up to max_new_tokens.
Prints one JSON line: wall, user and system CPU seconds of the workload
(model loading excluded, from resource.getrusage), useful tokens (tokens of
the contexts computed + tokens generated) and the results, for comparison
with hf_native's.
"""
import argparse
import json
import resource
import time

import torch
from transformers import AutoModelForCausalLM, StoppingCriteria, StoppingCriteriaList


def usage():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), r.ru_utime, r.ru_stime, r.ru_minflt


def left_padded(seqs):
    width = max(len(s) for s in seqs)
    ids = torch.zeros((len(seqs), width), dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, width - len(s):] = torch.tensor(s)
        mask[i, width - len(s):] = 1
    return ids, mask


def scoring(model, work, batch):
    contexts = sorted({tuple(w["context"]) for w in work}, key=len, reverse=True)
    logp = {}
    tokens = 0
    for start in range(0, len(contexts), batch):
        group = contexts[start:start + batch]
        ids, mask = left_padded(group)
        positions = (mask.cumsum(-1) - 1).clamp_min(0)
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, logits_to_keep=1,
                    use_cache=False)
        lp = torch.log_softmax(out.logits[:, -1].float(), -1)
        for i, c in enumerate(group):
            logp[c] = lp[i]
        tokens += sum(len(c) for c in group)
    results = []
    for w in work:
        lp = logp[tuple(w["context"])]
        results.append([float(lp[c[0]]) for c in w["continuations"]])
    return results, tokens


class PerRowStop(StoppingCriteria):
    def __init__(self, stops, width):
        self.stops = stops
        self.width = width

    def __call__(self, input_ids, scores, **kwargs):
        last = input_ids[:, -1].tolist()
        return torch.tensor([t in s for t, s in zip(last, self.stops)], dtype=torch.bool)


def generation(model, work, batch):
    order = sorted(range(len(work)), key=lambda i: len(work[i]["context"]), reverse=True)
    results = [None] * len(work)
    tokens = 0
    for start in range(0, len(order), batch):
        group = order[start:start + batch]
        ids, mask = left_padded([work[i]["context"] for i in group])
        stops = [set(work[i]["stop_token_ids"]) for i in group]
        max_new = max(work[i]["max_new_tokens"] for i in group)
        out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False,
                             max_new_tokens=max_new, pad_token_id=0,
                             stopping_criteria=StoppingCriteriaList([PerRowStop(stops, ids.shape[1])]))
        for row, i in enumerate(group):
            new = out[row, ids.shape[1]:].tolist()
            kept = []
            for t in new[:work[i]["max_new_tokens"]]:
                if t in stops[row]:
                    break
                kept.append(t)
            results[i] = kept
            tokens += len(work[i]["context"]) + len(kept)
    return results, tokens


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workload")
    ap.add_argument("--kind", choices=["scoring", "generation"], required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--out")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own)")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    with open(args.workload) as f:
        workload = json.load(f)
    model = AutoModelForCausalLM.from_pretrained(workload["model"], dtype=torch.float32,
                                                 attn_implementation="sdpa").eval()
    model.generation_config.eos_token_id = None  # stops come from the workload
    work = workload[args.kind]
    run = scoring if args.kind == "scoring" else generation
    with torch.inference_mode():
        t0, u0, s0, f0 = usage()
        results, tokens = run(model, work, args.batch)
        t1, u1, s1, f1 = usage()
    report = {"impl": "transformers", "kind": args.kind, "batch": args.batch,
              "threads": torch.get_num_threads(), "wall_s": t1 - t0, "user_s": u1 - u0,
              "sys_s": s1 - s0, "minor_faults": f1 - f0, "tokens": tokens,
              "tokens_per_s": tokens / (t1 - t0)}
    if args.out:
        with open(args.out, "w") as f:
            json.dump({**report, "results": results}, f)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
