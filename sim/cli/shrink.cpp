#include "sim/cli/shrink.h"

#include <rapidcheck/Seq.h>
#include <rapidcheck/shrink/Shrink.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>

#include "sim/cli/config_flags.h"
#include "sim/cli/output_file.h"
#include "sim/workload/simulator.h"

namespace ms::cli {
namespace {

using sim::SimConfig;
using sim::SimReport;

constexpr size_t kTraceBytesMax = size_t{1} << 30;
constexpr std::string_view kTraceMagic = "modelstore-sim trace v1\n";

int Fail(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return 2;
}

bool Violates(const SimReport& r, const std::string& invariant) {
  for (const auto& v : r.violations) {
    if (v.invariant == invariant) return true;
  }
  return false;
}

size_t OpCount(const SimConfig& c) {
  size_t n = 0;
  for (const auto& s : c.scripts) n += s.size();
  return n;
}

// Decisions where the scheduler switched to another actor than the last one.
uint64_t Switches(const std::string& trace_file) {
  auto parsed = sim::ParseTraceFile(trace_file);
  if (!parsed.ok()) return 0;
  uint64_t n = 0;
  const auto& d = parsed->second.decisions;
  for (size_t i = 1; i < d.size(); ++i) n += d[i].actor != d[i - 1].actor;
  return n;
}

// Actor `from`'s volumes renamed for position `to` (s<from> -> s<to>).
void Renumber(std::vector<sim::ClientOp>* script, size_t from, size_t to) {
  for (sim::ClientOp& op : *script) {
    for (const char* prefix : {"s", "d"}) {
      if (op.volume == prefix + std::to_string(from)) op.volume = prefix + std::to_string(to);
    }
  }
}

// Every simpler configuration, simplest first where it matters: whole
// knobs off before lists lose elements one chunk at a time.
std::vector<std::function<rc::Seq<SimConfig>()>> Candidates(const SimConfig& c) {
  std::vector<std::function<rc::Seq<SimConfig>()>> out;
  auto one = [&](auto edit) {
    out.push_back([c, edit] {
      SimConfig next = c;
      if (!edit(&next)) return rc::Seq<SimConfig>();
      return rc::seq::just(std::move(next));
    });
  };
  one([](SimConfig* n) { return n->fault_rate > 0 ? (n->fault_rate = 0, true) : false; });
  one([](SimConfig* n) { return n->crash_rate > 0 ? (n->crash_rate = 0, true) : false; });
  one([](SimConfig* n) { return n->tenant_writes > 0 ? (n->tenant_writes = 0, true) : false; });
  one([](SimConfig* n) { return n->status_corruptions > 0 ? (n->status_corruptions = 0, true) : false; });
  one([](SimConfig* n) { return n->corrupt_at_sweep ? (n->corrupt_at_sweep = false, true) : false; });
  one([](SimConfig* n) { return n->tag_moves > 0 ? (n->tag_moves = 0, true) : false; });
  one([](SimConfig* n) { return n->gc_rounds > 0 ? (n->gc_rounds = 0, true) : false; });
  one([](SimConfig* n) { return n->link_max > 0 ? (n->link_max = 0, true) : false; });
  one([](SimConfig* n) { return n->client_lanes > 1 ? (n->client_lanes = 1, true) : false; });
  one([](SimConfig* n) { return n->overlap_release ? (n->overlap_release = false, true) : false; });
  one([](SimConfig* n) { return n->tag_moves_spread ? (n->tag_moves_spread = false, true) : false; });
  one([](SimConfig* n) {
    if (n->processes <= 1) return false;
    n->processes = 1;
    for (auto& k : n->kills_at) k.process = 0;
    return true;
  });
  one([](SimConfig* n) { return n->strategy != "rr" ? (n->strategy = "rr", true) : false; });
  one([](SimConfig* n) {
    if (n->strategy.rfind("pct:", 0) != 0 || n->strategy == "pct:1") return false;
    n->strategy = "pct:" + std::to_string(std::stoi(n->strategy.substr(4)) - 1);
    return true;
  });
  // Halves of what could not go at once.
  one([](SimConfig* n) { return n->fault_rate > 1e-6 ? (n->fault_rate /= 2, true) : false; });
  one([](SimConfig* n) { return n->crash_rate > 1e-7 ? (n->crash_rate /= 2, true) : false; });
  out.push_back([c] {
    return rc::seq::map(rc::shrink::towards(c.crashes_max, 0), [c](int v) {
      SimConfig n = c;
      n.crashes_max = v;
      return n;
    });
  });
  using IntField = int SimConfig::*;
  for (const IntField field : {&SimConfig::tenant_writes, &SimConfig::status_corruptions, &SimConfig::tag_moves,
                            &SimConfig::gc_rounds, &SimConfig::client_lanes,
                               &SimConfig::processes}) {
    const int floor = field == &SimConfig::client_lanes || field == &SimConfig::processes ? 1 : 0;
    out.push_back([c, field, floor] {
      return rc::seq::map(rc::shrink::towards(c.*field, floor), [c, field](int v) {
        SimConfig n = c;
        n.*field = v;
        for (auto& k : n.kills_at) k.process = std::min(k.process, n.processes - 1);
        return n;
      });
    });
  }
  // Whole actors, the later ones renamed into the gap.
  for (size_t a = 0; a < c.scripts.size() && c.scripts.size() > 1; ++a) {
    one([a](SimConfig* n) {
      n->scripts.erase(n->scripts.begin() + static_cast<std::ptrdiff_t>(a));
      for (size_t b = a; b < n->scripts.size(); ++b) Renumber(&n->scripts[b], b + 1, b);
      n->actors = static_cast<int>(n->scripts.size());
      return true;
    });
  }
  for (size_t a = 0; a < c.scripts.size(); ++a) {
    out.push_back([c, a] {
      return rc::seq::map(rc::shrink::removeChunks(c.scripts[a]), [c, a](std::vector<sim::ClientOp> script) {
        SimConfig n = c;
        n.scripts[a] = std::move(script);
        return n;
      });
    });
  }
  out.push_back([c] {
    return rc::seq::map(rc::shrink::removeChunks(c.crash_steps), [c](std::vector<uint64_t> v) {
      SimConfig n = c;
      n.crash_steps = std::move(v);
      return n;
    });
  });
  out.push_back([c] {
    return rc::seq::map(rc::shrink::removeChunks(c.kills_at), [c](std::vector<sim::KillAt> v) {
      SimConfig n = c;
      n.kills_at = std::move(v);
      return n;
    });
  });
  out.push_back([c] {
    return rc::seq::map(rc::shrink::removeChunks(c.faults_at), [c](std::vector<sim::FaultAt> v) {
      SimConfig n = c;
      n.faults_at = std::move(v);
      return n;
    });
  });
  return out;
}

struct Shape {
  size_t actors = 0, ops = 0, crash_points = 0, kills = 0, faults = 0;
  uint64_t steps = 0, switches = 0;
};

Shape ShapeOf(const SimConfig& c, const SimReport& r) {
  Shape s;
  s.actors = c.scripts.empty() ? static_cast<size_t>(c.actors) : c.scripts.size();
  s.ops = c.scripts.empty() ? static_cast<size_t>(c.actors) * static_cast<size_t>(c.ops) : OpCount(c);
  s.crash_points = c.crash_steps.size();
  s.kills = c.kills_at.size();
  s.faults = c.faults_at.size();
  s.steps = r.steps;
  s.switches = Switches(r.trace_file);
  return s;
}

}  // namespace

int Shrink(const ShrinkOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  auto text = ReadSmallFile("shrink", o.trace_path, kTraceBytesMax, kTraceMagic, "a modelstore-sim trace");
  if (!text.ok()) return Fail(text.status().message());
  auto parsed = sim::ParseTraceFile(*text);
  if (!parsed.ok()) return Fail(o.trace_path + ": " + parsed.status().message());
  const SimConfig original = parsed->first;
  if (Status st = ValidateConfig(original, o.trace_path); !st.ok()) return Fail(st.message());
  const std::string out_path =
      !o.out_path.empty() ? o.out_path
                          : (o.trace_path.size() > 6 && o.trace_path.ends_with(".trace")
                                 ? o.trace_path.substr(0, o.trace_path.size() - 6)
                                 : o.trace_path) + ".min.trace";
  if (Status st = CheckWritableFile("--out", out_path); !st.ok()) return Fail(st.message());

  // What fails: the recorded run, re-run by its seed (as every candidate is).
  SimReport first = sim::RunSimulation(original);
  std::string invariant = o.invariant;
  if (invariant.empty()) {
    if (first.ok()) return Fail(o.trace_path + ": every invariant holds in this run: nothing to shrink");
    invariant = first.violations.front().invariant;
  } else {
    bool known = false;
    for (const char* name : sim::kInvariantNames) known = known || invariant == name;
    if (!known) return Fail("--invariant \"" + invariant + "\" is not an invariant (e.g. \"I1 no-referenced-loss\")");
    if (!Violates(first, invariant)) return Fail(o.trace_path + ": " + invariant + " holds in this run: nothing to shrink");
  }

  uint64_t runs = 1;
  SimConfig best = original;
  SimReport best_report = first;
  // The seed's generated scripts, written out, so single operations can go.
  if (best.scripts.empty()) {
    SimConfig explicit_scripts = best;
    const sim::ModelPool pool = sim::MakeModelPool(best.seed);
    for (int i = 0; i < best.actors; ++i) explicit_scripts.scripts.push_back(sim::MakeScript(best, pool, i));
    SimReport r = sim::RunSimulation(explicit_scripts);
    ++runs;
    if (Violates(r, invariant)) {
      best = std::move(explicit_scripts);
      best_report = std::move(r);
    }
  }
  bool progressed = true;
  while (progressed && runs < o.max_runs) {
    progressed = false;
    for (const auto& make : Candidates(best)) {
      rc::Seq<SimConfig> seq = make();
      while (auto candidate = seq.next()) {
        if (runs >= o.max_runs) break;
        SimReport r = sim::RunSimulation(*candidate);
        ++runs;
        if (Violates(r, invariant)) {
          best = std::move(*candidate);
          best_report = std::move(r);
          progressed = true;
          break;
        }
      }
      if (progressed) break;
    }
  }

  // The minimal run must stand on its own: its trace replays to the same failure.
  auto minimal = sim::ParseTraceFile(best_report.trace_file);
  if (!minimal.ok()) return Fail("the shrunk run's trace does not parse: " + minimal.status().message());
  const SimReport replayed =
      sim::RunSimulation(minimal->first, std::make_shared<const sim::Trace>(std::move(minimal->second)));
  if (!Violates(replayed, invariant) || replayed.trace_hash != best_report.trace_hash) {
    return Fail("the shrunk run does not replay to " + invariant + " (a nondeterministic failure?)");
  }
  if (Status st = WriteFileAtomically(out_path, best_report.trace_file); !st.ok()) return Fail(st.message());

  const Shape before = ShapeOf(original, first);
  const Shape after = ShapeOf(best, best_report);
  const sim::Violation* v = nullptr;
  for (const auto& each : best_report.violations) {
    if (each.invariant == invariant) {
      v = &each;
      break;
    }
  }
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto u = [](uint64_t x) { return static_cast<unsigned long long>(x); };
  std::printf("shrink %s: seed %llu, %s\n", Pretty(o.trace_path).c_str(), u(original.seed), invariant.c_str());
  std::printf("  runs          %llu%s, %.1f s\n", u(runs), runs >= o.max_runs ? " (the --max-runs limit)" : "", wall_s);
  std::printf("  actors        %zu -> %zu\n", before.actors, after.actors);
  std::printf("  operations    %zu -> %zu\n", before.ops, after.ops);
  std::printf("  faults        rate %g -> %g, explicit %zu -> %zu\n", original.fault_rate, best.fault_rate,
              before.faults, after.faults);
  std::printf("  crashes       rate %g (at most %d) -> %g (at most %d), explicit %zu -> %zu, kills %zu -> %zu\n",
              original.crash_rate, original.crashes_max, best.crash_rate, best.crashes_max, before.crash_points,
              after.crash_points, before.kills, after.kills);
  std::printf("  mishaps       tenant writes %d -> %d, status corruptions %d -> %d, corrupt at sweep %d -> %d\n",
              original.tenant_writes, best.tenant_writes, original.status_corruptions, best.status_corruptions,
              original.corrupt_at_sweep ? 1 : 0, best.corrupt_at_sweep ? 1 : 0);
  std::printf("  processes     %d -> %d, client lanes %d -> %d, tag moves %d -> %d, gc rounds %d -> %d\n",
              original.processes, best.processes, original.client_lanes, best.client_lanes, original.tag_moves,
              best.tag_moves, original.gc_rounds, best.gc_rounds);
  std::printf("  schedule      strategy %s -> %s, %llu -> %llu steps, %llu -> %llu context switches\n",
              original.strategy.c_str(), best.strategy.c_str(), u(before.steps), u(after.steps), u(before.switches),
              u(after.switches));
  if (v != nullptr) {
    std::printf("  failure       %s violated at step %llu: %s\n", v->invariant.c_str(), u(v->step), v->detail.c_str());
  }
  std::printf("  operations of the minimal run:\n");
  for (size_t a = 0; a < best.scripts.size(); ++a) {
    for (const sim::ClientOp& op : best.scripts[a]) {
      std::printf("    actor %zu: %s %s%s%s%s\n", a, std::string(sim::OpKindName(op.kind)).c_str(), op.volume.c_str(),
                  op.mount.empty() ? "" : "/", op.mount.c_str(), op.reference.empty() ? "" : (" " + op.reference).c_str());
    }
  }
  std::printf("  wrote         %s\n", Pretty(out_path).c_str());
  std::printf("  replay:  %s replay %s\n", o.self.c_str(), Pretty(out_path).c_str());
  return 0;
}

}  // namespace ms::cli
