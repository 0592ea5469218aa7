#include "designs/layer_index_39.h"

#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/fs_util.h"
#include "core/volume_status.h"
#include "designs/design_support.h"
#include "designs/in_process.h"

namespace ms::designs {
namespace {

using Json = nlohmann::json;
constexpr uint32_t kDirMode = 0755;
constexpr int64_t kMaxConcurrentLayers = 8;
constexpr int kAttempts = 3;
constexpr int64_t kRetryMs = 1000;
constexpr uint64_t kMetadataMaxBytes = 1 << 20;
constexpr char kMetadata[] = "layer_digests.json";
constexpr char kIndexLock[] = "layer-index";

class LayerIndex final : public PayloadCache {
 public:
  explicit LayerIndex(CacheEnv env)
      : env_(std::move(env)), flights_(env_.runtime, "layer-flight"),
        semaphore_(env_.runtime, "layer-sem", kMaxConcurrentLayers) {}

  Status Start() override {
    Rebuild();
    return Status::Ok();
  }

  Status Materialize(const Slot& slot, const Reference& reference, const Digest& manifest_digest,
                     const CancelToken& token) override {
    MS_ASSIGN_OR_RETURN(const ModelManifest manifest, FetchModelManifest(env_, reference, manifest_digest, token));
    MS_RETURN_IF_ERROR(MakeDirs(env_.fs, slot.model_dir, kDirMode));
    // Classify every layer first (Lookup: the first known path whose stat
    // succeeds), then hardlink the hits (a failed link: a miss after all).
    Json metadata = Json::array();
    std::vector<std::pair<const Layer*, std::string>> cached;
    std::vector<const Layer*> uncached;
    for (const Layer& layer : manifest.layers) {
      metadata.push_back({{"digest", layer.digest.ToString()}, {"file_path", layer.filepath}, {"size", layer.size_bytes}});
      const std::string source = Lookup(layer.digest.ToString());
      if (source.empty()) {
        uncached.push_back(&layer);
      } else {
        cached.emplace_back(&layer, source);
      }
    }
    for (const auto& [layer, source] : cached) {
      if (!LinkFrom(source, slot.model_dir, *layer)) uncached.push_back(layer);
    }
    for (const Layer* layer : uncached) MS_RETURN_IF_ERROR(PullUncached(slot, reference, *layer, token));
    Status st = WriteSmallFileRenamed(env_.fs, JoinPath(slot.record_dir, kMetadata), metadata.dump(2));
    if (!st.ok()) env_.runtime->Log(LogLevel::kWarning, st.Annotate("save layer metadata").ToString());
    return Status::Ok();
  }

  void Released(const Slot& slot, const std::string&, ReleaseWhy why) override {
    if (why != ReleaseWhy::kReplaced) RemoveByPrefix(slot.record_dir);
  }

 private:
  void Register(const std::string& digest, const std::string& path) {
    ScopedLock guard(env_.runtime, kIndexLock);
    std::vector<std::string>& paths = index_[digest];
    for (const std::string& p : paths) {
      if (p == path) return;
    }
    paths.push_back(path);
  }

  std::string Lookup(const std::string& digest) {
    std::vector<std::string> paths;
    {
      ScopedLock guard(env_.runtime, kIndexLock);
      if (auto it = index_.find(digest); it != index_.end()) paths = it->second;
    }
    for (const std::string& p : paths) {
      if (env_.fs->Stat(p).ok()) return p;
    }
    return "";
  }

  void RemoveByPrefix(const std::string& prefix) {
    ScopedLock guard(env_.runtime, kIndexLock);
    for (auto it = index_.begin(); it != index_.end();) {
      std::erase_if(it->second, [&](const std::string& p) { return p.starts_with(prefix); });
      it = it->second.empty() ? index_.erase(it) : std::next(it);
    }
  }

