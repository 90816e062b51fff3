#!/usr/bin/env python3
"""Summarises a run.sh folder: every hf_native and transformers measurement,
hf_native's default ("auto") against transformers' fastest, and whether their
results agree.

usage: compare.py OUT_DIR KIND...
"""
import glob
import json
import os
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def row(r):
    return (f"  {r['impl']:<12} batch {str(r.get('batch_option', r['batch'])):>4}"
            f" (ran {int(r['batch']):>2}): wall {r['wall_s']:8.2f} s, {r['tokens_per_s']:8.1f} tokens/s,"
            f" user {r['user_s']:8.2f} s, sys {r['sys_s']:6.2f} s"
            f" ({100 * r['sys_s'] / max(r['user_s'], 1e-9):4.1f} % of user),"
            f" {r['minor_faults'] / 1e6:6.2f} M minor faults, {int(r['tokens'])} tokens")


def agreement(kind, a, b):
    if kind == "scoring":
        diff = max(abs(x - y) for ra, rb in zip(a["results"], b["results"]) for x, y in zip(ra, rb))
        same_choice = sum(ra.index(max(ra)) == rb.index(max(rb))
                          for ra, rb in zip(a["results"], b["results"]))
        return (f"max |log-prob difference| {diff:.2e}; same argmax choice on "
                f"{same_choice}/{len(a['results'])} contexts")
    same = sum(x == y for x, y in zip(a["results"], b["results"]))
    return f"identical generations: {same}/{len(a['results'])}"


def medians(paths):
    """One run per setting: the median-wall run of its repetitions."""
    by_setting = {}
    for p in paths:
        r = load(p)
        by_setting.setdefault(str(r.get("batch_option", r["batch"])), []).append(r)
    out = []
    for runs in by_setting.values():
        runs.sort(key=lambda r: r["wall_s"])
        m = dict(runs[len(runs) // 2])
        m["walls"] = [round(r["wall_s"], 2) for r in runs]
        out.append(m)
    return out


def main():
    out, kinds = sys.argv[1], sys.argv[2:]
    for kind in kinds:
        ours = medians(glob.glob(os.path.join(out, f"{kind}.hf_native.*.json")))
        theirs = medians(glob.glob(os.path.join(out, f"{kind}.transformers.*.json")))
        if not ours or not theirs:
            continue
        print(f"{kind} (median of each setting's runs; all walls in brackets):")
        for r in ours + theirs:
            print(row(r) + f" {r['walls']}")
        default = next((r for r in ours if r.get("batch_option") == "auto"), ours[0])
        best = min(theirs, key=lambda r: r["wall_s"])
        print(f"  hf_native default vs transformers best (batch {best['batch']}): "
              f"{best['wall_s'] / default['wall_s']:.2f}x the speed "
              f"(wall {default['wall_s']:.2f} s vs {best['wall_s']:.2f} s); "
              f"sys/user {100 * default['sys_s'] / max(default['user_s'], 1e-9):.1f} % vs "
              f"{100 * best['sys_s'] / max(best['user_s'], 1e-9):.1f} %")
        print(f"  results: {agreement(kind, default, best)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
