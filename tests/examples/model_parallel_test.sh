#!/usr/bin/env bash
# One model copy as several processes (docs/scale-out.md), on this machine's
# CPUs over Gloo on loopback, each against the same backend in one process:
#   - paged_tp, tp = 2 as two processes (torchrun-style variables, TCP
#     rendezvous), on a tiny Llama with Llama-2's tokenizer (the real
#     model's 9 heads do not split in two), and as four: two copies sharding
#     the requests;
#   - paged_tp, tp = 3 as three processes on the real model;
#   - pipeline, 2 stages as two processes (mpirun, file rendezvous), on the
#     real model.
# Log-probs agree within 1e-5 (float32), generations are identical.
# usage: model_parallel_test.sh COMPASS COMPASS_TINY_MODEL SOURCE_DIR
set -euo pipefail
COMPASS=$1 TINY=$2 SRC=$3
source "$SRC/tests/examples/real_model_test.sh"
source "$SRC/tests/examples/model_parallel_common.sh"

# --- paged_tp, tp = 2: two processes against two threads ---------------------
"$TINY" --arch llama --vocab-size 32000 --out "$WORK/tiny" >/dev/null
cp "$SRC/tests/fixtures/tokenizers/llama2/tokenizer.json" \
   "$SRC/tests/fixtures/tokenizers/llama2/tokenizer_config.json" "$WORK/tiny/"
write_mp_config "$WORK/tp2_single.toml" "$WORK/tiny" paged_tp '"cpu:0", "cpu:1"' "tp = 2"
write_mp_config "$WORK/tp2_procs.toml" "$WORK/tiny" paged_tp '"cpu"' "tp = 2
processes = true"
"$COMPASS" --backend paged_tp --config "$WORK/tp2_single.toml" --output "$WORK/tp2_single" -q \
  >"$WORK/tp2_single.out" 2>&1 || fail "tp = 2 in one process failed: $(tail -20 "$WORK/tp2_single.out")"
launch_torchrun 2 "$WORK/tp2_procs.toml" paged_tp "$WORK/tp2_procs"
grep -q "rank 1 of 2: rank 1 of model copy 0 of 1 (2 processes each)" "$WORK/tp2_procs.1.out" ||
  fail "rank 1 did not serve model copy 0: $(tail -20 "$WORK/tp2_procs.1.out")"
compare_within "$WORK/tp2_single" "$WORK/tp2_procs" 1e-5 || fail "tp = 2 as processes differs"
# Four processes: two copies of two, each copy a shard of the requests.
launch_torchrun 4 "$WORK/tp2_procs.toml" paged_tp "$WORK/tp2_copies"
for r in 0 2; do
  grep -q "rank $r of 4: the driver of model copy $((r / 2)) of 2" "$WORK/tp2_copies.$r.out" ||
    fail "rank $r did not drive copy $((r / 2)): $(grep -m3 'model copy' "$WORK/tp2_copies.$r.out")"
done
grep -qE "merged [0-9]+ answers from 2 shard store" "$WORK/tp2_copies.0.out" ||
  fail "rank 0 did not merge the two copies' stores: $(tail -20 "$WORK/tp2_copies.0.out")"
compare_within "$WORK/tp2_single" "$WORK/tp2_copies" 1e-5 || fail "two copies of tp = 2 differ"

# --- paged_tp, tp = 3 on the real model: three processes ----------------------
write_mp_config "$WORK/tp3_single.toml" "$GGUF" paged_tp '"cpu:0", "cpu:1", "cpu:2"' "tp = 3"
write_mp_config "$WORK/tp3_procs.toml" "$GGUF" paged_tp '"cpu"' "tp = 3
processes = true"
"$COMPASS" --backend paged_tp --config "$WORK/tp3_single.toml" --output "$WORK/tp3_single" -q \
  >"$WORK/tp3_single.out" 2>&1 || fail "tp = 3 in one process failed: $(tail -20 "$WORK/tp3_single.out")"
launch_torchrun 3 "$WORK/tp3_procs.toml" paged_tp "$WORK/tp3_procs"
compare_within "$WORK/tp3_single" "$WORK/tp3_procs" 1e-5 || fail "tp = 3 as processes differs"

# --- pipeline, 2 stages on the real model: two processes under mpirun ---------
command -v mpirun >/dev/null || fail "mpirun is missing: run scripts/setup.sh (openmpi-bin)"
write_mp_config "$WORK/pp_single.toml" "$GGUF" pipeline '"cpu:0", "cpu:1"' "stages = 2"
write_mp_config "$WORK/pp_procs.toml" "$GGUF" pipeline '"cpu"' "stages = 2
processes = true"
"$COMPASS" --backend pipeline --config "$WORK/pp_single.toml" --output "$WORK/pp_single" -q \
  >"$WORK/pp_single.out" 2>&1 || fail "2 stages in one process failed: $(tail -20 "$WORK/pp_single.out")"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
start=$(date +%s)
timeout 600 mpirun -n 2 --oversubscribe --bind-to none \
  "$COMPASS" --backend pipeline --config "$WORK/pp_procs.toml" --output "$WORK/pp_procs" \
  --shard-timeout 30 >"$WORK/pp_procs.out" 2>&1 ||
  fail "mpirun -n 2 failed: $(tail -40 "$WORK/pp_procs.out")"
echo "pipeline, 2 stages as 2 processes under mpirun: $(($(date +%s) - start)) s"
grep -q "stage 1 in rank 1 (host" "$WORK/pp_procs.out" ||
  fail "the first process did not hand stage 1 to rank 1: $(grep -m5 loaded "$WORK/pp_procs.out")"
compare_within "$WORK/pp_single" "$WORK/pp_procs" 1e-5 || fail "2 stages as processes differ"
echo "model parallelism across processes: OK"
