"""Tests of the bench tools (ctest bench_tools, label bench-smoke): name
normalization, the comparison's flags, behaviour checks, the history file,
merging, and the dashboard's plot shaping. Standard library only.

    cd bench && python3 -m unittest -v test_benchtools
"""

import contextlib
import copy
import io
import json
import os
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "dashboard"))
import benchlib  # noqa: E402
import benchtool  # noqa: E402
import compare  # noqa: E402
import make_dashboard  # noqa: E402


def bench(name, real_time, unit="ms", **counters):
    return {"name": name, "run_name": name, "run_type": "iteration", "repetitions": 1,
            "repetition_index": 0, "threads": 1, "iterations": 3, "real_time": real_time,
            "cpu_time": real_time, "time_unit": unit, **counters}


def gb_json(suite, benchmarks):
    return {"context": {"suite": suite, "profile": "full", "host_name": "test"},
            "benchmarks": benchmarks}


def sample_run():
    materialize = []
    for files, t in ((10, 0.3), (100, 1.2), (1000, 12.0), (10000, 117.0)):
        for durable in (0, 1):
            materialize.append(bench(f"materialize/store/files:{files}/durable:{durable}/iterations:6/manual_time",
                                     t * (1 + durable), store_vs_cp_al=0.9 + durable,
                                     store_vs_linkat=1.4 + durable, store_ms=t * (1 + durable),
                                     cp_al_ms=t * 1.1, linkat_ms=t * 0.7))
        materialize.append(bench(f"materialize/durability/files:{files}/iterations:6/manual_time", t * 2,
                                 durable_ms=t * 2, fast_ms=t, cp_al_sync_ms=t * 30, durable_vs_fast=2.0,
                                 durable_vs_cp_al_sync=0.07))
        materialize.append(bench(f"materialize/cp_al/files:{files}/min_time:0.300/manual_time", t * 1.1))
        materialize.append(bench(f"materialize/linkat/files:{files}/min_time:0.300/manual_time", t * 0.7))
    gc = [bench(f"gc/collect/files:{f}/iterations:3/manual_time", f / 80, gc_vs_rm_rf=1.1, rm_rf_ms=f / 90,
                gc_ms=f / 80) for f in (10, 100, 1000, 10000)]
    gc += [bench(f"gc/liveness/files:{f}/min_time:0.200/manual_time", 30.0, "us", smallest_us=30.0,
                 liveness_us=30.0, liveness_vs_smallest=1.0) for f in (10, 100, 1000, 10000)]
    gc += [bench(f"gc/liveness/refs:{r}/min_time:0.200/manual_time", 30.0 * r, "us", one_ref_us=30.0,
                 liveness_us=30.0 * r, liveness_vs_one_ref=float(r)) for r in (1, 10, 100)]
    footprint = []
    for n, k, t in ((10, 10, 8), (100, 10, 8), (1000, 10, 8), (1000, 1, 8), (1000, 100, 8),
                    (100, 1, 1), (100, 1, 8), (100, 1, 32)):
        footprint.append(bench(f"footprint/volumes:{n}/digests:{k}/pullers:{t}/iterations:1/manual_time",
                               n * 2.0, disk_bytes=35000.0 * k, unique_payload_bytes=35000.0 * k,
                               no_dedup_bytes=35000.0 * n, footprint_ratio=1.0,
                               manifest_fetches_per_digest=1.0, blob_fetches_per_blob=1.0))
    for pct in (0, 25, 50, 75, 90):
        shared = 20 * pct // 100  # of 20 units per model, 8 models
        unique = shared + 8 * (20 - shared)
        footprint.append(bench(f"footprint/sharing/models:8/shared_pct:{pct}/volumes_per_model:2/iterations:1/"
                               "manual_time", 90.0, disk_bytes=8192.0 * unique, unique_blob_bytes=8192.0 * unique,
                               manifest_level_bytes=8192.0 * 160, no_dedup_bytes=8192.0 * 320, footprint_ratio=1.0,
                               manifest_level_ratio=160 / unique, no_dedup_ratio=320 / unique,
                               blob_fetches_per_blob=1.0))
    for p in (1, 2, 4, 8):
        footprint.append(bench(f"footprint/blob_fetches/pullers:{p}/iterations:20/manual_time", 10.0 * p,
                               fetches_per_blob=1.0, blob_fetches_per_blob=1.0, footprint_ratio=1.0,
                               unique_layers=6.0 + 2 * p))
    pull = [bench("pull/files:4/kib_per_file:4096/durable:0/iterations:12/manual_time", 20.0,
                  pull_vs_write=2.1, payload_bytes=16777216.0, write_bytes_per_second=1.7e9),
            bench("pull/durability/files:4/kib_per_file:4096/iterations:12/manual_time", 60.0,
                  durable_ms=60.0, fast_ms=20.0, write_sync_ms=70.0, durable_vs_fast=3.0,
                  durable_vs_write_sync=0.86, payload_bytes=16777216.0),
            bench("pull/stream_blob/mib:16/iterations:10/manual_time", 30.0, stream_ms=30.0, floor_ms=27.0,
                  stream_vs_floor=1.11, largest_chunk_bytes=1048576.0, rss_growth_kib=1100.0),
            bench("pull/stream_blob/mib:64/iterations:10/manual_time", 120.0, stream_ms=120.0, floor_ms=105.0,
                  stream_vs_floor=1.14, largest_chunk_bytes=1048576.0, rss_growth_kib=1100.0)]
    scheduler = [bench("BareFiberSwitch", 14.0, "ns"),
                 bench("SchedulerDecision/random/actors:2/manual_time", 12.0, ns_per_decision=45.0,
                       cpu_ns_per_decision=44.6, bare_switch_cpu_ns=14.0, ratio_to_bare=3.2),
                 bench("SimulatorEndToEnd/manual_time", 58.0, cpu_ns_per_point=924.0,
                       cpu_points_per_second=1.08e6, decision_cpu_ns=49.4, ratio_to_decision=18.7),
                 bench("SimulatorCampaignJobs/manual_time", 300.0, points_per_second_jobs1=5.5e5,
                       points_per_second_jobs2=1.0e6, seeds_per_second_jobs1=190.0,
                       seeds_per_second_jobs2=350.0, speedup_jobs2=1.85, jobs2_vs_jobs1=0.54)]
    return {"format": benchlib.RUN_FORMAT, "created": "2026-01-01T00:00:00+00:00", "profile": "full",
            "git": {"commit": "abc", "dirty": False}, "host": {},
            "suites": {"materialize": gb_json("materialize", materialize), "gc": gb_json("gc", gc),
                       "footprint": gb_json("footprint", footprint), "pull": gb_json("pull", pull),
                       "scheduler": gb_json("scheduler", scheduler)}}


