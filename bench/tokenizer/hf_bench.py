#!/usr/bin/env python3
"""Hugging Face `tokenizers` on the same input as tokenizer_bench, printed the same way.

usage: hf_bench.py MODEL_DIR TEXT_FILE [--repeat N] [--no-special]
Each line of TEXT_FILE is one document. Times `encode` per document and `encode_batch`
over all documents (which uses every core), without special tokens added.
"""
import argparse
import os
import time

from tokenizers import Tokenizer


def checksum(batch):
    h = 1469598103934665603
    for ids in batch:
        for i in ids:
            h = ((h ^ i) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("text_file")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-special", action="store_true")
    args = ap.parse_args()

    start = time.perf_counter()
    tok = Tokenizer.from_file(os.path.join(args.model_dir, "tokenizer.json"))
    load_s = time.perf_counter() - start
    tok.encode_special_tokens = args.no_special
    with open(args.text_file, "rb") as f:
        docs = [line.decode("utf-8", errors="replace") for line in f.read().split(b"\n")]
    if docs and docs[-1] == "":
        docs.pop()  # as std::getline: no document after the last newline
    nbytes = sum(len(d.encode("utf-8")) for d in docs)

    for mode in ("encode", "encode_batch"):
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            if mode == "encode":
                out = [tok.encode(d, add_special_tokens=False).ids for d in docs]
            else:
                out = [e.ids for e in tok.encode_batch(docs, add_special_tokens=False)]
            best = min(best, time.perf_counter() - t0)
        tokens = sum(len(x) for x in out)
        print(f"hf {mode}: {len(docs)} documents, {nbytes / 1e6:.2f} MB, load {load_s:.2f} s, "
              f"encode {best:.3f} s (best of {args.repeat}), {nbytes / 1e6 / best:.2f} MB/s, "
              f"{tokens} tokens, checksum {checksum(out):016x}")


if __name__ == "__main__":
    main()
