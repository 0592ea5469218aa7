#include "sim/scheduling/scheduler.h"

#include <algorithm>
#include <boost/context/fiber.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

#if defined(MS_ASAN_FIBERS)
#include <sanitizer/asan_interface.h>
#endif

namespace ms::sim {

namespace {

namespace ctx = boost::context;

RunResult Ended(Outcome outcome, std::string message) {
  RunResult result;
  result.outcome = outcome;
  result.message = std::move(message);
  return result;
}

[[noreturn]] void Fatal(std::string_view message) {
  std::fprintf(stderr, "ms::sim::Scheduler: %.*s\n", static_cast<int>(message.size()), message.data());
  std::abort();
}

constexpr std::string_view kStartLabel = "start";
constexpr std::string_view kSleepLabel = "sleep";

// Guarded fixed-size stacks, reused. Mapping a fresh stack for every actor
// and unmapping it when the actor ends cost a page fault on each page the
// actor touched and, at every munmap, a TLB shootdown across CPUs: natively
// about a third of a campaign's time (perf; callgrind does not count it).
// A finished actor's stack waits here for the next actor of the same size.
// Shared by all schedulers (a mutex: one lock per spawn and per end), never
// destroyed (a scheduler may outlive any thread or static).
class StackCache {
 public:
  static StackCache& Get() {
    static StackCache* const cache = new StackCache;
    return *cache;
  }

  ctx::stack_context Take(size_t size_bytes) {
    {
      std::lock_guard lock(mu_);
      // The most recently freed first: its pages are the warmest.
      for (size_t i = free_.size(); i-- > 0;) {
        if (free_[i].first != size_bytes) continue;
        const ctx::stack_context sctx = free_[i].second;
        free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(i));
#if defined(MS_ASAN_FIBERS)
        // Whatever the last actor left poisoned there is not this one's.
        __asan_unpoison_memory_region(static_cast<char*>(sctx.sp) - sctx.size, sctx.size);
#endif
        return sctx;
      }
    }
    return ctx::protected_fixedsize_stack(size_bytes).allocate();
  }

  void Give(size_t size_bytes, ctx::stack_context& sctx) noexcept {
    {
      std::lock_guard lock(mu_);
      if (free_.size() < kCachedMax) {
        free_.emplace_back(size_bytes, sctx);
        return;
      }
    }
    ctx::protected_fixedsize_stack(size_bytes).deallocate(sctx);
  }

 private:
  static constexpr size_t kCachedMax = 64;
  std::mutex mu_;
  std::vector<std::pair<size_t, ctx::stack_context>> free_;  // (requested size, stack)
};

// A cached guarded stack that tells its actor where it lives (for the ASan
// switch annotations).
class RecordingStack {
 public:
  RecordingStack(size_t size_bytes, StackBounds* bounds) : size_bytes_(size_bytes), bounds_(bounds) {}

  ctx::stack_context allocate() {
    ctx::stack_context sctx = StackCache::Get().Take(size_bytes_);
    bounds_->bottom = static_cast<const char*>(sctx.sp) - sctx.size;
    bounds_->size = sctx.size;
    return sctx;
  }
  void deallocate(ctx::stack_context& sctx) noexcept { StackCache::Get().Give(size_bytes_, sctx); }

 private:
  size_t size_bytes_;
  StackBounds* bounds_;
};

}  // namespace

struct Scheduler::Actor {
  ActorId id = kNoActor;
  std::string name;
  int process = 0;
  std::function<void()> body;
  ctx::fiber fiber;   // the suspended actor; empty while it runs and once it ended
  ctx::fiber caller;  // while it runs: whoever resumed it (the loop, or a killer)
  ActorState state = ActorState::kRunnable;
  std::string_view what = kStartLabel;  // the label of the point it resumes from
  const std::function<bool()>* ready = nullptr;  // kWaiting: on the actor's own stack
  int64_t wake_ms = 0;                           // kSleeping
  bool started = false;    // has a fiber (created lazily at its first step)
  bool unwinding = false;  // being destroyed by a kill
  bool kill_pending = false;
  bool killed = false;
  bool parked_in_cleanup = false;  // parked at a point a kill must not unwind from
  uint64_t runnable_stamp = 0;     // == runnable_stamp_ while in runnable_
  // ASan bookkeeping (unused without ASan).
  void* fake_stack = nullptr;
  StackBounds stack;
  StackBounds caller_stack;  // the stack of whoever resumed it
};

