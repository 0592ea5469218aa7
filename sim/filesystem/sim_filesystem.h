// SimFilesystem: the Filesystem port in memory, with real inode semantics, a
// power-loss model and fault injection, for the deterministic simulator.
//
// Scheduling. Every call (port calls, WritableFile calls, OverwriteFile and
// AppendToExisting) first calls executor->Yield("fs.<op>"), a point where the
// scheduler may switch actors, then bumps the call counter, asks the call
// hook and the fault plan, and then acts atomically: no other actor observes
// a half-done call. LockFile may additionally park in Executor::WaitUntil.
// Inspection and *ForTest methods neither yield, count, nor fail by plan;
// nor does a second WritableFile::Close (a no-op).
//
// Inodes. Regular files (bytes), directories (entries in a std::map, so
// ReadDir is sorted bytewise and every walk is deterministic) and symlinks
// (a target). Hard links share an inode; link counts are POSIX's (a file:
// its number of entries; a directory: 2 + its subdirectories); bytes are
// counted once per inode. Inode ids start at 1 (the root) and are never
// reused. A directory's size is reported as 4096, like ext4.
//
// Paths. Absolute only ('/' first), else kInvalidArgument. Repeated '/' are
// one separator. A trailing '/' demands a directory: on an existing
// non-directory, or when creating a non-directory, it is kNotDirectory.
// "." and ".." components are rejected (kInvalidArgument) in every path a
// caller passes: the store builds paths by joining validated names, so a dot
// component is a confinement bug (I5) we want loud, not resolved. Symlink
// targets, by contrast, are resolved as the OS does ("." is the directory,
// ".." its parent, "/" restarts at the root), because relative links such
// as "../../blobs/x" are ordinary. Intermediate symlinks are followed, at
// most 40 per path (more: kInvalidArgument "too many levels of symlinks").
// The final component is never followed by a port call (a symlink there is
// kInvalidArgument for ReadFile/LockFile/Chmod, kNotDirectory for
// ReadDir/SyncDir/RemoveDir); OverwriteFile and AppendToExisting follow it,
// as a container's open(2) would. Components longer than 255 bytes, paths
// longer than 4096 bytes and NUL bytes are kInvalidArgument.
//
// Permissions. The simulated user owns every inode and is not root: only the
// owner bits count. Traversing a directory needs x; creating or removing an
// entry needs w and x on its directory; moving a directory to another
// parent also needs w on the directory itself (its ".." changes, as Linux
// requires); ReadFile and ReadDir need r; SyncDir needs r (open(O_RDONLY));
// LockFile on an existing file needs r and w (open(O_RDWR)); opening an
// existing file for writing (OverwriteFile, AppendToExisting) needs w.
// Chmod needs only traversal. New files get exactly `mode` (no umask);
// lock files are created 0600, symlinks 0777. An open WritableFile keeps
// writing after a chmod, as an open fd does.
//
// Persistence models (what a power loss may keep of what was not synced).
// Every namespace change (mkdir, rmdir, unlink, link, symlink, create, a
// lock file's creation, rename) is one operation; while it is not durable it
// is *pending*, in the order it happened. A regular file's bytes are durable
// as of its last WritableFile::Sync; bytes written since are *pending* (the
// file is pending). SimFilesystemOptions::persistence picks the rules; each
// is a documented set of legal post-crash states:
//  - adversarial (DESIGN's model, ALICE/CrashMonkey-like, the Filesystem
//    port's promises and nothing more): any subset of the pending
//    operations persists, closed under per-entry order (an operation on a
//    directory entry persists only with every earlier pending operation on
//    that same entry). A rename is one operation: both names change or
//    neither. SyncDir(d) makes every pending operation on d's entries
//    durable (with what that closure drags along: the other name of a
//    rename, and earlier operations on it). A pending file keeps any prefix
//    of its pending bytes (none to all); after an overwrite (a tenant's),
//    its durable content or any prefix of the new one.
//  - ordered-metadata (ext4 data=ordered, XFS-like): operations and writes
//    form one journal; a crash keeps a prefix of it, so namespace
//    operations persist in order, and file data written before an
//    operation persists with it (never metadata exposing data that is not
//    there). Any sync (SyncDir or a file's Sync) commits the whole journal.
//    (A file overwritten twice between syncs, which only a tenant does,
//    keeps its durable content at cuts before its last overwrite.)
//  - journaled: every namespace operation is durable when its call returns,
//    atomically with it; file bytes behave as in adversarial.
// An inode a pending operation could bring back stays allocated until the
// operation is durable (a file created and unlinked between syncs is freed
// at its directory's next sync) or nothing can reach its directory.
// Crash() keeps nothing pending (a legal state of every model); Crash(state)
// keeps what state says, normalized to the model's rules first (so any
// CrashState is legal: missing or illegal choices are mended, never
// refused); PickCrashState draws a legal state from a PRNG;
// EnumerateCrashStates lists distinct legal states (bounded).
// The tree after a crash:
//  - Crash() rebuilds the tree from the root over the kept entries: a
//    directory is kept at its first entry in a depth-first walk by sorted
//    name and dropped at any later one (a safeguard: the rules above never
//    give a directory two parents). Link counts are recomputed from what
//    is reachable, unreachable inodes are freed, every lock and every open
//    WritableFile is dropped (later calls on it: kIo "file handle
//    invalidated by crash").
//  - Not modeled as volatile: mode changes and symlink targets (durable at
//    once; the port has no way to fsync them), mtimes.
// KillProcess(p) is a process crash, not a power loss: the disk keeps
// everything; only p's locks and open WritableFiles end.
//
// Faults. SetFaultPlan (seeded, see fault_plan.h) and SetCallHook (called at
// every call with its global index; a non-OK status is returned instead of
// acting; it may itself call Crash() or KillProcess()). Injected errors name
// the op and path: "link /a -> /b: injected fault: too many links". A real
// ENOSPC also happens when live bytes would exceed options.capacity_bytes.
//
// Lifetime. Handles (WritableFile, FileLock) may outlive the SimFilesystem
// safely: they then do nothing (and return kIo).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/filesystem.h"
#include "core/status.h"
#include "sim/common/prng.h"
#include "sim/filesystem/fault_plan.h"
#include "sim/scheduling/executor.h"

