#include "designs/cache_reuse_31.h"

#include "core/fs_util.h"
#include "designs/design_support.h"
#include "designs/in_process.h"

namespace ms::designs {
namespace {

constexpr uint32_t kDirMode = 0755;

class CacheReuse final : public PayloadCache {
 public:
  explicit CacheReuse(CacheEnv env) : env_(std::move(env)), flights_(env_.runtime, "reuse") {}

  Status Start() override { return Status::Ok(); }

  Status Materialize(const Slot& slot, const Reference& reference, const Digest& manifest,
                     const CancelToken& token) override {
    const std::string cache = JoinPath(env_.root, "cache/models/" + std::string(manifest.algorithm_name()) + "/" + manifest.hex());
    // Only the caller that runs the flight links its own volume.
    return flights_.Do(manifest.ToString(), [&]() -> Status {
      auto cached = env_.fs->Stat(cache);
      if (!cached.ok() && cached.code() != Code::kNotFound) return cached.status().Annotate("stat cache model dir");
      if (!cached.ok()) {
        MS_RETURN_IF_ERROR(MakeDirs(env_.fs, ParentPath(cache), kDirMode));
        Status st = PullInto(env_, reference, manifest, cache, token);
        if (!st.ok()) {
          (void)RemoveAll(env_.fs, cache);
          return st;
        }
      }
      return LinkModelDir(cache, slot.model_dir, token);
    }).status;
  }

  void Released(const Slot&, const std::string&, ReleaseWhy) override {}

 private:
  Status LinkModelDir(const std::string& source, const std::string& target, const CancelToken& token) {
    const std::string tmp = target + ".linking";
    MS_RETURN_IF_ERROR(RemoveAll(env_.fs, tmp).Annotate("remove tmp model dir"));
    MS_RETURN_IF_ERROR(RemoveAll(env_.fs, target).Annotate("remove target model dir"));
    Status st = LinkTree(env_, source, tmp, token);
    if (st.ok()) st = env_.fs->Rename(tmp, target);
    if (!st.ok()) (void)RemoveAll(env_.fs, tmp);
    return st.Annotate("link model dir from " + source);
  }

  CacheEnv env_;
  SingleFlight flights_;
};

}  // namespace

std::unique_ptr<PayloadCache> MakeCacheReuse(const CacheEnv& env) { return std::make_unique<CacheReuse>(env); }

}  // namespace ms::designs
