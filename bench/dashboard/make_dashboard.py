#!/usr/bin/env python3
"""Writes the bench dashboard: ONE self-contained HTML page (no network, no
CDN) whose plots are inline SVG drawn by the page's own small script
(plots.js, inlined).

    make_dashboard.py --run build/bench/run.json \\
        [--baseline fixtures/bench-baseline.json] [--history build/bench/history.jsonl] \\
        [--compare build/bench/designs.json] --out build/bench/dashboard.html

The shaping of the data into plots happens here; the script only draws
generic line and bar charts from the specs. Every plot has a title, axes
with units and a legend. A plot whose data the run lacks (e.g. the scheduler
suite was not built) is left out and listed as missing.
"""

import argparse
import html
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(HERE))
import benchlib  # noqa: E402


def match_all(figs, pattern):
    """[(match, figure)] for names matching pattern, in name order."""
    rx = re.compile(pattern + "$")
    out = []
    for name in sorted(figs):
        m = rx.match(name)
        if m:
            out.append((m, figs[name]))
    return out


def points(pairs):
    return sorted([p for p in pairs if p[1] is not None and p[1] > 0], key=lambda p: p[0])


def line_plot(pid, title, caption, x_label, y_label, series, x_log=True, y_log=True, refline=None):
    series = [s for s in series if s["points"]]
    if not series:
        return None
    spec = {"id": pid, "kind": "line", "title": title, "caption": caption,
            "x": {"label": x_label, "log": x_log}, "y": {"label": y_label, "log": y_log},
            "series": series}
    if refline is not None:
        spec["refline"] = refline
    return spec


def materialize_plots(figs):
    store = match_all(figs, r"materialize/store/files:(\d+)/durable:([01])")
    # Medians from the paired iterations: the store with each durability
    # setting, and both baselines as measured alongside the durable-off store.
    series = []
    for durable, label in (("0", "store (durable off)"), ("1", "store (durable, production)")):
        series.append({"name": label, "points": points(
            [(int(m[1]), f["counters"].get("store_ms")) for m, f in store if m[2] == durable])})
    for counter, label in (("cp_al_ms", "cp -al (fork/exec)"), ("linkat_ms", "bare linkat loop (floor)")):
        series.append({"name": label, "points": points(
            [(int(m[1]), f["counters"].get(counter)) for m, f in store if m[2] == "0"])})
    time_plot = line_plot(
        "materialize-time", "Materialize: link a cached model into a volume",
        "Time to give one volume a hardlinked copy of a cached tree of N files (1 KiB each, "
        "100 per directory) on the real disk: ModelStore::Materialize against cp -al of the same "
        "tree and against a bare mkdir+linkat loop. Medians of iterations that run all of them.",
        "files in the tree", "time per volume (ms)", series)
    ratio_series = []
    for durable, label in (("0", "durable off"), ("1", "durable")):
        for counter, vs in (("store_vs_cp_al", "store / cp -al"), ("store_vs_linkat", "store / linkat")):
            ratio_series.append({"name": f"{vs} ({label})", "points": points(
                [(int(m[1]), f["counters"].get(counter)) for m, f in store if m[2] == durable])})
    ratio_plot = line_plot(
        "materialize-ratio", "Materialize relative to cp -al and the linkat floor",
        "Ratios of times measured in the same iterations (the baselines run interleaved with the "
        "store), so machine noise cancels. Below 1: the store is faster. Target: store / cp -al "
        "<= 1 at 10,000 files.",
        "files in the tree", "time ratio (x)", ratio_series, y_log=True, refline=1.0)
    return [time_plot, ratio_plot]


def paired_series(rows, subject, subject_counter, baseline, baseline_counter):
    """A subject and its baseline from the same iterations (both medians,
    from the paired counters), against the first name group."""
    return [{"name": label, "points": points(
                [(int(m[1]), f["counters"].get(counter)) for m, f in rows])}
            for label, counter in ((subject, subject_counter), (baseline, baseline_counter))]


