#!/usr/bin/env bash
# paged_tp against hf_native and transformers on the real model
# (SmolLM2-135M-Instruct Q4_1, float32, CPU), one run, the same work:
#   scoring     5-shot MMLU, QUESTIONS questions (4 subjects), as Compass builds it
#   generation  0-shot GSM8K, PROMPTS questions, greedy, MAX_NEW tokens at most
# Compass runs both backends through the real CLI; transformers (the dev venv)
# scores the very prompts of Compass's samples.jsonl, at each batch size of
# HF_BATCHES (the fastest counts). Compute time only (loading excluded): the
# backends' forward seconds, transformers' timed loop. compare.py prints the
# table as ratios against transformers and checks that the answers agree.
#
#   bench/paged_tp/run.sh
#
# Environment: OUT (/tmp/compass_paged_tp_bench), QUESTIONS (200), PROMPTS
# (16), MAX_NEW (128), HF_BATCHES ("1 4 16"), KINDS ("scoring generation"),
# COMPASS_BUILD_DIR, COMPASS_PYTHON (the venv with transformers), THREADS.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${COMPASS_BUILD_DIR:-$ROOT/build}
PYTHON=${COMPASS_PYTHON:-$(ls -d "$HOME"/.cache/compass/venv-torch*/bin/python 2>/dev/null | head -n1)}
OUT=${OUT:-/tmp/compass_paged_tp_bench}
QUESTIONS=${QUESTIONS:-200}
KINDS=${KINDS:-"scoring generation"}
SHARED=$ROOT/../shared/data
GGUF=$(bash "$ROOT/scripts/fetch_model.sh")
mkdir -p "$OUT"
if ! "$PYTHON" -c "import transformers, gguf" 2>/dev/null; then
  echo "no python with transformers and gguf; run scripts/setup.sh --dev" >&2
  exit 2
fi
source "$ROOT/bench/workloads.sh"
write_workloads "$OUT" "$GGUF" "$SHARED" "$QUESTIONS" "${PROMPTS:-16}" "${MAX_NEW:-128}"
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for kind in $KINDS; do
  for backend in paged_tp hf_native; do
    "$BUILD/bin/compass" --backend "$backend" --config "$OUT/$kind.toml" \
      --output "$OUT/$kind.$backend" --restart -q ${THREADS:+--set backend.$backend.threads=$THREADS}
  done
  "$PYTHON" -W ignore "$ROOT/bench/paged_tp/transformers_side.py" "$kind" "$GGUF" \
    "$OUT/$kind.paged_tp/samples.jsonl" "$OUT/$kind.transformers.json" \
    --batches ${HF_BATCHES:-1 4 16} --max-new-tokens "${MAX_NEW:-128}" ${THREADS:+--threads $THREADS}
done
"$PYTHON" "$ROOT/bench/paged_tp/compare.py" "$OUT"
