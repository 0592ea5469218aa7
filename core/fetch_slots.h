// FetchSlots: a node-wide bound on concurrent blob fetches.
//
// N slots, each a lock file under the root: locks/fetch@<i>.lock, i < N
// ('@' is not allowed in a volume name, so no volume's lock file collides
// with a slot's, and VolumeManager's lock sweep passes them by as not its
// own). A fetch takes a free slot (Filesystem::TryLockFile, slot 0 first)
// and holds it until its bytes are in; the slot ends with the FetchSlot.
// The lock is a file lock, so the bound holds across every driver process
// sharing the root (an upgrade runs two), and across threads of one.
//
// A caller that finds every slot held polls: it sleeps poll_ms on the
// Runtime and tries again, checking its CancelToken before each round, so
// a canceled or expired pull gives up (kCanceled / kDeadlineExceeded) at
// most poll_ms late. Polling is not fair: a waiter may be overtaken.
//
// The slot files are permanent (at most N of them, empty): nothing removes
// them, and a lost one (locks/ lost to a crash) is made again when taken.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/cancel_token.h"
#include "core/filesystem.h"
#include "core/runtime.h"
#include "core/status.h"

namespace ms {

// A held fetch slot; released by the destructor.
class FetchSlot {
 public:
  explicit FetchSlot(std::unique_ptr<FileLock> lock) : lock_(std::move(lock)) {}
  FetchSlot(const FetchSlot&) = delete;
  FetchSlot& operator=(const FetchSlot&) = delete;

 private:
  std::unique_ptr<FileLock> lock_;
};

class FetchSlots {
 public:
  // Slots under lock_dir (created if missing when a slot is taken).
  // slots_count >= 1; poll_ms >= 1.
  FetchSlots(Filesystem* fs, Runtime* runtime, std::string lock_dir, int slots_count, int64_t poll_ms);
  FetchSlots(const FetchSlots&) = delete;
  FetchSlots& operator=(const FetchSlots&) = delete;

  // Waits for a free slot. kCanceled / kDeadlineExceeded per token; a
  // filesystem error taking a slot's lock (other than "held") is returned
  // as is, annotated with the slot's path.
  Result<std::unique_ptr<FetchSlot>> Acquire(const CancelToken& token);

  int slots_count() const { return slots_count_; }
  // The lock file of slot i.
  std::string SlotPath(int i) const;
  // Whether name (a file name under lock_dir) is a fetch slot's.
  static bool IsSlotFileName(const std::string& name);

 private:
  Filesystem* fs_;
  Runtime* runtime_;
  std::string lock_dir_;
  int slots_count_;
  int64_t poll_ms_;
};

}  // namespace ms
