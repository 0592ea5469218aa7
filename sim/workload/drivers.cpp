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
  p->registry = std::make_unique<FetchWatch>(registry_.get(), this);
  VolumeOptions options;
  options.store.root = kRoot;
  options.store.staging_grace_ms = kStagingGraceMs;
  options.remove_retry_interval_ms = 100;
  options.remove_attempts_max = 5;
  options.fetches_max = config_.fetches_max;
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
  // Startup: create the layout, repair refs and sweep what a crash may have
  // left. A failed Init (an injected fault) is retried, as a driver that
  // exits on it is restarted: nothing may GC before the repair.
  sched_->Spawn("boot-" + std::to_string(process), process, [this, p] {
    constexpr int kInitAttemptsMax = 16;
    Status st;
    for (int attempt = 0; attempt < kInitAttemptsMax; ++attempt) {
      st = p->manager->Init();
      if (st.ok()) break;
    }
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