def set_field(run, suite, name_prefix, **fields):
    for b in run["suites"][suite]["benchmarks"]:
        if b["name"].startswith(name_prefix):
            b.update(fields)
            return
    raise KeyError(name_prefix)


def flags(rows, name, metric):
    return [r["flag"] for r in rows if r["name"] == name and r["metric"] == metric]


class NamesTest(unittest.TestCase):
    def test_profile_suffixes_are_stripped(self):
        self.assertEqual(benchlib.normalize_name("gc/collect/files:10/iterations:20/manual_time"),
                         "gc/collect/files:10")
        self.assertEqual(benchlib.normalize_name("materialize/cp_al/files:10/min_time:0.300/manual_time"),
                         "materialize/cp_al/files:10")

    def test_scheduler_names_get_the_suite_prefix(self):
        figs = benchlib.figures(sample_run())
        self.assertIn("scheduler/SchedulerDecision/random/actors:2", figs)

    def test_times_are_in_nanoseconds(self):
        figs = benchlib.figures(sample_run())
        self.assertAlmostEqual(figs["gc/liveness/files:10"]["real_time_ns"], 30_000.0)


class CompareTest(unittest.TestCase):
    def setUp(self):
        self.old = sample_run()
        self.new = copy.deepcopy(self.old)

    def rows(self):
        return benchlib.compare(benchlib.figures(self.old), benchlib.figures(self.new), 0.25, 0.15)

    def test_identical_runs_flag_nothing(self):
        self.assertEqual([r for r in self.rows() if r["flag"]], [])

    def test_a_slower_time_is_flagged(self):
        set_field(self.new, "gc", "gc/collect/files:1000/", real_time=1000 / 80 * 1.5)
        self.assertEqual(flags(self.rows(), "gc/collect/files:1000", "real_time"), ["SLOWER"])

    def test_a_faster_time_is_flagged(self):
        set_field(self.new, "gc", "gc/collect/files:1000/", real_time=1000 / 80 * 0.5)
        self.assertEqual(flags(self.rows(), "gc/collect/files:1000", "real_time"), ["faster"])

    def test_a_change_within_the_threshold_is_noise(self):
        set_field(self.new, "gc", "gc/collect/files:1000/", real_time=1000 / 80 * 1.2)
        self.assertEqual(flags(self.rows(), "gc/collect/files:1000", "real_time"), [""])

    def test_a_worse_ratio_is_flagged_with_its_own_threshold(self):
        set_field(self.new, "materialize", "materialize/store/files:10000/durable:0", store_vs_cp_al=0.9 * 1.2)
        self.assertEqual(flags(self.rows(), "materialize/store/files:10000/durable:0", "store_vs_cp_al"),
                         ["WORSE"])

    def test_a_broken_footprint_ratio_fails(self):
        set_field(self.new, "footprint", "footprint/volumes:100/digests:1/pullers:8", footprint_ratio=2.0)
        self.assertEqual(flags(self.rows(), "footprint/volumes:100/digests:1/pullers:8", "footprint_ratio"),
                         ["FAIL"])

    def test_new_and_gone_benchmarks(self):
        self.new["suites"]["gc"]["benchmarks"].pop(0)
        self.new["suites"]["gc"]["benchmarks"].append(bench("gc/collect/files:5/manual_time", 1.0))
        rows = self.rows()
        self.assertEqual(flags(rows, "gc/collect/files:10", "real_time"), ["gone"])
        self.assertEqual(flags(rows, "gc/collect/files:5", "real_time"), ["new"])

    def test_cli_fails_on_regression_only_when_asked(self):
        set_field(self.new, "gc", "gc/collect/files:1000/", real_time=1000 / 80 * 2)
        with tempfile.TemporaryDirectory() as tmp:
            old_path, new_path = os.path.join(tmp, "old.json"), os.path.join(tmp, "new.json")
            for path, run in ((old_path, self.old), (new_path, self.new)):
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(run, f)
            with contextlib.redirect_stdout(io.StringIO()) as out:
                self.assertEqual(compare.main([old_path, new_path]), 0)
                self.assertEqual(compare.main([old_path, new_path, "--fail-on", "regression"]), 1)
            self.assertIn("SLOWER", out.getvalue())


