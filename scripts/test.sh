#!/usr/bin/env bash
# Set-up (scripts/setup.sh), then the whole test suite through CTest.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${COMPASS_BUILD_DIR:-$ROOT/build}
bash "$ROOT/scripts/setup.sh"
# The real model of the end-to-end tests (downloaded once, then cached).
COMPASS_REAL_MODEL=$(bash "$ROOT/scripts/fetch_model.sh")
export COMPASS_REAL_MODEL
cd "$BUILD"
ctest --output-on-failure -j "${COMPASS_JOBS:-2}" "$@"
