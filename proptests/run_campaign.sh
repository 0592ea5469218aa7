#!/usr/bin/env bash
# The long campaign: properties, the model-based test on a real disk, crash
# points with pairs and seeded workloads, exhaustive crash states at a large
# bound (every legal post-crash state of every persistence model at every
# persistence point of the standard workloads), the simulator with the
# determinism check, the regression and fuzz corpora, and (if a fuzz build
# exists) libFuzzer. One shard of it; every shard of one campaign takes the
# same --seed and its own --shard I/N, so N machines split the work:
#
#   machine k of N (k = 0..N-1):  ./run campaign --seed 20260101 --shard k/N
#
# usage: proptests/run_campaign.sh BUILD_DIR [options]
#   --shard I/N         this shard (default $MS_SHARD, else 0/1)
#   --seed S            campaign seed (default: random, printed). RapidCheck
#                       runs with seed S+I; the simulator's seeds start at
#                       1 + (S mod 10^9) * 10 and are split I/N
#   --cases N           RapidCheck cases per property (default 1000)
#   --model-cases N     model-based cases on the real disk (default 300)
#   --sim-seeds N       simulator seeds per strategy, before sharding (default 2000)
#   --fuzz-seconds N    libFuzzer time if <fuzz build>/proptests/fuzz_sim
#                       exists ($MS_FUZZ_BUILD_DIR, default build-fuzz; 0 skips;
#                       default 0)
#   --quick             a smoke-sized campaign (cases 50, model 20, sim 40)
# RC_PARAMS given in the environment wins over these budgets (e.g.
# RC_PARAMS="reproduce=..." to replay one failure).
# Failing properties write their shrunk traces to fixtures/regressions/;
# failing simulator seeds to BUILD_DIR/campaign-failures/. The simulator
# stages run on every core (modelstore-sim --jobs) and write their reports
# as JSON beside the logs (sim-random.json, sim-pct3.json): the shards' files
# of one campaign combine with `modelstore-sim merge`.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

[ $# -ge 1 ] || { sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
BUILD=$1
shift
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac

SHARD=${MS_SHARD:-0/1}
SEED=""
CASES=1000
MODEL_CASES=300
SIM_SEEDS=2000
FUZZ_SECONDS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --shard) SHARD=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --cases) CASES=$2; shift 2 ;;
    --model-cases) MODEL_CASES=$2; shift 2 ;;
    --sim-seeds) SIM_SEEDS=$2; shift 2 ;;
    --fuzz-seconds) FUZZ_SECONDS=$2; shift 2 ;;
    --quick) CASES=50; MODEL_CASES=20; SIM_SEEDS=40; shift ;;
    -h|--help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown option $1" >&2; exit 2 ;;
  esac
done
if ! [[ "$SHARD" =~ ^([0-9]+)/([0-9]+)$ ]] || [ "${BASH_REMATCH[2]}" -eq 0 ] ||
   [ "${BASH_REMATCH[1]}" -ge "${BASH_REMATCH[2]}" ]; then
  echo "error: --shard \"$SHARD\" must be I/N with 0 <= I < N" >&2
  exit 2
fi
SHARD_I=${BASH_REMATCH[1]}
SHARD_N=${BASH_REMATCH[2]}
[ -n "$SEED" ] || SEED=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
RC_SEED=$((SEED + SHARD_I))
FIRST_SIM_SEED=$((1 + (SEED % 1000000000) * 10))

for bin in proptests/prop_invariant_tests proptests/prop_model_tests proptests/prop_crash_point_tests \
           proptests/prop_crash_state_tests \
           proptests/regression_replay proptests/fuzz_sim_corpus sim/modelstore-sim; do
  [ -x "$BUILD/$bin" ] || { echo "error: $BUILD/$bin is missing: build first (./run build)" >&2; exit 2; }
done

LOG_DIR="$BUILD/campaign-logs/shard-$SHARD_I-of-$SHARD_N"
FAIL_DIR="$BUILD/campaign-failures/shard-$SHARD_I-of-$SHARD_N"
mkdir -p "$LOG_DIR"
echo "campaign seed $SEED, shard $SHARD (RapidCheck seed $RC_SEED; simulator seeds from $FIRST_SIM_SEED)"
echo "repeat it: $0 $BUILD --seed $SEED --shard $SHARD --cases $CASES --model-cases $MODEL_CASES --sim-seeds $SIM_SEEDS"
echo "logs: $LOG_DIR"

