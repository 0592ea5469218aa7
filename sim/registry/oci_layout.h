// OCI image-layout directories (image-spec "image-layout.md"): the on-disk
// format the committed fixtures use and real tools (skopeo, oras, modctl)
// read and write:
//
//   <dir>/oci-layout            {"imageLayoutVersion":"1.0.0"}
//   <dir>/index.json            an image index; each manifest descriptor may
//                               carry the tag in org.opencontainers.image.ref.name
//   <dir>/blobs/<algo>/<hex>    manifests and blobs, by digest
//
// This is sim code and reads the real disk directly (std::filesystem); the
// core never does.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/status.h"
#include "sim/registry/model_builder.h"

namespace ms::sim {

inline constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";

// A layout's content, as read: nothing verified against digests, so a
// malformed fixture reads exactly as it was written.
struct OciLayout {
  std::map<std::string, Digest> tags;  // ref name -> manifest digest
  std::map<Digest, std::string> manifests;
  std::map<Digest, std::string> blobs;
};

// Reads dir. Checks the oci-layout version and the index's shape, then loads
// every manifest the index lists and every blob a manifest references
// (config and layers). A descriptor whose digest text does not parse is
// skipped: no file could be named by it safely, and nothing could fetch it
// through the Registry port either. Manifests must be JSON objects; beyond
// that they are not validated. Errors name the file: kNotFound for a
// missing file, kCorrupt for bad JSON or shape, kUnsupported for another
// layout version or a nested index.
Result<OciLayout> ReadOciLayout(const std::string& dir);

struct TaggedModel {
  std::string tag;  // the ref name annotation; empty for an untagged manifest
  BuiltModel model;
};

// Writes models as a layout under dir (created if missing; existing files
// overwritten, nothing removed), deterministically: index.json lists the
// manifests in the order given, blobs are files named by digest. Blobs whose
// digest text does not parse are not written (see ReadOciLayout).
// kInvalidArgument for a tag given twice or one digest with two contents;
// kIo naming the file for a failed write.
Status WriteOciLayout(const std::string& dir, const std::vector<TaggedModel>& models);

}  // namespace ms::sim
