# Sourced by the model-parallel tests after real_model_test.sh: their
# config and a torchrun-style launch on loopback (and sharded_common.sh's
# comparison of run folders).
source "$SRC/tests/examples/sharded_common.sh"

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
