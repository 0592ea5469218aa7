// The volume layer every upstream proposal plugs its dedup design into, so
// that the shoot-out compares dedup designs and nothing else.
//
// All six upstream pull requests (modelpack/model-csi-driver 31, 32, 34,
// 37, 39, 40) change how a full pull's files reach a volume; none changes
// the CSI volume layer around it (pkg/service/worker.go: records, volume
// locks, deletion). That layer has weaknesses of its own, already found and
// fixed in our core (docs/findings.md: volume calls excluded per process
// only; a volume's model removed before its record, so a reader sees a
// succeeded record over a half-removed model; a failed pull deleting its
// record). Were each model to carry them, every row of the matrix would fail
// the same columns for the same reason and say nothing about the proposals.
// So the shell holds the volume layer fixed, written to our volume
// service's contract:
//   - a volume's operations exclude each other across processes: one lock
//     file per volume, locks/<volume>.lock, held for the whole call (a
//     coarser lock than our core's per-mount locks; upstream: an in-process
//     keyed mutex per mount);
//   - the record (status.json, our VolumeStatus) says running before the
//     payload moves, names the manifest digest the reference resolved to
//     (upstream's record names the reference only; the checker needs the
//     digest), and says succeeded or the error's state after; a failed pull
//     keeps its record and loses its model (upstream deletes the volume
//     directory, record included);
//   - a mount id (or a static volume) recorded with another reference is
//     kConflict (upstream checks dynamic mounts only);
//   - deletion drops the record first (unlink + fsync), then the tree, then
//     tells the design; a delete cancels a pull of the same mount in this
//     process; a release removes the whole volume;
//   - partial pulls (weights or patterns excluded) bypass every design, as
//     every proposal does: a private copy, pulled by our verified puller.
// What differs between designs is the PayloadCache below: how a full pull's
// files reach the volume, what is kept where, what is locked, what is
// collected when, and what a restart rebuilds.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/cancel_token.h"
#include "core/digest.h"
#include "core/filesystem.h"
#include "core/reference.h"
#include "core/registry.h"
#include "core/runtime.h"
#include "core/volume_service.h"

namespace ms::designs {

// What a design may touch: the three ports and the node's root.
struct CacheEnv {
  Filesystem* fs = nullptr;
  Runtime* runtime = nullptr;
  Registry* registry = nullptr;
  std::string root;      // absolute, normalized
  bool durable = true;   // where the proposal itself fsyncs (most do not)
};

// One volume (static) or one mount of a dynamic volume.
struct Slot {
  std::string volume;
  std::string mount;       // "" for a static volume
  std::string key;         // "volume" or "volume/mount"
  std::string record_dir;  // root/volumes/<volume>[/models/<mount>]
  std::string model_dir;   // record_dir/model: what the pod sees
};

// Why the shell tells a design that a slot no longer holds what its record
// named.
enum class ReleaseWhy {
  kDeleted,   // the slot's record and tree are gone (delete, release)
  kReplaced,  // a re-pull now names another digest (a tag moved)
  kFailed,    // the pull failed and its model was removed
};

// The dedup layer of one design, in one driver process. Every method runs
// in the calling actor; in-memory state is this process's alone.
class PayloadCache {
 public:
  PayloadCache() = default;
  PayloadCache(const PayloadCache&) = delete;
  PayloadCache& operator=(const PayloadCache&) = delete;
  virtual ~PayloadCache() = default;

  // At process start (VolumeService::Init): directories, and whatever the
  // design rebuilds from the disk.
  virtual Status Start() = 0;
  // Makes slot.model_dir (absent; its parent exists) hold the full payload of
  // manifest. The record says running with manifest as its key meanwhile.
  virtual Status Materialize(const Slot& slot, const Reference& reference, const Digest& manifest,
                             const CancelToken& token) = 0;
  // The shell wrote the record's final state (after any Materialize call).
  virtual void Finished(const Slot& slot, bool succeeded) {
    (void)slot;
    (void)succeeded;
  }
  // The slot let go of what its record named (key: the digest, "" unknown).
  virtual void Released(const Slot& slot, const std::string& key, ReleaseWhy why) = 0;
  // Boot and periodic maintenance; the GC actor's per-digest hook.
  virtual Result<SweepReport> Sweep() { return SweepReport{}; }
  virtual Status CollectDigest(const Digest& manifest) {
    (void)manifest;
    return Status::Ok();
  }
  // Deferred work on the clock (VolumeService has the contract).
  virtual bool HasTimers() const { return false; }
  virtual int64_t NextTimerMs() { return -1; }
  virtual void RunDueTimers() {}
};

struct ShellOptions {
  std::string root;
  bool durable = true;
  int remove_attempts_max = 60;
  int64_t remove_retry_interval_ms = 1000;
};

class UpstreamShell final : public VolumeService {
 public:
  UpstreamShell(Filesystem* fs, Runtime* runtime, Registry* registry, ShellOptions options,
                std::unique_ptr<PayloadCache> cache);

  Status Init() override;
  Result<PullResult> PullModel(const PullRequest& request) override;
  Status DeleteModel(const std::string& volume, const std::string& mount_id) override;
  Status ReleaseVolume(const std::string& volume) override;
  Result<VolumeStatus> GetStatus(const std::string& volume, const std::string& mount_id) override;
  Result<SweepReport> Sweep() override;
  Status CollectDigest(const Digest& manifest) override { return cache_->CollectDigest(manifest); }
  bool HasTimers() const override { return cache_->HasTimers(); }
  int64_t NextTimerMs() override { return cache_->NextTimerMs(); }
  void RunDueTimers() override { cache_->RunDueTimers(); }

  Slot SlotOf(const std::string& volume, const std::string& mount) const;

 private:
  Result<PullResult> PullLocked(const PullRequest& request, const Reference& reference, const Slot& slot,
                                const CancelToken& token);
  Result<std::unique_ptr<FileLock>> LockVolume(const std::string& volume);
  std::string LockPath(const std::string& volume) const;
  // Registers a pull's token so a delete of its mount (or a release of its
  // volume) can cancel it; Unregister drops exactly that token.
  void Register(const std::string& slot_key, const std::shared_ptr<CancelToken>& token);
  void Unregister(const std::string& slot_key, const std::shared_ptr<CancelToken>& token);
  // Cancels the pulls of slot_key, or (prefix) of every slot of a volume.
  void CancelPulls(const std::string& volume, const std::string& mount);
  Status DropRecord(const std::string& record_dir);
  Status RemoveWithRetry(const std::string& path);
  Status SweepLocks(SweepReport* report);

  Filesystem* fs_;
  Runtime* runtime_;
  Registry* registry_;
  ShellOptions options_;
  std::unique_ptr<PayloadCache> cache_;
  // Guarded by the Runtime lock kInflightKey (upstream_shell.cpp).
  std::multimap<std::string, std::shared_ptr<CancelToken>> inflight_;
};

}  // namespace ms::designs
