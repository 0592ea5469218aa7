// SimRuntime: keyed locks that park fibers, the virtual clocks, the log, and
// what a crash does to held locks.
#include "sim/scheduling/sim_runtime.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/scheduling/scheduler.h"
#include "sim/scheduling/tests/scheduler_testing.h"

namespace ms::sim {
namespace {

using testing::MakeScheduler;

// actors x increments of a shared counter, each increment a read and a write
// split by a scheduling point; with_lock guards each increment with "counter".
struct CounterRun {
  int final_value = 0;
  int max_holders = 0;
  RunResult result;
};

CounterRun RunCounter(uint64_t seed, bool with_lock, int actors = 4, int increments = 25) {
  auto sched = MakeScheduler("random", seed);
  SimRuntime runtime(sched.get());
  CounterRun run;
  int holders = 0;
  for (int a = 0; a < actors; ++a) {
    sched->Spawn("incrementer-" + std::to_string(a), 0, [&] {
      for (int i = 0; i < increments; ++i) {
        if (with_lock) runtime.Lock("counter");
        run.max_holders = std::max(run.max_holders, ++holders);
        const int seen = run.final_value;
        sched->Yield("between read and write");
        run.final_value = seen + 1;
        --holders;
        if (with_lock) runtime.Unlock("counter");
      }
    });
  }
  run.result = sched->Run();
  return run;
}

TEST(SimRuntime, UnprotectedSplitIncrementLosesUpdates) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const CounterRun run = RunCounter(seed, /*with_lock=*/false);
    ASSERT_TRUE(run.result.ok()) << run.result.ToString();
    EXPECT_LT(run.final_value, 100) << "seed " << seed;
    EXPECT_GT(run.max_holders, 1) << "seed " << seed;
  }
}

TEST(SimRuntime, LockGivesMutualExclusion) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    const CounterRun run = RunCounter(seed, /*with_lock=*/true);
    ASSERT_TRUE(run.result.ok()) << run.result.ToString();
    EXPECT_EQ(run.final_value, 100) << "seed " << seed;
    EXPECT_EQ(run.max_holders, 1) << "seed " << seed;
  }
}

TEST(SimRuntime, OppositeLockOrderDeadlocksUnderRoundRobin) {
  auto sched = MakeScheduler("rr", 1);
  SimRuntime runtime(sched.get());
  sched->Spawn("ab", 0, [&] {
    ScopedLock a(&runtime, "a");
    ScopedLock b(&runtime, "b");
  });
  sched->Spawn("ba", 1, [&] {
    ScopedLock b(&runtime, "b");
    ScopedLock a(&runtime, "a");
  });
  const RunResult result = sched->Run();
  ASSERT_EQ(result.outcome, Outcome::kDeadlock) << result.ToString();
  ASSERT_EQ(result.parked.size(), 2u);
  EXPECT_EQ(result.parked[0].name, "ab");
  EXPECT_EQ(result.parked[0].waiting_on, "rt.lock b");
  EXPECT_EQ(result.parked[1].name, "ba");
  EXPECT_EQ(result.parked[1].waiting_on, "rt.lock a");
  EXPECT_NE(result.message.find("'ab'"), std::string::npos) << result.message;
  EXPECT_NE(result.message.find("'ba'"), std::string::npos) << result.message;
  // The unwind after the deadlock released what each held.
  EXPECT_EQ(runtime.held_count(), 0u);
}

TEST(SimRuntime, LockAndUnlockAreSchedulingPoints) {
  auto sched = MakeScheduler("rr", 1);
  SimRuntime runtime(sched.get());
  sched->Spawn("solo", 0, [&] { ScopedLock lock(&runtime, "k"); });
  ASSERT_TRUE(sched->Run().ok());
  const Trace& trace = sched->trace();
  ASSERT_EQ(trace.decisions.size(), 3u);
  EXPECT_EQ(trace.LabelOf(trace.decisions[1]), "rt.lock");
  EXPECT_EQ(trace.LabelOf(trace.decisions[2]), "rt.unlock");
}

