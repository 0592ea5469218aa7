// SimRuntime: the Runtime port under simulation.
//
// Keyed locks park the calling actor through the Executor (WaitUntil), so a
// lock wait is a scheduling point the strategy controls and a lock cycle is a
// deadlock the Scheduler reports. Lock and Unlock are scheduling points
// themselves (Yield "rt.lock" / "rt.unlock" before acting). Time is the
// Executor's virtual clock. Log lines go to an in-memory, deterministic log.
//
// Misuse is a bug in the caller: locking a key the caller already holds
// (locks are not reentrant), unlocking a key it does not hold, a negative
// sleep. Each is recorded in misuses() and, under the Scheduler, fails the
// run (Scheduler::FailCurrentActor: kActorFailed with a replayable trace)
// once the current step is over; the call itself returns normally, taking or
// releasing nothing, because it is often made from a destructor (ScopedLock)
// where an exception would terminate the process. While an actor is unwound
// by a kill, Lock and Unlock never wait and never report: Lock returns
// without taking the key, Unlock releases only a key the dying actor holds
// (ScopedLock destructors release as usual; ReleaseAllOf cleans up the rest).
//
// Every container is ordered (std::map), so iteration order never depends on
// addresses or hashing.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/runtime.h"
#include "sim/scheduling/actor_id.h"
#include "sim/scheduling/executor.h"

namespace ms::sim {

class Scheduler;

class SimRuntime final : public Runtime {
 public:
  // Under the Scheduler: holders are tracked by actor and process, and kills
  // are understood. scheduler must outlive this runtime.
  explicit SimRuntime(Scheduler* scheduler);
  // Under any other Executor (InlineExecutor): every caller is actor 0.
  explicit SimRuntime(Executor* executor);

  void Lock(std::string_view key) override;
  void Unlock(std::string_view key) override;
  int64_t NowMs() override;
  int64_t WallNowMs() override;  // kSimEpochMs + the virtual clock
  void SleepMs(int64_t duration_ms) override;
  void Log(LogLevel level, std::string_view message) override;

  struct Holder {
    ActorId actor = kNoActor;
    int process = 0;
    friend bool operator==(const Holder&, const Holder&) = default;
  };

  // Who holds key, if anyone.
  std::optional<Holder> HolderOf(std::string_view key) const;
  size_t held_count() const { return locks_.size(); }

  // Releases every lock held by process (its actors were killed); returns
  // how many. Waiters see the keys free at the next scheduling decision.
  size_t ReleaseAllOf(int process);

  // Every misuse reported, in order ("SimRuntime::Unlock: actor 1 ...").
  const std::vector<std::string>& misuses() const { return misuses_; }

  // Lock acquisitions that had to wait for another holder.
  uint64_t contended_count() const { return contended_count_; }

  // "<now_ms> <LEVEL> <message>" per line, in the order logged.
  const std::vector<std::string>& log() const { return log_; }
  uint64_t log_count(LogLevel level) const { return log_counts_[static_cast<size_t>(level)]; }

 private:
  Holder Caller() const;
  bool CallerUnwinding() const;
  void ReportMisuse(std::string message);

  Executor* executor_;
  Scheduler* scheduler_;  // null under another Executor
  std::map<std::string, Holder, std::less<>> locks_;
  uint64_t contended_count_ = 0;
  std::vector<std::string> misuses_;
  std::vector<std::string> log_;
  std::array<uint64_t, 4> log_counts_{};
};

// "DEBUG", "INFO", "WARNING", "ERROR".
std::string_view LogLevelName(LogLevel level);

}  // namespace ms::sim