class BehaviourTest(unittest.TestCase):
    def test_a_sound_run_has_no_failures(self):
        self.assertEqual(benchlib.behaviour_failures(benchlib.figures(sample_run())), [])

    def only_failure(self, name_prefix, **fields):
        """The one behaviour failure of the sample run with fields set on a footprint benchmark."""
        run = sample_run()
        set_field(run, "footprint", name_prefix, **fields)
        failures = benchlib.behaviour_failures(benchlib.figures(run))
        self.assertEqual(len(failures), 1, failures)
        return failures[0]

    def test_a_second_fetch_is_a_failure(self):
        self.assertIn("manifest_fetches_per_digest",
                      self.only_failure("footprint/volumes:100/digests:1/pullers:32", manifest_fetches_per_digest=2.0))

    def test_a_layer_fetched_twice_is_a_failure(self):
        self.assertIn("fetches_per_blob = 1.05, must be 1",
                      self.only_failure("footprint/blob_fetches/pullers:8/", fetches_per_blob=1.05))

    def test_a_second_copy_of_a_shared_layer_is_a_failure(self):
        self.assertIn("shared_pct:90/volumes_per_model:2: footprint_ratio = 1.2",
                      self.only_failure("footprint/sharing/models:8/shared_pct:90/", footprint_ratio=1.2))

    def test_the_sharing_headlines_are_reported(self):
        labels = dict(benchlib.headlines(benchlib.figures(sample_run())))
        self.assertEqual(labels["footprint_ratio_shared_90"], 1.0)
        self.assertEqual(labels["fetches_per_blob_8_pullers"], 1.0)
        self.assertAlmostEqual(labels["manifest_level_ratio_shared_90"], 160 / 34)
        self.assertEqual(labels["stream_vs_floor_64mib"], 1.14)

    def test_a_benchmark_error_is_a_failure(self):
        run = sample_run()
        set_field(run, "gc", "gc/collect/files:10/", error_occurred=True, error_message="boom")
        self.assertIn("boom", benchlib.behaviour_failures(benchlib.figures(run))[0])


