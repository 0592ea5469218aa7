// The deterministic scheduler: strategies, replay, deadlock and step limits,
// the virtual clock, process kills, failures and the step observer.
#include "sim/scheduling/scheduler.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sim/scheduling/tests/scheduler_testing.h"

namespace ms::sim {
namespace {

using testing::ActorsOf;
using testing::MakeScheduler;
using testing::OptionsFor;

// count actors, each yielding `yields` times: 1 + yields steps each.
void SpawnYielders(Scheduler* sched, int count, int yields) {
  for (int a = 0; a < count; ++a) {
    sched->Spawn("yielder-" + std::to_string(a), 0, [sched, yields] {
      for (int i = 0; i < yields; ++i) sched->Yield("work");
    });
  }
}

// Counts destructions: stands for any RAII resource an actor holds.
struct Guard {
  explicit Guard(int* destroyed) : destroyed_(destroyed) {}
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
  ~Guard() { ++*destroyed_; }
  int* destroyed_;
};

// ---------------------------------------------------------------- strategies

TEST(SchedulerRoundRobin, AlternatesBetweenActors) {
  auto sched = MakeScheduler("rr", 1);
  SpawnYielders(sched.get(), 2, 3);
  const RunResult result = sched->Run();
  ASSERT_TRUE(result.ok()) << result.ToString();
  EXPECT_EQ(ActorsOf(sched->trace()), (std::vector<ActorId>{0, 1, 0, 1, 0, 1, 0, 1}));
}

TEST(SchedulerRoundRobin, SkipsActorsThatFinished) {
  auto sched = MakeScheduler("rr", 1);
  sched->Spawn("short", 0, [&] { sched->Yield("work"); });
  sched->Spawn("long", 0, [&] {
    for (int i = 0; i < 3; ++i) sched->Yield("work");
  });
  sched->Spawn("mid", 0, [&] {
    for (int i = 0; i < 2; ++i) sched->Yield("work");
  });
  ASSERT_TRUE(sched->Run().ok());
  EXPECT_EQ(ActorsOf(sched->trace()), (std::vector<ActorId>{0, 1, 2, 0, 1, 2, 1, 2, 1}));
}

TEST(SchedulerRandom, SameSeedGivesIdenticalTrace) {
  auto first = MakeScheduler("random", 7);
  auto second = MakeScheduler("random", 7);
  SpawnYielders(first.get(), 4, 10);
  SpawnYielders(second.get(), 4, 10);
  const RunResult a = first->Run();
  const RunResult b = second->Run();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(first->trace().decisions, second->trace().decisions);
  EXPECT_EQ(a.trace_hash, b.trace_hash);
}

TEST(SchedulerRandom, DifferentSeedsGiveDifferentTraces) {
  std::set<uint64_t> hashes;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    auto sched = MakeScheduler("random", seed);
    SpawnYielders(sched.get(), 4, 10);
    const RunResult result = sched->Run();
    ASSERT_TRUE(result.ok()) << result.ToString();
    EXPECT_EQ(result.steps, 44u);
    hashes.insert(result.trace_hash);
  }
  EXPECT_EQ(hashes.size(), 8u);
}

TEST(SchedulerRandom, PicksEveryRunnableActorSometimes) {
  auto sched = MakeScheduler("random", 3);
  SpawnYielders(sched.get(), 3, 200);
  ASSERT_TRUE(sched->Run().ok());
  // Count how often each actor was picked while all three were still live
  // (the first 150 decisions: no actor can have finished its 201 steps).
  std::map<ActorId, int> picks;
  for (size_t i = 0; i < 150; ++i) ++picks[sched->trace().decisions[i].actor];
  for (ActorId id = 0; id < 3; ++id) EXPECT_GT(picks[id], 25) << "actor " << id;
}

// Number of context switches away from an actor that still had steps to run.
int Preemptions(const std::vector<ActorId>& order) {
  std::map<ActorId, size_t> last;
  for (size_t i = 0; i < order.size(); ++i) last[order[i]] = i;
  int preemptions = 0;
  for (size_t i = 1; i < order.size(); ++i) {
    if (order[i] != order[i - 1] && last[order[i - 1]] > i) ++preemptions;
  }
  return preemptions;
}

TEST(SchedulerPct, DepthOneRunsHighestPriorityActorToCompletion) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    auto sched = MakeScheduler("pct:1", seed);
    SpawnYielders(sched.get(), 4, 5);
    ASSERT_TRUE(sched->Run().ok());
    const std::vector<ActorId> order = ActorsOf(sched->trace());
    EXPECT_EQ(Preemptions(order), 0) << "seed " << seed;
    // Blocks run in descending priority order.
    auto& pct = dynamic_cast<PctStrategy&>(sched->strategy());
    std::vector<ActorId> by_priority = {0, 1, 2, 3};
    std::sort(by_priority.begin(), by_priority.end(),
              [&](ActorId a, ActorId b) { return pct.priority(a) > pct.priority(b); });
    std::vector<ActorId> blocks;
    for (size_t i = 0; i < order.size(); ++i) {
      if (i == 0 || order[i] != order[i - 1]) blocks.push_back(order[i]);
    }
    EXPECT_EQ(blocks, by_priority) << "seed " << seed;
  }
}

