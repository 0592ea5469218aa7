#include "sim/registry/oci_layout.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <system_error>

namespace ms::sim {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

// Fixtures are a few KB; anything this large is a wrong path, not a model.
constexpr uintmax_t kLayoutFileMaxBytes = uintmax_t{256} << 20;

constexpr std::string_view kLayoutVersion = "1.0.0";

Status Error(Code code, const fs::path& file, std::string_view why) {
  return Status(code, "oci layout file " + file.string() + ": " + std::string(why));
}

Result<std::string> ReadFile(const fs::path& file) {
  std::error_code ec;
  const fs::file_status st = fs::status(file, ec);
  if (ec || !fs::exists(st)) return Error(Code::kNotFound, file, "missing");
  if (!fs::is_regular_file(st)) return Error(Code::kCorrupt, file, "not a regular file");
  const uintmax_t size_bytes = fs::file_size(file, ec);
  if (ec) return Error(Code::kIo, file, ec.message());
  if (size_bytes > kLayoutFileMaxBytes) return Error(Code::kUnsupported, file, "larger than 256 MiB");
  std::ifstream in(file, std::ios::binary);
  std::string bytes(static_cast<size_t>(size_bytes), '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
    return Error(Code::kIo, file, "read failed");
  }
  return bytes;
}

Result<Json> ReadJsonObject(const fs::path& file) {
  MS_ASSIGN_OR_RETURN(const std::string bytes, ReadFile(file));
  Json json = Json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Error(Code::kCorrupt, file, "not valid JSON");
  if (!json.is_object()) return Error(Code::kCorrupt, file, "not a JSON object");
  return json;
}

fs::path BlobPath(const fs::path& dir, const Digest& digest) {
  return dir / "blobs" / std::string(digest.algorithm_name()) / digest.hex();
}

// The tag in a ref name annotation: the annotation is usually the bare tag,
// but some tools write a whole reference ("docker.io/x/y:v1").
std::string TagOf(const std::string& ref_name) {
  const size_t colon = ref_name.rfind(':');
  const size_t slash = ref_name.rfind('/');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    return ref_name.substr(colon + 1);
  }
  return ref_name;
}

// The digests a manifest references (config and layers) that parse; the
// rest of the manifest is the core's business.
std::vector<Digest> ReferencedDigests(const Json& manifest) {
  std::vector<Digest> out;
  auto add = [&out](const Json& descriptor) {
    if (!descriptor.is_object()) return;
    const auto it = descriptor.find("digest");
    if (it == descriptor.end() || !it->is_string()) return;
    Result<Digest> digest = Digest::Parse(it->get<std::string>());
    if (digest.ok()) out.push_back(std::move(digest).value());
  };
  if (const auto config = manifest.find("config"); config != manifest.end()) add(*config);
  if (const auto layers = manifest.find("layers"); layers != manifest.end() && layers->is_array()) {
    for (const Json& layer : *layers) add(layer);
  }
  return out;
}

Status LoadManifest(const fs::path& dir, const Digest& digest, OciLayout& layout) {
  const fs::path file = BlobPath(dir, digest);
  MS_ASSIGN_OR_RETURN(std::string bytes, ReadFile(file));
  Json manifest = Json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (manifest.is_discarded() || !manifest.is_object()) {
    return Error(Code::kCorrupt, file, "manifest is not a JSON object");
  }
  for (const Digest& blob : ReferencedDigests(manifest)) {
    if (layout.blobs.contains(blob)) continue;
    Result<std::string> blob_bytes = ReadFile(BlobPath(dir, blob));
    if (!blob_bytes.ok()) {
      return blob_bytes.status().Annotate("blob referenced by manifest " + digest.ToString());
    }
    layout.blobs.emplace(blob, std::move(blob_bytes).value());
  }
  layout.manifests.emplace(digest, std::move(bytes));
  return Status::Ok();
}

Status WriteFile(const fs::path& file, std::string_view bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())) || !out.flush()) {
    return Error(Code::kIo, file, "write failed");
  }
  return Status::Ok();
}

// Records digest -> bytes, refusing one digest with two different contents
// (only possible with ServeBytes overrides that disagree).
Status AddBlob(std::map<Digest, std::string>& blobs, const Digest& digest, const std::string& bytes) {
  const auto [it, inserted] = blobs.emplace(digest, bytes);
  if (!inserted && it->second != bytes) {
    return Status(Code::kInvalidArgument,
                  "two different contents for blob " + digest.ToString() + " in one layout");
  }
  return Status::Ok();
}

}  // namespace

