// Scheduler: the deterministic fiber scheduler behind every simulation.
//
// Each logical actor (a CSI request, a GC loop, a driver process's worker)
// is a fiber; exactly one runs at a time, on the thread that called Run().
// Every Executor call an actor makes is a scheduling point:
//
//   Yield(what)           the strategy picks the next runnable actor (maybe
//                         the same one); one decision, recorded in the trace.
//   WaitUntil(ready, w)   returns at once if ready() already holds (no
//                         decision); else parks until ready() is true at a
//                         decision. ready is re-evaluated at every decision,
//                         so it must depend only on simulated state.
//   SleepUntil(wake_ms)   parks on the virtual clock (a decision even when
//                         wake_ms <= now). When no actor is runnable but some
//                         sleep, the clock jumps to the earliest wake time;
//                         it never moves otherwise, except by AdvanceClock.
//
// A run ends as: kCompleted (every actor returned), kDeadlock (none runnable,
// none sleeping, some parked: the parked actors and what they wait on are
// reported), kStepLimit (options.max_steps decisions: livelock, I4
// progress), kActorFailed (an exception escaped an actor body: the run stops
// there), kReplayDiverged (a replay whose trace no longer fits the program),
// kStopped (RequestStop, e.g. by the invariant checker). A port that finds a
// bug (a lock misuse) calls FailCurrentActor: kActorFailed too.
//
// A seed and a strategy fully determine the run; trace() records it and its
// hash names it (I6 determinism). Nothing here reads a clock.
//
// Crashes: KillProcess(p) ends every actor of process p. Destroying a
// suspended fiber unwinds its stack (Boost.Context forced_unwind thrown from
// the point where it is parked), so its destructors run; while an actor
// unwinds, Yield/WaitUntil/SleepUntil return at once without switching
// (unwinding() is true). A victim parked at a cleanup point (YieldInCleanup)
// is first resumed to finish that cleanup, then unwound from its next
// ordinary point; cleanup points return at once for it meanwhile. An actor
// that kills its own process ends at its next ordinary scheduling point.
//
// Rules for code run by actors: a catch (...) must rethrow (the unwind must
// reach the fiber's base); a destructor (which also runs while an exception
// propagates) must reach the scheduler only through cleanup points
// (SimRuntime::Unlock does) and must not wait or sleep, because a kill that
// unwinds from an ordinary point inside a destructor ends in std::terminate.
//
// Not thread-safe: one thread drives one Scheduler. Run() may be called once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "sim/scheduling/actor_id.h"
#include "sim/scheduling/asan_fiber.h"
#include "sim/scheduling/executor.h"
#include "sim/scheduling/strategy.h"
#include "sim/scheduling/trace.h"

namespace ms::sim {

// CurrentProcess() outside any actor (setup code, the step observer).
inline constexpr int kNoProcess = -1;

struct SchedulerOptions {
  uint64_t seed = 1;
  StrategySpec strategy;                  // default: random
  std::shared_ptr<const Trace> replay;    // the trace a replay strategy follows
  uint64_t max_steps = 1'000'000;         // decisions before kStepLimit
  uint64_t pct_expected_steps = 10'000;   // k of pct:D, the expected run length
  size_t stack_size_bytes = 256 * 1024;   // per actor, plus one guard page
  size_t max_actors = 100'000;            // spawns before Spawn aborts
  size_t trace_reserve_steps = 1 << 16;   // decisions reserved ahead
};

enum class Outcome { kCompleted, kDeadlock, kStepLimit, kActorFailed, kReplayDiverged, kStopped };
std::string_view OutcomeName(Outcome outcome);  // "completed", "deadlock", ...

struct ParkedActor {
  ActorId id = kNoActor;
  std::string name;
  int process = 0;
  std::string waiting_on;  // the WaitUntil label
};

struct RunResult {
  Outcome outcome = Outcome::kCompleted;
  std::string message;           // empty when completed
  uint64_t steps = 0;            // decisions taken
  int64_t end_ms = 0;            // virtual clock at the end
  uint64_t trace_hash = 0;       // Trace::Hash() of the run
  ActorId failed_actor = kNoActor;
  std::vector<ParkedActor> parked;  // kDeadlock: every parked actor

  bool ok() const { return outcome == Outcome::kCompleted; }
  // "deadlock after 12 steps at 0 ms, trace 0123456789abcdef: <message>"
  std::string ToString() const;
};

class Scheduler final : public Executor {
 public:
  using StepObserver = std::function<void(uint64_t step, ActorId actor, std::string_view what)>;

  // Validates options: a replay strategy needs options.replay or a readable
  // "replay:FILE" trace; sizes must be positive.
  static Result<std::unique_ptr<Scheduler>> Create(SchedulerOptions options);
  // Aborts with a message on options Create would reject.
  explicit Scheduler(SchedulerOptions options);
  ~Scheduler() override;

