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
#pragma once

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

  // Creates root/store. Call once before anything else.
  Status Init();

  // Makes dst_dir (must not exist; its parent must) a hardlinked mirror of
  // the payload of digest, pulling it first if the store lacks it, and
  // records referrer as a reference. On failure dst_dir does not exist and
  // no reference was recorded.
  Status Materialize(const Digest& digest, const std::string& dst_dir, const std::string& referrer,
                     const PullFn& pull, const CancelToken& token);

  // Collects the entry if nothing references it (or removes a stale staging
  // dir). A missing entry is OK.
  Status MaybeGc(const Digest& digest);

  // MaybeGc over every entry under store/.
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
};

}  // namespace ms
