// Filesystem port: the handful of calls the store makes on a disk.
//
// Paths are absolute, '/'-separated strings. No call follows a symlink in the
// last component (Stat is lstat); intermediate components are resolved as the
// implementation's OS would. Every call returns a Status whose code maps one
// errno (see core/status.h) and whose message names the path.
//
// Implementations: PosixFilesystem (the real disk, core/posix_filesystem.h),
// sim::SimFilesystem (in memory, with crash and fault semantics), and
// FilesystemWrapper (forwards everything, so a test overrides one call).
//
// Durability: what a power loss keeps. These are all a caller may rely on
// (a journaling filesystem keeps more, in order; the store must not need it):
//  - a directory entry (created by MakeDir, Link, Symlink, NewWritableFile,
//    LockFile or Rename, or removed by RemoveDir, Unlink or Rename) is
//    durable once its directory was synced (SyncDir) after the change; until
//    then a crash may keep or undo the change, independently of other
//    unsynced changes, except that changes to one name persist in order;
//  - a rename is atomic: a crash keeps the old name or the new one, never
//    both or neither; syncing either directory makes it durable;
//  - a file's bytes are durable once the file was synced (WritableFile::Sync)
//    after they were written; until then a crash may keep any prefix of
//    the bytes appended since the last sync;
//  - an entry is reachable after a crash only if every directory on its
//    path is: creating a directory durably means syncing its parent too.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace ms {

enum class FileType { kRegular, kDirectory, kSymlink, kOther };

struct FileInfo {
  FileType type = FileType::kOther;
  uint64_t inode = 0;
  uint64_t device = 0;
  uint64_t link_count = 0;
  uint64_t size_bytes = 0;
  uint32_t mode = 0;       // permission bits only (07777)
  int64_t mtime_ms = 0;    // on the same clock as Runtime::WallNowMs
};

// A file open for writing. Append-only; Sync makes written bytes durable
// (not the file's name: that is its directory's SyncDir);
// Close is idempotent and is also done by the destructor (without error
// reporting, so call it).
class WritableFile {
 public:
  WritableFile() = default;
  WritableFile(const WritableFile&) = delete;
  WritableFile& operator=(const WritableFile&) = delete;
  virtual ~WritableFile() = default;

  virtual Status Append(std::string_view bytes) = 0;
  virtual Status Sync() = 0;
  virtual Status Close() = 0;
};

// An exclusive lock held on a lock file; released by the destructor.
// The lock excludes every other holder of the same path, in this process or
// in any other process sharing the disk.
class FileLock {
 public:
  FileLock() = default;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  virtual ~FileLock() = default;
};

class Filesystem {
 public:
  Filesystem() = default;
  Filesystem(const Filesystem&) = delete;
  Filesystem& operator=(const Filesystem&) = delete;
  virtual ~Filesystem() = default;

  // Creates one directory. kAlreadyExists if path exists (of any type);
  // kNotFound if the parent does not exist.
  virtual Status MakeDir(const std::string& path, uint32_t mode) = 0;

  // Removes one empty directory. kNotEmpty if it has entries; kNotFound if
  // missing; kNotDirectory if it is not a directory.
  virtual Status RemoveDir(const std::string& path) = 0;

  // Removes a non-directory entry. kNotFound if missing; kIsDirectory for a
  // directory.
  virtual Status Unlink(const std::string& path) = 0;

  // Creates new_path as a hard link to the regular file existing_path.
  // kAlreadyExists if new_path exists; kTooManyLinks if the inode is at its
  // link limit; kCrossDevice across filesystems.
  virtual Status Link(const std::string& existing_path, const std::string& new_path) = 0;

  // Creates a symlink at link_path whose content is target (not resolved).
  virtual Status Symlink(const std::string& target, const std::string& link_path) = 0;

  // Returns the content of the symlink at path.
  virtual Result<std::string> ReadLink(const std::string& path) = 0;

  // Atomically renames from to to. If to is an existing empty directory and
  // from is a directory, to is replaced; a non-empty to is kNotEmpty (or
  // kAlreadyExists). After a crash either the old or the new name survives
  // (never both, never neither); it is the new one once either parent
  // directory was synced after the rename.
  virtual Status Rename(const std::string& from, const std::string& to) = 0;

