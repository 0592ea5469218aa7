#!/usr/bin/env python3
"""Compares a bench run with a baseline, the way Google Benchmark's
tools/compare.py does, and flags each figure that moved beyond a noise
threshold.

    bench/compare.py fixtures/bench-baseline.json build/bench/run.json

Each benchmark's real time is compared with the time threshold; its ratio
counters (subject time / baseline time measured in the same iterations, e.g.
store_vs_cp_al) with the ratio threshold, which can be tighter because the
noise of a shared machine hits both sides of a ratio alike; its behaviour
counters (footprint_ratio, manifest_fetches_per_digest, ...) must not change
at all. Either file may be a run file or a bare Google Benchmark JSON file.

Exit status: 0, unless --fail-on says otherwise (regression: any SLOWER,
WORSE or FAIL flag; behaviour: any FAIL flag), then 1; 2 for bad input.
"""

import argparse
import json
import os
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("baseline", help="baseline run (fixtures/bench-baseline.json)")
    parser.add_argument("run", help="new run (build/bench/run.json)")
    parser.add_argument("--time-threshold", type=float,
                        default=float(os.environ.get("MS_BENCH_TIME_THRESHOLD", "0.25")),
                        help="relative change of real time that is flagged (default 0.25)")
    parser.add_argument("--ratio-threshold", type=float,
                        default=float(os.environ.get("MS_BENCH_RATIO_THRESHOLD", "0.15")),
                        help="relative change of a ratio counter that is flagged (default 0.15)")
    parser.add_argument("--json", metavar="OUT", help="also write the rows as JSON here")
    parser.add_argument("--only-flagged", action="store_true", help="print flagged rows only")
    parser.add_argument("--fail-on", choices=("none", "regression", "behaviour"), default="none")
    args = parser.parse_args(argv)

    try:
        old = benchlib.figures(benchlib.load_run(args.baseline))
        new = benchlib.figures(benchlib.load_run(args.run))
    except (OSError, ValueError) as e:
        print(f"compare: {e}", file=sys.stderr)
        return 2
    rows = benchlib.compare(old, new, args.time_threshold, args.ratio_threshold)
    print(benchlib.format_table(rows, only_flagged=args.only_flagged))
    counts = {}
    for r in rows:
        if r["flag"]:
            counts[r["flag"]] = counts.get(r["flag"], 0) + 1
    both = len(set(old) & set(new))
    summary = ", ".join(f"{n} {flag}" for flag, n in sorted(counts.items())) or "nothing flagged"
    print(f"\n{both} benchmarks in both runs; thresholds: time {args.time_threshold:.0%}, "
          f"ratio {args.ratio_threshold:.0%}; {summary}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"baseline": args.baseline, "run": args.run,
                       "time_threshold": args.time_threshold,
                       "ratio_threshold": args.ratio_threshold, "rows": rows}, f, indent=1)
    if args.fail_on == "regression" and any(counts.get(k) for k in ("SLOWER", "WORSE", "FAIL")):
        return 1
    if args.fail_on == "behaviour" and counts.get("FAIL"):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
