#!/usr/bin/env bash
# Set-up (scripts/setup.sh), then the embedded default evaluation on CPU:
# the example third-party backend (examples/sdk_backend) is built against the
# installed SDK and runs 5-shot MMLU on a slice shipped in examples/default.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${COMPASS_BUILD_DIR:-$ROOT/build}
bash "$ROOT/scripts/setup.sh"
PREFIX="$BUILD/install"
cmake --install "$BUILD" --prefix "$PREFIX" >/dev/null
cmake -G Ninja -S "$ROOT/examples/sdk_backend" -B "$BUILD/examples/sdk_backend" \
  -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD/examples/sdk_backend" >/dev/null
OUT=${1:-$ROOT/runs/default}
"$PREFIX/bin/compass" --plugin-dir "$BUILD/examples/sdk_backend/plugins" --backend bigram \
  --config "$ROOT/examples/default/eval.toml" --output "$OUT"
