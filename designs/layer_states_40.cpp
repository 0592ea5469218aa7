#include "designs/layer_states_40.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "core/fs_util.h"
#include "designs/design_support.h"
#include "designs/in_process.h"

namespace ms::designs {
namespace {

using Json = nlohmann::json;
constexpr uint32_t kDirMode = 0755;
constexpr int64_t kDebounceMs = 500;
constexpr int64_t kPollMs = 5;
constexpr uint64_t kWaitPollsMax = 1'000'000;
constexpr uint64_t kLayersMaxBytes = 1 << 20;
constexpr char kLayersFile[] = "layers.json";
constexpr char kItemsLock[] = "lc:items";
constexpr char kDirtyLock[] = "lc:dirty";

enum class State { kIdle, kPulling, kDone };

class LayerStates final : public PayloadCache {
 public:
  explicit LayerStates(CacheEnv env)
      : env_(std::move(env)), semaphore_(env_.runtime, "lc:sem", kLayerStatesConcurrency) {}

  Status Start() override {
    Rebuild();
    return Status::Ok();
  }

  Status Materialize(const Slot& slot, const Reference& reference, const Digest& manifest_digest,
                     const CancelToken& token) override {
    MS_ASSIGN_OR_RETURN(const ModelManifest manifest, FetchModelManifest(env_, reference, manifest_digest, token));
    MS_RETURN_IF_ERROR(FetchConfig(env_, reference, manifest_digest, manifest, token));  // modctl's pull reads it
    MS_RETURN_IF_ERROR(MakeDirs(env_.fs, slot.model_dir, kDirMode));
    for (const Layer& layer : manifest.layers) {
      const std::string digest = layer.digest.ToString();
      const std::string target = JoinPath(slot.model_dir, layer.filepath);
      // BeforePullLayer: a hit skips the pull; an error falls back to it.
      const auto [hit, acquire] = Acquire(digest, target, token);
      if (acquire.ok() && hit) {
        Publish(digest, target);  // AfterPullLayer, skipped
        continue;
      }
      Status st = Pull(reference, layer, slot.model_dir, token);
      if (!st.ok()) {
        Fail(digest);  // AfterPullLayer with the error: whoever owns the layer
        return st;
      }
      Publish(digest, target);
    }
    return Status::Ok();
  }

  void Released(const Slot& slot, const std::string&, ReleaseWhy why) override {
    if (why != ReleaseWhy::kReplaced) OnVolumeRemoved(slot.record_dir);
  }

  bool HasTimers() const override { return true; }
  int64_t NextTimerMs() override { return deadline_ms_.load(); }
  void RunDueTimers() override {
    const int64_t due = deadline_ms_.load();
    if (due < 0 || env_.runtime->NowMs() < due) return;
    std::set<std::string> dirty;
    {
      ScopedLock guard(env_.runtime, kDirtyLock);
      dirty.swap(dirty_);
      deadline_ms_.store(-1);
    }
    for (const std::string& dir : dirty) {
      std::map<std::string, std::string> snapshot;
      {
        ScopedLock guard(env_.runtime, kItemsLock);
        if (auto it = per_volume_.find(dir); it != per_volume_.end()) snapshot = it->second;
      }
      Status st = WriteLayersFile(dir, snapshot);
      if (!st.ok()) env_.runtime->Log(LogLevel::kWarning, st.Annotate("persist layers.json for " + dir).ToString());
    }
  }

 private:
  struct Entry {
    State state = State::kIdle;
    std::vector<std::string> paths;
    uint64_t notified = 0;  // bumped where Go notifies the waiters
  };

  std::string EntryLock(const std::string& digest) const { return "lc:e:" + digest; }

  Entry& GetOrCreate(const std::string& digest) {
    ScopedLock guard(env_.runtime, kItemsLock);
    return items_[digest];  // std::map: references stay valid
  }

  Status Hardlink(const std::string& source, const std::string& target) {
    MS_RETURN_IF_ERROR(MakeDirs(env_.fs, ParentPath(target), kDirMode));
    Status st = env_.fs->Unlink(target);
    if (st.code() == Code::kIsDirectory) st = env_.fs->RemoveDir(target);
    if (!st.ok() && st.code() != Code::kNotFound) return st.Annotate("remove stale hardlink target");
    return env_.fs->Link(source, target);
  }

