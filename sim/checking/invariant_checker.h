// The invariants of DESIGN §4, checked against the simulated filesystem
// directly (never through the store):
//   I1 no-referenced-loss  after every step touching a volume record; and
//                          after every step that moved or removed an
//                          entry's data/: no volume may be recorded
//                          succeeded on that entry ("no referenced blob is
//                          ever collected", even while the volume's
//                          hardlinks keep its bytes)
//   I2 dedup               at every full-pull manifest fetch
//   I3 footprint           at quiescence, after the final sweep (entries,
//                          bytes, and no orphan files under volumes/); and,
//                          in runs with no crash, fault or corrupted record,
//                          before it too (nothing should need a sweep)
//   I5 confinement         at every filesystem call (a path outside the
//                          root, or with a "." or ".." component); and, by comparing
//                          everything outside the root with its state at
//                          the start (an escape through a symlink names a
//                          path inside), after each hostile pull and at
//                          quiescence
//   I7 results             a record recorded succeeded on a hostile
//                          artifact (DESIGN §8), at every step
//   I8 recovery            at every power loss: what calls that returned
//                          success promised is still on the disk
// I3 also wants no entry of a hostile digest after the final sweep.
// I4 progress and I6 determinism are judged per run by the simulator; I7
// results (the answers of calls) by the result oracle (result_oracle.h)
// and, for the hostile registry's artifacts, by the simulator's oracle of
// each hostile pull (sim/workload/clients.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/filesystem.h"
#include "core/volume_status.h"
#include "sim/filesystem/sim_filesystem.h"

namespace ms::sim {

inline constexpr const char* kInvariantNames[] = {
    "I1 no-referenced-loss", "I2 dedup", "I3 footprint", "I4 progress", "I5 confinement",
    "I6 determinism", "I7 results", "I8 recovery"};

struct Violation {
  std::string invariant;  // one of kInvariantNames
  uint64_t step = 0;
  std::string detail;
};

struct TreeNode {
  FileType type = FileType::kOther;
  std::string content;  // file bytes or symlink target
  bool operator==(const TreeNode&) const = default;
};
using Tree = std::map<std::string, TreeNode>;  // relative path -> node

// What a volume must hold for one manifest, pulled whole or without weights.
struct ExpectedModel {
  Tree full;
  Tree partial;
  uint64_t payload_bytes = 0;  // regular-file bytes of the full tree
};

struct Footprint {
  uint64_t bytes_on_disk = 0;       // store payloads + full volumes, each inode once
  uint64_t unique_referenced = 0;   // sum of payloads of referenced digests
  size_t entries = 0;
  size_t referenced_digests = 0;
  // What a blob-level store would keep for the same volumes: each distinct
  // file content of the referenced payloads once (DESIGN §2.8; the store
  // is manifest-level by design, so two manifests sharing a layer hold it
  // twice and bytes_on_disk exceeds this).
  uint64_t unique_content_bytes = 0;
};

// What a call that returned success promised about one record: a publish,
// that the record says succeeded on manifest with the model (and, full,
// the store's payload); an unpublish or a release, that the record is gone.
struct Promise {
  bool published = false;
  bool partial = false;
  std::string reference;
  std::string manifest;
};

class InvariantChecker {
 public:
  InvariantChecker(SimFilesystem* fs, std::string root, std::vector<std::string> record_dirs);

  void AddExpected(const std::string& manifest_digest, ExpectedModel expected);
  // A digest the hostile registry serves (what its reference resolves to),
  // with the artifact's class and reference, for the reports.
  void AddHostile(const std::string& manifest_digest, std::string what);
  // Remembers everything outside the root (call before the run starts);
  // CheckOutside then wants it unchanged (I5).
  void SnapshotOutside();
  void CheckOutside(uint64_t step, std::string_view when);

  // Filesystem call hook: I5, and marks the records a call may change.
  void OnCall(const CallInfo& call);
  // After a scheduling step: I1 over the records touched since the last one.
  void AfterStep(uint64_t step);
  // After a crash every record may have changed.
  void MarkAllDirty();
  // A manifest fetch of a full (store-bound) pull: I2 wants no complete
  // copy of that digest in the store at that moment.
  void OnFullPullFetch(const std::string& manifest_digest, uint64_t step);
  // At quiescence, after the final sweep: I3.
  Footprint CheckQuiescent(uint64_t step);
  // Right after a power loss under model: I8, each record's promise
  // (record dir -> promise) against the disk the crash left.
  void CheckPromises(uint64_t step, const std::map<std::string, Promise>& promises,
                     std::string_view model);
  // At quiescence, before the final sweep, in a run where nothing (a
  // crash, a fault, a corrupted record) excuses a leak: I3 wants no
  // unreferenced payload and no staging, i.e. nothing for the sweep to do.
  // A sweep would hide a leak such as a tag move's (§2.1).
  void CheckNothingToSweep(uint64_t step);

  // A tenant wrote through a file of record's model: its own volume's
  // bytes are the tenant's business, so I1 skips that record until its
  // status.json is replaced or removed (a re-pull or a delete).
  void ExemptTenantWritten(const std::string& record);
  // record's status.json was corrupted after the final reconciliation: the
  // record references nothing, and its files await the kubelet (no orphan).
  void ExemptCorruptedAtSweep(const std::string& record);

  const std::vector<Violation>& violations() const { return violations_; }
  bool Failed(std::string_view invariant) const;
  void AddViolation(std::string invariant, uint64_t step, std::string detail);

  // The tree below dir (relative paths), read directly.
  Tree ReadTree(const std::string& dir) const;

 private:
  void CheckRecord(size_t index, uint64_t step);
  // The record's status as last parsed, re-parsed only when its bytes change
  // (JSON parsing dominated the checker's cost).
  const VolumeStatus* CachedStatus(size_t index, const std::string& bytes);
  std::string EntryData(const std::string& manifest_digest) const;
  void CheckCollected(const std::string& manifest_digest, uint64_t step);
  // Full, active records' cache keys (and their model dirs), and the
  // digests with an entry under store/.
  std::set<std::string> ReferencedKeys(std::vector<std::string>* full_models) const;
  std::set<std::string> EntryKeys() const;
  void CheckOrphans(uint64_t step);

  SimFilesystem* fs_;
  std::string root_;
  std::string root_slash_;
  std::string store_prefix_;  // root_/store/
  std::vector<std::string> records_;
  std::vector<std::string> status_paths_;  // per record: its status.json
  std::map<std::string, ExpectedModel> expected_;
  std::map<std::string, std::string> hostile_;  // digest -> "class (reference)"
  uint64_t outside_hash_ = 0;
  uint64_t OutsideHash() const;
  std::vector<uint8_t> dirty_;  // per record: touched since the last AfterStep
  bool any_dirty_ = false;
  std::set<std::string> collected_;       // digests whose data/ a call moved or removed
  std::set<std::string> tenant_written_;  // records I1 skips (ExemptTenantWritten)
  std::set<std::string> corrupted_at_sweep_;
  std::vector<std::string> status_bytes_;                // per record
  std::vector<std::optional<VolumeStatus>> status_parsed_;  // per record
  std::vector<Violation> violations_;
};

}  // namespace ms::sim