Result<OciLayout> ReadOciLayout(const std::string& dir_text) {
  const fs::path dir(dir_text);
  const fs::path marker = dir / "oci-layout";
  MS_ASSIGN_OR_RETURN(const Json layout_json, ReadJsonObject(marker));
  const auto version = layout_json.find("imageLayoutVersion");
  if (version == layout_json.end() || !version->is_string()) {
    return Error(Code::kCorrupt, marker, "no imageLayoutVersion string");
  }
  if (version->get<std::string>() != kLayoutVersion) {
    return Error(Code::kUnsupported, marker,
                 "imageLayoutVersion \"" + version->get<std::string>() + "\", want 1.0.0");
  }

  const fs::path index_file = dir / "index.json";
  MS_ASSIGN_OR_RETURN(const Json index, ReadJsonObject(index_file));
  const auto manifests = index.find("manifests");
  if (manifests == index.end() || !manifests->is_array()) {
    return Error(Code::kCorrupt, index_file, "no \"manifests\" array");
  }
  OciLayout layout;
  for (size_t i = 0; i < manifests->size(); ++i) {
    const Json& descriptor = (*manifests)[i];
    const std::string where = "manifests[" + std::to_string(i) + "]";
    if (!descriptor.is_object()) return Error(Code::kCorrupt, index_file, where + " is not an object");
    const auto media = descriptor.find("mediaType");
    if (media != descriptor.end() && *media == media_type::kOciIndex) {
      return Error(Code::kUnsupported, index_file, where + " is a nested image index");
    }
    const auto digest_json = descriptor.find("digest");
    if (digest_json == descriptor.end() || !digest_json->is_string()) {
      return Error(Code::kCorrupt, index_file, where + " has no digest string");
    }
    Result<Digest> digest = Digest::Parse(digest_json->get<std::string>());
    if (!digest.ok()) return Error(Code::kCorrupt, index_file, where + ": " + digest.status().message());
    MS_RETURN_IF_ERROR(LoadManifest(dir, *digest, layout));

    const auto annotations = descriptor.find("annotations");
    if (annotations == descriptor.end() || !annotations->is_object()) continue;
    const auto ref_name = annotations->find(kRefNameAnnotation);
    if (ref_name == annotations->end()) continue;
    if (!ref_name->is_string()) return Error(Code::kCorrupt, index_file, where + " ref name is not a string");
    const std::string tag = TagOf(ref_name->get<std::string>());
    if (!layout.tags.emplace(tag, *digest).second) {
      return Error(Code::kCorrupt, index_file, where + " repeats tag \"" + tag + "\"");
    }
  }
  return layout;
}

Status WriteOciLayout(const std::string& dir_text, const std::vector<TaggedModel>& models) {
  const fs::path dir(dir_text);
  std::map<Digest, std::string> blobs;
  std::map<std::string, Digest> tags;
  Json index_manifests = Json::array();
  for (const TaggedModel& tagged : models) {
    const BuiltModel& model = tagged.model;
    MS_RETURN_IF_ERROR(AddBlob(blobs, model.manifest_digest, model.manifest_bytes));
    for (const auto& [digest_text, bytes] : model.blobs) {
      Result<Digest> digest = Digest::Parse(digest_text);
      if (digest.ok()) MS_RETURN_IF_ERROR(AddBlob(blobs, *digest, bytes));
    }
    Json descriptor = Json::object();
    descriptor["mediaType"] = media_type::kOciManifest;
    descriptor["artifactType"] = media_type::kModelManifest;
    descriptor["digest"] = model.manifest_digest.ToString();
    descriptor["size"] = model.manifest_bytes.size();
    if (!tagged.tag.empty()) {
      if (!tags.emplace(tagged.tag, model.manifest_digest).second) {
        return Status(Code::kInvalidArgument, "tag \"" + tagged.tag + "\" given twice for layout " + dir_text);
      }
      descriptor["annotations"] = Json{{kRefNameAnnotation, tagged.tag}};
    }
    index_manifests.push_back(std::move(descriptor));
  }
  Json index = Json::object();
  index["schemaVersion"] = 2;
  index["mediaType"] = media_type::kOciIndex;
  index["manifests"] = std::move(index_manifests);

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Error(Code::kIo, dir, ec.message());
  for (const auto& [digest, bytes] : blobs) {
    const fs::path file = BlobPath(dir, digest);
    fs::create_directories(file.parent_path(), ec);
    if (ec) return Error(Code::kIo, file.parent_path(), ec.message());
    MS_RETURN_IF_ERROR(WriteFile(file, bytes));
  }
  MS_RETURN_IF_ERROR(WriteFile(dir / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  return WriteFile(dir / "index.json", index.dump());
}

}  // namespace ms::sim
