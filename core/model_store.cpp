#include "core/model_store.h"

#include "core/fs_util.h"

namespace ms {
namespace {

constexpr uint32_t kDirMode = 0755;
constexpr uint64_t kRefMaxBytes = 4096;
constexpr uint64_t kMirrorEntriesMax = 10'000'000;
constexpr char kLockName[] = ".lock";

std::string RefName(const std::string& referrer) { return Sha256Hex(referrer); }

}  // namespace

class ModelStore::EntryLock {
 public:
  EntryLock(Runtime* runtime, std::string key, std::unique_ptr<FileLock> file_lock)
      : runtime_(runtime), key_(std::move(key)), file_lock_(std::move(file_lock)) {}
  EntryLock(const EntryLock&) = delete;
  EntryLock& operator=(const EntryLock&) = delete;
  ~EntryLock() {
    file_lock_.reset();
    runtime_->Unlock(key_);
  }
  bool held() const { return file_lock_ != nullptr; }

 private:
  Runtime* runtime_;
  std::string key_;
  std::unique_ptr<FileLock> file_lock_;
};

ModelStore::ModelStore(Filesystem* fs, Runtime* runtime, StoreOptions options, ReferrerCheck check)
    : fs_(fs), runtime_(runtime), options_(std::move(options)), check_(std::move(check)) {}

Status ModelStore::Init() {
  const std::string store = JoinPath(options_.root, "store");
  if (!options_.durable) return MakeDirs(fs_, store, kDirMode);
  return MakeDurableDirs(fs_, options_.root, store, kDirMode);
}

std::string ModelStore::EntryDir(const Digest& digest) const {
  std::string out = JoinPath(options_.root, "store/");
  out += digest.algorithm_name();
  out += '/';
  out += digest.hex();
  return out;
}
std::string ModelStore::DataDir(const Digest& digest) const {
  return JoinPath(EntryDir(digest), "data");
}
std::string ModelStore::StagingDir(const Digest& digest) const {
  return JoinPath(EntryDir(digest), "data.tmp");
}

Result<std::unique_ptr<ModelStore::EntryLock>> ModelStore::LockEntry(const Digest& digest,
                                                                     bool create) {
  const std::string entry = EntryDir(digest);
  std::string key = "entry:" + digest.ToString();
  runtime_->Lock(key);
  auto fail = [&](Status st) -> Result<std::unique_ptr<EntryLock>> {
    runtime_->Unlock(key);
    return st;
  };
  for (int attempt = 0; attempt < options_.lock_attempts_max; ++attempt) {
    if (create) {
      // The entry's name (and its algorithm dir's) durable before anything
      // inside it is relied on.
      std::atomic<bool>& algo_durable = algo_dir_durable_[static_cast<size_t>(digest.algorithm())];
      Status st = MakeDirs(fs_, entry, kDirMode);
      if (st.ok() && options_.durable) {
        const std::string store = JoinPath(options_.root, "store");
        st = MakeDurableDirs(fs_, algo_durable ? ParentPath(entry) : store, entry, kDirMode);
        if (st.ok()) algo_durable = true;
      }
      if (!st.ok()) return fail(st.Annotate("lock entry " + digest.ToString()));
    } else {
      auto exists = Exists(fs_, entry);
      if (!exists.ok()) return fail(exists.status());
      if (!*exists) return std::make_unique<EntryLock>(runtime_, std::move(key), nullptr);
    }
    auto lock = fs_->LockFile(JoinPath(entry, kLockName));
    if (lock.ok()) {
      return std::make_unique<EntryLock>(runtime_, std::move(key), std::move(lock).value());
    }
    // The entry was removed between our mkdir and our lock: go round.
    if (lock.code() != Code::kNotFound) return fail(lock.status());
  }
  return fail(Status(Code::kInternal, "lock entry " + digest.ToString() + ": entry kept vanishing"));
}

Status ModelStore::Materialize(const Digest& digest, const std::string& dst_dir,
                               const std::string& referrer, const PullFn& pull,
                               const CancelToken& token, const std::function<Status()>& on_linked) {
  MS_RETURN_IF_ERROR(token.Check(runtime_->NowMs()));
  MS_RETURN_IF_ERROR(MakeDirs(fs_, JoinPath(options_.root, "store"), kDirMode));
  MS_ASSIGN_OR_RETURN(std::unique_ptr<EntryLock> lock, LockEntry(digest, /*create=*/true));
  const std::string data = DataDir(digest);
  MS_ASSIGN_OR_RETURN(bool have_data, Exists(fs_, data));
  if (!have_data) {
    Status st = PullLocked(digest, pull);
    if (!st.ok()) {
      Status gc = CollectLocked(digest, nullptr);
      if (!gc.ok()) runtime_->Log(LogLevel::kWarning, gc.Annotate("gc after failed pull").ToString());
      return st;
    }
  }
  // The reference goes down before the first link, so the entry is never
  // linked into a volume without being protected.
  MS_RETURN_IF_ERROR(AddRefLocked(digest, referrer));
  Status st = MirrorLocked(data, dst_dir, token);
  if (st.code() == Code::kCorrupt) {
    // A tampered payload: set it aside (volumes already linked keep their
    // inodes), pull a fresh copy, and link that instead.
    runtime_->Log(LogLevel::kError, st.Annotate("re-pulling " + digest.ToString()).ToString());
    st = RemoveAll(fs_, dst_dir);
    if (st.ok()) st = RemoveAll(fs_, StagingDir(digest));
    if (st.ok()) st = fs_->Rename(data, StagingDir(digest));
    if (st.ok()) st = PullLocked(digest, pull);
    if (st.ok()) st = MirrorLocked(data, dst_dir, token);
  }
  if (!st.ok()) {
    // No half-populated volume may stay behind holding references.
    Status rm = RemoveAll(fs_, dst_dir);
    Status unref = RemoveRefLocked(digest, referrer);
    Status gc = CollectLocked(digest, nullptr);
    for (const Status* s : {&rm, &unref, &gc}) {
      if (!s->ok()) runtime_->Log(LogLevel::kWarning, s->Annotate("cleanup after failed link").ToString());
    }
    return st.Annotate("link " + digest.ToString() + " into " + dst_dir);
  }
  return on_linked ? on_linked() : Status::Ok();
}

Status ModelStore::RepairRef(const Digest& digest, const std::string& referrer) {
  MS_ASSIGN_OR_RETURN(std::unique_ptr<EntryLock> lock, LockEntry(digest, /*create=*/false));
  if (!lock->held()) return Status::Ok();
  MS_ASSIGN_OR_RETURN(const bool have_data, Exists(fs_, DataDir(digest)));
  if (!have_data) return Status::Ok();
  auto ref = fs_->ReadFile(JoinPath(JoinPath(EntryDir(digest), "refs"), RefName(referrer)), kRefMaxBytes);
  if (ref.ok() && *ref == referrer) return Status::Ok();
  if (!ref.ok() && ref.code() != Code::kNotFound) return ref.status();
  return AddRefLocked(digest, referrer);
}

Status ModelStore::PullLocked(const Digest& digest, const PullFn& pull) {
  const std::string staging = StagingDir(digest);
  // We hold the entry lock, so any staging dir is a leftover.
  MS_RETURN_IF_ERROR(RemoveAll(fs_, staging));
  MS_RETURN_IF_ERROR(fs_->MakeDir(staging, kDirMode));
  Status st = pull(staging);
  if (st.ok()) st = fs_->Rename(staging, DataDir(digest));
  if (st.ok() && options_.durable) st = fs_->SyncDir(EntryDir(digest));
  if (!st.ok()) {
    Status rm = RemoveAll(fs_, staging);
    if (!rm.ok()) runtime_->Log(LogLevel::kWarning, rm.Annotate("remove staging").ToString());
  }
  return st;
}

Status ModelStore::AddRefLocked(const Digest& digest, const std::string& referrer) {
  const std::string refs = JoinPath(EntryDir(digest), "refs");
  MS_RETURN_IF_ERROR(options_.durable ? MakeDurableDirs(fs_, EntryDir(digest), refs, kDirMode)
                                      : MakeDirs(fs_, refs, kDirMode));
  const std::string path = JoinPath(refs, RefName(referrer));
  if (options_.durable) return WriteFileAtomic(fs_, path, referrer, 0644);
  // Non-durable: a plain create is enough; an existing ref is ours already.
  auto file = fs_->NewWritableFile(path, 0644);
  if (file.code() == Code::kAlreadyExists) return Status::Ok();
  if (!file.ok()) return file.status();
  Status st = (*file)->Append(referrer);
  Status close_st = (*file)->Close();
  return st.ok() ? close_st : st;
}

Status ModelStore::RemoveRefLocked(const Digest& digest, const std::string& referrer) {
  Status st = fs_->Unlink(JoinPath(JoinPath(EntryDir(digest), "refs"), RefName(referrer)));
  return st.code() == Code::kNotFound ? Status::Ok() : st;
}

Status ModelStore::MirrorLocked(const std::string& src, const std::string& dst,
                                const CancelToken& token) {
  // Iterative depth-first copy: directories recreated with their modes,
  // symlinks recreated, regular files hardlinked.
  struct Item {
    std::string src;
    std::string dst;
  };
  std::vector<Item> stack{{src, dst}};
  std::vector<std::string> made_dirs;
  uint64_t visited = 0;
  while (!stack.empty()) {
    Item item = std::move(stack.back());
    stack.pop_back();
    if (++visited > kMirrorEntriesMax) return Status(Code::kInternal, "mirror: too many entries");
    if ((visited & 63) == 0) MS_RETURN_IF_ERROR(token.Check(runtime_->NowMs()));
    MS_ASSIGN_OR_RETURN(const FileInfo info, fs_->Stat(item.src));
    switch (info.type) {
      case FileType::kDirectory: {
        MS_RETURN_IF_ERROR(fs_->MakeDir(item.dst, info.mode));
        made_dirs.push_back(item.dst);
        MS_ASSIGN_OR_RETURN(const std::vector<std::string> names, fs_->ReadDir(item.src));
        for (auto it = names.rbegin(); it != names.rend(); ++it) {
          stack.push_back({JoinPath(item.src, *it), JoinPath(item.dst, *it)});
        }
        break;
      }
      case FileType::kSymlink: {
        MS_ASSIGN_OR_RETURN(const std::string target, fs_->ReadLink(item.src));
        MS_RETURN_IF_ERROR(fs_->Symlink(target, item.dst));
        break;
      }
      case FileType::kRegular:
        // The store never writes a writable file: a write bit means someone
        // changed the payload behind our back.
        if ((info.mode & 0222) != 0) {
          return Status(Code::kCorrupt, "store file " + item.src + " is writable (mode " +
                                            std::to_string(info.mode) + "): payload tampered");
        }
        MS_RETURN_IF_ERROR(fs_->Link(item.src, item.dst));
        break;
      case FileType::kOther:
        return Status(Code::kCorrupt, "store entry " + item.src + " is not a file, dir or symlink");
    }
  }
  MS_RETURN_IF_ERROR(token.Check(runtime_->NowMs()));
  if (options_.durable) {
    for (auto it = made_dirs.rbegin(); it != made_dirs.rend(); ++it) {
      MS_RETURN_IF_ERROR(fs_->SyncDir(*it));
    }
    MS_RETURN_IF_ERROR(fs_->SyncDir(ParentPath(dst)));
  }
  return Status::Ok();
}

Status ModelStore::MaybeGc(const Digest& digest) {
  MS_ASSIGN_OR_RETURN(std::unique_ptr<EntryLock> lock, LockEntry(digest, /*create=*/false));
  if (!lock->held()) return Status::Ok();
  return CollectLocked(digest, nullptr);
}

Status ModelStore::DiscardPayloadLocked(const Digest& digest) {
  // Renaming data/ away first makes the collection crash-safe: a crash
  // part-way through the removal leaves a staging dir, which nobody links
  // from, never a data/ with files missing.
  const std::string staging = StagingDir(digest);
  MS_RETURN_IF_ERROR(RemoveAll(fs_, staging));
  MS_RETURN_IF_ERROR(fs_->Rename(DataDir(digest), staging));
  // Durably moved before anything in it goes: else a power loss could keep
  // the removals inside and undo the move, leaving a data/ with files
  // missing for the next pull to link.
  if (options_.durable) MS_RETURN_IF_ERROR(fs_->SyncDir(EntryDir(digest)));
  return RemoveEntryLocked(digest);
}

Status ModelStore::RemoveEntryLocked(const Digest& digest) {
  // The lock file goes last. While it exists, its holder owns the entry; a
  // caller waiting on it wakes after it is unlinked, sees that the path no
  // longer names the file it locked, and starts over. A plain RemoveAll
  // would unlink .lock first (it sorts first), and a caller arriving then
  // would lock a fresh .lock and work in the entry while we were still
  // removing its data.tmp/ and refs/ (two owners, a referenced entry lost).
  const std::string entry = EntryDir(digest);
  auto names = fs_->ReadDir(entry);
  if (!names.ok()) return names.code() == Code::kNotFound ? Status::Ok() : names.status();
  for (const std::string& name : *names) {
    if (name != kLockName) MS_RETURN_IF_ERROR(RemoveAll(fs_, JoinPath(entry, name)));
  }
  Status st = fs_->Unlink(JoinPath(entry, kLockName));
  if (!st.ok() && st.code() != Code::kNotFound) return st;
  st = fs_->RemoveDir(entry);
  // kNotEmpty: a caller came after the lock file went and made a fresh one;
  // the (empty) entry is now its.
  if (st.code() == Code::kNotFound || st.code() == Code::kNotEmpty) return Status::Ok();
  return st;
}

Status ModelStore::CollectLocked(const Digest& digest, SweepReport* report) {
  SweepReport local;
  if (report == nullptr) report = &local;
  const std::string entry = EntryDir(digest);
  MS_ASSIGN_OR_RETURN(const bool have_data, Exists(fs_, DataDir(digest)));
  if (!have_data) {
    auto staging = fs_->Stat(StagingDir(digest));
    if (staging.ok() && runtime_->WallNowMs() - staging->mtime_ms < options_.staging_grace_ms) {
      ++report->staging_kept;
      return Status::Ok();
    }
    if (!staging.ok() && staging.code() != Code::kNotFound) return staging.status();
    MS_RETURN_IF_ERROR(RemoveEntryLocked(digest));
    ++report->staging_removed;
    return Status::Ok();
  }
  const std::string refs = JoinPath(entry, "refs");
  auto names = fs_->ReadDir(refs);
  if (!names.ok() && names.code() != Code::kNotFound) return names.status();
  bool live = false;
  if (names.ok()) {
    for (const std::string& name : *names) {
      const std::string path = JoinPath(refs, name);
      auto referrer = fs_->ReadFile(path, kRefMaxBytes);
      if (!referrer.ok()) {
        if (referrer.code() == Code::kNotFound) continue;
        // Unreadable: we cannot tell, so the entry stays.
        runtime_->Log(LogLevel::kWarning, referrer.status().Annotate("read ref").ToString());
        live = true;
        continue;
      }
      const bool is_temp = name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0;
      auto holds = is_temp ? Result<bool>(false) : check_(*referrer, digest);
      if (!holds.ok()) {
        runtime_->Log(LogLevel::kWarning,
                      holds.status().Annotate("check ref " + *referrer).ToString());
        live = true;
        continue;
      }
      if (*holds) {
        live = true;
        // One confirmed ref keeps the entry: a GC (a delete's, say) stops
        // here, so deleting one of R volumes of a model confirms O(1) refs,
        // not R. Stale refs it did not reach wait for the sweep, which
        // reads them all, or for the GC after this ref goes.
        if (report == &local) break;
        continue;
      }
      Status st = fs_->Unlink(path);
      if (!st.ok() && st.code() != Code::kNotFound) return st;
      ++report->refs_dropped;
    }
  }
  if (live) return Status::Ok();
  MS_RETURN_IF_ERROR(DiscardPayloadLocked(digest));
  ++report->entries_removed;
  return Status::Ok();
}

Result<SweepReport> ModelStore::Sweep() {
  SweepReport report;
  const std::string store = JoinPath(options_.root, "store");
  auto algos = fs_->ReadDir(store);
  if (!algos.ok()) {
    if (algos.code() == Code::kNotFound) return report;
    return algos.status();
  }
  for (const std::string& algo : *algos) {
    auto names = fs_->ReadDir(JoinPath(store, algo));
    if (!names.ok()) {
      if (names.code() == Code::kNotDirectory || names.code() == Code::kNotFound) {
        ++report.foreign_skipped;
        continue;
      }
      return names.status();
    }
    for (const std::string& hex : *names) {
      auto digest = Digest::Parse(algo + ":" + hex);
      if (!digest.ok()) {
        runtime_->Log(LogLevel::kWarning, "sweep: skipping foreign name " + store + "/" + algo +
                                              "/" + hex);
        ++report.foreign_skipped;
        continue;
      }
      ++report.entries_scanned;
      MS_ASSIGN_OR_RETURN(std::unique_ptr<EntryLock> lock, LockEntry(*digest, /*create=*/false));
      if (!lock->held()) continue;
      Status st = CollectLocked(*digest, &report);
      if (!st.ok()) return st.Annotate("sweep " + digest->ToString());
    }
  }
  return report;
}

Result<std::vector<Digest>> ModelStore::ListEntries() {
  std::vector<Digest> out;
  const std::string store = JoinPath(options_.root, "store");
  auto algos = fs_->ReadDir(store);
  if (!algos.ok()) {
    if (algos.code() == Code::kNotFound) return out;
    return algos.status();
  }
  for (const std::string& algo : *algos) {
    auto names = fs_->ReadDir(JoinPath(store, algo));
    if (!names.ok()) continue;
    for (const std::string& hex : *names) {
      auto digest = Digest::Parse(algo + ":" + hex);
      if (digest.ok()) out.push_back(*digest);
    }
  }
  return out;
}

}  // namespace ms
