// The simulator end to end: determinism, replay, a clean store passing, and
// a deliberately broken store caught with a replayable trace.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "core/volume_status.h"
#include "sim/checking/invariant_checker.h"
#include "sim/filesystem/sim_filesystem.h"
#include "sim/scheduling/executor.h"
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
    // One copy per layer: exactly the unique bytes of the layers the
    // active records list (the pool's families share layers, so one copy
    // per manifest would be more).
    EXPECT_EQ(r.footprint.bytes_on_disk, r.footprint.unique_blob_bytes);
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

namespace ms::sim {
namespace {

// --- The hostile registry (DESIGN §8) and its oracle, I7 results ------------

TEST(SimulatorHostile, ItsKeysAppearInTheTraceOnlyWhenSetAndRoundTrip) {
  SimConfig c = Small(3);
  EXPECT_EQ(c.ToText().find("hostile"), std::string::npos) << "old traces read and write as before";
  c.hostile_rate = 0.25;
  c.hostile_classes = {"tar-fifo", "path-nul"};
  auto parsed = SimConfig::Parse(c.ToText());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->hostile_rate, 0.25);
  EXPECT_EQ(parsed->hostile_classes, c.hostile_classes);
  auto bad = SimConfig::Parse("hostile_classes=tar-fifo,no-such-class\n");
  ASSERT_EQ(bad.code(), Code::kCorrupt);
  EXPECT_NE(bad.status().message().find("no-such-class"), std::string::npos) << bad.status().ToString();
  EXPECT_EQ(SimConfig::Parse("hostile_rate=1.5\n").code(), Code::kCorrupt);
}

TEST(SimulatorHostile, HostileDrawsChangeOnlyReferencesFromAStreamOfTheirOwn) {
  const ModelPool pool = MakeModelPool(11);
  SimConfig honest = Small(11);
  SimConfig hostile = honest;
  hostile.hostile_rate = 0.5;
  hostile.hostile_classes = {"path-absolute"};
  size_t changed = 0;
  for (int actor = 0; actor < honest.actors; ++actor) {
    const auto a = MakeScript(honest, pool, actor);
    const auto b = MakeScript(hostile, pool, actor);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].kind, b[i].kind);
      EXPECT_EQ(a[i].volume, b[i].volume);
      EXPECT_EQ(a[i].mount, b[i].mount);
      if (a[i].reference != b[i].reference) {
        EXPECT_EQ(b[i].reference, "hostile/path-absolute:v1");
        ++changed;
      }
    }
  }
  EXPECT_GT(changed, 0u);
}

TEST(SimulatorHostile, EveryClassIsRefusedNamingItsInputOrPulledIfWhole) {
  SimConfig c;
  c.seed = 9;
  c.processes = 1;
  c.gc_rounds = 1;
  c.tag_moves = 0;
  c.scripts.resize(1);
  for (HostileClass cls : AllHostileClasses()) {
    c.scripts[0].push_back({OpKind::kPull, "d0", "m0", HostileReference(cls)});
    c.scripts[0].push_back({OpKind::kDelete, "d0", "m0", ""});
  }
  const SimReport r = RunSimulation(c);
  ASSERT_TRUE(r.ok()) << r.violations.front().invariant << ": " << r.violations.front().detail;
  for (HostileClass cls : AllHostileClasses()) {
    const HostileTally& t = r.hostile.at(std::string(HostileClassName(cls)));
    EXPECT_EQ(t.served, 1u) << HostileClassName(cls);
    EXPECT_EQ(t.refused, 1u) << HostileClassName(cls);
  }
  EXPECT_EQ(r.footprint.entries, 0u) << "nothing of them stays";
}

TEST(SimulatorHostile, ARecordSucceededOnAHostileDigestIsI7) {
  InlineExecutor exec;
  SimFilesystem fs(&exec);
  const std::string record = "/root/volumes/s0";
  ASSERT_TRUE(fs.MakeDirsForTest(record).ok());
  InvariantChecker checker(&fs, "/root", {record});
  const std::string digest = "sha256:" + std::string(64, 'a');
  checker.AddHostile(digest, "path-absolute (hostile/path-absolute:v1)");
  VolumeStatus status{"s0", "", "hostile/path-absolute:v1", digest, digest, VolumeState::kSucceeded, false, ""};
  ASSERT_TRUE(fs.WriteFileForTest(record + "/status.json", EncodeStatus(status)).ok());
  checker.MarkAllDirty();
  checker.AfterStep(1);
  ASSERT_TRUE(checker.Failed("I7 results"));
  EXPECT_NE(checker.violations().front().detail.find("path-absolute"), std::string::npos);
}

