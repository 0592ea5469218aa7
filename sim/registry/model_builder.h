// Builds CNCF model-spec OCI artifacts (manifest, config, layer blobs) in
// memory, byte-for-byte deterministically, for the fake registry, the tests
// and the committed fixtures.
//
// A good model is AddRawFile/AddTarLayer calls and Build(). A malformed one
// adds escape hatches that rewrite the descriptor of the layer added last
// (digest text, size, filepath, media type) or the bytes served for it. The
// builder never validates paths or media types: producing hostile input for
// the core is its job.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "sim/registry/tar_writer.h"

namespace ms::sim {

namespace media_type {
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kModelManifest = "application/vnd.cncf.model.manifest.v1+json";
inline constexpr std::string_view kModelConfig = "application/vnd.cncf.model.config.v1+json";
inline constexpr std::string_view kWeightRaw = "application/vnd.cncf.model.weight.v1.raw";
inline constexpr std::string_view kWeightConfigRaw =
    "application/vnd.cncf.model.weight.config.v1.raw";
inline constexpr std::string_view kDocRaw = "application/vnd.cncf.model.doc.v1.raw";
inline constexpr std::string_view kDocTar = "application/vnd.cncf.model.doc.v1.tar";
inline constexpr std::string_view kCodeTar = "application/vnd.cncf.model.code.v1.tar";
}  // namespace media_type

inline constexpr std::string_view kFilepathAnnotation = "org.cncf.model.filepath";

// One layer as the manifest describes it, plus what it was built from.
struct BuiltLayer {
  std::string media_type;
  std::string digest;  // the descriptor's digest text, possibly malformed
  int64_t size_bytes = 0;  // the descriptor's size, possibly wrong
  std::optional<std::string> filepath;  // the org.cncf.model.filepath annotation
  // The bytes the layer was built from: the file content (raw) or the
  // archive (tar). What a correct pull of this layer yields.
  std::string content;
};

struct BuiltModel {
  std::string manifest_bytes;
  Digest manifest_digest;  // sha256 of manifest_bytes
  std::string config_bytes;
  Digest config_digest;
  std::vector<BuiltLayer> layers;
  // What a registry should serve: descriptor digest text -> bytes, for the
  // config and every layer. Keyed by text because a malformed descriptor's
  // digest may not parse. Layers with equal digests share one entry.
  std::map<std::string, std::string> blobs;
};

// The bytes each layer's payload puts on disk, by layer digest text: a raw
// layer its content's size, a tar layer the sum of its regular files' bytes
// (directories and symlinks hold none). What a store keyed by layer digest
// keeps once per layer. A digest the manifest lists twice is one entry (the
// same blob, counted once). The layers' built content is read (what a
// correct pull yields); kCorrupt, naming the layer, for a tar layer the
// core's reader refuses.
Result<std::map<std::string, uint64_t>> LayerPayloadBytes(const BuiltModel& model);

class ModelBuilder {
 public:
  // name and version go into the config's descriptor, so two models with
  // identical layers still differ in config (and manifest) digest.
  explicit ModelBuilder(std::string name, std::string version = "v1");

  // A raw layer: the blob bytes are the file content, placed at filepath.
  ModelBuilder& AddRawFile(std::string filepath, std::string bytes,
                           std::string media_type = std::string(media_type::kWeightRaw));

  // A tar layer, extracted at the model root; filepath_annotation names its
  // top path. Aborts (a bug in the test) if an entry cannot be encoded in
  // ustar; to serve arbitrary archive bytes use AddRawFile with a ".tar"
  // media type.
  ModelBuilder& AddTarLayer(std::string filepath_annotation, std::vector<TarEntry> entries,
                            std::string media_type = std::string(media_type::kDocTar));

  // Replaces the generated config blob (and so the config digest).
  ModelBuilder& SetConfigBytes(std::string bytes);
  // The config descriptor's media type (default the model-spec config's).
  ModelBuilder& SetConfigMediaType(std::string media_type);

  // Escape hatches, each on the layer added last (abort if there is none).
  // The descriptor's digest text; the blob is served under it.
  ModelBuilder& OverrideDigest(std::string digest_text);
  ModelBuilder& OverrideSize(int64_t size_bytes);
  ModelBuilder& OverrideFilepath(std::string filepath);
  ModelBuilder& RemoveFilepath();
  ModelBuilder& OverrideMediaType(std::string media_type);
  // Serve these bytes under the descriptor's digest instead of the content
  // the digest and size were computed from (a digest mismatch, or with a
  // prefix of the content, a truncated blob).
  ModelBuilder& ServeBytes(std::string bytes);

  // Pure: the same calls always give the same bytes and digests.
  BuiltModel Build() const;

 private:
  struct PendingLayer {
    BuiltLayer layer;
    std::optional<std::string> served_bytes;
  };
  PendingLayer& Last();

  std::string name_;
  std::string version_;
  std::optional<std::string> config_bytes_;
  std::string config_media_type_ = std::string(media_type::kModelConfig);
  std::vector<PendingLayer> layers_;
};

}  // namespace ms::sim
