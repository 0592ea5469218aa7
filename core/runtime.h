// Runtime port: everything about time and concurrency the store uses.
//
// ThreadRuntime (core/thread_runtime.h) is production: std::mutex-backed
// keyed locks, the steady and system clocks, real sleeps. sim::SimRuntime
// parks fibers on locks and runs a virtual clock, so the simulator owns every
// interleaving and every millisecond.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ms {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

class Runtime {
 public:
  Runtime() = default;
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;
  virtual ~Runtime() = default;

  // Blocks until the caller holds the in-process lock named key. Locks are
  // not reentrant; distinct keys are independent. Only the holder unlocks.
  virtual void Lock(std::string_view key) = 0;
  virtual void Unlock(std::string_view key) = 0;

  // Monotonic milliseconds, for deadlines and retry intervals.
  virtual int64_t NowMs() = 0;
  // Wall-clock milliseconds since the epoch, comparable with
  // FileInfo::mtime_ms of the Filesystem used alongside.
  virtual int64_t WallNowMs() = 0;
  // Blocks the caller for duration_ms (>= 0).
  virtual void SleepMs(int64_t duration_ms) = 0;

  // Diagnostics the store reports but does not return (e.g. GC errors).
  virtual void Log(LogLevel level, std::string_view message) = 0;
};

// Forwards every call to a target, so a test can override one (a manual
// clock, a counting lock). Does not own the target.
class RuntimeWrapper : public Runtime {
 public:
  explicit RuntimeWrapper(Runtime* target) : target_(target) {}
  void Lock(std::string_view key) override { target_->Lock(key); }
  void Unlock(std::string_view key) override { target_->Unlock(key); }
  int64_t NowMs() override { return target_->NowMs(); }
  int64_t WallNowMs() override { return target_->WallNowMs(); }
  void SleepMs(int64_t duration_ms) override { target_->SleepMs(duration_ms); }
  void Log(LogLevel level, std::string_view message) override { target_->Log(level, message); }

 private:
  Runtime* target_;
};

// Holds a Runtime lock for a scope.
class ScopedLock {
 public:
  ScopedLock(Runtime* runtime, std::string key) : runtime_(runtime), key_(std::move(key)) {
    runtime_->Lock(key_);
  }
  ScopedLock(const ScopedLock&) = delete;
  ScopedLock& operator=(const ScopedLock&) = delete;
  ~ScopedLock() { runtime_->Unlock(key_); }

 private:
  Runtime* runtime_;
  std::string key_;
};

}  // namespace ms
