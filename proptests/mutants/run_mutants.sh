#!/usr/bin/env bash
# Mutation testing of the bench: applies each core mutant (NN-name.patch
# here) to ONE scratch copy of the source tree, rebuilds only the simulator
# in ONE scratch build dir (configured once, incremental per mutant), runs a
# the DEFAULT simulation campaign (at most 2000 seeds, stopping at the first
# failing one), proves the failure replays from its trace file alone, proves
# the unmutated core passes that same seed, and reverses the patch.
#
#   proptests/mutants/run_mutants.sh BUILD_DIR [--fast] [--only NAME]...
#
# BUILD_DIR hosts the scratch space (BUILD_DIR/mutants/{src,build,out,bin});
# ./run mutants passes "build". --fast runs each mutant with the flags tuned
# to it instead (a faster path; the default campaign is what must kill it);
# --quick is accepted and changes nothing (every run stops at its first
# kill); --only runs one mutant (a name with or without ".patch", or its NN).
# Exit status 0 only when every mutant run was killed.
#
# Per mutant it prints: killed or survived, the invariant that caught it,
# the time and the number of seeds (schedules) to the first failure, and
# the replay command (the mutant's binary is kept, so it replays as is).
# The last line is "mutation score K/N".
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
if [ $# -lt 1 ]; then
  echo "usage: $0 BUILD_DIR [--quick] [--only NAME]..." >&2
  exit 2
fi
BUILD_ARG=$1
shift
QUICK=0
FAST=0
ONLY=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;  # kept for CI scripts: every run is the default campaign now
    --fast) FAST=1 ;;
    --only) shift; ONLY+=("${1:?--only needs a mutant name}") ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "error: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done