struct Scheduler::MainContext {
  void* fake_stack = nullptr;  // ASan: the scheduler loop's, while an actor runs
};

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kCompleted:
      return "completed";
    case Outcome::kDeadlock:
      return "deadlock";
    case Outcome::kStepLimit:
      return "step-limit";
    case Outcome::kActorFailed:
      return "actor-failed";
    case Outcome::kReplayDiverged:
      return "replay-diverged";
    case Outcome::kStopped:
      return "stopped";
  }
  return "?";
}

std::string RunResult::ToString() const {
  std::string out(OutcomeName(outcome));
  out += " after " + std::to_string(steps) + " steps at " + std::to_string(end_ms) + " ms, trace " +
         HashToHex(trace_hash);
  if (!message.empty()) out += ": " + message;
  return out;
}

Result<std::unique_ptr<Scheduler>> Scheduler::Create(SchedulerOptions options) {
  if (options.max_steps == 0 || options.pct_expected_steps == 0 || options.stack_size_bytes < 16 * 1024 ||
      options.max_actors == 0) {
    return Status(Code::kInvalidArgument,
                  "scheduler options: max_steps, pct_expected_steps and max_actors must be > 0, "
                  "stack_size_bytes >= 16 KiB");
  }
  if (options.strategy.kind == StrategySpec::Kind::kPct && options.strategy.pct_depth < 1) {
    return Status(Code::kInvalidArgument, "scheduler options: pct depth must be >= 1");
  }
  if (options.strategy.kind == StrategySpec::Kind::kReplay && options.replay == nullptr) {
    if (options.strategy.replay_path.empty()) {
      return Status(Code::kInvalidArgument, "scheduler options: replay needs a trace (options.replay or replay:FILE)");
    }
    Result<Trace> trace = Trace::ReadFile(options.strategy.replay_path);
    if (!trace.ok()) return trace.status();
    options.replay = std::make_shared<const Trace>(std::move(trace).value());
  }
  return std::make_unique<Scheduler>(std::move(options));
}

Scheduler::Scheduler(SchedulerOptions options) : options_(std::move(options)), main_(new MainContext) {
  if (options_.max_steps == 0 || options_.pct_expected_steps == 0 || options_.max_actors == 0 ||
      options_.stack_size_bytes < 16 * 1024) {
    Fatal("invalid options (use Scheduler::Create for a checked construction)");
  }
  if (options_.strategy.kind == StrategySpec::Kind::kReplay && options_.replay == nullptr) {
    Fatal("a replay strategy needs options.replay (Scheduler::Create also reads replay:FILE)");
  }
  strategy_ = MakeStrategy(options_.strategy, options_.seed, options_.pct_expected_steps, options_.replay.get());
  trace_.strategy = options_.strategy.kind == StrategySpec::Kind::kReplay ? "replay" : options_.strategy.ToString();
  trace_.seed = options_.seed;
  trace_.decisions.reserve(options_.trace_reserve_steps);
  runnable_.reserve(64);
  live_.reserve(64);
  trace_.labels.Intern(kStartLabel);
}

Scheduler::~Scheduler() {
  // Run() unwinds every actor; this covers a Run that never happened or was
  // left by an exception from the step observer.
  UnwindAll();
}

ActorId Scheduler::Spawn(std::string name, int process, std::function<void()> body) {
  if (!body) Fatal("Spawn: empty body for actor '" + name + "'");
  if (phase_ == Phase::kFinishing || phase_ == Phase::kDone) {
    Fatal("Spawn of '" + name + "' after the run ended (from a destructor during unwinding?)");
  }
  if (actors_.size() >= options_.max_actors) {
    Fatal("Spawn: more than options.max_actors = " + std::to_string(options_.max_actors) + " actors");
  }
  const auto id = static_cast<ActorId>(actors_.size());
  auto actor = std::make_unique<Actor>();
  actor->id = id;
  actor->name = std::move(name);
  actor->process = process;
  actor->body = std::move(body);
  if (options_.replay != nullptr && divergence_.empty()) {
    const std::vector<TraceActor>& expected = options_.replay->actors;
    if (id >= expected.size()) {
      divergence_ = "replay diverged: actor #" + std::to_string(id) + " '" + actor->name +
                    "' spawned, the trace has only " + std::to_string(expected.size()) + " actors";
    } else if (expected[id].name != actor->name || expected[id].process != process) {
      divergence_ = "replay diverged: actor #" + std::to_string(id) + " spawned as '" + actor->name +
                    "' (process " + std::to_string(process) + "), the trace has '" + expected[id].name +
                    "' (process " + std::to_string(expected[id].process) + ")";
    }
  }
  trace_.actors.push_back({actor->name, process});
  actors_.push_back(std::move(actor));
  live_.push_back(actors_.back().get());
  strategy_->OnSpawn(id);
  return id;
}

