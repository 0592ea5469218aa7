#include "designs/no_dedup.h"

#include "designs/design_support.h"

namespace ms::designs {
namespace {

class NoDedup final : public PayloadCache {
 public:
  explicit NoDedup(CacheEnv env) : env_(std::move(env)) {}

  Status Start() override { return Status::Ok(); }
  Status Materialize(const Slot& slot, const Reference& reference, const Digest& manifest,
                     const CancelToken& token) override {
    return PullInto(env_, reference, manifest, slot.model_dir, token);
  }
  void Released(const Slot&, const std::string&, ReleaseWhy) override {}

 private:
  CacheEnv env_;
};

}  // namespace

std::unique_ptr<PayloadCache> MakeNoDedup(const CacheEnv& env) { return std::make_unique<NoDedup>(env); }

}  // namespace ms::designs