class HistoryAndMergeTest(unittest.TestCase):
    def test_history_appends_and_skips_bad_lines(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "sub", "history.jsonl")
            benchlib.append_history(path, sample_run())
            with open(path, "a", encoding="utf-8") as f:
                f.write("{not json\n")
            benchlib.append_history(path, sample_run())
            entries, skipped = benchlib.read_history(path)
            self.assertEqual((len(entries), skipped), (2, [2]))
            self.assertEqual(entries[0]["figures"]["gc/collect/files:10"]["gc_vs_rm_rf"], 1.1)

    def test_merge_keys_suites_by_their_context(self):
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for suite, data in sample_run()["suites"].items():
                paths.append(os.path.join(tmp, f"whatever-{suite}.json"))
                with open(paths[-1], "w", encoding="utf-8") as f:
                    json.dump(data, f)
            run = benchlib.merge_suites(paths, "quick", HERE)
            self.assertEqual(sorted(run["suites"]), ["footprint", "gc", "materialize", "pull", "scheduler"])
            self.assertEqual(run["profile"], "quick")
            single = benchlib.load_run(paths[0])
            self.assertEqual(len(single["suites"]), 1)


class MeasurementsTest(unittest.TestCase):
    def test_headlines_become_dart_measurements(self):
        run = sample_run()
        set_field(run, "materialize", "materialize/store/files:10000/durable:0", store_vs_cp_al=0.83)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "run.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(run, f)
            with contextlib.redirect_stdout(io.StringIO()) as out:
                self.assertEqual(benchtool.main(["measurements", path]), 0)
        self.assertIn('<DartMeasurement name="materialize_store_vs_cp_al_10000" '
                      'type="numeric/double">0.83</DartMeasurement>', out.getvalue())

    def test_a_missing_run_is_a_skip(self):
        with contextlib.redirect_stdout(io.StringIO()):
            self.assertEqual(benchtool.main(["measurements", "/nonexistent/run.json"]), 77)


