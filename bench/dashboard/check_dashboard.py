#!/usr/bin/env python3
"""Opens a dashboard in headless Chromium and checks that every plot
rendered (the ctest `dashboard` test, and the README screenshot).

    check_dashboard.py --html build/bench/dashboard.html [--screenshot out.png]
    check_dashboard.py --run fixtures/bench-baseline.json --workdir DIR [--min-plots 10]
        [--compare fixtures/designs/compare.json]

With --run it first generates a dashboard from that run (compared with
itself as the baseline, and with a three-run history made from it) in
--workdir. Then it asks Chromium for the DOM after the page's script ran
(--dump-dom) and checks: the script finished (#render-status
data-state="done"), every plot's <svg> says data-rendered="ok" and holds
drawn marks, the page has at least --min-plots plots and every plot the
embedded data lists; with a design shoot-out in the data (--compare), its
panel drew a matrix row for every design. With --screenshot it also takes a full-page screenshot
and checks it is a PNG of the window size that is not blank.

Exit status: 0 ok, 1 a check failed, 77 Chromium is not installed (ctest
reports the test as skipped: SKIP_RETURN_CODE 77).
"""

import argparse
import copy
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from html.parser import HTMLParser

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
import benchlib  # noqa: E402
import make_dashboard  # noqa: E402

SKIP = 77
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--mute-audio"]