namespace ms::sim {

// The persistence models (see the header comment).
enum class PersistenceModel : uint8_t { kAdversarial, kOrderedMetadata, kJournaled };
inline constexpr PersistenceModel kPersistenceModels[] = {
    PersistenceModel::kAdversarial, PersistenceModel::kOrderedMetadata, PersistenceModel::kJournaled};
// "adversarial", "ordered-metadata", "journaled".
std::string_view PersistenceModelName(PersistenceModel model);
// kInvalidArgument naming the text and the models otherwise.
Result<PersistenceModel> ParsePersistenceModel(std::string_view name);

// One post-crash state, as choices over what is pending at the crash:
//   ordered-metadata  cut: how many pending journal events (operations and
//                     writes, in order) persist;
//   adversarial       ops: per pending operation in order, '1' if it
//                     persists; files: per pending file (by inode id),
//                     how many pending bytes persist (after an overwrite: 0
//                     keeps the durable content, n the new content's first
//                     n bytes);
//   journaled         files only.
// Text: "c<cut>", or "o<ops>/f<n>.<n>..." ("o/f": nothing pending kept).
struct CrashState {
  int64_t cut = -1;  // -1: not a cut
  std::string ops;
  std::vector<uint64_t> files;

  std::string ToText() const;
  static Result<CrashState> Parse(std::string_view text);
  bool operator==(const CrashState&) const = default;
};

// Distinct legal post-crash states (distinct trees after the crash).
struct CrashStates {
  std::vector<CrashState> states;
  // True when the enumeration stopped at max_states, or when the pending
  // choices were too many to try every combination (see
  // EnumerateCrashStates): there may be legal states not listed.
  bool bounded = false;
  uint64_t candidates = 0;  // states tried, duplicates included
};

struct SimFilesystemOptions {
  // EMLINK when a file's link count, or a directory's (2 + subdirectories),
  // would exceed this. ext4's limit.
  uint64_t link_count_max = 65000;
  // ENOSPC when the bytes of all live inodes would exceed this.
  uint64_t capacity_bytes = UINT64_MAX;
  // FileInfo::device of every inode: one filesystem.
  uint64_t device = 1;
  // Mode of the root directory at construction.
  uint32_t root_mode = 0755;
  // What a power loss may keep of what was not synced.
  PersistenceModel persistence = PersistenceModel::kAdversarial;
};

// What the call hook sees. index counts every call since construction,
// from 0: the call with index N is the (N+1)-th. For two-path calls, path is
// the first argument as the message reads ("link <path> -> <path2>",
// "rename <path> -> <path2>", "symlink <link_path> -> <target>"); for
// WritableFile calls, path is the path the file was created at. The views
// are valid during the hook only.
struct CallInfo {
  uint64_t index = 0;
  FsOp op = FsOp::kStat;
  std::string_view name;  // FsOpName(op), "fs.link"
  std::string_view path;
  std::string_view path2;
  // kAppend: the link count of the file the handle writes into (more than
  // one: other names, a volume's hardlink say, see the bytes change).
  uint64_t link_count = 0;
};
using CallHook = std::function<Status(const CallInfo&)>;

// A snapshot of one inode, for tests and the invariant checker: what Stat
// says (without its scheduling point and faults), plus the content.
struct InodeView {
  FileInfo info;
  std::string bytes;   // regular files
  std::string target;  // symlinks
  bool locked = false;
};

// One entry of Walk; the views are valid during the visit only.
struct WalkEntry {
  std::string_view path;
  FileInfo info;
  std::string_view bytes;   // regular files
  std::string_view target;  // symlinks
};

class SimWritableFile;
class SimFileLock;

class SimFilesystem final : public Filesystem {
 public:
  // executor must outlive this and is never null.
  explicit SimFilesystem(Executor* executor, SimFilesystemOptions options = {});
  ~SimFilesystem() override;