def gc_plots(figs):
    collect = match_all(figs, r"gc/collect/files:(\d+)")
    gc_plot = line_plot(
        "gc-collect", "GC of an unreferenced entry against rm -rf",
        "ModelStore::MaybeGc of an entry whose last volume is gone, against rm -rf (fork/exec) of "
        "a tree of the same shape; both freshly written, timed in the same iterations.",
        "files in the entry", "time (ms)",
        paired_series(collect, "MaybeGc (collect)", "gc_ms", "rm -rf", "rm_rf_ms"))
    live = match_all(figs, r"gc/liveness/files:(\d+)")
    live_plot = line_plot(
        "gc-liveness-files", "Liveness check of a referenced entry against its size",
        "MaybeGc of an entry a volume still references (it must stay). Liveness is read from "
        "refs/, not from the payload, so the time must stay flat as the file count grows.",
        "files in the entry", "time per check (us)",
        paired_series(live, "live entry of N files", "liveness_us", "10-file entry (same iterations)",
                      "smallest_us"),
        y_log=False)
    refs = match_all(figs, r"gc/liveness/refs:(\d+)")
    refs_plot = line_plot(
        "gc-liveness-refs", "Liveness check against the number of referring volumes",
        "The same check on an entry referenced by R volumes: every ref is read and confirmed, so "
        "the cost grows with R (and deleting R volumes one by one costs O(R^2)).",
        "refs (volumes referencing the entry)", "time per check (us)",
        paired_series(refs, "live entry with R refs", "liveness_us", "1-ref entry (same iterations)",
                      "one_ref_us"))
    return [gc_plot, live_plot, refs_plot]


def footprint_series(rows, x_index):
    def pts(counter):
        return points([(int(m[x_index]), f["counters"].get(counter)) for m, f in rows])
    return [{"name": "bytes on disk (each inode once)", "points": pts("disk_bytes")},
            {"name": "unique payload bytes", "points": pts("unique_payload_bytes")},
            {"name": "without dedup (one copy per volume)", "points": pts("no_dedup_bytes")}]


def best_group(rows, fixed, varying):
    """The value of group `fixed` under which group `varying` takes the most
    distinct values (ties: the larger fixed value): the series to plot."""
    spread = {}
    for m, _ in rows:
        spread.setdefault(m[fixed], set()).add(m[varying])
    if not spread:
        return None
    return max(spread, key=lambda k: (len(spread[k]), int(k)))


def series_rows(rows, fixed, varying, other):
    """Rows with group `fixed` at its best value and group `other` at the
    value most of them share."""
    value = best_group(rows, fixed, varying)
    chosen = [(m, f) for m, f in rows if m[fixed] == value]
    counts = {}
    for m, _ in chosen:
        counts[m[other]] = counts.get(m[other], 0) + 1
    if counts:
        common = max(counts, key=lambda k: (counts[k], int(k)))
        chosen = [(m, f) for m, f in chosen if m[other] == common]
    return value, chosen


