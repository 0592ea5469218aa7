// The Filesystem port on the real disk, through POSIX calls.
#pragma once

#include "core/filesystem.h"

namespace ms {

class PosixFilesystem final : public Filesystem {
 public:
  Status MakeDir(const std::string& path, uint32_t mode) override;
  Status RemoveDir(const std::string& path) override;
  Status Unlink(const std::string& path) override;
  Status Link(const std::string& existing_path, const std::string& new_path) override;
  Status Symlink(const std::string& target, const std::string& link_path) override;
  Result<std::string> ReadLink(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Result<FileInfo> Stat(const std::string& path) override;
  Result<std::vector<std::string>> ReadDir(const std::string& path) override;
  // Stops reading at max_names, in directory order.
  Result<std::vector<std::string>> ReadDirSome(const std::string& path, size_t max_names) override;
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        uint32_t mode) override;
  Result<std::string> ReadFile(const std::string& path, uint64_t max_bytes) override;
  Status Chmod(const std::string& path, uint32_t mode) override;
  Status SyncDir(const std::string& path) override;
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override;
  Result<std::unique_ptr<FileLock>> TryLockFile(const std::string& path) override;
};

// Maps an errno to a Status naming the operation and path.
Status PosixError(int err, std::string_view op, std::string_view path);

}  // namespace ms
