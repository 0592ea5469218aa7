#include "designs/in_process.h"

namespace ms::designs {

SingleFlight::Outcome SingleFlight::Do(const std::string& key, const std::function<Status()>& fn) {
  const std::string run_lock = name_ + ":" + key;
  runtime_->Lock(name_);
  if (auto it = calls_.find(key); it != calls_.end()) {
    std::shared_ptr<Call> call = it->second;
    runtime_->Unlock(name_);
    // The leader holds run_lock until its result is in place.
    runtime_->Lock(run_lock);
    runtime_->Unlock(run_lock);
    return {call->result, true};
  }
  auto call = std::make_shared<Call>();
  calls_.emplace(key, call);
  runtime_->Lock(run_lock);
  runtime_->Unlock(name_);
  call->result = fn();
  runtime_->Lock(name_);
  calls_.erase(key);
  runtime_->Unlock(name_);
  runtime_->Unlock(run_lock);
  return {call->result, false};
}

Status Semaphore::Acquire(const CancelToken& token) {
  for (uint64_t poll = 0; poll < kPollsMax; ++poll) {
    {
      ScopedLock guard(runtime_, name_);
      if (available_ > 0) {
        --available_;
        return Status::Ok();
      }
    }
    MS_RETURN_IF_ERROR(token.Check(runtime_->NowMs()));
    runtime_->SleepMs(kPollMs);
  }
  return Status(Code::kUnavailable, "semaphore " + name_ + ": no permit after " + std::to_string(kPollsMax) + " polls");
}

void Semaphore::Release() {
  ScopedLock guard(runtime_, name_);
  ++available_;
}

}  // namespace ms::designs
