#include "core/fetch_slots.h"

#include <algorithm>

#include "core/fs_util.h"

namespace ms {
namespace {

constexpr char kSlotPrefix[] = "fetch@";
constexpr char kSlotSuffix[] = ".lock";
constexpr uint32_t kDirMode = 0755;

}  // namespace

FetchSlots::FetchSlots(Filesystem* fs, Runtime* runtime, std::string lock_dir, int slots_count, int64_t poll_ms)
    : fs_(fs),
      runtime_(runtime),
      lock_dir_(std::move(lock_dir)),
      slots_count_(std::max(1, slots_count)),
      poll_ms_(std::max<int64_t>(1, poll_ms)) {}

std::string FetchSlots::SlotPath(int i) const {
  return JoinPath(lock_dir_, kSlotPrefix + std::to_string(i) + kSlotSuffix);
}

bool FetchSlots::IsSlotFileName(const std::string& name) {
  constexpr size_t kPrefix = sizeof(kSlotPrefix) - 1;
  constexpr size_t kSuffix = sizeof(kSlotSuffix) - 1;
  if (name.size() <= kPrefix + kSuffix) return false;
  if (name.compare(0, kPrefix, kSlotPrefix) != 0) return false;
  if (name.compare(name.size() - kSuffix, kSuffix, kSlotSuffix) != 0) return false;
  for (size_t i = kPrefix; i < name.size() - kSuffix; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
  }
  return true;
}

Result<std::unique_ptr<FetchSlot>> FetchSlots::Acquire(const CancelToken& token) {
  // Unbounded in rounds by design (a fetch waits as long as its token
  // allows); every round checks the token, so a deadline bounds it.
  for (;;) {
    MS_RETURN_IF_ERROR(token.Check(runtime_->NowMs()));
    for (int i = 0; i < slots_count_; ++i) {
      const std::string path = SlotPath(i);
      auto lock = fs_->TryLockFile(path);
      if (lock.code() == Code::kNotFound) {
        // locks/ itself lost (a crash before Init's mkdir was durable).
        MS_RETURN_IF_ERROR(MakeDirs(fs_, lock_dir_, kDirMode).Annotate("fetch slot " + path));
        lock = fs_->TryLockFile(path);
      }
      if (lock.ok()) return std::make_unique<FetchSlot>(std::move(lock).value());
      if (lock.code() != Code::kUnavailable) return lock.status().Annotate("fetch slot " + path);
    }
    const int64_t now_ms = runtime_->NowMs();
    const int64_t left_ms = token.deadline_ms() == CancelToken::kNoDeadline ? poll_ms_ : token.deadline_ms() - now_ms;
    runtime_->SleepMs(std::clamp<int64_t>(left_ms, 0, poll_ms_));
  }
}

}  // namespace ms
