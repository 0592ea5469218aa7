#include "core/volume_manager.h"

#include <algorithm>
#include <set>

#include "core/fs_util.h"
#include "core/puller.h"

namespace ms {
namespace {

constexpr uint32_t kDirMode = 0755;
constexpr char kLockSuffix[] = ".lock";
constexpr char kFlightsKey[] = "volumes:flights";
constexpr char kInflightKey[] = "volumes:inflight";

std::string VolumeKey(const std::string& volume, const std::string& mount_id) {
  return mount_id.empty() ? volume : volume + "/" + mount_id;
}

VolumeState StateFor(const Status& st) {
  switch (st.code()) {
    case Code::kCanceled: return VolumeState::kCanceled;
    case Code::kDeadlineExceeded: return VolumeState::kTimeout;
    default: return VolumeState::kFailed;
  }
}

Status ValidateRoot(const std::string& root) {
  if (root.empty() || root.front() != '/' || root == "/") {
    return Status(Code::kInvalidArgument, "store root \"" + root + "\" must be an absolute path other than /");
  }
  if (root.back() == '/') return Status(Code::kInvalidArgument, "store root \"" + root + "\" has a trailing /");
  return ValidateRelativePath(std::string_view(root).substr(1), "store root");
}

}  // namespace

Status ValidateVolumeName(std::string_view name, std::string_view what) {
  auto bad = [&](std::string_view why) {
    return Status(Code::kInvalidArgument, std::string(what) + " \"" +
                                              std::string(name.substr(0, 300)) + "\": " +
                                              std::string(why));
  };
  if (name.empty()) return bad("empty");
  if (name.size() > 253) return bad("longer than 253 characters");
  if (name == "." || name == "..") return bad("not a name");
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return bad("only [A-Za-z0-9._-] allowed");
  }
  return Status::Ok();
}

struct VolumeManager::Flight {
  Result<PullResult> result = Status(Code::kInternal, "flight still running");
};

VolumeManager::VolumeManager(Filesystem* fs, Runtime* runtime, Registry* registry,
                             VolumeOptions options)
    : fs_(fs),
      runtime_(runtime),
      registry_(registry),
      options_(std::move(options)),
      store_(fs, runtime, options_.store,
             [this](const std::string& referrer, const Digest& digest) {
               return ReferrerHolds(referrer, digest);
             }),
      fetch_slots_(fs, runtime, JoinPath(options_.store.root, "locks"), options_.fetches_max,
                   options_.fetch_poll_ms) {}

Status VolumeManager::Init() {
  MS_RETURN_IF_ERROR(ValidateRoot(options_.store.root));
  if (options_.fetches_max < 1 || options_.fetch_poll_ms < 1) {
    return Status(Code::kInvalidArgument, "fetches_max " + std::to_string(options_.fetches_max) + " and fetch_poll_ms " +
                                              std::to_string(options_.fetch_poll_ms) + " must be at least 1");
  }
  MS_RETURN_IF_ERROR(store_.Init());
  // Lock files need no durability: a lost one is made again when taken.
  MS_RETURN_IF_ERROR(MakeDirs(fs_, JoinPath(options_.store.root, "locks"), kDirMode));
  const std::string volumes = JoinPath(options_.store.root, "volumes");
  MS_RETURN_IF_ERROR(options_.store.durable ? MakeDurableDirs(fs_, options_.store.root, volumes, kDirMode)
                                            : MakeDirs(fs_, volumes, kDirMode));
  return RepairRefs();
}