  // Hardlinks source to the layer's path in model_dir and registers it.
  bool LinkFrom(const std::string& source, const std::string& model_dir, const Layer& layer) {
    const std::string dest = JoinPath(model_dir, layer.filepath);
    if (!MakeDirs(env_.fs, ParentPath(dest), kDirMode).ok()) return false;
    Status st = env_.fs->Link(source, dest);
    if (!st.ok()) {
      env_.runtime->Log(LogLevel::kInfo, st.Annotate("hardlink " + layer.filepath + ", will pull instead").ToString());
      return false;
    }
    Register(layer.digest.ToString(), dest);
    return true;
  }

  Status PullUncached(const Slot& slot, const Reference& reference, const Layer& layer, const CancelToken& token) {
    const std::string digest = layer.digest.ToString();
    const std::string dest = JoinPath(slot.model_dir, layer.filepath);
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      MS_RETURN_IF_ERROR(token.Check(env_.runtime->NowMs()));
      const SingleFlight::Outcome flight = flights_.Do(digest, [&]() -> Status {
        MS_RETURN_IF_ERROR(semaphore_.Acquire(token));
        Status st = Download(slot, reference, layer, token);
        semaphore_.Release();
        return st;
      });
      if (!flight.status.ok()) {
        env_.runtime->Log(LogLevel::kWarning, flight.status.Annotate("fetch " + digest + ", retrying").ToString());
        env_.runtime->SleepMs(kRetryMs);
        continue;
      }
      if (env_.fs->Stat(dest).ok()) return Status::Ok();  // we downloaded it, or it is there
      const std::string source = Lookup(digest);
      if (source.empty()) {
        env_.runtime->SleepMs(kRetryMs);
        continue;
      }
      MS_RETURN_IF_ERROR(MakeDirs(env_.fs, ParentPath(dest), kDirMode));
      if (Status st = env_.fs->Link(source, dest); !st.ok()) {
        RemoveByPrefix(source);
        env_.runtime->SleepMs(kRetryMs);
        continue;
      }
      Register(digest, dest);
      return Status::Ok();
    }
    return Status(Code::kUnavailable, "layer-aware pull: failed to pull layer " + digest + " after " +
                                          std::to_string(kAttempts) + " attempts");
  }

  Status Download(const Slot& slot, const Reference& reference, const Layer& layer, const CancelToken& token) {
    MS_ASSIGN_OR_RETURN(const std::string blob, FetchLayer(env_, reference, layer, token, /*verify_digest=*/false));
    MS_RETURN_IF_ERROR(WriteLayer(env_, layer, blob, slot.model_dir));
    const std::string path = JoinPath(slot.model_dir, layer.filepath);
    if (env_.fs->Stat(path).ok()) Register(layer.digest.ToString(), path);
    return Status::Ok();
  }

  void Rebuild() {
    ForEachRecordDir(env_.fs, env_.root, [this](const std::string& dir) {
      RebuildVolume(dir);
      return true;
    });
  }

  void RebuildVolume(const std::string& record_dir) {
    auto status = ReadStatusFile(env_.fs, JoinPath(record_dir, "status.json"));
    if (!status.ok() || status->state != VolumeState::kSucceeded) return;
    auto bytes = env_.fs->ReadFile(JoinPath(record_dir, kMetadata), kMetadataMaxBytes);
    if (!bytes.ok()) return;
    const Json entries = Json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
    if (!entries.is_array()) return;
    for (const Json& e : entries) {
      if (!e.is_object() || !e.contains("digest") || !e.contains("file_path") || !e["digest"].is_string() ||
          !e["file_path"].is_string()) {
        continue;
      }
      // filepath.Join: joined, then cleaned ("..": up, out of the model dir
      // as far as it says).
      const std::string path = CleanPath(JoinPath(record_dir, "model") + "/" + e["file_path"].get<std::string>());
      if (!env_.fs->Stat(path).ok()) continue;
      const auto digest = Digest::Parse(e["digest"].get<std::string>());
      if (!digest.ok()) continue;
      Register(digest->ToString(), path);
    }
  }

  CacheEnv env_;
  SingleFlight flights_;
  Semaphore semaphore_;
  std::map<std::string, std::vector<std::string>> index_;  // lock kIndexLock
};

}  // namespace

std::unique_ptr<PayloadCache> MakeLayerIndex(const CacheEnv& env) { return std::make_unique<LayerIndex>(env); }

}  // namespace ms::designs
