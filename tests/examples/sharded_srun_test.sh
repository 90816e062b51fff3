#!/usr/bin/env bash
# A sharded run launched by srun on a one-node Slurm cluster that the test
# starts itself (munged, slurmctld, slurmd as root, private to the test):
# `srun -n 4` processes meet on a file in the run folder, and the merged
# results equal a single-process run's exactly. A daemon that cannot start
# fails the test with its log.
# usage: sharded_srun_test.sh COMPASS SOURCE_DIR
set -euo pipefail
COMPASS=$1 SRC=$2
source "$SRC/tests/examples/real_model_test.sh"
source "$SRC/tests/examples/sharded_common.sh"
source "$SRC/tests/examples/slurm_cluster.sh"
[ "$(id -u)" -eq 0 ] || fail "the Slurm test starts its daemons as root"
for p in srun slurmctld slurmd munged; do
  command -v $p >/dev/null || fail "$p is missing: run scripts/setup.sh (slurm-wlm, munge)"
done
trap 'slurm_cluster_stop; rm -rf "$WORK"' EXIT
slurm_cluster_start "$WORK/slurm" || fail "the Slurm cluster did not start (logs above)"
write_sharded_config "$WORK/eval.toml" 12
"$COMPASS" --backend hf_native --config "$WORK/eval.toml" --output "$WORK/single" -q \
  >"$WORK/single.out" 2>&1 || fail "the single-process run failed: $(tail -20 "$WORK/single.out")"
start=$(date +%s)
timeout 600 srun --overcommit -n 4 --cpus-per-task=1 --time=10 \
  "$COMPASS" --backend hf_native --config "$WORK/eval.toml" --output "$WORK/slurm_run" \
  --shard-timeout 30 >"$WORK/srun.out" 2>&1 ||
  fail "srun failed: $(tail -40 "$WORK/srun.out"; tail -20 "$WORK/slurm/slurmd.log")"
echo "4 processes under srun: $(($(date +%s) - start)) s"
for r in 0 1 2 3; do
  grep -q "rank $r of 4 (local rank $r, launched by slurm)" "$WORK/srun.out" ||
    fail "rank $r did not say it was launched by slurm: $(head -40 "$WORK/srun.out")"
done
grep -qE "merged [0-9]+ answers from 4 shard store" "$WORK/srun.out" ||
  fail "rank 0 did not merge 4 shards: $(tail -30 "$WORK/srun.out")"
[ -s "$WORK/slurm_run/report.md" ] || fail "no report in the run folder"
compare_with_reference "$WORK/single" "$WORK/slurm_run" || fail "the merged results differ"
