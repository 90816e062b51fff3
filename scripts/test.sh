#!/usr/bin/env bash
# Set-up (scripts/setup.sh), then the whole test suite through CTest, then
# the fuzz targets (scripts/fuzz.sh) and the test suite again under
# AddressSanitizer and UndefinedBehaviorSanitizer (scripts/sanitize.sh).
# Every step runs even when an earlier one failed; the exit status is 1 when
# any did.
#
#   bash scripts/test.sh [CTEST ARGS...]
#
# CTest arguments (e.g. -R gguf) select tests of the first run only, and
# then the fuzz and sanitizer steps are left out.
#
# Environment:
#   COMPASS_SKIP_FUZZ=1        leave out the fuzz step
#   COMPASS_SKIP_SANITIZERS=1  leave out the sanitizer build and run
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${COMPASS_BUILD_DIR:-$ROOT/build}
bash "$ROOT/scripts/setup.sh"
# The real model of the end-to-end tests (downloaded once, then cached).
COMPASS_REAL_MODEL=$(bash "$ROOT/scripts/fetch_model.sh")
export COMPASS_REAL_MODEL
failed=()
(cd "$BUILD" && ctest --output-on-failure -j "${COMPASS_JOBS:-2}" "$@") || failed+=(tests)
if (($# == 0)); then
  if [ "${COMPASS_SKIP_FUZZ:-0}" != 1 ]; then
    bash "$ROOT/scripts/fuzz.sh" || failed+=(fuzz)
  fi
  if [ "${COMPASS_SKIP_SANITIZERS:-0}" != 1 ]; then
    bash "$ROOT/scripts/sanitize.sh" || failed+=(sanitizers)
  fi
fi
if ((${#failed[@]})); then
  printf '[test] failed: %s\n' "${failed[*]}" >&2
  exit 1
fi
