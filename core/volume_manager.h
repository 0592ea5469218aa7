// Volume operations of the CSI node service: pull a model into a volume,
// delete it, release a whole volume tree. Uses the ModelStore for every full
// pull; partial pulls (weights or patterns excluded) bypass it because their
// shape depends on per-volume options.
//
//   volumes/<volume>/status.json                     static volume record
//   volumes/<volume>/model/                          its hardlinked tree
//   volumes/<volume>/models/<mount-id>/status.json   dynamic volume, per mount
//   volumes/<volume>/models/<mount-id>/model/
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/fetch_slots.h"
#include "core/model_store.h"
#include "core/registry.h"
#include "core/volume_service.h"
#include "core/volume_status.h"

namespace ms {

struct VolumeOptions {
  StoreOptions store;
  // Removing a volume dir retries a transient "directory not empty" (a
  // concurrent writer) this many times, this far apart.
  int remove_attempts_max = 60;
  int64_t remove_retry_interval_ms = 1000;
  // The node-wide bound on concurrent blob fetches: at most this many
  // FetchBlob calls at once across every process sharing the root (slots
  // locks/fetch@<i>.lock, core/fetch_slots.h). At least 1. A pull waiting
  // for a slot polls this often, honouring its cancellation and deadline.
  int fetches_max = 8;
  int64_t fetch_poll_ms = 10;
};

class VolumeManager final : public VolumeService {
 public:
  VolumeManager(Filesystem* fs, Runtime* runtime, Registry* registry, VolumeOptions options);

  // Validates the root, creates store/ and volumes/ (durably), and re-adds
  // the ref of every active record whose entry holds a payload: a power
  // loss may have lost a ref its record survived, or brought back a record
  // whose ref a GC had dropped. Call at startup, before the first GC or
  // sweep; an error means some refs may be missing: do not GC, retry.
  Status Init() override;

  // Pulls reference into the volume (mount). One at a time per (volume,
  // mount); identical concurrent calls share one execution. A mount already
  // recorded with another reference is kConflict. The status is written as
  // running (with the cache key) before the payload moves; on error the
  // state becomes failed / canceled / timeout, the model dir is removed and
  // the error returned. A pull into a volume that ReleaseVolume is
  // removing fails kCanceled before it touches the disk.
  Result<PullResult> PullModel(const PullRequest& request) override;

  // Cancels an in-flight pull of the mount, removes its record and model,
  // and collects the cache entry if nothing else references it. A missing
  // volume is OK. With an empty mount_id (a static volume) this is
  // ReleaseVolume: the volume dir may also hold dynamic mounts. A corrupt status.json does not stop the removal (it is
  // logged; the sweep reclaims the entry it hid).
  Status DeleteModel(const std::string& volume, const std::string& mount_id) override;

  // Removes volumes/<volume> and everything below it, then collects every
  // cache key its records named. Pulls into the volume in flight are
  // canceled and waited for; pulls that start meanwhile are refused. Only the removal's error is returned; GC
  // errors are logged. A missing volume is OK.
  Status ReleaseVolume(const std::string& volume) override;

  Result<VolumeStatus> GetStatus(const std::string& volume, const std::string& mount_id) override;

  // Sweep of the store (crash leftovers, lost records, tag moves), then of
  // lock files whose volume or mount is gone.
  Result<SweepReport> Sweep() override;

  // The GC actor's per-digest hook: ModelStore::MaybeGc.
  Status CollectDigest(const Digest& manifest) override { return store_.MaybeGc(manifest); }

  ModelStore& store() { return store_; }
  std::string VolumeDir(const std::string& volume) const;
  std::string RecordDir(const std::string& volume, const std::string& mount_id) const;
  std::string ModelDir(const std::string& volume, const std::string& mount_id) const;

 private:
  struct Flight;
  Result<PullResult> DoPull(const PullRequest& request, const Reference& reference);
  Result<PullResult> PullUnderVolumeLock(const PullRequest& request, const Reference& reference,
                                         const CancelToken& token);
  Result<bool> ReferrerHolds(const std::string& referrer, const Digest& digest);
  // Makes the record's current state (its status.json, or its absence)
  // durable, with every directory above it up to volumes/: what a GC reads
  // there before dropping a ref must survive a power loss, or the record
  // could come back unprotected.
  Status MakeRecordStateDurable(const std::string& record_rel);
  Status RepairRefs();
  // ReleaseVolume's removal, once no pull into the volume runs or can start.
  Status ReleaseQuiescedVolume(const std::string& volume);
  Status RemoveWithRetry(const std::string& path);
  Status DropRecord(const std::string& record_rel);
  // Cross-process exclusion of volume operations. The Runtime locks and the
  // maps below are per process, but two driver processes share the root
  // during an upgrade, and the kubelet's calls on one volume may go to
  // both. Lock files under root/locks/, outside every tree an operation
  // removes: "<volume>.lock" guards a volume's tree, "<volume>+<mount>.lock"
  // one mount (names never hold '+'). A volume's lock is taken before its
  // mounts'. A mount's operation holds its volume's lock only while it takes
  // its own; a release holds the volume's and then every mount's it finds,
  // so it excludes every operation in the tree, in any process.
  std::string LockPath(const std::string& volume, const std::string& mount_id) const;
  Result<std::unique_ptr<FileLock>> LockAt(const std::string& path);
  // The lock an operation on (volume, mount) holds while it runs.
  Result<std::unique_ptr<FileLock>> LockSlot(const std::string& volume, const std::string& mount_id);
  // Unlinks a lock file its caller holds (its tree is gone); a waiter then
  // locks a fresh one.
  void DropLockFile(const std::string& path);
  // Removes lock files whose volume or mount dir is gone (a crash between
  // a removal and its lock file's).
  Status SweepLocks(SweepReport* report);
  void GcLogged(const std::string& cache_key, std::string_view why);
  std::string RecordRel(const std::string& volume, const std::string& mount_id) const;

  Filesystem* fs_;
  Runtime* runtime_;
  Registry* registry_;
  VolumeOptions options_;
  ModelStore store_;
  FetchSlots fetch_slots_;
  // Guarded by the Runtime lock kFlightsKey.
  std::map<std::string, std::shared_ptr<Flight>> flights_;
  // Guarded by the Runtime lock kInflightKey: the token of the pull that
  // holds each (volume/mount)'s lock.
  std::map<std::string, std::shared_ptr<CancelToken>> inflight_;
  // Guarded by kInflightKey: volumes being released (a count: two releases
  // of one volume may overlap); pulls into them are canceled at the start.
  std::map<std::string, int> releasing_;
};

// Checks a volume name or mount id: a safe path component of
// [A-Za-z0-9._-], at most 253 characters. kInvalidArgument naming it.
Status ValidateVolumeName(std::string_view name, std::string_view what);

// Checks a pull request's own input before anything is touched: the volume
// name, the mount id (if any), the reference (returned parsed) and the
// exclude patterns. kInvalidArgument naming what is wrong. Every volume
// service (our core, the designs' shell) refuses bad input the same way.
Result<Reference> ValidatePullRequest(const PullRequest& request);

// RemoveAll of path, retrying a transient "directory not empty" (a
// concurrent writer) up to attempts_max times, retry_interval_ms apart.
Status RemoveTreeWithRetry(Filesystem* fs, Runtime* runtime, const std::string& path, int attempts_max,
                           int64_t retry_interval_ms);

}  // namespace ms
