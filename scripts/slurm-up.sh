#!/usr/bin/env bash
# Brings up a one-node Slurm cluster on this machine (Debian 12, as root) so
# that the slurm backend's integration test has a real sbatch/squeue/sacct/
# scancel to talk to: munge with a key, a slurm.conf naming this host with
# its CPUs and memory, then munged, slurmctld and slurmd. Idempotent: a
# cluster that already answers is left alone; a stopped daemon is started.
#
#   scripts/slurm-up.sh          start (installing the packages if missing)
#   scripts/slurm-up.sh status   print sinfo and exit 0 if the cluster answers
#
# It is for tests and trying things out, not a production cluster: no
# accounting database (sacct then answers from nothing, and xraylab falls
# back to squeue, which keeps finished jobs for MinJobAge seconds), no
# cgroup enforcement, root as SlurmUser.
set -euo pipefail

conf_dir=/etc/slurm
conf=$conf_dir/slurm.conf
log_dir=/var/log/slurm

answers() { timeout 10 sinfo -h -o '%T' 2>/dev/null | grep -qvE 'down|drain|fail|unk'; }

if [ "${1:-}" = "status" ]; then
  answers && { sinfo; exit 0; }
  echo "slurm-up: the cluster does not answer" >&2
  exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "slurm-up: run as root (it installs packages and starts daemons)" >&2
  exit 1
fi

need=()
for p in slurmctld slurmd slurm-client munge; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "slurm-up: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# munge: one key shared by every node (here: one node).
install -d -o munge -g munge -m 0700 /etc/munge
if [ ! -s /etc/munge/munge.key ]; then
  echo "slurm-up: creating /etc/munge/munge.key"
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  echo "slurm-up: starting munged"
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi

host=$(hostname -s)
# slurmd -C prints this machine's NodeName line (CPUs, sockets, cores,
# threads, RealMemory) exactly as slurm.conf wants it.
node_line=$(slurmd -C | head -n 1)
case "$node_line" in
  NodeName=*) ;;
  *) echo "slurm-up: slurmd -C printed an unexpected line: $node_line" >&2; exit 1 ;;
esac

install -d -m 0755 "$conf_dir" "$log_dir" /var/spool/slurmctld /var/spool/slurmd
want=$(cat <<EOF
# Written by xraylab's scripts/slurm-up.sh: a one-node test cluster.
ClusterName=xraylab
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$log_dir/slurmctld.log
SlurmdLogFile=$log_dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
# Jobs start within a second of submission and finished ones stay visible
# to squeue for five minutes.
MinJobAge=300
KillWait=5
InactiveLimit=0
SlurmdTimeout=60
$node_line State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
)
changed=0
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then
  echo "slurm-up: writing $conf"
  printf '%s\n' "$want" > "$conf"
  changed=1
fi

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if [ "$changed" = 1 ]; then
  # A new configuration: restart whatever runs with the old one.
  for pidf in /run/slurmd.pid /run/slurmctld.pid; do
    if running "$pidf"; then
      kill "$(cat "$pidf")"
      for _ in $(seq 50); do running "$pidf" || break; sleep 0.1; done
    fi
  done
fi
if ! running /run/slurmctld.pid; then
  echo "slurm-up: starting slurmctld"
  /usr/sbin/slurmctld
fi
if ! running /run/slurmd.pid; then
  echo "slurm-up: starting slurmd"
  /usr/sbin/slurmd
fi

for _ in $(seq 100); do
  if answers; then
    # A node that was down (a previous run's slurmd killed) comes back.
    scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true
    sinfo
    exit 0
  fi
  sleep 0.2
done
echo "slurm-up: the cluster did not come up; see $log_dir/slurmctld.log and $log_dir/slurmd.log" >&2
sinfo >&2 || true
exit 1