def footprint_plots(figs):
    # Groups: 1 volumes (N), 2 digests (K), 3 pullers (T).
    rows = match_all(figs, r"footprint/volumes:(\d+)/digests:(\d+)/pullers:(\d+)")
    plots = []
    k_fixed, by_n = series_rows(rows, 2, 1, 3)
    plots.append(line_plot(
        "footprint-n", f"Disk footprint against volumes (K = {k_fixed} digests)",
        "N volumes pulled through the VolumeManager from the fake registry onto the real disk "
        "by concurrent threads, volume i getting model i mod K. On disk: regular files counted "
        "once per inode, bookkeeping (status.json, refs/) left out. footprint_ratio = on disk / "
        "unique payload must be exactly 1.",
        "volumes (N)", "bytes", footprint_series(by_n, 1)))
    n_fixed, by_k = series_rows(rows, 1, 2, 3)
    plots.append(line_plot(
        "footprint-k", f"Disk footprint against unique digests (N = {n_fixed} volumes)",
        "The same measure with N fixed and K varied: the store's bytes follow the unique digests, "
        "not the volumes.", "unique digests (K)", "bytes", footprint_series(by_k, 2)))
    single = [(m, f) for m, f in rows if m[2] == "1"]
    n_one, one = series_rows(single, 1, 3, 2)
    plots.append(line_plot(
        "dedup-fetches", f"Fetches per digest against concurrent pullers (N = {n_one}, K = 1)",
        "Manifest and blob fetches counted by the fake registry per unique digest while T threads "
        "pull volumes of one model at once, and the footprint ratio of each run: all must be "
        "exactly 1 (I2 dedup, I3 footprint).",
        "concurrent pullers (T)", "fetches per digest / ratio",
        [{"name": "manifest fetches per digest (max)", "points": points(
            [(int(m[3]), f["counters"].get("manifest_fetches_per_digest")) for m, f in one])},
         {"name": "blob fetches per blob (max)", "points": points(
             [(int(m[3]), f["counters"].get("blob_fetches_per_blob")) for m, f in one])},
         {"name": "footprint_ratio", "points": points(
             [(int(m[3]), f["counters"].get("footprint_ratio")) for m, f in one])}],
        y_log=False, refline=1.0))
    return plots


def sharing_plots(figs):
    """Issue 12: one copy per layer. Footprint against the share of bytes
    models have in common, and layer fetches against concurrent pullers."""
    rows = match_all(figs, r"footprint/sharing/models:(\d+)/shared_pct:(\d+)/volumes_per_model:(\d+)")
    models = rows[0][0][1] if rows else "?"
    volumes = rows[0][0][3] if rows else "?"
    sharing = line_plot(
        "footprint-sharing", f"Disk footprint against shared bytes ({models} models, {volumes} volumes each)",
        "Models sharing S % of their payload (the same layers: a base's shards in each fine-tune), each "
        "pulled into its volumes through the VolumeManager onto the real disk. Against the unique blob "
        "bytes (each distinct layer once, what a store with one copy per layer keeps): the store's "
        "bytes on disk (each inode once; footprint_ratio, must be exactly 1), one copy per manifest "
        "digest (manifest_level_ratio) and one copy per volume (no_dedup_ratio).",
        "bytes shared between models (%)", "bytes / unique blob bytes (x)",
        [{"name": label, "points": points([(int(m[2]), f["counters"].get(counter)) for m, f in rows])}
         for counter, label in (("footprint_ratio", "store on disk (footprint_ratio)"),
                                ("manifest_level_ratio", "one copy per manifest"),
                                ("no_dedup_ratio", "one copy per volume"))],
        x_log=False, y_log=False, refline=1.0)
    fetches = match_all(figs, r"footprint/blob_fetches/pullers:(\d+)")
    fetch_plot = line_plot(
        "layer-fetches", "Fetches per layer against concurrent pullers of different models",
        "P threads released at once, each pulling a different model; the models share six layers "
        "(raw shards and a tar layer) and have two of their own. Registry blob fetches per unique "
        "layer over every round (mean and the most in one round) and the footprint ratio: all must "
        "be exactly 1 (one fetch per layer, not per puller).",
        "concurrent pullers (P)", "fetches per layer / ratio",
        [{"name": label, "points": points([(int(m[1]), f["counters"].get(counter)) for m, f in fetches])}
         for counter, label in (("fetches_per_blob", "fetches per layer (mean)"),
                                ("blob_fetches_per_blob", "fetches per layer (max)"),
                                ("footprint_ratio", "footprint_ratio"))],
        y_log=False, refline=1.0)
    return [sharing, fetch_plot]


