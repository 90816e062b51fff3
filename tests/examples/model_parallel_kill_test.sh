#!/usr/bin/env bash
# A process of a model copy that spans processes dies mid-run: paged_tp with
# tp = 3 as three processes on the real model, rank 1 killed with SIGKILL
# once rank 0 has stored answers. The other two stop within the timeout,
# naming rank 1 and its host; every answer stored is kept; the same launch
# again computes only what is missing, and the results equal one process's.
# usage: model_parallel_kill_test.sh COMPASS SOURCE_DIR
set -euo pipefail
COMPASS=$1 SRC=$2
source "$SRC/tests/examples/real_model_test.sh"
source "$SRC/tests/examples/model_parallel_common.sh"

write_mp_config "$WORK/single.toml" "$GGUF" paged_tp '"cpu:0", "cpu:1", "cpu:2"' "tp = 3
max_num_seqs = 4"
write_mp_config "$WORK/procs.toml" "$GGUF" paged_tp '"cpu"' "tp = 3
max_num_seqs = 4
processes = true"
sed -i 's/^limit = 6$/limit = 30/' "$WORK/single.toml" "$WORK/procs.toml"
"$COMPASS" --backend paged_tp --config "$WORK/single.toml" --output "$WORK/single" -q \
  >"$WORK/single.out" 2>&1 || fail "tp = 3 in one process failed: $(tail -20 "$WORK/single.out")"

stored() {  # answers in the run folder's stores
  python3 - "$WORK/procs" <<'PY'
import glob, os, sqlite3, sys
n = 0
for f in glob.glob(os.path.join(sys.argv[1], "shards", "*.sqlite")) + \
         glob.glob(os.path.join(sys.argv[1], "results.sqlite")):
    try:
        n += sqlite3.connect(f, timeout=5).execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    except sqlite3.Error:
        pass
print(n)
PY
}

port=$(free_port)
pids=()
for r in 0 1 2; do
  RANK=$r WORLD_SIZE=3 LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port timeout 600 \
    "$COMPASS" --backend paged_tp --config "$WORK/procs.toml" --output "$WORK/procs" \
    --shard-timeout 10 >"$WORK/kill.$r.out" 2>&1 &
  pids+=($!)
done
# rank 1's compass: the process its launcher started.
for _ in $(seq 1 600); do
  [ "$(stored)" -ge 8 ] && break
  kill -0 "${pids[0]}" 2>/dev/null || fail "rank 0 ended before the kill: $(tail -20 "$WORK/kill.0.out")"
  sleep 0.2
done
before=$(stored)
[ "$before" -ge 8 ] || fail "rank 0 stored no answers in 120 s: $(tail -20 "$WORK/kill.0.out")"
victim=$(pgrep -P "${pids[1]}" -f "$COMPASS" || echo "${pids[1]}")
kill -9 "$victim"
killed_at=$(date +%s)
code0=0 code2=0
wait "${pids[0]}" || code0=$?
took=$(($(date +%s) - killed_at))
wait "${pids[2]}" || code2=$?
wait "${pids[1]}" 2>/dev/null || true
echo "rank 1 killed after $before answers; rank 0 stopped $took s later (exit $code0), rank 2 exit $code2"
[ "$code0" -ne 0 ] || fail "rank 0 finished although rank 1 died: $(tail -20 "$WORK/kill.0.out")"
[ "$code2" -ne 0 ] || fail "rank 2 finished although rank 1 died: $(tail -20 "$WORK/kill.2.out")"
[ "$took" -le 40 ] || fail "rank 0 took $took s to stop (--shard-timeout 10)"
host=$(hostname)
for r in 0 2; do
  grep -qE "rank 1 \(host $host, pid $victim" "$WORK/kill.$r.out" ||
    fail "rank $r did not name rank 1, its host and pid: $(grep -E 'error|stopped' "$WORK/kill.$r.out" | tail -5)"
done
after=$(stored)
[ "$after" -ge "$before" ] || fail "answers were lost: $before stored before the kill, $after after"
for r in 0 2; do
  echo "rank $r said:"
  grep -E '^\[error\]' "$WORK/kill.$r.out" | cut -c1-400
done

# The same launch again: only what is missing is computed.
launch_torchrun 3 "$WORK/procs.toml" paged_tp "$WORK/procs"
grep -qE "rank 0 of 3: $after of [0-9]+ requests already stored" "$WORK/procs.0.out" ||
  fail "the rerun did not reuse the $after answers: $(grep -m3 'already stored' "$WORK/procs.0.out")"
# A resumed paged_tp run batches its steps differently from an uninterrupted
# one (float32 rounding depends on a step's rows), as in the fault tests.
compare_with_reference "$WORK/single" "$WORK/procs" 1e-4 || fail "the resumed results differ"
echo "a dead process of a model copy: OK"
