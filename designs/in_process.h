// In-process concurrency primitives the proposals use (Go's
// singleflight.Group, semaphore.Weighted), built on the Runtime port's keyed
// locks and clock so the simulator owns every wait. Like the Go originals
// they live in one driver process: two processes share nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "core/cancel_token.h"
#include "core/runtime.h"
#include "core/status.h"

namespace ms::designs {

// Concurrent calls of Do with one key share one run of fn: the first runs
// it, the others wait and get its status. A call after the run ended runs
// fn again.
class SingleFlight {
 public:
  SingleFlight(Runtime* runtime, std::string name) : runtime_(runtime), name_(std::move(name)) {}

  struct Outcome {
    Status status;
    bool shared = false;  // another caller ran fn
  };
  Outcome Do(const std::string& key, const std::function<Status()>& fn);

 private:
  struct Call {
    Status result = Status(Code::kInternal, "single flight: its leader did not finish");
  };
  Runtime* runtime_;
  std::string name_;
  std::map<std::string, std::shared_ptr<Call>> calls_;  // guarded by the lock name_
};

// A counting semaphore. Acquire waits, polling on the Runtime's clock every
// kPollMs, until a permit is free or token is canceled or past its deadline
// (its error). Release adds a permit whoever calls it, as Go's does: a
// release without an acquire raises the count above its bound.
class Semaphore {
 public:
  static constexpr int64_t kPollMs = 5;
  static constexpr uint64_t kPollsMax = 1'000'000;

  Semaphore(Runtime* runtime, std::string name, int64_t permits)
      : runtime_(runtime), name_(std::move(name)), available_(permits) {}

  Status Acquire(const CancelToken& token);
  void Release();
  int64_t available() const { return available_; }

 private:
  Runtime* runtime_;
  std::string name_;
  int64_t available_;  // guarded by the lock name_
};

}  // namespace ms::designs
