#!/usr/bin/env bash
# The test suite under AddressSanitizer and UndefinedBehaviorSanitizer:
# builds everything with clang and -fsanitize=address,undefined into its own
# build folder (libtorch itself, from the PyPI wheel, is not instrumented;
# the code calling it is), then runs the suite through CTest with the
# sanitizers' options and the suppressions of scripts/sanitizers/. Any
# report fails the test that triggered it.
#
#   bash scripts/sanitize.sh [CTEST ARGS...]
#
# Environment:
#   COMPASS_SANITIZE_BUILD_DIR  build folder (default <repo>/build-asan)
#   COMPASS_SANITIZE_EXCLUDE    ctest -E regex of tests left out (default:
#                               the end-to-end runs and the real-model cases,
#                               whose time is libtorch computing the real
#                               model, which is not instrumented; the first,
#                               plain run of scripts/test.sh has them)
#   COMPASS_JOBS                parallel build jobs and tests (default 2)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${COMPASS_SANITIZE_BUILD_DIR:-$ROOT/build-asan}
JOBS=${COMPASS_JOBS:-2}
DEFAULT_EXCLUDE='^examples_|RealModelMatchesTransformers|RealModelInStagesGivesHfNativesAnswers|SharingOrderAndBatchNeverChangeTheAnswers|TwoStageBubbleIsNearTheIdeal'
EXCLUDE=${COMPASS_SANITIZE_EXCLUDE-$DEFAULT_EXCLUDE}
log() { printf '[sanitize] %s\n' "$*" >&2; }

PYTHON=$(bash "$ROOT/scripts/setup.sh" --deps)
source "$ROOT/scripts/build_lib.sh"
compass_build "$BUILD" "" "${COMPASS_CLANG_ARGS[@]}" -DCOMPASS_SANITIZE=address,undefined \
  -DCOMPASS_PYTHON="$PYTHON"

# The end-to-end tests need the real model (downloaded once, then cached).
COMPASS_REAL_MODEL=$(bash "$ROOT/scripts/fetch_model.sh")
export COMPASS_REAL_MODEL
SUPP="$ROOT/scripts/sanitizers"
SYMBOLIZER=$(command -v llvm-symbolizer || true)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}$(grep -v '^#' "$SUPP/asan.options" | paste -sd:)${SYMBOLIZER:+:external_symbolizer_path=$SYMBOLIZER}"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$SUPP/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1:suppressions=$SUPP/ubsan.supp"
cd "$BUILD"
log "running the test suite${EXCLUDE:+ without /$EXCLUDE/}"
ctest --output-on-failure -j "$JOBS" ${EXCLUDE:+-E "$EXCLUDE"} "$@"
