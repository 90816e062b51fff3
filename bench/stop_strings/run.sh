#!/usr/bin/env bash
# Host-side stop-string matching per generated token: the ABI 1 path (host
# detokenize of the whole continuation after every token) against the ABI 2
# path (sdk::StopMatcher on the token byte table), in one run, with the stop
# positions of both compared (exit 1 when they differ).
#
#   bench/stop_strings/run.sh [TOKENIZER_DIR] [-- BENCH_ARGS...]
#
# Default: the Llama-3 tokenizer and GSM8K test answers from ../shared/data.
# Builds stop_strings_bench in COMPASS_BUILD_DIR (default build/, configured
# by scripts/setup.sh) with COMPASS_JOBS jobs (default 1) first.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${COMPASS_BUILD_DIR:-$ROOT/build}
JOBS=${COMPASS_JOBS:-1}

if [[ ! -f "$BUILD/build.ninja" && ! -f "$BUILD/Makefile" ]]; then
  echo "no configured build in $BUILD; run scripts/setup.sh first" >&2
  exit 2
fi
cmake --build "$BUILD" -j "$JOBS" --target stop_strings_bench >/dev/null

ARGS=()
if [[ $# -gt 0 && "$1" != "--" ]]; then
  ARGS+=("$1")
  shift
fi
[[ "${1:-}" == "--" ]] && shift
exec "$BUILD/bench/stop_strings_bench" "${ARGS[@]}" "$@"
