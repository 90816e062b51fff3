"""Checks a run's ARC-Easy samples against the goldens transformers gives for
the same GGUF file and the same requests
(tests/fixtures/gguf/arc_easy_smollm2_goldens.json, written by
scripts/goldens/make_gguf_model_goldens.py): every item's acc and acc_norm
prediction exactly, and every choice's log-likelihood within 1e-3.

usage: check_arc_goldens.py SAMPLES_JSONL GOLDENS_JSON TASK_NAME
"""
import json
import sys

TOLERANCE = 1e-3


def main(samples_path, goldens_path, task):
    golden = json.load(open(goldens_path))
    samples = {}
    for line in open(samples_path):
        s = json.loads(line)
        if s["task"] == task:
            samples[s["id"]] = s
    items = golden["items"]
    assert len(samples) == len(items), f"{len(samples)} samples for {len(items)} golden items"
    worst = 0.0
    for g in items:
        s = samples[g["item_id"]]
        want = [c["loglikelihood"] for c in g["choices"]]
        got = s["logprobs"]
        assert len(got) == len(want), (g["item_id"], got, want)
        worst = max(worst, max(abs(a - b) for a, b in zip(got, want)))
        pred_acc = max(range(len(got)), key=lambda i: got[i])
        assert pred_acc == g["pred_acc"], (g["item_id"], "acc", pred_acc, g["pred_acc"], got, want)
        assert s["metrics"]["acc"] == float(pred_acc == g["gold"]), g["item_id"]
        assert s["metrics"]["acc_norm"] == float(g["pred_acc_norm"] == g["gold"]), (
            g["item_id"], "acc_norm", s["metrics"], g["pred_acc_norm"])
    assert worst <= TOLERANCE, f"log-likelihoods differ by up to {worst}"
    acc = sum(s["metrics"]["acc"] for s in samples.values()) / len(samples)
    assert abs(acc - golden["summary"]["acc"]) < 1e-9, (acc, golden["summary"]["acc"])
    print(f"{task}: {len(items)} items as the goldens (acc {acc:.2f}); "
          f"log-likelihoods within {worst:.2e}")


if __name__ == "__main__":
    main(*sys.argv[1:])
