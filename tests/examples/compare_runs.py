#!/usr/bin/env python3
"""Compares a run folder's results with a reference run's, for the
multi-process tests: the same requests, generated tokens, finish reasons,
greedy flags and predictions; log-probs equal bit for bit (TOLERANCE 0, the
default: then the scored samples' log-probs and the aggregates too) or, per
token, within TOLERANCE. Prints what was compared and the largest gaps.

    compare_runs.py REFERENCE_DIR RUN_DIR [TOLERANCE]
"""
import json
import os
import sqlite3
import sys


def load(folder):
    db = sqlite3.connect(os.path.join(folder, "results.sqlite"))
    responses = {r[0]: r[1:] for r in db.execute(
        "SELECT hash, kind, logprob, is_greedy, num_tokens, tokens_json, finish_reason,"
        " token_logprobs_json FROM responses WHERE label = ''")}
    samples = {(r[0], r[1]): json.loads(r[2]) for r in db.execute(
        "SELECT task, item_id, sample_json FROM samples WHERE label = ''")}
    aggregates = sorted(db.execute(
        "SELECT task, grp, metric, value, stderr, count FROM aggregates"))
    return responses, samples, aggregates


def main():
    ref, run = sys.argv[1], sys.argv[2]
    tol = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    assert not os.path.exists(os.path.join(run, "shards")), "shards left after the merge"
    (a, sa, ga), (b, sb, gb) = load(ref), load(run)
    assert a.keys() == b.keys(), f"different requests: {len(a)} vs {len(b)}"
    token_gap = request_gap = 0.0
    kinds = {}
    for h, x in a.items():
        y = b[h]
        kinds[x[0]] = kinds.get(x[0], 0) + 1
        request_gap = max(request_gap, abs(x[1] - y[1]))
        if tol == 0:
            assert x == y, f"response {h} differs: {x} vs {y}"
            continue
        # kind, is_greedy, num_tokens, tokens, finish reason: exactly.
        assert (x[0], x[2], x[3], x[4], x[5]) == (y[0], y[2], y[3], y[4], y[5]), \
            f"response {h} differs: {x[:6]} vs {y[:6]}"
        tx, ty = json.loads(x[6] or "[]"), json.loads(y[6] or "[]")
        assert len(tx) == len(ty), f"{h}: per-token log-probs differ in length"
        for u, v in zip(tx, ty):
            token_gap = max(token_gap, abs(u - v))
        assert token_gap <= tol, f"{h}: a token's log-prob differs by {token_gap} > {tol}"
        assert abs(x[1] - y[1]) <= tol * max(1, x[3]), f"{h}: log-prob differs by {x[1] - y[1]}"
    assert sa.keys() == sb.keys(), "different items"
    for k in sa:
        pa, pb = sa[k].get("prediction"), sb[k].get("prediction")
        assert pa == pb, f"{k}: prediction {pa} vs {pb}"
        if tol == 0:
            assert sa[k].get("logprobs") == sb[k].get("logprobs"), f"{k}: log-probs differ"
    if tol == 0:
        assert ga == gb, f"aggregates differ: {ga} vs {gb}"
        print(f"identical: {len(a)} responses {kinds}, {len(sa)} items' predictions and "
              f"log-probs, {len(ga)} aggregates; max |delta log-prob| = {request_gap}")
    else:
        print(f"{len(a)} responses {kinds}, {len(sa)} predictions identical; max |delta| per "
              f"token {token_gap:.3g}, per request {request_gap:.3g} (tolerance {tol})")


if __name__ == "__main__":
    main()
