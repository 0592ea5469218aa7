#include "designs/upstream_shell.h"

#include <vector>

#include "core/fs_util.h"
#include "core/puller.h"
#include "core/volume_manager.h"
#include "core/volume_status.h"

namespace ms::designs {
namespace {

constexpr uint32_t kDirMode = 0755;
constexpr char kInflightKey[] = "shell:inflight";
constexpr std::string_view kLockSuffix = ".lock";

VolumeState StateOf(const Status& st) {
  if (st.code() == Code::kCanceled) return VolumeState::kCanceled;
  if (st.code() == Code::kDeadlineExceeded) return VolumeState::kTimeout;
  return VolumeState::kFailed;
}

Status CheckRoot(const std::string& root) {
  if (root.size() < 2 || root.front() != '/' || root.back() == '/') {
    return Status(Code::kInvalidArgument, "store root \"" + root + "\" must be an absolute path other than /, without a trailing /");
  }
  return ValidateRelativePath(std::string_view(root).substr(1), "store root");
}

}  // namespace

UpstreamShell::UpstreamShell(Filesystem* fs, Runtime* runtime, Registry* registry, ShellOptions options,
                             std::unique_ptr<PayloadCache> cache)
    : fs_(fs), runtime_(runtime), registry_(registry), options_(std::move(options)), cache_(std::move(cache)) {}

Slot UpstreamShell::SlotOf(const std::string& volume, const std::string& mount) const {
  Slot s;
  s.volume = volume;
  s.mount = mount;
  s.key = mount.empty() ? volume : volume + "/" + mount;
  s.record_dir = JoinPath(options_.root, mount.empty() ? "volumes/" + volume : "volumes/" + volume + "/models/" + mount);
  s.model_dir = JoinPath(s.record_dir, "model");
  return s;
}

Status UpstreamShell::Init() {
  MS_RETURN_IF_ERROR(CheckRoot(options_.root));
  // Durable as our core's volume layer is (the shell's contract is ours):
  // a power loss must not take a record whose publish returned.
  const std::string volumes = JoinPath(options_.root, "volumes");
  MS_RETURN_IF_ERROR(options_.durable ? MakeDurableDirs(fs_, options_.root, volumes, kDirMode)
                                      : MakeDirs(fs_, volumes, kDirMode));
  MS_RETURN_IF_ERROR(MakeDirs(fs_, JoinPath(options_.root, "locks"), kDirMode));
  return cache_->Start();
}

std::string UpstreamShell::LockPath(const std::string& volume) const {
  return JoinPath(JoinPath(options_.root, "locks"), volume + std::string(kLockSuffix));
}

Result<std::unique_ptr<FileLock>> UpstreamShell::LockVolume(const std::string& volume) {
  const std::string path = LockPath(volume);
  auto lock = fs_->LockFile(path);
  if (lock.code() == Code::kNotFound) {
    // locks/ lost to a crash: make it again.
    MS_RETURN_IF_ERROR(MakeDirs(fs_, ParentPath(path), kDirMode));
    lock = fs_->LockFile(path);
  }
  if (!lock.ok()) return lock.status().Annotate("lock volume " + volume);
  return lock;
}

void UpstreamShell::Register(const std::string& slot_key, const std::shared_ptr<CancelToken>& token) {
  ScopedLock guard(runtime_, kInflightKey);
  inflight_.emplace(slot_key, token);
}

void UpstreamShell::Unregister(const std::string& slot_key, const std::shared_ptr<CancelToken>& token) {
  ScopedLock guard(runtime_, kInflightKey);
  for (auto [it, end] = inflight_.equal_range(slot_key); it != end; ++it) {
    if (it->second == token) {
      inflight_.erase(it);
      return;
    }
  }
}

void UpstreamShell::CancelPulls(const std::string& volume, const std::string& mount) {
  ScopedLock guard(runtime_, kInflightKey);
  for (auto& [key, token] : inflight_) {
    const bool whole_volume = mount.empty() && (key == volume || key.rfind(volume + "/", 0) == 0);
    if (whole_volume || key == volume + "/" + mount) token->Cancel();
  }
}

Result<PullResult> UpstreamShell::PullModel(const PullRequest& request) {
  MS_ASSIGN_OR_RETURN(const Reference reference, ValidatePullRequest(request));
  const Slot slot = SlotOf(request.volume, request.mount_id);
  const int64_t deadline_ms =
      request.timeout_ms > 0 ? runtime_->NowMs() + request.timeout_ms : CancelToken::kNoDeadline;
  auto token = std::make_shared<CancelToken>(deadline_ms);
  Register(slot.key, token);
  Result<PullResult> result = Status(Code::kInternal, "pull into " + slot.key + ": not run");
  {
    auto lock = LockVolume(request.volume);
    if (!lock.ok()) {
      result = lock.status().Annotate("pull into " + slot.key);
    } else if (Status canceled = token->Check(runtime_->NowMs()); !canceled.ok()) {
      result = canceled.Annotate("pull into " + slot.key);  // canceled while it waited: nothing done
    } else {
      result = PullLocked(request, reference, slot, *token);
    }
  }
  Unregister(slot.key, token);
  return result;
}

Result<PullResult> UpstreamShell::PullLocked(const PullRequest& request, const Reference& reference,
                                             const Slot& slot, const CancelToken& token) {
  const std::string status_path = JoinPath(slot.record_dir, "status.json");
  std::string old_key;
  auto existing = ReadStatusFile(fs_, status_path);
  if (existing.ok()) {
    if (existing->reference != request.reference) {
      return Status(Code::kConflict, "volume " + slot.key + " already holds \"" + existing->reference +
                                         "\", cannot pull \"" + request.reference + "\"");
    }
    old_key = existing->cache_key;
  } else if (existing.code() == Code::kCorrupt) {
    runtime_->Log(LogLevel::kWarning, existing.status().ToString());  // overwritten below
  } else if (existing.code() != Code::kNotFound) {
    return existing.status();
  }

  VolumeStatus status;
  status.volume = request.volume;
  status.mount_id = request.mount_id;
  status.reference = request.reference;
  status.partial = request.exclude_weights || !request.exclude_patterns.empty();
  status.state = VolumeState::kRunning;
  MS_RETURN_IF_ERROR(options_.durable
                         ? MakeDurableDirs(fs_, JoinPath(options_.root, "volumes"), slot.record_dir, kDirMode)
                         : MakeDirs(fs_, slot.record_dir, kDirMode));

  bool materialized = false;  // the design owes a Finished call
  auto finish = [&](Status st) -> Result<PullResult> {
    if (st.ok()) {
      status.state = VolumeState::kSucceeded;
      st = WriteStatusFile(fs_, status_path, status);
      if (st.ok()) {
        if (materialized) cache_->Finished(slot, true);
        return PullResult{status, slot.model_dir};
      }
    }
    status.state = StateOf(st);
    status.error = st.message();
    Status wr = WriteStatusFile(fs_, status_path, status);
    if (!wr.ok()) runtime_->Log(LogLevel::kWarning, wr.Annotate("record failure").ToString());
    // A record write that failed after its rename landed may still say
    // succeeded: its model stays.
    auto on_disk = ReadStatusFile(fs_, status_path);
    const bool kept = on_disk.ok() && on_disk->state == VolumeState::kSucceeded;
    if (!kept) {
      Status rm = RemoveAll(fs_, slot.model_dir);
      if (!rm.ok()) runtime_->Log(LogLevel::kWarning, rm.Annotate("remove failed model").ToString());
    }
    if (materialized) cache_->Finished(slot, kept);
    if (!kept && !status.partial && !status.cache_key.empty()) cache_->Released(slot, status.cache_key, ReleaseWhy::kFailed);
    return st;
  };
  // The record says running before anything moves.
  if (Status wr = WriteStatusFile(fs_, status_path, status); !wr.ok()) {
    auto on_disk = ReadStatusFile(fs_, status_path);
    if (on_disk.ok() && on_disk->state == VolumeState::kRunning && on_disk->reference == request.reference) {
      return finish(wr);
    }
    return wr;  // refused before it began
  }
  if (Status rm = RemoveAll(fs_, slot.model_dir); !rm.ok()) return finish(rm.Annotate("remove old model"));
  auto release_old = [&] {
    if (!old_key.empty() && old_key != status.cache_key) cache_->Released(slot, old_key, ReleaseWhy::kReplaced);
  };

  auto digest = registry_->Resolve(token, reference);
  if (!digest.ok()) {
    auto result = finish(digest.status().Annotate("resolve " + request.reference));
    release_old();
    return result;
  }
  status.manifest = digest->ToString();
  if (status.partial) {
    release_old();
    PullOptions pull_options;
    pull_options.exclude_weights = request.exclude_weights;
    pull_options.exclude_patterns = request.exclude_patterns;
    pull_options.read_only = false;
    pull_options.durable = options_.durable;
    Status st = fs_->MakeDir(slot.model_dir, kDirMode);
    if (st.ok()) {
      st = PullPayload(fs_, runtime_, registry_, token, reference, *digest, slot.model_dir, pull_options, nullptr);
    }
    return finish(st.Annotate("pull " + QuoteInput(request.reference)));
  }
  status.cache_key = status.manifest;
  if (Status wr = WriteStatusFile(fs_, status_path, status); !wr.ok()) {
    auto result = finish(wr);
    release_old();
    return result;
  }
  release_old();
  materialized = true;
  // What the registry served may be at fault: the error names what was
  // asked of it, then the design's digest and path.
  return finish(cache_->Materialize(slot, reference, *digest, token).Annotate("pull " + QuoteInput(request.reference)));
}

Status UpstreamShell::DropRecord(const std::string& record_dir) {
  return DropStatusFile(fs_, record_dir, options_.durable);
}

Status UpstreamShell::RemoveWithRetry(const std::string& path) {
  return RemoveTreeWithRetry(fs_, runtime_, path, options_.remove_attempts_max, options_.remove_retry_interval_ms);
}

Status UpstreamShell::DeleteModel(const std::string& volume, const std::string& mount_id) {
  MS_RETURN_IF_ERROR(ValidateVolumeName(volume, "volume name"));
  if (mount_id.empty()) return ReleaseVolume(volume);
  MS_RETURN_IF_ERROR(ValidateVolumeName(mount_id, "mount id"));
  const Slot slot = SlotOf(volume, mount_id);
  CancelPulls(volume, mount_id);
  MS_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, LockVolume(volume));
  auto status = ReadStatusFile(fs_, JoinPath(slot.record_dir, "status.json"));
  MS_RETURN_IF_ERROR(DropRecord(slot.record_dir));
  MS_RETURN_IF_ERROR(RemoveWithRetry(slot.record_dir));
  // Under the volume's lock, as upstream's worker calls its cache hooks.
  cache_->Released(slot, status.ok() ? status->cache_key : "", ReleaseWhy::kDeleted);
  return Status::Ok();
}