TEST(SchedulerPct, DepthThreePreemptsAtMostTwiceAndSometimesDoes) {
  int runs_with_preemption = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SchedulerOptions options = OptionsFor("pct:3", seed);
    options.pct_expected_steps = 24;  // 4 actors x 6 steps
    Scheduler sched(options);
    SpawnYielders(&sched, 4, 5);
    ASSERT_TRUE(sched.Run().ok());
    const int preemptions = Preemptions(ActorsOf(sched.trace()));
    EXPECT_LE(preemptions, 2) << "seed " << seed;
    EXPECT_EQ(dynamic_cast<PctStrategy&>(sched.strategy()).change_points().size(), 2u);
    if (preemptions > 0) ++runs_with_preemption;
  }
  EXPECT_GT(runs_with_preemption, 10);
}

TEST(SchedulerPct, ChangePointLowersTheActorThatRanThatStep) {
  SchedulerOptions options = OptionsFor("pct:2", 5);
  options.pct_expected_steps = 10;
  Scheduler sched(options);
  SpawnYielders(&sched, 2, 9);
  ASSERT_TRUE(sched.Run().ok());
  auto& pct = dynamic_cast<PctStrategy&>(sched.strategy());
  ASSERT_EQ(pct.change_points().size(), 1u);
  const uint64_t change = pct.change_points()[0].step;
  const std::vector<ActorId> order = ActorsOf(sched.trace());
  // The actor that ran step number `change` (index change-1) was lowered, so
  // the other one runs next and to completion (10 steps), then the first.
  const ActorId lowered = order[change - 1];
  EXPECT_EQ(pct.priority(lowered), 1u);
  for (size_t i = 0; i < change; ++i) EXPECT_EQ(order[i], lowered) << i;
  for (size_t i = change; i < change + 10; ++i) EXPECT_NE(order[i], lowered) << i;
}

TEST(SchedulerSpec, ParsesEveryStrategy) {
  EXPECT_EQ(ParseStrategySpec("random").value().kind, StrategySpec::Kind::kRandom);
  EXPECT_EQ(ParseStrategySpec("rr").value().kind, StrategySpec::Kind::kRoundRobin);
  EXPECT_EQ(ParseStrategySpec("pct:3").value().pct_depth, 3);
  EXPECT_EQ(ParseStrategySpec("replay").value().kind, StrategySpec::Kind::kReplay);
  EXPECT_EQ(ParseStrategySpec("replay:/tmp/t.trace").value().replay_path, "/tmp/t.trace");
  EXPECT_EQ(ParseStrategySpec("pct:12").value().ToString(), "pct:12");
}

