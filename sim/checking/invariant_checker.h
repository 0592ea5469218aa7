// The invariants of DESIGN §4, checked against the simulated filesystem
// directly (never through the store). Every design (our core, and the
// models of the upstream proposals in designs/) is judged by the same
// design-independent statements, made on what the volumes, the registry and
// the disk say:
//   I1 no-referenced-loss  after every step touching a volume record: a
//                          record that says succeeded has exactly the
//                          registry's files, bytes and symlinks in what its
//                          pod sees (model/, or what a model/ symlink, a
//                          bind mount's stand-in, names)
//   I2 dedup               at every layer (blob) a full pull fetches: no
//                          volume is recorded succeeded on a manifest that
//                          lists it (the node holds it), and no other full
//                          pull, of any manifest, whose record still says
//                          running fetched it already, unless one of the
//                          two fails (one download per layer, however many
//                          volumes and manifests need it at once)
//   I3 footprint           at quiescence, after the final sweep: every
//                          payload inode on disk (the whole root) is held by
//                          some active volume's view, payload bytes on disk
//                          (each inode once) are at most the unique bytes of
//                          the layers the active records list (one copy per
//                          layer, however many manifests list it), and
//                          no file under volumes/ belongs to no record; in
//                          runs with no crash, fault or corrupted record,
//                          the bytes before the sweep too (nothing should
//                          need a sweep)
//   I5 confinement         at every filesystem call (a path outside the
//                          root, or with a "." or ".." component); and, by
//                          comparing everything outside the root with its
//                          state at the start (an escape through a symlink
//                          names a path inside), after each hostile pull and
//                          at quiescence
//   I7 results             a record recorded succeeded on a hostile
//                          artifact (DESIGN §8), at every step
//   I8 recovery            at every power loss: what calls that returned
//                          success promised is still on the disk
// Our core's store layout adds stronger statements (store_checks, on for
// the design "core" only): I1 at every step that moved or removed an
// entry's data/ (no volume may be recorded succeeded on it, even while the
// volume's hardlinks keep its bytes); I2 at every manifest fetch (no entry
// holds the payload complete) and at every layer fetch (no layer entry
// under blobs/ holds it complete), and at every step the node-wide fetch bound
// (no more blob fetches in flight in the registry than the drivers'
// fetches_max: one node downloads at most that many blobs at once); I3's
// entries (one per referenced digest, one layer entry under blobs/ per
// layer the referenced models list, no staging, no lock file of a gone
// volume — the fetch slots' locks/fetch@<i>.lock are permanent, at most
// fetches_max of them — no entry of a hostile digest after the final
// sweep).
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
  std::set<std::string> layer_digests;  // the blobs a volume's files come from (not the config)
  // Per layer digest of the manifest (each once, however often listed): the
  // bytes its payload puts on disk, a raw layer its size, a tar layer its
  // regular files' bytes. What a store keyed by layer digest keeps per
  // layer. Empty (a hand-built expectation): the manifest counts as one
  // blob of payload_bytes.
  std::map<std::string, uint64_t> layer_payload_bytes;
};

// The disk at quiescence, the same way for every design.
struct Footprint {
  // Payload bytes under the root (regular files whose bytes are some
  // model's file), each inode once, the whole root: store, caches, volumes.
  uint64_t bytes_on_disk = 0;
  // What the active records need: each referenced manifest's payload once,
  // plus each partial volume's own files (a private copy by design).
  uint64_t unique_referenced = 0;
  // What a blob-level design would keep for the same volumes: each distinct
  // file content of the referenced payloads once, plus the partial volumes
  // (DESIGN §2.8: a manifest-level store holds a layer two manifests share
  // twice, and bytes_on_disk exceeds this).
  uint64_t unique_content_bytes = 0;
  // What a store keyed by layer (blob) digest would keep for the same
  // volumes: each distinct layer digest an active full record's manifest
  // lists, once, at its payload bytes (ExpectedModel::layer_payload_bytes),
  // plus the partial volumes' own files as in unique_referenced. At least
  // unique_content_bytes (two layers may hold equal files); bytes_on_disk
  // over this is the report's blob-level ratio (DESIGN §2.8).
  uint64_t unique_blob_bytes = 0;
  // Every regular file under the root, each inode once: payload and
  // bookkeeping (records, refs, indexes, lock files).
  uint64_t all_bytes_on_disk = 0;
  size_t entries = 0;  // our core's store entries (store_checks only)
  size_t referenced_digests = 0;
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

  // Our core's layout-specific statements (see above): on for "core" only.
  void SetStoreChecks(bool on) { store_checks_ = on; }

