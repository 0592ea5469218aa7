#include "core/manifest.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <set>

#include "core/fs_util.h"
#include "core/json_subset.h"

namespace ms {
namespace {

using nlohmann::json;

bool HasPrefix(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
bool HasSuffix(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

Result<LayerFormat> FormatOf(std::string_view media_type) {
  if (!HasPrefix(media_type, "application/vnd.cncf.model.")) {
    return Status(Code::kUnsupported, "unsupported layer media type " + QuoteInput(media_type, 200));
  }
  if (HasSuffix(media_type, ".raw")) return LayerFormat::kRaw;
  if (HasSuffix(media_type, ".tar")) return LayerFormat::kTar;
  return Status(Code::kUnsupported, "unsupported layer media type " + QuoteInput(media_type, 200) +
                                        " (only .raw and uncompressed .tar layers)");
}

Result<std::pair<Digest, uint64_t>> ParseDescriptor(const json& desc) {
  if (!desc.is_object()) return Status(Code::kCorrupt, "descriptor is not an object");
  const auto digest_it = desc.find("digest");
  if (digest_it == desc.end() || !digest_it->is_string()) {
    return Status(Code::kCorrupt, "descriptor has no digest string");
  }
  auto digest = Digest::Parse(digest_it->get<std::string>());
  if (!digest.ok()) return digest.status();
  const auto size_it = desc.find("size");
  if (size_it == desc.end() || !size_it->is_number_integer() || size_it->get<int64_t>() < 0) {
    return Status(Code::kCorrupt, "descriptor has no non-negative integer size");
  }
  return std::make_pair(std::move(digest).value(), size_it->get<uint64_t>());
}

}  // namespace

Result<ModelManifest> ParseModelManifest(std::string_view bytes, const Digest& manifest_digest) {
  const std::string where = "manifest " + manifest_digest.ToString();
  if (bytes.size() > kManifestMaxBytes) {
    return Status(Code::kCorrupt, where + ": larger than " + std::to_string(kManifestMaxBytes) +
                                      " bytes");
  }
  std::optional<json> fast = ParseJsonSubset(bytes);
  const json doc = fast ? std::move(*fast) : json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status(Code::kCorrupt, where + ": not a JSON object");
  }
  const auto version = doc.find("schemaVersion");
  if (version == doc.end() || !version->is_number_integer() || version->get<int64_t>() != 2) {
    return Status(Code::kCorrupt, where + ": schemaVersion must be 2");
  }
  // An index (a list of manifests, say one per platform) where a tag of
  // a model should name the model's manifest.
  const auto media_type = doc.find("mediaType");
  const bool typed = media_type != doc.end() && media_type->is_string();
  if ((typed && (HasSuffix(media_type->get<std::string>(), "index.v1+json") ||
                 HasSuffix(media_type->get<std::string>(), "manifest.list.v2+json"))) ||
      doc.contains("manifests")) {
    return Status(Code::kUnsupported,
                  where + ": an image index" +
                      (typed ? " (mediaType " + QuoteInput(media_type->get<std::string>(), 200) + ")" : "") +
                      ", not a model manifest");
  }
  ModelManifest out;
  const auto config = doc.find("config");
  if (config == doc.end()) return Status(Code::kCorrupt, where + ": no config descriptor");
  auto config_desc = ParseDescriptor(*config);
  if (!config_desc.ok()) return config_desc.status().Annotate(where + ": config");
  out.config_digest = config_desc->first;
  out.config_size_bytes = config_desc->second;
  // Only a model's config makes the artifact a model (an image config
  // names a container image, whatever its layers say).
  const auto config_type = config->find("mediaType");
  if (config_type == config->end() || !config_type->is_string() ||
      config_type->get<std::string>() != kModelConfigMediaType) {
    return Status(Code::kUnsupported,
                  where + ": config media type " +
                      (config_type != config->end() && config_type->is_string()
                           ? QuoteInput(config_type->get<std::string>(), 200)
                           : std::string("(none)")) +
                      " is not " + std::string(kModelConfigMediaType));
  }

  const auto layers = doc.find("layers");
  if (layers == doc.end() || !layers->is_array()) {
    return Status(Code::kCorrupt, where + ": no layers array");
  }
  if (layers->size() > 100'000) return Status(Code::kCorrupt, where + ": too many layers");
  std::set<std::string> raw_paths;
  for (size_t i = 0; i < layers->size(); ++i) {
    const json& desc = (*layers)[i];
    const std::string layer_where = where + ": layer " + std::to_string(i);
    auto parsed = ParseDescriptor(desc);
    if (!parsed.ok()) return parsed.status().Annotate(layer_where);
    Layer layer;
    layer.digest = parsed->first;
    layer.size_bytes = parsed->second;
    const auto mt = desc.find("mediaType");
    if (mt == desc.end() || !mt->is_string()) {
      return Status(Code::kCorrupt, layer_where + ": no mediaType");
    }
    layer.media_type = mt->get<std::string>();
    auto format = FormatOf(layer.media_type);
    if (!format.ok()) return format.status().Annotate(layer_where);
    layer.format = *format;
    layer.is_weight = HasPrefix(layer.media_type, "application/vnd.cncf.model.weight.") &&
                      !HasPrefix(layer.media_type, "application/vnd.cncf.model.weight.config.");
    const auto ann = desc.find("annotations");
    const json* path_json = nullptr;
    if (ann != desc.end() && ann->is_object()) {
      const auto p = ann->find(std::string(kFilepathAnnotation));
      if (p != ann->end()) path_json = &*p;
    }
    if (path_json == nullptr || !path_json->is_string()) {
      return Status(Code::kCorrupt, layer_where + ": no " + std::string(kFilepathAnnotation) +
                                        " annotation");
    }
    layer.filepath = path_json->get<std::string>();
    MS_RETURN_IF_ERROR(ValidateRelativePath(layer.filepath, layer_where + ": file path"));
    if (layer.format == LayerFormat::kRaw) {
      if (!raw_paths.insert(layer.filepath).second) {
        return Status(Code::kInvalidArgument,
                      layer_where + ": file path " + QuoteInput(layer.filepath) + " used by two layers");
      }
    }
    out.layers.push_back(std::move(layer));
  }
  // A raw file may not sit below another raw file ("a" and "a/b").
  for (const std::string& p : raw_paths) {
    for (size_t slash = p.find('/'); slash != std::string::npos; slash = p.find('/', slash + 1)) {
      if (raw_paths.count(p.substr(0, slash)) != 0) {
        return Status(Code::kInvalidArgument, where + ": file path " + QuoteInput(p) + " lies below file " +
                                                  QuoteInput(p.substr(0, slash)));
      }
    }
  }
  return out;
}

}  // namespace ms
