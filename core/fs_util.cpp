#include "core/fs_util.h"

#include <vector>

namespace ms {

std::string JoinPath(std::string_view base, std::string_view rel) {
  std::string out(base);
  if (out.empty() || out.back() != '/') out += '/';
  out += rel;
  return out;
}

std::string ParentPath(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

bool IsSafeComponent(std::string_view name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  for (char c : name) {
    if (c == '/' || c == '\0') return false;
  }
  return true;
}

Status ValidateRelativePath(std::string_view path, std::string_view what) {
  auto bad = [&](std::string_view why) {
    std::string msg(what);
    msg += ' ';
    msg += QuoteInput(path, 512);
    msg += ": ";
    msg += why;
    return Status(Code::kInvalidArgument, std::move(msg));
  };
  if (path.empty()) return bad("empty path");
  if (path.size() > 4096) return bad("longer than 4096 bytes");
  if (path.front() == '/') return bad("absolute path");
  size_t start = 0;
  int depth = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    const std::string_view comp = path.substr(start, slash - start);
    if (comp == "..") return bad("contains \"..\"");
    if (comp.size() > 255) return bad("a component is longer than 255 bytes");
    if (comp.find('\0') != std::string_view::npos) return bad("contains a NUL byte");
    if (!IsSafeComponent(comp)) return bad("empty or \".\" component");
    if (++depth > 64) return bad("deeper than 64 levels");
    start = slash + 1;
  }
  return Status::Ok();
}

Status MakeDirs(Filesystem* fs, const std::string& path, uint32_t mode) {
  auto info = fs->Stat(path);
  if (info.ok()) {
    if (info->type == FileType::kDirectory) return Status::Ok();
    return Status(Code::kNotDirectory, "mkdir -p " + path + ": exists and is not a directory");
  }
  if (info.code() != Code::kNotFound) return info.status();
  const std::string parent = ParentPath(path);
  if (parent != path && parent != "/" && parent != ".") {
    MS_RETURN_IF_ERROR(MakeDirs(fs, parent, mode));
  }
  Status st = fs->MakeDir(path, mode);
  if (st.code() == Code::kAlreadyExists) {
    // Raced with another creator; fine if it is a directory.
    auto again = fs->Stat(path);
    if (again.ok() && again->type == FileType::kDirectory) return Status::Ok();
  }
  return st;
}

Status MakeDurableDirs(Filesystem* fs, const std::string& base, const std::string& path, uint32_t mode) {
  if (path == base) return Status::Ok();
  const std::string prefix = base.back() == '/' ? base : base + "/";
  if (path.compare(0, prefix.size(), prefix) != 0) {
    return Status(Code::kInvalidArgument, "mkdir -p " + path + ": not below " + base);
  }
  // Usually everything exists already: then only the syncs are left.
  auto info = fs->Stat(path);
  const bool exists = info.ok() && info->type == FileType::kDirectory;
  if (!exists && !info.ok() && info.code() != Code::kNotFound) return info.status();
  std::string parent = base;
  size_t start = prefix.size();
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    const std::string dir = path.substr(0, slash);
    if (!exists) MS_RETURN_IF_ERROR(MakeDirs(fs, dir, mode));
    MS_RETURN_IF_ERROR(fs->SyncDir(parent));
    parent = dir;
    start = slash + 1;
  }
  return Status::Ok();
}

namespace {

Status RemoveAllInner(Filesystem* fs, const std::string& path, uint64_t* budget) {
  if (*budget == 0) return Status(Code::kInternal, "remove " + path + ": entry budget exhausted");
  --*budget;
  // Most of a tree is files: unlink first, one call per file, and look
  // closer only when the unlink says kIsDirectory (the port's answer for a
  // directory). Any other refusal (a platform answering kPermission for a
  // directory, a parent we may not change) is decided by a Stat: a
  // directory is descended into as before, anything else keeps the
  // unlink's error.
  Status unlinked = fs->Unlink(path);
  if (unlinked.ok() || unlinked.code() == Code::kNotFound) return Status::Ok();
  if (unlinked.code() != Code::kIsDirectory) {
    auto info = fs->Stat(path);
    if (!info.ok()) return info.code() == Code::kNotFound ? Status::Ok() : info.status();
    if (info->type != FileType::kDirectory) return unlinked;
  }
  auto names = fs->ReadDir(path);
  if (!names.ok()) return names.code() == Code::kNotFound ? Status::Ok() : names.status();
  for (const std::string& name : *names) {
    MS_RETURN_IF_ERROR(RemoveAllInner(fs, JoinPath(path, name), budget));
  }
  Status st = fs->RemoveDir(path);
  return st.code() == Code::kNotFound ? Status::Ok() : st;
}

}  // namespace

Status RemoveAll(Filesystem* fs, const std::string& path, uint64_t max_entries) {
  uint64_t budget = max_entries;
  return RemoveAllInner(fs, path, &budget);
}

Status WriteFileAtomic(Filesystem* fs, const std::string& path, std::string_view bytes,
                       uint32_t mode) {
  const std::string tmp = path + ".tmp";
  // A leftover from a crash is ours to replace.
  Status unlink_st = fs->Unlink(tmp);
  if (!unlink_st.ok() && unlink_st.code() != Code::kNotFound) return unlink_st;
  {
    MS_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, fs->NewWritableFile(tmp, mode));
    Status st = file->Append(bytes);
    if (st.ok()) st = file->Sync();
    Status close_st = file->Close();
    if (st.ok()) st = close_st;
    if (!st.ok()) {
      (void)fs->Unlink(tmp);
      return st;
    }
  }
  Status st = fs->Rename(tmp, path);
  if (!st.ok()) {
    (void)fs->Unlink(tmp);
    return st;
  }
  return fs->SyncDir(ParentPath(path));
}

Result<bool> Exists(Filesystem* fs, const std::string& path) {
  auto info = fs->Stat(path);
  if (info.ok()) return true;
  if (info.code() == Code::kNotFound) return false;
  return info.status();
}

}  // namespace ms