RunResult Scheduler::Run() {
  if (phase_ != Phase::kIdle) Fatal("Run called twice");
  phase_ = Phase::kRunning;
  RunResult result = Loop();
  phase_ = Phase::kFinishing;
  UnwindAll();
  phase_ = Phase::kDone;
  result.steps = step_;
  result.end_ms = now_ms_;
  if (options_.replay != nullptr && result.outcome != Outcome::kReplayDiverged &&
      step_ != options_.replay->decisions.size()) {
    result.message = "replay diverged: the run ended (" + std::string(OutcomeName(result.outcome)) +
                     (result.message.empty() ? "" : ": " + result.message) + ") after " + std::to_string(step_) +
                     " steps, the trace has " + std::to_string(options_.replay->decisions.size());
    result.outcome = Outcome::kReplayDiverged;
  }
  result.trace_hash = trace_.Hash();
  return result;
}

RunResult Scheduler::Loop() {
  for (;;) {
    if (failed_) return Failed();
    if (stop_requested_) return Ended(Outcome::kStopped, stop_reason_);
    if (!divergence_.empty()) return Diverged(divergence_);
    CollectRunnable();
    if (runnable_count_ == 0) {
      if (live_.empty()) return {};
      if (any_sleeper_) {
        now_ms_ = earliest_wake_ms_;  // > now_ms_: due sleepers would be runnable
        continue;
      }
      return Deadlock();
    }
    if (step_ >= options_.max_steps) {
      return Ended(Outcome::kStepLimit, "step limit of " + std::to_string(options_.max_steps) +
                                            " reached (livelock?); runnable: " + DescribeRunnable());
    }

    const ActorId next = strategy_->Pick(
        Choice{.step = step_, .previous = previous_, .runnable = std::span(runnable_.data(), runnable_count_)});
    if (options_.replay != nullptr) {
      if (next == kNoActor) {
        return Diverged("replay diverged at step " + std::to_string(step_) + ": the trace ends there, but " +
                        DescribeRunnable() + " can run");
      }
      const std::string_view expected = options_.replay->LabelOf(options_.replay->decisions[step_]);
      if (!IsRunnable(next)) {
        return Diverged("replay diverged at " + options_.replay->DescribeStep(step_) + ": actor #" +
                        std::to_string(next) + (next < actors_.size() ? " is not runnable" : " does not exist") +
                        "; runnable: " + DescribeRunnable());
      }
      if (actors_[next]->what != expected) {
        return Diverged("replay diverged at " + options_.replay->DescribeStep(step_) + ": " + Describe(next) +
                        " is at '" + std::string(actors_[next]->what) + "'");
      }
    } else if (!IsRunnable(next)) {
      Fatal("strategy " + options_.strategy.ToString() + " picked actor " + std::to_string(next) +
            ", which is not runnable");
    }

    Actor& actor = *actors_[next];
    const LabelTable::Id label = trace_.labels.Intern(actor.what);
    trace_.decisions.push_back({next, label});
    const uint64_t step = step_++;
    previous_ = next;
    Resume(actor);

    if (actor.state == ActorState::kDone) {
      live_dirty_ = true;
      actor.body = nullptr;
    } else if (actor.kill_pending) {
      Destroy(actor);
    }
    if (failed_) return Failed();
    if (observer_) observer_(step, next, trace_.labels.Get(label));
  }
}

void Scheduler::CollectRunnable() {
  if (live_dirty_) {
    std::erase_if(live_, [](const Actor* actor) { return actor->state == ActorState::kDone; });
    live_dirty_ = false;
  }
  // Filled by index into storage sized ahead: no capacity checks per actor.
  if (runnable_.size() < live_.size()) runnable_.resize(live_.size());
  runnable_count_ = 0;
  ++runnable_stamp_;
  any_sleeper_ = false;
  earliest_wake_ms_ = std::numeric_limits<int64_t>::max();
  const auto add = [this](Actor& actor) {
    actor.runnable_stamp = runnable_stamp_;
    runnable_[runnable_count_++] = actor.id;
  };
  for (Actor* const live : live_) {
    Actor& actor = *live;
    switch (actor.state) {
      case ActorState::kRunnable:
        add(actor);
        break;
      case ActorState::kWaiting:
        if ((*actor.ready)()) add(actor);
        break;
      case ActorState::kSleeping:
        if (actor.wake_ms <= now_ms_) {
          add(actor);
        } else {
          any_sleeper_ = true;
          earliest_wake_ms_ = std::min(earliest_wake_ms_, actor.wake_ms);
        }
        break;
      case ActorState::kRunning:  // only while an actor runs, never here
      case ActorState::kDone:
        break;
    }
  }
}

