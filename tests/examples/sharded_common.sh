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

# RUN_DIR's results against REFERENCE_DIR's (compare_runs.py): bit for bit,
# or each token's log-prob within TOLERANCE; prints what was compared.
compare_with_reference() {  # REFERENCE_DIR RUN_DIR [TOLERANCE]
  python3 "$SRC/tests/examples/compare_runs.py" "$1" "$2" "${3:-0}"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# N processes of compass under mpirun on this machine (as root, more ranks
# than cores), its output in LOG; fails when mpirun fails.
launch_mpirun() {  # N LOG COMPASS_ARGS...
  local n=$1 log=$2 start
  shift 2
  command -v mpirun >/dev/null || fail "mpirun is missing: run scripts/setup.sh (openmpi-bin)"
  start=$(date +%s)
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
    timeout 600 mpirun -n "$n" --oversubscribe --bind-to none "$COMPASS" "$@" \
    --shard-timeout 30 >"$log" 2>&1 || fail "mpirun -n $n failed: $(tail -40 "$log")"
  echo "$n processes under mpirun: $(($(date +%s) - start)) s"
}
