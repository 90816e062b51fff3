#!/usr/bin/env bash
# hf_native at its default settings (batch_size = "auto") against transformers
# at its best setting, on two workloads made by make_workload.py: scoring
# shaped like MMLU 5-shot and greedy generation shaped like GSM8K. Both in the
# same run, each in its own process, timed around the workload only (wall,
# user and system CPU time, minor page faults); the results are compared.
#
#   bench/hf_native/run.sh [MODEL_DIR]
#
# Without MODEL_DIR a random Llama of about 56 M parameters is written (see
# make_workload.py). Environment: OUT (work folder, default
# /tmp/compass_hf_native_bench), CONTEXTS (scoring contexts, 100), PROMPTS
# (generation prompts, 20), MAX_NEW (256), HF_BATCHES (transformers batch
# sizes tried, "1 2 4"; the fastest counts), HF_NATIVE_BATCHES (hf_native
# batch sizes, "auto"), KINDS ("scoring generation"), REPEAT (rounds, 1;
# each setting's median counts), COMPASS_BUILD_DIR
# (default build/), COMPASS_PYTHON (default the project venv's python),
# REUSE (set: keep OUT's workload), PLUGIN_DIR (load hf_native from there),
# THREADS (CPU threads for both; default libtorch's own).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${COMPASS_BUILD_DIR:-$ROOT/build}
PYTHON=${COMPASS_PYTHON:-$(ls -d "$HOME"/.cache/compass/venv-torch*/bin/python 2>/dev/null | head -n1)}
OUT=${OUT:-/tmp/compass_hf_native_bench}
HF_BATCHES=${HF_BATCHES:-"1 2 4"}
HF_NATIVE_BATCHES=${HF_NATIVE_BATCHES:-auto}
KINDS=${KINDS:-"scoring generation"}
BENCH="$BUILD/bench/hf_native_bench"
HERE="$ROOT/bench/hf_native"

BENCH_ARGS=()
HF_ARGS=()
if [[ -n "${THREADS:-}" ]]; then  # both sides; default: libtorch's own (the physical cores)
  BENCH_ARGS+=(--threads "$THREADS")
  HF_ARGS+=(--threads "$THREADS")
fi
if [[ -n "${PLUGIN_DIR:-}" ]]; then  # another build of the plugin, e.g. to compare versions
  BENCH_ARGS+=(--plugin-dir "$PLUGIN_DIR")
fi
if [[ ! -x "$BENCH" ]]; then
  echo "no $BENCH; build it first: cmake --build $BUILD --target hf_native_bench" >&2
  exit 2
fi
if [[ -z "$PYTHON" ]] || ! "$PYTHON" -c "import transformers" 2>/dev/null; then
  echo "no python with transformers; set COMPASS_PYTHON (scripts/setup.sh --dev installs it)" >&2
  exit 2
fi
mkdir -p "$OUT"
[[ -n "${REUSE:-}" && -f "$OUT/workload.json" ]] ||
"$PYTHON" -W ignore "$HERE/make_workload.py" "$OUT" ${1:+--model "$1"} \
  --contexts "${CONTEXTS:-100}" --prompts "${PROMPTS:-20}" --max-new-tokens "${MAX_NEW:-256}"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d' ' -f1-3 /proc/loadavg)"

# Round robin, REPEAT times: on a shared machine the load drifts, and each
# setting then sees the same drift; compare.py takes each setting's median.
rm -f "$OUT"/*.hf_native.*.json "$OUT"/*.transformers.*.json
for rep in $(seq 1 "${REPEAT:-1}"); do
  for kind in $KINDS; do
    for b in $HF_NATIVE_BATCHES; do
      batch=$([[ $b == auto ]] && echo 0 || echo "$b")
      "$BENCH" "$OUT/workload.json" --kind "$kind" --batch "$batch" ${BENCH_ARGS[@]+"${BENCH_ARGS[@]}"} \
        --out "$OUT/$kind.hf_native.$b.$rep.json"
    done
    for b in $HF_BATCHES; do
      "$PYTHON" -W ignore "$HERE/hf_bench.py" "$OUT/workload.json" --kind "$kind" --batch "$b" ${HF_ARGS[@]+"${HF_ARGS[@]}"} \
        --out "$OUT/$kind.transformers.$b.$rep.json"
    done
  done
done
"$PYTHON" "$HERE/compare.py" "$OUT" $KINDS