TEST(SimRuntime, HolderIsTrackedByActorAndProcess) {
  auto sched = MakeScheduler("rr", 1);
  SimRuntime runtime(sched.get());
  std::optional<SimRuntime::Holder> seen;
  ActorId holder_id = kNoActor;
  holder_id = sched->Spawn("holder", 4, [&] {
    ScopedLock lock(&runtime, "k");
    seen = runtime.HolderOf("k");
  });
  ASSERT_TRUE(sched->Run().ok());
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(*seen, (SimRuntime::Holder{holder_id, 4}));
  EXPECT_FALSE(runtime.HolderOf("k").has_value());
}

TEST(SimRuntime, RelockingAHeldKeyIsReportedAsActorFailure) {
  auto sched = MakeScheduler("rr", 1);
  SimRuntime runtime(sched.get());
  sched->Spawn("reentrant", 0, [&] {
    ScopedLock outer(&runtime, "k");
    ScopedLock inner(&runtime, "k");
  });
  const RunResult result = sched->Run();
  ASSERT_EQ(result.outcome, Outcome::kActorFailed) << result.ToString();
  EXPECT_NE(result.message.find("not reentrant"), std::string::npos) << result.message;
  EXPECT_EQ(runtime.held_count(), 0u);  // the outer guard still released on the way out
}

TEST(SimRuntime, UnlockByANonHolderIsReported) {
  auto sched = MakeScheduler("rr", 1);
  SimRuntime runtime(sched.get());
  sched->Spawn("owner", 0, [&] {
    runtime.Lock("k");
    sched->Yield("hold");
    sched->Yield("hold");
    runtime.Unlock("k");
  });
  sched->Spawn("thief", 0, [&] { runtime.Unlock("k"); });
  const RunResult result = sched->Run();
  ASSERT_EQ(result.outcome, Outcome::kActorFailed) << result.ToString();
  EXPECT_NE(result.message.find("'thief'"), std::string::npos) << result.message;
  EXPECT_NE(result.message.find("does not hold 'k' (actor 0 does)"), std::string::npos) << result.message;
}

TEST(SimRuntime, MisuseInADestructorFailsTheRunWithoutTerminating) {
  auto sched = MakeScheduler("rr", 1);
  SimRuntime runtime(sched.get());
  struct SloppyGuard {  // unlocks a key it never locked
    SimRuntime* runtime;
    ~SloppyGuard() { runtime->Unlock("never-locked"); }
  };
  bool continued = false;
  sched->Spawn("sloppy", 0, [&] {
    { SloppyGuard guard{&runtime}; }
    continued = true;  // the step runs to its next scheduling point
    sched->Yield("next");
  });
  const RunResult result = sched->Run();
  ASSERT_EQ(result.outcome, Outcome::kActorFailed) << result.ToString();
  EXPECT_NE(result.message.find("does not hold 'never-locked' (nobody does)"), std::string::npos)
      << result.message;
  EXPECT_TRUE(continued);
}

TEST(SimRuntime, KillWhileParkedInAnUnlockFinishesTheReleaseFirst) {
  // The holder parks at the scheduling point inside ~ScopedLock's Unlock;
  // the kill must not unwind from inside that destructor (std::terminate),
  // so the victim completes the release and is unwound at its next point.
  auto sched = MakeScheduler("rr", 1);
  SimRuntime runtime(sched.get());
  int destroyed = 0;
  bool holder_after_release = false;
  bool holder_after_next_point = false;
  sched->Spawn("holder", 1, [&] {
    struct Counted {
      int* destroyed;
      ~Counted() { ++*destroyed; }
    } counted{&destroyed};
    { ScopedLock lock(&runtime, "k"); }
    holder_after_release = true;
    sched->Yield("after release");
    holder_after_next_point = true;
  });
  sched->Spawn("crash", 2, [&] {
    // rr: holder start, crash start, holder takes k and parks in rt.unlock.
    sched->Yield("aim");
    ASSERT_EQ(runtime.held_count(), 1u);
    sched->KillProcess(1);
    EXPECT_EQ(runtime.held_count(), 0u);
  });
  const RunResult result = sched->Run();
  ASSERT_TRUE(result.ok()) << result.ToString();
  EXPECT_TRUE(holder_after_release);
  EXPECT_FALSE(holder_after_next_point);
  EXPECT_EQ(destroyed, 1);
  const Trace& trace = sched->trace();
  EXPECT_EQ(trace.LabelOf(trace.decisions[3]), "aim");  // the crash ran while holder sat in rt.unlock
}