TEST(SchedulerSpec, RejectsMalformedSpecsNamingThem) {
  for (std::string_view bad : {"", "bogus", "pct", "pct:", "pct:0", "pct:-1", "pct:x", "pct:3x", "replay:",
                               "RANDOM", "rr "}) {
    Result<StrategySpec> parsed = ParseStrategySpec(bad);
    ASSERT_FALSE(parsed.ok()) << "'" << bad << "'";
    EXPECT_EQ(parsed.code(), Code::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("'" + std::string(bad) + "'"), std::string::npos)
        << parsed.status().message();
  }
}

TEST(SchedulerCreate, RejectsReplayWithoutTrace) {
  SchedulerOptions options = OptionsFor("replay", 1);
  Result<std::unique_ptr<Scheduler>> sched = Scheduler::Create(std::move(options));
  ASSERT_FALSE(sched.ok());
  EXPECT_EQ(sched.code(), Code::kInvalidArgument);
}

TEST(SchedulerCreate, ReportsUnreadableReplayFile) {
  SchedulerOptions options = OptionsFor("replay:/nonexistent/x.trace", 1);
  Result<std::unique_ptr<Scheduler>> sched = Scheduler::Create(std::move(options));
  ASSERT_FALSE(sched.ok());
  EXPECT_NE(sched.status().message().find("/nonexistent/x.trace"), std::string::npos);
}

// ---------------------------------------------------------------- replay

// A workload with waits, sleeps and yields; appends what it observes to log.
void SpawnMixedWorkload(Scheduler* sched, std::vector<std::string>* log, int* shared) {
  for (int a = 0; a < 3; ++a) {
    sched->Spawn("worker-" + std::to_string(a), a % 2, [sched, log, shared, a] {
      for (int i = 0; i < 4; ++i) {
        sched->Yield("read");
        const int seen = *shared;
        sched->Yield("write");
        *shared = seen + 1;
        log->push_back(std::to_string(a) + ":" + std::to_string(seen) + "@" + std::to_string(sched->NowMs()));
        if (i == 1) sched->SleepUntil(sched->NowMs() + 5 * (a + 1));
      }
    });
  }
  sched->Spawn("waiter", 1, [sched, log, shared] {
    sched->WaitUntil([shared] { return *shared >= 6; }, "shared>=6");
    log->push_back("waiter@" + std::to_string(*shared));
  });
}

TEST(SchedulerReplay, ReproducesTraceAndHashFromText) {
  auto original = MakeScheduler("random", 11);
  std::vector<std::string> original_log;
  int original_shared = 0;
  SpawnMixedWorkload(original.get(), &original_log, &original_shared);
  const RunResult first = original->Run();
  ASSERT_TRUE(first.ok()) << first.ToString();

  Result<Trace> parsed = Trace::Parse(original->trace().ToText());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  SchedulerOptions options = OptionsFor("replay", 999);  // the seed must not matter
  options.replay = std::make_shared<const Trace>(std::move(parsed).value());
  Scheduler replay(options);
  std::vector<std::string> replay_log;
  int replay_shared = 0;
  SpawnMixedWorkload(&replay, &replay_log, &replay_shared);
  const RunResult second = replay.Run();

  ASSERT_TRUE(second.ok()) << second.ToString();
  EXPECT_EQ(second.trace_hash, first.trace_hash);
  EXPECT_EQ(replay.trace().decisions, original->trace().decisions);
  EXPECT_EQ(replay_log, original_log);
  EXPECT_EQ(second.end_ms, first.end_ms);
}

TEST(SchedulerReplay, ReplaysEachStrategy) {
  for (std::string_view spec : {"random", "rr", "pct:3"}) {
    auto original = MakeScheduler(spec, 4);
    std::vector<std::string> log;
    int shared = 0;
    SpawnMixedWorkload(original.get(), &log, &shared);
    const RunResult first = original->Run();
    ASSERT_TRUE(first.ok()) << spec << ": " << first.ToString();

    SchedulerOptions options = OptionsFor("replay", 4);
    options.replay = std::make_shared<const Trace>(original->trace());
    Scheduler replay(options);
    std::vector<std::string> replay_log;
    int replay_shared = 0;
    SpawnMixedWorkload(&replay, &replay_log, &replay_shared);
    const RunResult second = replay.Run();
    ASSERT_TRUE(second.ok()) << spec << ": " << second.ToString();
    EXPECT_EQ(second.trace_hash, first.trace_hash) << spec;
  }
}

