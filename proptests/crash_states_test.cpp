// Exhaustive crash states (CrashMonkey-style, sim/workload/crash_explorer.h):
// the standard small workloads — publish, unpublish, release, tag move, GC
// and sweep, each with one and with two volumes of one digest — crashed at
// every persistence point into every distinct legal post-crash state of each
// persistence model (adversarial, ordered-metadata, journaled), up to a
// bound per point, the store restarted on each. Every invariant must hold,
// I8 recovery included.
//
// Each workload and model prints one line (points, states explored, points
// whose states were cut at the bound, failures, wall time) and records the
// states as the test property crash_states. Budgets: a small bound in
// `./run test`; MS_CRASH_BUDGET=campaign (./run campaign) a large one, and
// MS_SHARD=I/N explores only the points with index I modulo N; the campaign
// adds a workload of two driver processes.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "proptests/crash_workloads.h"
#include "proptests/prop_support.h"
#include "sim/workload/crash_explorer.h"

namespace ms::prop {
namespace {

using sim::SimConfig;

SimConfig Base(std::vector<sim::ClientOp> script) {
  SimConfig c = FixedBase(1, 0, 0);
  c.scripts = {std::move(script)};
  return c;
}

const std::string kA = "models/a:v1";

// A tag move between two pulls of models/c:latest (seed 3 moves it to c2
// after the first pull); a GC actor's rounds (seed 2's: a sweep and a
// maybe_gc).
SimConfig TagMove(std::vector<sim::ClientOp> script) {
  SimConfig c = Base(std::move(script));
  c.seed = 3;
  c.tag_moves = 1;
  c.tag_moves_spread = true;
  return c;
}
SimConfig WithGc(std::vector<sim::ClientOp> script) {
  SimConfig c = Base(std::move(script));
  c.seed = 2;
  c.gc_rounds = 2;
  return c;
}

std::vector<Workload> StandardWorkloads() {
  const std::string c = "models/c:latest";
  return {
      {"publish-1", Base({Pull("s0", "", kA)})},
      {"publish-2", Base({Pull("s0", "", kA), Pull("d0", "m0", kA)})},
      // A partial publish bypasses the store: its model is the volume's own.
      {"publish-partial", Base({Partial("s0", "", kA), Delete("s0", "")})},
      {"unpublish-1", Base({Pull("s0", "", kA), Delete("s0", "")})},
      {"unpublish-2", Base({Pull("s0", "", kA), Pull("d0", "m0", kA), Delete("d0", "m0")})},
      {"release-1", Base({Pull("d0", "m0", kA), Release("d0")})},
      {"release-2", Base({Pull("s0", "", kA), Pull("d0", "m0", kA), Release("d0")})},
      {"tag-move-1", TagMove({Pull("s0", "", c), Pull("s0", "", c)})},
      {"tag-move-2", TagMove({Pull("s0", "", c), Pull("d0", "m0", c), Pull("s0", "", c)})},
      // A publish after its digest was collected links whatever the
      // collection's crash left, so each GC workload ends with one.
      {"gc-1", WithGc({Pull("s0", "", kA), Delete("s0", ""), Pull("d0", "m1", kA)})},
      {"gc-2", WithGc({Pull("s0", "", kA), Pull("d0", "m0", kA), Delete("s0", ""), Delete("d0", "m0"), Pull("d0", "m1", kA)})},
  };
}

// The campaign's extra: two driver processes sharing the root, each
// publishing the digest, one unpublishing it, with GC.
std::vector<Workload> CampaignWorkloads() {
  SimConfig c = WithGc({Pull("s0", "", kA), Delete("s0", "")});
  c.processes = 2;
  c.scripts.push_back({Pull("s1", "", kA), Pull("d1", "m0", kA)});
  return {{"two-processes", c}};
}

TEST(CrashStates, EveryLegalStateAtEveryPersistencePointOfTheStandardWorkloadsRecovers) {
  sim::CrashExplorationOptions options;
  options.states_max = CrashBudgetIsCampaign() ? 4096 : 12;
  const auto [shard, shards] = ShardFromEnv();
  options.shard = shard;
  options.shards = shards;
  uint64_t total_states = 0, total_failed = 0;
  std::vector<Workload> workloads = StandardWorkloads();
  if (CrashBudgetIsCampaign()) {
    for (Workload& w : CampaignWorkloads()) workloads.push_back(std::move(w));
  }
  for (const Workload& w : workloads) {
    for (sim::PersistenceModel model : sim::kPersistenceModels) {
      SimConfig config = w.config;
      config.crash_model = std::string(sim::PersistenceModelName(model));
      const std::string label = w.name + " " + config.crash_model;
      options.on_failure = [&](const sim::SimReport& r) {
        SaveRegression("crash-states-" + w.name + "-" + config.crash_model, r);
      };
      const auto start = std::chrono::steady_clock::now();
      const sim::CrashExploration e = sim::ExploreCrashStates(config, options);
      const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("[crash states] %-14s %-16s %4lu steps, %3lu points, %5lu states explored (bound %lu: %lu points cut), %lu failed, %.2f s\n",
                  w.name.c_str(), config.crash_model.c_str(), e.steps, e.points, e.states, options.states_max,
                  e.bounded_points, e.failed, wall_s);
      EXPECT_GT(e.states, e.points) << label << ": a workload without pending changes at its crash points proves nothing";
      for (const std::string& f : e.failures) ADD_FAILURE() << label << ": " << f;
      total_states += e.states;
      total_failed += e.failed;
    }
  }
  std::printf("[crash states] standard workloads: %lu states explored, %lu failed\n", total_states, total_failed);
  ::testing::Test::RecordProperty("crash_states", std::to_string(total_states));
  EXPECT_EQ(total_failed, 0u);
}

}  // namespace
}  // namespace ms::prop