  // Filesystem call hook: I5, and marks the records a call may change.
  void OnCall(const CallInfo& call);
  // After a scheduling step: I1 over the records touched since the last one.
  void AfterStep(uint64_t step);
  // After a crash every record may have changed.
  void MarkAllDirty();
  // A manifest fetch of a full (store-bound) pull by actor: with
  // store_checks, I2 wants no complete copy of that digest in the store at
  // that moment; for every design it names the manifest the actor's next
  // blob fetches belong to.
  void OnFullPullFetch(uint64_t actor, const std::string& manifest_digest, uint64_t step);
  // A blob a full pull by actor fetched (the registry returned bytes): I2.
  void OnFullPullBlobFetch(uint64_t actor, const std::string& blob, uint64_t step);
  // actor's call returned (succeeded: a full pull that answered OK) or died.
  // A blob fetched while another pull of the same manifest in flight held it
  // is a violation once both pulls succeed. ForgetFetches: a power loss ends
  // every call and what they fetched.
  // record_dir: the record the call writes (a pull's slot), or "".
  void CallBegan(uint64_t actor, const std::string& record_dir);
  void CallEnded(uint64_t actor, bool succeeded, uint64_t step);
  void ForgetFetches();
  // At quiescence, after the final sweep: I3.
  Footprint CheckQuiescent(uint64_t step);
  // Right before a power loss: the records whose promise the disk keeps
  // now. A promise already broken (a model I1 saw damaged, say) is not the
  // power loss's doing, so I8 judges only these.
  std::set<std::string> KeptPromises(const std::map<std::string, Promise>& promises) const;
  // Right after a power loss under model: I8, the promise of each record
  // in kept (record dir -> promise) against the disk the crash left.
  void CheckPromises(uint64_t step, const std::map<std::string, Promise>& promises,
                     const std::set<std::string>& kept, std::string_view model);
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
  // After a scheduling step, with the registry's blob fetches in flight:
  // I2 wants them never above the drivers' bound (our core's
  // VolumeOptions::fetches_max; store_checks only: the designs' models
  // bound nothing).
  void CheckFetchesInFlight(uint64_t step, uint64_t in_flight, uint64_t fetches_max);

  // The tree below dir (relative paths), read directly.
  Tree ReadTree(const std::string& dir) const;
  // What the pod of the record at record_dir sees: record_dir/model, or the
  // directory a symlink there names (a bind mount's stand-in).
  std::string ModelView(const std::string& record_dir) const;

 private:
  void CheckRecord(size_t index, uint64_t step);
  bool TenantExempt(const std::string& record);
  // The record's status as last parsed, re-parsed only when its bytes change
  // (JSON parsing dominated the checker's cost).
  const VolumeStatus* CachedStatus(size_t index, const std::string& bytes);
  // Why the disk no longer keeps record's promise; "" if it does.
  std::string BrokenPromise(const std::string& record, const Promise& promise) const;
  std::string EntryData(const std::string& manifest_digest) const;
  // Our core's layer entry payload, blobs/<format>/<algo>/<hex>/data.
  std::string LayerData(std::string_view format, const std::string& layer_digest) const;
  void CheckCollected(const std::string& manifest_digest, uint64_t step);
  // Full, active records' cache keys (and their model dirs), and the
  // digests with an entry under store/.
  std::set<std::string> ReferencedKeys(std::vector<std::string>* full_models) const;
  std::set<std::string> EntryKeys() const;
  // Our core's layer entries at quiescence (I3): exactly the layers the
  // referenced models list, nothing staged.
  void CheckLayerEntries(const std::set<std::string>& referenced, uint64_t step);
  void CheckOrphans(uint64_t step);
  // The payload bytes check of I3: nullopt when it holds, else why not.
  std::optional<std::string> PayloadBytesMismatch(Footprint* fp) const;
  // The decoded, active record of each record dir that has one.
  std::map<std::string, VolumeStatus> ActiveRecords() const;

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
  // Per record: where its model/ symlink pointed when last checked (a
  // design's shared content), "" if model/ is no symlink. A change there
  // touches the record as a change under it does.
  std::vector<std::string> view_targets_;
  // A file with more than one link had its bytes changed this step: any
  // volume may hold that inode, so every record is judged.
  bool shared_inode_changed_ = false;
  std::set<std::string> collected_;       // digests whose data/ a call moved or removed
  // Records I1 skips (ExemptTenantWritten), with their status.json's inode
  // then: the exemption ends when that file is replaced or removed.
  std::map<std::string, uint64_t> tenant_written_;
  bool tenant_wrote_ = false;             // some tenant write went through
  std::set<std::string> corrupted_at_sweep_;
  std::vector<std::string> status_bytes_;                // per record
  std::vector<std::optional<VolumeStatus>> status_parsed_;  // per record
  std::vector<Violation> violations_;
  bool store_checks_ = true;
  // Every regular-file content of every expected tree (payload detection).
  std::set<std::string> payload_contents_;
  // I2: the manifest each actor's full pull fetched, the (manifest, blob)
  // pairs it fetched since its call began, and when it began; the same for
  // the successful pulls that ended.
  struct PullFetches {
    uint64_t call = 0;  // a number per call (an actor makes many)
    std::string record_dir;
    std::set<std::pair<std::string, std::string>> fetched;
  };
  // A blob two pulls in flight both fetched: a violation if both succeed.
  struct DoubleFetch {
    uint64_t first_call = 0, second_call = 0;
    bool first_done = false, second_done = false;
    std::string manifest, blob;
    uint64_t step = 0;
  };
  std::map<uint64_t, std::string> fetching_manifest_;
  std::map<uint64_t, PullFetches> in_flight_;  // by actor
  std::vector<DoubleFetch> double_fetches_;
  uint64_t calls_ = 0;
};

}  // namespace ms::sim
