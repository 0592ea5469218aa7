// The designs of the shoot-out, by name: our core, a baseline without
// dedup, and a model of each upstream proposal (modelpack/model-csi-driver
// pull requests 31, 32, 34, 37, 39, 40). Each header in this folder names
// its proposal and lists what it models and what it leaves out.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/filesystem.h"
#include "core/registry.h"
#include "core/runtime.h"
#include "core/volume_manager.h"
#include "core/volume_service.h"

namespace ms::designs {

inline constexpr char kDefaultDesign[] = "core";

struct DesignInfo {
  std::string_view name;     // what --design takes
  std::string_view title;    // one line, for reports
  std::string_view proposal; // "modelpack/model-csi-driver#37", or "" (ours, the baseline)
};

// Every design, our core first, then the baseline, then the proposals by
// number.
const std::vector<DesignInfo>& Designs();
// nullptr if there is no design of that name.
const DesignInfo* FindDesign(std::string_view name);
// "core, none, pr31, ...".
std::string DesignNames();

// One driver process's volume service of the named design, on these ports
// (the simulated ones or the real disk), with our core's options (the root,
// durability, removal retries). kInvalidArgument naming an unknown design.
Result<std::unique_ptr<VolumeService>> MakeVolumeService(std::string_view design, Filesystem* fs, Runtime* runtime,
                                                         Registry* registry, const VolumeOptions& options);

}  // namespace ms::designs
