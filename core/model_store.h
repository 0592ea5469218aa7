// ModelStore: one copy of each layer per blob digest, assembled into one
// model per manifest digest by hardlinks, handed to volumes as hardlinks,
// collected when no volume references the model and no model the layer.
//
// Layout under the root:
//   store/<algo>/<hex>/.lock        a model entry's cross-process lock file
//   store/<algo>/<hex>/data/        the model; volumes hardlink from here,
//                                   its files are hardlinks to the layers'
//   store/<algo>/<hex>/data.tmp/    a pull in progress (or left by a crash)
//   store/<algo>/<hex>/refs/<id>    one file per referring volume record;
//                                   content = that record's path under root
//   store/<algo>/<hex>/layers       the layers the model lists, a line each
//                                   ("raw <digest>" / "tar <digest>"),
//                                   written before any layer is referenced
//   blobs/<raw|tar>/<algo>/<hex>/   a layer entry, the same shape: .lock,
//                                   data/ (a raw layer's one file "file", a
//                                   tar layer's extracted tree), data.tmp/,
//                                   and refs/<id> whose content is the
//                                   manifest digest of a model listing it
//
// A layer entry is live while a model entry that lists it exists (its
// refs confirmed against the model entries, in the same way a model's
// refs are against the volume records); a model's collection lets go of
// its layers before the model entry goes. Locks nest model, then layer,
// never the other way, so two models sharing a layer fetch it once: the
// second waits on the layer's lock and finds its payload.
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
#include <memory>
#include <string>
#include <vector>

#include "core/cancel_token.h"
#include "core/digest.h"
#include "core/filesystem.h"
#include "core/layer_source.h"
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
  uint64_t layers_scanned = 0;    // layer entries under blobs/
  uint64_t layers_removed = 0;    // layer payloads no model lists any more
};

class ModelStore {
 public:
  // Fills a staging directory with the payload; see PullPayload.
  using PullFn = std::function<Status(const std::string& staging_dir)>;
  // Whether the volume record at referrer (a path relative to root) still
  // references digest. An error means "cannot tell": the entry is kept.
  using ReferrerCheck = std::function<Result<bool>(const std::string& referrer, const Digest&)>;

  ModelStore(Filesystem* fs, Runtime* runtime, StoreOptions options, ReferrerCheck check);

  // Creates root/store and root/blobs (durably). Call once before anything else.
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

  // The layers of a full pull of manifest into its entry's staging dir,
  // for PullOptions::layers: valid while Materialize's pull runs (it uses
  // the entry lock Materialize holds).
  std::unique_ptr<LayerSource> LayersOf(const Digest& manifest);

  // Collects the entry if nothing references it (or removes a stale staging
  // dir). A missing entry is OK. Refs are listed a few at a time
  // (Filesystem::ReadDirSome) and confirmed against their records until one
  // holds: stale refs before it are dropped, those after it stay (the entry
  // is live either way), so the cost does not grow with the number of refs.
  Status MaybeGc(const Digest& digest);

  // MaybeGc over every entry under store/, confirming every ref (so it
  // also drops the stale refs a GC stopped before), then over every layer
  // entry under blobs/.
  Result<SweepReport> Sweep();

  std::string EntryDir(const Digest& digest) const;
  std::string DataDir(const Digest& digest) const;
  std::string StagingDir(const Digest& digest) const;
  const StoreOptions& options() const { return options_; }

  // A layer entry's directory (blobs/<raw|tar>/<algo>/<hex>) and payload.
  std::string LayerEntryDir(LayerFormat format, const Digest& digest) const;
  std::string LayerDataDir(LayerFormat format, const Digest& digest) const;

  // The digests with an entry directory, for tests and the checker.
  Result<std::vector<Digest>> ListEntries();

 private:
  // A model entry (store/) or a layer entry (blobs/): the same shape, refs
  // confirmed against volume records or against model entries.
  struct Entry {
    enum class Kind { kModel, kRawLayer, kTarLayer };
    Kind kind = Kind::kModel;
    Digest digest;
    std::string dir;
    std::string name;  // in messages and lock keys
    bool is_model() const { return kind == Kind::kModel; }
    std::string data() const;
    std::string staging() const;
    std::string refs() const;
  };
  class EntryLock;
  class ModelLayers;
  Entry ModelEntry(const Digest& digest) const;
  Entry LayerEntry(LayerFormat format, const Digest& digest) const;
  // Takes the entry lock. With create=false a missing entry yields an empty
  // lock (ok, !held) instead of creating the entry.
  Result<std::unique_ptr<EntryLock>> LockEntry(const Entry& entry, bool create);
  Status CollectLocked(const Entry& entry, SweepReport* report);
  // Whether a ref (its content) still holds the entry.
  Result<bool> RefHolds(const Entry& entry, const std::string& referrer);
  Status AddRefLocked(const Entry& entry, const std::string& referrer);
  Status RemoveRefLocked(const Entry& entry, const std::string& referrer);
  Status MirrorLocked(const std::string& src, const std::string& dst, const CancelToken& token);
  Status PullLocked(const Entry& entry, const PullFn& pull);
  Status DiscardPayloadLocked(const Entry& entry);
  // Removes the whole entry, its lock file last; a model's layers are let
  // go of first.
  Status RemoveEntryLocked(const Entry& entry);
  // Drops the model's refs from the layers it lists, collecting each one
  // nothing else lists.
  Status ReleaseLayersLocked(const Entry& model);
  Status SweepDir(const std::string& dir, Entry::Kind kind, SweepReport* report);
  // A ref or a layer list: atomically and synced if durable.
  Status WriteRecord(const std::string& path, std::string_view bytes);
  void LogIfError(const Status& st, const std::string& what);

  Filesystem* fs_;
  Runtime* runtime_;
  StoreOptions options_;
  ReferrerCheck check_;
  // Per digest algorithm: store/<algo>/ was made durable by this instance.
  // The store never removes an algorithm dir, so it stays so (a new
  // process, after a crash or not, starts over).
  // Indexed by Entry::Kind, then DigestAlgorithm.
  std::atomic<bool> algo_dir_durable_[3][2] = {{false, false}, {false, false}, {false, false}};
};

}  // namespace ms