  // The Filesystem port (core/filesystem.h has the contract).
  Status MakeDir(const std::string& path, uint32_t mode) override;
  Status RemoveDir(const std::string& path) override;
  Status Unlink(const std::string& path) override;
  Status Link(const std::string& existing_path, const std::string& new_path) override;
  Status Symlink(const std::string& target, const std::string& link_path) override;
  Result<std::string> ReadLink(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Result<FileInfo> Stat(const std::string& path) override;
  Result<std::vector<std::string>> ReadDir(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path,
                                                        uint32_t mode) override;
  Result<std::string> ReadFile(const std::string& path, uint64_t max_bytes) override;
  Status Chmod(const std::string& path, uint32_t mode) override;
  Status SyncDir(const std::string& path) override;
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override;
  // LockFile that answers kUnavailable instead of parking when the file is
  // held. The same operation to the fault plan and the trace (fs.lock).
  Result<std::unique_ptr<FileLock>> TryLockFile(const std::string& path) override;

  // Not port calls: a container writing through an existing file (say, a
  // hardlink into a volume), honoring permissions. Follows a symlink in the
  // final component. kNotFound if missing (never creates), kIsDirectory on a
  // directory, kPermission without the w bit. Every hardlink sees the new
  // bytes. Not synced. Scheduling points like any call.
  Status OverwriteFile(const std::string& path, std::string_view bytes);
  Status AppendToExisting(const std::string& path, std::string_view bytes);

  // Power loss now, keeping nothing pending (see the persistence models).
  void Crash();
  // Power loss now, keeping what state chooses (normalized to the model).
  void Crash(const CrashState& state);
  // A legal post-crash state drawn from rng. Operations: nothing,
  // everything, a random part, all but one (with what needs it) or one
  // alone (with what it needs), a fifth of the time each; file bytes
  // independently: none, all or a random prefix of each, a third each
  // (ordered-metadata: a cut at the start, the end or anywhere).
  CrashState PickCrashState(Prng& rng) const;
  // Up to max_states distinct legal post-crash states, the telling ones
  // first: nothing kept, everything kept, operations without their file
  // bytes and the reverse, every operation kept alone (with what it needs)
  // or dropped alone (with what needs it), every file lost or torn at half,
  // every prefix of the pending operations; then every combination of
  // operations and files (each file's bytes none or all), when there are at
  // most 16 choices. Ordered-metadata: every cut. The first state is always
  // "nothing kept".
  CrashStates EnumerateCrashStates(size_t max_states) const;
  // StateHash() as it would be right after Crash(state).
  uint64_t CrashStateHash(const CrashState& state) const;
  PersistenceModel persistence() const { return options_.persistence; }
  // Pending namespace operations and pending files.
  size_t pending_op_count() const { return pending_.size(); }
  size_t pending_file_count() const { return dirty_files_.size(); }
  // Process `process` dies: its locks and open files end; the disk stays.
  void KillProcess(int process);

  // Fault injection. The plan's PRNG restarts from plan.seed.
  void SetFaultPlan(const FaultPlan& plan);
  void ClearFaultPlan() { SetFaultPlan(FaultPlan{}); }
  const FaultPlan& fault_plan() const { return plan_; }
  // An empty hook removes it.
  void SetCallHook(CallHook hook) { hook_ = std::move(hook); }
  // Called each time the plan injects a fault, in the calling actor's turn
  // (the simulator charges the fault to the call that met it). Empty: none.
  void SetFaultObserver(std::function<void(Code)> observer) { fault_observer_ = std::move(observer); }
  // Calls started so far (the index the next call will get).
  uint64_t call_count() const { return call_count_; }
  // Faults injected by the plan so far, per code (codes never injected are
  // absent). The hook's failures are not counted: the hook's owner knows.
  std::map<Code, uint64_t> FaultCounts() const;

  // Inspection: no yield, no counting, no faults, no permission checks.
  // Paths resolve like port calls (intermediate symlinks followed, the final
  // component not); an unresolvable path is "absent".
  std::optional<InodeView> Inspect(const std::string& path) const;
  bool Exists(const std::string& path) const;
  // Inspect's bytes of a regular file, not copied: nullptr if path is absent
  // or not a regular file. Valid until the next call that changes the file.
  const std::string* RegularFileBytes(const std::string& path) const;
  // Sorted names; empty if path is not a directory.
  std::vector<std::string> ListDir(const std::string& path) const;
  // Preorder, sorted, path itself first; symlinks are reported, not followed.
  void Walk(const std::string& path, const std::function<void(const WalkEntry&)>& visit) const;
  // Bytes of the regular files reachable under subtree (itself included),
  // each inode counted once however many links it has there. 0 if absent.
  uint64_t TotalBytes(const std::string& subtree) const;
  // FNV-1a 64 of the live tree: names, types, modes, link structure (inodes
  // numbered by first visit, so equal trees hash equal whatever their inode
  // ids), file bytes, symlink targets. Not mtimes, locks or open files.
  uint64_t StateHash() const;
  // The same hash of the tree Crash() would leave now (nothing pending
  // kept): equal to StateHash() right after a Crash().
  uint64_t DurableStateHash() const;
  bool IsLocked(const std::string& path) const;
  // Recounts every link count, reference, lock and byte from scratch and
  // compares with the incremental bookkeeping; kInternal naming the first
  // mismatch. O(size of the filesystem): for tests and checkers.
  Status CheckConsistency() const;
  uint64_t inode_count() const { return inodes_.size(); }
  uint64_t used_bytes() const { return used_bytes_; }
  uint64_t open_file_count() const { return open_files_.size(); }
  uint64_t lock_count() const { return locks_.size(); }
  uint64_t crash_count() const { return crash_generation_; }

  // Seeding, as if present at boot: durable, no yield, no faults, no
  // permission checks. WriteFileForTest creates path (its parent must exist)
  // or replaces the bytes and mode of the regular file there.
  // MakeDirsForTest creates every missing directory of path.
  Status WriteFileForTest(const std::string& path, std::string_view bytes, uint32_t mode = 0644);
  Status MakeDirsForTest(const std::string& path, uint32_t mode = 0755);

 private:
  Result<std::unique_ptr<FileLock>> LockFileImpl(const std::string& path, bool wait);
  friend class SimWritableFile;
  friend class SimFileLock;
  struct Inode;
  struct Entry;
  struct Failure;
  // Bytewise name order, exactly std::less<std::string>'s (so ReadDir and
  // every walk keep their order), compared inline: a memcmp call per tree
  // level dominated path resolution, and names in one directory mostly
  // differ at their first byte.
  struct NameLess {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const noexcept {
      const size_t n = a.size() < b.size() ? a.size() : b.size();
      for (size_t i = 0; i < n; ++i) {
        if (a[i] != b[i]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]);
      }
      return a.size() < b.size();
    }
  };
  using EntryMap = std::map<std::string, Inode*, NameLess>;
  struct OpenFile {
    Inode* inode;
    int process;
  };
  struct LockRecord {
    Inode* inode;
    int process;
  };

