#include "core/volume_status.h"

#include <nlohmann/json.hpp>

#include <optional>

#include "core/fs_util.h"
#include "core/json_subset.h"

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


// status.json is written and read at every volume operation, so the
// canonical document (what EncodeStatus writes for ASCII fields: the keys in
// their fixed order, no white space) has a hand-written fast path each way.
// Anything else goes through nlohmann-json, and the fast paths accept only
// what nlohmann would turn into the very same bytes or values: the output
// and the errors are nlohmann's either way.

bool IsAscii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

// A JSON string as nlohmann's dump() writes one of ASCII bytes.
void AppendJsonString(std::string* out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\b': *out += "\\b"; break;
      case '\f': *out += "\\f"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          *out += "\\u00";
          out->push_back(kHex[(c >> 4) & 0xf]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

// The fast reader: a flat object of the known keys, each at most once, with
// string values in the JSON subset (printable ASCII, short escapes), a
// boolean "partial", the required keys present and a known state. nullopt:
// not that shape, let nlohmann judge.
class FastStatusReader : public JsonSubsetCursor {
 public:
  using JsonSubsetCursor::JsonSubsetCursor;

  std::optional<VolumeStatus> Read() {
    VolumeStatus out;
    std::string state;
    std::string* const strings[] = {&out.volume, &out.mount_id, &out.reference, &out.cache_key,
                                    &out.manifest, &out.error, &state};
    static constexpr std::string_view kKeys[] = {"volume", "mount_id", "reference", "cache_key",
                                                 "manifest", "error", "state", "partial"};
    constexpr size_t kPartial = 7;
    bool seen[8] = {};
    SkipSpace();
    if (!Eat('{')) return std::nullopt;
    std::string key;
    while (true) {
      SkipSpace();
      key.clear();
      if (!Eat('"') || !String(&key)) return std::nullopt;
      size_t k = 0;
      while (k < 8 && kKeys[k] != key) ++k;
      if (k == 8 || seen[k]) return std::nullopt;
      seen[k] = true;
      SkipSpace();
      if (!Eat(':')) return std::nullopt;
      SkipSpace();
      if (k == kPartial) {
        if (Literal("true")) {
          out.partial = true;
        } else if (!Literal("false")) {
          return std::nullopt;
        }
      } else if (!Eat('"') || !String(strings[k])) {
        return std::nullopt;
      }
      SkipSpace();
      if (Eat('}')) break;
      if (!Eat(',')) return std::nullopt;
    }
    SkipSpace();
    if (!AtEnd() || !seen[0] || !seen[2] || !seen[6]) return std::nullopt;
    auto parsed = ParseState(state);
    if (!parsed.ok()) return std::nullopt;
    out.state = *parsed;
    return out;
  }
};
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

std::string EncodeStatusGeneral(const VolumeStatus& status) {
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

Result<VolumeStatus> DecodeStatusGeneral(std::string_view bytes, std::string_view path) {
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

std::string EncodeStatus(const VolumeStatus& status) {
  const std::string_view state = StateName(status.state);
  if (!IsAscii(status.volume) || !IsAscii(status.mount_id) || !IsAscii(status.reference) ||
      !IsAscii(status.cache_key) || !IsAscii(status.manifest) || !IsAscii(status.error)) {
    return EncodeStatusGeneral(status);
  }
  std::string out;
  out.reserve(120 + status.volume.size() + status.mount_id.size() + status.reference.size() +
              status.cache_key.size() + status.manifest.size() + status.error.size());
  out += "{\"volume\":";
  AppendJsonString(&out, status.volume);
  out += ",\"mount_id\":";
  AppendJsonString(&out, status.mount_id);
  out += ",\"reference\":";
  AppendJsonString(&out, status.reference);
  out += ",\"cache_key\":";
  AppendJsonString(&out, status.cache_key);
  out += ",\"manifest\":";
  AppendJsonString(&out, status.manifest);
  out += ",\"state\":";
  AppendJsonString(&out, state);
  out += status.partial ? ",\"partial\":true" : ",\"partial\":false";
  if (!status.error.empty()) {
    out += ",\"error\":";
    AppendJsonString(&out, status.error);
  }
  out += "}\n";
  return out;
}

Result<VolumeStatus> DecodeStatus(std::string_view bytes, std::string_view path) {
  if (auto fast = FastStatusReader(bytes).Read()) return std::move(*fast);
  return DecodeStatusGeneral(bytes, path);
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

Status DropStatusFile(Filesystem* fs, const std::string& record_dir, bool durable) {
  Status st = fs->Unlink(JoinPath(record_dir, "status.json"));
  if (st.code() == Code::kNotFound) return Status::Ok();
  if (!st.ok() || !durable) return st;
  st = fs->SyncDir(record_dir);
  return st.code() == Code::kNotFound ? Status::Ok() : st;
}

}  // namespace ms