TEST(SimulatorHostile, AChangeOutsideTheRootIsI5WhateverPathItWasMadeThrough) {
  InlineExecutor exec;
  SimFilesystem fs(&exec);
  ASSERT_TRUE(fs.MakeDirsForTest("/node/root").ok());
  ASSERT_TRUE(fs.MakeDirsForTest("/node/sibling").ok());
  InvariantChecker checker(&fs, "/node/root", {});
  checker.SnapshotOutside();
  ASSERT_TRUE(fs.WriteFileForTest("/node/root/inside", "x").ok());
  checker.CheckOutside(1, "after an inside write");
  EXPECT_FALSE(checker.Failed("I5 confinement"));
  // A link inside, and a write through it: the call's path is inside.
  ASSERT_TRUE(fs.Symlink("../sibling", "/node/root/link").ok());
  auto file = fs.NewWritableFile("/node/root/link/escaped", 0644);
  ASSERT_TRUE(file.ok());
  checker.CheckOutside(2, "after a write through a symlink");
  EXPECT_TRUE(checker.Failed("I5 confinement"));
}

TEST(SimulatorHostile, AStoreCallWithADotDotComponentIsI5EvenIfItLooksInside) {
  InlineExecutor exec;
  SimFilesystem fs(&exec);
  InvariantChecker checker(&fs, "/node/root", {});
  checker.OnCall(CallInfo{1, FsOp::kMakeDir, "fs.mkdir", "/node/root/store/.lock-ish/.hidden", ""});
  EXPECT_FALSE(checker.Failed("I5 confinement")) << "names that start with a dot are names";
  checker.OnCall(CallInfo{2, FsOp::kNewWritableFile, "fs.create", "/node/root/store/x/data.tmp/../../../../sibling/f", ""});
  EXPECT_TRUE(checker.Failed("I5 confinement"));
}

}  // namespace
}  // namespace ms::sim

namespace ms::sim {
namespace {

// The node-wide fetch bound (VolumeOptions::fetches_max), judged by I2 at
// every step against the registry's blob fetches in flight.
TEST(SimulatorFetchBound, ABoundOfOneIsKeptAndReached) {
  uint64_t reached = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    SimConfig c = Small(seed);
    c.fetches_max = 1;
    c.fault_rate = 0.01;
    const SimReport r = RunSimulation(c);
    ASSERT_TRUE(r.ok()) << "seed " << seed << ": " << r.violations.front().invariant << ": "
                        << r.violations.front().detail;
    EXPECT_LE(r.blob_fetches_in_flight_peak, 1u) << "seed " << seed;
    if (r.blob_fetches_in_flight_peak == 1) ++reached;
  }
  EXPECT_GT(reached, 0u) << "no seed fetched a blob at all";
}

TEST(SimulatorFetchBound, UnboundedConcurrencyExistsInTheWorkload) {
  // Without a tight bound several pulls fetch at once somewhere: the
  // bound of one above is a real restriction, not a property of the
  // workload.
  uint64_t peak = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    SimConfig c = Small(seed);
    c.fetches_max = 64;
    peak = std::max(peak, RunSimulation(c).blob_fetches_in_flight_peak);
  }
  EXPECT_GT(peak, 1u);
}

TEST(SimulatorFetchBound, TheKeyIsInTheTraceOnlyWhenNotTheDefaultAndRoundTrips) {
  SimConfig c = Small(3);
  EXPECT_EQ(c.ToText().find("fetches_max"), std::string::npos);
  c.fetches_max = 2;
  EXPECT_NE(c.ToText().find("fetches_max=2\n"), std::string::npos);
  auto parsed = SimConfig::Parse(c.ToText());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->fetches_max, 2);
  EXPECT_EQ(SimConfig::Parse("fetches_max=0\n").code(), Code::kCorrupt);
}

TEST(SimulatorFetchBound, TheSwarmDrawsTightBoundsAndTheDefault) {
  const SimConfig base = DefaultCampaignConfig();
  std::set<int> drawn;
  for (uint64_t seed = 1; seed <= 64; ++seed) drawn.insert(SwarmConfig(base, seed).fetches_max);
  EXPECT_EQ(drawn, (std::set<int>{1, 2, 8}));
}

TEST(InvariantCheckerFetchBound, MoreFetchesInFlightThanTheBoundIsI2) {
  InlineExecutor exec;
  SimFilesystem fs(&exec);
  InvariantChecker checker(&fs, "/r", {});
  checker.CheckFetchesInFlight(/*step=*/5, /*in_flight=*/2, /*fetches_max=*/2);
  EXPECT_TRUE(checker.violations().empty());
  checker.CheckFetchesInFlight(/*step=*/6, /*in_flight=*/3, /*fetches_max=*/2);
  ASSERT_EQ(checker.violations().size(), 1u);
  EXPECT_EQ(checker.violations().front().invariant, "I2 dedup");
  EXPECT_EQ(checker.violations().front().step, 6u);
  EXPECT_NE(checker.violations().front().detail.find("fetches_max=2"), std::string::npos);
}

}  // namespace
}  // namespace ms::sim
