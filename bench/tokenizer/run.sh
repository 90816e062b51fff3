#!/usr/bin/env bash
# Encoding throughput: Compass's tokenizer against Hugging Face `tokenizers`, on
# the same documents (one per line), with the ids compared through a checksum.
#
#   bench/tokenizer/run.sh [MODEL_DIR] [TEXT_FILE]
#
# Defaults: the Llama-3 tokenizer and the MMLU test CSVs concatenated, both
# from ../shared/data. Needs a build with tokenizer_bench (COMPASS_BUILD_DIR,
# default build/) and a python with `tokenizers` (COMPASS_PYTHON, default the
# project venv's).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SHARED="$ROOT/../shared/data"
BUILD=${COMPASS_BUILD_DIR:-$ROOT/build}
PYTHON=${COMPASS_PYTHON:-$(ls -d "$HOME"/.cache/compass/venv-torch*/bin/python 2>/dev/null | head -n1)}
MODEL_DIR=${1:-$SHARED/tokenizers/llama3}
TEXT=${2:-}
REPEAT=${REPEAT:-3}
THREADS=$(nproc)

BENCH="$BUILD/bench/tokenizer_bench"
if [[ ! -x "$BENCH" ]]; then
  echo "no $BENCH; build it first: cmake --build $BUILD --target tokenizer_bench" >&2
  exit 2
fi
if [[ -z "$PYTHON" ]] || ! "$PYTHON" -c "import tokenizers" 2>/dev/null; then
  echo "no python with the tokenizers package; set COMPASS_PYTHON" >&2
  exit 2
fi
if [[ -z "$TEXT" ]]; then
  TEXT=$(mktemp --suffix=.txt)
  trap 'rm -f "$TEXT"' EXIT
  cat "$SHARED"/mmlu/test/*.csv > "$TEXT"
fi

ours1=$("$BENCH" "$MODEL_DIR" "$TEXT" --repeat "$REPEAT")
oursN=$("$BENCH" "$MODEL_DIR" "$TEXT" --repeat "$REPEAT" --threads "$THREADS")
hf=$("$PYTHON" "$ROOT/bench/tokenizer/hf_bench.py" "$MODEL_DIR" "$TEXT" --repeat "$REPEAT")
echo "$ours1"
echo "$oursN"
echo "$hf"

mbps() { sed -E 's/.* ([0-9.]+) MB\/s.*/\1/'; }
sum() { sed -E 's/.*checksum ([0-9a-f]+).*/\1/'; }
hf1=$(grep '^hf encode:' <<<"$hf")
hfN=$(grep '^hf encode_batch:' <<<"$hf")
awk -v a="$(mbps <<<"$ours1")" -v b="$(mbps <<<"$hf1")" -v c="$(mbps <<<"$oursN")" \
    -v d="$(mbps <<<"$hfN")" -v t="$THREADS" 'BEGIN {
  printf "one document at a time, 1 thread: compass %.2f MB/s, hf encode %.2f MB/s: %.2fx\n", a, b, a / b
  printf "all documents, %d threads: compass %.2f MB/s, hf encode_batch %.2f MB/s: %.2fx\n", t, c, d, c / d
}'
if [[ "$(sum <<<"$ours1")" == "$(sum <<<"$hf1")" && "$(sum <<<"$hf1")" == "$(sum <<<"$hfN")" ]]; then
  echo "ids: identical (checksum $(sum <<<"$ours1"))"
else
  echo "ids: DIFFERENT" >&2
  exit 1
fi
