#include "sim/workload/world.h"

#include "core/fs_util.h"
#include "core/volume_manager.h"
#include "designs/design_registry.h"

namespace ms::sim {
namespace {

// A file lock that locks nothing, for the broken-store mode.
class NoLock final : public FileLock {};

// Skips the entry locks: the deliberately broken store the checker must
// catch (break_entry_lock).
class EntryLockBreakingFs final : public FilesystemWrapper {
 public:
  using FilesystemWrapper::FilesystemWrapper;
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    if (path.size() > 6 && path.compare(path.size() - 6, 6, "/.lock") == 0) {
      return std::unique_ptr<FileLock>(std::make_unique<NoLock>());
    }
    return FilesystemWrapper::LockFile(path);
  }
};
// A journaling filesystem's namespace: every entry a call creates,
// renames or removes is durable when the call returns (as ext4 or XFS
// commit metadata), while file bytes stay volatile until fsynced. Modeled by
// syncing the parents after each such call (metadata_durable).
class MetadataDurableFs final : public FilesystemWrapper {
 public:
  using FilesystemWrapper::FilesystemWrapper;
  Status MakeDir(const std::string& p, uint32_t m) override { return Synced(FilesystemWrapper::MakeDir(p, m), p); }
  Status RemoveDir(const std::string& p) override { return Synced(FilesystemWrapper::RemoveDir(p), p); }
  Status Unlink(const std::string& p) override { return Synced(FilesystemWrapper::Unlink(p), p); }
  Status Link(const std::string& a, const std::string& b) override { return Synced(FilesystemWrapper::Link(a, b), b); }
  Status Symlink(const std::string& t, const std::string& l) override {
    return Synced(FilesystemWrapper::Symlink(t, l), l);
  }
  Status Rename(const std::string& a, const std::string& b) override {
    Status st = Synced(FilesystemWrapper::Rename(a, b), b);
    if (st.ok() && ParentPath(a) != ParentPath(b)) Commit(ParentPath(a));
    return st;
  }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p, uint32_t m) override {
    auto file = FilesystemWrapper::NewWritableFile(p, m);
    if (file.ok()) Commit(ParentPath(p));
    return file;
  }

 private:
  static constexpr int kCommitAttemptsMax = 16;
  // The journal commit cannot fail the call: an injected EIO on it is
  // retried (bounded; 16 in a row at any sane fault rate do not happen).
  void Commit(const std::string& dir) {
    for (int attempt = 0; attempt < kCommitAttemptsMax; ++attempt) {
      const Status st = target()->SyncDir(dir);
      if (st.ok() || st.code() == Code::kNotFound) return;
    }
  }
  Status Synced(Status st, const std::string& path) {
    if (st.ok()) Commit(ParentPath(path));
    return st;
  }
};

class EntryLockBreakingRuntime final : public RuntimeWrapper {
 public:
  using RuntimeWrapper::RuntimeWrapper;
  void Lock(std::string_view key) override {
    if (key.rfind("entry:", 0) != 0) RuntimeWrapper::Lock(key);
  }
  void Unlock(std::string_view key) override {
    if (key.rfind("entry:", 0) != 0) RuntimeWrapper::Unlock(key);
  }
};

}  // namespace

World::Process* World::Boot(int process) {
  auto p = std::make_unique<Process>();
  p->sim_runtime = std::make_unique<SimRuntime>(sched_.get());
  Runtime* runtime = p->sim_runtime.get();
  Filesystem* fs = fs_.get();
  if (config_.break_entry_lock) {
    p->runtime_wrapper = std::make_unique<EntryLockBreakingRuntime>(runtime);
    p->fs_wrapper = std::make_unique<EntryLockBreakingFs>(fs);
    runtime = p->runtime_wrapper.get();
    fs = p->fs_wrapper.get();
  }
  if (config_.metadata_durable) {
    p->durable_fs = std::make_unique<MetadataDurableFs>(fs);
    fs = p->durable_fs.get();
  }
  p->registry = std::make_unique<FetchWatch>(registry_.get(), this);
  VolumeOptions options;
  options.store.root = kRoot;
  options.store.staging_grace_ms = kStagingGraceMs;
  options.remove_retry_interval_ms = 100;
  options.remove_attempts_max = 5;
  auto manager = designs::MakeVolumeService(config_.design, fs, runtime, p->registry.get(), options);
  if (!manager.ok()) std::abort();  // the configuration was validated: a known design
  p->manager = std::move(manager).value();
  Process* raw = p.get();
  incarnations_.push_back(std::move(p));
  current_[static_cast<size_t>(process)] = raw;
  return raw;
}

void World::SpawnDriverActors(int process) {
  Process* p = Boot(process);
  // Startup: create the layout and sweep what a crash may have left.
  sched_->Spawn("boot-" + std::to_string(process), process, [this, p] {
    Status st = p->manager->Init();
    if (st.ok()) st = p->manager->Sweep().status();
    Note("boot: " + st.ToString());
    p->ready = true;
  });
  for (size_t c = 0; c < clients_.size(); ++c) {
    if (clients_[c].process == process && clients_[c].next < clients_[c].script.size()) SpawnClient(c);
  }
  if (gc_rounds_left_[static_cast<size_t>(process)] > 0) SpawnGc(process);
  if (p->manager->HasTimers()) SpawnTimers(process);
}

void World::SpawnTimers(int process) {
  sched_->Spawn("timers-" + std::to_string(process), process, [this, process] {
    Process* p = current_[static_cast<size_t>(process)];
    sched_->WaitUntil([p] { return p->ready; }, "timers.wait-boot");
    while (true) {
      sched_->WaitUntil([this, p] { return finished_ || p->manager->NextTimerMs() >= 0; }, "timers.wait");
      const int64_t due_ms = p->manager->NextTimerMs();
      if (due_ms < 0) return;  // the run is over and nothing is pending
      sched_->SleepUntil(due_ms);
      p->manager->RunDueTimers();
    }
  });
}

void World::SpawnGc(int process) {
  sched_->Spawn("gc-" + std::to_string(process), process, [this, process] {
    Process* p = current_[static_cast<size_t>(process)];
    sched_->WaitUntil([p] { return p->ready; }, "gc.wait-boot");
    Prng rng(config_.seed ^ kGcStream ^ static_cast<uint64_t>(process));
    int& left = gc_rounds_left_[static_cast<size_t>(process)];
    while (left > 0) {
      if (rng.Below(2) == 0) {
        auto r = p->manager->Sweep();
        Note("gc-" + std::to_string(process) + " sweep -> " + r.status().ToString().substr(0, 120));
      } else {
        const auto& model = pool_.models[rng.Below(pool_.models.size())].second;
        Status st = p->manager->CollectDigest(model.manifest_digest);
        Note("gc-" + std::to_string(process) + " maybe_gc " + model.manifest_digest.ToString().substr(0, 19) +
             " -> " + st.ToString().substr(0, 120));
      }
      --left;
    }
  });
}

}  // namespace ms::sim