Status VolumeManager::RepairRefs() {
  const std::string volumes = JoinPath(options_.store.root, "volumes");
  auto names = fs_->ReadDir(volumes);
  if (!names.ok()) return names.code() == Code::kNotFound ? Status::Ok() : names.status();
  for (const std::string& volume : *names) {
    if (!ValidateVolumeName(volume, "volume").ok()) continue;
    std::vector<std::string> records{RecordRel(volume, "")};
    auto mounts = fs_->ReadDir(JoinPath(VolumeDir(volume), "models"));
    if (mounts.ok()) {
      for (const std::string& m : *mounts) {
        if (ValidateVolumeName(m, "mount id").ok()) records.push_back(RecordRel(volume, m));
      }
    } else if (mounts.code() != Code::kNotFound && mounts.code() != Code::kNotDirectory) {
      return mounts.status().Annotate("repair refs");
    }
    for (const std::string& rel : records) {
      auto status = ReadStatusFile(fs_, JoinPath(JoinPath(options_.store.root, rel), "status.json"));
      if (!status.ok()) {
        if (status.code() == Code::kNotFound || status.code() == Code::kCorrupt) continue;
        return status.status().Annotate("repair refs");
      }
      const bool active = status->state == VolumeState::kRunning || status->state == VolumeState::kSucceeded;
      if (!active || status->partial || status->cache_key.empty()) continue;
      auto digest = Digest::Parse(status->cache_key);
      if (!digest.ok()) continue;
      MS_RETURN_IF_ERROR(store_.RepairRef(*digest, rel).Annotate("repair ref of " + rel));
    }
  }
  return Status::Ok();
}

Status VolumeManager::MakeRecordStateDurable(const std::string& record_rel) {
  if (!options_.store.durable) return Status::Ok();
  const std::string top = JoinPath(options_.store.root, "volumes");
  std::string dir = JoinPath(options_.store.root, record_rel);
  for (int level = 0; level < 4; ++level) {  // volumes/v/models/m at most
    Status st = fs_->SyncDir(dir);
    if (!st.ok() && st.code() != Code::kNotFound) return st;
    if (dir == top) break;
    dir = ParentPath(dir);
  }
  return Status::Ok();
}

Result<SweepReport> VolumeManager::Sweep() {
  MS_ASSIGN_OR_RETURN(SweepReport report, store_.Sweep());
  MS_RETURN_IF_ERROR(SweepLocks(&report));
  return report;
}

std::string VolumeManager::LockPath(const std::string& volume, const std::string& mount_id) const {
  return JoinPath(JoinPath(options_.store.root, "locks"),
                  (mount_id.empty() ? volume : volume + "+" + mount_id) + kLockSuffix);
}

Result<std::unique_ptr<FileLock>> VolumeManager::LockAt(const std::string& path) {
  auto lock = fs_->LockFile(path);
  if (lock.code() == Code::kNotFound) {
    // locks/ itself lost (a crash before Init's mkdir was durable): again.
    MS_RETURN_IF_ERROR(MakeDirs(fs_, ParentPath(path), kDirMode));
    lock = fs_->LockFile(path);
  }
  if (!lock.ok()) return lock.status().Annotate("lock " + path);
  return lock;
}

Result<std::unique_ptr<FileLock>> VolumeManager::LockSlot(const std::string& volume, const std::string& mount_id) {
  MS_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> volume_lock, LockAt(LockPath(volume, "")));
  if (mount_id.empty()) return volume_lock;
  // Taken under the volume's: a release in progress has it, and waits for
  // this one if it found it.
  return LockAt(LockPath(volume, mount_id));
}

void VolumeManager::DropLockFile(const std::string& path) {
  Status st = fs_->Unlink(path);
  if (!st.ok() && st.code() != Code::kNotFound) {
    runtime_->Log(LogLevel::kWarning, st.Annotate("drop lock file (the sweep will)").ToString());
  }
}

Status VolumeManager::SweepLocks(SweepReport* report) {
  const std::string dir = JoinPath(options_.store.root, "locks");
  auto names = fs_->ReadDir(dir);
  if (!names.ok()) return names.code() == Code::kNotFound ? Status::Ok() : names.status().Annotate("sweep locks");
  Status first;
  for (const std::string& name : *names) {
    constexpr size_t kSuffix = sizeof(kLockSuffix) - 1;
    if (name.size() <= kSuffix || name.compare(name.size() - kSuffix, kSuffix, kLockSuffix) != 0) continue;
    const std::string base = name.substr(0, name.size() - kSuffix);
    const size_t plus = base.find('+');
    const std::string volume = base.substr(0, plus);
    const std::string mount = plus == std::string::npos ? "" : base.substr(plus + 1);
    if (!ValidateVolumeName(volume, "volume").ok() || (plus != std::string::npos && !ValidateVolumeName(mount, "mount").ok())) {
      continue;  // not ours: a fetch slot's (fetch@<i>.lock, permanent) or foreign
    }
    const std::string tree = mount.empty() ? VolumeDir(volume) : RecordDir(volume, mount);
    auto exists = Exists(fs_, tree);
    if (!exists.ok() || *exists) continue;
    auto lock = LockAt(JoinPath(dir, name));
    if (!lock.ok()) {
      if (first.ok()) first = lock.status();
      continue;
    }
    // Under the lock nobody creates the tree it guards; a mount's tree may
    // still appear under a volume's lock, which is harmless to drop.
    exists = Exists(fs_, tree);
    if (!exists.ok() || *exists) continue;
    Status st = fs_->Unlink(JoinPath(dir, name));
    if (st.ok()) {
      ++report->locks_removed;
    } else if (st.code() != Code::kNotFound && first.ok()) {
      first = st.Annotate("sweep locks");
    }
  }
  return first;
}