bool Scheduler::IsRunnable(ActorId id) const {
  return id < actors_.size() && actors_[id]->runnable_stamp == runnable_stamp_;
}

RunResult Scheduler::Diverged(std::string message) const {
  return Ended(Outcome::kReplayDiverged, std::move(message));
}

RunResult Scheduler::Failed() const {
  const std::string who = failed_actor_ != kNoActor ? Describe(failed_actor_) : std::string("code outside any actor");
  RunResult result =
      Ended(Outcome::kActorFailed, who + " failed at step " + std::to_string(step_ - 1) + ": " + failure_);
  result.failed_actor = failed_actor_;
  return result;
}

RunResult Scheduler::Deadlock() const {
  RunResult result = Ended(Outcome::kDeadlock, "");
  result.message = "deadlock: " + std::to_string(live_.size()) + " actors parked, none can run:";
  for (const Actor* const actor : live_) {
    result.parked.push_back({actor->id, actor->name, actor->process, std::string(actor->what)});
    result.message += " " + Describe(actor->id) + " waits on '" + std::string(actor->what) + "';";
  }
  result.message.pop_back();
  return result;
}

void Scheduler::StartFiber(Actor& actor) {
  actor.started = true;
  Actor* const self = &actor;
  actor.fiber = ctx::fiber(
      std::allocator_arg, RecordingStack(options_.stack_size_bytes, &actor.stack),
      [this, self](ctx::fiber&& from) -> ctx::fiber {
        AsanFinishSwitch(self->fake_stack, &self->caller_stack);
        self->caller = std::move(from);
        try {
          self->body();
        } catch (const ctx::detail::forced_unwind&) {
          AsanStartSwitch(nullptr, self->caller_stack);  // this stack is about to go
          throw;  // Boost.Context finishes the unwind and returns to the killer
        } catch (const std::exception& e) {
          FailCurrentActor(std::string("exception: ") + e.what());
        } catch (...) {
          FailCurrentActor("an exception not derived from std::exception");
        }
        self->state = ActorState::kDone;
        AsanStartSwitch(nullptr, self->caller_stack);
        return std::move(self->caller);
      });
}

void Scheduler::Resume(Actor& actor) {
  // From the loop (current_ is null), or from a killer (Destroy) that lets a
  // victim finish a cleanup: either way control comes back here when the
  // actor parks or ends.
  if (!actor.started) StartFiber(actor);
  Actor* const resumer = current_;
  void** const resumer_fake_stack = resumer != nullptr ? &resumer->fake_stack : &main_->fake_stack;
  current_ = &actor;
  actor.state = ActorState::kRunning;
  actor.parked_in_cleanup = false;
  AsanStartSwitch(resumer_fake_stack, actor.stack);
  actor.fiber = std::move(actor.fiber).resume();
  AsanFinishSwitch(*resumer_fake_stack, nullptr);
  current_ = resumer;
}

void Scheduler::Suspend(Actor& actor) {
  AsanStartSwitch(&actor.fake_stack, actor.caller_stack);
  try {
    actor.caller = std::move(actor.caller).resume();
  } catch (const ctx::detail::forced_unwind&) {
    AsanFinishSwitch(actor.fake_stack, &actor.caller_stack);  // arrived from the killer
    throw;
  }
  AsanFinishSwitch(actor.fake_stack, &actor.caller_stack);
}

void Scheduler::Park(Actor& actor, ActorState state, std::string_view what, bool cleanup) {
  actor.what = what;
  actor.state = state;
  actor.parked_in_cleanup = cleanup;
  Suspend(actor);
}

void Scheduler::Destroy(Actor& actor) {
  if (actor.state == ActorState::kDone) return;
  actor.killed = true;
  actor.kill_pending = true;
  if (actor.started && actor.fiber && actor.parked_in_cleanup) {
    // Unwinding from here would throw out of a destructor (std::terminate).
    // Let it finish the cleanup; with kill_pending set, it comes back at its
    // next ordinary scheduling point, or ends.
    Resume(actor);
    if (actor.fiber && actor.parked_in_cleanup) Fatal("a killed actor parked at a cleanup point again");
  }
  if (actor.started && actor.fiber) {
    Actor* const killer = current_;
    void** const killer_fake_stack = killer != nullptr ? &killer->fake_stack : &main_->fake_stack;
    current_ = &actor;
    actor.unwinding = true;
    AsanStartSwitch(killer_fake_stack, actor.stack);
    {
      ctx::fiber doomed = std::move(actor.fiber);
    }  // ~fiber resumes it with forced_unwind; it unwinds and comes back here
    AsanFinishSwitch(*killer_fake_stack, nullptr);
    actor.unwinding = false;
    current_ = killer;
  }
  actor.state = ActorState::kDone;
  actor.ready = nullptr;
  actor.body = nullptr;
  live_dirty_ = true;
}