def stream_plot(figs):
    rows = sorted(match_all(figs, r"pull/stream_blob/mib:(\d+)"), key=lambda r: int(r[0][1]))
    if not rows:
        return None
    cats, notes = [], []
    values = {"stream_ms": [], "floor_ms": []}
    for m, f in rows:
        c = f["counters"]
        cats.append(f"{m[1]} MiB")
        notes.append(f"stream / floor = {c.get('stream_vs_floor', 0):.2f}, "
                     f"RSS +{c.get('rss_growth_kib', 0):.0f} KiB")
        for k in values:
            values[k].append(c.get(k, 0))
    return {"id": "stream-blob", "kind": "bar", "title": "Streaming a large blob to disk",
            "caption": "StreamBlobToFile (durable off) of one blob from an in-memory streaming registry, "
                       "in 1 MiB chunks, size and sha256 verified as it writes, against open + write() + "
                       "SHA-256 of the same bytes in the same chunks (the floor), same iterations. Above "
                       "each pair: the time ratio and the peak RSS growth of one stream (flat against the "
                       "blob's size: the blob is never held whole).",
            "x": {"label": "blob size"}, "y": {"label": "time (ms)"},
            "categories": cats, "annotations": notes,
            "series": [{"name": "StreamBlobToFile", "values": values["stream_ms"]},
                       {"name": "write() + SHA-256 (floor)", "values": values["floor_ms"]}]}


def pull_plot(figs):
    rows = match_all(figs, r"pull/files:(\d+)/kib_per_file:(\d+)/durable:([01])")
    if not rows:
        return None
    cats, pull_v, write_v, notes = [], [], [], []
    for m, f in rows:
        ratio = f["counters"].get("pull_vs_write")
        notes.append(f"pull / write = {ratio:.2f}" if ratio else "")
        size = int(m[2])
        size_text = f"{size // 1024} MiB" if size >= 1024 else f"{size} KiB"
        cats.append(f"{m[1]} x {size_text}, durable {'on' if m[3] == '1' else 'off'}")
        # Times, like the ratio above them: the taller bar is the slower one.
        pull_v.append(f["real_time_ns"] / 1e6)
        payload = f["counters"].get("payload_bytes", 0)
        write_bps = f["counters"].get("write_bytes_per_second", 0)
        write_v.append(payload / write_bps * 1e3 if write_bps > 0 else 0)
    return {"id": "pull", "kind": "bar", "title": "Pull from the in-memory registry against plain write()",
            "caption": "Time per model: PullPayload (fetch, verify size and sha256, write read-only, fsync "
                       "when durable) against open/write/close of the same files, same iterations. Lower is "
                       "faster; above each pair, the time ratio pull / write.",
            "x": {"label": "model shape (files x size)"}, "y": {"label": "time per model (ms)"},
            "categories": cats, "annotations": notes,
            "series": [{"name": "PullPayload", "values": pull_v},
                       {"name": "plain write() (no fsync)", "values": write_v}]}


def durability_plots(figs):
    rows = match_all(figs, r"materialize/durability/files:(\d+)")
    ratio_series = [{"name": label, "points": points([(int(m[1]), f["counters"].get(counter)) for m, f in rows])}
                    for counter, label in (("durable_vs_fast", "durable / durable off"),
                                           ("durable_vs_cp_al_sync", "durable / (cp -al + sync -f)"))]
    materialize = line_plot(
        "durability-materialize", "The cost of durability: materialize",
        "Materialize with durable on (every name it creates synced in its parent, the ref synced) "
        "against the same call durable off, and against cp -al followed by sync -f on the copy: the "
        "fair floor, the same tree made durable by hand (sync -f flushes the whole filesystem). "
        "Ratios of medians from the same iterations; below 1, durable costs less than the floor.",
        "files in the tree", "time ratio (x)", ratio_series, y_log=True, refline=1.0)
    pulls = match_all(figs, r"pull/durability/files:(\d+)/kib_per_file:(\d+)")
    pull = None
    if pulls:
        cats, notes = [], []
        values = {"durable_ms": [], "fast_ms": [], "write_sync_ms": []}
        for m, f in pulls:
            size = int(m[2])
            cats.append(f"{m[1]} x {size // 1024} MiB" if size >= 1024 else f"{m[1]} x {size} KiB")
            c = f["counters"]
            notes.append(f"durable / off = {c.get('durable_vs_fast', 0):.2f}, "
                         f"durable / (write + sync -f) = {c.get('durable_vs_write_sync', 0):.2f}")
            for k in values:
                values[k].append(c.get(k, 0))
        pull = {"id": "durability-pull", "kind": "bar", "title": "The cost of durability: pull",
                "caption": "PullPayload durable (each file and directory fsynced) against durable off and "
                           "against writing the same files followed by sync -f, same iterations.",
                "x": {"label": "model shape (files x size)"}, "y": {"label": "time (ms)"},
                "categories": cats, "annotations": notes,
                "series": [{"name": "pull, durable", "values": values["durable_ms"]},
                           {"name": "pull, durable off", "values": values["fast_ms"]},
                           {"name": "write() + sync -f (floor)", "values": values["write_sync_ms"]}]}
    return [materialize, pull]


