#include "designs/content_refs_32.h"

#include <map>

#include "core/fs_util.h"
#include "designs/design_support.h"
#include "designs/in_process.h"

namespace ms::designs {
namespace {

constexpr uint32_t kDirMode = 0755;
constexpr char kReady[] = ".ready";

class ContentRefs final : public PayloadCache {
 public:
  explicit ContentRefs(CacheEnv env) : env_(std::move(env)), flights_(env_.runtime, "cache-pull") {}

  Status Start() override { return Status::Ok(); }

  Status Materialize(const Slot& slot, const Reference& reference, const Digest& manifest,
                     const CancelToken& token) override {
    const std::string digest = manifest.ToString();
    const std::string ref = RefName(slot);
    MS_RETURN_IF_ERROR(EnsureCachedModel(reference, manifest, ref, token));
    {
      ScopedLock guard(env_.runtime, "refs:registered");
      registered_[slot.key] = digest;
    }
    // The bind mount: what the pod sees is the content directory itself.
    Status st = env_.fs->Symlink(ContentDir(manifest), slot.model_dir);
    if (!st.ok()) {
      ReleaseLogged(digest, ref);
      ScopedLock guard(env_.runtime, "refs:registered");
      registered_.erase(slot.key);
    }
    return st;
  }

  void Finished(const Slot& slot, bool succeeded) override {
    std::string digest;
    {
      ScopedLock guard(env_.runtime, "refs:registered");
      auto it = registered_.find(slot.key);
      if (it == registered_.end()) return;
      digest = it->second;
      registered_.erase(it);
    }
    // The record could not say succeeded: roll the ref back, as the mount
    // failure path does.
    if (!succeeded) ReleaseLogged(digest, RefName(slot));
  }

  void Released(const Slot& slot, const std::string& key, ReleaseWhy why) override {
    if (why != ReleaseWhy::kDeleted) return;
    std::string digest = key;
    if (digest.empty()) {
      auto found = FindCacheDigestByRef(RefName(slot));
      if (!found.ok()) {
        env_.runtime->Log(LogLevel::kWarning, found.status().Annotate("scan cache refs").ToString());
        return;
      }
      digest = *found;
    }
    if (!digest.empty()) ReleaseLogged(digest, RefName(slot));
  }

 private:
  static std::string RefName(const Slot& slot) { return slot.mount.empty() ? slot.volume : slot.volume + "+" + slot.mount; }
  std::string ContentDir(const Digest& d) const {
    return JoinPath(env_.root, "cache/content/" + std::string(d.algorithm_name()) + "/" + d.hex());
  }
  std::string RefsDir(const Digest& d) const {
    return JoinPath(env_.root, "cache/refs/" + std::string(d.algorithm_name()) + "/" + d.hex());
  }

  Status EnsureCachedModel(const Reference& reference, const Digest& manifest, const std::string& ref,
                           const CancelToken& token) {
    const std::string digest = manifest.ToString();
    const std::string content = ContentDir(manifest);
    const std::string refs = RefsDir(manifest);
    const SingleFlight::Outcome pulled = flights_.Do(digest, [&]() -> Status {
      ScopedLock mutex(env_.runtime, "cache:" + digest);
      if (env_.fs->Stat(JoinPath(refs, kReady)).ok()) return Status::Ok();
      MS_RETURN_IF_ERROR(RemoveAll(env_.fs, content).Annotate("cleanup cache content dir"));
      MS_RETURN_IF_ERROR(MakeDirs(env_.fs, refs, kDirMode).Annotate("create cache refs dir"));
      MS_RETURN_IF_ERROR(MakeDirs(env_.fs, ParentPath(content), kDirMode));
      Status st = PullInto(env_, reference, manifest, content, token);
      if (st.ok()) st = WriteSmallFile(env_.fs, JoinPath(refs, kReady), "").Annotate("write cache ready marker");
      if (!st.ok()) (void)RemoveAll(env_.fs, content);
      return st;
    });
    MS_RETURN_IF_ERROR(pulled.status.Annotate("ensure cached model " + digest));
    ScopedLock mutex(env_.runtime, "cache:" + digest);
    if (!env_.fs->Stat(JoinPath(refs, kReady)).ok()) {
      return Status(Code::kNotFound, "cache content vanished before ref registration: " + digest);
    }
    return WriteSmallFile(env_.fs, JoinPath(refs, ref), "").Annotate("write cache ref file");
  }

  Status ReleaseCachedModel(const std::string& digest, const std::string& ref) {
    MS_ASSIGN_OR_RETURN(const Digest d, Digest::Parse(digest));
    ScopedLock mutex(env_.runtime, "cache:" + digest);
    const std::string refs = RefsDir(d);
    Status st = env_.fs->Unlink(JoinPath(refs, ref));
    if (!st.ok() && st.code() != Code::kNotFound) return st.Annotate("remove cache ref file");
    auto names = env_.fs->ReadDir(refs);
    if (!names.ok()) return names.code() == Code::kNotFound ? Status::Ok() : names.status();
    for (const std::string& name : *names) {
      if (name != kReady) return Status::Ok();  // another user
    }
    MS_RETURN_IF_ERROR(RemoveAll(env_.fs, ContentDir(d)).Annotate("remove cache content dir"));
    return RemoveAll(env_.fs, refs).Annotate("remove cache refs dir");
  }

  void ReleaseLogged(const std::string& digest, const std::string& ref) {
    Status st = ReleaseCachedModel(digest, ref);
    if (!st.ok()) env_.runtime->Log(LogLevel::kWarning, st.Annotate("release cached model " + digest).ToString());
  }

  Result<std::string> FindCacheDigestByRef(const std::string& ref) {
    const std::string root = JoinPath(env_.root, "cache/refs");
    auto algos = env_.fs->ReadDir(root);
    if (!algos.ok()) return algos.code() == Code::kNotFound ? Result<std::string>(std::string()) : algos.status();
    for (const std::string& algo : *algos) {
      auto hexes = env_.fs->ReadDir(JoinPath(root, algo));
      if (!hexes.ok()) continue;
      for (const std::string& hex : *hexes) {
        if (env_.fs->Stat(JoinPath(JoinPath(JoinPath(root, algo), hex), ref)).ok()) return algo + ":" + hex;
      }
    }
    return std::string();
  }

  CacheEnv env_;
  SingleFlight flights_;
  std::map<std::string, std::string> registered_;  // slot -> digest its ref went to; lock "refs:registered"
};

}  // namespace

std::unique_ptr<PayloadCache> MakeContentRefs(const CacheEnv& env) { return std::make_unique<ContentRefs>(env); }

}  // namespace ms::designs
