#include "core/model_store.h"

#include <algorithm>

#include "core/fs_util.h"

namespace ms {
namespace {

constexpr uint32_t kDirMode = 0755;
constexpr uint64_t kRefMaxBytes = 4096;
// Refs a GC lists at a time (ReadDirSome).
constexpr size_t kRefBatch = 16;
constexpr uint64_t kMirrorEntriesMax = 10'000'000;
constexpr char kLockName[] = ".lock";
constexpr char kLayersName[] = "layers";
constexpr uint64_t kLayersMaxBytes = 4 * 1024 * 1024;

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
  for (const char* name : {"store", "blobs"}) {
    const std::string dir = JoinPath(options_.root, name);
    MS_RETURN_IF_ERROR(options_.durable ? MakeDurableDirs(fs_, options_.root, dir, kDirMode)
                                        : MakeDirs(fs_, dir, kDirMode));
  }
  return Status::Ok();
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
std::string ModelStore::LayerEntryDir(LayerFormat format, const Digest& digest) const {
  std::string out = JoinPath(options_.root, format == LayerFormat::kRaw ? "blobs/raw/" : "blobs/tar/");
  out += digest.algorithm_name();
  out += '/';
  out += digest.hex();
  return out;
}
std::string ModelStore::LayerDataDir(LayerFormat format, const Digest& digest) const {
  return JoinPath(LayerEntryDir(format, digest), "data");
}

std::string ModelStore::Entry::data() const { return JoinPath(dir, "data"); }
std::string ModelStore::Entry::staging() const { return JoinPath(dir, "data.tmp"); }
std::string ModelStore::Entry::refs() const { return JoinPath(dir, "refs"); }

ModelStore::Entry ModelStore::ModelEntry(const Digest& digest) const {
  return Entry{Entry::Kind::kModel, digest, EntryDir(digest), digest.ToString()};
}
ModelStore::Entry ModelStore::LayerEntry(LayerFormat format, const Digest& digest) const {
  const bool raw = format == LayerFormat::kRaw;
  return Entry{raw ? Entry::Kind::kRawLayer : Entry::Kind::kTarLayer, digest,
               LayerEntryDir(format, digest), (raw ? "raw layer " : "tar layer ") + digest.ToString()};
}

Result<std::unique_ptr<ModelStore::EntryLock>> ModelStore::LockEntry(const Entry& e, bool create) {
  const std::string& entry = e.dir;
  std::string key = "entry:" + e.name;
  runtime_->Lock(key);
  auto fail = [&](Status st) -> Result<std::unique_ptr<EntryLock>> {
    runtime_->Unlock(key);
    return st;
  };
  for (int attempt = 0; attempt < options_.lock_attempts_max; ++attempt) {
    if (create) {
      // The entry's name (and its algorithm dir's) durable before anything
      // inside it is relied on.
      std::atomic<bool>& algo_durable =
          algo_dir_durable_[static_cast<size_t>(e.kind)][static_cast<size_t>(e.digest.algorithm())];
      Status st = MakeDirs(fs_, entry, kDirMode);
      if (st.ok() && options_.durable) {
        const std::string base = JoinPath(options_.root, e.is_model() ? "store" : "blobs");
        st = MakeDurableDirs(fs_, algo_durable ? ParentPath(entry) : base, entry, kDirMode);
        if (st.ok()) algo_durable = true;
      }
      if (!st.ok()) return fail(st.Annotate("lock entry " + e.name));
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
  return fail(Status(Code::kInternal, "lock entry " + e.name + ": entry kept vanishing"));
}

// The layers of one model being pulled into its entry (under the model's
// entry lock, which Materialize holds while the pull runs).
class ModelStore::ModelLayers : public LayerSource {
 public:
  ModelLayers(ModelStore* store, Digest manifest) : store_(store), manifest_(std::move(manifest)) {}

  Status BeginManifest(const ModelManifest& manifest) override {
    // The list goes down (durably) before any layer names this model, so a
    // collection of the model always finds every layer it may hold.
    std::string text;
    std::vector<std::string> seen;
    for (const Layer& layer : manifest.layers) {
      std::string line = (layer.format == LayerFormat::kRaw ? "raw " : "tar ") + layer.digest.ToString();
      if (std::find(seen.begin(), seen.end(), line) != seen.end()) continue;
      text += line + "\n";
      seen.push_back(std::move(line));
    }
    const Entry model = store_->ModelEntry(manifest_);
    return store_->WriteRecord(JoinPath(model.dir, kLayersName), text);
  }

  Status WithLayer(const Layer& layer, const FillFn& fill, const UseFn& use) override {
    const Entry entry = store_->LayerEntry(layer.format, layer.digest);
    MS_ASSIGN_OR_RETURN(std::unique_ptr<EntryLock> lock, store_->LockEntry(entry, /*create=*/true));
    // Referenced before its payload is used, so it is never linked into a
    // model without being protected.
    MS_RETURN_IF_ERROR(store_->AddRefLocked(entry, manifest_.ToString()));
    MS_ASSIGN_OR_RETURN(bool have_data, Exists(store_->fs_, entry.data()));
    if (!have_data) {
      Status st = store_->PullLocked(entry, fill);
      if (!st.ok()) {
        store_->LogIfError(store_->CollectLocked(entry, nullptr), "gc after failed layer pull");
        return st;
      }
    }
    Status st = use(entry.data());
    if (st.code() == Code::kCorrupt) {
      // A tampered payload: set it aside (models and volumes already linked
      // keep their inodes), fill a fresh one, and use that.
      store_->runtime_->Log(LogLevel::kError, st.Annotate("re-pulling " + entry.name).ToString());
      st = RemoveAll(store_->fs_, entry.staging());
      if (st.ok()) st = store_->fs_->Rename(entry.data(), entry.staging());
      if (st.ok()) st = store_->PullLocked(entry, fill);
      if (st.ok()) st = use(entry.data());
    }
    return st;
  }

 private:
  ModelStore* store_;
  Digest manifest_;
};

std::unique_ptr<LayerSource> ModelStore::LayersOf(const Digest& manifest) {
  return std::make_unique<ModelLayers>(this, manifest);
}

void ModelStore::LogIfError(const Status& st, const std::string& what) {
  if (!st.ok()) runtime_->Log(LogLevel::kWarning, st.Annotate(what).ToString());
}

Status ModelStore::WriteRecord(const std::string& path, std::string_view bytes) {
  if (options_.durable) return WriteFileAtomic(fs_, path, bytes, 0644);
  // Non-durable: a plain create is enough; an existing file has these
  // bytes already (a ref's name is its content's hash, a layer list's
  // entry its manifest's digest).
  auto file = fs_->NewWritableFile(path, 0644);
  if (file.code() == Code::kAlreadyExists) return Status::Ok();
  if (!file.ok()) return file.status();
  Status st = (*file)->Append(bytes);
  Status close_st = (*file)->Close();
  return st.ok() ? close_st : st;
}

Status ModelStore::Materialize(const Digest& digest, const std::string& dst_dir,
                               const std::string& referrer, const PullFn& pull,
                               const CancelToken& token, const std::function<Status()>& on_linked) {
  MS_RETURN_IF_ERROR(token.Check(runtime_->NowMs()));
  MS_RETURN_IF_ERROR(MakeDirs(fs_, JoinPath(options_.root, "store"), kDirMode));
  const Entry entry = ModelEntry(digest);
  MS_ASSIGN_OR_RETURN(std::unique_ptr<EntryLock> lock, LockEntry(entry, /*create=*/true));
  const std::string data = entry.data();
  MS_ASSIGN_OR_RETURN(bool have_data, Exists(fs_, data));
  if (!have_data) {
    Status st = PullLocked(entry, pull);
    if (!st.ok()) {
      LogIfError(CollectLocked(entry, nullptr), "gc after failed pull");
      return st;
    }
  }
  // The reference goes down before the first link, so the entry is never
  // linked into a volume without being protected.
  MS_RETURN_IF_ERROR(AddRefLocked(entry, referrer));
  Status st = MirrorLocked(data, dst_dir, token);
  if (st.code() == Code::kCorrupt) {
    // A tampered payload: set it aside (volumes already linked keep their
    // inodes), pull a fresh copy, and link that instead.
    runtime_->Log(LogLevel::kError, st.Annotate("re-pulling " + digest.ToString()).ToString());
    st = RemoveAll(fs_, dst_dir);
    if (st.ok()) st = RemoveAll(fs_, entry.staging());
    if (st.ok()) st = fs_->Rename(data, entry.staging());
    if (st.ok()) st = PullLocked(entry, pull);
    if (st.ok()) st = MirrorLocked(data, dst_dir, token);
  }
  if (!st.ok()) {
    // No half-populated volume may stay behind holding references.
    LogIfError(RemoveAll(fs_, dst_dir), "cleanup after failed link");
    LogIfError(RemoveRefLocked(entry, referrer), "cleanup after failed link");
    LogIfError(CollectLocked(entry, nullptr), "cleanup after failed link");
    return st.Annotate("link " + digest.ToString() + " into " + dst_dir);
  }
  return on_linked ? on_linked() : Status::Ok();
}

Status ModelStore::RepairRef(const Digest& digest, const std::string& referrer) {
  const Entry entry = ModelEntry(digest);
  MS_ASSIGN_OR_RETURN(std::unique_ptr<EntryLock> lock, LockEntry(entry, /*create=*/false));
  if (!lock->held()) return Status::Ok();
  MS_ASSIGN_OR_RETURN(const bool have_data, Exists(fs_, entry.data()));
  if (!have_data) return Status::Ok();
  auto ref = fs_->ReadFile(JoinPath(entry.refs(), RefName(referrer)), kRefMaxBytes);
  if (ref.ok() && *ref == referrer) return Status::Ok();
  if (!ref.ok() && ref.code() != Code::kNotFound) return ref.status();
  return AddRefLocked(entry, referrer);
}

Status ModelStore::PullLocked(const Entry& entry, const PullFn& pull) {
  const std::string staging = entry.staging();
  // We hold the entry lock, so any staging dir is a leftover.
  MS_RETURN_IF_ERROR(RemoveAll(fs_, staging));
  MS_RETURN_IF_ERROR(fs_->MakeDir(staging, kDirMode));
  Status st = pull(staging);
  if (st.ok()) st = fs_->Rename(staging, entry.data());
  if (st.ok() && options_.durable) st = fs_->SyncDir(entry.dir);
  if (!st.ok()) LogIfError(RemoveAll(fs_, staging), "remove staging");
  return st;
}

Status ModelStore::AddRefLocked(const Entry& entry, const std::string& referrer) {
  const std::string refs = entry.refs();
  MS_RETURN_IF_ERROR(options_.durable ? MakeDurableDirs(fs_, entry.dir, refs, kDirMode)
                                      : MakeDirs(fs_, refs, kDirMode));
  return WriteRecord(JoinPath(refs, RefName(referrer)), referrer);
}

Status ModelStore::RemoveRefLocked(const Entry& entry, const std::string& referrer) {
  Status st = fs_->Unlink(JoinPath(entry.refs(), RefName(referrer)));
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
  const Entry entry = ModelEntry(digest);
  MS_ASSIGN_OR_RETURN(std::unique_ptr<EntryLock> lock, LockEntry(entry, /*create=*/false));
  if (!lock->held()) return Status::Ok();
  return CollectLocked(entry, nullptr);
}

Status ModelStore::DiscardPayloadLocked(const Entry& entry) {
  // Renaming data/ away first makes the collection crash-safe: a crash
  // part-way through the removal leaves a staging dir, which nobody links
  // from, never a data/ with files missing.
  const std::string staging = entry.staging();
  MS_RETURN_IF_ERROR(RemoveAll(fs_, staging));
  MS_RETURN_IF_ERROR(fs_->Rename(entry.data(), staging));
  // Durably moved before anything in it goes: else a power loss could keep
  // the removals inside and undo the move, leaving a data/ with files
  // missing for the next pull to link.
  if (options_.durable) MS_RETURN_IF_ERROR(fs_->SyncDir(entry.dir));
  return RemoveEntryLocked(entry);
}

Status ModelStore::ReleaseLayersLocked(const Entry& model) {
  auto text = fs_->ReadFile(JoinPath(model.dir, kLayersName), kLayersMaxBytes);
  if (!text.ok()) return text.code() == Code::kNotFound ? Status::Ok() : text.status();
  const std::string referrer = model.digest.ToString();
  size_t pos = 0;
  while (pos < text->size()) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos) end = text->size();
    const std::string line = text->substr(pos, end - pos);
    pos = end + 1;
    const size_t space = line.find(' ');
    auto digest = Digest::Parse(space == std::string::npos ? "" : line.substr(space + 1));
    if (!digest.ok() || (line.compare(0, space, "raw") != 0 && line.compare(0, space, "tar") != 0)) {
      // Not ours (a torn write is impossible: it is written atomically).
      runtime_->Log(LogLevel::kWarning, "model " + model.name + ": skipping layer line " + QuoteInput(line));
      continue;
    }
    const Entry layer = LayerEntry(line[0] == 'r' ? LayerFormat::kRaw : LayerFormat::kTar, *digest);
    MS_ASSIGN_OR_RETURN(std::unique_ptr<EntryLock> lock, LockEntry(layer, /*create=*/false));
    if (!lock->held()) continue;
    MS_RETURN_IF_ERROR(RemoveRefLocked(layer, referrer));
    MS_RETURN_IF_ERROR(CollectLocked(layer, nullptr));
  }
  return Status::Ok();
}

Status ModelStore::RemoveEntryLocked(const Entry& entry) {
  // A model lets go of its layers while it still holds its lock (and has
  // no data/): a pull of the same model after it starts a fresh list.
  if (entry.is_model()) MS_RETURN_IF_ERROR(ReleaseLayersLocked(entry));
  // The lock file goes last. While it exists, its holder owns the entry; a
  // caller waiting on it wakes after it is unlinked, sees that the path no
  // longer names the file it locked, and starts over. A plain RemoveAll
  // would unlink .lock first (it sorts first), and a caller arriving then
  // would lock a fresh .lock and work in the entry while we were still
  // removing its data.tmp/ and refs/ (two owners, a referenced entry lost).
  auto names = fs_->ReadDir(entry.dir);
  if (!names.ok()) return names.code() == Code::kNotFound ? Status::Ok() : names.status();
  for (const std::string& name : *names) {
    if (name != kLockName) MS_RETURN_IF_ERROR(RemoveAll(fs_, JoinPath(entry.dir, name)));
  }
  Status st = fs_->Unlink(JoinPath(entry.dir, kLockName));
  if (!st.ok() && st.code() != Code::kNotFound) return st;
  st = fs_->RemoveDir(entry.dir);
  // kNotEmpty: a caller came after the lock file went and made a fresh one;
  // the (empty) entry is now its.
  if (st.code() == Code::kNotFound || st.code() == Code::kNotEmpty) return Status::Ok();
  return st;
}

Result<bool> ModelStore::RefHolds(const Entry& entry, const std::string& referrer) {
  if (entry.is_model()) return check_(referrer, entry.digest);
  // A layer's ref names a model: it holds while the model's entry exists
  // (its collection drops the ref before the entry goes).
  auto model = Digest::Parse(referrer);
  if (!model.ok()) return false;
  return Exists(fs_, EntryDir(*model));
}

Status ModelStore::CollectLocked(const Entry& entry, SweepReport* report) {
  SweepReport local;
  if (report == nullptr) report = &local;
  MS_ASSIGN_OR_RETURN(const bool have_data, Exists(fs_, entry.data()));
  if (!have_data) {
    auto staging = fs_->Stat(entry.staging());
    // Only a model's staging may be another driver's (one that does not
    // take the file lock); layer entries are this store's alone.
    if (entry.is_model() && staging.ok() &&
        runtime_->WallNowMs() - staging->mtime_ms < options_.staging_grace_ms) {
      ++report->staging_kept;
      return Status::Ok();
    }
    if (!staging.ok() && staging.code() != Code::kNotFound) return staging.status();
    MS_RETURN_IF_ERROR(RemoveEntryLocked(entry));
    ++report->staging_removed;
    return Status::Ok();
  }
  const std::string refs = entry.refs();
  // A GC (a delete's, say) needs one ref that holds: it lists refs/ a few
  // names at a time and stops at the first that holds, so deleting one of
  // R volumes of a model costs O(1) in R, listing included. Stale refs it
  // did not reach wait for the sweep, which lists and confirms them all,
  // or for the GC after the holding ref goes.
  const bool gc = report == &local;
  bool live = false;
  for (bool whole = !gc;;) {
    auto names = whole ? fs_->ReadDir(refs) : fs_->ReadDirSome(refs, kRefBatch);
    if (!names.ok() && names.code() != Code::kNotFound) return names.status();
    if (!names.ok()) break;
    uint64_t dropped = 0;
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
      auto holds = is_temp ? Result<bool>(false) : RefHolds(entry, *referrer);
      if (!holds.ok()) {
        runtime_->Log(LogLevel::kWarning,
                      holds.status().Annotate("check ref " + *referrer).ToString());
        live = true;
        continue;
      }
      if (*holds) {
        live = true;
        if (gc) break;  // one confirmed ref keeps the entry
        continue;
      }
      Status st = fs_->Unlink(path);
      if (!st.ok() && st.code() != Code::kNotFound) return st;
      ++dropped;
      ++report->refs_dropped;
    }
    // Done once a ref holds (or cannot be told) or every name was read;
    // else the next few. A round that dropped nothing lists them all next,
    // so this ends.
    if (live || whole || names->size() < kRefBatch) break;
    if (dropped == 0) whole = true;
  }
  if (live) return Status::Ok();
  MS_RETURN_IF_ERROR(DiscardPayloadLocked(entry));
  ++(entry.is_model() ? report->entries_removed : report->layers_removed);
  return Status::Ok();
}

Status ModelStore::SweepDir(const std::string& dir, Entry::Kind kind, SweepReport* report) {
  auto algos = fs_->ReadDir(dir);
  if (!algos.ok()) return algos.code() == Code::kNotFound ? Status::Ok() : algos.status();
  for (const std::string& algo : *algos) {
    auto names = fs_->ReadDir(JoinPath(dir, algo));
    if (!names.ok()) {
      if (names.code() == Code::kNotDirectory || names.code() == Code::kNotFound) {
        ++report->foreign_skipped;
        continue;
      }
      return names.status();
    }
    for (const std::string& hex : *names) {
      auto digest = Digest::Parse(algo + ":" + hex);
      if (!digest.ok()) {
        runtime_->Log(LogLevel::kWarning, "sweep: skipping foreign name " + dir + "/" + algo + "/" + hex);
        ++report->foreign_skipped;
        continue;
      }
      const Entry entry = kind == Entry::Kind::kModel ? ModelEntry(*digest)
                                                      : LayerEntry(kind == Entry::Kind::kRawLayer
                                                                       ? LayerFormat::kRaw
                                                                       : LayerFormat::kTar,
                                                                   *digest);
      ++(kind == Entry::Kind::kModel ? report->entries_scanned : report->layers_scanned);
      MS_ASSIGN_OR_RETURN(std::unique_ptr<EntryLock> lock, LockEntry(entry, /*create=*/false));
      if (!lock->held()) continue;
      Status st = CollectLocked(entry, report);
      if (!st.ok()) return st.Annotate("sweep " + entry.name);
    }
  }
  return Status::Ok();
}

Result<SweepReport> ModelStore::Sweep() {
  SweepReport report;
  // Models first: each one collected lets go of its layers.
  MS_RETURN_IF_ERROR(SweepDir(JoinPath(options_.root, "store"), Entry::Kind::kModel, &report));
  MS_RETURN_IF_ERROR(SweepDir(JoinPath(options_.root, "blobs/raw"), Entry::Kind::kRawLayer, &report));
  MS_RETURN_IF_ERROR(SweepDir(JoinPath(options_.root, "blobs/tar"), Entry::Kind::kTarLayer, &report));
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
