#!/usr/bin/env python3
"""The modelstore-sim command line as a CI engineer meets it.

Each case is one ctest test (sim_cli.<case>); ctest lists them with --list.
A case runs the tool in a fresh scratch dir under --work (the build dir),
checks exit codes (0 every invariant held, 1 an invariant failed, 2 bad
usage, configuration, input or output) and that every error is one line
naming the flag or file.

usage: cli_test.py --sim BIN --work DIR --source DIR CASE
       cli_test.py --list
"""
import argparse
import json
import os
import pty
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

CASES = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


class Ctx:
    def __init__(self, sim, work, source):
        self.sim = sim
        self.work = work
        self.source = source

    def run(self, *args, env=None, cwd=None, timeout=120, stderr_tty=False):
        full_env = dict(os.environ)
        for k in ("MS_SHARD_INDEX", "MS_SHARD_COUNT", "JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID",
                  "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN"):
            full_env.pop(k, None)
        full_env.update(env or {})
        cmd = [self.sim] + [str(a) for a in args]
        if stderr_tty:
            return self._run_tty(cmd, full_env, cwd, timeout)
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, env=full_env, cwd=cwd or self.work,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{' '.join(cmd)}: still running after {timeout} s")
        return p

    def _run_tty(self, cmd, env, cwd, timeout):
        master, slave = pty.openpty()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, text=True, env=env, cwd=cwd or self.work)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        out = p.stdout.read()
        p.wait(timeout=timeout)
        os.close(master)
        p.stdout.close()
        return subprocess.CompletedProcess(cmd, p.returncode, out, b"".join(chunks).decode(errors="replace"))

    def path(self, *parts):
        return os.path.join(self.work, *parts)


def expect_usage_error(p, *names):
    """Exit 2, exactly one line on stderr naming each of names, no report."""
    assert p.returncode == 2, f"exit {p.returncode}, want 2\nstdout: {p.stdout[-2000:]}\nstderr: {p.stderr[-2000:]}"
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, f"want one error line, got {len(lines)}: {p.stderr[-2000:]!r}"
    assert lines[0].startswith("error: "), lines[0]
    for name in names:
        assert name in lines[0], f"the error does not name {name!r}: {lines[0]}"
    assert "modelstore-sim report" not in p.stdout, "a report was printed for a refused run"
    return lines[0]


def failing_campaign(ctx, *extra, seeds=40):
    """A campaign of the deliberately broken store: some seeds fail."""
    return ctx.run("run", "--seeds", seeds, "--break-entry-lock", "--no-progress", "--fail-dir", ctx.path("fails"),
                   *extra)


# --- issue 10: numbers, ranges, zero work ------------------------------------------------------

@case
def negative_seeds_is_refused(ctx):
    expect_usage_error(ctx.run("run", "--seeds", "-5", timeout=20), "--seeds")


@case
def seeds_beyond_64_bits_is_refused(ctx):
    expect_usage_error(ctx.run("run", "--seeds", "99999999999999999999", timeout=20), "--seeds")


@case
def negative_seed_is_refused(ctx):
    expect_usage_error(ctx.run("run", "--seed", "-1", timeout=20), "--seed")


@case
def seed_range_past_the_last_seed_is_refused(ctx):
    expect_usage_error(ctx.run("run", "--first-seed", "18446744073709551615", "--seeds", "3", timeout=20), "--seeds")


@case
def nan_fault_rate_is_refused(ctx):
    expect_usage_error(ctx.run("run", "--seeds", "1", "--faults", "nan", timeout=20), "--faults")


@case
def negative_crashes_max_is_refused(ctx):
    expect_usage_error(ctx.run("run", "--seeds", "1", "--crashes-max", "-1", timeout=20), "--crashes-max")


@case
def corrupt_at_sweep_takes_only_0_or_1(ctx):
    expect_usage_error(ctx.run("run", "--seeds", "1", "--corrupt-at-sweep", "2", timeout=20), "--corrupt-at-sweep")


@case
def zero_seeds_is_an_error(ctx):
    expect_usage_error(ctx.run("run", "--seeds", "0", timeout=20), "--seeds")


