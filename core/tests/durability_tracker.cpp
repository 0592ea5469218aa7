#include "core/tests/durability_tracker.h"

#include <algorithm>

#include "core/fs_util.h"

namespace ms::testing {
namespace {

bool Under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/';
}

// path with its prefix from moved to to (path is from or below it).
std::string Moved(const std::string& path, const std::string& from, const std::string& to) {
  return to + path.substr(from.size());
}

}  // namespace

class DurabilityTracker::TrackedFile final : public WritableFile {
 public:
  TrackedFile(DurabilityTracker* tracker, std::unique_ptr<WritableFile> target, uint64_t token)
      : tracker_(tracker), target_(std::move(target)), token_(token) {}
  Status Append(std::string_view bytes) override {
    Status st = target_->Append(bytes);
    if (st.ok() && !bytes.empty()) tracker_->FileWritten(token_);
    return st;
  }
  Status Sync() override {
    Status st = target_->Sync();
    if (st.ok()) tracker_->FileSynced(token_);
    return st;
  }
  Status Close() override { return target_->Close(); }

 private:
  DurabilityTracker* tracker_;
  std::unique_ptr<WritableFile> target_;
  uint64_t token_;
};

void DurabilityTracker::Pending(std::vector<std::string> names) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_.push_back(Change{std::move(names)});
}

void DurabilityTracker::FileWritten(uint64_t token) {
  std::lock_guard<std::mutex> lock(mu_);
  unsynced_[token] = open_paths_[token];
}

void DurabilityTracker::FileSynced(uint64_t token) {
  std::lock_guard<std::mutex> lock(mu_);
  unsynced_.erase(token);
}

bool DurabilityTracker::HasPendingChange(const std::string& name) {
  for (const Change& c : pending_) {
    if (std::find(c.names.begin(), c.names.end(), name) != c.names.end()) return true;
  }
  return false;
}

bool DurabilityTracker::IsSettled(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  return !HasPendingChange(path);
}

bool DurabilityTracker::IsDurable(const std::string& path) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [token, file] : unsynced_) {
    if (file == path) return false;
  }
  for (std::string p = path; p != "/" && p != "."; p = ParentPath(p)) {
    if (HasPendingChange(p)) return false;
  }
  return true;
}

std::string DurabilityTracker::FirstNotDurable(const std::string& dir,
                                               const std::function<bool(const std::string&)>& skip) {
  std::vector<std::string> stack{dir};
  while (!stack.empty()) {
    const std::string path = stack.back();
    stack.pop_back();
    if (!skip(path) && !IsDurable(path)) return path;
    auto info = target()->Stat(path);
    if (!info.ok() || info->type != FileType::kDirectory) continue;
    auto names = target()->ReadDir(path);
    if (!names.ok()) continue;
    for (const std::string& name : *names) stack.push_back(JoinPath(path, name));
  }
  return "";
}

void DurabilityTracker::SetProbe(Probe probe) {
  std::lock_guard<std::mutex> lock(mu_);
  probe_ = std::move(probe);
}

void DurabilityTracker::RunProbe(std::string_view op, const std::string& path, const std::string& path2) {
  Probe probe;
  {
    std::lock_guard<std::mutex> lock(mu_);
    probe = probe_;
  }
  if (probe) probe(op, path, path2);
}

Status DurabilityTracker::MakeDir(const std::string& p, uint32_t m) {
  Status st = FilesystemWrapper::MakeDir(p, m);
  if (st.ok()) Pending({p});
  return st;
}

Status DurabilityTracker::RemoveDir(const std::string& p) {
  Status st = FilesystemWrapper::RemoveDir(p);
  if (st.ok()) Pending({p});
  return st;
}

Status DurabilityTracker::Unlink(const std::string& p) {
  RunProbe("unlink", p, "");
  Status st = FilesystemWrapper::Unlink(p);
  if (st.ok()) Pending({p});
  return st;
}

Status DurabilityTracker::Link(const std::string& a, const std::string& b) {
  Status st = FilesystemWrapper::Link(a, b);
  if (st.ok()) Pending({b});
  return st;
}

Status DurabilityTracker::Symlink(const std::string& t, const std::string& l) {
  Status st = FilesystemWrapper::Symlink(t, l);
  if (st.ok()) Pending({l});
  return st;
}

Status DurabilityTracker::Rename(const std::string& a, const std::string& b) {
  RunProbe("rename", a, b);
  Status st = FilesystemWrapper::Rename(a, b);
  if (!st.ok()) return st;
  std::lock_guard<std::mutex> lock(mu_);
  // What was pending below a moved directory moves with it.
  for (Change& c : pending_) {
    for (std::string& name : c.names) {
      if (Under(name, a)) name = Moved(name, a, b);
    }
  }
  for (auto* files : {&unsynced_, &open_paths_}) {
    for (auto& [token, path] : *files) {
      if (path == a || Under(path, a)) path = Moved(path, a, b);
    }
  }
  pending_.push_back(Change{{a, b}});
  return st;
}

Result<std::unique_ptr<WritableFile>> DurabilityTracker::NewWritableFile(const std::string& p, uint32_t m) {
  auto file = FilesystemWrapper::NewWritableFile(p, m);
  if (!file.ok()) return file;
  Pending({p});
  uint64_t token = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    token = next_token_++;
    open_paths_[token] = p;
  }
  return std::unique_ptr<WritableFile>(std::make_unique<TrackedFile>(this, std::move(file).value(), token));
}

Status DurabilityTracker::SyncDir(const std::string& p) {
  Status st = FilesystemWrapper::SyncDir(p);
  if (!st.ok()) return st;
  std::lock_guard<std::mutex> lock(mu_);
  // Every change to an entry of p, with the rest of it (a rename's other name).
  std::erase_if(pending_, [&](const Change& c) {
    return std::any_of(c.names.begin(), c.names.end(), [&](const std::string& n) { return ParentPath(n) == p; });
  });
  return st;
}

}  // namespace ms::testing
