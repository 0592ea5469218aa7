// Crash-point exploration, as ALICE and CrashMonkey do for real
// applications: for a handful of fixed workloads, crash the node at every
// scheduling step in turn (every step ends at a port call, so this is a
// crash between every two port calls the store makes), let the simulator
// restart the drivers (a startup sweep), reconcile and sweep, and require
// I1 no-referenced-loss and I3 footprint (and every other invariant).
//
// A crash keeps one legal post-crash state of the adversarial model, drawn
// from the seed (crash_states_test explores every one at the persistence
// points); crash steps that fall in the final reconciliation are not crashes (the
// simulator never crashes its finale), so "explored" counts the steps that
// did crash. Each workload prints one line and records the count as the
// test property crash_points.
//
// Budgets: the fast one (ctest label prop) explores every step of the fixed
// workloads. MS_CRASH_BUDGET=campaign adds generated workloads (seeded
// scripts of 3 actors on 2 processes with GC and tag moves) and crash pairs;
// MS_SHARD=I/N explores only the crash points k with k % N == I.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>

#include "proptests/crash_workloads.h"
#include "proptests/prop_support.h"
#include "sim/workload/simulator.h"

namespace ms::prop {
namespace {

using sim::SimConfig;

SimConfig Base(int processes, int gc_rounds, int tag_moves) { return FixedBase(processes, gc_rounds, tag_moves); }

std::vector<Workload> FixedWorkloads() {
  std::vector<Workload> w;
  {
    // Two volumes on one digest, one deleted; a release over two mounts.
    SimConfig c = Base(1, 0, 0);
    c.scripts = {{Pull("s0", "", "models/a:v1"), Delete("s0", "")},
                 {Pull("d1", "m0", "models/a:v1"), Pull("d1", "m1", "models/b:v1"), Release("d1")}};
    w.push_back({"share-delete-release", c});
  }
  {
    // A re-pull after the tag moved (§2.1), then a delete.
    SimConfig c = Base(1, 0, 2);
    c.scripts = {{Pull("d0", "m0", "models/a:latest"), Pull("d0", "m0", "models/a:latest"), Delete("d0", "m0")}};
    w.push_back({"tag-move-repull", c});
  }
  {
    // A payload with no regular file (§2.3) and a partial pull beside it.
    SimConfig c = Base(1, 0, 0);
    c.scripts = {{Pull("s0", "", "models/empty:v1"), Partial("d0", "m1", "models/nested:v1"), Delete("d0", "m1")},
                 {Pull("s1", "", "models/empty:v1"), Release("s1")}};
    w.push_back({"no-regular-file-and-partial", c});
  }
  {
    // Two driver processes on one root pulling one digest (§2.4), with GC.
    SimConfig c = Base(2, 1, 0);
    c.scripts = {{Pull("s0", "", "models/c:latest")}, {Pull("s1", "", "models/c:latest"), Delete("s1", "")}};
    w.push_back({"two-processes-one-digest", c});
  }
  {
    // A static delete over a volume holding dynamic mounts.
    SimConfig c = Base(1, 0, 0);
    c.scripts = {{Pull("d0", "m0", "models/nested:v1"), Pull("d0", "m1", "models/a:v1"), Delete("d0", "")}};
    w.push_back({"static-delete-over-mounts", c});
  }
  return w;
}

// The campaign's extra workloads: the simulator's own seeded scripts.
std::vector<Workload> GeneratedWorkloads(int count) {
  std::vector<Workload> w;
  for (int i = 1; i <= count; ++i) {
    SimConfig c = Base(2, 2, 2);
    c.seed = static_cast<uint64_t>(i);
    c.strategy = "random";
    c.actors = 3;
    c.ops = 6;
    const sim::ModelPool pool = sim::MakeModelPool(c.seed);
    const SimConfig generator = c;  // MakeScript draws from the seed while scripts is empty
    for (int a = 0; a < c.actors; ++a) c.scripts.push_back(sim::MakeScript(generator, pool, a));
    w.push_back({"seeded-" + std::to_string(i), c});
  }
  return w;
}


struct Exploration {
  uint64_t steps = 0;        // of the crash-free run
  uint64_t points = 0;       // crash configs run
  uint64_t explored = 0;     // runs where the crash happened
  std::set<uint64_t> disks;  // distinct final disks after recovery
  std::vector<std::string> failures;
};

// Runs config with crash_steps, judged on every invariant.
void RunPoint(const Workload& w, std::vector<uint64_t> crash_steps, Exploration* e) {
  SimConfig c = w.config;
  c.crash_steps = crash_steps;
  const sim::SimReport r = sim::RunSimulation(c);
  ++e->points;
  if (r.crashes > 0) ++e->explored;
  e->disks.insert(r.state_hash);
  const sim::Violation* bad = nullptr;
  for (const sim::Violation& v : r.violations) {
    if (bad == nullptr && KnownOpenFinding(v).empty()) bad = &v;
  }
  if (bad == nullptr) return;
  std::string at;
  for (uint64_t k : crash_steps) at += (at.empty() ? "" : "+") + std::to_string(k);
  const std::string name = "crash-" + w.name + "-step" + at;
  const std::string invariant = bad->invariant;
  e->failures.push_back(name + ": " + DescribeFailure(r, invariant, SaveRegression(name, r)));
}

Exploration Explore(const Workload& w, bool pairs) {
  Exploration e;
  const sim::SimReport base = sim::RunSimulation(w.config);
  EXPECT_TRUE(base.ok()) << w.name << " fails without any crash: " << base.violations.front().invariant << ": "
                         << base.violations.front().detail;
  e.steps = base.steps;
  const auto [shard, shards] = ShardFromEnv();
  for (uint64_t k = 1; k <= base.steps; ++k) {
    if (k % shards != shard) continue;
    RunPoint(w, {k}, &e);
    // Crash pairs: a second crash in the recovery of the first, a few
    // steps later (the restart's sweep, the retried calls).
    if (pairs) {
      for (uint64_t d : {3u, 17u, 61u}) RunPoint(w, {k, k + d}, &e);
    }
  }
  return e;
}

void Report(const std::string& label, const std::vector<Workload>& workloads, bool pairs) {
  uint64_t total = 0, failures = 0;
  for (const Workload& w : workloads) {
    const Exploration e = Explore(w, pairs);
    total += e.explored;
    failures += e.failures.size();
    std::printf("[crash points] %-28s %5lu steps, %5lu crash runs, %5lu crashed and recovered, %4zu distinct disks, %zu failed\n",
                w.name.c_str(), e.steps, e.points, e.explored, e.disks.size(), e.failures.size());
    for (size_t i = 0; i < e.failures.size() && i < 3; ++i) ADD_FAILURE() << e.failures[i];
  }
  std::printf("[crash points] %s: %lu crash points explored, %lu failed\n", label.c_str(), total, failures);
  ::testing::Test::RecordProperty("crash_points", std::to_string(total));
  EXPECT_EQ(failures, 0u);
}

TEST(CrashPoints, EveryStepOfTheFixedWorkloadsKeepsI1AndI3) {
  Report("fixed workloads", FixedWorkloads(), CrashBudgetIsCampaign());
}

TEST(CrashPoints, EveryStepOfSeededWorkloadsKeepsI1AndI3) {
  if (!CrashBudgetIsCampaign()) GTEST_SKIP() << "campaign budget only (MS_CRASH_BUDGET=campaign)";
  Report("seeded workloads", GeneratedWorkloads(8), false);
}

}  // namespace
}  // namespace ms::prop
