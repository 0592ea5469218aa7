// The seam between the simulated ports and whoever runs the actors.
//
// SimFilesystem, SimRuntime and FakeRegistry call into an Executor at every
// port call (a scheduling point), whenever they must wait (a held lock, a
// sleep on the virtual clock), and to read the virtual clock. sim::Scheduler
// implements it with fibers; InlineExecutor (below) runs a single actor
// inline, for unit tests of one port at a time.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string_view>

namespace ms::sim {

class Executor {
 public:
  Executor() = default;
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;
  virtual ~Executor() = default;

  // A scheduling point before a port call; the current actor may be
  // preempted here. what names the call, for the trace ("fs.link").
  virtual void Yield(std::string_view what) = 0;

  // Parks the current actor until ready() is true. The executor re-evaluates
  // ready only at scheduling decisions, so ready must depend only on
  // simulated state. Returns with ready() true.
  virtual void WaitUntil(const std::function<bool()>& ready, std::string_view what) = 0;

  // Parks the current actor until the virtual clock reaches wake_ms.
  virtual void SleepUntil(int64_t wake_ms) = 0;

  // The virtual clock, in milliseconds since the simulated boot.
  virtual int64_t NowMs() const = 0;

  // The simulated process the current actor belongs to (0, 1, ...). Locks and
  // open files belong to processes; a crash ends all of a process's actors.
  virtual int CurrentProcess() const = 0;
};

// Runs one actor inline: Yield does nothing, WaitUntil aborts if the
// condition is false (nobody else could ever make it true), SleepUntil
// advances the clock.
class InlineExecutor final : public Executor {
 public:
  void Yield(std::string_view) override {}
  void WaitUntil(const std::function<bool()>& ready, std::string_view) override {
    if (!ready()) std::abort();  // a single actor waiting on itself: deadlock
  }
  void SleepUntil(int64_t wake_ms) override {
    if (wake_ms > now_ms_) now_ms_ = wake_ms;
  }
  int64_t NowMs() const override { return now_ms_; }
  int CurrentProcess() const override { return process_; }

  void AdvanceMs(int64_t ms) { now_ms_ += ms; }
  void set_process(int process) { process_ = process; }

 private:
  int64_t now_ms_ = 0;
  int process_ = 0;
};

}  // namespace ms::sim

namespace ms::sim {
// The simulated wall clock is the virtual clock plus this epoch
// (2023-11-14T22:13:20Z), so simulated mtimes look like real ones.
inline constexpr int64_t kSimEpochMs = 1'700'000'000'000;
}  // namespace ms::sim