std::string VolumeManager::VolumeDir(const std::string& volume) const {
  return JoinPath(JoinPath(options_.store.root, "volumes"), volume);
}
std::string VolumeManager::RecordRel(const std::string& volume, const std::string& mount_id) const {
  return mount_id.empty() ? "volumes/" + volume : "volumes/" + volume + "/models/" + mount_id;
}
std::string VolumeManager::RecordDir(const std::string& volume, const std::string& mount_id) const {
  return JoinPath(options_.store.root, RecordRel(volume, mount_id));
}
std::string VolumeManager::ModelDir(const std::string& volume, const std::string& mount_id) const {
  return JoinPath(RecordDir(volume, mount_id), "model");
}

Result<bool> VolumeManager::ReferrerHolds(const std::string& referrer, const Digest& digest) {
  // A ref file is data on disk: accept only the two record shapes, so a
  // forged ref can never make us read outside the root.
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    const size_t slash = referrer.find('/', start);
    parts.push_back(referrer.substr(start, slash == std::string::npos ? slash : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  const bool is_static = parts.size() == 2 && parts[0] == "volumes";
  const bool is_dynamic = parts.size() == 4 && parts[0] == "volumes" && parts[2] == "models";
  if (!is_static && !is_dynamic) return false;
  for (size_t i = 1; i < parts.size(); i += 2) {
    if (!ValidateVolumeName(parts[i], "ref").ok()) return false;
  }
  auto status = ReadStatusFile(fs_, JoinPath(JoinPath(options_.store.root, referrer), "status.json"));
  if (!status.ok() && status.code() != Code::kNotFound && status.code() != Code::kCorrupt) {
    return status.status();  // an I/O error: cannot tell
  }
  // Missing or corrupt: this record references nothing.
  const bool holds = status.ok() &&
                     (status->state == VolumeState::kRunning || status->state == VolumeState::kSucceeded) &&
                     status->cache_key == digest.ToString();
  if (holds) return true;
  // Not holding, as long as that is durable: a record whose removal or
  // rewrite a power loss could undo would come back without its ref.
  MS_RETURN_IF_ERROR(MakeRecordStateDurable(referrer).Annotate("check ref " + referrer));
  return false;
}

Result<Reference> ValidatePullRequest(const PullRequest& request) {
  MS_RETURN_IF_ERROR(ValidateVolumeName(request.volume, "volume name"));
  if (!request.mount_id.empty()) MS_RETURN_IF_ERROR(ValidateVolumeName(request.mount_id, "mount id"));
  MS_ASSIGN_OR_RETURN(const Reference reference, Reference::Parse(request.reference));
  for (const std::string& pattern : request.exclude_patterns) {
    if (pattern.empty() || pattern.size() > 1024) {
      return Status(Code::kInvalidArgument, "exclude pattern \"" + pattern.substr(0, 64) + "\" is empty or too long");
    }
  }
  return reference;
}

Result<PullResult> VolumeManager::PullModel(const PullRequest& request) {
  MS_ASSIGN_OR_RETURN(const Reference reference, ValidatePullRequest(request));
  // Identical concurrent calls share one execution.
  std::string flight_key = VolumeKey(request.volume, request.mount_id) + "|" + request.reference +
                           "|" + (request.exclude_weights ? "w" : "") + "|" +
                           std::to_string(request.timeout_ms);
  for (const std::string& p : request.exclude_patterns) flight_key += "|" + p;
  const std::string flight_lock = "flight:" + flight_key;
  runtime_->Lock(kFlightsKey);
  if (auto it = flights_.find(flight_key); it != flights_.end()) {
    std::shared_ptr<Flight> flight = it->second;
    runtime_->Unlock(kFlightsKey);
    // The leader holds flight_lock until its result is in place.
    runtime_->Lock(flight_lock);
    runtime_->Unlock(flight_lock);
    return flight->result;
  }
  auto flight = std::make_shared<Flight>();
  flights_.emplace(flight_key, flight);
  runtime_->Lock(flight_lock);
  runtime_->Unlock(kFlightsKey);
  flight->result = DoPull(request, reference);
  runtime_->Lock(kFlightsKey);
  flights_.erase(flight_key);
  runtime_->Unlock(kFlightsKey);
  runtime_->Unlock(flight_lock);
  return flight->result;
}

Result<PullResult> VolumeManager::DoPull(const PullRequest& request, const Reference& reference) {
  const std::string vkey = VolumeKey(request.volume, request.mount_id);
  ScopedLock volume_lock(runtime_, "volume:" + vkey);
  const int64_t deadline_ms = request.timeout_ms > 0 ? runtime_->NowMs() + request.timeout_ms
                                                     : CancelToken::kNoDeadline;
  auto token = std::make_shared<CancelToken>(deadline_ms);
  {
    ScopedLock guard(runtime_, kInflightKey);
    // A release of the volume snapshots in-flight pulls under this same
    // lock: a pull registering after it would write into a tree being
    // removed. It is canceled before it touches the disk.
    if (releasing_.count(request.volume) != 0) {
      return Status(Code::kCanceled, "pull into " + vkey + ": volume " + request.volume +
                                         " is being released");
    }
    inflight_[vkey] = token;
  }
  // Other processes' operations on the slot: excluded by its lock file.
  Result<PullResult> result = Status(Code::kInternal, "pull into " + vkey + ": not run");
  {
    auto slot_lock = LockSlot(request.volume, request.mount_id);
    if (!slot_lock.ok()) {
      result = slot_lock.status().Annotate("pull into " + vkey);
    } else if (Status canceled = token->Check(runtime_->NowMs()); !canceled.ok()) {
      result = canceled.Annotate("pull into " + vkey);  // canceled while we waited
    } else {
      result = PullUnderVolumeLock(request, reference, *token);
    }
  }  // the slot's lock file is released here
  // Not a destructor: taking a lock can be a crash point in the simulator,
  // and nothing may unwind out of a destructor.
  {
    ScopedLock guard(runtime_, kInflightKey);
    inflight_.erase(vkey);
  }
  return result;
}

Result<PullResult> VolumeManager::PullUnderVolumeLock(const PullRequest& request,
                                                      const Reference& reference,
                                                      const CancelToken& token_ref) {
  const CancelToken* token = &token_ref;
  const std::string vkey = VolumeKey(request.volume, request.mount_id);
  const std::string record_dir = RecordDir(request.volume, request.mount_id);
  const std::string status_path = JoinPath(record_dir, "status.json");
  const std::string model_dir = JoinPath(record_dir, "model");
  std::string old_key;
  auto existing = ReadStatusFile(fs_, status_path);
  if (existing.ok()) {
    if (existing->reference != request.reference) {
      return Status(Code::kConflict, "volume " + vkey + " already holds \"" + existing->reference +
                                         "\", cannot pull \"" + request.reference + "\"");
    }
    old_key = existing->cache_key;
  } else if (existing.code() == Code::kCorrupt) {
    // We overwrite it below; the key it hid is for the sweep to reclaim.
    runtime_->Log(LogLevel::kWarning, existing.status().ToString());
  } else if (existing.code() != Code::kNotFound) {
    return existing.status();
  }

  VolumeStatus status;
  status.volume = request.volume;
  status.mount_id = request.mount_id;
  status.reference = request.reference;
  status.partial = request.exclude_weights || !request.exclude_patterns.empty();

  MS_RETURN_IF_ERROR(options_.store.durable
                         ? MakeDurableDirs(fs_, JoinPath(options_.store.root, "volumes"), record_dir, kDirMode)
                         : MakeDirs(fs_, record_dir, kDirMode));
  // The record leaves "succeeded" before the old model goes: nobody may see
  // a succeeded volume with files missing. It keeps the old key meanwhile,
  // so a re-pull of an unchanged digest does not let GC take the entry.
  status.state = VolumeState::kRunning;
  status.cache_key = old_key;
  // Once the record says running, every error goes through the failure
  // path, so no failed pull leaves a model behind it.
  // Records success; for a full pull, under the entry lock (Materialize's
  // on_linked), so that no GC of the key runs between the link and the
  // record: a GC there that read the record garbled (a node mishap) would
  // collect the entry under a volume about to say succeeded.
  auto record_success = [&] {
    status.state = VolumeState::kSucceeded;
    return WriteStatusFile(fs_, status_path, status);
  };
  bool success_recorded = false;
  auto finish = [&](Status st) -> Result<PullResult> {
    if (st.ok() && !success_recorded) st = record_success();
    if (st.ok()) return PullResult{status, model_dir};
    status.state = StateFor(st);
    status.error = st.message();
    // The record first, then the model. A record write that failed after
    // its rename landed may still say succeeded: never remove a model from
    // under a record that says so.
    Status wr = WriteStatusFile(fs_, status_path, status);
    if (!wr.ok()) runtime_->Log(LogLevel::kWarning, wr.Annotate("record failure").ToString());
    auto on_disk = ReadStatusFile(fs_, status_path);
    if (!(on_disk.ok() && on_disk->state == VolumeState::kSucceeded)) {
      Status rm = RemoveAll(fs_, model_dir);
      if (!rm.ok()) runtime_->Log(LogLevel::kWarning, rm.Annotate("remove failed model").ToString());
    }
    if (!status.cache_key.empty()) GcLogged(status.cache_key, "after failed pull");
    return st;
  };
  if (Status wr = WriteStatusFile(fs_, status_path, status); !wr.ok()) {
    // The write may have failed after its rename landed (the record dir's
    // fsync): then the record says running over the old model.
    auto on_disk = ReadStatusFile(fs_, status_path);
    if (on_disk.ok() && on_disk->state == VolumeState::kRunning) return finish(wr);
    return wr;
  }
  status.cache_key.clear();
  // A re-pull whose tag moved no longer references the old key: collect it
  // now (upstream overwrote the record and leaked the old entry).
  auto release_old = [&] {
    if (!old_key.empty() && old_key != status.cache_key) GcLogged(old_key, "after tag move");
  };
  if (Status rm = RemoveAll(fs_, model_dir); !rm.ok()) {
    auto result = finish(rm.Annotate("remove old model"));
    release_old();
    return result;
  }

  PullOptions pull_options;
  pull_options.durable = options_.store.durable;
  pull_options.fetch_slots = &fetch_slots_;
  if (status.partial) {
    pull_options.exclude_weights = request.exclude_weights;
    pull_options.exclude_patterns = request.exclude_patterns;
    pull_options.read_only = false;
    if (Status wr = WriteStatusFile(fs_, status_path, status); !wr.ok()) {
      auto result = finish(wr);
      release_old();
      return result;
    }
    release_old();
    auto digest = registry_->Resolve(*token, reference);
    if (!digest.ok()) return finish(digest.status().Annotate("resolve " + request.reference));
    status.manifest = digest->ToString();
    Status st = fs_->MakeDir(model_dir, kDirMode);
    if (st.ok()) {
      st = PullPayload(fs_, runtime_, registry_, *token, reference, *digest, model_dir,
                       pull_options, nullptr)
               .Annotate("pull " + QuoteInput(request.reference));
    }
    // The model's own name durable before a record says succeeded on it
    // (PullPayload syncs what is inside): else a power loss can keep the
    // record and lose the model. A full pull's mirror does the same.
    if (st.ok() && options_.store.durable) st = fs_->SyncDir(record_dir);
    return finish(st);
  }

  auto digest = registry_->Resolve(*token, reference);
  if (!digest.ok()) {
    Status st = digest.status().Annotate("resolve " + request.reference);
    auto result = finish(st);
    release_old();
    return result;
  }
  status.cache_key = digest->ToString();
  status.manifest = status.cache_key;
  // The record names the key before any byte moves: after a crash the key
  // is still known.
  if (Status wr = WriteStatusFile(fs_, status_path, status); !wr.ok()) {
    auto result = finish(wr);
    release_old();
    return result;
  }
  const Digest key = *digest;
  Status st = store_.Materialize(
      key, model_dir, RecordRel(request.volume, request.mount_id),
      [&](const std::string& staging) {
        // One copy per layer: the model's files are links to the store's
        // layer entries. What the registry served is at fault, so the error
        // names what was asked of it: the reference, then the digest and path.
        const std::unique_ptr<LayerSource> layers = store_.LayersOf(key);
        PullOptions options = pull_options;
        options.layers = layers.get();
        return PullPayload(fs_, runtime_, registry_, *token, reference, key, staging, options, nullptr)
            .Annotate("pull " + QuoteInput(request.reference));
      },
      *token, [&] {
        success_recorded = true;
        return record_success();
      });
  // The old model goes once the new one is linked, so the layers the two
  // share stay: a tag move that keeps most layers fetches only the changed
  // ones, and collects only what no model lists any more.
  release_old();
  return finish(st);
}

Status VolumeManager::DeleteModel(const std::string& volume, const std::string& mount_id) {
  MS_RETURN_IF_ERROR(ValidateVolumeName(volume, "volume name"));
  if (!mount_id.empty()) MS_RETURN_IF_ERROR(ValidateVolumeName(mount_id, "mount id"));
  // A static volume's dir may also hold dynamic mounts: removing it is a
  // release (every record dropped first, every key collected).
  if (mount_id.empty()) return ReleaseVolume(volume);
  const std::string vkey = VolumeKey(volume, mount_id);
  {
    ScopedLock guard(runtime_, kInflightKey);
    if (auto it = inflight_.find(vkey); it != inflight_.end()) it->second->Cancel();
  }
  ScopedLock volume_lock(runtime_, "volume:" + vkey);
  MS_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> slot_lock, LockSlot(volume, mount_id));
  const std::string record_dir = RecordDir(volume, mount_id);
  std::string key;
  auto status = ReadStatusFile(fs_, JoinPath(record_dir, "status.json"));
  if (status.ok()) {
    key = status->cache_key;
  } else if (status.code() != Code::kNotFound) {
    runtime_->Log(LogLevel::kWarning,
                  status.status().Annotate("delete " + vkey + ": cache key unknown").ToString());
  }
  MS_RETURN_IF_ERROR(DropRecord(RecordRel(volume, mount_id)));
  MS_RETURN_IF_ERROR(RemoveWithRetry(record_dir));
  DropLockFile(LockPath(volume, mount_id));
  slot_lock.reset();
  if (!key.empty()) GcLogged(key, "after delete of " + vkey);
  return Status::Ok();
}

Status VolumeManager::ReleaseVolume(const std::string& volume) {
  MS_RETURN_IF_ERROR(ValidateVolumeName(volume, "volume name"));
  std::vector<std::string> busy;
  {
    ScopedLock guard(runtime_, kInflightKey);
    // From here until the release returns, no pull into the volume starts.
    ++releasing_[volume];
    for (auto& [vkey, token] : inflight_) {
      if (vkey == volume || vkey.rfind(volume + "/", 0) == 0) {
        token->Cancel();
        busy.push_back(vkey);
      }
    }
  }
  // Wait for the canceled pulls to finish (keys sorted: a fixed lock order).
  for (const std::string& vkey : busy) {
    runtime_->Lock("volume:" + vkey);
    runtime_->Unlock("volume:" + vkey);
  }
  // Not a destructor: taking a lock can be a crash point in the simulator.
  Status st = ReleaseQuiescedVolume(volume);
  {
    ScopedLock guard(runtime_, kInflightKey);
    if (auto it = releasing_.find(volume); it != releasing_.end() && --it->second == 0) releasing_.erase(it);
  }
  return st;
}

Status VolumeManager::ReleaseQuiescedVolume(const std::string& volume) {
  const std::string dir = VolumeDir(volume);
  // The volume's lock, then every mount's other processes may be using: a
  // mount's lock file exists from before its operation touches the tree.
  MS_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> volume_lock, LockAt(LockPath(volume, "")));
  const std::string locks_dir = JoinPath(options_.store.root, "locks");
  auto lock_names = fs_->ReadDir(locks_dir);
  if (!lock_names.ok()) return lock_names.status().Annotate("release " + volume);
  std::vector<std::string> mount_locks;
  for (const std::string& name : *lock_names) {
    if (name.size() > volume.size() + 1 && name.compare(0, volume.size() + 1, volume + "+") == 0) {
      mount_locks.push_back(JoinPath(locks_dir, name));
    }
  }
  std::sort(mount_locks.begin(), mount_locks.end());
  std::vector<std::unique_ptr<FileLock>> held;
  for (const std::string& path : mount_locks) {
    MS_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, LockAt(path));
    held.push_back(std::move(lock));
  }
  std::set<std::string> keys;
  auto collect = [&](const std::string& status_path) {
    auto status = ReadStatusFile(fs_, status_path);
    if (status.ok()) {
      if (!status->cache_key.empty()) keys.insert(status->cache_key);
    } else if (status.code() != Code::kNotFound) {
      runtime_->Log(LogLevel::kWarning, status.status().Annotate("release " + volume).ToString());
    }
  };
  std::vector<std::string> records{RecordRel(volume, "")};
  auto mounts = fs_->ReadDir(JoinPath(dir, "models"));
  if (mounts.ok()) {
    for (const std::string& m : *mounts) records.push_back(RecordRel(volume, m));
  } else if (mounts.code() != Code::kNotFound) {
    // Removing what we could not list could leave a succeeded record over a
    // half-removed model: refuse, the caller retries.
    return mounts.status().Annotate("release " + volume);
  }
  for (const std::string& record : records) {
    collect(JoinPath(JoinPath(options_.store.root, record), "status.json"));
  }
  for (const std::string& record : records) MS_RETURN_IF_ERROR(DropRecord(record));
  MS_RETURN_IF_ERROR(RemoveWithRetry(dir));
  for (const std::string& path : mount_locks) DropLockFile(path);
  DropLockFile(LockPath(volume, ""));
  held.clear();
  volume_lock.reset();
  for (const std::string& key : keys) GcLogged(key, "after release of " + volume);
  return Status::Ok();
}

