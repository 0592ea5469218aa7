// The dashboard's drawing: generic line and bar charts as inline SVG, from
// the specs make_dashboard.py embeds in #bench-data. No libraries.
//
// After each plot is drawn its <svg> carries data-rendered="ok" and
// data-marks=<number of data marks drawn>; a plot that threw carries
// data-rendered="error". When all are done, #render-status gets
// data-state="done", data-plots-ok and data-plots-total: the dashboard test
// reads these from the DOM.
(function () {
  "use strict";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#2f6bd8", "#e07b00", "#1b9e77", "#c2185b", "#6a4cb3", "#7f8c1f", "#00838f"];
  // Series that coincide (bytes on disk = unique payload) must stay visible:
  // each has its own dash pattern, and markers alternate between dots and
  // wider rings.
  const DASHES = ["", "7 4", "2 3", "10 3 2 3"];
  const W = 620, PLOT_H = 250, M = { left: 74, right: 22, top: 40, bottom: 52 };

  function el(name, attrs, parent, text) {
    const node = document.createElementNS(SVG_NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function html(tag, attrs, parent, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  // Compact labels: 12345 -> "12.3k", 2500000 -> "2.5M", 0.25 -> "0.25",
  // 0.00012 -> "1.2e-4". No milli/micro prefixes: the axis label has the unit.
  function si(v) {
    if (v === 0) return "0";
    const a = Math.abs(v);
    for (const [scale, suffix] of [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e4, "k"]]) {
      if (a >= scale) return +(v / (suffix === "k" ? 1e3 : scale)).toPrecision(3) + suffix;
    }
    if (a >= 0.01) return String(+v.toPrecision(3));
    return v.toExponential(1);
  }

  function logTicks(lo, hi) {
    const ticks = [];
    const d0 = Math.floor(Math.log10(lo)), d1 = Math.ceil(Math.log10(hi));
    const steps = d1 - d0 <= 2 ? [1, 2, 5] : [1];
    for (let d = d0; d <= d1; d++) {
      for (const s of steps) {
        const v = s * Math.pow(10, d);
        if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(v);
      }
    }
    return ticks;
  }

  function linearTicks(lo, hi) {
    const span = hi - lo || 1;
    const raw = span / 5;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((s) => s * mag).find((s) => span / s <= 6) || 10 * mag;
    const ticks = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
    return ticks;
  }

  // A scale over [lo, hi] onto [a, b] (pixels), log or linear.
  function scale(lo, hi, a, b, log) {
    if (log) {
      const l0 = Math.log10(lo), l1 = Math.log10(hi);
      return (v) => a + ((Math.log10(v) - l0) / (l1 - l0 || 1)) * (b - a);
    }
    return (v) => a + ((v - lo) / (hi - lo || 1)) * (b - a);
  }

  function domain(values, log, includeZero) {
    let lo = Math.min(...values), hi = Math.max(...values);
    if (log) {
      if (lo === hi) { lo /= 3; hi *= 3; }
      return [lo / 1.35, hi * 1.35];
    }
    if (includeZero) lo = Math.min(0, lo);
    if (lo === hi) hi = lo + 1;
    return [lo, hi + (hi - lo) * 0.15];
  }

  // Title, legend rows below the x axis; returns the svg and the plot box.
  function frame(svg, spec, legendNames) {
    const perRow = 2;
    const rows = Math.ceil(legendNames.length / perRow);
    const height = M.top + PLOT_H + M.bottom + rows * 20 + 12;
    svg.setAttribute("viewBox", `0 0 ${W} ${height}`);
    svg.setAttribute("width", W);
    svg.setAttribute("height", height);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", spec.title);
    const title = el("text", { x: 14, y: 22, class: "title" }, svg, spec.title);
    // A title wider than the plot is squeezed to fit rather than cut off.
    const room = W - 28;
    if (title.getComputedTextLength && title.getComputedTextLength() > room) {
      title.setAttribute("textLength", String(room));
      title.setAttribute("lengthAdjust", "spacingAndGlyphs");
    }
    const box = { x0: M.left, x1: W - M.right, y0: M.top + PLOT_H, y1: M.top };
    const legend = el("g", { class: "legend-box" }, svg);
    legendNames.forEach((name, i) => {
      const col = i % perRow, row = Math.floor(i / perRow);
      const x = M.left + col * ((W - M.left - M.right) / perRow);
      const y = M.top + PLOT_H + M.bottom + row * 20 + 10;
      const color = PALETTE[i % PALETTE.length];
      if (spec.kind === "bar") {
        el("rect", { x, y: y - 9, width: 14, height: 10, rx: 2, fill: color }, legend);
        el("text", { x: x + 20, y, class: "legend" }, legend, name);
      } else {
        el("line", { x1: x, x2: x + 24, y1: y - 4, y2: y - 4, stroke: color, "stroke-width": 2,
                     "stroke-dasharray": DASHES[i % DASHES.length] }, legend);
        const ring = i % 2 === 1;
        el("circle", { cx: x + 12, cy: y - 4, r: ring ? 4.5 : 3.2, fill: ring ? "none" : color, stroke: color,
                       "stroke-width": ring ? 1.8 : 0 }, legend);
        el("text", { x: x + 30, y, class: "legend" }, legend, name);
      }
    });
    return box;
  }

  function axes(svg, box, spec, xs, ys, xTicks, yTicks) {
    for (const t of yTicks) {
      const y = ys(t);
      el("line", { x1: box.x0, x2: box.x1, y1: y, y2: y, class: "gridline" }, svg);
      el("text", { x: box.x0 - 8, y: y + 4, "text-anchor": "end", class: "tick" }, svg, si(t));
    }
    for (const t of xTicks) {
      const x = xs(t.v);
      el("line", { x1: x, x2: x, y1: box.y0, y2: box.y0 + 5, class: "axis" }, svg);
      t.label.split("\n").forEach((line, i) =>
        el("text", { x, y: box.y0 + 18 + i * 12, "text-anchor": "middle", class: "tick" }, svg, line));
    }
    el("line", { x1: box.x0, x2: box.x1, y1: box.y0, y2: box.y0, class: "axis" }, svg);
    el("line", { x1: box.x0, x2: box.x0, y1: box.y0, y2: box.y1, class: "axis" }, svg);
    el("text", { x: (box.x0 + box.x1) / 2, y: box.y0 + 44, "text-anchor": "middle", class: "axis-label" },
       svg, spec.x.label + (spec.x.log ? " (log scale)" : ""));
    const cy = (box.y0 + box.y1) / 2;
    el("text", { x: 16, y: cy, transform: `rotate(-90 16 ${cy})`, "text-anchor": "middle", class: "axis-label" },
       svg, spec.y.label + (spec.y.log ? " (log scale)" : ""));
  }

  function drawLine(svg, spec) {
    const all = spec.series.flatMap((s) => s.points);
    if (!all.length) throw new Error("no data points");
    const xv = all.map((p) => p[0]);
    const yv = all.map((p) => p[1]).concat(spec.refline !== undefined ? [spec.refline] : []);
    const [x0, x1] = spec.x.log ? domain(xv, true) : (() => {
      const lo = Math.min(...xv), hi = Math.max(...xv);
      return lo === hi ? [lo - 1, hi + 1] : [lo - (hi - lo) * 0.05, hi + (hi - lo) * 0.05];
    })();
    const [y0, y1] = domain(yv, spec.y.log, true);
    const box = frame(svg, spec, spec.series.map((s) => s.name));
    const xs = scale(x0, x1, box.x0, box.x1, spec.x.log);
    const ys = scale(y0, y1, box.y0, box.y1, spec.y.log);
    let xTicks;
    if (spec.x.ticks) {
      const every = Math.max(1, Math.ceil(spec.x.ticks.length / 6));
      xTicks = spec.x.ticks.filter((t, i) => i % every === 0 || i === spec.x.ticks.length - 1)
        .map(([v, label]) => ({ v, label: label.replace(" ", "\n") }));
    } else {
      const vs = spec.x.log ? logTicks(x0, x1) : linearTicks(x0, x1);
      xTicks = vs.map((v) => ({ v, label: si(v) }));
    }
    const yTicks = spec.y.log ? logTicks(y0, y1) : linearTicks(y0, y1);
    axes(svg, box, spec, xs, ys, xTicks, yTicks);
    if (spec.refline !== undefined) {
      const y = ys(spec.refline);
      el("line", { x1: box.x0, x2: box.x1, y1: y, y2: y, class: "refline" }, svg);
      el("text", { x: box.x1 - 4, y: y - 5, "text-anchor": "end", class: "tick" }, svg, "= " + spec.refline);
    }
    let marks = 0;
    spec.series.forEach((s, i) => {
      const color = PALETTE[i % PALETTE.length];
      const g = el("g", { class: "series", "data-series": s.name }, svg);
      const d = s.points.map((p, j) => (j ? "L" : "M") + xs(p[0]).toFixed(1) + " " + ys(p[1]).toFixed(1)).join(" ");
      el("path", { d, fill: "none", stroke: color, "stroke-width": 2, "stroke-dasharray": DASHES[i % DASHES.length] }, g);
      const ring = i % 2 === 1;
      for (const p of s.points) {
        const c = el("circle", { cx: xs(p[0]).toFixed(1), cy: ys(p[1]).toFixed(1), r: ring ? 6.5 + i : 3.8,
                                 fill: ring ? "none" : color, stroke: color, "stroke-width": ring ? 2 : 0,
                                 class: "mark" }, g);
        el("title", {}, c, `${s.name}: x = ${si(p[0])}, y = ${si(p[1])}`);
        marks++;
      }
    });
    return marks;
  }

  function drawBars(svg, spec) {
    const values = spec.series.flatMap((s) => s.values);
    if (!values.length || !spec.categories.length) throw new Error("no bars");
    const [y0, y1] = domain(values, false, true);
    const box = frame(svg, spec, spec.series.map((s) => s.name));
    const ys = scale(y0, y1, box.y0, box.y1, false);
    const yTicks = linearTicks(y0, y1);
    const n = spec.categories.length;
    const slot = (box.x1 - box.x0) / n;
    const xs = (i) => box.x0 + slot * (i + 0.5);
    const xTicks = spec.categories.map((c, i) => ({ v: i, label: c.replace(", ", ",\n") }));
    axes(svg, box, spec, xs, ys, xTicks, yTicks);
    const barW = Math.min(34, (slot * 0.8) / spec.series.length);
    // Optional text above each group (e.g. the paired ratio).
    (spec.annotations || []).forEach((text, i) => {
      const top = Math.max(...spec.series.map((s) => s.values[i]));
      el("text", { x: xs(i), y: ys(top) - 6, "text-anchor": "middle", class: "tick" }, svg, text);
    });
    let marks = 0;
    spec.series.forEach((s, si_) => {
      const color = PALETTE[si_ % PALETTE.length];
      const g = el("g", { class: "series", "data-series": s.name }, svg);
      s.values.forEach((v, i) => {
        const x = xs(i) - (barW * spec.series.length) / 2 + si_ * barW;
        const y = ys(Math.max(v, 0));
        const r = el("rect", { x: x.toFixed(1), y: y.toFixed(1), width: (barW - 2).toFixed(1),
                               height: Math.max(0, box.y0 - y).toFixed(1), fill: color, class: "mark" }, g);
        el("title", {}, r, `${s.name}, ${spec.categories[i]}: ${si(v)}`);
        marks++;
      });
    });
    return marks;
  }

  function runInfo(data) {
    const info = document.getElementById("run-info");
    const r = data.run;
    const git = r.git || {};
    const host = r.host || {};
    const parts = [
      ["run", r.created || "?"], ["profile", r.profile || "?"],
      ["commit", (git.commit || "?") + (git.dirty ? " (dirty)" : "")],
      ["host", `${host.host_name || "?"}, ${host.num_cpus || "?"} CPUs, scratch on ${host.scratch_fs || "?"}`],
      ["suites", (r.suites || []).join(", ")],
      ["baseline", data.baseline ? `${data.baseline.created || "?"} (${(data.baseline.git || {}).commit || "?"})` : "none"],
      ["history", `${data.history_runs} recorded runs`],
    ];
    if ((r.harness_build_types || []).includes("debug")) {
      parts.push(["harness", "Debian's libbenchmark, built as DEBUG (its \"Library was built as DEBUG\" " +
                  "warning, library_build_type: debug in every JSON). It only times and loops: the measured " +
                  "code is this project's, built with optimisation (-O2), and every figure that matters is a " +
                  "ratio of two timings taken by the same harness in the same iterations"]);
    }
    parts.forEach(([k, v], i) => {
      if (i) info.appendChild(document.createTextNode("  \u00b7  "));
      html("b", {}, info, k + ": ");
      info.appendChild(document.createTextNode(v));
    });
  }

  function checks(data) {
    const box = document.getElementById("checks");
    const b = data.behaviour;
    if (b.failures.length) {
      for (const f of b.failures) html("div", { class: "badge bad" }, box, "\u2717 " + f);
    } else {
      html("div", { class: "badge ok" }, box,
           `\u2713 behaviour holds in ${b.checked} benchmarks: footprint_ratio = 1, one fetch per digest, nothing left after delete`);
    }
    const rows = data.compare.rows || [];
    const flagged = rows.filter((r) => r.flag && r.flag !== "new" && r.flag !== "gone");
    if (data.baseline) {
      html("div", { class: "badge " + (flagged.some((r) => ["SLOWER", "WORSE", "FAIL"].includes(r.flag)) ? "warn" : "ok") },
           box, `${flagged.length} figures moved beyond the noise threshold (time ${Math.round(data.compare.time_threshold * 100)}%, ratio ${Math.round(data.compare.ratio_threshold * 100)}%)`);
    }
    for (const [label, value] of data.headlines || []) {
      html("div", { class: "badge" }, box, `${label} = ${(+value).toPrecision(3)}`);
    }
    if (data.missing.length) html("div", { class: "badge warn" }, box, "no data in this run for: " + data.missing.join(", "));
  }

  function fmtValue(v, unit, displayUnit) {
    if (v === null || v === undefined) return "-";
    if (unit === "ns") {
      const div = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 }[displayUnit || "ns"] || 1;
      return (v / div).toPrecision(4) + " " + (displayUnit || "ns");
    }
    return (+v).toPrecision(4);
  }

  function compareTable(data) {
    const sec = document.getElementById("compare");
    html("h2", {}, sec, "Comparison with the baseline");
    if (!data.baseline) {
      html("p", {}, sec, "No baseline given.");
      return;
    }
    const rows = data.compare.rows;
    const order = { FAIL: 0, SLOWER: 1, WORSE: 1, CHANGED: 2, faster: 3, better: 3, new: 4, gone: 4, "": 5 };
    const sorted = rows.slice().sort((a, b) => (order[a.flag] - order[b.flag]) || a.name.localeCompare(b.name));
    const table = (list, parent) => {
      const t = html("table", {}, parent);
      const head = html("tr", {}, html("thead", {}, t));
      for (const h of ["Benchmark", "Metric", "Old", "New", "Change", "Flag"]) html("th", {}, head, h);
      const body = html("tbody", {}, t);
      for (const r of list) {
        const tr = html("tr", {}, body);
        html("td", {}, tr, r.name);
        html("td", {}, tr, r.metric);
        html("td", {}, tr, fmtValue(r.old, r.unit, r.display_unit));
        html("td", {}, tr, fmtValue(r.new, r.unit, r.display_unit));
        html("td", {}, tr, r.change === null || r.change === undefined ? "-" : (r.change >= 0 ? "+" : "") + (r.change * 100).toFixed(1) + "%");
        html("td", { class: "flag-" + (r.flag || "none") }, tr, r.flag || "");
      }
    };
    const flagged = sorted.filter((r) => r.flag);
    if (flagged.length) table(flagged, sec); else html("p", {}, sec, "Nothing moved beyond the thresholds.");
    const details = html("details", {}, sec);
    html("summary", {}, details, `All ${rows.length} compared figures`);
    table(sorted, details);
  }

  function main() {
    const data = JSON.parse(document.getElementById("bench-data").textContent);
    runInfo(data);
    checks(data);
    const grid = document.getElementById("plots");
    let ok = 0;
    for (const spec of data.plots) {
      const fig = html("figure", { class: "plot", id: "plot-" + spec.id, "data-plot": spec.id }, grid);
      const svg = el("svg", { xmlns: SVG_NS }, fig);
      try {
        const marks = spec.kind === "bar" ? drawBars(svg, spec) : drawLine(svg, spec);
        if (marks < 1) throw new Error("nothing drawn");
        svg.setAttribute("data-marks", String(marks));
        svg.setAttribute("data-rendered", "ok");
        ok++;
      } catch (e) {
        svg.setAttribute("data-rendered", "error");
        html("div", { class: "plot-error" }, fig, `${spec.title}: ${e.message}`);
      }
      html("figcaption", {}, fig, spec.caption || "");
    }
    compareTable(data);
    const status = document.getElementById("render-status");
    status.setAttribute("data-plots-ok", String(ok));
    status.setAttribute("data-plots-total", String(data.plots.length));
    status.setAttribute("data-state", "done");
    status.textContent = `${ok} of ${data.plots.length} plots rendered. Generated by bench/dashboard/make_dashboard.py; no network used.`;
  }

  try {
    main();
  } catch (e) {
    const status = document.getElementById("render-status");
    status.setAttribute("data-state", "error");
    status.textContent = "dashboard script failed: " + e.message;
  }
})();