def find_chromium(explicit):
    for candidate in [explicit, os.environ.get("MS_CHROMIUM"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")]:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def run_chromium(chromium, args, timeout_s):
    profile = tempfile.mkdtemp(prefix="ms-dashboard-chromium-")
    try:
        cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


class DomScan(HTMLParser):
    """Collects plots (figure.plot), their svg attributes and mark counts,
    the render status, and the embedded data."""

    def __init__(self):
        super().__init__()
        self.plots = []  # dicts: id, rendered, marks_attr, marks_seen
        self.status = {}
        self.designs = None  # the design shoot-out section's attributes
        self.current = None
        self.svg_depth = 0
        self.in_data = False
        self.data_text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "figure" and "plot" in classes:
            self.current = {"id": a.get("data-plot"), "rendered": None, "marks_attr": 0, "marks_seen": 0}
            self.plots.append(self.current)
        elif tag == "svg" and self.current is not None:
            self.svg_depth += 1
            self.current["rendered"] = a.get("data-rendered")
            self.current["marks_attr"] = int(a.get("data-marks") or 0)
        elif self.current is not None and self.svg_depth and "mark" in classes:
            self.current["marks_seen"] += 1
        elif tag == "section" and a.get("id") == "designs":
            self.designs = a
        elif tag == "footer" and a.get("id") == "render-status":
            self.status = a
        elif tag == "script" and a.get("id") == "bench-data":
            self.in_data = True

    def handle_endtag(self, tag):
        if tag == "svg" and self.svg_depth:
            self.svg_depth -= 1
        elif tag == "figure":
            self.current = None
        elif tag == "script":
            self.in_data = False

    def handle_data(self, data):
        if self.in_data:
            self.data_text.append(data)


def png_check(path, width, height):
    """Problems with a screenshot: not a PNG, wrong size, or blank."""
    with open(path, "rb") as f:
        blob = f.read()
    if blob[:8] != b"\x89PNG\r\n\x1a\n":
        return ["screenshot is not a PNG"]
    w, h = struct.unpack(">II", blob[16:24])
    problems = []
    if (w, h) != (width, height):
        problems.append(f"screenshot is {w}x{h}, expected {width}x{height}")
    idat, pos = b"", 8
    while pos < len(blob):
        length, kind = struct.unpack(">I4s", blob[pos:pos + 8])
        if kind == b"IDAT":
            idat += blob[pos + 8:pos + 8 + length]
        pos += 12 + length
    pixels = zlib.decompress(idat)
    # A blank page decodes to a handful of byte values; plots, text and
    # colours give a wide spread.
    if len(set(pixels)) < 64:
        problems.append(f"screenshot looks blank ({len(set(pixels))} distinct byte values)")
    return problems


def make_fixture_dashboard(run_path, workdir, compare_path=None):
    """A dashboard from run_path: compared with itself, with a history of
    three copies of it on consecutive days (and the design shoot-out of
    compare_path)."""
    os.makedirs(workdir, exist_ok=True)
    run = benchlib.load_run(run_path)
    history_path = os.path.join(workdir, "history.jsonl")
    if os.path.exists(history_path):
        os.remove(history_path)
    for day in (1, 2, 3):
        entry = copy.deepcopy(run)
        entry["created"] = f"2026-01-0{day}T12:00:00+00:00"
        benchlib.append_history(history_path, entry)
    out = os.path.join(workdir, "dashboard.html")
    make_dashboard.main(["--run", run_path, "--baseline", run_path, "--history", history_path,
                         "--out", out] + (["--compare", compare_path] if compare_path else []))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--html", help="an existing dashboard to check")
    source.add_argument("--run", help="generate the dashboard from this run file first")
    parser.add_argument("--workdir", default=None, help="where --run writes (default: a temp dir)")
    parser.add_argument("--compare", help="with --run: the design shoot-out report to show too")
    parser.add_argument("--min-plots", type=int, default=1)
    parser.add_argument("--screenshot", help="also save a screenshot here and check it")
    parser.add_argument("--window", default="1320,1800", help="screenshot window W,H")
    parser.add_argument("--chromium", help="path of the browser (default /usr/bin/chromium)")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args(argv)

    chromium = find_chromium(args.chromium)
    if chromium is None:
        print("SKIP: chromium is not installed (Debian package `chromium`; `./run bench` "
              "installs it). The dashboard was not rendered.")
        return SKIP

    if args.run:
        workdir = args.workdir or tempfile.mkdtemp(prefix="ms-dashboard-")
        page = make_fixture_dashboard(args.run, workdir, args.compare)
    else:
        page = args.html
    url = "file://" + os.path.abspath(page)

    proc = run_chromium(chromium, ["--virtual-time-budget=10000", "--dump-dom", url], args.timeout)
    failures = []
    if proc.returncode != 0:
        failures.append(f"chromium --dump-dom exited {proc.returncode}: {proc.stderr[-2000:]}")
    scan = DomScan()
    scan.feed(proc.stdout)
    designs = None
    try:
        embedded = json.loads("".join(scan.data_text))
        listed = [p["id"] for p in embedded["plots"]]
        designs = embedded.get("designs")
    except (ValueError, KeyError) as e:
        listed = []
        failures.append(f"the page's embedded data does not parse: {e}")
    if designs:
        drawn = (scan.designs or {}).get("data-rows")
        if drawn != str(len(designs["rows"])):
            failures.append(f"the design shoot-out panel drew {drawn} of {len(designs['rows'])} design rows")
    if scan.status.get("data-state") != "done":
        failures.append(f"the page script did not finish: render-status {scan.status or 'missing'}")
    seen = {p["id"] for p in scan.plots}
    for pid in listed:
        if pid not in seen:
            failures.append(f"plot {pid} is in the data but not on the page")
    for p in scan.plots:
        if p["rendered"] != "ok":
            failures.append(f"plot {p['id']}: data-rendered={p['rendered']!r}")
        elif p["marks_attr"] < 1 or p["marks_seen"] < p["marks_attr"]:
            failures.append(f"plot {p['id']}: {p['marks_seen']} marks in the DOM, "
                            f"{p['marks_attr']} claimed")
    if len(scan.plots) < args.min_plots:
        failures.append(f"{len(scan.plots)} plots on the page, expected at least {args.min_plots}")
    ok_attr = scan.status.get("data-plots-ok")
    if ok_attr is not None and ok_attr != scan.status.get("data-plots-total"):
        failures.append(f"{ok_attr} of {scan.status.get('data-plots-total')} plots rendered")

    if args.screenshot and not failures:
        width, height = (int(v) for v in args.window.split(","))
        shot = os.path.abspath(args.screenshot)
        if os.path.exists(shot):
            os.remove(shot)
        proc = run_chromium(chromium, [f"--window-size={width},{height}", "--virtual-time-budget=10000",
                                       f"--screenshot={shot}", url], args.timeout)
        if proc.returncode != 0 or not os.path.exists(shot):
            failures.append(f"chromium --screenshot failed ({proc.returncode}): {proc.stderr[-2000:]}")
        else:
            failures += png_check(shot, width, height)

    for line in failures:
        print(f"DASHBOARD FAIL: {line}")
    if failures:
        return 1
    print(f"dashboard ok: {page}: {len(scan.plots)} plots rendered "
          f"({', '.join(p['id'] for p in scan.plots)})"
          + (f"; screenshot {args.screenshot}" if args.screenshot else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