declare -a REPORT=()
FAILED=0
# stage NAME NOTE-COMMAND -- COMMAND...: runs COMMAND with its output in
# the stage's log (and on stdout), then records pass/fail, time and the
# note NOTE-COMMAND extracts from the log.
stage() {
  local name=$1 note_cmd=$2
  shift 3
  local log="$LOG_DIR/$name.log" start end rc note
  echo
  echo "==> $name"
  start=$(date +%s)
  "$@" 2>&1 | tee "$log" |
    grep -E --line-buffered '^\[ *(OK|FAILED) *\]|Falsifiable|crash points\]|crash states\]|OK, passed|passed, |FAIL|inputs|violated|reproduce|trace:|regression:|^Done|ERROR|error'
  local statuses=("${PIPESTATUS[@]}")
  rc=${statuses[0]}
  end=$(date +%s)
  note=$(eval "$note_cmd" < "$log" 2>/dev/null | tail -1)
  if [ "$rc" -eq 0 ]; then
    REPORT+=("$(printf '  %-14s PASS %6ss  %s' "$name" $((end - start)) "$note")")
  else
    REPORT+=("$(printf '  %-14s FAIL %6ss  %s (exit %s; log %s)' "$name" $((end - start)) "$note" "$rc" "$log")")
    FAILED=1
  fi
}

RC_BUDGET="seed=$RC_SEED max_success=$CASES max_size=150"
stage properties "grep -c 'OK, passed' | sed 's/\$/ properties passed/'" -- \
  env MS_RC_DEFAULTS="$RC_BUDGET" "$BUILD/proptests/prop_invariant_tests"
stage model "grep -o 'OK, passed [0-9]* tests' " -- \
  env MS_RC_DEFAULTS="seed=$RC_SEED max_success=$MODEL_CASES" MS_MODEL_TMPDIR="${TMPDIR:-/tmp}" \
  "$BUILD/proptests/prop_model_tests"
stage crash-points "grep -E 'crash points\\] (fixed|seeded)' | awk '{s+=\$5} END {print s \" crash points explored\"}'" -- \
  env MS_CRASH_BUDGET=campaign MS_SHARD="$SHARD" MS_REGRESSION_DIR="$ROOT/fixtures/regressions" \
  "$BUILD/proptests/prop_crash_point_tests"
stage crash-states "grep -E 'crash states\\] standard' | sed 's/.*: //'" -- \
  env MS_CRASH_BUDGET=campaign MS_SHARD="$SHARD" MS_REGRESSION_DIR="$ROOT/fixtures/regressions" \
  "$BUILD/proptests/prop_crash_state_tests"
for strategy in random pct:3; do
  stage "sim-${strategy/:/}" "grep -E 'passed, .* failed'" -- \
    "$BUILD/sim/modelstore-sim" run --seeds "$SIM_SEEDS" --first-seed "$FIRST_SIM_SEED" --shard "$SHARD" \
    --strategy "$strategy" --check-determinism --no-progress --fail-dir "$FAIL_DIR" \
    --json "$LOG_DIR/sim-${strategy/:/}.json"
done
shopt -s nullglob
TRACES=("$ROOT"/fixtures/regressions/*.trace)
shopt -u nullglob
if [ ${#TRACES[@]} -gt 0 ]; then
  stage regressions "grep -c 'every invariant holds' | sed 's/\$/ traces hold/'" -- \
    "$BUILD/proptests/regression_replay" "${TRACES[@]}"
fi
shopt -s nullglob
OPEN=("$ROOT"/fixtures/regressions/open/*.trace)
shopt -u nullglob
if [ ${#OPEN[@]} -gt 0 ]; then
  stage open-findings "grep -c 'still open' | sed 's/\$/ findings still open/'" -- \
    "$BUILD/proptests/regression_replay" --open "${OPEN[@]}"
fi
stage fuzz-corpus "grep -E 'inputs'" -- "$BUILD/proptests/fuzz_sim_corpus" "$ROOT/fixtures/fuzz-corpus"

FUZZ_BUILD=${MS_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
if [ "$FUZZ_SECONDS" -gt 0 ]; then
  if [ -x "$FUZZ_BUILD/proptests/fuzz_sim" ]; then
    WORK="$BUILD/fuzz-corpus-work"
    mkdir -p "$WORK" "$BUILD/fuzz-artifacts"
    cp -n "$ROOT"/fixtures/fuzz-corpus/* "$WORK"/ 2>/dev/null || true
    stage libfuzzer "grep -E '^Done|#[0-9]+.*DONE' " -- \
      "$FUZZ_BUILD/proptests/fuzz_sim" -max_total_time="$FUZZ_SECONDS" -seed="$RC_SEED" -print_final_stats=1 \
      -artifact_prefix="$BUILD/fuzz-artifacts/" "$WORK"
  else
    REPORT+=("$(printf '  %-14s SKIP         no %s (cmake --preset fuzz && cmake --build --preset fuzz)' libfuzzer "$FUZZ_BUILD/proptests/fuzz_sim")")
  fi
fi

echo
echo "campaign report: seed $SEED, shard $SHARD, $CASES cases a property, $MODEL_CASES model cases, $SIM_SEEDS simulator seeds a strategy"
printf '%s\n' "${REPORT[@]}"
if [ "$FAILED" -ne 0 ]; then
  echo "campaign FAILED (new regression traces, if any: git status fixtures/regressions)"
  exit 1
fi
echo "campaign passed"