def scheduler_plot(figs):
    rows = [(n, f) for n, f in sorted(figs.items()) if f["suite"] == "scheduler"]
    decisions = [(n, f) for n, f in rows if "ns_per_decision" in f["counters"]]
    if not decisions:
        return None
    cats = [n.replace("scheduler/", "").replace("SchedulerDecision/", "") for n, _ in decisions]

    def values(*names):
        """The first of the counters each row has (the suite's counter names
        have changed over time: thread-CPU figures came later)."""
        out = []
        for _, f in decisions:
            out.append(next((f["counters"][k] for k in names if k in f["counters"]), 0.0))
        return out

    # One bar per measure: thread CPU when the run has it (wall time is the
    # same figure on an idle machine, and only noisier on a busy one; it is
    # in the annotation).
    walls = values("ns_per_decision")
    notes = [f"wall {w:.0f} ns, {r:.1f}x bare" for w, r in zip(walls, values("ratio_to_bare"))]
    series = [{"name": "decision + switch (thread CPU, else wall)",
               "values": values("cpu_ns_per_decision", "ns_per_decision")},
              {"name": "bare Boost.Context switch", "values": values("bare_switch_cpu_ns", "bare_switch_ns")}]
    return {"id": "scheduler", "kind": "bar",
            "title": "Scheduler: decision + switch vs a bare Boost.Context switch",
            "caption": "Deterministic scheduler cost per scheduling decision (strategy / actors) "
                       "and the bare fiber switch round trip measured in the same process "
                       "(scheduler suite, bench/scheduler_bench.cpp).",
            "x": {"label": "strategy / actors"}, "y": {"label": "time per decision (ns)"},
            "categories": cats, "annotations": notes, "series": series}


def simulator_plot(figs):
    """SimulatorEndToEnd: one scheduling point of the whole simulator against
    one bare scheduler decision, both thread CPU in the same run."""
    f = figs.get("scheduler/SimulatorEndToEnd")
    if not f or "cpu_ns_per_point" not in f["counters"]:
        return None
    c = f["counters"]
    return {"id": "simulator", "kind": "bar",
            "title": "Simulator end to end: one scheduling point against one scheduler decision",
            "caption": "The default campaign (20 seeds: scheduler, simulated filesystem, fake registry, "
                       "production core, invariant checker) per scheduling point, against a bare scheduler "
                       "decision measured in the same run; both thread CPU. Above: the ratio and the points "
                       "per CPU second (target: 1,000,000).",
            "x": {"label": "measure"}, "y": {"label": "CPU time (ns)"},
            "categories": ["per scheduling point"],
            "annotations": [f"{c.get('ratio_to_decision', 0):.1f}x a decision, "
                            f"{c.get('cpu_points_per_second', 0) / 1e6:.2f} M points/CPU s"],
            "series": [{"name": "simulator end to end", "values": [c["cpu_ns_per_point"]]},
                       {"name": "one scheduler decision", "values": [c.get("decision_cpu_ns", 0)]}]}


