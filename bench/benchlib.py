"""Shared code of the bench tools: reading Google Benchmark JSON, merging the
suites of one run, flattening a run into figures, comparing two runs, and the
history file. Standard library only (python3 on Debian 12).

A *run* file (what `bench/run_bench.sh` writes as build/bench/run.json and
what fixtures/bench-baseline.json holds) is

    {"format": "modelstore-bench-run/1", "created": ISO-8601 UTC,
     "profile": "full" | "quick" | "smoke", "git": {"commit", "dirty"},
     "host": {...}, "suites": {"materialize": <Google Benchmark JSON>, ...}}

A *figure* is one benchmark's numbers under its normalized name (the name
without the /iterations:N, /min_time:T, /manual_time suffixes that depend on
the profile): real time in nanoseconds and the user counters.
"""

import datetime
import json
import os
import re
import subprocess

RUN_FORMAT = "modelstore-bench-run/1"
HISTORY_FORMAT = "modelstore-bench-history/1"

# Suffixes Google Benchmark adds to a name from the registration options.
_NAME_SUFFIXES = re.compile(
    r"/(iterations:\d+|min_time:[0-9.]+|manual_time|real_time|repeats:\d+|process_time)(?=/|$)")

# Fields of a Google Benchmark run that are not user counters.
_STANDARD_FIELDS = {
    "name", "family_index", "per_family_instance_index", "run_name", "run_type",
    "repetitions", "repetition_index", "threads", "iterations", "real_time", "cpu_time",
    "time_unit", "label", "error_occurred", "error_message", "aggregate_name",
    "aggregate_unit", "big_o", "rms",
}

_NS_PER_UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# Counters that state a behaviour, with the value they must have. A change
# of these is never noise.
EXACT_COUNTERS = {
    "footprint_ratio": 1.0,
    "manifest_fetches_per_digest": 1.0,
    "blob_fetches_per_blob": 1.0,
    "fetches_per_blob": 1.0,
    "entries_after_delete": 0.0,
    "warnings": 0.0,
}


# The footprint-against-sharing benchmark at a shared percentage.
SHARING = "footprint/sharing/models:8/shared_pct:%d/volumes_per_model:2"

# The headline figures: (label, benchmark, counter). The dashboard shows them
# on top, CI reports them to CDash as measurements.
HEADLINES = [
    ("materialize_store_vs_cp_al_10000", "materialize/store/files:10000/durable:0", "store_vs_cp_al"),
    ("materialize_store_vs_linkat_10000", "materialize/store/files:10000/durable:0", "store_vs_linkat"),
    ("materialize_durable_vs_cp_al_10000", "materialize/store/files:10000/durable:1", "store_vs_cp_al"),
    ("gc_vs_rm_rf_10000", "gc/collect/files:10000", "gc_vs_rm_rf"),
    ("liveness_vs_smallest_10000", "gc/liveness/files:10000", "liveness_vs_smallest"),
    ("footprint_ratio_1000x10", "footprint/volumes:1000/digests:10/pullers:8", "footprint_ratio"),
    ("fetches_per_digest_1000x10", "footprint/volumes:1000/digests:10/pullers:8",
     "manifest_fetches_per_digest"),
    ("fetches_per_digest_100x1_32", "footprint/volumes:100/digests:1/pullers:32",
     "manifest_fetches_per_digest"),
    ("pull_vs_write_large", "pull/files:4/kib_per_file:4096/durable:0", "pull_vs_write"),
    # Issue #12: one copy per layer. Store bytes on disk over the unique
    # blob bytes (must be 1), and what one copy per manifest and one copy
    # per volume would keep, over the same; 8 models, 2 volumes each.
    ("footprint_ratio_shared_90", SHARING % 90, "footprint_ratio"),
    *[(f"manifest_level_ratio_shared_{pct}", SHARING % pct, "manifest_level_ratio") for pct in (25, 50, 75, 90)],
    ("no_dedup_ratio_shared_90", SHARING % 90, "no_dedup_ratio"),
    # One fetch per layer however many pullers share it (must be 1).
    ("fetches_per_blob_8_pullers", "footprint/blob_fetches/pullers:8", "fetches_per_blob"),
    # A large blob streamed to disk against write() + SHA-256 of the same bytes.
    ("stream_vs_floor_64mib", "pull/stream_blob/mib:64", "stream_vs_floor"),
    # The cost of durability, against durable off and the fair floor (the
    # same tree made durable by hand: cp -al or write, then sync -f).
    ("materialize_durable_vs_fast_10000", "materialize/durability/files:10000", "durable_vs_fast"),
    ("materialize_durable_vs_cp_al_sync_10000", "materialize/durability/files:10000", "durable_vs_cp_al_sync"),
    ("pull_durable_vs_fast_large", "pull/durability/files:4/kib_per_file:4096", "durable_vs_fast"),
    ("pull_durable_vs_write_sync_large", "pull/durability/files:4/kib_per_file:4096", "durable_vs_write_sync"),
    # Issue #3: >= 1,000,000 scheduling points per CPU second end to end.
    ("sim_points_per_cpu_second", "scheduler/SimulatorEndToEnd", "cpu_points_per_second"),
    ("sim_point_vs_decision", "scheduler/SimulatorEndToEnd", "ratio_to_decision"),
    # Issue #14: the default campaign's time with --jobs 2 over --jobs 1 (<= 0.55 on two cores).
    ("sim_campaign_jobs2_vs_jobs1", "scheduler/SimulatorCampaignJobs", "jobs2_vs_jobs1"),
]


