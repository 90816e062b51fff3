#!/usr/bin/env bash
# A run whose prompts go through a real tokenizer.json (Llama-2's, a
# SentencePiece BPE): a tiny model with the tokenizer's vocabulary, the
# tokenizer files in the model folder, model.tokenizer = "auto".
# usage: real_tokenizer_run_test.sh COMPASS COMPASS_TINY_MODEL SOURCE_DIR
set -euo pipefail
COMPASS=$1 TINY=$2 SRC=$3
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$TINY" --arch llama --vocab-size 32000 --out "$WORK/model" >/dev/null
cp "$SRC/tests/fixtures/tokenizers/llama2/tokenizer.json" \
   "$SRC/tests/fixtures/tokenizers/llama2/tokenizer_config.json" "$WORK/model/"
cat >"$WORK/eval.toml" <<TOML
[model]
path = "model"

[backend]
devices = ["cpu"]

[[task]]
dataset = "mmlu"
path = "$SRC/examples/default/data/mmlu"
shots = 5
limit = 5  # per subject: 2 subjects x 5
TOML
"$COMPASS" --backend hf_native --config "$WORK/eval.toml" --output "$WORK/run" -q >/dev/null
python3 - "$WORK/run" <<'PY'
import json, sys
run = sys.argv[1]
r = json.load(open(f"{run}/results.json"))
assert r["tasks"][0]["items"] == 10
figures = {f["name"]: f["value"] for f in r["figures"] if not f["scope"]}
# " A".." D" are one token each with this tokenizer: the four choices of an
# item share one forward.
assert figures["shared_context_requests"] == 30, figures
assert figures["forwards"] >= 1
PY
echo "real tokenizer run: OK"
