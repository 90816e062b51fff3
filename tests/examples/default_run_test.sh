#!/usr/bin/env bash
# The embedded default, end to end, on the real model: plan and run
# SmolLM2-135M-Instruct (Q4_1 GGUF) through hf_native on three virtual CPU
# devices, check every report, ARC-Easy item by item against the goldens
# transformers gives, and that a second run resumes.
# usage: default_run_test.sh COMPASS SOURCE_DIR
set -euo pipefail
COMPASS=$1 SRC=$2
source "$SRC/tests/examples/real_model_test.sh"
cp -r "$SRC/examples/default" "$WORK/default"
ln -sf "$GGUF" "$WORK/default/SmolLM2-135M-Instruct.Q4_1.gguf"
"$COMPASS" plan --backend hf_native --config "$WORK/default/eval.toml" >"$WORK/plan.txt" ||
  fail "plan failed: $(cat "$WORK/plan.txt")"
grep -q "^FITS" "$WORK/plan.txt" || fail "the default plan does not fit"
grep -q "context window 8192 tokens" "$WORK/plan.txt" ||
  fail "the context window should come from llama.context_length: $(head -1 "$WORK/plan.txt")"
for d in cpu:0 cpu:1 cpu:2; do
  grep -q -- "-> $d" "$WORK/plan.txt" || fail "nothing placed on $d"
done

"$COMPASS" --backend hf_native --config "$WORK/default/eval.toml" --output "$WORK/run" -q \
  >"$WORK/stdout"
for f in results.json report.md report.html samples.jsonl results.sqlite; do
  [ -s "$WORK/run/$f" ] || fail "missing $f"
done
[ "$(wc -l <"$WORK/run/samples.jsonl")" = 150 ] || fail "samples.jsonl should have 150 lines"
grep -q "<svg" "$WORK/run/report.html" || fail "report.html has no chart"
python3 "$SRC/tests/examples/check_arc_goldens.py" "$WORK/run/samples.jsonl" \
  "$SRC/tests/fixtures/gguf/arc_easy_smollm2_goldens.json" arc_easy
python3 - "$WORK/run/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
tasks = {t["name"]: t for t in r["tasks"]}
assert tasks["arc_easy"]["items"] == 100 and tasks["mmlu_slice"]["items"] == 50, tasks.keys()
for t in tasks.values():
    acc = t["metrics"]["acc"]
    assert 0 <= acc["value"] <= 1 and acc["stderr"] > 0, acc
assert r["backend"]["name"] == "hf_native"
assert {d["name"] for d in r["devices"]} == {"cpu:0", "cpu:1", "cpu:2"}
PY
# A second run resumes: nothing is computed, the scores are the same.
cp "$WORK/run/results.json" "$WORK/first.json"
"$COMPASS" --backend hf_native --config "$WORK/default/eval.toml" --output "$WORK/run" \
  >"$WORK/stdout2" 2>"$WORK/stderr2"
grep -q "0 computed, 599 reused" "$WORK/stderr2" || fail "the second run recomputed: $(cat "$WORK/stderr2")"
python3 -c "
import json,sys
a=json.load(open('$WORK/first.json'))['tasks']; b=json.load(open('$WORK/run/results.json'))['tasks']
assert [t['metrics'] for t in a] == [t['metrics'] for t in b]"
echo "embedded default: OK"
