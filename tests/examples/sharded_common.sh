# Sourced by the sharded-run tests after real_model_test.sh: the config they
# share (hf_native on one CPU device, batch size 1 and one libtorch thread,
# so that a request's answer never depends on which others share its
# process), a single-process reference run, and the comparison of two
# run folders' stores.
# A slice of ARC-Easy (0-shot), MMLU (5-shot) and GSM8K (greedy generation).
write_sharded_config() {  # FILE ARC_ITEMS
  cat >"$1" <<TOML
[model]
path = "$GGUF"
dtype = "float32"
max_length = 1024

[backend]
devices = ["cpu"]
batch_size = 1

[backend.hf_native]
threads = 1

[[task]]
name = "arc_easy"
dataset = "arc"
path = "$SRC/examples/default/data/arc"
subset = "Easy"
limit = $2

[[task]]
name = "mmlu"
dataset = "mmlu"
path = "$SRC/examples/default/data/mmlu"
shots = 5
limit = 1

[[task]]
name = "gsm8k"
dataset = "gsm8k"
path = "$SRC/tests/fixtures/gsm8k"
limit = 2
max_new_tokens = 12
TOML
}

# The count of answers stored in a run folder (results.sqlite and shards).
stored_answers() {  # RUN_DIR
  python3 - "$1" <<'PY'
import glob, os, sqlite3, sys
d = sys.argv[1]
keys = set()
for f in [os.path.join(d, "results.sqlite")] + glob.glob(os.path.join(d, "shards", "*.sqlite")):
    if os.path.exists(f):
        keys |= {r[0] for r in sqlite3.connect(f).execute("SELECT hash FROM responses")}
print(len(keys))
PY
}

# Every response and every scored sample of RUN_DIR equals the reference's,
# bit for bit; prints what was compared.
compare_with_reference() {  # REFERENCE_DIR RUN_DIR
  python3 - "$1" "$2" <<'PY'
import json, os, sqlite3, sys
ref, run = sys.argv[1:]
assert not os.path.exists(os.path.join(run, "shards")), "shards left after the merge"
def load(d):
    db = sqlite3.connect(os.path.join(d, "results.sqlite"))
    resp = {r[0]: r[1:] for r in db.execute(
        "SELECT hash, kind, logprob, is_greedy, num_tokens, tokens_json, finish_reason,"
        " token_logprobs_json FROM responses WHERE label = ''")}
    samples = {(r[0], r[1]): json.loads(r[2]) for r in db.execute(
        "SELECT task, item_id, sample_json FROM samples WHERE label = ''")}
    aggs = sorted(db.execute("SELECT task, grp, metric, value, stderr, count FROM aggregates"))
    return resp, samples, aggs
a, b = load(ref), load(run)
assert a[0].keys() == b[0].keys(), f"different requests: {len(a[0])} vs {len(b[0])}"
worst = 0.0
for h in a[0]:
    x, y = a[0][h], b[0][h]
    worst = max(worst, abs(x[1] - y[1]))
    assert x == y, f"response {h} differs: {x} vs {y}"
assert a[1].keys() == b[1].keys(), "different items"
same_pred = 0
for k in a[1]:
    pa, pb = a[1][k].get("prediction"), b[1][k].get("prediction")
    assert pa == pb, f"{k}: prediction {pa} vs {pb}"
    assert a[1][k].get("logprobs") == b[1][k].get("logprobs"), f"{k}: log-probs differ"
    same_pred += 1
assert a[2] == b[2], f"aggregates differ: {a[2]} vs {b[2]}"
kinds = {}
for v in a[0].values():
    kinds[v[0]] = kinds.get(v[0], 0) + 1
print(f"identical: {len(a[0])} responses {kinds}, {same_pred} items' predictions and "
      f"log-probs, {len(a[2])} aggregates; max |delta log-prob| = {worst}")
PY
}
