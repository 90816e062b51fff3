#!/usr/bin/env bash
# pipeline against hf_native on the real model (SmolLM2-135M-Instruct Q4_1,
# float32, CPU), one run, the same work through the real CLI:
#   scoring     5-shot MMLU, QUESTIONS questions (4 subjects)
#   generation  0-shot GSM8K, PROMPTS questions, greedy, MAX_NEW tokens at most
# hf_native on `cpu`; pipeline with STAGES stages on cpu:0..cpu:STAGES-1.
# On one machine the stages share its cores: the pipeline cannot be faster
# than one process using them all, so the table shows the cost of the split
# (compute seconds as a ratio to hf_native), the measured bubble next to the
# ideal, each stage's busy time, and that the answers agree.
#
#   bench/pipeline/run.sh
#
# Environment: OUT (/tmp/compass_pipeline_bench), QUESTIONS (100), PROMPTS
# (8), MAX_NEW (64), STAGES (2), MICRO (micro_batch_size, 4), KINDS
# ("scoring generation"), COMPASS_BUILD_DIR, THREADS.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${COMPASS_BUILD_DIR:-$ROOT/build}
PYTHON=${PYTHON:-python3}
OUT=${OUT:-/tmp/compass_pipeline_bench}
QUESTIONS=${QUESTIONS:-100}
STAGES=${STAGES:-2}
KINDS=${KINDS:-"scoring generation"}
SHARED=$ROOT/../shared/data
GGUF=$(bash "$ROOT/scripts/fetch_model.sh")
mkdir -p "$OUT"
devices=$(seq -s, -f '"cpu:%g"' 0 $((STAGES - 1)))
source "$ROOT/bench/workloads.sh"
write_workloads "$OUT" "$GGUF" "$SHARED" "$QUESTIONS" "${PROMPTS:-8}" "${MAX_NEW:-64}"
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for kind in $KINDS; do
  "$BUILD/bin/compass" --backend hf_native --config "$OUT/$kind.toml" \
    --output "$OUT/$kind.hf_native" --restart -q ${THREADS:+--set backend.hf_native.threads=$THREADS}
  "$BUILD/bin/compass" --backend pipeline --config "$OUT/$kind.toml" \
    --output "$OUT/$kind.pipeline" --restart -q --set "backend.devices=[$devices]" \
    --set "backend.pipeline.micro_batch_size=${MICRO:-4}" \
    ${THREADS:+--set backend.pipeline.threads=$THREADS}
done
"$PYTHON" "$ROOT/bench/pipeline/compare.py" "$OUT"