def jobs_plot(figs):
    """SimulatorCampaignJobs: the default campaign with --jobs 1 and --jobs 2
    in the same iterations."""
    f = figs.get("scheduler/SimulatorCampaignJobs")
    if not f or "points_per_second_jobs1" not in f["counters"]:
        return None
    c = f["counters"]
    return {"id": "jobs", "kind": "bar",
            "title": "Campaign throughput: --jobs 2 against --jobs 1",
            "caption": "The default campaign through modelstore-sim's campaign runner with one and with two "
                       "worker threads, measured in the same iterations (wall clock: what a user waits for). "
                       "Above: the speed-up (target >= 1.8x on 2 cores) and seeds per second.",
            "x": {"label": "workers"}, "y": {"label": "scheduling points per second"},
            "categories": ["--jobs 1", "--jobs 2"],
            "annotations": [f"{c.get('seeds_per_second_jobs1', 0):.0f} seeds/s",
                            f"{c.get('speedup_jobs2', 0):.2f}x, {c.get('seeds_per_second_jobs2', 0):.0f} seeds/s"],
            "series": [{"name": "scheduling points per second",
                        "values": [c["points_per_second_jobs1"], c["points_per_second_jobs2"]]}]}


TREND = [
    # (label, pattern, group index to maximize or None, counter)
    ("store / cp -al, largest tree, durable off", r"materialize/store/files:(\d+)/durable:0", 1,
     "store_vs_cp_al"),
    ("store / linkat, largest tree, durable off", r"materialize/store/files:(\d+)/durable:0", 1,
     "store_vs_linkat"),
    ("GC / rm -rf, largest tree", r"gc/collect/files:(\d+)", 1, "gc_vs_rm_rf"),
    ("pull / write, largest files, durable off", r"pull/files:\d+/kib_per_file:(\d+)/durable:0", 1,
     "pull_vs_write"),
    ("materialize durable / (cp -al + sync -f), largest tree", r"materialize/durability/files:(\d+)", 1,
     "durable_vs_cp_al_sync"),
    ("footprint_ratio (worst config)", r"footprint/.*", None, "footprint_ratio"),
    ("one copy per manifest / per layer, most shared", r"footprint/sharing/models:\d+/shared_pct:(\d+)/.*", 1,
     "manifest_level_ratio"),
    ("stream / (write + SHA-256), largest blob", r"pull/stream_blob/mib:(\d+)", 1, "stream_vs_floor"),
    ("scheduler decision / bare switch (worst)", r"scheduler/.*", None, "ratio_to_bare"),
    ("simulator point / scheduler decision", r"scheduler/SimulatorEndToEnd", None, "ratio_to_decision"),
    ("campaign time, --jobs 2 / --jobs 1", r"scheduler/SimulatorCampaignJobs", None, "jobs2_vs_jobs1"),
]


def trend_value(entry_figs, pattern, group, counter):
    rx = re.compile(pattern + "$")
    best_key, best = None, None
    for name, fig in entry_figs.items():
        m = rx.match(name)
        if not m or counter not in fig:
            continue
        key = int(m[group]) if group is not None else fig[counter]
        if best_key is None or key > best_key:
            best_key, best = key, fig[counter]
    return best


def trend_plot(history, profile):
    entries = [e for e in history if e.get("profile") == profile]
    if not entries:
        return None
    series = []
    for label, pattern, group, counter in TREND:
        pts = []
        for i, e in enumerate(entries, 1):
            v = trend_value(e["figures"], pattern, group, counter)
            if v is not None and v > 0:
                pts.append([i, v])
        if pts:
            series.append({"name": label, "points": pts})
    ticks = [[i, (e.get("created", "")[5:16].replace("T", " ") or str(i)) + " " +
              (e.get("git", {}).get("commit") or "")[:7]] for i, e in enumerate(entries, 1)]
    spec = line_plot(
        "trend", f"Trend of the headline ratios over the recorded runs ({profile} profile)",
        f"Each point is one recorded run of the {profile} profile from the history file "
        "(oldest left). Ratios are measured against baselines in the same run, so they can be "
        "compared across runs on a noisy machine; 1 is parity.",
        "recorded run (date, commit)", "ratio (x)", series, x_log=False, y_log=True, refline=1.0)
    if spec:
        spec["x"]["ticks"] = ticks
    return spec