  // Under the entry's lock: links a live known path into target.
  bool TryHardlinkLocked(Entry& e, const std::string& target) {
    const std::vector<std::string> sources = e.paths;
    std::vector<std::string> kept;
    bool hit = false;
    for (const std::string& p : sources) {
      const bool live = env_.fs->Stat(p).ok();
      if (p == target || hit) {
        if (live) kept.push_back(p);
        hit = hit || (p == target && live);
        continue;
      }
      if (!live) continue;  // stale: dropped
      if (!Hardlink(p, target).ok()) {
        kept.push_back(p);
        continue;
      }
      kept.push_back(p);
      kept.push_back(target);
      hit = true;
    }
    std::vector<std::string> unique;
    for (const std::string& p : kept) {
      if (std::find(unique.begin(), unique.end(), p) == unique.end()) unique.push_back(p);
    }
    e.paths = std::move(unique);
    return hit;
  }

  // (hit, error): a hit linked target; otherwise the caller pulls (as the
  // owner when there is no error).
  std::pair<bool, Status> Acquire(const std::string& digest, const std::string& target, const CancelToken& token) {
    Entry& e = GetOrCreate(digest);
    const std::string lock = EntryLock(digest);
    env_.runtime->Lock(lock);
    for (uint64_t poll = 0; poll < kWaitPollsMax; ++poll) {
      if (TryHardlinkLocked(e, target)) {
        env_.runtime->Unlock(lock);
        return {true, Status::Ok()};
      }
      if (e.state != State::kPulling) {
        env_.runtime->Unlock(lock);
        if (Status st = semaphore_.Acquire(token); !st.ok()) return {false, st};
        env_.runtime->Lock(lock);
        if (TryHardlinkLocked(e, target)) {
          env_.runtime->Unlock(lock);
          semaphore_.Release();
          return {true, Status::Ok()};
        }
        if (e.state != State::kPulling) {
          e.state = State::kPulling;
          env_.runtime->Unlock(lock);
          return {false, Status::Ok()};
        }
        semaphore_.Release();  // someone took ownership while we waited
      }
      // Wait for the owner's Publish or Fail.
      const uint64_t seen = e.notified;
      while (e.notified == seen && ++poll < kWaitPollsMax) {
        env_.runtime->Unlock(lock);
        if (Status st = token.Check(env_.runtime->NowMs()); !st.ok()) return {false, st};
        env_.runtime->SleepMs(kPollMs);
        env_.runtime->Lock(lock);
      }
    }
    env_.runtime->Unlock(lock);
    return {false, Status(Code::kUnavailable, "layer " + digest + ": waited too long")};
  }

  Status Pull(const Reference& reference, const Layer& layer, const std::string& model_dir, const CancelToken& token) {
    MS_ASSIGN_OR_RETURN(const std::string blob, FetchLayer(env_, reference, layer, token, /*verify_digest=*/true));
    return WriteLayer(env_, layer, blob, model_dir);
  }

  void Publish(const std::string& digest, const std::string& target) {
    Entry& e = GetOrCreate(digest);
    bool was_pulling = false;
    {
      ScopedLock guard(env_.runtime, EntryLock(digest));
      if (std::find(e.paths.begin(), e.paths.end(), target) == e.paths.end()) e.paths.push_back(target);
      was_pulling = e.state == State::kPulling;
      e.state = State::kDone;
      ++e.notified;
    }
    if (was_pulling) semaphore_.Release();
    const std::string dir = VolumeDirFor(target);
    if (dir.empty()) return;
    {
      ScopedLock guard(env_.runtime, kItemsLock);
      per_volume_[dir][digest] = target;
    }
    ScopedLock guard(env_.runtime, kDirtyLock);
    dirty_.insert(dir);
    deadline_ms_.store(env_.runtime->NowMs() + kDebounceMs);  // the timer reset
  }

  void Fail(const std::string& digest) {
    Entry* e = nullptr;
    {
      ScopedLock guard(env_.runtime, kItemsLock);
      auto it = items_.find(digest);
      if (it == items_.end()) return;
      e = &it->second;
    }
    bool was_pulling = false;
    {
      ScopedLock guard(env_.runtime, EntryLock(digest));
      was_pulling = e->state == State::kPulling;
      e->state = e->paths.empty() ? State::kIdle : State::kDone;
      ++e->notified;
    }
    if (was_pulling) semaphore_.Release();
  }

