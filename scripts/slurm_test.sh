#!/usr/bin/env bash
# Proves nettrain's Slurm path for real: installs Debian's slurm-wlm and
# munge if missing, starts a one-node Slurm cluster on localhost, submits
# deploy/slurm/sweep.sbatch as a two-task job array with `sbatch --wait`,
# merges the shards with `nettrain sweep report` and checks the result.
# Needs root (it starts munged, slurmctld and slurmd) and the CIFAR-10 data:
#
#   NETTRAIN_DATA=/path/to/cifar-10-batches-bin scripts/slurm_test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

data=${NETTRAIN_DATA:-../shared/cifar-10-batches-bin}
[[ -f $data/test_batch.bin ]] || { echo "slurm-test: no CIFAR-10 at $data; set NETTRAIN_DATA" >&2; exit 1; }
data=$(realpath "$data")
say() { echo "slurm-test: $*" >&2; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  say "installing slurm-wlm and munge"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq slurm-wlm munge >/dev/null
fi
make -s build

work=$(mktemp -d /tmp/nettrain-slurm.XXXXXX)
chmod 755 "$work"
host=$(hostname -s)
export SLURM_CONF=$work/slurm.conf
started_munge=
cleanup() {
  scontrol shutdown >/dev/null 2>&1 || true
  sleep 1
  pkill -f "slurmd -D" 2>/dev/null || true
  pkill -f "slurmctld -D" 2>/dev/null || true
  if [[ -n $started_munge ]]; then pkill -x munged 2>/dev/null || true; fi
}
trap cleanup EXIT

# munge: a key, a socket directory, the daemon as the munge user.
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
if [[ ! -s /etc/munge/munge.key ]]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 400 /etc/munge/munge.key
chmod 755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged
  started_munge=1
  sleep 1
fi
munge -n | unmunge >/dev/null || { say "munge does not work"; exit 1; }

cpus=$(nproc)
mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024))
mkdir -p "$work/state" "$work/spool"
cat >"$SLURM_CONF" <<CONF
ClusterName=nettrain
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
# No cgroups for job control (proctrack/linuxproc, task/none); slurmd still
# loads a cgroup plugin, so name the hierarchy this machine has.
if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then cg=cgroup/v2; else cg=cgroup/v1; fi
cat >"$work/cgroup.conf" <<CONF
CgroupPlugin=$cg
CgroupAutomount=no
CONF

slurmctld -D >"$work/slurmctld.out" 2>&1 &
slurmd -D >"$work/slurmd.out" 2>&1 &
for _ in $(seq 60); do
  sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed)' && break
  sleep 1
done
sinfo -h -o %T | grep -qE '^(idle|mixed)' || { say "the node did not come up"; for f in "$work"/slurmctld.log "$work"/slurmd.log; do tail -n 20 "$f" >&2; done; exit 1; }
say "cluster up: $(sinfo -h -o '%P %D %T %C')"

export NETTRAIN=$PWD/bin/nettrain NETTRAIN_DATA=$data SWEEP_OUT=$work/sweep
export SWEEP_ARGS="--trials 6 --hidden 20,40 --lr 1e-4:2e-3 --iters 200 --num-train 5000 --num-val 500"
start=$(date +%s)
sbatch --wait --array=0-1 --cpus-per-task=1 --chdir="$work" deploy/slurm/sweep.sbatch
say "job array finished in $(($(date +%s) - start))s"

"$NETTRAIN" sweep report "$SWEEP_OUT" --json >"$work/report.json"
"$NETTRAIN" sweep report "$SWEEP_OUT"
python3 - "$work/report.json" "$SWEEP_OUT" <<'PY' || { say "report check failed"; exit 1; }
import json, os, sys
r = json.load(open(sys.argv[1]))
shards = sorted(f for f in os.listdir(sys.argv[2]) if f.startswith("results-shard-"))
assert shards == ["results-shard-0-of-2.jsonl", "results-shard-1-of-2.jsonl"], shards
assert r["trials"] == 6 and r["ok"] == 6, r
assert os.path.exists(r["model"]), r["model"]
print("slurm-test: ok: 2 shards, %d trials merged, best val_acc %.4f" % (r["trials"], r["best"]["val_acc"]))
PY
