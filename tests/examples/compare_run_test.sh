#!/usr/bin/env bash
# compass compare, end to end on the real model: hf_native, paged_tp and
# pipeline on two virtual CPU devices over slices of MMLU (5-shot), ARC-Easy
# and GSM8K (greedy), plus hf_native again at batch size 1. Every backend
# must agree with the reference on every prediction, with log-probs within
# 1e-4 (float32); the HTML report must render in headless Chromium with
# every chart, and its screenshot must not be blank. Every run goes into
# one results store, and the same command again computes nothing.
# usage: compare_run_test.sh COMPASS SOURCE_DIR
set -euo pipefail
COMPASS=$1 SRC=$2
source "$SRC/tests/examples/real_model_test.sh"
cat >"$WORK/eval.toml" <<TOML
[model]
path = "$GGUF"
dtype = "float32"
max_length = 1024

[backend]
devices = ["cpu:0", "cpu:1"]
batch_size = 4

[backend.pipeline]
micro_batch_size = 2

[[task]]
name = "mmlu"
dataset = "mmlu"
path = "$SRC/examples/default/data/mmlu"
shots = 5
limit = 4

[[task]]
name = "arc_easy"
dataset = "arc"
path = "$SRC/examples/default/data/arc"
subset = "Easy"
limit = 12

[[task]]
name = "gsm8k"
dataset = "gsm8k"
path = "$SRC/tests/fixtures/gsm8k"
limit = 3
max_new_tokens = 24
TOML
"$COMPASS" compare --backends hf_native,paged_tp,pipeline --config "$WORK/eval.toml" \
  --output "$WORK/cmp" --repeat-with-batch-size 1 -q >"$WORK/stdout" ||
  fail "compare failed: $(tail -20 "$WORK/stdout")"
for f in compare.json compare.md compare.html; do
  [ -s "$WORK/cmp/$f" ] || fail "missing $f"
done
# One results store holds every run, each under its backend's label; each
# run's own reports are in a folder of its name.
python3 - "$WORK/cmp/results.sqlite" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
labels = [r[0] for r in db.execute("SELECT label FROM run ORDER BY label")]
assert labels == ["hf_native", "hf_native@bs1", "paged_tp", "pipeline"], labels
counts = {l: n for l, n in db.execute("SELECT label, count(*) FROM responses GROUP BY label")}
assert len(set(counts.values())) == 1 and min(counts.values()) > 0, counts
PY
for b in hf_native paged_tp pipeline hf_native@bs1; do
  [ -s "$WORK/cmp/$b/report.md" ] || fail "no report for $b"
done
[ ! -e "$WORK/cmp/hf_native/results.sqlite" ] || fail "a second results store was written"
python3 - "$WORK/cmp/compare.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
assert c["identical_requests"], c.get("request_note")
labels = [r["label"] for r in c["runs"]]
assert labels == ["hf_native", "paged_tp", "pipeline", "hf_native@bs1"], labels
assert all(r["error"] is None for r in c["runs"]), c["runs"]
tasks = {a["task"] for a in c["agreement"]}
assert tasks == {"mmlu", "arc_easy", "gsm8k"}, tasks
for a in c["agreement"]:
    where = f'{a["task"]}: {a["other"]} vs {a["reference"]}'
    assert a["items"] > 0, where
    assert a["same_prediction"] == a["items"], f'{where}: {a["flips"]}'
    assert a["max_abs_delta_logprob"] <= 1e-4, f'{where}: {a["max_abs_delta_logprob"]}'
    if a["task"] == "gsm8k":
        assert a["generations"] == 3 and a["identical_generations"] == 3, where
    else:
        assert a["choices_compared"] >= 4 * a["items"] - 4, where
for d in c["differences"]:
    assert not d["significant"], d
    assert d["test"].startswith("McNemar"), d  # accuracy metrics are 0/1
for e in c["environment"]:  # the host's own measures, for every backend
    names = {(f["name"], f["scope"]) for f in e["figures"]}
    for n in ("answer_latency_p50", "answer_latency_p90", "answer_latency_p99", "peak_memory"):
        assert (n, "host") in names, (e["label"], n)
pairs = {(a["other"], a["reference"]) for a in c["agreement"]}
assert ("hf_native@bs1", "hf_native") in pairs, pairs
print("compare.json: every backend agrees with hf_native on",
      sum(a["items"] for a in c["agreement"] if a["other"] == "paged_tp"), "items")
PY
grep -q "Agreement with the reference" "$WORK/stdout" || fail "no agreement table printed"

# Resumable like a run: the same command again computes nothing.
cp "$WORK/cmp/compare.json" "$WORK/compare.first.json"
"$COMPASS" compare --backends hf_native,paged_tp,pipeline --config "$WORK/eval.toml" \
  --output "$WORK/cmp" --repeat-with-batch-size 1 >"$WORK/stdout2" 2>"$WORK/stderr2" ||
  fail "compare again failed: $(tail -20 "$WORK/stderr2")"
[ "$(grep -c " 0 computed, " "$WORK/stderr2")" -eq 4 ] ||
  fail "the second compare computed again: $(grep computed "$WORK/stderr2")"
python3 - "$WORK/compare.first.json" "$WORK/cmp/compare.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert a["agreement"] == b["agreement"] and a["scores"] == b["scores"], "results changed on resume"
PY

# The report renders: every chart is in the DOM Chromium built, and the
# screenshot is not blank.
CHROME=$(command -v chromium-headless-shell || command -v chromium || true)
[ -n "$CHROME" ] || fail "no headless Chromium (scripts/setup.sh installs chromium-headless-shell)"
run_chrome() {
  timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --no-first-run \
    --user-data-dir="$WORK/chrome" "$@" 2>>"$WORK/chrome.log"
}
run_chrome --dump-dom "file://$WORK/cmp/compare.html" >"$WORK/dom.html" ||
  fail "chromium could not load the report: $(tail -5 "$WORK/chrome.log")"
for chart in chart-scores chart-agreement chart-logprob-delta chart-time; do
  grep -q "id=\"$chart\"" "$WORK/dom.html" || fail "chart $chart missing from the rendered report"
done
run_chrome --screenshot="$WORK/shot.png" --window-size=1200,1600 "file://$WORK/cmp/compare.html" \
  >/dev/null || fail "chromium could not take a screenshot: $(tail -5 "$WORK/chrome.log")"
python3 "$SRC/tests/examples/check_screenshot.py" "$WORK/shot.png"
echo "compare end to end: OK"
