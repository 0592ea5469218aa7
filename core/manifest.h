// CNCF model-spec manifests (OCI image manifests with model media types):
// parsing and the checks that keep a hostile manifest inside the store.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/status.h"

namespace ms {

inline constexpr std::string_view kModelArtifactType = "application/vnd.cncf.model.manifest.v1+json";
inline constexpr std::string_view kModelConfigMediaType = "application/vnd.cncf.model.config.v1+json";
inline constexpr std::string_view kFilepathAnnotation = "org.cncf.model.filepath";
inline constexpr uint64_t kManifestMaxBytes = 4 * 1024 * 1024;

enum class LayerFormat { kRaw, kTar };

struct Layer {
  std::string media_type;
  Digest digest;
  uint64_t size_bytes = 0;
  std::string filepath;  // validated relative path (org.cncf.model.filepath)
  LayerFormat format = LayerFormat::kRaw;
  bool is_weight = false;  // media type application/vnd.cncf.model.weight.*
};

struct ModelManifest {
  Digest config_digest;
  uint64_t config_size_bytes = 0;
  std::vector<Layer> layers;
};

// Parses manifest bytes. Checks: valid JSON object, schemaVersion 2, not an
// image index, a config descriptor of the model config media type, every
// layer's digest, size, media type (raw or tar model types), and a filepath
// annotation that is a safe relative path; no two raw layers at the same
// path and no raw path below another raw path. Every error is
// kCorrupt/kInvalidArgument/kUnsupported and names the manifest digest and
// the layer index; input text in it is quoted with QuoteInput.
Result<ModelManifest> ParseModelManifest(std::string_view bytes, const Digest& manifest_digest);

}  // namespace ms
