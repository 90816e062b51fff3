#!/usr/bin/env python3
"""Writes the hf_native benchmark's model (unless one is given) and workloads.

usage: make_workload.py OUT_DIR [--model DIR] [--contexts N] [--prompts N]
                        [--max-new-tokens N] [--seed N]

Without --model, OUT_DIR/model gets a random Llama written by transformers
(hidden 512, intermediate 1376, 8 layers, 8 heads / 4 KV heads, vocab 32000,
untied, float32: about 56 M parameters), so that forwards cost what a small
real model's do. OUT_DIR/workload.json gets two workloads of random token ids
(the shapes are what matter for speed):

- scoring, shaped like MMLU 5-shot: `contexts` questions in subjects of 20,
  each subject with its own 5-shot prefix; contexts of 400-600 tokens, each
  with 4 one-token continuations (" A" .. " D": 4 fixed ids), so 4
  loglikelihood requests per distinct context;
- generation, shaped like GSM8K 8-shot: `prompts` prompts of 650-750 tokens
  (a shared few-shot prefix and a question), greedy, up to max_new_tokens new
  tokens. Half of them stop early: their stop token is the token the model
  itself generates at a step between 12 and 60 (found with transformers,
  greedy, before the benchmark), so they end at its first occurrence; every
  prompt also stops at the model's EOS.
"""
import argparse
import json
import os
import random

import torch


def write_random_llama(path, seed):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=32000,
        hidden_size=512,
        intermediate_size=1376,
        num_hidden_layers=8,
        num_attention_heads=8,
        num_key_value_heads=4,
        max_position_embeddings=2048,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
        initializer_range=0.05,
        bos_token_id=1,
        eos_token_id=2,
    )
    model = LlamaForCausalLM(config).to(torch.float32)
    model.save_pretrained(path, safe_serialization=True)


def greedy(model, context, n):
    """n greedy tokens after `context`, with a KV cache, no stop token."""
    out = model(torch.tensor([context]), use_cache=True)
    past, tokens = out.past_key_values, []
    for _ in range(n):
        tok = int(out.logits[0, -1].argmax())
        tokens.append(tok)
        out = model(torch.tensor([[tok]]), past_key_values=past, use_cache=True)
        past = out.past_key_values
    return tokens


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--model", help="a Hugging Face model folder (default: write a random Llama)")
    ap.add_argument("--contexts", type=int, default=100)
    ap.add_argument("--prompts", type=int, default=20)
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    model_dir = args.model or os.path.join(args.out_dir, "model")
    if not args.model:
        write_random_llama(model_dir, args.seed)
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    vocab = config["vocab_size"]
    eos = config.get("eos_token_id")
    eos = [] if eos is None else (eos if isinstance(eos, list) else [eos])

    rng = random.Random(args.seed)

    def tokens(n):
        return [rng.randrange(3, vocab) for _ in range(n)]

    choices = [[rng.randrange(3, vocab)] for _ in range(4)]
    answer = tokens(2)  # "Answer:"
    scoring = []
    prefix = []
    for i in range(args.contexts):
        if i % 20 == 0:
            prefix = tokens(rng.randrange(330, 440))
        ctx = prefix + tokens(rng.randrange(60, 150)) + answer
        scoring.append({"context": ctx, "continuations": choices})

    shots = tokens(560)
    generation = []
    for i in range(args.prompts):
        generation.append({
            "context": shots + tokens(rng.randrange(90, 190)),
            "max_new_tokens": args.max_new_tokens,
            "stop_token_ids": list(eos),
        })

    # Early stops: the model's own greedy token at a step between 12 and 60.
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32,
                                                 attn_implementation="sdpa").eval()
    with torch.inference_mode():
        for i, g in enumerate(generation):
            if i % 2:
                continue
            step = 12 + (i * 7) % 48
            tok = greedy(model, g["context"], step + 1)[step]
            if tok not in g["stop_token_ids"]:
                g["stop_token_ids"].append(tok)

    with open(os.path.join(args.out_dir, "workload.json"), "w") as f:
        json.dump({"model": os.path.abspath(model_dir), "scoring": scoring,
                   "generation": generation}, f)
    n_tok = sum(len(s["context"]) for s in scoring)
    print(f"workload: {len(scoring)} scoring contexts ({4 * len(scoring)} requests, "
          f"{n_tok} context tokens), {len(generation)} generation prompts; model {model_dir}")


if __name__ == "__main__":
    main()
