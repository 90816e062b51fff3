# Sourced by sharded_srun_test.sh: a one-node Slurm cluster of this machine,
# private to the test (its own munged socket, ports, state and logs under
# $1), started as root and stopped by slurm_cluster_stop.
#   slurm_cluster_start DIR   sets SLURM_CONF; fails with the daemons' logs
#   slurm_cluster_stop
slurm_cluster_start() {
  SC_DIR=$1
  mkdir -p "$SC_DIR/state" "$SC_DIR/spool" "$SC_DIR/munge"
  chmod 700 "$SC_DIR/munge"
  local node port
  node=$(hostname -s)
  port=$((6900 + $$ % 1000 * 2))
  # munged: a private daemon with its own key and socket.
  dd if=/dev/urandom of="$SC_DIR/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$SC_DIR/munge/munge.key"
  munged --force --key-file="$SC_DIR/munge/munge.key" --socket="$SC_DIR/munge/munge.sock" \
    --pid-file="$SC_DIR/munge/munged.pid" --log-file="$SC_DIR/munge/munged.log" \
    --seed-file="$SC_DIR/munge/munged.seed" >"$SC_DIR/munge/start.log" 2>&1 ||
    { cat "$SC_DIR/munge/start.log" "$SC_DIR/munge/munged.log" >&2; return 1; }
  cat >"$SC_DIR/slurm.conf" <<CONF
ClusterName=compasstest
SlurmctldHost=$node(127.0.0.1)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SC_DIR/munge/munge.sock
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
StateSaveLocation=$SC_DIR/state
SlurmdSpoolDir=$SC_DIR/spool
SlurmctldPidFile=$SC_DIR/slurmctld.pid
SlurmdPidFile=$SC_DIR/slurmd.pid
SlurmctldLogFile=$SC_DIR/slurmctld.log
SlurmdLogFile=$SC_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
LaunchParameters=use_interactive_step
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$node NodeAddr=127.0.0.1 CPUs=4 State=UNKNOWN
PartitionName=compass Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
  export SLURM_CONF=$SC_DIR/slurm.conf
  slurmctld -f "$SLURM_CONF" -i >"$SC_DIR/slurmctld.out" 2>&1 ||
    { cat "$SC_DIR/slurmctld.out" "$SC_DIR/slurmctld.log" >&2; return 1; }
  slurmd -f "$SLURM_CONF" >"$SC_DIR/slurmd.out" 2>&1 ||
    { cat "$SC_DIR/slurmd.out" "$SC_DIR/slurmd.log" >&2; return 1; }
  local i
  for i in $(seq 1 60); do
    if sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; then return 0; fi
    sleep 1
  done
  echo "the Slurm node did not come up within 60 s:" >&2
  sinfo >&2 || true
  cat "$SC_DIR/slurmctld.log" "$SC_DIR/slurmd.log" >&2
  return 1
}

slurm_cluster_stop() {
  [ -n "${SC_DIR:-}" ] || return 0
  local f
  for f in "$SC_DIR/slurmd.pid" "$SC_DIR/slurmctld.pid" "$SC_DIR/munge/munged.pid"; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  sleep 1
}
