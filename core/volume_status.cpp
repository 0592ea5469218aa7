#include "core/volume_status.h"

#include <nlohmann/json.hpp>

#include "core/fs_util.h"

namespace ms {
namespace {

constexpr uint64_t kStatusMaxBytes = 64 * 1024;

Result<VolumeState> ParseState(std::string_view name) {
  for (VolumeState s : {VolumeState::kRunning, VolumeState::kSucceeded, VolumeState::kFailed,
                        VolumeState::kCanceled, VolumeState::kTimeout}) {
    if (StateName(s) == name) return s;
  }
  return Status(Code::kCorrupt, "unknown state \"" + std::string(name.substr(0, 64)) + "\"");
}

}  // namespace

std::string_view StateName(VolumeState state) {
  switch (state) {
    case VolumeState::kRunning: return "running";
    case VolumeState::kSucceeded: return "succeeded";
    case VolumeState::kFailed: return "failed";
    case VolumeState::kCanceled: return "canceled";
    case VolumeState::kTimeout: return "timeout";
  }
  return "unknown";
}

std::string EncodeStatus(const VolumeStatus& status) {
  nlohmann::ordered_json doc;
  doc["volume"] = status.volume;
  doc["mount_id"] = status.mount_id;
  doc["reference"] = status.reference;
  doc["cache_key"] = status.cache_key;
  doc["manifest"] = status.manifest;
  doc["state"] = std::string(StateName(status.state));
  doc["partial"] = status.partial;
  if (!status.error.empty()) doc["error"] = status.error;
  return doc.dump() + "\n";
}

Result<VolumeStatus> DecodeStatus(std::string_view bytes, std::string_view path) {
  const std::string where = "status file " + std::string(path);
  const auto doc = nlohmann::json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status(Code::kCorrupt, where + " is not valid JSON");
  if (!doc.is_object()) return Status(Code::kCorrupt, where + " is not a JSON object");
  VolumeStatus out;
  auto str = [&](const char* key, std::string* dst, bool required) -> Status {
    const auto it = doc.find(key);
    if (it == doc.end()) {
      return required ? Status(Code::kCorrupt, where + ": missing \"" + key + "\"") : Status::Ok();
    }
    if (!it->is_string()) return Status(Code::kCorrupt, where + ": \"" + key + "\" is not a string");
    *dst = it->get<std::string>();
    return Status::Ok();
  };
  MS_RETURN_IF_ERROR(str("volume", &out.volume, true));
  MS_RETURN_IF_ERROR(str("mount_id", &out.mount_id, false));
  MS_RETURN_IF_ERROR(str("reference", &out.reference, true));
  MS_RETURN_IF_ERROR(str("cache_key", &out.cache_key, false));
  MS_RETURN_IF_ERROR(str("manifest", &out.manifest, false));
  MS_RETURN_IF_ERROR(str("error", &out.error, false));
  std::string state;
  MS_RETURN_IF_ERROR(str("state", &state, true));
  auto parsed = ParseState(state);
  if (!parsed.ok()) return parsed.status().Annotate(where);
  out.state = *parsed;
  if (const auto it = doc.find("partial"); it != doc.end()) {
    if (!it->is_boolean()) return Status(Code::kCorrupt, where + ": \"partial\" is not a boolean");
    out.partial = it->get<bool>();
  }
  return out;
}

Result<VolumeStatus> ReadStatusFile(Filesystem* fs, const std::string& path) {
  auto bytes = fs->ReadFile(path, kStatusMaxBytes);
  // A read error is not corruption: the caller cannot tell what it says.
  if (!bytes.ok()) return bytes.status();
  return DecodeStatus(*bytes, path);
}

Status WriteStatusFile(Filesystem* fs, const std::string& path, const VolumeStatus& status) {
  return WriteFileAtomic(fs, path, EncodeStatus(status), 0644);
}

}  // namespace ms
