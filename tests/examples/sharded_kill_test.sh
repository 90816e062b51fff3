#!/usr/bin/env bash
# A sharded launch (torchrun-style variables, a TCP rendezvous on loopback)
# whose rank 2 is killed with SIGKILL mid-run: the other ranks stop within
# the timeout, naming the rank, its host and pid, and how to resume;
# `compass merge` refuses the incomplete folder, listing what is missing; a
# rerun with 2 processes computes exactly what was missing and merges; a
# rerun with 4 computes nothing; `compass merge` merges shards by hand.
# usage: sharded_kill_test.sh COMPASS SOURCE_DIR
set -euo pipefail
COMPASS=$1 SRC=$2
source "$SRC/tests/examples/real_model_test.sh"
source "$SRC/tests/examples/sharded_common.sh"
write_sharded_config "$WORK/eval.toml" 40
RUN=$WORK/run
TIMEOUT=5
PIDS=()
launch() {  # WORLD NAME: starts the ranks in the background, pids in PIDS
  local world=$1 name=$2 port r
  port=$(free_port)
  PIDS=()
  for r in $(seq 0 $((world - 1))); do
    RANK=$r WORLD_SIZE=$world LOCAL_RANK=$r MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      "$COMPASS" --backend hf_native --config "$WORK/eval.toml" --output "$RUN" \
      --shard-timeout $TIMEOUT --stop-grace 10 >"$WORK/$name.$r.out" 2>&1 &
    PIDS+=($!)
  done
}
# Waits for every rank (at most $1 s); their exit codes in CODES.
wait_all() {
  local limit=$1 start p rc
  start=$(date +%s)
  CODES=""
  for p in "${PIDS[@]}"; do
    while kill -0 "$p" 2>/dev/null; do
      [ $(($(date +%s) - start)) -lt "$limit" ] || { kill -9 "${PIDS[@]}" 2>/dev/null; fail "a rank hangs"; }
      sleep 0.2
    done
    rc=0
    wait "$p" || rc=$?
    CODES="${CODES:+$CODES }$rc"
  done
}
shard_answers() {  # FILE
  python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM responses").fetchone()[0])' "$1" 2>/dev/null || echo 0
}

# 1. Four ranks; rank 2 is killed once it has stored a few answers.
launch 4 first
victim=${PIDS[2]}
start=$(date +%s)
while :; do
  f=$(ls "$RUN"/shards/*-w4-r2.sqlite 2>/dev/null | head -1 || true)
  [ -n "$f" ] && [ "$(shard_answers "$f")" -ge 3 ] && break
  [ $(($(date +%s) - start)) -lt 300 ] || { kill -9 "${PIDS[@]}"; fail "rank 2 stored nothing: $(tail "$WORK/first.2.out")"; }
  kill -0 "$victim" 2>/dev/null || fail "rank 2 ended before it was killed: $(tail "$WORK/first.2.out")"
  sleep 0.1
done
kill -9 "$victim"
killed=$(date +%s.%N)
survivors=("${PIDS[0]}" "${PIDS[1]}" "${PIDS[3]}")
PIDS=("${survivors[@]}")
wait_all 60
stopped=$(python3 -c "import time; print(f'{time.time() - $killed:.1f}')")
echo "rank 2 killed after $(shard_answers "$f") answers; the others stopped ${stopped} s later (exit codes $CODES; --shard-timeout $TIMEOUT)"
[ "$CODES" = "1 1 1" ] || fail "the other ranks exited with $CODES, not 1: $(tail -n 5 "$WORK"/first.[013].out)"
python3 -c "import sys; sys.exit(0 if $TIMEOUT - 1 <= $stopped <= $TIMEOUT + 12 else 1)" ||
  fail "the others stopped ${stopped} s after the kill (timeout $TIMEOUT s)"
host=$(hostname)
for r in 0 1 3; do
  grep -q "rank 2 (host $host, pid $victim, [0-9]* of [0-9]* requests stored) stopped: no heartbeat" \
    "$WORK/first.$r.out" || fail "rank $r did not name rank 2: $(tail -5 "$WORK/first.$r.out")"
  grep -q "the same command launched again resumes" "$WORK/first.$r.out" ||
    fail "rank $r did not say how to resume"
done
grep -q "launched by torchrun" "$WORK/first.0.out" || fail "the launcher was not named"
total=$(grep -oE "rank 0 of 4: 0 of [0-9]+ requests" "$WORK/first.0.out" | grep -oE "of [0-9]+ req" | grep -oE "[0-9]+")
stored=$(stored_answers "$RUN")
missing=$((total - stored))
echo "$total requests, $stored stored before the stop, $missing missing"
[ "$missing" -gt 0 ] || fail "nothing was missing"

# 2. compass merge refuses the incomplete folder, saying what is missing.
if "$COMPASS" merge "$RUN" >"$WORK/merge1.out" 2>&1; then fail "merge accepted an incomplete folder"; fi
grep -q "cannot merge $RUN: $missing of $total requests have no stored answer in it (" "$WORK/merge1.out" ||
  fail "merge did not list what is missing: $(cat "$WORK/merge1.out")"
grep -qE "[0-9]+ of task 'arc_easy'" "$WORK/merge1.out" || fail "merge did not name the task"
[ -d "$RUN/shards" ] || fail "the refused merge touched the shards"

# 3. Two processes instead of four: exactly the missing requests are computed.
launch 2 second
wait_all 300
[ "$CODES" = "0 0" ] || fail "the 2-process rerun failed ($CODES): $(tail -20 "$WORK/second.0.out")"
grep -q "\[info\] $total requests: $missing computed, $stored reused" "$WORK/second.0.out" ||
  fail "the 2-process rerun did not compute exactly the $missing missing: $(grep requests "$WORK/second.0.out")"
echo "2-process rerun: $(grep -oE "$total requests: .* reused" "$WORK/second.0.out" | head -1)"
[ -s "$RUN/report.md" ] && [ ! -d "$RUN/shards" ] || fail "the rerun did not merge and report"

# 4. Four processes again: nothing to compute, no model loaded.
launch 4 third
wait_all 300
[ "$CODES" = "0 0 0 0" ] || fail "the 4-process rerun failed ($CODES): $(tail -20 "$WORK/third.0.out")"
grep -q "\[info\] $total requests: 0 computed, $total reused" "$WORK/third.0.out" ||
  fail "the 4-process rerun computed something: $(grep requests "$WORK/third.0.out")"
for r in 0 1 2 3; do
  grep -q "rank $r of 4: 0 of its 0 requests computed" "$WORK/third.$r.out" ||
    fail "rank $r had work: $(grep "rank $r" "$WORK/third.$r.out")"
done
echo "4-process rerun: 0 computed"

# 5. compass merge by hand: a shard store left in the folder is merged.
cp "$RUN/results.sqlite" "$WORK/before.sqlite"
mkdir -p "$RUN/shards"
mv "$RUN/results.sqlite" "$RUN/shards/byhand-w1-r0.sqlite"
rm -f "$RUN/results.sqlite-wal" "$RUN/results.sqlite-shm" "$RUN/report.md"
"$COMPASS" merge "$RUN" >"$WORK/merge2.out" 2>&1 || fail "merge failed: $(cat "$WORK/merge2.out")"
[ -s "$RUN/report.md" ] && [ ! -d "$RUN/shards" ] || fail "merge did not merge and report"
[ "$(stored_answers "$RUN")" -eq "$total" ] || fail "merge lost answers"
