# Sourced by the model-parallel tests after real_model_test.sh: their
# config, a torchrun-style launch on loopback, and the comparison of a run
# folder with a single-process one within a tolerance.

# A slice of MMLU (5-shot log-likelihoods), ARC-Easy, GSM8K and short
# answers (greedy generation), one libtorch thread per process.
write_mp_config() {  # FILE MODEL BACKEND DEVICES OPTIONS
  cat >"$1" <<TOML
[model]
path = "$2"
dtype = "float32"
max_length = 1024

[backend]
devices = [$4]

[backend.$3]
threads = 1
$5

[[task]]
name = "mmlu"
dataset = "mmlu"
path = "$SRC/examples/default/data/mmlu"
shots = 5
limit = 2

[[task]]
name = "arc_easy"
dataset = "arc"
path = "$SRC/examples/default/data/arc"
subset = "Easy"
limit = 6

[[task]]
name = "gsm8k"
dataset = "gsm8k"
path = "$SRC/tests/fixtures/gsm8k"
limit = 3
max_new_tokens = 16

# Generations that stop early and unevenly: rows leave their batch.
[[task]]
name = "short_answers"
dataset = "jsonl"
path = "$SRC/tests/fixtures/jsonl/gen.jsonl"
kind = "generate"
prompt = "{{q.text}}"
target = "{{a}}"
stop = [" ", "."]
max_new_tokens = 12
TOML
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# N processes on this machine with torchrun's variables, meeting on a
# TCPStore on loopback; each one's output in OUT.<rank>.out. Extra compass
# arguments follow. Fails when any process fails.
launch_torchrun() {  # N CONFIG BACKEND OUT [ARGS...]
  local n=$1 config=$2 backend=$3 out=$4 port r start
  shift 4
  port=$(free_port)
  start=$(date +%s)
  local pids=()
  for ((r = 0; r < n; r++)); do
    RANK=$r WORLD_SIZE=$n LOCAL_RANK=$r LOCAL_WORLD_SIZE=$n MASTER_ADDR=127.0.0.1 \
      MASTER_PORT=$port timeout 600 "$COMPASS" --backend "$backend" --config "$config" \
      --output "$out" --shard-timeout 30 "$@" >"$out.$r.out" 2>&1 &
    pids+=($!)
  done
  for ((r = 0; r < n; r++)); do
    wait "${pids[$r]}" || fail "rank $r of $n failed: $(tail -30 "$out.$r.out")"
  done
  echo "$backend as $n processes: $(($(date +%s) - start)) s"
}

# RUN_DIR's responses against REFERENCE_DIR's: the same requests, every
# token's log-prob within TOLERANCE, the same greedy flags, generated tokens
# and finish reasons, and the same predictions; prints the largest gaps.
compare_within() {  # REFERENCE_DIR RUN_DIR TOLERANCE
  python3 - "$1" "$2" "$3" <<'PY'
import json, os, sqlite3, sys
ref, run, tol = sys.argv[1], sys.argv[2], float(sys.argv[3])
assert not os.path.exists(os.path.join(run, "shards")), "shards left after the merge"
def load(d):
    db = sqlite3.connect(os.path.join(d, "results.sqlite"))
    resp = {r[0]: r[1:] for r in db.execute(
        "SELECT hash, kind, logprob, is_greedy, num_tokens, tokens_json, finish_reason,"
        " token_logprobs_json FROM responses WHERE label = ''")}
    preds = {(r[0], r[1]): json.loads(r[2]).get("prediction") for r in db.execute(
        "SELECT task, item_id, sample_json FROM samples WHERE label = ''")}
    return resp, preds
(a, pa), (b, pb) = load(ref), load(run)
assert a.keys() == b.keys(), f"different requests: {len(a)} vs {len(b)}"
token_gap = sum_gap = 0.0
kinds = {}
for h, x in a.items():
    y = b[h]
    kinds[x[0]] = kinds.get(x[0], 0) + 1
    assert x[0] == y[0] and x[3] == y[3], f"{h}: kind or token count differs"
    assert x[4] == y[4] and x[5] == y[5], f"{h}: generated tokens differ: {x[4]} vs {y[4]}"
    assert x[2] == y[2], f"{h}: greedy flag differs"
    tx, ty = json.loads(x[6] or "[]"), json.loads(y[6] or "[]")
    assert len(tx) == len(ty), f"{h}: per-token log-probs differ in length"
    for u, v in zip(tx, ty):
        token_gap = max(token_gap, abs(u - v))
    sum_gap = max(sum_gap, abs(x[1] - y[1]))
    assert token_gap <= tol, f"{h}: a token's log-prob differs by {token_gap} > {tol}"
    assert sum_gap <= tol * max(1, x[3]), f"{h}: log-prob differs by {sum_gap}"
assert pa == pb, "predictions differ"
print(f"{len(a)} responses {kinds}, {len(pa)} predictions identical; "
      f"max |delta| per token {token_gap:.3g}, per request {sum_gap:.3g} (tolerance {tol})")
PY
}