@case
def an_empty_shard_is_an_error(ctx):
    expect_usage_error(ctx.run("run", "--seeds", "2", "--shard", "3/4", timeout=20), "--shard")


@case
def a_bad_shard_is_refused(ctx):
    expect_usage_error(ctx.run("run", "--seeds", "2", "--shard", "4/4", timeout=20), "--shard")


@case
def max_steps_zero_is_a_usage_error(ctx):
    expect_usage_error(ctx.run("run", "--seeds", "1", "--max-steps", "0", "--fail-dir", ctx.path("f"), timeout=20),
                       "--max-steps")


@case
def strategy_replay_is_a_usage_error(ctx):
    expect_usage_error(ctx.run("run", "--seeds", "1", "--strategy", "replay", "--fail-dir", ctx.path("f"), timeout=20),
                       "--strategy")


@case
def bad_time_budget_is_refused(ctx):
    expect_usage_error(ctx.run("run", "--time-budget", "10x", timeout=20), "--time-budget")


@case
def parser_errors_exit_2_in_one_line(ctx):
    expect_usage_error(ctx.run("run", "--bogus", timeout=20), "--bogus")
    expect_usage_error(ctx.run("run", "--seeds", timeout=20), "--seeds")
    expect_usage_error(ctx.run(timeout=20))
    expect_usage_error(ctx.run("run", "--actors", "0", timeout=20), "--actors")


# --- issue 10: outputs --------------------------------------------------------------------------

@case
def unwritable_fail_dir_is_refused_before_any_work(ctx):
    p = ctx.run("run", "--seeds", "3", "--break-entry-lock", "--fail-dir", "/proc/x", timeout=60)
    expect_usage_error(p, "--fail-dir", "/proc/x")
    assert "replay:" not in p.stdout, p.stdout


@case
def unwritable_json_is_refused(ctx):
    expect_usage_error(ctx.run("run", "--seeds", "1", "--json", "/proc/x/out.json", timeout=60), "--json", "/proc/x/out.json")


@case
def json_to_a_directory_is_refused(ctx):
    os.makedirs(ctx.path("somedir"))
    expect_usage_error(ctx.run("run", "--seeds", "1", "--json", ctx.path("somedir") + "/", timeout=60), "--json")
    expect_usage_error(ctx.run("run", "--seeds", "1", "--json", ctx.path("somedir"), timeout=60), "--json")


@case
def unwritable_trace_is_refused(ctx):
    expect_usage_error(ctx.run("run", "--seed", "1", "--trace", "/proc/x/s.trace", timeout=60), "--trace", "/proc/x/s.trace")


@case
def trace_in_a_campaign_is_refused(ctx):
    expect_usage_error(ctx.run("run", "--seeds", "3", "--trace", ctx.path("s.trace"), timeout=60), "--trace")


@case
def default_fail_dir_is_beside_the_build_not_the_working_dir(ctx):
    cwd = ctx.path("elsewhere")
    os.makedirs(cwd)
    p = ctx.run("run", "--seeds", "40", "--break-entry-lock", "--max-failures", "1", "--no-progress", cwd=cwd)
    assert p.returncode == 1, p.stdout + p.stderr
    assert not os.path.exists(os.path.join(cwd, "build")), "traces went below the working directory"
    m = re.search(r"replay:\s+\S+ replay (\S+)", p.stdout)
    assert m, p.stdout
    trace = m.group(1) if os.path.isabs(m.group(1)) else os.path.join(cwd, m.group(1))
    want = os.path.join(os.path.dirname(os.path.dirname(os.path.realpath(ctx.sim))), "sim-failures")
    assert os.path.realpath(os.path.dirname(trace)) == os.path.realpath(want), (trace, want)
    assert os.path.isfile(trace)
    os.remove(trace)


@case
def a_stale_trace_of_a_passing_seed_is_removed(ctx):
    fails = ctx.path("fails")
    os.makedirs(fails)
    stale = os.path.join(fails, "seed-2.trace")
    with open(stale, "w") as f:
        f.write("an old failure\n")
    p = ctx.run("run", "--seeds", "3", "--no-progress", "--fail-dir", fails)
    assert p.returncode == 0, p.stdout + p.stderr
    assert not os.path.exists(stale), "the stale trace of a seed that now passes is still there"


