#include "sim/cli/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <filesystem>

namespace ms::cli {
namespace {

namespace fs = std::filesystem;

Status Error(std::string_view what, const std::string& path, const std::string& why) {
  return Status(Code::kInvalidArgument, std::string(what) + " " + path + ": " + why);
}

// Creates a probe file in dir and removes it: what a write will need.
Status Probe(std::string_view what, const std::string& shown, const std::string& dir) {
  std::error_code ec;
  if (!dir.empty()) {
    fs::create_directories(dir, ec);
    if (ec) return Error(what, shown, "cannot create directory " + dir + ": " + ec.message());
    if (!fs::is_directory(dir, ec)) return Error(what, shown, dir + " is not a directory");
  }
  const std::string probe = (dir.empty() ? std::string(".") : dir) + "/.modelstore-sim-probe-" + std::to_string(::getpid());
  const int fd = ::open(probe.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return Error(what, shown, std::string("cannot create a file in ") + (dir.empty() ? "." : dir) + ": " + std::strerror(errno));
  ::close(fd);
  ::unlink(probe.c_str());
  return Status::Ok();
}

}  // namespace

Status CheckWritableFile(std::string_view what, const std::string& path) {
  if (path.empty()) return Status(Code::kInvalidArgument, std::string(what) + ": empty path");
  if (path.back() == '/') return Error(what, path, "is a directory, not a file");
  std::error_code ec;
  if (fs::is_directory(path, ec)) return Error(what, path, "is a directory, not a file");
  return Probe(what, path, fs::path(path).parent_path().string());
}

Status CheckWritableDir(std::string_view what, const std::string& dir) {
  if (dir.empty()) return Status(Code::kInvalidArgument, std::string(what) + ": empty path");
  return Probe(what, dir, dir);
}

Status WriteFileAtomically(const std::string& path, std::string_view text) {
  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return Status(Code::kIo, "cannot write " + path + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return Status(Code::kIo, "cannot write " + path + ": " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return Status(Code::kIo, "cannot write " + path + ": " + why);
  }
  return Status::Ok();
}

Result<std::string> ReadSmallFile(std::string_view what, const std::string& path, size_t max_bytes,
                                  std::string_view magic, std::string_view kind) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error(what, path, std::string("cannot read: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
    ::close(fd);
    return Error(what, path, "is a directory, not a file");
  }
  std::string text;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      return Error(what, path, "cannot read: " + why);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (!magic.empty() && text.compare(0, std::min(text.size(), magic.size()), magic.substr(0, std::min(text.size(), magic.size()))) != 0) {
      ::close(fd);
      return Error(what, path, "not " + std::string(kind) + " (its first line must be \"" +
                                   std::string(magic.substr(0, magic.find('\n'))) + "\")");
    }
    if (text.size() > max_bytes) {
      ::close(fd);
      return Error(what, path, "larger than " + std::to_string(max_bytes >> 20) + " MiB: not a file this tool wrote");
    }
  }
  ::close(fd);
  return text;
}

std::string Pretty(const std::string& path) {
  std::error_code ec;
  const fs::path abs = fs::absolute(path, ec);
  if (ec) return path;
  const fs::path cwd = fs::current_path(ec);
  if (ec) return path;
  const std::string a = abs.lexically_normal().string();
  const std::string c = cwd.string() + "/";
  return a.rfind(c, 0) == 0 ? a.substr(c.size()) : a;
}

}  // namespace ms::cli
