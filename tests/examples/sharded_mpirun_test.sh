#!/usr/bin/env bash
# A sharded run launched by mpirun (Open MPI, 4 processes on this machine,
# meeting on a file in the run folder): rank 0 merges every shard into one
# results.sqlite whose responses, predictions, log-probs and aggregates
# equal a single-process run's exactly, and writes the one report.
# usage: sharded_mpirun_test.sh COMPASS SOURCE_DIR
set -euo pipefail
COMPASS=$1 SRC=$2
source "$SRC/tests/examples/real_model_test.sh"
source "$SRC/tests/examples/sharded_common.sh"
write_sharded_config "$WORK/eval.toml" 12
"$COMPASS" --backend hf_native --config "$WORK/eval.toml" --output "$WORK/single" -q \
  >"$WORK/single.out" 2>&1 || fail "the single-process run failed: $(tail -20 "$WORK/single.out")"
launch_mpirun 4 "$WORK/mpi.out" --backend hf_native --config "$WORK/eval.toml" --output "$WORK/mpi"
for r in 0 1 2 3; do
  grep -q "rank $r of 4 (local rank $r, launched by mpi)" "$WORK/mpi.out" ||
    fail "rank $r did not say it was launched by mpi: $(head -40 "$WORK/mpi.out")"
done
grep -qE "merged [0-9]+ answers from 4 shard store" "$WORK/mpi.out" ||
  fail "rank 0 did not merge 4 shards: $(tail -30 "$WORK/mpi.out")"
total=$(grep -oE "^\[info\] [0-9]+ requests: [0-9]+ computed, 0 reused" "$WORK/mpi.out" | head -1)
[ -n "$total" ] || fail "rank 0 did not report the launch's counts: $(tail -30 "$WORK/mpi.out")"
echo "rank 0: ${total#\[info\] }"
for f in report.html report.md results.json samples.jsonl; do
  [ -s "$WORK/mpi/$f" ] || fail "no $f in the run folder"
done
compare_with_reference "$WORK/single" "$WORK/mpi" || fail "the merged results differ"
