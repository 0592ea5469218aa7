#include "core/posix_filesystem.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ms {

Status PosixError(int err, std::string_view op, std::string_view path) {
  Code code;
  switch (err) {
    case ENOENT: code = Code::kNotFound; break;
    case EEXIST: code = Code::kAlreadyExists; break;
    case ENOTEMPTY: code = Code::kNotEmpty; break;
    case ENOTDIR: code = Code::kNotDirectory; break;
    case EISDIR: code = Code::kIsDirectory; break;
    case ENOSPC: case EDQUOT: code = Code::kNoSpace; break;
    case EXDEV: code = Code::kCrossDevice; break;
    case EMLINK: code = Code::kTooManyLinks; break;
    case EACCES: case EPERM: case EROFS: code = Code::kPermission; break;
    case EINVAL: case ENAMETOOLONG: case ELOOP: code = Code::kInvalidArgument; break;
    default: code = Code::kIo; break;
  }
  std::string msg(op);
  msg += ' ';
  msg += path;
  msg += ": ";
  msg += std::strerror(err);
  return Status(code, std::move(msg));
}

namespace {

Status Check(int rc, std::string_view op, std::string_view path) {
  return rc == 0 ? Status::Ok() : PosixError(errno, op, path);
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixWritableFile() override { (void)Close(); }

  Status Append(std::string_view bytes) override {
    while (!bytes.empty()) {
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return PosixError(errno, "write", path_);
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }
  Status Sync() override { return Check(::fdatasync(fd_), "fdatasync", path_); }
  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    const int rc = ::close(fd_);
    fd_ = -1;
    return Check(rc, "close", path_);
  }

 private:
  int fd_;
  std::string path_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

}  // namespace

Status PosixFilesystem::MakeDir(const std::string& path, uint32_t mode) {
  return Check(::mkdir(path.c_str(), static_cast<mode_t>(mode)), "mkdir", path);
}

Status PosixFilesystem::RemoveDir(const std::string& path) {
  return Check(::rmdir(path.c_str()), "rmdir", path);
}

Status PosixFilesystem::Unlink(const std::string& path) {
  return Check(::unlink(path.c_str()), "unlink", path);
}

Status PosixFilesystem::Link(const std::string& existing_path, const std::string& new_path) {
  // linkat without AT_SYMLINK_FOLLOW links the entry itself, never a target.
  return Check(::linkat(AT_FDCWD, existing_path.c_str(), AT_FDCWD, new_path.c_str(), 0), "link",
               existing_path + " -> " + new_path);
}

Status PosixFilesystem::Symlink(const std::string& target, const std::string& link_path) {
  return Check(::symlink(target.c_str(), link_path.c_str()), "symlink", link_path);
}

Result<std::string> PosixFilesystem::ReadLink(const std::string& path) {
  std::string buf(4096, '\0');
  const ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
  if (n < 0) return PosixError(errno, "readlink", path);
  buf.resize(static_cast<size_t>(n));
  return buf;
}

Status PosixFilesystem::Rename(const std::string& from, const std::string& to) {
  return Check(::rename(from.c_str(), to.c_str()), "rename", from + " -> " + to);
}

Result<FileInfo> PosixFilesystem::Stat(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return PosixError(errno, "stat", path);
  FileInfo info;
  if (S_ISREG(st.st_mode)) {
    info.type = FileType::kRegular;
  } else if (S_ISDIR(st.st_mode)) {
    info.type = FileType::kDirectory;
  } else if (S_ISLNK(st.st_mode)) {
    info.type = FileType::kSymlink;
  } else {
    info.type = FileType::kOther;
  }
  info.inode = st.st_ino;
  info.device = st.st_dev;
  info.link_count = st.st_nlink;
  info.size_bytes = static_cast<uint64_t>(st.st_size);
  info.mode = st.st_mode & 07777;
  info.mtime_ms = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
  return info;
}

namespace {

// Up to max_names names of path, in directory order.
Result<std::vector<std::string>> ListNames(const std::string& path, size_t max_names) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return PosixError(errno, "opendir", path);
  std::vector<std::string> names;
  errno = 0;
  while (names.size() < max_names) {
    struct dirent* ent = ::readdir(dir);
    if (ent == nullptr) break;
    const std::string_view name(ent->d_name);
    if (name != "." && name != "..") names.emplace_back(name);
    errno = 0;
  }
  const int err = errno;
  ::closedir(dir);
  if (err != 0) return PosixError(err, "readdir", path);
  return names;
}

}  // namespace

Result<std::vector<std::string>> PosixFilesystem::ReadDir(const std::string& path) {
  MS_ASSIGN_OR_RETURN(std::vector<std::string> names, ListNames(path, SIZE_MAX));
  std::sort(names.begin(), names.end());
  return names;
}

Result<std::vector<std::string>> PosixFilesystem::ReadDirSome(const std::string& path, size_t max_names) {
  return ListNames(path, max_names);
}

Result<std::unique_ptr<WritableFile>> PosixFilesystem::NewWritableFile(const std::string& path,
                                                                      uint32_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                        static_cast<mode_t>(mode));
  if (fd < 0) return PosixError(errno, "create", path);
  // open() applies the umask; the store wants exactly mode.
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) {
    const int err = errno;
    ::close(fd);
    return PosixError(err, "fchmod", path);
  }
  return std::unique_ptr<WritableFile>(std::make_unique<PosixWritableFile>(fd, path));
}

Result<std::string> PosixFilesystem::ReadFile(const std::string& path, uint64_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return PosixError(errno, "open", path);
  std::string out;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return PosixError(err, "read", path);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      ::close(fd);
      return Status(Code::kInvalidArgument,
                    "read " + path + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

Status PosixFilesystem::Chmod(const std::string& path, uint32_t mode) {
  return Check(::fchmodat(AT_FDCWD, path.c_str(), static_cast<mode_t>(mode), 0), "chmod", path);
}

Status PosixFilesystem::SyncDir(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return PosixError(errno, "open dir", path);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  return rc == 0 ? Status::Ok() : PosixError(err, "fsync dir", path);
}

namespace {

// LockFile's body: blocking (LOCK_EX) or not (LOCK_EX | LOCK_NB, a held
// file is kUnavailable).
Result<std::unique_ptr<FileLock>> LockFileImpl(const std::string& path, bool wait) {
  // flock locks an open file description, so it excludes other processes
  // and other opens in this one. Someone may unlink or replace the file
  // while we wait; then we hold a lock nobody else will see, so retry.
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return PosixError(errno, "open lock", path);
    while (::flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0) {
      if (errno != EINTR) {
        const int err = errno;
        ::close(fd);
        if (!wait && err == EWOULDBLOCK) return Status(Code::kUnavailable, "lock " + path + ": held");
        return PosixError(err, "flock", path);
      }
    }
    struct stat held {};
    struct stat now {};
    const bool same = ::fstat(fd, &held) == 0 && ::stat(path.c_str(), &now) == 0 &&
                      held.st_ino == now.st_ino && held.st_dev == now.st_dev;
    if (same) return std::unique_ptr<FileLock>(std::make_unique<PosixFileLock>(fd));
    ::flock(fd, LOCK_UN);
    ::close(fd);
  }
  return Status(Code::kInternal, "lock " + path + ": file kept being replaced");
}

}  // namespace

Result<std::unique_ptr<FileLock>> PosixFilesystem::LockFile(const std::string& path) {
  return LockFileImpl(path, /*wait=*/true);
}

Result<std::unique_ptr<FileLock>> PosixFilesystem::TryLockFile(const std::string& path) {
  return LockFileImpl(path, /*wait=*/false);
}

}  // namespace ms
