// Cancellation and deadlines for one operation. A token is shared between
// the operation and whoever may cancel it (a delete of the same volume).
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>

#include "core/status.h"

namespace ms {

class CancelToken {
 public:
  static constexpr int64_t kNoDeadline = std::numeric_limits<int64_t>::max();

  // deadline_ms is on Runtime::NowMs's clock.
  explicit CancelToken(int64_t deadline_ms = kNoDeadline) : deadline_ms_(deadline_ms) {}

  void Cancel() { canceled_.store(true, std::memory_order_release); }
  bool canceled() const { return canceled_.load(std::memory_order_acquire); }
  int64_t deadline_ms() const { return deadline_ms_; }

  // kCanceled if canceled, kDeadlineExceeded if now_ms is past the deadline.
  Status Check(int64_t now_ms) const {
    if (canceled()) return Status(Code::kCanceled, "operation canceled");
    if (now_ms >= deadline_ms_) return Status(Code::kDeadlineExceeded, "deadline exceeded");
    return Status::Ok();
  }

 private:
  std::atomic<bool> canceled_{false};
  int64_t deadline_ms_;
};

}  // namespace ms