# --- issue 10: failures, re-run lines, config and replay -----------------------------------------

@case
def rerun_line_rebuilds_the_failing_run_exactly(ctx):
    p = failing_campaign(ctx, "--crashes-max", "0", "--max-steps", "150000", "--max-failures", "1")
    assert p.returncode == 1, p.stdout + p.stderr
    rerun = re.search(r"re-run:\s+\S+ run (.*)", p.stdout).group(1)
    assert "--crashes-max 0" in rerun and "--max-steps 150000" in rerun, rerun
    original = re.search(r"replay:\s+\S+ replay (\S+)", p.stdout).group(1)
    again = ctx.path("again.trace")
    q = ctx.run("run", *rerun.split(), "--trace", again, "--quiet")
    assert q.returncode == 1, q.stdout + q.stderr
    with open(os.path.join(ctx.work, original) if not os.path.isabs(original) else original) as a, open(again) as b:
        assert a.read() == b.read(), "the re-run line does not rebuild the same run"


@case
def failure_lines_suggest_the_shrink_command(ctx):
    p = failing_campaign(ctx, "--max-failures", "1")
    assert p.returncode == 1
    assert re.search(r"shrink:\s+\S+ shrink \S+seed-\d+\.trace", p.stdout), p.stdout


@case
def every_failing_seed_is_listed(ctx):
    p = failing_campaign(ctx, "--json", ctx.path("r.json"), seeds=24)
    assert p.returncode == 1, p.stdout + p.stderr
    report = json.load(open(ctx.path("r.json")))
    failing = [f["seed"] for f in report["failures"]]
    assert len(failing) > 5, f"want more than 5 failing seeds for this test, got {failing}"
    assert len(re.findall(r"^FAIL seed", p.stdout, re.M)) == 5
    assert re.search(rf"\.\.\. and {len(failing) - 5} more failing seed", p.stdout), p.stdout[-3000:]
    listed = re.search(r"failing seeds\s+(.*)", p.stdout).group(1).split()
    assert [int(s) for s in listed] == failing, (listed, failing)
    assert report["totals"]["seeds_failed"] == len(failing)


@case
def undetailed_failures_do_not_scroll_the_progress_bar(ctx):
    p = ctx.run("run", "--seeds", "24", "--break-entry-lock", "--fail-dir", ctx.path("fails"), stderr_tty=True)
    assert p.returncode == 1, p.stdout
    failing = re.search(r"failing seeds\s+(.*)", p.stdout).group(1).split()
    assert len(failing) > 5, failing
    newlines = p.stderr.count("\n")
    assert newlines <= 5 + 1, f"{newlines} newlines on the terminal for {len(failing)} failures: {p.stderr[-500:]!r}"


@case
def config_takes_a_trace_file(ctx):
    p = ctx.run("run", "--seed", "3", "--trace", ctx.path("s.trace"), "--quiet")
    assert p.returncode == 0, p.stdout + p.stderr
    q = ctx.run("run", "--config", ctx.path("s.trace"), "--seed", "3", "--trace", ctx.path("t.trace"), "--quiet")
    assert q.returncode == 0, q.stdout + q.stderr
    assert open(ctx.path("s.trace")).read() == open(ctx.path("t.trace")).read()


@case
def config_empty_file_or_directory_is_refused(ctx):
    open(ctx.path("empty.conf"), "w").close()
    expect_usage_error(ctx.run("run", "--seeds", "1", "--config", ctx.path("empty.conf")), "--config", "empty.conf")
    expect_usage_error(ctx.run("run", "--seeds", "1", "--config", ctx.work), "--config", ctx.work)
    expect_usage_error(ctx.run("run", "--seeds", "1", "--config", ctx.path("missing.conf")), "--config", "missing.conf")