  // A pending operation's change to one directory entry: dir's entry name
  // names after once it persists (nullptr: removed).
  struct SlotChange {
    Inode* dir;
    std::string name;
    Inode* after;
  };
  // A namespace operation not yet durable: one change, or two (a rename).
  struct PendingOp {
    FsOp op;
    std::vector<SlotChange> changes;
  };
  // A post-crash state resolved: the pending operations kept (ascending
  // seqs) and, per pending file, the pending bytes kept.
  struct Kept {
    std::vector<uint64_t> ops;
    std::vector<std::pair<Inode*, uint64_t>> files;
  };
  // The tree after a crash that keeps Kept, without making it: the entries
  // kept operations give (per directory) and the content of pending files.
  struct CrashView {
    std::map<const Inode*, std::map<std::string, Inode*, NameLess>> entries;
    std::map<const Inode*, std::string_view> bytes;
  };

  // What a call needs at its path's final component: anything, an existing
  // entry, or room for a new one (absent, and w+x on its directory; a
  // trailing '/' only for a directory).
  enum class Want : uint8_t { kAny, kExisting, kNewFile, kNewDir };

  Status BeginCall(FsOp op, std::string_view path, std::string_view path2 = {}, uint64_t link_count = 0);
  Status Lookup(FsOp op, std::string_view path1, std::string_view path2, std::string_view path,
                Want want, Entry* entry) const;
  Status Prologue(FsOp op, const std::string& path, Want want, Entry* entry);
  bool ResolveEntry(std::string_view path, bool check_perms, Entry* entry, Failure* failure) const;
  Inode* WalkDirs(std::string_view dirs, Inode* start, bool allow_dots, bool check_perms, int* hops,
                  Failure* failure) const;
  Inode* FollowToFile(const std::string& path, bool check_perms, Failure* failure) const;
  // Inspection's resolution: no permission checks; nullptr if absent.
  const Inode* Find(const std::string& path) const;
  FileInfo InfoOf(const Inode& inode) const;
  Inode* NewInode(FileType type, uint32_t mode);
  void AddEntry(Inode* dir, std::string_view name, Inode* child);
  void RemoveEntry(Inode* dir, std::string_view name);
  // Records name's durable value in dir's undo log before its first
  // pending change. Called before the live change.
  void NoteChange(Inode* dir, std::string_view name);
  // Logs the live change just made to dir's name (and dir2's name2, a
  // rename's other side) as one pending operation; under journaled,
  // commits it at once. Returns its seq.
  uint64_t FinishOp(FsOp op, Inode* dir, std::string_view name, Inode* dir2 = nullptr,
                    std::string_view name2 = {});
  // seqs and every pending operation they need (earlier operations on the
  // same entries, transitively), ascending. whole_dir: every pending
  // operation on it is in seqs already (a SyncDir), so its entries need no
  // search.
  std::vector<uint64_t> Closure(std::vector<uint64_t> seqs, const Inode* whole_dir) const;
  // Makes these pending operations durable, in order (a closed set).
  void CommitOps(const std::vector<uint64_t>& seqs);
  // Every pending operation and pending file durable (a journal commit).
  void CommitAll();
  void MakeFileDurable(Inode* file);
  // A regular file's bytes changed: it is pending (and, under
  // ordered-metadata, the write is a journal event).
  void NoteWrite(Inode* file, bool truncated);
  // Most pending bytes a crash may keep of a pending file.
  uint64_t PendingRange(const Inode& file) const;
  std::vector<uint64_t> PendingSeqs() const;
  // Ordered-metadata's journal: pending operations' and writes' seqs.
  std::vector<uint64_t> JournalEvents() const;
  CrashState Normalize(const CrashState& state) const;
  // Over pending operations seqs: '1' for operation i and every later one
  // that (transitively) needs it, a later change to an entry they change.
  std::string DependentsOf(const std::vector<uint64_t>& seqs, size_t i) const;
  Kept Resolve(const CrashState& normalized) const;
  void ApplyCrash(const Kept& kept);
  CrashView ViewOf(const Kept& kept) const;
  void MaybeFree(Inode* inode);
  void DropHandleRef(Inode* inode);
  Status CheckHandle(const SimWritableFile& file, FsOp op, Inode** inode) const;
  Status WriteThrough(FsOp op, const std::string& path, std::string_view bytes, bool truncate);
  // Hash of the live tree, the durable one (view == nullptr), or a crash's.
  uint64_t HashTree(bool durable, const CrashView* view = nullptr) const;
  int64_t WallNowMs() const;