RunResult ReplayMixed(std::shared_ptr<const Trace> trace) {
  SchedulerOptions options = OptionsFor("replay", 1);
  options.replay = std::move(trace);
  Scheduler replay(options);
  std::vector<std::string> log;
  int shared = 0;
  SpawnMixedWorkload(&replay, &log, &shared);
  return replay.Run();
}

Trace RecordMixed(uint64_t seed) {
  auto sched = MakeScheduler("random", seed);
  std::vector<std::string> log;
  int shared = 0;
  SpawnMixedWorkload(sched.get(), &log, &shared);
  EXPECT_TRUE(sched->Run().ok());
  return sched->trace();
}

TEST(SchedulerReplay, ReportsDecisionNamingNonRunnableActor) {
  Trace trace = RecordMixed(11);
  trace.decisions[3].actor = 42;  // an actor that does not exist at all
  const RunResult result = ReplayMixed(std::make_shared<const Trace>(trace));
  EXPECT_EQ(result.outcome, Outcome::kReplayDiverged);
  EXPECT_NE(result.message.find("step 3"), std::string::npos) << result.message;
  EXPECT_NE(result.message.find("does not exist"), std::string::npos) << result.message;
  EXPECT_EQ(result.steps, 3u);
}

TEST(SchedulerReplay, ReportsDecisionPickingParkedActor) {
  Trace trace = RecordMixed(11);
  // The waiter (actor 3) parks at its first step until shared >= 6; a
  // decision that picks it again right after cannot be followed.
  size_t first_waiter_step = 0;
  while (trace.decisions[first_waiter_step].actor != 3) ++first_waiter_step;
  const size_t corrupt = first_waiter_step + 1;
  ASSERT_NE(trace.decisions[corrupt].actor, 3u);
  trace.decisions[corrupt].actor = 3;
  const RunResult result = ReplayMixed(std::make_shared<const Trace>(trace));
  EXPECT_EQ(result.outcome, Outcome::kReplayDiverged);
  EXPECT_NE(result.message.find("step " + std::to_string(corrupt)), std::string::npos) << result.message;
  EXPECT_NE(result.message.find("not runnable"), std::string::npos) << result.message;
}

TEST(SchedulerReplay, ReportsActorTheTraceDoesNotHave) {
  const Trace trace = RecordMixed(11);
  SchedulerOptions options = OptionsFor("replay", 1);
  options.replay = std::make_shared<const Trace>(trace);
  Scheduler replay(options);
  std::vector<std::string> log;
  int shared = 0;
  SpawnMixedWorkload(&replay, &log, &shared);
  // The program now spawns one more actor than the recorded run did.
  replay.Spawn("worker-0-extra", 0, [] {});
  const RunResult result = replay.Run();
  EXPECT_EQ(result.outcome, Outcome::kReplayDiverged);
  EXPECT_NE(result.message.find("worker-0-extra"), std::string::npos) << result.message;
}

TEST(SchedulerReplay, ReportsChangedPortCallAtTheStep) {
  // Record: one actor yields "a" then "b". Replay a program that yields "a"
  // then "c": the decision resuming from "c" does not match the trace.
  auto record = MakeScheduler("rr", 1);
  record->Spawn("solo", 0, [&] {
    record->Yield("a");
    record->Yield("b");
  });
  ASSERT_TRUE(record->Run().ok());

  SchedulerOptions options = OptionsFor("replay", 1);
  options.replay = std::make_shared<const Trace>(record->trace());
  Scheduler replay(options);
  replay.Spawn("solo", 0, [&] {
    replay.Yield("a");
    replay.Yield("c");
  });
  const RunResult result = replay.Run();
  EXPECT_EQ(result.outcome, Outcome::kReplayDiverged);
  EXPECT_NE(result.message.find("step 2"), std::string::npos) << result.message;
  EXPECT_NE(result.message.find("'c'"), std::string::npos) << result.message;
}