@case
def config_out_of_range_is_refused(ctx):
    with open(ctx.path("bad.conf"), "w") as f:
        f.write("max_steps=0\n")
    expect_usage_error(ctx.run("run", "--seeds", "1", "--config", ctx.path("bad.conf")), "--config", "max-steps")


@case
def edited_trace_header_is_refused_not_called_nondeterminism(ctx):
    p = ctx.run("run", "--seed", "3", "--trace", ctx.path("s.trace"), "--quiet")
    assert p.returncode == 0
    text = open(ctx.path("s.trace")).read()
    for name, edited in (("seed", text.replace("\nseed=3\n", "\nseed=4\n", 1)),
                         ("actors", text.replace("\nactors=4\n", "\nactors=3\n", 1))):
        assert edited != text
        path = ctx.path(f"edited-{name}.trace")
        with open(path, "w") as f:
            f.write(edited)
        line = expect_usage_error(ctx.run("replay", path), path)
        assert "I6" not in line and "header" in line, line


@case
def replay_of_dev_zero_is_refused_at_once(ctx):
    expect_usage_error(ctx.run("replay", "/dev/zero", timeout=20), "/dev/zero")


@case
def replay_of_a_directory_is_refused(ctx):
    expect_usage_error(ctx.run("replay", ctx.work, timeout=20), ctx.work)


@case
def trace_hash_error_names_the_file_line(ctx):
    p = ctx.run("run", "--seed", "3", "--trace", ctx.path("s.trace"), "--quiet")
    assert p.returncode == 0
    lines = open(ctx.path("s.trace")).read().split("\n")
    hash_line = next(i for i, l in enumerate(lines) if l.startswith("hash "))
    lines[hash_line] = "hash 0000000000000000"
    with open(ctx.path("bad.trace"), "w") as f:
        f.write("\n".join(lines))
    line = expect_usage_error(ctx.run("replay", ctx.path("bad.trace")), "bad.trace")
    assert f"line {hash_line + 1}:" in line, f"want file line {hash_line + 1}: {line}"


@case
def help_lists_the_verbs_flags_and_exit_codes(ctx):
    p = ctx.run("--help")
    assert p.returncode == 0
    for word in ("run", "replay", "merge", "shrink", "Exit status"):
        assert word in p.stdout, word
    p = ctx.run("run", "--help")
    assert p.returncode == 0
    for flag in ("--json", "--junit", "--time-budget", "--max-failures", "--jobs", "--crashes-max", "--max-steps"):
        assert flag in p.stdout, flag


# --- issue 10: JSON, JUnit, merge, budgets, shrink ----------------------------------------------

def invariant_names(ctx):
    text = open(os.path.join(ctx.source, "sim", "invariant_checker.h")).read() if os.path.exists(
        os.path.join(ctx.source, "sim", "invariant_checker.h")) else None
    if text is None:
        for root, _, files in os.walk(os.path.join(ctx.source, "sim")):
            if "invariant_checker.h" in files:
                text = open(os.path.join(root, "invariant_checker.h")).read()
    body = re.search(r"kInvariantNames\[\]\s*=\s*\{(.*?)\};", text, re.S).group(1)
    return re.findall(r'"([^"]+)"', body)


@case
def json_report_carries_config_build_verdicts_and_failures(ctx):
    p = failing_campaign(ctx, "--json", ctx.path("r.json"), "--seeds", "20")
    assert p.returncode == 1, p.stdout + p.stderr
    r = json.load(open(ctx.path("r.json")))
    assert r["schema"] == "modelstore-sim-report" and r["schema_version"] == 1
    assert r["passed"] is False
    assert r["config"]["break_entry_lock"] == "1" and r["config"]["strategy"] == "random"
    assert r["campaign"]["first_seed"] == 1 and r["campaign"]["seeds"] == 20 and r["campaign"]["shard_count"] == 1
    assert r["shards"][0]["build"]["git"] and r["shards"][0]["build"]["compiler"]
    assert [i["name"] for i in r["invariants"]] == invariant_names(ctx)
    assert any(i["verdict"] == "FAIL" and i["failed_seeds"] > 0 for i in r["invariants"])
    assert r["totals"]["seeds_run"] == 20 and r["totals"]["seeds_failed"] == len(r["failures"]) > 0
    for f in r["failures"]:
        assert f["invariant"] in invariant_names(ctx) and f["step"] > 0, f
        assert os.path.isfile(f["trace"] if os.path.isabs(f["trace"]) else os.path.join(ctx.work, f["trace"])), f
    for k in ("steps_per_seed", "fetches_per_unique_digest", "footprint_ratio", "blob_level_ratio"):
        assert k in r["figures"], k
    for k in ("seeds_per_s", "steps_per_s", "wall_s", "jobs"):
        assert k in r["timing"], k


