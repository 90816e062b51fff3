#!/usr/bin/env bash
# compass compare finds an injected difference, on the real model: the
# `perturbed` test backend wraps hf_native and swaps the most and least
# likely choices of 70% of the ARC-Easy items. The comparison must list those
# items as flips (both log-prob vectors), count them in the agreement, and
# McNemar must call the accuracy drop significant; the items it left alone
# must agree exactly.
# usage: compare_injected_test.sh COMPASS SOURCE_DIR PERTURBED_PLUGIN_DIR
set -euo pipefail
COMPASS=$1 SRC=$2 PLUGINS=$3
source "$SRC/tests/examples/real_model_test.sh"
cat >"$WORK/eval.toml" <<TOML
[model]
path = "$GGUF"
dtype = "float32"
max_length = 1024

[backend]
batch_size = 8

[backend.perturbed]
share = 0.7

[[task]]
name = "arc_easy"
dataset = "arc"
path = "$SRC/examples/default/data/arc"
subset = "Easy"
TOML
"$COMPASS" compare --plugin-dir "$PLUGINS" --backends hf_native,perturbed \
  --config "$WORK/eval.toml" --output "$WORK/cmp" -q >"$WORK/stdout" ||
  fail "compare failed: $(tail -20 "$WORK/stdout")"
python3 - "$WORK/cmp/compare.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
assert c["identical_requests"], c.get("request_note")
[a] = [a for a in c["agreement"] if a["other"] == "perturbed"]
perturbed = {e["label"]: e for e in c["environment"]}["perturbed"]
[changed] = [f["value"] for f in perturbed["figures"] if f["name"] == "perturbed_items"]
flips = a["flips"]
print(f'{a["items"]} items, {int(changed)} perturbed, {len(flips)} flips')
assert 55 <= changed <= 85, changed  # 70% of 100, by hash
# Every perturbed item changes its prediction (its top choice became its
# last), and no other item does.
assert len(flips) == changed, (len(flips), changed)
assert a["same_prediction"] == a["items"] - changed, a["same_prediction"]
for f in flips:
    ref, other = f["reference_logprobs"], f["other_logprobs"]
    assert len(ref) == len(other) >= 2, f
    assert sorted(ref) == sorted(other) and ref != other, f  # swapped, not recomputed
assert a["max_abs_delta_logprob"] > 1.0, a["max_abs_delta_logprob"]
[d] = [d for d in c["differences"] if d["metric"] == "acc" and d["other"] == "perturbed"]
print(f'acc {d["difference"]:+.3f}, {d["test"]} p = {d["p_value"]:.2g}, '
      f'{d["only_reference"]} right only on hf_native, {d["only_other"]} only on perturbed')
assert d["test"].startswith("McNemar"), d
assert d["only_reference"] > d["only_other"], d
assert d["significant"] and d["p_value"] < 0.05, d
PY
grep -q "perturbed" "$WORK/cmp/compare.md" || fail "compare.md does not name the perturbed run"
echo "injected difference found: OK"