TEST(SchedulerReplay, ReportsTraceThatEndsEarly) {
  Trace trace = RecordMixed(11);
  trace.decisions.resize(trace.decisions.size() / 2);
  const RunResult result = ReplayMixed(std::make_shared<const Trace>(trace));
  EXPECT_EQ(result.outcome, Outcome::kReplayDiverged);
  EXPECT_NE(result.message.find("the trace ends there"), std::string::npos) << result.message;
}

TEST(SchedulerReplay, ReportsRunThatEndsBeforeTheTrace) {
  Trace trace = RecordMixed(11);
  trace.decisions.push_back(trace.decisions.back());
  const RunResult result = ReplayMixed(std::make_shared<const Trace>(trace));
  EXPECT_EQ(result.outcome, Outcome::kReplayDiverged);
  EXPECT_NE(result.message.find("the run ended (completed)"), std::string::npos) << result.message;
}

TEST(SchedulerReplay, ReplaysFromFileThroughCreate) {
  const Trace trace = RecordMixed(21);
  // Per process (worktrees run this suite at once), and removed at the end.
  const std::string path = ::testing::TempDir() + "/scheduler_replay_from_file." + std::to_string(::getpid()) + ".trace";
  struct RemoveAtEnd {
    std::string path;
    ~RemoveAtEnd() { std::remove(path.c_str()); }
  } cleanup{path};
  ASSERT_TRUE(trace.WriteFile(path).ok());
  Result<StrategySpec> spec = ParseStrategySpec("replay:" + path);
  ASSERT_TRUE(spec.ok());
  SchedulerOptions options;
  options.strategy = spec.value();
  Result<std::unique_ptr<Scheduler>> sched = Scheduler::Create(options);
  ASSERT_TRUE(sched.ok()) << sched.status().ToString();
  std::vector<std::string> log;
  int shared = 0;
  SpawnMixedWorkload(sched.value().get(), &log, &shared);
  const RunResult result = sched.value()->Run();
  ASSERT_TRUE(result.ok()) << result.ToString();
  EXPECT_EQ(result.trace_hash, trace.Hash());
}

// ---------------------------------------------------------------- outcomes

TEST(SchedulerDeadlock, ActorWaitingOnNothingIsReported) {
  auto sched = MakeScheduler("random", 1);
  bool flag = false;
  sched->Spawn("hopeful", 3, [&] { sched->WaitUntil([&] { return flag; }, "flag set"); });
  sched->Spawn("quitter", 0, [&] { sched->Yield("work"); });
  const RunResult result = sched->Run();
  ASSERT_EQ(result.outcome, Outcome::kDeadlock) << result.ToString();
  ASSERT_EQ(result.parked.size(), 1u);
  EXPECT_EQ(result.parked[0].name, "hopeful");
  EXPECT_EQ(result.parked[0].process, 3);
  EXPECT_EQ(result.parked[0].waiting_on, "flag set");
  EXPECT_NE(result.message.find("'hopeful'"), std::string::npos);
}

TEST(SchedulerDeadlock, WaitUntilAlreadyTrueTakesNoDecision) {
  auto sched = MakeScheduler("rr", 1);
  sched->Spawn("solo", 0, [&] { sched->WaitUntil([] { return true; }, "ready"); });
  ASSERT_TRUE(sched->Run().ok());
  EXPECT_EQ(sched->steps(), 1u);  // only its start
}

TEST(SchedulerStepLimit, LivelockEndsAtTheBoundAndUnwinds) {
  auto sched = MakeScheduler("random", 2, /*max_steps=*/100);
  int destroyed = 0;
  for (int a = 0; a < 2; ++a) {
    sched->Spawn("spinner-" + std::to_string(a), 0, [&] {
      Guard guard(&destroyed);
      for (;;) sched->Yield("spin");
    });
  }
  const RunResult result = sched->Run();
  EXPECT_EQ(result.outcome, Outcome::kStepLimit);
  EXPECT_EQ(result.steps, 100u);
  EXPECT_NE(result.message.find("spinner-0"), std::string::npos) << result.message;
  EXPECT_EQ(destroyed, 2);  // both unwound before Run returned
}

