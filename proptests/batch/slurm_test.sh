#!/usr/bin/env bash
# ctest slurm_campaign (label slurm): a real single-node Slurm cluster on
# this machine runs a campaign as a job array, merges it with a dependent
# job, and the merged report must equal the single-process run of the same
# seeds (all but timing). Everything lives below WORK (a dir under the build
# tree): a generated munge key and munged on its own socket, slurmctld and
# slurmd for this host on free ports (proctrack/linuxproc, task/none), their
# state, spool and logs; the daemons this script started are stopped at the
# end. Debian's slurmctld, slurmd, slurm-client and munge are installed when
# missing (as root, or through sudo); where they cannot be, the test is
# skipped (exit 77, ctest SKIP_RETURN_CODE) with the reason.
#
#   proptests/batch/slurm_test.sh SIM WORK
set -uo pipefail
[ $# -eq 2 ] || { echo "usage: $0 SIM WORK_DIR" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
SIM=$(realpath "$1")
WORK=$(realpath -m "$2")
SHARDS=3
FLAGS=(--seeds 45 --check-determinism)
PACKAGES=(slurmctld slurmd slurm-client munge)
T0=$(date +%s)

skip() { echo "SKIP: $*"; exit 77; }
fail() {
  echo "FAIL: $*"
  for log in "$WORK"/*.log "$WORK"/out/slurm-*.out; do
    [ -f "$log" ] && { echo "---- $log (last lines)"; tail -15 "$log"; }
  done
  exit 1
}

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in "${PACKAGES[@]}"; do have_pkg "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || skip "no apt-get to install ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo -n true 2>/dev/null || skip "need root (or sudo) to install ${missing[*]}"
    sudo="sudo -n"
  fi
  echo "==> installing ${missing[*]}"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
      --no-install-recommends "${missing[@]}"; } >"$WORK.install.log" 2>&1 ||
    skip "cannot install ${missing[*]} (see $WORK.install.log)"
fi
[ "$(id -u)" -eq 0 ] || skip "the daemons run as root here (SlurmUser=root); not root"

rm -rf "$WORK"
mkdir -p "$WORK"/{state,spool,out,munge}
chmod 700 "$WORK/munge"
NODE=$(hostname -s)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
CTLD_PORT=$(free_port)
SLURMD_PORT=$(free_port)
SOCKET="$WORK/munge/munge.socket"
[ ${#SOCKET} -lt 100 ] || skip "munge socket path too long for a unix socket: $SOCKET"

cleanup() {
  for pidfile in "$WORK/slurmd.pid" "$WORK/slurmctld.pid" "$WORK/munge/munged.pid"; do
    [ -s "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
}
trap cleanup EXIT

# munge: a fresh key and a daemon on this test's own socket.
dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$WORK/munge/munge.key"
/usr/sbin/munged --force --key-file="$WORK/munge/munge.key" --socket="$SOCKET" \
  --pid-file="$WORK/munge/munged.pid" --log-file="$WORK/munged.log" --seed-file="$WORK/munge/munged.seed" ||
  fail "munged did not start"

CPUS=$(nproc)
cat >"$WORK/slurm.conf" <<CONF
ClusterName=msbench
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
AuthInfo=socket=$SOCKET
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=test Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$WORK/slurm.conf"
/usr/sbin/slurmctld -f "$SLURM_CONF" -i || fail "slurmctld did not start"
/usr/sbin/slurmd -f "$SLURM_CONF" -N "$NODE" || fail "slurmd did not start"
for _ in $(seq 120); do
  state=$(sinfo -h -n "$NODE" -o %t 2>/dev/null)
  [ "$state" = idle ] && break
  sleep 0.5
done
[ "$state" = idle ] || fail "the node is not idle after 60 s (state: ${state:-none})"
echo "==> cluster up: $NODE, $CPUS CPUs, slurmctld :$CTLD_PORT, slurmd :$SLURMD_PORT ($(( $(date +%s) - T0 )) s)"

# The campaign: an array of SHARDS tasks, one CPU each, and the merge.
ids=$(MS_SBATCH_FLAGS="--cpus-per-task=1" "$HERE/slurm_submit.sh" "$SIM" "$WORK/out" "$SHARDS" "${FLAGS[@]}") ||
  fail "submission failed"
read -r array merge <<<"$ids"
echo "==> submitted array $array ($SHARDS tasks) and merge $merge"
for _ in $(seq 600); do
  [ -z "$(squeue -h -j "$array,$merge" 2>/dev/null)" ] && break
  sleep 0.5
done
[ -z "$(squeue -h -j "$array,$merge" 2>/dev/null)" ] && [ -f "$WORK/out/campaign.json" ] ||
  fail "the campaign did not finish in 300 s"
echo "==> merge job log:"
cat "$WORK/out/slurm-merge-$merge.out"

# The same seeds in one process.
"$SIM" run "${FLAGS[@]}" --no-progress --fail-dir "$WORK/out/failures" --json "$WORK/single.json" >/dev/null
python3 - "$WORK/out/campaign.json" "$WORK/single.json" "$SHARDS" <<'PY' || fail "the merged report differs from the single-process run"
import json, sys
merged, single, shards = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
assert [s["index"] for s in merged["shards"]] == list(range(shards)), merged["shards"]
assert merged["shards_missing"] == [] and merged["campaign"]["shard_count"] == shards
strip = lambda r: {k: v for k, v in r.items() if k not in ("timing", "shards", "campaign")}
a, b = strip(merged), strip(single)
for k in sorted(set(a) | set(b)):
    assert a.get(k) == b.get(k), f"{k}: merged {a.get(k)!r:.300} vs single {b.get(k)!r:.300}"
print(f"merged report of {shards} shards == single-process run: {a['totals']['seeds_run']} seeds, "
      f"passed={a['passed']}")
PY
echo "slurm campaign test: $(( $(date +%s) - T0 )) s wall"