  // Adds an actor, runnable at once (its first step is labelled "start").
  // Callable before Run and from inside a running actor (a driver restart).
  ActorId Spawn(std::string name, int process, std::function<void()> body);

  // Runs until an outcome; then unwinds every unfinished actor, so their
  // destructors run while the ports they use are still alive.
  RunResult Run();

  // Ends every actor of process (a crash). From inside an actor of another
  // process, or from outside any actor, they are unwound before this
  // returns; the calling actor, if it belongs to process, ends at its next
  // scheduling point.
  void KillProcess(int process);

  // Moves the virtual clock forward by delta_ms >= 0.
  void AdvanceClock(int64_t delta_ms);

  // Ends the run with kStopped and reason before the next decision. The
  // first reason wins.
  void RequestStop(std::string reason);

  // Records a bug found by a port (a lock misuse): the run ends with
  // kActorFailed, naming the current actor (if any) and reason, as soon as
  // the current step is over. Never throws, so destructors may call it. The
  // first failure wins.
  void FailCurrentActor(std::string reason);

  // Called after every step (the actor ran from its decision to its next
  // scheduling point or its end), outside any actor: the place for the
  // invariant checker. step indexes trace().decisions.
  void set_step_observer(StepObserver observer) { observer_ = std::move(observer); }

  // Executor.
  void Yield(std::string_view what) override;
  // A scheduling point in code that may run inside a destructor (a lock
  // release): like Yield, but a kill that finds the actor parked here does
  // not unwind from here (that would throw out of a noexcept destructor:
  // std::terminate); the actor finishes its cleanup and is unwound at its
  // next ordinary scheduling point.
  void YieldInCleanup(std::string_view what);
  void WaitUntil(const std::function<bool()>& ready, std::string_view what) override;
  void SleepUntil(int64_t wake_ms) override;
  int64_t NowMs() const override { return now_ms_; }
  int CurrentProcess() const override;

  // The running actor, kNoActor outside any actor.
  ActorId CurrentActor() const;
  // True while the current actor is being unwound by a kill.
  bool unwinding() const;

  size_t actor_count() const { return actors_.size(); }
  std::string_view ActorName(ActorId id) const;
  // The label of the point the actor is parked at: what it does when it
  // next runs ("fs.syncdir", ...).
  std::string_view ActorNextLabel(ActorId id) const;
  int ActorProcess(ActorId id) const;
  bool ActorFinished(ActorId id) const;  // returned, failed or killed
  bool ActorKilled(ActorId id) const;

  uint64_t steps() const { return step_; }
  const Trace& trace() const { return trace_; }
  Strategy& strategy() { return *strategy_; }
  const SchedulerOptions& options() const { return options_; }

 private:
  struct Actor;
  struct MainContext;
  enum class ActorState { kRunnable, kRunning, kWaiting, kSleeping, kDone };
  enum class Phase { kIdle, kRunning, kFinishing, kDone };

  RunResult Loop();
  void CollectRunnable();
  bool IsRunnable(ActorId id) const;
  RunResult Diverged(std::string message) const;
  RunResult Deadlock() const;
  RunResult Failed() const;
  void StartFiber(Actor& actor);
  void Resume(Actor& actor);
  void Suspend(Actor& actor);
  void Park(Actor& actor, ActorState state, std::string_view what, bool cleanup);
  void YieldAt(std::string_view what, bool cleanup);
  void Destroy(Actor& actor);
  void UnwindAll();
  std::string Describe(ActorId id) const;
  std::string DescribeRunnable() const;

  SchedulerOptions options_;
  std::unique_ptr<Strategy> strategy_;
  Trace trace_;
  std::vector<std::unique_ptr<Actor>> actors_;
  std::vector<Actor*> live_;       // not finished, ascending ids
  std::vector<ActorId> runnable_;  // [0, runnable_count_): rebuilt at each decision, ascending
  size_t runnable_count_ = 0;
  uint64_t runnable_stamp_ = 0;    // bumped at each rebuild; marks runnable_ members
  bool live_dirty_ = false;        // live_ holds finished actors to drop
  int64_t earliest_wake_ms_ = 0;   // of the sleepers, at the last CollectRunnable
  bool any_sleeper_ = false;
  Actor* current_ = nullptr;
  std::unique_ptr<MainContext> main_;
  Phase phase_ = Phase::kIdle;
  uint64_t step_ = 0;
  ActorId previous_ = kNoActor;
  int64_t now_ms_ = 0;
  bool stop_requested_ = false;
  std::string stop_reason_;
  bool failed_ = false;  // FailCurrentActor or an exception from a body
  ActorId failed_actor_ = kNoActor;
  std::string failure_;
  std::string divergence_;  // a replay mismatch found outside a decision (Spawn)
  StepObserver observer_;
};

}  // namespace ms::sim