TEST(SchedulerFailure, ExceptionEscapingAnActorIsRecorded) {
  auto sched = MakeScheduler("rr", 1);
  int destroyed = 0;
  sched->Spawn("bystander", 0, [&] {
    Guard guard(&destroyed);
    for (;;) sched->Yield("wait");
  });
  sched->Spawn("thrower", 0, [&] {
    sched->Yield("about to throw");
    throw std::runtime_error("boom");
  });
  const RunResult result = sched->Run();
  ASSERT_EQ(result.outcome, Outcome::kActorFailed) << result.ToString();
  EXPECT_EQ(result.failed_actor, 1u);
  EXPECT_NE(result.message.find("boom"), std::string::npos) << result.message;
  EXPECT_NE(result.message.find("'thrower'"), std::string::npos) << result.message;
  EXPECT_EQ(destroyed, 1);
}

TEST(SchedulerStop, ObserverCanStopTheRun) {
  auto sched = MakeScheduler("random", 1);
  SpawnYielders(sched.get(), 2, 50);
  sched->set_step_observer([&](uint64_t step, ActorId, std::string_view) {
    if (step == 5) sched->RequestStop("I1 no-referenced-loss violated (test)");
  });
  const RunResult result = sched->Run();
  EXPECT_EQ(result.outcome, Outcome::kStopped);
  EXPECT_EQ(result.steps, 6u);
  EXPECT_EQ(result.message, "I1 no-referenced-loss violated (test)");
}

TEST(SchedulerObserver, SeesEveryStepWithItsActorAndLabel) {
  auto sched = MakeScheduler("random", 9);
  std::vector<std::string> log;
  int shared = 0;
  SpawnMixedWorkload(sched.get(), &log, &shared);
  std::vector<std::pair<ActorId, std::string>> seen;
  sched->set_step_observer([&](uint64_t step, ActorId actor, std::string_view what) {
    EXPECT_EQ(step, seen.size());
    EXPECT_EQ(sched->CurrentActor(), kNoActor);  // outside any actor
    seen.emplace_back(actor, std::string(what));
  });
  ASSERT_TRUE(sched->Run().ok());
  const Trace& trace = sched->trace();
  ASSERT_EQ(seen.size(), trace.decisions.size());
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].first, trace.decisions[i].actor);
    EXPECT_EQ(seen[i].second, trace.LabelOf(trace.decisions[i]));
  }
}

TEST(SchedulerSpawn, ActorCanSpawnAnotherMidRun) {
  auto sched = MakeScheduler("random", 1);
  std::vector<std::string> ran;
  sched->Spawn("driver-1", 1, [&] {
    sched->Yield("serve");
    ran.push_back("driver-1");
    sched->Spawn("driver-2", 2, [&] {
      EXPECT_EQ(sched->CurrentProcess(), 2);
      ran.push_back("driver-2");
    });
  });
  ASSERT_TRUE(sched->Run().ok());
  EXPECT_EQ(ran, (std::vector<std::string>{"driver-1", "driver-2"}));
  EXPECT_EQ(sched->trace().actors.size(), 2u);
  EXPECT_EQ(sched->trace().actors[1].name, "driver-2");
}

// ---------------------------------------------------------------- clock

TEST(SchedulerClock, JumpsToEarliestWakeAndOrdersWakeups) {
  auto sched = MakeScheduler("random", 5);
  std::vector<std::pair<std::string, int64_t>> woke;
  for (int64_t wake : {30, 10, 20}) {
    sched->Spawn("sleeper-" + std::to_string(wake), 0, [&, wake] {
      sched->SleepUntil(wake);
      woke.emplace_back("sleeper-" + std::to_string(wake), sched->NowMs());
    });
  }
  const RunResult result = sched->Run();
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(woke, (std::vector<std::pair<std::string, int64_t>>{
                      {"sleeper-10", 10}, {"sleeper-20", 20}, {"sleeper-30", 30}}));
  EXPECT_EQ(result.end_ms, 30);
}

