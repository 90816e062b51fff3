#!/usr/bin/env bash
# Builds the fuzz targets of fuzz/ (clang, libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer; no libtorch) into their own build folder and
# runs each for a bounded time on its seed corpus (fuzz/corpus/<target>)
# and its past findings (fuzz/regressions/<target>). Fails on a crash, a
# sanitizer report, a leak, a timeout or running out of memory, printing
# the reproducer and how to replay it.
#
#   bash scripts/fuzz.sh [TARGET...]   (default: every target; names without fuzz_)
#
# Environment:
#   COMPASS_FUZZ_SECONDS    fuzzing time per target (default 20)
#   COMPASS_FUZZ_BUILD_DIR  build folder (default <repo>/build-fuzz); inputs
#                           found to add coverage accumulate in its corpus/
#   COMPASS_JOBS            parallel build jobs and targets fuzzed at once
#                           (default 2)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${COMPASS_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
SECONDS_PER_TARGET=${COMPASS_FUZZ_SECONDS:-20}
JOBS=${COMPASS_JOBS:-2}
log() { printf '[fuzz] %s\n' "$*" >&2; }

# clang, libFuzzer and the sanitizer runtimes are Debian packages setup.sh installs.
bash "$ROOT/scripts/setup.sh" --deps >/dev/null

source "$ROOT/scripts/build_lib.sh"
compass_build "$BUILD" fuzz_all "${COMPASS_CLANG_ARGS[@]}" -DCOMPASS_FUZZ=ON \
  -DCOMPASS_BUILD_TESTS=OFF -DCOMPASS_WITH_CUDA=OFF -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON

if (($#)); then
  targets=("$@")
else
  targets=()
  for f in "$ROOT"/fuzz/*_fuzzer.cpp; do
    name=$(basename "$f" _fuzzer.cpp)
    targets+=("$name")
  done
fi

SYMBOLIZER=$(command -v llvm-symbolizer || true)
export ASAN_OPTIONS=${ASAN_OPTIONS:-}${SYMBOLIZER:+:external_symbolizer_path=$SYMBOLIZER}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# One target: fuzz for SECONDS_PER_TARGET into a working corpus (the seeds
# and regressions are read, never written), artifacts into artifacts/.
run_target() {
  local name=$1 exe="$BUILD/bin/fuzz_$1"
  local work="$BUILD/corpus/$name" artifacts="$BUILD/artifacts/$name"
  mkdir -p "$work" "$artifacts"
  local dirs=("$work" "$ROOT/fuzz/corpus/$name") options=()
  [ -d "$ROOT/fuzz/regressions/$name" ] && dirs+=("$ROOT/fuzz/regressions/$name")
  case $name in
    eval_config) options+=(-dict="$ROOT/fuzz/dicts/toml.dict") ;;
    model_config | tokenizer_json | safetensors | arc | gsm8k | hellaswag | jsonl)
      options+=(-dict="$ROOT/fuzz/dicts/json.dict") ;;
  esac
  "$exe" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "${options[@]}" "${dirs[@]}" \
    >"$BUILD/logs/$name.log" 2>&1
}

mkdir -p "$BUILD/logs"
for name in "${targets[@]}"; do
  if [ ! -x "$BUILD/bin/fuzz_$name" ]; then
    log "no fuzz target '$name' (have: $(cd "$ROOT/fuzz" && ls ./*_fuzzer.cpp | sed 's#./##; s#_fuzzer.cpp##' | tr '\n' ' '))"
    exit 2
  fi
  rm -rf "$BUILD/artifacts/$name"
done
log "fuzzing ${#targets[@]} targets, ${SECONDS_PER_TARGET} s each, $JOBS at a time"
declare -A pids
for name in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= JOBS)); do wait -n || true; done
  run_target "$name" &
  pids[$name]=$!
done

failed=()
for name in "${targets[@]}"; do
  if wait "${pids[$name]}"; then
    stats=$(grep -E '^#[0-9]+[[:space:]]*DONE' "$BUILD/logs/$name.log" | tail -1 | sed 's/^#\([0-9]*\)[[:space:]]*DONE[[:space:]]*/\1 runs, /')
    log "$name: ok ($stats)"
  else
    failed+=("$name")
  fi
done

for name in "${failed[@]}"; do
  log "$name: FAILED; the end of its log ($BUILD/logs/$name.log):"
  tail -60 "$BUILD/logs/$name.log" >&2
  for artifact in "$BUILD/artifacts/$name"/*; do
    [ -f "$artifact" ] || continue
    log "reproducer: $artifact ($(stat -c %s "$artifact") bytes); first bytes:"
    head -c 512 "$artifact" | od -A d -c | head -20 >&2
    log "replay: $BUILD/bin/fuzz_$name $artifact"
    log "keep it: cp $artifact $ROOT/fuzz/regressions/$name/ (and add a test under tests/)"
  done
done
if ((${#failed[@]})); then
  log "failed: ${failed[*]}"
  exit 1
fi
log "all ${#targets[@]} targets ran clean"