Status UpstreamShell::ReleaseVolume(const std::string& volume) {
  MS_RETURN_IF_ERROR(ValidateVolumeName(volume, "volume name"));
  CancelPulls(volume, "");
  MS_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, LockVolume(volume));
  std::vector<Slot> slots{SlotOf(volume, "")};
  auto mounts = fs_->ReadDir(JoinPath(slots[0].record_dir, "models"));
  if (mounts.ok()) {
    for (const std::string& m : *mounts) slots.push_back(SlotOf(volume, m));
  } else if (mounts.code() != Code::kNotFound) {
    return mounts.status().Annotate("release " + volume);  // never remove what we could not list
  }
  std::vector<std::string> keys;
  for (const Slot& s : slots) {
    auto status = ReadStatusFile(fs_, JoinPath(s.record_dir, "status.json"));
    keys.push_back(status.ok() ? status->cache_key : "");
  }
  for (const Slot& s : slots) MS_RETURN_IF_ERROR(DropRecord(s.record_dir));
  MS_RETURN_IF_ERROR(RemoveWithRetry(slots[0].record_dir));
  for (size_t i = 0; i < slots.size(); ++i) cache_->Released(slots[i], keys[i], ReleaseWhy::kDeleted);
  // We hold it: a waiter then locks a fresh file (the LockFile contract).
  Status st = fs_->Unlink(LockPath(volume));
  if (!st.ok() && st.code() != Code::kNotFound) runtime_->Log(LogLevel::kWarning, st.ToString());
  return Status::Ok();
}