TEST(SchedulerClock, DoesNotMoveWhileAnActorIsRunnable) {
  auto sched = MakeScheduler("random", 6);
  std::vector<int64_t> busy_times;
  int64_t sleeper_woke_at = -1;
  bool busy_done = false;
  sched->Spawn("busy", 0, [&] {
    for (int i = 0; i < 50; ++i) {
      busy_times.push_back(sched->NowMs());
      sched->Yield("work");
    }
    busy_done = true;
  });
  sched->Spawn("sleeper", 0, [&] {
    sched->SleepUntil(5);
    sleeper_woke_at = sched->NowMs();
    EXPECT_TRUE(busy_done);  // the clock jumped only once nobody could run
  });
  ASSERT_TRUE(sched->Run().ok());
  EXPECT_TRUE(std::all_of(busy_times.begin(), busy_times.end(), [](int64_t t) { return t == 0; }));
  EXPECT_EQ(sleeper_woke_at, 5);
}

TEST(SchedulerClock, AdvanceClockWakesDueSleepers) {
  auto sched = MakeScheduler("rr", 1);
  int64_t woke_at = -1;
  sched->Spawn("sleeper", 0, [&] {
    sched->SleepUntil(100);
    woke_at = sched->NowMs();
  });
  sched->Spawn("clock", 0, [&] {
    sched->Yield("tick");
    sched->AdvanceClock(150);
    sched->Yield("tick");
  });
  ASSERT_TRUE(sched->Run().ok());
  EXPECT_EQ(woke_at, 150);  // woke by the advance, no jump back to 100
}

TEST(SchedulerClock, SleepInThePastIsStillASchedulingPoint) {
  auto sched = MakeScheduler("rr", 1);
  sched->Spawn("a", 0, [&] { sched->SleepUntil(0); });
  sched->Spawn("b", 0, [&] { sched->Yield("work"); });
  ASSERT_TRUE(sched->Run().ok());
  EXPECT_EQ(ActorsOf(sched->trace()), (std::vector<ActorId>{0, 1, 0, 1}));
  EXPECT_EQ(sched->trace().LabelOf(sched->trace().decisions[2]), "sleep");
}

// ---------------------------------------------------------------- kills

TEST(SchedulerKill, EndsOnlyThatProcessAndRunsItsDestructors) {
  auto sched = MakeScheduler("random", 8);
  int destroyed = 0;
  int p1_reached_end = 0;
  int p0_steps = 0;
  int p1_started = 0;
  std::vector<ActorId> p1;
  for (int a = 0; a < 2; ++a) {
    p1.push_back(sched->Spawn("p1-worker-" + std::to_string(a), 1, [&] {
      Guard guard(&destroyed);
      ++p1_started;
      for (int i = 0; i < 1000; ++i) sched->Yield("p1 work");
      ++p1_reached_end;
    }));
  }
  const ActorId p0 = sched->Spawn("p0-worker", 0, [&] {
    Guard guard(&destroyed);
    for (int i = 0; i < 20; ++i) {
      ++p0_steps;
      sched->Yield("p0 work");
    }
  });
  sched->Spawn("crash", 2, [&] {
    sched->WaitUntil([&] { return p1_started == 2; }, "p1 up");
    for (int i = 0; i < 5; ++i) sched->Yield("countdown");
    sched->KillProcess(1);
    // Victims are unwound before KillProcess returns.
    EXPECT_EQ(destroyed, 2);
  });
  const RunResult result = sched->Run();
  ASSERT_TRUE(result.ok()) << result.ToString();
  EXPECT_EQ(p1_reached_end, 0);
  EXPECT_EQ(p0_steps, 20);
  EXPECT_EQ(destroyed, 3);
  for (ActorId id : p1) EXPECT_TRUE(sched->ActorKilled(id));
  EXPECT_FALSE(sched->ActorKilled(p0));
  EXPECT_TRUE(sched->ActorFinished(p0));
}

