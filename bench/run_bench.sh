#!/usr/bin/env bash
# Runs every benchmark suite, compares the run with the committed baseline,
# appends it to the history and writes the dashboard. `./run bench [--quick]`
# calls it after building; it can also be run directly:
#
#   bench/run_bench.sh BUILD_DIR [--quick] [--history FILE] [--baseline FILE]
#                      [--no-history] [--update-baseline]
#
#   --quick            small sizes, short times: well under a minute
#   --history FILE     history to append to (default BUILD_DIR/bench/history.jsonl,
#                      or $MS_BENCH_HISTORY)
#   --no-history       do not append this run
#   --baseline FILE    compare with FILE (default fixtures/bench-baseline.json)
#   --update-baseline  after a full run, copy it to fixtures/bench-baseline.json
#
# Writes under BUILD_DIR/bench/: <suite>.json (Google Benchmark JSON) and
# <suite>.txt (console), run.json (all suites), compare.txt / compare.json,
# dashboard.html. Environment: MS_BENCH_DIR (scratch dirs; default $TMPDIR or
# /tmp: must be a real disk for the figures to mean anything),
# MS_BENCH_TIME_THRESHOLD / MS_BENCH_RATIO_THRESHOLD (default 0.25 / 0.15).
#
# Exit status: 1 if a suite failed or a behaviour counter broke its
# invariant (footprint_ratio != 1, a digest fetched twice, ...); moving
# figures are flagged in the table but do not fail the run (the machine is
# shared and noisy).
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

[ $# -ge 1 ] || { usage >&2; exit 2; }
case "$1" in -h|--help) usage; exit 0 ;; esac
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$1" && pwd)
shift
PROFILE=full
HISTORY=${MS_BENCH_HISTORY:-$BUILD/bench/history.jsonl}
BASELINE=$SRC/fixtures/bench-baseline.json
UPDATE_BASELINE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) PROFILE=quick ;;
    --history) HISTORY=$2; shift ;;
    --no-history) HISTORY= ;;
    --baseline) BASELINE=$2; shift ;;
    --update-baseline) UPDATE_BASELINE=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run_bench.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

PY=$(command -v python3 || true)
[ -n "$PY" ] || { echo "run_bench.sh: python3 is needed for the comparison and the dashboard" >&2; exit 1; }
OUT=$BUILD/bench
STORE_SUITES=(materialize gc footprint pull)
# Build the suites if this build tree can (./run bench has built everything
# already; then this is a no-op).
if [ -f "$BUILD/build.ninja" ] || [ -f "$BUILD/Makefile" ]; then
  targets=()
  for s in "${STORE_SUITES[@]}"; do targets+=("${s}_bench"); done
  cmake --build "$BUILD" --target "${targets[@]}" -j "${MS_JOBS:-2}" >/dev/null
  cmake --build "$BUILD" --target scheduler_bench -j "${MS_JOBS:-2}" >/dev/null 2>&1 || true
fi

start=$(date +%s)
failed=()
jsons=()
run_suite() {  # name binary args...
  local name=$1 bin=$2; shift 2
  local json=$OUT/$name.json
  rm -f "$json"
  echo "==> $name ($PROFILE)"
  local t0; t0=$(date +%s)
  if "$bin" "$@" --benchmark_out="$json" --benchmark_out_format=json 2>&1 | tee "$OUT/$name.txt"; then
    jsons+=("$json")
  else
    failed+=("$name")
    [ -s "$json" ] && jsons+=("$json")
  fi
  echo "    $name: $(( $(date +%s) - t0 )) s"
}

for s in "${STORE_SUITES[@]}"; do
  bin=$OUT/${s}_bench
  if [ ! -x "$bin" ]; then
    echo "run_bench.sh: $bin is missing (build the ${s}_bench target)" >&2
    failed+=("$s")
    continue
  fi
  run_suite "$s" "$bin" --profile="$PROFILE"
done
if [ -x "$OUT/scheduler_bench" ]; then
  if [ "$PROFILE" = quick ]; then
    run_suite scheduler "$OUT/scheduler_bench" --profile="$PROFILE" --benchmark_min_time=0.05
  else
    run_suite scheduler "$OUT/scheduler_bench" --profile="$PROFILE"
  fi
else
  echo "==> scheduler: no scheduler_bench in $OUT, left out"
fi
[ ${#jsons[@]} -gt 0 ] || { echo "run_bench.sh: no suite produced JSON" >&2; exit 1; }

"$PY" "$SRC/bench/benchtool.py" merge "$OUT/run.json" "${jsons[@]}" --profile "$PROFILE"
echo
echo "==> comparison with $BASELINE"
compare_args=()
if [ -f "$BASELINE" ]; then
  # The whole table goes to compare.txt; the terminal gets the flagged rows.
  "$PY" "$SRC/bench/compare.py" "$BASELINE" "$OUT/run.json" --json "$OUT/compare.json" >"$OUT/compare.txt"
  "$PY" "$SRC/bench/compare.py" "$BASELINE" "$OUT/run.json" --only-flagged
  echo "(every compared figure: $OUT/compare.txt)"
  compare_args=(--baseline "$BASELINE")
else
  echo "no baseline at $BASELINE: nothing to compare with"
fi
if [ -n "$HISTORY" ]; then
  "$PY" "$SRC/bench/benchtool.py" history "$OUT/run.json" --history "$HISTORY"
fi
"$PY" "$SRC/bench/dashboard/make_dashboard.py" --run "$OUT/run.json" "${compare_args[@]}" \
  ${HISTORY:+--history "$HISTORY"} --out "$OUT/dashboard.html"
behaviour=0
"$PY" "$SRC/bench/benchtool.py" check "$OUT/run.json" || behaviour=1

if [ "$UPDATE_BASELINE" = 1 ]; then
  if [ "$PROFILE" = full ] && [ ${#failed[@]} -eq 0 ] && [ $behaviour = 0 ]; then
    cp "$OUT/run.json" "$SRC/fixtures/bench-baseline.json"
    echo "baseline updated: fixtures/bench-baseline.json (review and commit it)"
  else
    echo "run_bench.sh: --update-baseline needs a clean full run; baseline left alone" >&2
  fi
fi

echo
echo "bench: $PROFILE profile, $(( $(date +%s) - start )) s; JSON in $OUT/*.json; dashboard: $OUT/dashboard.html"
if [ ${#failed[@]} -gt 0 ]; then
  echo "bench: FAILED suites: ${failed[*]}" >&2
  exit 1
fi
exit $behaviour