@case
def junit_report_has_a_case_per_invariant_and_failing_seed(ctx):
    p = failing_campaign(ctx, "--junit", ctx.path("r.xml"), "--json", ctx.path("r.json"), "--seeds", "20")
    assert p.returncode == 1
    r = json.load(open(ctx.path("r.json")))
    root = ET.parse(ctx.path("r.xml")).getroot()
    cases = root.findall(".//testcase")
    names = invariant_names(ctx)
    assert [c.get("name") for c in cases[:len(names)]] == names
    assert [c.get("name") for c in cases[len(names):]] == [f"seed {f['seed']}" for f in r["failures"]]
    failed = sum(1 for c in cases if c.find("failure") is not None)
    assert int(root.get("failures")) == failed > len(r["failures"])
    assert cases[names.index("I6 determinism")].find("skipped") is not None


def shard_reports(ctx, count, *extra, seeds=30):
    paths = []
    for i in range(count):
        path = ctx.path(f"shard-{i}.json")
        p = ctx.run("run", "--seeds", seeds, "--shard", f"{i}/{count}", "--no-progress", "--fail-dir",
                    ctx.path("fails"), "--json", path, *extra)
        assert p.returncode in (0, 1), p.stdout + p.stderr
        paths.append(path)
    return paths


def comparable(report):
    r = dict(report)
    for k in ("timing", "shards", "campaign"):
        r.pop(k)
    return r


@case
def merge_of_all_shards_equals_the_whole_campaign(ctx):
    paths = shard_reports(ctx, 3, "--break-entry-lock", seeds=18)
    p = ctx.run("merge", *paths, "--json", ctx.path("merged.json"), "--junit", ctx.path("merged.xml"))
    assert p.returncode == 1, p.stdout + p.stderr
    q = ctx.run("run", "--seeds", 18, "--no-progress", "--fail-dir", ctx.path("fails"), "--json",
                ctx.path("whole.json"), "--break-entry-lock")
    merged = json.load(open(ctx.path("merged.json")))
    whole = json.load(open(ctx.path("whole.json")))
    assert comparable(merged) == comparable(whole)
    assert [s["index"] for s in merged["shards"]] == [0, 1, 2] and merged["shards_missing"] == []
    strip = lambda out: [l for l in out.splitlines() if not re.match(r"\s*(speed|seeds)\s", l)]
    assert strip(p.stdout) == strip(q.stdout[q.stdout.index("modelstore-sim report") - 1:])
    ET.parse(ctx.path("merged.xml"))


@case
def merge_refuses_different_configurations(ctx):
    a = shard_reports(ctx, 2, seeds=6)
    b = ctx.path("other.json")
    p = ctx.run("run", "--seeds", 6, "--shard", "1/2", "--faults", "0", "--fail-dir", ctx.path("fails"), "--json", b)
    assert p.returncode == 0
    expect_usage_error(ctx.run("merge", a[0], b), b, "configuration")


@case
def merge_refuses_shards_with_and_without_swarm(ctx):
    a = shard_reports(ctx, 2, seeds=6)
    b = ctx.path("no-swarm.json")
    p = ctx.run("run", "--seeds", 6, "--shard", "1/2", "--swarm", "0", "--fail-dir", ctx.path("fails"), "--json", b)
    assert p.returncode == 0, p.stdout + p.stderr
    assert json.load(open(a[0]))["campaign"]["swarm"] is True and json.load(open(b))["campaign"]["swarm"] is False
    expect_usage_error(ctx.run("merge", a[0], b), b, "--swarm")