  void OnVolumeRemoved(const std::string& dir) {
    std::map<std::string, std::string> owned;
    {
      ScopedLock guard(env_.runtime, kItemsLock);
      auto it = per_volume_.find(dir);
      if (it == per_volume_.end()) return;
      owned = std::move(it->second);
      per_volume_.erase(it);
    }
    for (const auto& [digest, path] : owned) {
      Entry& e = GetOrCreate(digest);
      ScopedLock guard(env_.runtime, EntryLock(digest));
      std::erase(e.paths, path);
      if (e.paths.empty() && e.state == State::kDone) e.state = State::kIdle;
    }
  }

  // root/volumes/<v>, or root/volumes/<v>/models/<m>, owning target.
  std::string VolumeDirFor(const std::string& target) const {
    const std::string volumes = JoinPath(env_.root, "volumes") + "/";
    if (!target.starts_with(volumes)) return "";
    std::vector<std::string> parts;
    for (size_t start = volumes.size(); start <= target.size();) {
      size_t slash = target.find('/', start);
      if (slash == std::string::npos) slash = target.size();
      parts.push_back(target.substr(start, slash - start));
      start = slash + 1;
    }
    if (parts.size() >= 3 && parts[1] == "models") return volumes + parts[0] + "/models/" + parts[2];
    return volumes + parts[0];
  }

  Status WriteLayersFile(const std::string& dir, const std::map<std::string, std::string>& items) {
    MS_RETURN_IF_ERROR(MakeDirs(env_.fs, dir, kDirMode).Annotate("mkdir layers dir"));
    Json out = {{"schema", 1}, {"items", nullptr}};
    for (const auto& [digest, path] : items) out["items"].push_back({{"digest", digest}, {"path", path}});
    return WriteSmallFileRenamed(env_.fs, JoinPath(dir, kLayersFile), out.dump(2));
  }

  void Rebuild() {
    ForEachRecordDir(env_.fs, env_.root, [this](const std::string& dir) {
      LoadLayersFile(dir);
      return true;
    });
  }

  void LoadLayersFile(const std::string& dir) {
    auto bytes = env_.fs->ReadFile(JoinPath(dir, kLayersFile), kLayersMaxBytes);
    if (!bytes.ok()) return;
    const Json f = Json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
    if (!f.is_object() || !f.contains("items") || !f["items"].is_array()) return;
    for (const Json& item : f["items"]) {
      if (!item.is_object() || !item.contains("digest") || !item.contains("path") || !item["digest"].is_string() ||
          !item["path"].is_string()) {
        continue;
      }
      const std::string digest = item["digest"].get<std::string>();
      const std::string path = item["path"].get<std::string>();
      if (digest.empty() || path.empty()) continue;
      // os.Stat(item.Path): any path, cleaned by the OS, not checked to lie
      // inside the volume (a relative one is relative to the process's
      // directory: here, the root).
      const std::string cleaned = CleanPath(path.front() == '/' ? path : env_.root + "/" + path);
      if (!env_.fs->Stat(cleaned).ok()) continue;
      Entry& e = GetOrCreate(digest);
      {
        ScopedLock guard(env_.runtime, EntryLock(digest));
        if (std::find(e.paths.begin(), e.paths.end(), cleaned) == e.paths.end()) e.paths.push_back(cleaned);
        e.state = State::kDone;
      }
      ScopedLock guard(env_.runtime, kItemsLock);
      per_volume_[dir][digest] = cleaned;
    }
  }

  CacheEnv env_;
  Semaphore semaphore_;
  std::map<std::string, Entry> items_;                                  // lock kItemsLock
  std::map<std::string, std::map<std::string, std::string>> per_volume_;  // lock kItemsLock
  std::set<std::string> dirty_;                                         // lock kDirtyLock
  std::atomic<int64_t> deadline_ms_{-1};  // the flush timer; -1: none
};

}  // namespace

std::unique_ptr<PayloadCache> MakeLayerStates(const CacheEnv& env) { return std::make_unique<LayerStates>(env); }

}  // namespace ms::designs
