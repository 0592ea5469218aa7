#include "sim/scheduling/sim_runtime.h"

#include "sim/scheduling/scheduler.h"

namespace ms::sim {

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarning:
      return "WARNING";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?";
}

SimRuntime::SimRuntime(Scheduler* scheduler) : executor_(scheduler), scheduler_(scheduler) {}

SimRuntime::SimRuntime(Executor* executor) : executor_(executor), scheduler_(nullptr) {}

SimRuntime::Holder SimRuntime::Caller() const {
  if (scheduler_ == nullptr) return {.actor = 0, .process = executor_->CurrentProcess()};
  return {.actor = scheduler_->CurrentActor(), .process = scheduler_->CurrentProcess()};
}

void SimRuntime::ReportMisuse(std::string message) {
  misuses_.push_back(message);
  if (scheduler_ != nullptr) scheduler_->FailCurrentActor(std::move(message));
}

bool SimRuntime::CallerUnwinding() const { return scheduler_ != nullptr && scheduler_->unwinding(); }

void SimRuntime::Lock(std::string_view key) {
  executor_->Yield("rt.lock");
  if (CallerUnwinding()) return;  // a dying actor takes nothing, and never waits
  const Holder me = Caller();
  auto it = locks_.find(key);
  if (it != locks_.end() && it->second == me) {
    ReportMisuse("SimRuntime::Lock: actor " + std::to_string(me.actor) + " (process " +
                 std::to_string(me.process) + ") already holds '" + std::string(key) +
                 "' (locks are not reentrant)");
    return;
  }
  if (it != locks_.end()) {
    ++contended_count_;
    const std::string label = "rt.lock " + std::string(key);
    const auto* const self = this;
    executor_->WaitUntil([self, key] { return self->locks_.find(key) == self->locks_.end(); }, label);
  }
  locks_.emplace(std::string(key), me);
}

void SimRuntime::Unlock(std::string_view key) {
  // Usually called from ~ScopedLock: a cleanup point, so a kill never
  // unwinds from inside the destructor.
  if (scheduler_ != nullptr) {
    scheduler_->YieldInCleanup("rt.unlock");
  } else {
    executor_->Yield("rt.unlock");
  }
  const Holder me = Caller();
  auto it = locks_.find(key);
  if (it == locks_.end() || !(it->second == me)) {
    if (CallerUnwinding()) return;
    ReportMisuse("SimRuntime::Unlock: actor " + std::to_string(me.actor) + " (process " +
                 std::to_string(me.process) + ") does not hold '" + std::string(key) + "'" +
                 (it == locks_.end() ? std::string(" (nobody does)")
                                     : " (actor " + std::to_string(it->second.actor) + " does)"));
    return;
  }
  locks_.erase(it);
}

int64_t SimRuntime::NowMs() { return executor_->NowMs(); }

int64_t SimRuntime::WallNowMs() { return kSimEpochMs + executor_->NowMs(); }

void SimRuntime::SleepMs(int64_t duration_ms) {
  if (duration_ms < 0) {
    ReportMisuse("SimRuntime::SleepMs: negative duration " + std::to_string(duration_ms));
    duration_ms = 0;
  }
  executor_->SleepUntil(executor_->NowMs() + duration_ms);
}

void SimRuntime::Log(LogLevel level, std::string_view message) {
  std::string line = std::to_string(executor_->NowMs());
  line += ' ';
  line += LogLevelName(level);
  line += ' ';
  line += message;
  log_.push_back(std::move(line));
  ++log_counts_[static_cast<size_t>(level)];
}

std::optional<SimRuntime::Holder> SimRuntime::HolderOf(std::string_view key) const {
  auto it = locks_.find(key);
  if (it == locks_.end()) return std::nullopt;
  return it->second;
}

size_t SimRuntime::ReleaseAllOf(int process) {
  return std::erase_if(locks_, [process](const auto& entry) { return entry.second.process == process; });
}

}  // namespace ms::sim
