// DurabilityTracker: a Filesystem wrapper that keeps, next to a real disk,
// what a power loss could still undo under the Filesystem port's promises
// (core/filesystem.h): every namespace change stays pending until a
// SyncDir of a directory it touches (a rename is one change of two names),
// every file's bytes until the file's Sync. A real disk cannot be
// power-cut in a test; this answers "would it keep this?" instead.
//
// Everything on the disk before the tracker saw it counts as durable.
// Lock files (LockFile) are not tracked. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/filesystem.h"

namespace ms::testing {

class DurabilityTracker : public FilesystemWrapper {
 public:
  using FilesystemWrapper::FilesystemWrapper;

  // No pending change to path's entry or to any directory entry above it,
  // and no unsynced bytes in it: a crash now keeps path as it is.
  bool IsDurable(const std::string& path);
  // No pending change to path's own entry (created, removed or renamed
  // there and not yet synced): a crash keeps whatever is there now.
  bool IsSettled(const std::string& path);
  // The first path under dir (walked on the target) that is not durable,
  // skipping those skip accepts; "" if none.
  std::string FirstNotDurable(const std::string& dir, const std::function<bool(const std::string&)>& skip);
  // A test's probe, called before each Unlink ("unlink", path, "") and
  // Rename ("rename", from, to) is forwarded.
  using Probe = std::function<void(std::string_view op, const std::string& path, const std::string& path2)>;
  void SetProbe(Probe probe);

  Status MakeDir(const std::string& p, uint32_t m) override;
  Status RemoveDir(const std::string& p) override;
  Status Unlink(const std::string& p) override;
  Status Link(const std::string& a, const std::string& b) override;
  Status Symlink(const std::string& t, const std::string& l) override;
  Status Rename(const std::string& a, const std::string& b) override;
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p, uint32_t m) override;
  Status SyncDir(const std::string& p) override;

 private:
  class TrackedFile;
  // One pending namespace change: the entries (paths) it changed.
  struct Change {
    std::vector<std::string> names;
  };
  void Pending(std::vector<std::string> names);
  void RunProbe(std::string_view op, const std::string& path, const std::string& path2);
  void FileWritten(uint64_t token);
  void FileSynced(uint64_t token);
  bool HasPendingChange(const std::string& name);

  std::mutex mu_;
  std::vector<Change> pending_;
  // Files with unsynced bytes: token -> current path (renames follow them).
  std::map<uint64_t, std::string> unsynced_;
  std::map<uint64_t, std::string> open_paths_;
  uint64_t next_token_ = 1;
  Probe probe_;
};

}  // namespace ms::testing