@case
def merge_refuses_overlapping_shards(ctx):
    a = shard_reports(ctx, 2, seeds=6)
    shutil.copy(a[0], ctx.path("copy.json"))
    expect_usage_error(ctx.run("merge", a[0], a[1], ctx.path("copy.json")), "copy.json", "overlapping")


@case
def merge_names_missing_shards(ctx):
    a = shard_reports(ctx, 3, seeds=9)
    p = ctx.run("merge", a[0], a[2], "--json", ctx.path("m.json"))
    line = expect_usage_error_after_report(p)
    assert "shard(s) 1 of 3" in line, line
    assert "missing" in p.stdout and json.load(open(ctx.path("m.json")))["shards_missing"] == [1]


def expect_usage_error_after_report(p):
    assert p.returncode == 2, p.stdout + p.stderr
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), p.stderr
    return lines[0]


@case
def merge_refuses_what_is_not_a_report(ctx):
    with open(ctx.path("x.json"), "w") as f:
        f.write('{"seeds": 3}')
    expect_usage_error(ctx.run("merge", ctx.path("x.json")), "x.json")
    expect_usage_error(ctx.run("merge", ctx.path("nothing.json")), "nothing.json")


@case
def time_budget_runs_until_spent_and_says_how_many(ctx):
    p = ctx.run("run", "--time-budget", "0.5s", "--no-progress", "--fail-dir", ctx.path("f"), "--json", ctx.path("r.json"),
                "--jobs", "1")
    assert p.returncode == 0, p.stdout + p.stderr
    r = json.load(open(ctx.path("r.json")))
    shard = r["shards"][0]
    assert shard["stopped_by"] == "time-budget" and shard["seeds_run"] == r["totals"]["seeds_run"] > 0, shard
    assert "time budget" in p.stdout


@case
def max_failures_stops_after_k_failing_seeds(ctx):
    p = failing_campaign(ctx, "--max-failures", "2", "--json", ctx.path("r.json"), seeds=40)
    assert p.returncode == 1
    r = json.load(open(ctx.path("r.json")))
    assert len(r["failures"]) == 2 and r["shards"][0]["stopped_by"] == "max-failures"
    assert r["totals"]["seeds_run"] == r["failures"][-1]["seed"], "seeds after the K-th failure were counted"


@case
def shrink_minimises_a_failing_run_to_a_replayable_trace(ctx):
    p = failing_campaign(ctx, "--max-failures", "1", "--json", ctx.path("r.json"))
    assert p.returncode == 1
    failure = json.load(open(ctx.path("r.json")))["failures"][0]
    trace = failure["trace"]
    out = ctx.path("min.trace")
    s = ctx.run("shrink", trace, "--out", out, timeout=300)
    assert s.returncode == 0, s.stdout + s.stderr
    ops = re.search(r"operations\s+(\d+) -> (\d+)", s.stdout)
    assert ops and int(ops.group(2)) < int(ops.group(1)), s.stdout
    r = ctx.run("replay", out)
    assert r.returncode == 1, r.stdout + r.stderr
    assert failure["invariant"] in r.stdout, (failure["invariant"], r.stdout)


@case
def shrink_refuses_a_passing_trace(ctx):
    p = ctx.run("run", "--seed", "3", "--trace", ctx.path("s.trace"), "--quiet")
    assert p.returncode == 0
    expect_usage_error(ctx.run("shrink", ctx.path("s.trace"), "--out", ctx.path("o.trace")), "s.trace")
    assert not os.path.exists(ctx.path("o.trace"))


# --- issue 14: jobs and shards from the environment -------------------------------------------