def headlines(figs):
    """[(label, value)] of the HEADLINES the figures have."""
    out = []
    for label, name, counter in HEADLINES:
        value = figs.get(name, {}).get("counters", {}).get(counter)
        if value is not None:
            out.append((label, value))
    return out


def is_ratio_counter(name):
    """Time ratios measured in the same iterations (subject / baseline):
    lower is better, and they are what to watch on a noisy machine."""
    return name not in EXACT_COUNTERS and ("_vs_" in name or "ratio" in name)


def normalize_name(name):
    return _NAME_SUFFIXES.sub("", name)


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def suite_of(gb_json, fallback):
    ctx = gb_json.get("context", {})
    return ctx.get("suite") or fallback


def git_info(src_dir):
    def git(*args):
        try:
            out = subprocess.run(["git", "-C", src_dir, *args], capture_output=True, text=True,
                                 timeout=20, check=False)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None
    commit = git("rev-parse", "--short=12", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit or "unknown", "dirty": bool(status)}


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def merge_suites(paths, profile, src_dir):
    """One run from the suites' Google Benchmark JSON files."""
    suites = {}
    host = {}
    for path in paths:
        data = load_json(path)
        if "benchmarks" not in data:
            raise ValueError(f"{path}: not Google Benchmark JSON (no 'benchmarks')")
        fallback = os.path.basename(path).rsplit(".", 1)[0]
        suites[suite_of(data, fallback)] = data
        ctx = data.get("context", {})
        host = host or {k: ctx.get(k) for k in ("host_name", "num_cpus", "mhz_per_cpu",
                                                 "load_avg", "scratch_fs") if k in ctx}
    return {"format": RUN_FORMAT, "created": now_utc(), "profile": profile,
            "git": git_info(src_dir), "host": host, "suites": suites}


def load_run(path):
    """A run file, or a bare Google Benchmark JSON file taken as a one-suite run."""
    data = load_json(path)
    if data.get("format") == RUN_FORMAT:
        return data
    if "benchmarks" in data:
        suite = suite_of(data, os.path.basename(path).rsplit(".", 1)[0])
        return {"format": RUN_FORMAT, "created": data.get("context", {}).get("date", ""),
                "profile": data.get("context", {}).get("profile", "?"), "git": {},
                "host": {}, "suites": {suite: data}}
    raise ValueError(f"{path}: neither a bench run file nor Google Benchmark JSON")


def figures(run):
    """{normalized name: {"suite", "real_time_ns", "time_unit", "counters": {..},
    "error": str|None}} for every benchmark of the run. With repetitions, the
    median aggregate stands for the benchmark."""
    out = {}
    for suite, data in run.get("suites", {}).items():
        medians = {}
        plain = {}
        for b in data.get("benchmarks", []):
            name = normalize_name(b.get("run_name") or b["name"])
            if suite == "scheduler" and not name.startswith("scheduler/"):
                name = "scheduler/" + name
            if b.get("run_type") == "aggregate":
                if b.get("aggregate_name") == "median":
                    medians[name] = b
                continue
            plain.setdefault(name, b)  # first repetition if no aggregate
        for name, b in {**plain, **medians}.items():
            unit = b.get("time_unit", "ns")
            counters = {k: v for k, v in b.items()
                        if k not in _STANDARD_FIELDS and isinstance(v, (int, float))}
            error = b.get("error_message") if b.get("error_occurred") else None
            out[name] = {
                "suite": suite,
                "real_time_ns": float(b.get("real_time", 0.0)) * _NS_PER_UNIT.get(unit, 1.0),
                "time_unit": unit,
                "counters": counters,
                "error": error,
            }
    return out


def behaviour_failures(figs):
    """Figures whose behaviour counters break their invariant, or that failed."""
    bad = []
    for name, fig in sorted(figs.items()):
        if fig["error"]:
            bad.append(f"{name}: error: {fig['error']}")
        for counter, want in EXACT_COUNTERS.items():
            got = fig["counters"].get(counter)
            if got is not None and got != want:
                bad.append(f"{name}: {counter} = {got:g}, must be {want:g}")
    return bad


def relative_change(old, new):
    """(new - old) / |old|; None when old is 0 and new is not (no finite
    relative change; JSON has no infinity)."""
    if old == 0:
        return 0.0 if new == 0 else None
    return (new - old) / abs(old)


