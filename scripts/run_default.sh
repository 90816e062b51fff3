#!/usr/bin/env bash
# Set-up (scripts/setup.sh), the real model (scripts/fetch_model.sh), then
# the embedded default evaluation on CPU: SmolLM2-135M-Instruct (Q4_1 GGUF)
# on 100 ARC-Easy questions (0-shot) and a 5-shot MMLU slice, through the
# hf_native backend over three virtual CPU devices. Prints the plan and the
# scores, and writes the reports to runs/default (or the folder given).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${COMPASS_BUILD_DIR:-$ROOT/build}
OUT=${1:-$ROOT/runs/default}
bash "$ROOT/scripts/setup.sh"
GGUF=$(bash "$ROOT/scripts/fetch_model.sh")
ln -sf "$GGUF" "$ROOT/examples/default/SmolLM2-135M-Instruct.Q4_1.gguf"
CONFIG="$ROOT/examples/default/eval.toml"
"$BUILD/bin/compass" plan --backend hf_native --config "$CONFIG"
echo
"$BUILD/bin/compass" --backend hf_native --config "$CONFIG" --output "$OUT" --restart
