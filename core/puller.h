// Pulls a model's payload from a Registry into a directory through the
// Filesystem port, verifying every byte: the manifest against its digest,
// every blob against its descriptor's size and digest, as it streams in
// (core/blob_stream.h: a raw layer goes to its file a chunk at a time). The config blob is
// fetched and verified, nothing of it written.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/cancel_token.h"
#include "core/digest.h"
#include "core/fetch_slots.h"
#include "core/filesystem.h"
#include "core/layer_source.h"
#include "core/reference.h"
#include "core/registry.h"
#include "core/runtime.h"

namespace ms {

struct PullOptions {
  // Partial pulls (either option set) skip layers; the store never caches them.
  bool exclude_weights = false;
  std::vector<std::string> exclude_patterns;  // fnmatch globs on the file path
  // Store payloads are read-only (writes through a volume's hardlink would
  // corrupt every volume); a partial pull belongs to one volume only.
  bool read_only = true;
  // fsync every file and directory written, so a crash cannot leave a
  // payload that looks complete but is not.
  bool durable = true;
  // The node-wide bound on concurrent blob fetches (VolumeManager's): each
  // blob fetch holds one slot, taken before the blob's stream opens and
  // given back once it ended (or failed). nullptr: unbounded (a caller
  // that pulls on its own, e.g. a test or a benchmark).
  FetchSlots* fetch_slots = nullptr;
  // A full pull's layers, one copy per layer (the store's blob entries):
  // each layer's payload is filled through it when it lacks one, and the
  // model's files are hardlinks to the payloads. nullptr: every layer is
  // fetched and written into dir (a partial pull, a private copy).
  LayerSource* layers = nullptr;
};

struct PullStats {
  uint64_t files = 0;
  uint64_t bytes = 0;
  uint64_t layers_skipped = 0;
};

// Fills dir (an existing empty directory) with the model named by
// manifest_digest in reference's repository. On error dir may hold part of
// the payload: the caller owns the cleanup (a staging directory).
Status PullPayload(Filesystem* fs, Runtime* runtime, Registry* registry, const CancelToken& token,
                   const Reference& reference, const Digest& manifest_digest,
                   const std::string& dir, const PullOptions& options, PullStats* stats);

// True if path matches any glob (fnmatch semantics, '*' does not cross '/').
bool MatchesAnyPattern(const std::string& path, const std::vector<std::string>& patterns);

}  // namespace ms
