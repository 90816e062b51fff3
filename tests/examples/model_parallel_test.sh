#!/usr/bin/env bash
# One model copy as several processes (docs/scale-out.md), on this machine's
# CPUs over Gloo on loopback, each against the same backend in one process
# with the same ranks or stages as threads:
#   - paged_tp, tp = 2 as two processes (torchrun-style variables, TCP
#     rendezvous), on a tiny Llama with Llama-2's tokenizer (the real
#     model's 9 heads do not split in two), and as four: two copies sharding
#     the requests;
#   - paged_tp, tp = 2 x stages = 2 as four processes (tiny model);
#   - paged_tp, tp = 3 as three processes and 2 stages as two processes on
#     the real model;
#   - pipeline, 2 stages as two processes (mpirun, file rendezvous), on the
#     real model.
# Log-probs agree within 1e-5 (float32), generations are identical.
# usage: model_parallel_test.sh COMPASS COMPASS_TINY_MODEL SOURCE_DIR
set -euo pipefail
COMPASS=$1 TINY=$2 SRC=$3
source "$SRC/tests/examples/real_model_test.sh"
source "$SRC/tests/examples/model_parallel_common.sh"

# NAME: BACKEND on MODEL with OPTIONS in one process (ranks or stages on
# THREAD_DEVICES) into $WORK/NAME_single, and with OPTIONS and
# PROCESS_OPTIONS as N processes started by LAUNCHER (torchrun or mpirun)
# into $WORK/NAME_procs; the results agree within 1e-5.
single_and_processes() {  # NAME MODEL BACKEND THREAD_DEVICES OPTIONS N LAUNCHER [PROCESS_OPTIONS]
  local name=$1 model=$2 backend=$3 devices=$4 options=$5 n=$6 launcher=$7 more=${8:-}
  write_mp_config "$WORK/${name}_single.toml" "$model" "$backend" "$devices" "$options"
  write_mp_config "$WORK/${name}_procs.toml" "$model" "$backend" '"cpu"' "$options
processes = true
$more"
  "$COMPASS" --backend "$backend" --config "$WORK/${name}_single.toml" \
    --output "$WORK/${name}_single" -q >"$WORK/${name}_single.out" 2>&1 ||
    fail "$name in one process failed: $(tail -20 "$WORK/${name}_single.out")"
  if [ "$launcher" = mpirun ]; then
    launch_mpirun "$n" "$WORK/${name}_procs.out" --backend "$backend" \
      --config "$WORK/${name}_procs.toml" --output "$WORK/${name}_procs"
  else
    launch_torchrun "$n" "$WORK/${name}_procs.toml" "$backend" "$WORK/${name}_procs"
  fi
  compare_with_reference "$WORK/${name}_single" "$WORK/${name}_procs" 1e-5 ||
    fail "$name as $n processes differs from one process"
}

# paged_tp, tp = 2 on a tiny model.
"$TINY" --arch llama --vocab-size 32000 --out "$WORK/tiny" >/dev/null
cp "$SRC/tests/fixtures/tokenizers/llama2/tokenizer.json" \
   "$SRC/tests/fixtures/tokenizers/llama2/tokenizer_config.json" "$WORK/tiny/"
single_and_processes tp2 "$WORK/tiny" paged_tp '"cpu:0", "cpu:1"' "tp = 2" 2 torchrun
grep -q "rank 1 of 2: rank 1 of model copy 0 of 1 (2 processes each)" "$WORK/tp2_procs.1.out" ||
  fail "rank 1 did not serve model copy 0: $(tail -20 "$WORK/tp2_procs.1.out")"
# Four processes: two copies of two, each copy a shard of the requests.
launch_torchrun 4 "$WORK/tp2_procs.toml" paged_tp "$WORK/tp2_copies"
for r in 0 2; do
  grep -q "rank $r of 4: the driver of model copy $((r / 2)) of 2" "$WORK/tp2_copies.$r.out" ||
    fail "rank $r did not drive copy $((r / 2)): $(grep -m3 'model copy' "$WORK/tp2_copies.$r.out")"
done
grep -qE "merged [0-9]+ answers from 2 shard store" "$WORK/tp2_copies.0.out" ||
  fail "rank 0 did not merge the two copies' stores: $(tail -20 "$WORK/tp2_copies.0.out")"
compare_with_reference "$WORK/tp2_single" "$WORK/tp2_copies" 1e-5 || fail "two copies of tp = 2 differ"

# paged_tp, tp = 2 x stages = 2: tensor parallel within a stage, the stages
# handing hidden states on (against tp = 2 alone: the same arithmetic).
single_and_processes tp2x2 "$WORK/tiny" paged_tp '"cpu:0", "cpu:1"' "tp = 2" 4 torchrun "stages = 2"
grep -q "stage 1 rank 1 of model copy 0" "$WORK/tp2x2_procs.3.out" ||
  fail "rank 3 was not stage 1's rank 1: $(grep -m3 meeting "$WORK/tp2x2_procs.3.out")"

# paged_tp, tp = 3 on the real model, and 2 stages of one rank.
single_and_processes tp3 "$GGUF" paged_tp '"cpu:0", "cpu:1", "cpu:2"' "tp = 3" 3 torchrun
single_and_processes stages2 "$GGUF" paged_tp '"cpu"' "tp = 1" 2 torchrun "stages = 2"

# pipeline, 2 stages on the real model, under mpirun.
single_and_processes pp "$GGUF" pipeline '"cpu:0", "cpu:1"' "stages = 2" 2 mpirun
grep -q "stage 1 in rank 1 (host" "$WORK/pp_procs.out" ||
  fail "the first process did not hand stage 1 to rank 1: $(grep -m5 loaded "$WORK/pp_procs.out")"
echo "model parallelism across processes: OK"
