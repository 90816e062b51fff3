"""Recomputes the embedded default evaluation independently of Compass.

Builds the MMLU prompts in lm-evaluation-harness's format, scores each choice
with a byte bigram model (smoothing from eval.toml) estimated from
model/corpus.txt, and checks that results.json reports the same accuracy for
the task and for each subject.

usage: check_bigram_results.py RESULTS_JSON EXAMPLES_DIR
"""
import csv
import json
import math
import os
import re
import sys

V, BOS = 258, 256


def rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def doc_to_text(r):
    q, a, b, c, d, _ = r
    return f"{q.strip()}\nA. {a}\nB. {b}\nC. {c}\nD. {d}\nAnswer:"


def main(results_path, examples_dir):
    cfg = open(os.path.join(examples_dir, "sdk_backend", "eval.toml"), encoding="utf-8").read()
    smoothing = float(re.search(r"smoothing\s*=\s*([0-9.]+)", cfg).group(1))
    shots = int(re.search(r"shots\s*=\s*(\d+)", cfg).group(1))
    corpus = open(os.path.join(examples_dir, "sdk_backend", "corpus.txt"), "rb").read()
    counts = [[0] * V for _ in range(V)]
    prev = BOS
    for byte in corpus:
        counts[prev][byte] += 1
        prev = byte
    totals = [sum(r) for r in counts]

    def logp(p, t):
        return math.log((counts[p][t] + smoothing) / (totals[p] + smoothing * V))

    data = os.path.join(examples_dir, "default", "data", "mmlu")
    correct = {}
    for name in sorted(os.listdir(os.path.join(data, "test"))):
        subject = name[: -len("_test.csv")]
        dev = rows(os.path.join(data, "dev", f"{subject}_dev.csv"))[:shots]
        prefix = (f"The following are multiple choice questions (with answers) about "
                  f"{subject.replace('_', ' ')}.\n\n")
        prefix += "".join(doc_to_text(r) + " " + r[5] + "\n\n" for r in dev)
        for r in rows(os.path.join(data, "test", name)):
            context = [BOS] + list((prefix + doc_to_text(r)).encode("utf-8"))
            scores = []
            for letter in "ABCD":
                p, total = context[-1], 0.0
                for t in (" " + letter).encode("utf-8"):
                    total += logp(p, t)
                    p = t
                scores.append(total)
            pred = max(range(4), key=lambda i: (scores[i], -i))
            correct.setdefault(subject, []).append(1.0 if "ABCD"[pred] == r[5] else 0.0)

    results = json.load(open(results_path, encoding="utf-8"))
    task = results["tasks"][0]
    all_scores = [x for s in correct.values() for x in s]
    expected = sum(all_scores) / len(all_scores)
    got = task["metrics"]["acc"]["value"]
    assert task["items"] == len(all_scores), (task["items"], len(all_scores))
    assert abs(got - expected) < 1e-12, f"acc {got} != recomputed {expected}"
    for subject, s in correct.items():
        g = task["groups"][subject]["acc"]["value"]
        assert abs(g - sum(s) / len(s)) < 1e-12, (subject, g, sum(s) / len(s))
    assert results["backend"]["name"] == "bigram"
    print(f"recomputed acc {expected:.4f} over {len(all_scores)} items matches results.json")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
