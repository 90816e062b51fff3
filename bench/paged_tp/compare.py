"""Prints bench/paged_tp's table: each side's seconds and tokens per second on
the same work, as ratios against transformers, and how the answers agree.

usage: compare.py OUT_DIR
"""
import json
import os
import sys


def figures(run_dir):
    r = json.load(open(os.path.join(run_dir, "results.json")))
    return {f["name"]: f["value"] for f in r["figures"] if not f["scope"]}


def samples(run_dir):
    return {json.loads(l)["id"]: json.loads(l) for l in open(os.path.join(run_dir, "samples.jsonl"))}


def main(out):
    for kind in ("scoring", "generation"):
        hf_path = os.path.join(out, f"{kind}.transformers.json")
        if not os.path.exists(hf_path):
            continue
        hf = json.load(open(hf_path))
        print(f"\n{kind}: {hf['prompt_tokens']} prompt tokens"
              + (f", transformers batch sizes {hf['settings']}" if hf.get("settings") else ""))
        # Scoring: prompt tokens per second (the same prompts for every side).
        # Generation: tokens generated per second (stop strings end Compass's
        # sequences earlier than transformers' max_new_tokens).
        unit = "prompt tok/s" if kind == "scoring" else "new tok/s"
        print(f"  {'side':<14}{'seconds':>9}{unit:>14}{'vs transformers':>17}")
        rows = [("transformers", hf["seconds"],
                 hf["prompt_tokens"] if kind == "scoring" else hf["generated_tokens"])]
        for backend in ("hf_native", "paged_tp"):
            f = figures(os.path.join(out, f"{kind}.{backend}"))
            if kind == "scoring":
                work = hf["prompt_tokens"]
            elif backend == "paged_tp":
                work = f["decode_tokens"]
            else:
                work = f["tokens"] - hf["prompt_tokens"]
            rows.append((backend, f["forward_seconds"], work))
        base = rows[0][2] / rows[0][1]
        for name, seconds, work in rows:
            rate = work / seconds
            print(f"  {name:<14}{seconds:>9.2f}{rate:>14.1f}{rate / base:>16.2f}x")
        if kind == "scoring":
            f = figures(os.path.join(out, "scoring.paged_tp"))
            print(f"  paged_tp prefill computed / requested: {f['prefill_tokens_computed']:.0f} / "
                  f"{f['prefill_tokens_requested']:.0f} = "
                  f"{f['prefill_tokens_computed'] / f['prefill_tokens_requested']:.3f}")
            worst, same = 0.0, 0
            pt, hn = samples(os.path.join(out, "scoring.paged_tp")), samples(
                os.path.join(out, "scoring.hf_native"))
            for sid, s in pt.items():
                ref = hf["logprobs"][sid]
                worst = max(worst, max(abs(a - b) for a, b in zip(s["logprobs"], ref)))
                best = max(range(len(ref)), key=lambda i: ref[i])
                same += s["choices"][best] == " " + s["prediction"] or s["prediction"] == s["choices"][best].strip()
                same_native = hn[sid]["prediction"] == s["prediction"]
                assert same_native, f"{sid}: hf_native and paged_tp predict differently"
            print(f"  paged_tp vs transformers: log-likelihoods within {worst:.2e}, "
                  f"{same}/{len(pt)} predictions equal; paged_tp and hf_native predict alike")
        else:
            a = samples(os.path.join(out, "generation.paged_tp"))
            b = samples(os.path.join(out, "generation.hf_native"))
            same = sum(a[k]["prediction"] == b[k]["prediction"] for k in a)
            print(f"  paged_tp and hf_native: {same}/{len(a)} generations identical")


if __name__ == "__main__":
    main(sys.argv[1])
