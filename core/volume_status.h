// status.json: the record of one volume's (or one mount's) pull.
#pragma once

#include <string>
#include <string_view>

#include "core/filesystem.h"
#include "core/status.h"

namespace ms {

enum class VolumeState { kRunning, kSucceeded, kFailed, kCanceled, kTimeout };

std::string_view StateName(VolumeState state);

struct VolumeStatus {
  std::string volume;
  std::string mount_id;   // empty for a static volume
  std::string reference;
  std::string cache_key;  // "sha256:..." or empty (partial pull, failed resolve)
  std::string manifest;   // the digest the reference resolved to, partial or not
  VolumeState state = VolumeState::kRunning;
  bool partial = false;
  std::string error;      // the failure, for failed/canceled/timeout

  bool operator==(const VolumeStatus&) const = default;
};

std::string EncodeStatus(const VolumeStatus& status);
// kCorrupt naming `path` if bytes are not a valid status document.
Result<VolumeStatus> DecodeStatus(std::string_view bytes, std::string_view path);
// The general (nlohmann-json) encoder and decoder. EncodeStatus and
// DecodeStatus take a hand-written fast path for the canonical document and
// fall back to these for anything else; both paths give the same bytes,
// values and errors (tests hold them to that).
std::string EncodeStatusGeneral(const VolumeStatus& status);
Result<VolumeStatus> DecodeStatusGeneral(std::string_view bytes, std::string_view path);

// Reads path: kNotFound if missing, kCorrupt (naming path) if unreadable.
Result<VolumeStatus> ReadStatusFile(Filesystem* fs, const std::string& path);
Status WriteStatusFile(Filesystem* fs, const std::string& path, const VolumeStatus& status);

// Removes record_dir/status.json, durably when asked (the record goes first,
// so that no crash or concurrent reader ever finds a succeeded record over a
// half-removed model). A missing record, or a record dir removed meanwhile
// by a concurrent delete of the same record, is OK.
Status DropStatusFile(Filesystem* fs, const std::string& record_dir, bool durable);

}  // namespace ms