TEST(SchedulerKill, ActorKillingItsOwnProcessEndsAtItsNextSchedulingPoint) {
  auto sched = MakeScheduler("rr", 1);
  int destroyed = 0;
  bool ran_after_kill = false;
  bool ran_after_yield = false;
  bool sibling_done = false;
  const ActorId self = sched->Spawn("suicidal", 1, [&] {
    Guard guard(&destroyed);
    sched->KillProcess(1);
    ran_after_kill = true;
    sched->Yield("after kill");
    ran_after_yield = true;
  });
  sched->Spawn("sibling", 1, [&] {
    Guard guard(&destroyed);
    sched->Yield("work");
    sibling_done = true;
  });
  sched->Spawn("other", 0, [&] { sched->Yield("work"); });
  const RunResult result = sched->Run();
  ASSERT_TRUE(result.ok()) << result.ToString();
  EXPECT_TRUE(ran_after_kill);
  EXPECT_FALSE(ran_after_yield);
  EXPECT_FALSE(sibling_done);
  EXPECT_EQ(destroyed, 1);  // the sibling never started: nothing to unwind
  EXPECT_TRUE(sched->ActorKilled(self));
}

TEST(SchedulerKill, PortCallsDuringUnwindReturnWithoutSwitching) {
  auto sched = MakeScheduler("rr", 1);
  struct Releaser {
    Scheduler* sched;
    std::vector<std::string>* log;
    ~Releaser() {
      log->push_back(std::string("unwinding=") + (sched->unwinding() ? "1" : "0") +
                     " process=" + std::to_string(sched->CurrentProcess()));
      sched->Yield("release");
      sched->WaitUntil([] { return false; }, "never");
      sched->SleepUntil(sched->NowMs() + 1000);
      log->push_back("released");
    }
  };
  std::vector<std::string> log;
  sched->Spawn("victim", 7, [&] {
    Releaser releaser{sched.get(), &log};
    for (;;) sched->Yield("hold");
  });
  sched->Spawn("killer", 0, [&] {
    sched->Yield("aim");
    sched->KillProcess(7);
    log.push_back("killer continues");
  });
  const RunResult result = sched->Run();
  ASSERT_TRUE(result.ok()) << result.ToString();
  EXPECT_EQ(log, (std::vector<std::string>{"unwinding=1 process=7", "released", "killer continues"}));
  EXPECT_EQ(result.end_ms, 0);  // the sleep in the destructor did not move time
}

TEST(SchedulerKill, KillFromTheObserverUnwindsImmediately) {
  auto sched = MakeScheduler("rr", 1);
  int destroyed = 0;
  sched->Spawn("victim", 1, [&] {
    Guard guard(&destroyed);
    for (;;) sched->Yield("hold");
  });
  sched->set_step_observer([&](uint64_t step, ActorId, std::string_view) {
    if (step == 3) {
      sched->KillProcess(1);
      EXPECT_EQ(destroyed, 1);
    }
  });
  const RunResult result = sched->Run();
  ASSERT_TRUE(result.ok()) << result.ToString();
  EXPECT_EQ(result.steps, 4u);
}

TEST(SchedulerKill, UnfinishedActorsAreUnwoundAtDeadlock) {
  auto sched = MakeScheduler("rr", 1);
  int destroyed = 0;
  sched->Spawn("stuck", 0, [&] {
    Guard guard(&destroyed);
    sched->WaitUntil([] { return false; }, "forever");
  });
  const RunResult result = sched->Run();
  EXPECT_EQ(result.outcome, Outcome::kDeadlock);
  EXPECT_EQ(destroyed, 1);
}

TEST(SchedulerExecutor, PortCallsOutsideAnyActorDoNotSwitch) {
  auto sched = MakeScheduler("rr", 1);
  sched->Yield("setup");
  sched->WaitUntil([] { return true; }, "setup");
  EXPECT_EQ(sched->CurrentProcess(), kNoProcess);
  EXPECT_EQ(sched->CurrentActor(), kNoActor);
  EXPECT_EQ(sched->steps(), 0u);
}

}  // namespace
}  // namespace ms::sim