JOBS=${MS_JOBS:-2}
case "$BUILD_ARG" in /*) BUILD_ABS=$BUILD_ARG ;; *) BUILD_ABS=$ROOT/$BUILD_ARG ;; esac
SCRATCH=${MS_MUTANTS_SCRATCH:-$BUILD_ABS/mutants}
SRC=$SCRATCH/src
BLD=$SCRATCH/build
OUT=$SCRATCH/out
BIN=$SCRATCH/bin

# Every mutant must be killed by the DEFAULT campaign (the flags `./run sim`
# uses, swarm included) within DEFAULT_SEEDS seeds: a mutant only a tuned
# flag set kills is a finding about the default campaign. The campaign
# stops at the first failing seed, so the budget is a bound, not a cost.
DEFAULT_SEEDS=2000
# --fast: a faster path for a mutant, its table flags (tuned to the feature
# that exposes it, docs/findings.md says why) and a smaller budget.
# name | fast flags | fast seeds
CLEAN="--swarm 0 --faults 0 --crashes 0 --status-corruptions 0 --corrupt-at-sweep 0 --tenant-writes 0 --shared-slots 0"
read -r -d '' TABLE <<EOF || true
01-tag-move-leak|$CLEAN --tag-moves 8|60
02-no-sweep|--swarm 0 --faults 0.01 --crashes 0.002|60
03-nlink-liveness|$CLEAN|60
04-no-flock|$CLEAN --processes 2 --gc-rounds 12|100
05-writable-store-files|$CLEAN --tenant-writes 6|60
06-corrupt-status-is-live|$CLEAN --corrupt-at-sweep 1|100
07-half-linked-volume|$CLEAN --link-max 3|60
08-delete-without-volume-lock|$CLEAN --client-lanes 2|100
09-check-then-act-materialize|$CLEAN|100
10-staging-in-place|--swarm 0 --faults 0 --crashes 0.003 --crashes-max 6|150
11-no-fsync-before-rename|--swarm 0 --faults 0 --crashes 0.003 --crash-model adversarial|100
12-gc-removes-data-in-place|--swarm 0 --faults 0.01 --crashes 0.002|100
13-no-blob-digest-check|--swarm 0 --faults 0.02 --crashes 0|100
14-delete-refuses-corrupt-status|$CLEAN --status-corruptions 4|300
15-lock-file-removed-first|$CLEAN --processes 2 --strategy pct:3|600
17-volume-lock-per-process|--swarm 0 --processes 2 --shared-slots 0.5|100
18-conflict-answered-ok|$CLEAN --processes 1|100
19-flight-shared-across-references|--swarm 0 --faults 0 --crashes 0 --processes 1 --shared-slots 0.5 --client-lanes 3|300
20-dotdot-path-accepted|--swarm 0 --hostile 0.5 --hostile-classes path-dotdot,tar-escape|30
21-symlink-escape-accepted|--swarm 0 --hostile 0.5 --hostile-classes tar-symlink-escape,tar-symlink-chain|30
22-tar-hardlink-accepted|--swarm 0 --hostile 0.5 --hostile-classes tar-hardlink|30
23-blob-size-unchecked|--swarm 0 --hostile 0.5 --hostile-classes size-lie-short,size-lie-long|30
24-manifest-digest-unchecked|--swarm 0 --hostile 0.5 --hostile-classes manifest-digest-lie|30
25-refusal-names-no-reference|--swarm 0 --hostile 0.5|30
26-tar-entry-path-unchecked|--swarm 0 --hostile 0.5 --hostile-classes tar-escape,tar-deep|30
27-no-parent-fsync|--swarm 0 --faults 0 --crashes 0.003 --crash-model adversarial|100
28-success-recorded-outside-entry-lock|$CLEAN --status-corruptions 4|300
29-fetch-slot-released-before-fetch|$CLEAN --fetches-max 1 --client-lanes 2|100
30-layer-collected-while-listed|$CLEAN|100
31-check-then-act-layer|$CLEAN --client-lanes 2|100
EOF

lookup() {  # lookup NAME FIELD -> the table's field (2 fast flags, 3 fast seeds)
  local line
  line=$(printf '%s\n' "$TABLE" | awk -F'|' -v n="$1" '$1 == n')
  if [ -z "$line" ]; then
    case "$2" in 2) echo "" ;; 3) echo "$DEFAULT_SEEDS" ;; esac
  else
    printf '%s\n' "$line" | cut -d'|' -f"$2"
  fi
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
START=$(now)

# The mutants to run.
PATCHES=()
for p in "$HERE"/[0-9][0-9]-*.patch; do
  name=$(basename "$p" .patch)
  if [ ${#ONLY[@]} -gt 0 ]; then
    keep=0
    for o in "${ONLY[@]}"; do
      o=${o%.patch}
      if [ "$o" = "$name" ] || [ "$o" = "${name%%-*}" ]; then keep=1; fi
    done
    [ $keep -eq 1 ] || continue
  fi
  PATCHES+=("$p")
done
if [ ${#PATCHES[@]} -eq 0 ]; then
  echo "error: no mutant matches ${ONLY[*]:-}" >&2
  exit 2
fi

# sync_tree FROM TO: makes TO's files equal FROM's, copying only files
# whose content differs (they alone get a new mtime, so the scratch build
# stays incremental) and deleting files FROM lacks.
sync_tree() {
  local from=$1 to=$2 f
  mkdir -p "$to"
  (cd "$from" && find . -type f -print0) | while IFS= read -r -d '' f; do
    if ! cmp -s "$from/$f" "$to/$f"; then
      mkdir -p "$(dirname "$to/$f")"
      cp "$from/$f" "$to/$f"
    fi
  done
  (cd "$to" && find . -type f -print0) | while IFS= read -r -d '' f; do
    [ -e "$from/$f" ] || rm -f "$to/$f"
  done
}

# One scratch copy of the tree: the committed tree (HEAD builds) with the
# working tree's core/ over it, so an uncommitted core change is what the
# mutants mutate.
echo "==> scratch copy in $SRC"
mkdir -p "$SRC" "$OUT" "$BIN"
STAGE=$SCRATCH/stage
rm -rf "$STAGE"
mkdir -p "$STAGE"
git -C "$ROOT" archive --format=tar HEAD | tar -x -C "$STAGE"
rm -rf "$STAGE/core"
cp -r "$ROOT/core" "$STAGE/core"
sync_tree "$STAGE" "$SRC"
rm -rf "$STAGE"

CONFIGURED=0
if [ ! -f "$BLD/build.ninja" ]; then
  echo "==> configuring $BLD"
  # -O2 without -g: the bench needs speed, not debug info, and -g doubles
  # compile time.
  cmake -S "$SRC" -B "$BLD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -DNDEBUG" >"$SCRATCH/configure.log" 2>&1 ||
    { cat "$SCRATCH/configure.log"; exit 1; }
  CONFIGURED=1
fi
build_sim() {  # build_sim LOG
  cmake --build "$BLD" --target modelstore-sim -j "$JOBS" >"$1" 2>&1
}
echo "==> building the unmutated simulator"
T0=$(now)
build_sim "$SCRATCH/build-clean.log" || { tail -30 "$SCRATCH/build-clean.log"; exit 1; }
rm -f "$SCRATCH/modelstore-sim.clean"
cp "$BLD/sim/modelstore-sim" "$SCRATCH/modelstore-sim.clean"
echo "    $(elapsed "$T0" "$(now)") s (configured now: $CONFIGURED)"

# A patch is reversed whatever happens, so the scratch tree stays clean.
APPLIED=""
cleanup() {
  if [ -n "$APPLIED" ]; then patch -p1 -R -s -d "$SRC" <"$APPLIED" || true; fi
}
trap cleanup EXIT

KILLED=0
TOTAL=0
ROWS=()
for p in "${PATCHES[@]}"; do
  name=$(basename "$p" .patch)
  TOTAL=$((TOTAL + 1))
  if [ $FAST -eq 1 ]; then
    flags=$(lookup "$name" 2)
    seeds=$(lookup "$name" 3)
  else
    flags=""
    seeds=$DEFAULT_SEEDS
  fi
  echo "==> $name"
  if ! patch -p1 -s --forward -d "$SRC" <"$p"; then
    echo "    patch does not apply"
    ROWS+=("$(printf '%-34s %-9s %s' "$name" "ERROR" "patch does not apply to core/")")
    continue
  fi
  APPLIED=$p
  T0=$(now)
  if ! build_sim "$OUT/$name.build.log"; then
    echo "    build failed:"; grep -m5 -E "error" "$OUT/$name.build.log" | sed 's/^/      /'
    ROWS+=("$(printf '%-34s %-9s %s' "$name" "ERROR" "does not build (see $OUT/$name.build.log)")")
    patch -p1 -R -s -d "$SRC" <"$p"; APPLIED=""
    continue
  fi
  build_s=$(elapsed "$T0" "$(now)")
  mkdir -p "$BIN/$name"
  # A fresh inode: the old binary may still be running (a replay).
  rm -f "$BIN/$name/modelstore-sim"
  cp "$BLD/sim/modelstore-sim" "$BIN/$name/modelstore-sim"
  rm -rf "${OUT:?}/$name"
  T0=$(now)
  # shellcheck disable=SC2086  # flags are words
  set +e
  "$BIN/$name/modelstore-sim" run --first-seed 1 --seeds "$seeds" --stop-on-failure --no-progress \
    --fail-dir "$OUT/$name" $flags >"$OUT/$name.log" 2>&1
  rc=$?
  set -e
  run_s=$(elapsed "$T0" "$(now)")
  patch -p1 -R -s -d "$SRC" <"$p"
  APPLIED=""
  seed=$(sed -n 's/^FAIL seed \([0-9]*\).*/\1/p' "$OUT/$name.log" | head -1)
  if [ $rc -gt 1 ]; then
    echo "    the simulator did not run (exit $rc):"; head -3 "$OUT/$name.log" | sed 's/^/      /'
    ROWS+=("$(printf '%-34s %-9s %s' "$name" "ERROR" "simulator exit $rc (see $OUT/$name.log)")")
    continue
  fi
  if [ $rc -eq 0 ] || [ -z "$seed" ]; then
    echo "    SURVIVED $seeds seeds ($run_s s)"
    ROWS+=("$(printf '%-34s %-9s %-24s %7s s %6s seeds' "$name" "SURVIVED" "-" "$run_s" "$seeds")")
    continue
  fi
  invariant=$(grep -m1 ' violated at step ' "$OUT/$name.log" | sed 's/^ *//; s/ violated at step.*//')
  trace="$OUT/$name/seed-$seed.trace"
  # The trace file alone must reproduce the failure with the mutant...
  set +e
  "$BIN/$name/modelstore-sim" replay "$trace" >"$OUT/$name.replay.log" 2>&1
  replay_rc=$?
  # ...and the unmutated core must pass the very same seed and flags.
  # shellcheck disable=SC2086
  "$SCRATCH/modelstore-sim.clean" run --seed "$seed" --no-progress --quiet \
    --fail-dir "$OUT/$name.clean" $flags >"$OUT/$name.clean.log" 2>&1
  clean_rc=$?
  set -e
  replay_inv=$(grep -m1 ' violated at step ' "$OUT/$name.replay.log" | sed 's/^ *//; s/ violated at step.*//')
  rel_bin=${BIN#"$ROOT"/}
  rel_trace=${trace#"$ROOT"/}
  # The hand-shrunk trace of docs/findings.md, if any, must still kill it.
  finding="$ROOT/docs/findings/$name.trace"
  finding_rc=1
  if [ -f "$finding" ]; then
    set +e
    "$BIN/$name/modelstore-sim" replay "$finding" >"$OUT/$name.finding.log" 2>&1
    finding_rc=$?
    set -e
  fi
  if [ $replay_rc -ne 1 ] || [ "$replay_inv" != "$invariant" ]; then
    verdict="NO-REPLAY"
    echo "    failed, but its trace does not replay the failure (see $OUT/$name.replay.log)"
  elif [ $finding_rc -ne 1 ]; then
    verdict="STALE"
    echo "    killed, but docs/findings/$name.trace no longer fails with it (see $OUT/$name.finding.log)"
  elif [ $clean_rc -ne 0 ]; then
    verdict="INVALID"
    echo "    failed, but the unmutated core fails seed $seed too (see $OUT/$name.clean.log)"
  else
    verdict="KILLED"
    KILLED=$((KILLED + 1))
  fi
  echo "    $verdict by $invariant at seed $seed ($seed seeds, $run_s s; build $build_s s)"
  echo "    replay: $rel_bin/$name/modelstore-sim replay $rel_trace"
  ROWS+=("$(printf '%-34s %-9s %-24s %7s s %6s seeds   %s' "$name" "$verdict" "$invariant" "$run_s" "$seed" \
    "$rel_bin/$name/modelstore-sim replay $rel_trace")")
done
trap - EXIT

echo
echo "mutant                             verdict   invariant                time to kill  seeds   replay"
for r in "${ROWS[@]}"; do echo "$r"; done
echo "total wall time $(elapsed "$START" "$(now)") s ($([ $FAST -eq 1 ] && echo "fast flags" || echo "default flags, $DEFAULT_SEEDS seeds at most"))"
echo "mutation score $KILLED/$TOTAL"
[ "$KILLED" -eq "$TOTAL" ]