TEST(SimRuntime, KillInsideNestedUnlocksReleasesEveryLockBeforeUnwinding) {
  auto sched = MakeScheduler("rr", 1);
  SimRuntime runtime(sched.get());
  bool past_both = false;
  sched->Spawn("holder", 1, [&] {
    {
      ScopedLock outer(&runtime, "outer");
      ScopedLock inner(&runtime, "inner");
    }  // parks in inner's rt.unlock and is killed there; outer's release
       // is a cleanup point too, passed through without parking
    past_both = true;  // local code runs on to the next ordinary point
    runtime.Lock("after");  // its rt.lock is ordinary: the unwind starts here
  });
  sched->Spawn("crash", 2, [&] {
    // rr: ready right after the holder parks in inner's release.
    sched->WaitUntil([&] { return runtime.held_count() == 2; }, "both held");
    // The holder's last step resumed from Lock(inner)'s rt.lock, took it, and
    // ended parked in inner's rt.unlock.
    const Trace& trace = sched->trace();
    const TraceDecision& holder_step = trace.decisions[trace.decisions.size() - 2];
    EXPECT_EQ(holder_step.actor, 0u);
    EXPECT_EQ(trace.LabelOf(holder_step), "rt.lock");
    sched->KillProcess(1);
  });
  const RunResult result = sched->Run();
  ASSERT_TRUE(result.ok()) << result.ToString();
  EXPECT_TRUE(past_both);
  EXPECT_EQ(runtime.held_count(), 0u);  // "after" was never taken
  EXPECT_TRUE(runtime.misuses().empty());
}

TEST(SimRuntime, DyingActorsLockTakesNothingAndNeverWaits) {
  auto sched = MakeScheduler("rr", 1);
  SimRuntime runtime(sched.get());
  struct LocksOnTheWayOut {
    SimRuntime* runtime;
    ~LocksOnTheWayOut() {
      runtime->Lock("held-by-other");  // would wait forever: must not
      runtime->Lock("free");           // must not be taken by a dead actor
    }
  };
  sched->Spawn("other", 0, [&] {
    ScopedLock lock(&runtime, "held-by-other");
    sched->SleepUntil(100);
  });
  sched->Spawn("victim", 1, [&] {
    LocksOnTheWayOut guard{&runtime};
    for (;;) sched->Yield("spin");
  });
  sched->Spawn("crash", 2, [&] {
    sched->Yield("aim");
    sched->KillProcess(1);
    EXPECT_FALSE(runtime.HolderOf("free").has_value());
  });
  const RunResult result = sched->Run();
  ASSERT_TRUE(result.ok()) << result.ToString();
  EXPECT_EQ(runtime.held_count(), 0u);
}

TEST(SimRuntime, ClocksFollowTheVirtualClock) {
  auto sched = MakeScheduler("rr", 1);
  SimRuntime runtime(sched.get());
  int64_t now = -1;
  int64_t wall = -1;
  sched->Spawn("sleeper", 0, [&] {
    runtime.SleepMs(250);
    now = runtime.NowMs();
    wall = runtime.WallNowMs();
  });
  ASSERT_TRUE(sched->Run().ok());
  EXPECT_EQ(now, 250);
  EXPECT_EQ(wall, kSimEpochMs + 250);
}