Result<VolumeStatus> VolumeManager::GetStatus(const std::string& volume, const std::string& mount_id) {
  MS_RETURN_IF_ERROR(ValidateVolumeName(volume, "volume name"));
  if (!mount_id.empty()) MS_RETURN_IF_ERROR(ValidateVolumeName(mount_id, "mount id"));
  return ReadStatusFile(fs_, JoinPath(RecordDir(volume, mount_id), "status.json"));
}

Status VolumeManager::DropRecord(const std::string& record_rel) {
  // The record goes first and durably, so that no crash or concurrent
  // reader ever finds a succeeded record over a half-removed model. Already
  // gone is made durable too: an earlier attempt may have unlinked it and
  // failed to sync.
  Status st = fs_->Unlink(JoinPath(JoinPath(options_.store.root, record_rel), "status.json"));
  if (!st.ok() && st.code() != Code::kNotFound) return st;
  return MakeRecordStateDurable(record_rel);
}

Status VolumeManager::RemoveWithRetry(const std::string& path) {
  return RemoveTreeWithRetry(fs_, runtime_, path, options_.remove_attempts_max, options_.remove_retry_interval_ms);
}

Status RemoveTreeWithRetry(Filesystem* fs, Runtime* runtime, const std::string& path, int attempts_max,
                           int64_t retry_interval_ms) {
  Status st;
  for (int attempt = 1; attempt <= attempts_max; ++attempt) {
    st = RemoveAll(fs, path);
    if (st.code() != Code::kNotEmpty) return st;
    if (attempt < attempts_max) runtime->SleepMs(retry_interval_ms);
  }
  return st.Annotate("remove " + path + " after " + std::to_string(attempts_max) + " attempts");
}

void VolumeManager::GcLogged(const std::string& cache_key, std::string_view why) {
  auto digest = Digest::Parse(cache_key);
  Status st = digest.ok() ? store_.MaybeGc(*digest) : digest.status();
  if (!st.ok()) {
    runtime_->Log(LogLevel::kWarning, st.Annotate("gc " + cache_key + " " + std::string(why)).ToString());
  }
}

}  // namespace ms