void Scheduler::UnwindAll() {
  // By index: a destructor may (wrongly) spawn, growing actors_.
  for (size_t i = 0; i < actors_.size(); ++i) {
    if (actors_[i]->state != ActorState::kDone) Destroy(*actors_[i]);
  }
}

void Scheduler::KillProcess(int process) {
  const size_t count = live_.size();  // destructors of the victims must not grow it, but be safe
  for (size_t i = 0; i < count; ++i) {
    Actor& actor = *live_[i];
    if (actor.process != process || actor.state == ActorState::kDone) continue;
    if (actor.state == ActorState::kRunning) {  // the caller, or a killer that resumed the caller
      actor.kill_pending = true;
    } else {
      Destroy(actor);
    }
  }
}

void Scheduler::AdvanceClock(int64_t delta_ms) {
  if (delta_ms < 0) Fatal("AdvanceClock: negative delta " + std::to_string(delta_ms));
  now_ms_ += delta_ms;
}

void Scheduler::RequestStop(std::string reason) {
  if (stop_requested_) return;
  stop_requested_ = true;
  stop_reason_ = std::move(reason);
}

void Scheduler::FailCurrentActor(std::string reason) {
  if (failed_) return;
  failed_ = true;
  failed_actor_ = CurrentActor();
  failure_ = std::move(reason);
}

void Scheduler::Yield(std::string_view what) { YieldAt(what, /*cleanup=*/false); }

void Scheduler::YieldInCleanup(std::string_view what) { YieldAt(what, /*cleanup=*/true); }

void Scheduler::YieldAt(std::string_view what, bool cleanup) {
  Actor* const actor = current_;
  if (actor == nullptr || actor->unwinding) return;
  // A dying actor runs through cleanup points and hands itself to its killer
  // at the first ordinary one.
  if (actor->kill_pending && cleanup) return;
  Park(*actor, ActorState::kRunnable, what, cleanup);
}

void Scheduler::WaitUntil(const std::function<bool()>& ready, std::string_view what) {
  Actor* const actor = current_;
  if (actor == nullptr) {
    if (!ready()) Fatal("WaitUntil '" + std::string(what) + "' outside any actor: nothing could make it true");
    return;
  }
  if (actor->unwinding || ready()) return;
  actor->ready = &ready;
  do {  // picked only when ready() held at the decision; loop for robustness
    Park(*actor, ActorState::kWaiting, what, /*cleanup=*/false);
  } while (!ready());
  actor->ready = nullptr;
}

void Scheduler::SleepUntil(int64_t wake_ms) {
  Actor* const actor = current_;
  if (actor == nullptr) Fatal("SleepUntil outside any actor: only actors sleep on the virtual clock");
  if (actor->unwinding) return;
  actor->wake_ms = wake_ms;
  Park(*actor, ActorState::kSleeping, kSleepLabel, /*cleanup=*/false);
}

int Scheduler::CurrentProcess() const { return current_ != nullptr ? current_->process : kNoProcess; }

ActorId Scheduler::CurrentActor() const { return current_ != nullptr ? current_->id : kNoActor; }

bool Scheduler::unwinding() const { return current_ != nullptr && current_->unwinding; }

std::string_view Scheduler::ActorName(ActorId id) const { return actors_.at(id)->name; }

std::string_view Scheduler::ActorNextLabel(ActorId id) const { return actors_.at(id)->what; }

int Scheduler::ActorProcess(ActorId id) const { return actors_.at(id)->process; }

bool Scheduler::ActorFinished(ActorId id) const { return actors_.at(id)->state == ActorState::kDone; }

bool Scheduler::ActorKilled(ActorId id) const { return actors_.at(id)->killed; }

std::string Scheduler::Describe(ActorId id) const {
  const Actor& actor = *actors_[id];
  return "#" + std::to_string(id) + " '" + actor.name + "' (process " + std::to_string(actor.process) + ")";
}

std::string Scheduler::DescribeRunnable() const {
  std::string out;
  for (const ActorId id : std::span(runnable_.data(), runnable_count_)) {
    if (!out.empty()) out += ", ";
    out += Describe(id) + " @ " + std::string(actors_[id]->what);
  }
  return out.empty() ? "none" : out;
}

}  // namespace ms::sim