def designs_panel(compare):
    """The design shoot-out (`modelstore-sim compare --json`): the matrix
    design x invariant and the costs, as the page's own panel, plus a bar
    plot of the ratios. None without a compare report."""
    if not compare:
        return None, None
    rows = []
    for d in compare.get("designs", []):
        cells = []
        for c in d.get("invariants", []):
            shrunk = c.get("shrunk") or {}
            cells.append({"invariant": c["name"], "verdict": c["verdict"],
                          "first_seed": c.get("first_failing_seed"),
                          "failed_seeds": c.get("failed_seeds", 0),
                          "ops": shrunk.get("operations"), "steps": shrunk.get("steps"),
                          "detail": (c.get("detail") or "").split("\n")[0][:300]})
        f = d.get("figures", {})
        t = d.get("totals", {})
        rows.append({"name": d["name"], "title": d.get("title", ""), "proposal": d.get("proposal", ""),
                     "passed": d.get("passed", False), "cells": cells,
                     "footprint": f.get("footprint_ratio"), "blob_level": f.get("blob_level_ratio"),
                     "per_blob": f.get("fetches_per_unique_blob"),
                     "per_manifest": f.get("fetches_per_unique_manifest"),
                     "ops_per_s": f.get("operations_per_s"),
                     "payload_bytes": t.get("bytes_on_disk"), "all_bytes": t.get("all_bytes_on_disk")})
    campaign = compare.get("campaign", {})
    panel = {"rows": rows, "statements": compare.get("statements", []),
             "seeds": campaign.get("seeds"), "first_seed": campaign.get("first_seed"),
             "swarm": campaign.get("swarm"), "shrink_runs": campaign.get("shrink_runs"),
             "core_passed": compare.get("core_passed")}
    plot = None
    if rows:
        plot = {"id": "designs-costs", "kind": "bar",
                "title": "Design shoot-out: what each design costs",
                "caption": f"One campaign per design on the same {campaign.get('seeds')} seeds "
                           "(modelstore-sim compare). Footprint: payload bytes on disk / unique bytes the "
                           "volumes need (one copy per manifest); blob-level: the same against each distinct "
                           "file content once; fetches per unique blob per seed. Below 1: less than one copy "
                           "per manifest (blobs shared across manifests, or files lost: see the matrix).",
                "x": {"label": "design"}, "y": {"label": "ratio (x)"},
                "categories": [r["name"] for r in rows],
                "annotations": ["" if r["passed"] else "fails" for r in rows],
                "series": [{"name": "footprint (manifest level)", "values": [r["footprint"] or 0 for r in rows]},
                           {"name": "blob level", "values": [r["blob_level"] or 0 for r in rows]},
                           {"name": "fetches per unique blob", "values": [r["per_blob"] or 0 for r in rows]}]}
    return panel, plot


def harness_build_types(run):
    """Google Benchmark's own build type per suite (context.library_build_type).
    Debian's libbenchmark says "debug": its harness was built without
    optimisation, which the measured code is not."""
    return sorted({(data.get("context") or {}).get("library_build_type", "?")
                   for data in run.get("suites", {}).values()})