@case
def jobs_give_the_same_report_and_traces_as_one_job(ctx):
    reports = {}
    for jobs in (1, 2, 3):
        fails = ctx.path(f"fails-{jobs}")
        p = ctx.run("run", "--seeds", 24, "--break-entry-lock", "--check-determinism", "--no-progress", "--jobs", jobs,
                    "--fail-dir", fails, "--json", ctx.path(f"r{jobs}.json"))
        assert p.returncode == 1, p.stdout + p.stderr
        r = json.load(open(ctx.path(f"r{jobs}.json")))
        for f in r["failures"]:
            f["trace_text"] = open(f["trace"]).read()
            f["trace"] = os.path.basename(f["trace"])
            f["rerun"] = re.sub(r"--config \S+", "--config X", f["rerun"])
        out = [l for l in p.stdout.splitlines() if not re.match(r"\s*speed\s", l)]
        reports[jobs] = (comparable(r), [l.replace(f"fails-{jobs}", "fails") for l in out])
    assert reports[1] == reports[2] == reports[3]


@case
def jobs_with_max_failures_match_one_job(ctx):
    seen = []
    for jobs in (1, 2):
        p = ctx.run("run", "--seeds", 40, "--break-entry-lock", "--max-failures", 3, "--no-progress", "--jobs", jobs,
                    "--fail-dir", ctx.path("fails"), "--json", ctx.path(f"r{jobs}.json"))
        assert p.returncode == 1
        seen.append(comparable(json.load(open(ctx.path(f"r{jobs}.json")))))
    assert seen[0] == seen[1]


