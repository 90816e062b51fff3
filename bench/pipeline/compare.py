"""Prints bench/pipeline's table: compute seconds of pipeline and hf_native on
the same work (ratio), the pipeline's measured bubble next to the ideal,
each stage's busy time, and whether the answers agree.

usage: compare.py OUT_DIR
"""
import json
import os
import sys


def results(run_dir):
    return json.load(open(os.path.join(run_dir, "results.json")))


def figures(r, scope=""):
    return {f["name"]: f["value"] for f in r["figures"] if f["scope"] == scope}


def samples(run_dir):
    return {json.loads(l)["id"]: json.loads(l) for l in open(os.path.join(run_dir, "samples.jsonl"))}


def main(out):
    for kind in ("scoring", "generation"):
        hf_dir, pp_dir = (os.path.join(out, f"{kind}.{b}") for b in ("hf_native", "pipeline"))
        if not (os.path.exists(hf_dir) and os.path.exists(pp_dir)):
            continue
        hf, pp = figures(results(hf_dir)), results(pp_dir)
        pf = figures(pp)
        print(f"\n{kind}:")
        print(f"  {'side':<12}{'seconds':>9}{'vs hf_native':>14}")
        print(f"  {'hf_native':<12}{hf['forward_seconds']:>9.2f}{1.0:>13.2f}x")
        print(f"  {'pipeline':<12}{pf['forward_seconds']:>9.2f}"
              f"{hf['forward_seconds'] / pf['forward_seconds']:>13.2f}x")
        phase = kind
        print(f"  pipeline: {pf['stages']:.0f} stages, {pf[phase + '_micro_batches']:.0f} micro-batches,"
              f" bubble measured {pf[phase + '_bubble']:.3f}, ideal {pf[phase + '_bubble_ideal']:.3f}")
        scopes = sorted({f["scope"] for f in pp["figures"] if f["scope"].startswith("stage ")})
        for scope in scopes:
            s = figures(pp, scope)
            print(f"    {scope:<18} busy {s[phase + '_busy_seconds']:8.2f} s, waited for input "
                  f"{s[phase + '_wait_input_seconds']:7.2f} s, for room {s[phase + '_wait_output_seconds']:6.2f} s")
        a, b = samples(pp_dir), samples(hf_dir)
        same = sum(a[k]["prediction"] == b[k]["prediction"] for k in a)
        worst = 0.0
        if kind == "scoring":
            worst = max(max(abs(x - y) for x, y in zip(a[k]["logprobs"], b[k]["logprobs"])) for k in a)
        print(f"  pipeline and hf_native: {same}/{len(a)} predictions identical"
              + (f", log-likelihoods within {worst:.2e}" if kind == "scoring" else ""))


if __name__ == "__main__":
    main(sys.argv[1])
