#include "sim/registry/model_builder.h"

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/tar_reader.h"

namespace ms::sim {
namespace {

using Json = nlohmann::ordered_json;

// A bug in the test that built the model, not an input error: stop loudly.
[[noreturn]] void Die(std::string_view why) {
  std::fprintf(stderr, "ModelBuilder: %.*s\n", static_cast<int>(why.size()), why.data());
  std::abort();
}

// Compact, and never throws: invalid UTF-8 in a test string is replaced
// rather than aborting the build.
std::string Dump(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

// model-spec config: descriptor, config, modelfs. diffIds are the digests of
// the uncompressed layers, which for our uncompressed layers are the layer
// digests themselves.
std::string DefaultConfig(const std::string& name, const std::string& version,
                          const std::vector<BuiltLayer>& layers) {
  Json diff_ids = Json::array();
  for (const BuiltLayer& layer : layers) diff_ids.push_back(layer.digest);
  Json config = Json::object();
  config["descriptor"] = Json{{"name", name}, {"version", version}};
  config["config"] = Json::object();
  config["modelfs"] = Json{{"type", "layers"}, {"diffIds", std::move(diff_ids)}};
  return Dump(config);
}

Json Descriptor(std::string_view media_type, const std::string& digest, int64_t size_bytes) {
  Json d = Json::object();
  d["mediaType"] = media_type;
  d["digest"] = digest;
  d["size"] = size_bytes;
  return d;
}

BuiltLayer NewLayer(std::string filepath, std::string content, std::string media_type) {
  BuiltLayer layer;
  layer.media_type = std::move(media_type);
  layer.digest = Digest::Sha256Of(content).ToString();
  layer.size_bytes = static_cast<int64_t>(content.size());
  layer.filepath = std::move(filepath);
  layer.content = std::move(content);
  return layer;
}

}  // namespace

ModelBuilder::ModelBuilder(std::string name, std::string version)
    : name_(std::move(name)), version_(std::move(version)) {}

ModelBuilder& ModelBuilder::AddRawFile(std::string filepath, std::string bytes,
                                       std::string media_type) {
  layers_.push_back({NewLayer(std::move(filepath), std::move(bytes), std::move(media_type)), {}});
  return *this;
}

ModelBuilder& ModelBuilder::AddTarLayer(std::string filepath_annotation,
                                        std::vector<TarEntry> entries, std::string media_type) {
  Result<std::string> archive = WriteTar(entries);
  if (!archive.ok()) Die(archive.status().ToString());
  layers_.push_back(
      {NewLayer(std::move(filepath_annotation), std::move(archive).value(), std::move(media_type)),
       {}});
  return *this;
}

ModelBuilder& ModelBuilder::SetConfigBytes(std::string bytes) {
  config_bytes_ = std::move(bytes);
  return *this;
}

ModelBuilder& ModelBuilder::SetConfigMediaType(std::string media_type) {
  config_media_type_ = std::move(media_type);
  return *this;
}

ModelBuilder::PendingLayer& ModelBuilder::Last() {
  if (layers_.empty()) Die("an override was called before any layer was added");
  return layers_.back();
}

ModelBuilder& ModelBuilder::OverrideDigest(std::string digest_text) {
  Last().layer.digest = std::move(digest_text);
  return *this;
}

ModelBuilder& ModelBuilder::OverrideSize(int64_t size_bytes) {
  Last().layer.size_bytes = size_bytes;
  return *this;
}

ModelBuilder& ModelBuilder::OverrideFilepath(std::string filepath) {
  Last().layer.filepath = std::move(filepath);
  return *this;
}

ModelBuilder& ModelBuilder::RemoveFilepath() {
  Last().layer.filepath.reset();
  return *this;
}

ModelBuilder& ModelBuilder::OverrideMediaType(std::string media_type) {
  Last().layer.media_type = std::move(media_type);
  return *this;
}

ModelBuilder& ModelBuilder::ServeBytes(std::string bytes) {
  Last().served_bytes = std::move(bytes);
  return *this;
}

BuiltModel ModelBuilder::Build() const {
  std::vector<BuiltLayer> layers;
  std::map<std::string, std::string> blobs;
  for (const PendingLayer& pending : layers_) {
    layers.push_back(pending.layer);
    blobs[pending.layer.digest] = pending.served_bytes.value_or(pending.layer.content);
  }
  std::string config_bytes = config_bytes_.value_or(DefaultConfig(name_, version_, layers));
  Digest config_digest = Digest::Sha256Of(config_bytes);
  blobs[config_digest.ToString()] = config_bytes;

  Json layer_array = Json::array();
  for (const BuiltLayer& layer : layers) {
    Json d = Descriptor(layer.media_type, layer.digest, layer.size_bytes);
    if (layer.filepath) d["annotations"] = Json{{kFilepathAnnotation, *layer.filepath}};
    layer_array.push_back(std::move(d));
  }
  Json manifest = Json::object();
  manifest["schemaVersion"] = 2;
  manifest["mediaType"] = media_type::kOciManifest;
  manifest["artifactType"] = media_type::kModelManifest;
  manifest["config"] = Descriptor(config_media_type_, config_digest.ToString(),
                                  static_cast<int64_t>(config_bytes.size()));
  manifest["layers"] = std::move(layer_array);
  std::string manifest_bytes = Dump(manifest);
  Digest manifest_digest = Digest::Sha256Of(manifest_bytes);
  return BuiltModel{std::move(manifest_bytes), std::move(manifest_digest),
                    std::move(config_bytes),   std::move(config_digest),
                    std::move(layers),         std::move(blobs)};
}

Result<std::map<std::string, uint64_t>> LayerPayloadBytes(const BuiltModel& model) {
  std::map<std::string, uint64_t> out;
  for (const BuiltLayer& layer : model.layers) {
    uint64_t bytes = 0;
    if (layer.media_type.ends_with(".tar")) {  // the core's rule (core/manifest.cpp)
      auto entries = ms::ReadTar(layer.content, "layer " + layer.digest);
      if (!entries.ok()) return entries.status();
      for (const ms::TarEntry& entry : *entries) {
        if (entry.type == ms::TarEntry::Type::kFile) bytes += entry.content.size();
      }
    } else {
      bytes = layer.content.size();
    }
    out[layer.digest] = bytes;  // listed twice: the same blob, once
  }
  return out;
}

}  // namespace ms::sim
