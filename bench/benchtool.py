#!/usr/bin/env python3
"""The bench's small tools, one subcommand each (standard library only).

  merge OUT SUITE.json...      one run file from the suites' Google Benchmark
                               JSON (--profile names the size profile)
  history RUN [--history F]    append the run to a history (JSON lines)
  check RUN                    behaviour counters hold (footprint_ratio == 1,
                               one fetch per digest, nothing left after
                               delete) and no benchmark failed; exit 1 if not
  smoke BINARY OUT --expect N  run a suite binary at its smoke profile and
                               check its JSON: valid, every expected
                               benchmark present with its counters, ratio
                               counters finite and positive, behaviour
                               counters hold. Never looks at a time.
  measurements RUN [--all]     print the headline ratios (--all: every ratio
                               and behaviour counter) as CTest
                               <DartMeasurement> lines, for CDash; exit 77
                               (skip) if RUN does not exist
"""

import argparse
import html
import json
import math
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

SRC_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cmd_merge(args):
    run = benchlib.merge_suites(args.suites, args.profile, SRC_DIR)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(run, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"merged {len(run['suites'])} suites ({', '.join(sorted(run['suites']))}) into {args.out}")
    return 0


def cmd_history(args):
    run = benchlib.load_run(args.run)
    benchlib.append_history(args.history, run)
    entries, skipped = benchlib.read_history(args.history)
    note = f" ({len(skipped)} unreadable lines skipped)" if skipped else ""
    print(f"history {args.history}: {len(entries)} runs{note}")
    return 0


def cmd_check(args):
    figs = benchlib.figures(benchlib.load_run(args.run))
    bad = benchlib.behaviour_failures(figs)
    for line in bad:
        print(f"BEHAVIOUR: {line}")
    checked = sum(1 for f in figs.values() if any(k in f["counters"] for k in benchlib.EXACT_COUNTERS))
    if not bad:
        print(f"behaviour: {checked} benchmarks with behaviour counters, all hold")
    return 1 if bad else 0


def parse_expectation(text):
    """NAME or NAME@counter,counter."""
    name, _, counters = text.partition("@")
    return name, [c for c in counters.split(",") if c]


def cmd_smoke(args):
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    if os.path.exists(args.out):
        os.remove(args.out)
    cmd = [args.binary, "--profile=smoke", f"--benchmark_out={args.out}",
           "--benchmark_out_format=json", *args.extra]
    print("+ " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, check=False, timeout=args.timeout)
    failures = []
    if proc.returncode != 0:
        failures.append(f"{args.binary} exited {proc.returncode}")
    try:
        data = benchlib.load_json(args.out)
    except (OSError, ValueError) as e:
        print(f"SMOKE FAIL: no valid JSON at {args.out}: {e}")
        return 1
    if not isinstance(data.get("benchmarks"), list) or not data["benchmarks"]:
        failures.append("the JSON has no benchmarks")
    figs = benchlib.figures(benchlib.load_run(args.out))
    for text in args.expect:
        name, counters = parse_expectation(text)
        fig = figs.get(name)
        if fig is None:
            failures.append(f"benchmark {name} missing (have: {', '.join(sorted(figs))})")
            continue
        if not (fig["real_time_ns"] > 0 and math.isfinite(fig["real_time_ns"])):
            failures.append(f"{name}: real_time {fig['real_time_ns']} is not a positive time")
        for counter in counters:
            value = fig["counters"].get(counter)
            if value is None:
                failures.append(f"{name}: counter {counter} missing")
            elif benchlib.is_ratio_counter(counter) and not (math.isfinite(value) and value > 0):
                failures.append(f"{name}: ratio {counter} = {value} is not finite and positive")
    failures += benchlib.behaviour_failures(figs)
    # CTest passes these lines to CDash as the test's measurements.
    for text in args.expect:
        name, counters = parse_expectation(text)
        for counter in counters:
            value = figs.get(name, {}).get("counters", {}).get(counter)
            if value is not None and (benchlib.is_ratio_counter(counter) or counter in benchlib.EXACT_COUNTERS):
                print(dart_measurement(f"{name} {counter}", value))
    for line in failures:
        print(f"SMOKE FAIL: {line}")
    if failures:
        return 1
    print(f"smoke ok: {len(figs)} benchmarks, {len(args.expect)} expected ones with their counters")
    return 0


def dart_measurement(name, value):
    """One CTest measurement line; CDash shows it with the test."""
    return f'<DartMeasurement name="{html.escape(name)}" type="numeric/double">{value:.6g}</DartMeasurement>'


def cmd_measurements(args):
    if not os.path.exists(args.run):
        print(f"SKIP: no bench run at {args.run} (run `./run bench` first)")
        return 77
    figs = benchlib.figures(benchlib.load_run(args.run))
    shown = 0
    for label, value in benchlib.headlines(figs):
        print(dart_measurement(label, value))
        shown += 1
    if args.all:
        for name, fig in sorted(figs.items()):
            for counter, value in sorted(fig["counters"].items()):
                if benchlib.is_ratio_counter(counter) or counter in benchlib.EXACT_COUNTERS:
                    print(dart_measurement(f"{name} {counter}", value))
                    shown += 1
    print(f"{shown} figures from {args.run}")
    bad = benchlib.behaviour_failures(figs)
    for line in bad:
        print(f"BEHAVIOUR: {line}")
    return 1 if bad else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("merge", help="merge suite JSON files into one run file")
    p.add_argument("out")
    p.add_argument("suites", nargs="+")
    p.add_argument("--profile", default="full")
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("history", help="append a run to the history")
    p.add_argument("run")
    p.add_argument("--history", required=True)
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("check", help="behaviour counters hold")
    p.add_argument("run")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("smoke", help="run a suite at smoke size and check its JSON")
    p.add_argument("binary")
    p.add_argument("out")
    p.add_argument("--expect", action="append", default=[],
                   help="NAME or NAME@counter,counter (normalized benchmark name)")
    p.add_argument("--timeout", type=float, default=240)
    p.add_argument("extra", nargs="*", help="more arguments for the binary (after --)")
    p.set_defaults(func=cmd_smoke)

    p = sub.add_parser("measurements", help="headline ratios as <DartMeasurement> lines")
    p.add_argument("run")
    p.add_argument("--all", action="store_true", help="every ratio and behaviour counter too")
    p.set_defaults(func=cmd_measurements)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