@case
def shard_auto_reads_the_batch_systems_index(ctx):
    for env, want in (({"JOB_COMPLETION_INDEX": "2", "MS_SHARD_COUNT": "3"}, (2, 3)),
                      ({"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "4", "SLURM_ARRAY_TASK_COUNT": "2"}, (1, 2)),
                      ({"MS_SHARD_INDEX": "1", "MS_SHARD_COUNT": "4"}, (1, 4))):
        p = ctx.run("run", "--seeds", 8, "--shard", "auto", "--fail-dir", ctx.path("f"), "--json", ctx.path("r.json"),
                    env=env)
        assert p.returncode == 0, (env, p.stdout + p.stderr)
        r = json.load(open(ctx.path("r.json")))
        assert (r["shards"][0]["index"], r["campaign"]["shard_count"]) == want, (env, r["shards"], r["campaign"])
    expect_usage_error(ctx.run("run", "--seeds", 8, "--shard", "auto"), "--shard")
    expect_usage_error(ctx.run("run", "--seeds", 8, "--shard", "auto", env={"JOB_COMPLETION_INDEX": "3",
                                                                             "MS_SHARD_COUNT": "3"}), "--shard")


# --- issue 13: designs and the shoot-out ----------------------------------------------------------

@case
def an_unknown_design_is_refused(ctx):
    expect_usage_error(ctx.run("run", "--seeds", "1", "--design", "pr99", timeout=20), "--design", "pr99")


@case
def the_default_design_writes_no_key_and_another_is_recorded(ctx):
    core = ctx.path("core.trace")
    p = ctx.run("run", "--seed", "3", "--trace", core, "--quiet")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "design=" not in open(core).read(), "the default design must not change old trace headers"
    # pr37 (the seed store) fails seed 1 of the default campaign.
    p = ctx.run("run", "--seed", "1", "--design", "pr37", "--fail-dir", ctx.path("fails"), "--quiet")
    assert p.returncode == 1, p.stdout + p.stderr
    trace = re.search(r"replay:\s+\S+ replay (\S+)", p.stdout).group(1)
    trace = trace if os.path.isabs(trace) else os.path.join(ctx.work, trace)
    assert "design=pr37\n" in open(trace).read()
    assert "--design pr37" in re.search(r"re-run:\s+\S+ run (.*)", p.stdout).group(1)
    q = ctx.run("replay", trace)
    assert q.returncode == 1 and "verdict: FAIL" in q.stdout, q.stdout + q.stderr


@case
def compare_refuses_an_unknown_design_and_a_malformed_expect_file(ctx):
    expect_usage_error(ctx.run("compare", "--designs", "core,pr99", timeout=20), "--designs", "pr99")
    expect_usage_error(ctx.run("compare", "--designs", "core,core", timeout=20), "--designs")
    bad = ctx.path("expect.txt")
    with open(bad, "w") as f:
        f.write("core I1 PASS\ncore I2 maybe\n")
    expect_usage_error(ctx.run("compare", "--expect", bad, timeout=20), "--expect", "expect.txt:2")
    expect_usage_error(ctx.run("compare", "--seeds", "0", timeout=20), "--seeds")


@case
def compare_prints_the_matrix_and_writes_its_json(ctx):
    out = ctx.path("c.json")
    p = ctx.run("compare", "--seeds", "6", "--designs", "core,pr37", "--shrink-runs", "40", "--no-progress",
                "--fail-dir", ctx.path("fails"), "--json", out)
    assert p.returncode == 0, "our core passes every column: " + p.stdout + p.stderr
    assert re.search(r"^\s+core\s+PASS", p.stdout, re.M), p.stdout
    assert re.search(r"^\s+pr37\s+FAIL s\d+ \d+/\d+", p.stdout, re.M), p.stdout
    report = json.load(open(out))
    assert report["schema"] == "modelstore-sim-compare" and report["schema_version"] == 1
    assert report["core_passed"] is True
    assert [d["name"] for d in report["designs"]] == ["core", "pr37"]
    pr37 = report["designs"][1]
    assert len(pr37["invariants"]) == 8
    i1 = pr37["invariants"][0]
    # The seed moves with the workload; the cell names the first failing one.
    assert i1["verdict"] == "FAIL" and 1 <= i1["first_failing_seed"] <= 6, i1
    assert re.search(r"^\s+pr37\s+FAIL s%d " % i1["first_failing_seed"], p.stdout, re.M), p.stdout
    shrunk = i1["shrunk"]
    assert shrunk and shrunk["operations"] >= 1 and os.path.exists(shrunk["trace"]), shrunk
    q = ctx.run("replay", shrunk["trace"])
    assert q.returncode == 1 and "I1 no-referenced-loss violated" in q.stdout, q.stdout + q.stderr
    for k in ("footprint_ratio", "blob_level_ratio", "fetches_per_unique_blob", "operations_per_s"):
        assert k in pr37["figures"], k
    assert [s["name"] for s in report["statements"]][0] == "I1 no-referenced-loss"


@case
def compare_checks_pinned_verdicts(ctx):
    pinned = ctx.path("pinned.txt")
    with open(pinned, "w") as f:
        f.write("# a pin that hides pr37's tenant weakness\n")
        for design in ("core", "pr37"):
            for inv in ("I1", "I2", "I3", "I4", "I5", "I7", "I8"):
                f.write(f"{design} {inv} PASS\n")
            f.write(f"{design} I6 not-checked\n")
    p = ctx.run("compare", "--seeds", "2", "--designs", "core,pr37", "--shrink-runs", "0", "--no-progress",
                "--fail-dir", ctx.path("fails"), "--expect", pinned)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "verdicts differ" in p.stdout and "pr37 I1 no-referenced-loss: FAIL, pinned PASS" in p.stdout, p.stdout
    # Pin what these seeds show (which of pr37's other weaknesses show in
    # two seeds depends on the workload's models): then the verdicts match.
    with open(pinned) as f:
        text = f.read()
    for design, inv, verdict in re.findall(r"^  (\w+) (I\d) [^:]*: (\S+), pinned \S+", p.stdout, re.M):
        text = text.replace(f"{design} {inv} PASS", f"{design} {inv} {verdict}")
    with open(pinned, "w") as f:
        f.write(text)
    q = ctx.run("compare", "--seeds", "2", "--designs", "core,pr37", "--shrink-runs", "0", "--no-progress",
                "--fail-dir", ctx.path("fails"), "--expect", pinned)
    assert q.returncode == 0 and "verdicts as pinned" in q.stdout, q.stdout + q.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--sim")
    ap.add_argument("--work")
    ap.add_argument("--source")
    ap.add_argument("case", nargs="?")
    args = ap.parse_args()
    if args.list:
        print("\n".join(CASES))
        return 0
    work = os.path.join(os.path.abspath(args.work), args.case)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    ctx = Ctx(os.path.abspath(args.sim), work, os.path.abspath(args.source))
    try:
        CASES[args.case](ctx)
    except AssertionError as e:
        print(f"FAIL {args.case}: {e}")
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print(f"PASS {args.case}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