def sample_compare():
    """A `modelstore-sim compare --json` report of two designs."""
    def cells(fail):
        names = ["I1 no-referenced-loss", "I2 dedup", "I3 footprint", "I4 progress", "I5 confinement",
                 "I6 determinism", "I7 results"]
        return [{"name": n, "verdict": "FAIL" if n in fail else "PASS", "failed_seeds": 3 if n in fail else 0,
                 "first_failing_seed": 2 if n in fail else None, "detail": "why\nmore", "trace": "t",
                 "shrunk": {"actors": 1, "operations": 2, "steps": 150, "runs": 30, "trace": "m"} if n in fail else None}
                for n in names]
    design = lambda name, fail, ratio: {  # noqa: E731
        "name": name, "title": name + " title", "proposal": "" if name == "core" else "owner/repo#37",
        "passed": not fail, "seeds_run": 10, "seeds_failed": 3 if fail else 0,
        "figures": {"footprint_ratio": ratio, "blob_level_ratio": ratio * 1.3, "fetches_per_unique_blob": 2.0,
                    "fetches_per_unique_manifest": 2.2, "operations_per_s": 9000.0},
        "totals": {"bytes_on_disk": 1000, "all_bytes_on_disk": 9000}, "invariants": cells(fail)}
    return {"schema": "modelstore-sim-compare", "schema_version": 1, "core_passed": True,
            "campaign": {"first_seed": 1, "seeds": 10, "swarm": True, "shrink_runs": 300},
            "statements": [{"name": "I2 dedup", "every_design": "one download", "core_only": "no entry"}],
            "designs": [design("core", [], 1.0), design("pr37", ["I1 no-referenced-loss", "I3 footprint"], 1.02)]}