  // lstat: describes path itself, never a symlink's target.
  virtual Result<FileInfo> Stat(const std::string& path) = 0;

  // The names in a directory, without "." and "..", sorted bytewise.
  virtual Result<std::vector<std::string>> ReadDir(const std::string& path) = 0;

  // At most max_names of a directory's names (without "." and ".."), in no
  // promised order: for a caller that needs any few of them, not all (a
  // GC's first ref that holds), at a cost that does not grow with the
  // directory. The default lists them all and keeps the first max_names.
  virtual Result<std::vector<std::string>> ReadDirSome(const std::string& path, size_t max_names) {
    auto names = ReadDir(path);
    if (names.ok() && names->size() > max_names) names->resize(max_names);
    return names;
  }

  // Creates a new regular file (kAlreadyExists if path exists) with mode and
  // opens it for writing.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                                uint32_t mode) = 0;

  // Reads a whole regular file as-is. A file larger than max_bytes is
  // kInvalidArgument (the store never reads unbounded input).
  virtual Result<std::string> ReadFile(const std::string& path, uint64_t max_bytes) = 0;

  // Sets permission bits. Callers only chmod regular files and directories
  // they created, never a symlink.
  virtual Status Chmod(const std::string& path, uint32_t mode) = 0;

  // Makes the directory's entries durable (fsync on the directory): every
  // entry created, removed or renamed in it before the call. Not the
  // directory's own entry in its parent, nor its files' bytes.
  virtual Status SyncDir(const std::string& path) = 0;

  // Creates the lock file at path if missing (its parent must exist, else
  // kNotFound) and blocks until this caller holds an exclusive lock on it.
  // On success the locked file is the one linked at path at the moment of
  // return: an implementation that locked a file someone else unlinked or
  // replaced meanwhile retries. The lock survives the unlinking of path by
  // its holder and ends with the FileLock (or with the holder's process).
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;

  // LockFile without the wait: the same promises, except that a lock file
  // someone else holds is kUnavailable at once (flock's EWOULDBLOCK). For a
  // caller that waits its own way, honouring a CancelToken (the fetch
  // slots, core/fetch_slots.h).
  virtual Result<std::unique_ptr<FileLock>> TryLockFile(const std::string& path) = 0;
};

// Forwards every call to a target, so a test can override one method (the
// shape of LevelDB's EnvWrapper). Does not own the target.
class FilesystemWrapper : public Filesystem {
 public:
  explicit FilesystemWrapper(Filesystem* target) : target_(target) {}
  Filesystem* target() const { return target_; }

  Status MakeDir(const std::string& p, uint32_t m) override { return target_->MakeDir(p, m); }
  Status RemoveDir(const std::string& p) override { return target_->RemoveDir(p); }
  Status Unlink(const std::string& p) override { return target_->Unlink(p); }
  Status Link(const std::string& a, const std::string& b) override { return target_->Link(a, b); }
  Status Symlink(const std::string& t, const std::string& l) override {
    return target_->Symlink(t, l);
  }
  Result<std::string> ReadLink(const std::string& p) override { return target_->ReadLink(p); }
  Status Rename(const std::string& a, const std::string& b) override {
    return target_->Rename(a, b);
  }
  Result<FileInfo> Stat(const std::string& p) override { return target_->Stat(p); }
  Result<std::vector<std::string>> ReadDir(const std::string& p) override {
    return target_->ReadDir(p);
  }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p,
                                                        uint32_t m) override {
    return target_->NewWritableFile(p, m);
  }
  Result<std::string> ReadFile(const std::string& p, uint64_t max) override {
    return target_->ReadFile(p, max);
  }
  Status Chmod(const std::string& p, uint32_t m) override { return target_->Chmod(p, m); }
  Status SyncDir(const std::string& p) override { return target_->SyncDir(p); }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& p) override {
    return target_->LockFile(p);
  }
  Result<std::unique_ptr<FileLock>> TryLockFile(const std::string& p) override {
    return target_->TryLockFile(p);
  }

 private:
  Filesystem* target_;
};

}  // namespace ms