def build_page(run, baseline, history, rows, thresholds, compare=None):
    figs = benchlib.figures(run)
    designs, designs_plot = designs_panel(compare)
    plots = []
    plots += materialize_plots(figs)
    plots += gc_plots(figs)
    plots += footprint_plots(figs)
    plots += sharing_plots(figs)
    plots.append(pull_plot(figs))
    plots.append(stream_plot(figs))
    plots += durability_plots(figs)
    plots.append(scheduler_plot(figs))
    plots.append(simulator_plot(figs))
    plots.append(jobs_plot(figs))
    plots.append(trend_plot(history, run.get("profile", "?")))
    plots.append(designs_plot)
    expected = ["materialize-time", "materialize-ratio", "gc-collect", "gc-liveness-files",
                "gc-liveness-refs", "footprint-n", "footprint-k", "dedup-fetches", "footprint-sharing",
                "layer-fetches", "pull", "stream-blob",
                "durability-materialize", "durability-pull", "scheduler", "simulator", "jobs", "trend",
                "designs-costs"]
    present = [p for p in plots if p]
    missing = [pid for pid in expected if pid not in {p["id"] for p in present}]
    behaviour = benchlib.behaviour_failures(figs)
    data = {
        "run": {"created": run.get("created"), "profile": run.get("profile"), "git": run.get("git"),
                "host": run.get("host"), "suites": sorted(run.get("suites", {})),
                "harness_build_types": harness_build_types(run)},
        "baseline": None if baseline is None else {
            "created": baseline.get("created"), "git": baseline.get("git"),
            "profile": baseline.get("profile")},
        "plots": present,
        "missing": missing,
        "behaviour": {"failures": behaviour,
                      "checked": sum(1 for f in figs.values()
                                     if any(k in f["counters"] for k in benchlib.EXACT_COUNTERS))},
        "compare": {"rows": rows, **thresholds},
        "headlines": [[label, value] for label, value in benchlib.headlines(figs)],
        "history_runs": len(history),
        "designs": designs,
    }
    return data


def render(data):
    with open(os.path.join(HERE, "template.html"), encoding="utf-8") as f:
        template = f.read()
    with open(os.path.join(HERE, "plots.js"), encoding="utf-8") as f:
        script = f.read()
    payload = json.dumps(data, separators=(",", ":")).replace("</", "<\\/")
    title = f"ModelStore bench - {data['run'].get('profile')} run {data['run'].get('created') or ''}"
    return (template.replace("{{TITLE}}", html.escape(title))
            .replace("{{DATA}}", payload)
            .replace("{{SCRIPT}}", script.replace("</script", "<\\/script")))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="run file (or bare Google Benchmark JSON)")
    parser.add_argument("--baseline", help="baseline run to compare with")
    parser.add_argument("--history", help="history file (JSON lines) for the trend plot")
    parser.add_argument("--compare", help="the design shoot-out: `modelstore-sim compare --json` output")
    parser.add_argument("--out", required=True)
    parser.add_argument("--time-threshold", type=float,
                        default=float(os.environ.get("MS_BENCH_TIME_THRESHOLD", "0.25")))
    parser.add_argument("--ratio-threshold", type=float,
                        default=float(os.environ.get("MS_BENCH_RATIO_THRESHOLD", "0.15")))
    args = parser.parse_args(argv)

    run = benchlib.load_run(args.run)
    baseline = benchlib.load_run(args.baseline) if args.baseline else None
    history, skipped = benchlib.read_history(args.history)
    if skipped:
        print(f"dashboard: skipped unreadable history lines {skipped}", file=sys.stderr)
    rows = []
    if baseline is not None:
        rows = benchlib.compare(benchlib.figures(baseline), benchlib.figures(run),
                                args.time_threshold, args.ratio_threshold)
    compare = None
    if args.compare:
        with open(args.compare, encoding="utf-8") as f:
            compare = json.load(f)
        if compare.get("schema") != "modelstore-sim-compare":
            print(f"dashboard: {args.compare}: not a modelstore-sim-compare report", file=sys.stderr)
            return 2
    data = build_page(run, baseline, history, rows,
                      {"time_threshold": args.time_threshold, "ratio_threshold": args.ratio_threshold},
                      compare)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(render(data))
    print(f"dashboard: {args.out} ({len(data['plots'])} plots"
          + (f"; no data for: {', '.join(data['missing'])}" if data["missing"] else "") + ")")
    return 0


if __name__ == "__main__":
    sys.exit(main())