  // Called by the handles.
  Status FileAppend(SimWritableFile* file, std::string_view bytes);
  Status FileSync(SimWritableFile* file);
  Status FileClose(SimWritableFile* file);
  void ReleaseFile(uint64_t token);
  void ReleaseLock(uint64_t token);

  Executor* const executor_;
  const SimFilesystemOptions options_;
  // Lets handles that outlive this find out, instead of dangling.
  std::shared_ptr<SimFilesystem*> anchor_;

  std::map<uint64_t, std::unique_ptr<Inode>> inodes_;
  Inode* root_ = nullptr;
  uint64_t next_inode_id_ = 1;
  uint64_t used_bytes_ = 0;

  // Pending namespace operations by seq (log order), and pending files by
  // inode id. Seqs also order ordered-metadata's writes (Inode::marks).
  std::map<uint64_t, PendingOp> pending_;
  std::set<uint64_t> dirty_files_;
  uint64_t next_seq_ = 1;

  uint64_t next_token_ = 1;
  std::map<uint64_t, OpenFile> open_files_;  // by handle token
  std::map<uint64_t, LockRecord> locks_;     // by lock token
  uint64_t crash_generation_ = 0;

  uint64_t call_count_ = 0;
  CallHook hook_;
  std::function<void(Code)> fault_observer_;
  FaultPlan plan_;
  FaultRng rng_;
  bool plan_active_ = false;
  bool plan_always_ = false;
  uint64_t plan_threshold_ = 0;
  std::array<uint64_t, 32> fault_counts_{};
};

}  // namespace ms::sim