class DashboardTest(unittest.TestCase):
    def test_every_plot_has_data_title_axes_and_legend(self):
        run = sample_run()
        history = [benchlib.history_entry(run), benchlib.history_entry(run)]
        data = make_dashboard.build_page(run, run, history, [], {"time_threshold": 0.25,
                                                                 "ratio_threshold": 0.15}, sample_compare())
        ids = [p["id"] for p in data["plots"]]
        self.assertEqual(ids, ["materialize-time", "materialize-ratio", "gc-collect", "gc-liveness-files",
                               "gc-liveness-refs", "footprint-n", "footprint-k", "dedup-fetches",
                               "footprint-sharing", "layer-fetches", "pull", "stream-blob", "durability-materialize", "durability-pull", "scheduler", "simulator", "jobs",
                               "trend", "designs-costs"])
        self.assertEqual(data["missing"], [])
        for p in data["plots"]:
            self.assertTrue(p["title"] and p["x"]["label"] and p["y"]["label"], p["id"])
            self.assertTrue(all(s["name"] for s in p["series"]), p["id"])
        footprint_n = next(p for p in data["plots"] if p["id"] == "footprint-n")
        self.assertIn("K = 10", footprint_n["title"])
        self.assertEqual([pt[0] for pt in footprint_n["series"][0]["points"]], [10, 100, 1000])
        footprint_k = next(p for p in data["plots"] if p["id"] == "footprint-k")
        self.assertEqual([pt[0] for pt in footprint_k["series"][0]["points"]], [1, 10, 100])
        dedup = next(p for p in data["plots"] if p["id"] == "dedup-fetches")
        self.assertEqual([pt[0] for pt in dedup["series"][0]["points"]], [1, 8, 32])
        sharing = next(p for p in data["plots"] if p["id"] == "footprint-sharing")
        self.assertEqual([s["name"] for s in sharing["series"]],
                         ["store on disk (footprint_ratio)", "one copy per manifest", "one copy per volume"])
        self.assertEqual([pt[0] for pt in sharing["series"][1]["points"]], [0, 25, 50, 75, 90])
        self.assertIn("8 models, 2 volumes each", sharing["title"])
        fetches = next(p for p in data["plots"] if p["id"] == "layer-fetches")
        self.assertEqual([pt[0] for pt in fetches["series"][0]["points"]], [1, 2, 4, 8])
        stream = next(p for p in data["plots"] if p["id"] == "stream-blob")
        self.assertEqual(stream["categories"], ["16 MiB", "64 MiB"])
        self.assertIn("stream / floor = 1.14", stream["annotations"][1])

    def test_a_run_without_scheduler_lists_it_missing(self):
        run = sample_run()
        del run["suites"]["scheduler"]
        data = make_dashboard.build_page(run, None, [], [], {"time_threshold": 0.25, "ratio_threshold": 0.15})
        self.assertEqual(data["missing"], ["scheduler", "simulator", "jobs", "trend", "designs-costs"])
        self.assertIsNone(data["designs"])

    def test_the_design_shootout_is_its_own_panel(self):
        data = make_dashboard.build_page(sample_run(), None, [], [],
                                         {"time_threshold": 0.25, "ratio_threshold": 0.15}, sample_compare())
        panel = data["designs"]
        self.assertEqual([r["name"] for r in panel["rows"]], ["core", "pr37"])
        pr37 = panel["rows"][1]
        self.assertFalse(pr37["passed"])
        self.assertEqual([c["verdict"] for c in pr37["cells"]][:3], ["FAIL", "PASS", "FAIL"])
        self.assertEqual((pr37["cells"][0]["first_seed"], pr37["cells"][0]["ops"], pr37["cells"][0]["steps"]),
                         (2, 2, 150))
        self.assertEqual(pr37["cells"][0]["detail"], "why")  # first line only
        costs = self.plot(data, "designs-costs")
        self.assertEqual(costs["categories"], ["core", "pr37"])
        self.assertEqual(costs["series"][0]["values"], [1.0, 1.02])

    def page_data(self, run=None):
        run = run or sample_run()
        return make_dashboard.build_page(run, None, [], [], {"time_threshold": 0.25, "ratio_threshold": 0.15})

    def plot(self, data, pid):
        return next(p for p in data["plots"] if p["id"] == pid)

    def test_pull_bars_are_times_that_read_like_their_ratio(self):
        # pull_vs_write is a time ratio (2.1: the pull takes longer), so the
        # pull's bar must be the taller one, in the plot's time unit.
        pull = self.plot(self.page_data(), "pull")
        self.assertIn("time", pull["y"]["label"])
        pull_ms, write_ms = pull["series"][0]["values"][0], pull["series"][1]["values"][0]
        self.assertAlmostEqual(pull_ms, 20.0)
        self.assertAlmostEqual(write_ms, 16777216.0 / 1.7e9 * 1e3)
        self.assertGreater(pull_ms, write_ms)
        self.assertIn("pull / write = 2.10", pull["annotations"][0])

    def test_scheduler_bars_are_different_measures(self):
        series = self.plot(self.page_data(), "scheduler")["series"]
        for i, a in enumerate(series):
            for b in series[i + 1:]:
                close = all(abs(x - y) <= 0.05 * max(x, y) for x, y in zip(a["values"], b["values"]))
                self.assertFalse(close, f"{a['name']} and {b['name']} draw the same bars")

    def test_simulator_end_to_end_has_its_own_plot(self):
        sim = self.plot(self.page_data(), "simulator")
        self.assertEqual([s["values"][0] for s in sim["series"]], [924.0, 49.4])
        self.assertIn("18.7x", sim["annotations"][0])

    def test_jobs_speedup_is_plotted_as_a_ratio(self):
        jobs = self.plot(self.page_data(), "jobs")
        self.assertEqual(jobs["categories"], ["--jobs 1", "--jobs 2"])
        self.assertIn("1.85x", jobs["annotations"][1])

    def test_a_debug_benchmark_library_is_explained_on_the_page(self):
        run = sample_run()
        for data in run["suites"].values():
            data["context"]["library_build_type"] = "debug"
        data = self.page_data(run)
        self.assertEqual(data["run"]["harness_build_types"], ["debug"])
        page = make_dashboard.render(data)
        self.assertIn("built as DEBUG", page)
        self.assertIn("built with optimisation", page)

    def test_the_page_is_self_contained(self):
        run = sample_run()
        page = make_dashboard.render(make_dashboard.build_page(
            run, run, [benchlib.history_entry(run)], [], {"time_threshold": 0.25, "ratio_threshold": 0.15}))
        self.assertNotIn("http://", page.replace("http://www.w3.org/2000/svg", ""))
        self.assertNotIn("https://", page)
        self.assertNotIn("{{", page)
        self.assertIn('id="bench-data"', page)


if __name__ == "__main__":
    unittest.main()