Result<VolumeStatus> UpstreamShell::GetStatus(const std::string& volume, const std::string& mount_id) {
  MS_RETURN_IF_ERROR(ValidateVolumeName(volume, "volume name"));
  if (!mount_id.empty()) MS_RETURN_IF_ERROR(ValidateVolumeName(mount_id, "mount id"));
  return ReadStatusFile(fs_, JoinPath(SlotOf(volume, mount_id).record_dir, "status.json"));
}

Status UpstreamShell::SweepLocks(SweepReport* report) {
  const std::string dir = JoinPath(options_.root, "locks");
  auto names = fs_->ReadDir(dir);
  if (!names.ok()) return names.code() == Code::kNotFound ? Status::Ok() : names.status();
  for (const std::string& name : *names) {
    if (name.size() <= kLockSuffix.size() || !name.ends_with(kLockSuffix)) continue;
    const std::string volume = name.substr(0, name.size() - kLockSuffix.size());
    if (!ValidateVolumeName(volume, "volume").ok()) continue;
    const std::string tree = SlotOf(volume, "").record_dir;
    auto exists = Exists(fs_, tree);
    if (!exists.ok() || *exists) continue;
    MS_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, LockVolume(volume));
    exists = Exists(fs_, tree);  // under the lock nobody creates it
    if (!exists.ok() || *exists) continue;
    Status st = fs_->Unlink(JoinPath(dir, name));
    if (st.ok()) ++report->locks_removed;
  }
  return Status::Ok();
}

Result<SweepReport> UpstreamShell::Sweep() {
  MS_ASSIGN_OR_RETURN(SweepReport report, cache_->Sweep());
  MS_RETURN_IF_ERROR(SweepLocks(&report));
  return report;
}

}  // namespace ms::designs
