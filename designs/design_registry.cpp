#include "designs/design_registry.h"

#include "designs/cache_reuse_31.h"
#include "designs/content_refs_32.h"
#include "designs/layer_index_39.h"
#include "designs/layer_states_40.h"
#include "designs/no_dedup.h"
#include "designs/seed_store_37.h"
#include "designs/upstream_shell.h"
#include "designs/volume_clone_34.h"

namespace ms::designs {
namespace {

using CacheFactory = std::unique_ptr<PayloadCache> (*)(const CacheEnv&);

struct Entry {
  DesignInfo info;
  CacheFactory make;  // nullptr: our core
};

const std::vector<Entry>& Table() {
  static const std::vector<Entry> table = {
      {{"core", "our core: store entries with refs, cross-process locks, sweep", ""}, nullptr},
      {{"none", "baseline: every volume pulls its own copy", ""}, &MakeNoDedup},
      {{"pr31", "cache dir per digest, hardlink reuse by the flight's leader", "modelpack/model-csi-driver#31"},
       &MakeCacheReuse},
      {{"pr32", "shared cache/content + cache/refs, bind-mounted", "modelpack/model-csi-driver#32"}, &MakeContentRefs},
      {{"pr34", "no store: clone from a succeeded volume of the digest", "modelpack/model-csi-driver#34"},
       &MakeVolumeClone},
      {{"pr37", "the seed store: store/<digest>/data, nlink liveness, no sweep", "modelpack/model-csi-driver#37"},
       &MakeSeedStore},
      {{"pr39", "layer cache A: in-memory layer index, layer_digests.json", "modelpack/model-csi-driver#39"},
       &MakeLayerIndex},
      {{"pr40", "layer cache B: per-layer owner/waiter states, debounced layers.json",
        "modelpack/model-csi-driver#40"},
       &MakeLayerStates},
  };
  return table;
}

}  // namespace

const std::vector<DesignInfo>& Designs() {
  static const std::vector<DesignInfo> designs = [] {
    std::vector<DesignInfo> out;
    for (const Entry& e : Table()) out.push_back(e.info);
    return out;
  }();
  return designs;
}

const DesignInfo* FindDesign(std::string_view name) {
  for (const DesignInfo& d : Designs()) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

std::string DesignNames() {
  std::string out;
  for (const DesignInfo& d : Designs()) out += (out.empty() ? "" : ", ") + std::string(d.name);
  return out;
}

Result<std::unique_ptr<VolumeService>> MakeVolumeService(std::string_view design, Filesystem* fs, Runtime* runtime,
                                                         Registry* registry, const VolumeOptions& options) {
  for (const Entry& e : Table()) {
    if (e.info.name != design) continue;
    if (e.make == nullptr) {
      return std::unique_ptr<VolumeService>(std::make_unique<VolumeManager>(fs, runtime, registry, options));
    }
    CacheEnv env{fs, runtime, registry, options.store.root, options.store.durable};
    ShellOptions shell{options.store.root, options.store.durable, options.remove_attempts_max,
                       options.remove_retry_interval_ms};
    return std::unique_ptr<VolumeService>(
        std::make_unique<UpstreamShell>(fs, runtime, registry, std::move(shell), e.make(env)));
  }
  return Status(Code::kInvalidArgument, "unknown design \"" + std::string(design) + "\" (designs: " + DesignNames() + ")");
}

}  // namespace ms::designs
