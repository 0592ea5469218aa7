// ModelStore: one copy of each model per manifest digest, handed to volumes
// as hardlinks, collected when no volume references it.
//
// Layout under the root:
//   store/<algo>/<hex>/.lock        the entry's cross-process lock file
//   store/<algo>/<hex>/data/        the payload; volumes hardlink from here
//   store/<algo>/<hex>/data.tmp/    a pull in progress (or left by a crash)
//   store/<algo>/<hex>/refs/<id>    one file per referring volume record;
//                                   content = that record's path under root
//
// Liveness is the set of refs, each confirmed against its volume's
// status.json by a ReferrerCheck; it does not depend on link counts, so a
// payload with no regular file is protected like any other (upstream read
// "some file has nlink > 1", which an empty or symlink-only payload never
// satisfies).
//
// Every entry operation holds the entry lock: an in-process Runtime lock
// plus a Filesystem file lock on .lock, so two driver processes sharing a
// root (an upgrade) exclude each other too.
//
// Durability (StoreOptions::durable, under the Filesystem port's promises):
// every directory the store creates is synced in its parent (store/ at
// Init, the entry and refs/ whenever they are used); payload files are
// synced before data.tmp/ becomes data/, and the entry after; a ref is
// written atomically and synced; a collection makes data/'s move away
// durable before it removes anything. A ref can still be lost by a power
// loss that its record survives, or dropped by a GC that read a record a
// crash then brought back: RepairRef (VolumeManager::Init, at boot)
// re-adds it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/cancel_token.h"
#include "core/digest.h"
#include "core/filesystem.h"
#include "core/runtime.h"
#include "core/status.h"

namespace ms {

struct StoreOptions {
  std::string root;  // absolute, normalized; the store touches nothing outside
  // A staging dir younger than this is left alone by GC and sweep: another
  // process (e.g. an older driver that does not take the file lock) may be
  // filling it.
  int64_t staging_grace_ms = 10 * 60 * 1000;
  // fsync payload files, directories and records.
  bool durable = true;
  // Bound on retries of the lock file vanishing under us.
  int lock_attempts_max = 16;
};

struct SweepReport {
  uint64_t entries_scanned = 0;
  uint64_t entries_removed = 0;   // unreferenced payloads collected
  uint64_t staging_removed = 0;   // stale staging-only entries removed
  uint64_t staging_kept = 0;      // staging younger than the grace period
  uint64_t refs_dropped = 0;      // refs whose volume no longer holds the key
  uint64_t foreign_skipped = 0;   // names under store/ that are not entries
  uint64_t locks_removed = 0;     // volume lock files whose volume is gone
};

class ModelStore {
 public:
  // Fills a staging directory with the payload; see PullPayload.
  using PullFn = std::function<Status(const std::string& staging_dir)>;
  // Whether the volume record at referrer (a path relative to root) still
  // references digest. An error means "cannot tell": the entry is kept.
  using ReferrerCheck = std::function<Result<bool>(const std::string& referrer, const Digest&)>;

  ModelStore(Filesystem* fs, Runtime* runtime, StoreOptions options, ReferrerCheck check);

  // Creates root/store (durably). Call once before anything else.
  Status Init();

  // Makes dst_dir (must not exist; its parent must) a hardlinked mirror of
  // the payload of digest, pulling it first if the store lacks it, and
  // records referrer as a reference. On failure dst_dir does not exist and
  // no reference was recorded. on_linked, if given, runs once dst_dir is
  // complete, still under the entry lock, so that no GC of digest runs
  // between the link and what on_linked records (the volume's success);
  // its error is returned as is, dst_dir and the reference left in place
  // for the caller to judge.
  Status Materialize(const Digest& digest, const std::string& dst_dir, const std::string& referrer,
                     const PullFn& pull, const CancelToken& token,
                     const std::function<Status()>& on_linked = nullptr);

  // Re-adds referrer's ref to digest's entry if the entry holds a payload
  // (data/): after a power loss, for a record that survived its ref. A
  // missing entry or payload has nothing to protect: OK.
  Status RepairRef(const Digest& digest, const std::string& referrer);

  // Collects the entry if nothing references it (or removes a stale staging
  // dir). A missing entry is OK. Refs are confirmed against their records
  // in name order until one holds: stale refs before it are dropped, those
  // after it stay (the entry is live either way).
  Status MaybeGc(const Digest& digest);

  // MaybeGc over every entry under store/, confirming every ref (so it
  // also drops the stale refs a GC stopped before).
  Result<SweepReport> Sweep();

  std::string EntryDir(const Digest& digest) const;
  std::string DataDir(const Digest& digest) const;
  std::string StagingDir(const Digest& digest) const;
  const StoreOptions& options() const { return options_; }

  // The digests with an entry directory, for tests and the checker.
  Result<std::vector<Digest>> ListEntries();

 private:
  class EntryLock;
  // Takes the entry lock. With create=false a missing entry yields an empty
  // lock (ok, !held) instead of creating the entry.
  Result<std::unique_ptr<EntryLock>> LockEntry(const Digest& digest, bool create);
  Status CollectLocked(const Digest& digest, SweepReport* report);
  Status AddRefLocked(const Digest& digest, const std::string& referrer);
  Status RemoveRefLocked(const Digest& digest, const std::string& referrer);
  Status MirrorLocked(const std::string& src, const std::string& dst, const CancelToken& token);
  Status PullLocked(const Digest& digest, const PullFn& pull);
  Status DiscardPayloadLocked(const Digest& digest);
  // Removes the whole entry, its lock file last.
  Status RemoveEntryLocked(const Digest& digest);

  Filesystem* fs_;
  Runtime* runtime_;
  StoreOptions options_;
  ReferrerCheck check_;
  // Per digest algorithm: store/<algo>/ was made durable by this instance.
  // The store never removes an algorithm dir, so it stays so (a new
  // process, after a crash or not, starts over).
  std::atomic<bool> algo_dir_durable_[2] = {false, false};
};

}  // namespace ms