def _moved(change, threshold, up, down, unknown):
    """The flag of a relative change against a threshold."""
    if change is None:
        return unknown
    if change > threshold:
        return up
    if change < -threshold:
        return down
    return ""


def compare(old_figs, new_figs, time_threshold, ratio_threshold):
    """Rows of {name, metric, old, new, unit, change, flag}. flag is '' when
    the figure stayed within its noise threshold; SLOWER / faster for times,
    WORSE / better for ratios (lower is better), CHANGED / FAIL for behaviour
    counters, new / gone for figures only one side has."""
    rows = []
    for name in sorted(set(old_figs) | set(new_figs)):
        old = old_figs.get(name)
        new = new_figs.get(name)
        if old is None or new is None:
            fig = new or old
            rows.append({"name": name, "metric": "real_time", "old": None if old is None else
                         old["real_time_ns"], "new": None if new is None else new["real_time_ns"],
                         "unit": "ns", "change": None, "flag": "new" if old is None else "gone",
                         "display_unit": fig["time_unit"]})
            continue
        change = relative_change(old["real_time_ns"], new["real_time_ns"])
        flag = "FAIL" if new["error"] else _moved(change, time_threshold, "SLOWER", "faster", "")
        rows.append({"name": name, "metric": "real_time", "old": old["real_time_ns"],
                     "new": new["real_time_ns"], "unit": "ns", "change": change, "flag": flag,
                     "display_unit": new["time_unit"]})
        for counter in sorted(set(old["counters"]) | set(new["counters"])):
            exact = counter in EXACT_COUNTERS
            if not exact and not is_ratio_counter(counter):
                continue
            o = old["counters"].get(counter)
            n = new["counters"].get(counter)
            if o is None or n is None:
                rows.append({"name": name, "metric": counter, "old": o, "new": n, "unit": "",
                             "change": None, "flag": "new" if o is None else "gone"})
                continue
            change = relative_change(o, n)
            if exact:
                flag = "FAIL" if n != EXACT_COUNTERS[counter] else ("CHANGED" if n != o else "")
            else:
                flag = _moved(change, ratio_threshold, "WORSE", "better", "CHANGED")
            rows.append({"name": name, "metric": counter, "old": o, "new": n, "unit": "",
                         "change": change, "flag": flag})
    return rows


def format_value(value, unit, display_unit=None):
    if value is None:
        return "-"
    if unit == "ns":
        u = display_unit or "ns"
        return f"{value / _NS_PER_UNIT.get(u, 1.0):.4g} {u}"
    return f"{value:.4g}"


def format_table(rows, only_flagged=False):
    """The rows as a text table; only_flagged keeps the figures that moved
    (figures only one side has are counted in the summary, not listed)."""
    shown = [r for r in rows if not only_flagged or (r["flag"] and r["flag"] not in ("new", "gone"))]
    header = ("Benchmark", "Metric", "Old", "New", "Change", "Flag")
    lines = []
    for r in shown:
        change = "-" if r["change"] is None else f"{r['change'] * 100:+.1f}%"
        lines.append((r["name"], r["metric"],
                      format_value(r["old"], r["unit"], r.get("display_unit")),
                      format_value(r["new"], r["unit"], r.get("display_unit")), change, r["flag"]))
    widths = [max([len(header[i])] + [len(line[i]) for line in lines]) for i in range(6)]
    def fmt(cols):
        return "  ".join([cols[0].ljust(widths[0]), cols[1].ljust(widths[1])] +
                         [cols[i].rjust(widths[i]) for i in (2, 3, 4)] + [cols[5]]).rstrip()
    out = [fmt(header), fmt(tuple("-" * w for w in widths))]
    out += [fmt(line) for line in lines]
    return "\n".join(out)


def history_entry(run):
    """One compact line of the history: when, what, and every figure's real
    time and ratio / behaviour counters."""
    figs = {}
    for name, fig in figures(run).items():
        kept = {k: v for k, v in fig["counters"].items()
                if k in EXACT_COUNTERS or is_ratio_counter(k)}
        figs[name] = {"real_time_ns": fig["real_time_ns"], **kept}
    return {"format": HISTORY_FORMAT, "created": run.get("created", ""),
            "profile": run.get("profile", "?"), "git": run.get("git", {}), "figures": figs}


def append_history(path, run):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(history_entry(run), sort_keys=True, separators=(",", ":")) + "\n")


def read_history(path):
    """The history's entries, oldest first; a missing file is an empty
    history, an unreadable line is skipped (with its line number reported)."""
    entries, skipped = [], []
    if not path or not os.path.exists(path):
        return entries, skipped
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                skipped.append(number)
                continue
            if entry.get("format") == HISTORY_FORMAT and isinstance(entry.get("figures"), dict):
                entries.append(entry)
            else:
                skipped.append(number)
    return entries, skipped
