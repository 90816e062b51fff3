#!/usr/bin/env bash
# Set-up (scripts/setup.sh), then the embedded default evaluation on CPU:
# a tiny generated Llama, 5-shot MMLU on a shipped slice, through the
# hf_native backend over three virtual CPU devices. Prints the plan and the
# scores, and writes the reports to runs/default (or the folder given).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${COMPASS_BUILD_DIR:-$ROOT/build}
OUT=${1:-$ROOT/runs/default}
bash "$ROOT/scripts/setup.sh"
MODEL="$ROOT/examples/default/tiny-llama"
[ -f "$MODEL/model.safetensors" ] ||
  "$BUILD/bin/compass_tiny_model" --arch llama --out "$MODEL" >/dev/null
CONFIG="$ROOT/examples/default/eval.toml"
"$BUILD/bin/compass" plan --backend hf_native --config "$CONFIG"
echo
"$BUILD/bin/compass" --backend hf_native --config "$CONFIG" --output "$OUT" --restart
