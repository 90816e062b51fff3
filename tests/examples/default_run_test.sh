#!/usr/bin/env bash
# usage: default_run_test.sh COMPASS COMPASS_TINY_MODEL SOURCE_DIR
set -euo pipefail
COMPASS=$1 TINY=$2 SRC=$3
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cp -r "$SRC/examples/default" "$WORK/default"
rm -rf "$WORK/default/tiny-llama"
"$TINY" --arch llama --out "$WORK/default/tiny-llama" >/dev/null
"$COMPASS" plan --backend hf_native --config "$WORK/default/eval.toml" >"$WORK/plan.txt" ||
  fail "plan failed: $(cat "$WORK/plan.txt")"
grep -q "^FITS" "$WORK/plan.txt" || fail "the default plan does not fit"
for d in cpu:0 cpu:1 cpu:2; do
  grep -q -- "-> $d" "$WORK/plan.txt" || fail "nothing placed on $d"
done

"$COMPASS" --backend hf_native --config "$WORK/default/eval.toml" --output "$WORK/run" -q \
  >"$WORK/stdout"
for f in results.json report.md report.html samples.jsonl results.sqlite; do
  [ -s "$WORK/run/$f" ] || fail "missing $f"
done
[ "$(wc -l <"$WORK/run/samples.jsonl")" = 50 ] || fail "samples.jsonl should have 50 lines"
grep -q "<svg" "$WORK/run/report.html" || fail "report.html has no chart"
python3 - "$WORK/run/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = r["tasks"][0]
assert t["items"] == 50, t["items"]
acc = t["metrics"]["acc"]
assert 0 <= acc["value"] <= 1 and acc["stderr"] > 0, acc
assert r["backend"]["name"] == "hf_native"
assert {d["name"] for d in r["devices"]} == {"cpu:0", "cpu:1", "cpu:2"}
PY
# A second run resumes: nothing is computed, the scores are the same.
cp "$WORK/run/results.json" "$WORK/first.json"
"$COMPASS" --backend hf_native --config "$WORK/default/eval.toml" --output "$WORK/run" \
  >"$WORK/stdout2" 2>"$WORK/stderr2"
grep -q "0 computed, 200 reused" "$WORK/stderr2" || fail "the second run recomputed: $(cat "$WORK/stderr2")"
python3 -c "
import json,sys
a=json.load(open('$WORK/first.json'))['tasks']; b=json.load(open('$WORK/run/results.json'))['tasks']
assert [t['metrics'] for t in a] == [t['metrics'] for t in b]"
echo "embedded default: OK"
