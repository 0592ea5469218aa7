// The simulator end to end: determinism, replay, a clean store passing, and
// a deliberately broken store caught with a replayable trace.
#include <gtest/gtest.h>

#include "sim/workload/simulator.h"

namespace ms::sim {
namespace {

SimConfig Small(uint64_t seed) {
  SimConfig c;
  c.seed = seed;
  c.actors = 3;
  c.ops = 8;
  c.processes = 2;
  return c;
}

TEST(Simulator, TheSameSeedGivesAByteIdenticalTraceFile) {
  SimConfig c = Small(7);
  c.fault_rate = 0.01;
  c.crash_rate = 0.001;
  const SimReport a = RunSimulation(c);
  const SimReport b = RunSimulation(c);
  EXPECT_EQ(a.trace_file, b.trace_file);
  EXPECT_EQ(a.state_hash, b.state_hash);
  EXPECT_GT(a.steps, 100u);
}

TEST(Simulator, DifferentSeedsGiveDifferentTraces) {
  const SimReport a = RunSimulation(Small(1));
  const SimReport b = RunSimulation(Small(2));
  EXPECT_NE(a.trace_hash, b.trace_hash);
}

TEST(Simulator, ACleanStoreKeepsEveryInvariantUnderFaultsAndCrashes) {
  uint64_t crashes = 0, faults = 0;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SimConfig c = Small(seed);
    c.fault_rate = 0.01;
    c.crash_rate = 0.002;
    const SimReport r = RunSimulation(c);
    crashes += r.crashes;
    faults += r.fs_faults + r.registry_faults;
    ASSERT_TRUE(r.ok()) << "seed " << seed << ": " << r.violations.front().invariant << ": "
                        << r.violations.front().detail;
    EXPECT_EQ(r.footprint.bytes_on_disk, r.footprint.unique_referenced);
  }
  EXPECT_GT(crashes, 0u) << "the crash path was never exercised";
  EXPECT_GT(faults, 0u) << "no fault was ever injected";
}

TEST(Simulator, ReplayOfATraceFileReproducesTheRunExactly) {
  SimConfig c = Small(11);
  c.crash_rate = 0.002;
  const SimReport original = RunSimulation(c);
  auto parsed = ParseTraceFile(original.trace_file);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->first.ToText(), c.ToText());
  const SimReport replayed =
      RunSimulation(parsed->first, std::make_shared<const Trace>(std::move(parsed->second)));
  EXPECT_EQ(replayed.trace_hash, original.trace_hash);
  EXPECT_EQ(replayed.state_hash, original.state_hash);
  EXPECT_EQ(replayed.ok(), original.ok());
}

TEST(Simulator, ABrokenStoreWithoutItsEntryLockIsCaughtWithAReplayableTrace) {
  // The checker must fail on a store that skips its per-digest lock.
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    SimConfig c = Small(seed);
    c.break_entry_lock = true;
    const SimReport r = RunSimulation(c);
    if (r.ok()) continue;
    const std::string invariant = r.violations.front().invariant;
    EXPECT_TRUE(invariant == "I1 no-referenced-loss" || invariant == "I2 dedup" ||
                invariant == "I3 footprint" || invariant == "I7 results")
        << invariant << ": " << r.violations.front().detail;
    EXPECT_FALSE(r.history.empty());
    // The same verdict from the trace file alone.
    auto parsed = ParseTraceFile(r.trace_file);
    ASSERT_TRUE(parsed.ok());
    const SimReport again =
        RunSimulation(parsed->first, std::make_shared<const Trace>(std::move(parsed->second)));
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.violations.front().invariant, invariant);
    EXPECT_EQ(again.violations.front().step, r.violations.front().step);
    return;
  }
  FAIL() << "60 seeds of a store without its entry lock and no invariant failed";
}

TEST(Simulator, ATraceFileThatIsNotOneIsAClearError) {
  EXPECT_EQ(ParseTraceFile("hello").code(), Code::kCorrupt);
  EXPECT_EQ(ParseTraceFile("modelstore-sim trace v1\nseed=1\n").code(), Code::kCorrupt);
  auto bad_key = ParseTraceFile("modelstore-sim trace v1\nbogus=1\n---\n");
  EXPECT_EQ(bad_key.code(), Code::kCorrupt);
  EXPECT_NE(bad_key.status().message().find("bogus"), std::string::npos);
}

}  // namespace
}  // namespace ms::sim

namespace ms::sim {
namespace {

SimConfig Explicit() {
  SimConfig c;
  c.seed = 5;
  c.processes = 1;
  c.gc_rounds = 0;
  c.tag_moves = 0;
  c.scripts = {{{OpKind::kPull, "s0", "", "models/a:v1"}, {OpKind::kDelete, "s0", "", ""}},
               {{OpKind::kPull, "d1", "m0", "models/a:v1"}}};
  return c;
}

TEST(SimulatorExplicit, ScriptsCrashStepsAndFaultsRoundTripThroughTheTraceFile) {
  SimConfig c = Explicit();
  c.crash_steps = {40};
  c.faults_at = {{30, Code::kNoSpace}};
  auto parsed = SimConfig::Parse(c.ToText());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->scripts, c.scripts);
  EXPECT_EQ(parsed->crash_steps, c.crash_steps);
  EXPECT_EQ(parsed->faults_at, c.faults_at);
}

TEST(SimulatorExplicit, AnExplicitScriptRunsExactlyThoseOperations) {
  const SimReport r = RunSimulation(Explicit());
  ASSERT_TRUE(r.ok()) << r.violations.front().detail;
  EXPECT_EQ(r.crashes, 0u);
  // Two scripted pulls plus the final reconciliation of d1/m0; one delete.
  EXPECT_EQ(r.ops.at("pull"), 3u);
  EXPECT_EQ(r.ops.at("delete"), 2u);  // scripted, then reconciled
  EXPECT_EQ(r.footprint.referenced_digests, 1u);
}

TEST(SimulatorExplicit, AnExplicitCrashStepAndFaultHappen) {
  SimConfig c = Explicit();
  c.crash_steps = {25};
  c.faults_at = {{10, Code::kIo}};
  const SimReport r = RunSimulation(c);
  EXPECT_EQ(r.crashes, 1u);
  EXPECT_GE(r.fs_faults, 1u);
  EXPECT_TRUE(r.ok()) << r.violations.front().detail;
}

}  // namespace
}  // namespace ms::sim