TEST(SimRuntime, LogIsTimestampedAndCountedByLevel) {
  auto sched = MakeScheduler("rr", 1);
  SimRuntime runtime(sched.get());
  sched->Spawn("logger", 0, [&] {
    runtime.Log(LogLevel::kInfo, "pulled");
    runtime.SleepMs(20);
    runtime.Log(LogLevel::kError, "gc failed: EIO");
    runtime.Log(LogLevel::kError, "gc failed again");
  });
  ASSERT_TRUE(sched->Run().ok());
  EXPECT_EQ(runtime.log(), (std::vector<std::string>{"0 INFO pulled", "20 ERROR gc failed: EIO",
                                                     "20 ERROR gc failed again"}));
  EXPECT_EQ(runtime.log_count(LogLevel::kError), 2u);
  EXPECT_EQ(runtime.log_count(LogLevel::kInfo), 1u);
  EXPECT_EQ(runtime.log_count(LogLevel::kWarning), 0u);
}

TEST(SimRuntime, KilledHolderReleasesThroughItsScopedLock) {
  auto sched = MakeScheduler("rr", 1);
  SimRuntime runtime(sched.get());
  bool waiter_got_it = false;
  sched->Spawn("holder", 1, [&] {
    ScopedLock lock(&runtime, "entry");
    for (;;) runtime.SleepMs(1000);
  });
  sched->Spawn("waiter", 0, [&] {
    ScopedLock lock(&runtime, "entry");
    waiter_got_it = true;
  });
  sched->Spawn("crash", 2, [&] {
    runtime.SleepMs(5000);
    sched->KillProcess(1);
  });
  const RunResult result = sched->Run();
  ASSERT_TRUE(result.ok()) << result.ToString();
  EXPECT_TRUE(waiter_got_it);
  EXPECT_EQ(runtime.held_count(), 0u);
  EXPECT_EQ(result.end_ms, 5000);
}

TEST(SimRuntime, ReleaseAllOfFreesACrashedProcessLocks) {
  auto sched = MakeScheduler("rr", 1);
  SimRuntime runtime(sched.get());
  bool waiter_got_it = false;
  size_t released = 0;
  sched->Spawn("leaky", 1, [&] {
    runtime.Lock("a");  // no guard: only the crash cleanup can free these
    runtime.Lock("b");
    for (;;) sched->Yield("hold");
  });
  sched->Spawn("waiter", 0, [&] {
    sched->WaitUntil([&] { return runtime.held_count() == 2; }, "leaky holds both");
    ScopedLock lock(&runtime, "b");
    waiter_got_it = true;
  });
  sched->Spawn("crash", 2, [&] {
    sched->WaitUntil([&] { return runtime.contended_count() == 1; }, "waiter waits on b");
    sched->KillProcess(1);
    EXPECT_EQ(runtime.held_count(), 2u);
    released = runtime.ReleaseAllOf(1);
  });
  const RunResult result = sched->Run();
  ASSERT_TRUE(result.ok()) << result.ToString();
  EXPECT_EQ(released, 2u);
  EXPECT_TRUE(waiter_got_it);
  EXPECT_GE(runtime.contended_count(), 1u);
}

TEST(SimRuntime, WorksUnderTheInlineExecutor) {
  InlineExecutor executor;
  executor.set_process(3);
  SimRuntime runtime(&executor);
  runtime.Lock("k");
  EXPECT_EQ(runtime.HolderOf("k"), (SimRuntime::Holder{0, 3}));
  runtime.Lock("k");  // reentrant: a misuse, recorded, nothing taken
  ASSERT_EQ(runtime.misuses().size(), 1u);
  EXPECT_NE(runtime.misuses()[0].find("not reentrant"), std::string::npos);
  runtime.Unlock("k");
  EXPECT_EQ(runtime.held_count(), 0u);
  runtime.Unlock("k");  // not held: a misuse too
  EXPECT_EQ(runtime.misuses().size(), 2u);
  runtime.SleepMs(40);
  EXPECT_EQ(runtime.NowMs(), 40);
  EXPECT_EQ(runtime.WallNowMs(), kSimEpochMs + 40);
}

}  // namespace
}  // namespace ms::sim
