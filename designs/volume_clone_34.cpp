#include "designs/volume_clone_34.h"

#include <map>
#include <vector>

#include "core/fs_util.h"
#include "core/volume_status.h"
#include "designs/design_support.h"

namespace ms::designs {
namespace {

class VolumeClone final : public PayloadCache {
 public:
  explicit VolumeClone(CacheEnv env) : env_(std::move(env)) {}

  Status Start() override { return Status::Ok(); }

  Status Materialize(const Slot& slot, const Reference& reference, const Digest& manifest,
                     const CancelToken& token) override {
    const std::string key = "clone:" + manifest.ToString();
    env_.runtime->Lock(key);  // released by Finished, once the record says how it went
    {
      ScopedLock guard(env_.runtime, "clone:held");
      held_[slot.key] = key;
    }
    const std::string source = FindExistingModelDir(manifest.ToString(), slot.record_dir);
    if (!source.empty()) {
      Status st = LinkTree(env_, source, slot.model_dir, token);
      if (st.ok()) return st;
      env_.runtime->Log(LogLevel::kWarning, st.Annotate("clone from " + source + ", pulling instead").ToString());
      MS_RETURN_IF_ERROR(RemoveAll(env_.fs, slot.model_dir));
    }
    return PullInto(env_, reference, manifest, slot.model_dir, token);
  }

  void Finished(const Slot& slot, bool) override {
    std::string key;
    {
      ScopedLock guard(env_.runtime, "clone:held");
      auto it = held_.find(slot.key);
      if (it == held_.end()) return;
      key = it->second;
      held_.erase(it);
    }
    env_.runtime->Unlock(key);
  }

  void Released(const Slot&, const std::string&, ReleaseWhy) override {}

 private:
  // A succeeded record naming digest whose model/ exists, other than own.
  std::string FindExistingModelDir(const std::string& digest, const std::string& own) {
    std::string found;
    ForEachRecordDir(env_.fs, env_.root, [&](const std::string& record) {
      if (record == own) return true;
      auto status = ReadStatusFile(env_.fs, JoinPath(record, "status.json"));
      if (!status.ok() || status->state != VolumeState::kSucceeded || status->cache_key != digest) return true;
      const std::string model = JoinPath(record, "model");
      if (env_.fs->Stat(model).ok()) found = model;
      return found.empty();
    });
    return found;
  }

  CacheEnv env_;
  std::map<std::string, std::string> held_;  // slot -> the digest mutex it holds; lock "clone:held"
};

}  // namespace

std::unique_ptr<PayloadCache> MakeVolumeClone(const CacheEnv& env) { return std::make_unique<VolumeClone>(env); }

}  // namespace ms::designs
