#include "sim/filesystem/sim_filesystem.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <unordered_map>
#include <utility>

namespace ms::sim {

namespace {

constexpr int kSymlinkHopsMax = 40;       // Linux's MAXSYMLINKS
constexpr size_t kPathBytesMax = 4096;    // PATH_MAX
constexpr size_t kNameBytesMax = 255;     // NAME_MAX
constexpr uint64_t kDirSizeBytes = 4096;  // what ext4 reports for a small directory
constexpr int kLockAttemptsMax = 1000;
constexpr uint32_t kModeR = 0400;
constexpr uint32_t kModeW = 0200;
constexpr uint32_t kModeX = 0100;
constexpr uint32_t kModeBits = 07777;

// Splits '/'-separated components, skipping empty ones: sets *comp to the
// next one at or after *pos and advances *pos past it; false at the end.
bool NextComponent(std::string_view path, size_t* pos, std::string_view* comp) {
  while (*pos < path.size() && path[*pos] == '/') ++*pos;
  if (*pos >= path.size()) return false;
  size_t end = *pos;
  while (end < path.size() && path[end] != '/') ++end;  // names are short: no memchr call
  *comp = path.substr(*pos, end - *pos);
  *pos = end;
  return true;
}

// Creating or removing an entry needs w and x on its directory.
bool CanChangeEntries(uint32_t dir_mode) {
  return (dir_mode & (kModeW | kModeX)) == (kModeW | kModeX);
}

// The errno text of each code, lowercase, for messages.
std::string_view CodeWhat(Code code) {
  switch (code) {
    case Code::kNotFound: return "no such file or directory";
    case Code::kAlreadyExists: return "file exists";
    case Code::kNotEmpty: return "directory not empty";
    case Code::kNotDirectory: return "not a directory";
    case Code::kIsDirectory: return "is a directory";
    case Code::kNoSpace: return "no space left on device";
    case Code::kIo: return "input/output error";
    case Code::kCrossDevice: return "invalid cross-device link";
    case Code::kTooManyLinks: return "too many links";
    case Code::kPermission: return "permission denied";
    default: return CodeName(code);
  }
}

// "link /a -> /b: file exists": the op without "fs.", the path(s), why.
Status MakeError(Code code, std::string_view verb, std::string_view path, std::string_view path2,
                 std::string_view what) {
  std::string msg;
  msg.reserve(verb.size() + path.size() + path2.size() + what.size() + 8);
  msg += verb;
  msg += ' ';
  msg += path;
  if (!path2.empty()) {
    msg += " -> ";
    msg += path2;
  }
  msg += ": ";
  msg += what;
  return Status(code, std::move(msg));
}

std::string_view Verb(FsOp op) { return FsOpName(op).substr(3); }

// Builds the errors of one call; costs nothing until an error is built.
class OpError {
 public:
  OpError(std::string_view verb, std::string_view path, std::string_view path2 = {})
      : verb_(verb), path_(path), path2_(path2) {}
  OpError(FsOp op, std::string_view path, std::string_view path2 = {})
      : OpError(Verb(op), path, path2) {}

  Status operator()(Code code, std::string_view what) const {
    return MakeError(code, verb_, path_, path2_, what);
  }
  Status operator()(Code code) const { return (*this)(code, CodeWhat(code)); }

 private:
  std::string_view verb_;
  std::string_view path_;
  std::string_view path2_;
};

// FNV-1a, 64 bits: simple, and the same value on every platform (std::hash
// is neither specified nor stable).
class Fnv1a {
 public:
  void Byte(uint8_t b) {
    hash_ ^= b;
    hash_ *= 1099511628211ULL;
  }
  void U64(uint64_t v) {
    for (int i = 0; i < 8; ++i) Byte(static_cast<uint8_t>(v >> (8 * i)));
  }
  void Str(std::string_view s) {
    U64(s.size());
    for (char c : s) Byte(static_cast<uint8_t>(c));
  }
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = 14695981039346656037ULL;
};

// Calls fn(name, inode) for each entry of dir's durable view, in sorted
// order: its live entries, overlaid with the durable values of the names
// with pending changes (nullptr: the name was not durable).
template <typename Node, typename Fn>
void ForEachDurableEntry(Node* dir, Fn&& fn) {
  auto live = dir->entries.begin();
  auto undo = dir->changed_since_sync.begin();
  const auto live_end = dir->entries.end();
  const auto undo_end = dir->changed_since_sync.end();
  while (live != live_end || undo != undo_end) {
    if (undo == undo_end || (live != live_end && live->first < undo->first)) {
      fn(live->first, live->second);
      ++live;
      continue;
    }
    if (live != live_end && live->first == undo->first) ++live;
    if (undo->second.durable != nullptr) fn(undo->first, undo->second.durable);
    ++undo;
  }
}

// Walks the tree below top: entries_of(dir, visit) calls visit(name, child)
// for each of dir's entries in sorted order (live ones, durable ones, or a
// crash's). Depth first, preorder. Every inode gets an ordinal at its first
// encounter (top is 0). A directory is entered at its first entry only; a
// later entry naming it goes to on_dropped(dir, name) instead, which is how
// Crash() resolves a directory the kept entries would give two parents or a
// cycle. on_edge(dir, dir_ordinal, name, child, child_ordinal, first_visit)
// is called for every other entry. Terminates: each directory is expanded
// once. (A template so it can take SimFilesystem's private Inode by
// deduction.)
template <typename Node, typename EntriesOf, typename EdgeFn, typename DroppedFn>
void WalkTree(Node* top, EntriesOf&& entries_of, EdgeFn&& on_edge, DroppedFn&& on_dropped) {
  std::unordered_map<const Node*, uint64_t> ordinal;  // lookups only, never iterated
  ordinal.emplace(top, 0);
  std::vector<std::pair<Node*, uint64_t>> stack{{top, 0}};
  std::vector<std::pair<Node*, uint64_t>> subdirs;
  while (!stack.empty()) {
    const auto [dir, dir_ordinal] = stack.back();
    stack.pop_back();
    subdirs.clear();
    auto visit = [&](const std::string& name, Node* child) {
      const auto [it, first] = ordinal.emplace(child, ordinal.size());
      if (child->type == FileType::kDirectory) {
        if (!first) {
          on_dropped(dir, name);
          return;
        }
        subdirs.emplace_back(child, it->second);
      }
      on_edge(dir, dir_ordinal, name, child, it->second, first);
    };
    entries_of(dir, visit);
    stack.insert(stack.end(), subdirs.rbegin(), subdirs.rend());
  }
}

constexpr auto kLiveEntries = [](auto* dir, auto& visit) {
  for (const auto& entry : dir->entries) visit(entry.first, entry.second);
};
constexpr auto kDurableEntries = [](auto* dir, auto& visit) { ForEachDurableEntry(dir, visit); };

// For walks that never meet a dropped entry (the live tree) or ignore it.
constexpr auto kIgnoreDropped = [](const auto*, const std::string&) {};

}  // namespace

struct SimFilesystem::Inode {
  Inode(uint64_t id_in, FileType type_in, uint32_t mode_in, int64_t mtime_ms_in)
      : id(id_in), type(type_in), mode(mode_in & kModeBits), mtime_ms(mtime_ms_in) {}

  bool is_dir() const { return type == FileType::kDirectory; }
  // Nothing can reach it any more: no live entry, no durable entry nor
  // pending operation (a crash could bring it back), no open file or lock.
  // (A directory may still hold pending operations: they no longer matter.)
  bool Unreferenced() const { return entry_refs == 0 && durable_refs == 0 && handle_refs == 0; }
  uint64_t size_bytes() const {
    switch (type) {
      case FileType::kRegular: return bytes.size();
      case FileType::kSymlink: return target.size();
      case FileType::kDirectory: return kDirSizeBytes;
      case FileType::kOther: break;
    }
    return 0;
  }
  // What a crash would leave of bytes.
  std::string_view durable_view() const {
    if (durable_is_prefix) return std::string_view(bytes).substr(0, durable_size_bytes);
    return durable_bytes;
  }

  const uint64_t id;
  const FileType type;
  uint32_t mode;
  int64_t mtime_ms;
  // POSIX st_nlink: a file's live entries; a live directory's 2 + subdirs.
  uint64_t nlink = 0;
  uint64_t entry_refs = 0;    // live entries naming this inode
  // Durable entries naming this inode, plus pending operations that would
  // make an entry name it.
  uint64_t durable_refs = 0;
  uint64_t handle_refs = 0;   // open WritableFiles and held locks
  uint64_t lock_token = 0;    // 0: unlocked
  uint64_t crash_mark = 0;    // Crash() scratch: reached in this generation
  Inode* parent = nullptr;    // directories in the live tree: their parent (root: itself)

  // Regular files. Durable content: while durable_is_prefix (the common
  // case: files are written append-only), the first durable_size_bytes of
  // bytes, so Sync costs nothing; after an overwrite, its own copy.
  std::string bytes;
  uint64_t durable_size_bytes = 0;
  bool durable_is_prefix = true;
  std::string durable_bytes;

  std::string target;  // symlinks; immutable

  // Ordered-metadata: (seq, size) of each write since the last sync (after
  // an overwrite, only the overwrite's and later ones).
  std::vector<std::pair<uint64_t, uint64_t>> marks;

  // Directories. The durable entries are kept as an undo log rather than a
  // copy, so a sync costs O(names changed), not O(entries):
  // changed_since_sync maps each name with pending operations to its
  // durable value (nullptr: not durable) and how many pending operations
  // change it; every other name's durable value is its live one.
  struct SlotUndo {
    Inode* durable;
    uint32_t pending;
  };
  EntryMap entries;
  std::map<std::string, SlotUndo, NameLess> changed_since_sync;
  // Pending operations with a change here, ascending seqs (one per change).
  std::vector<uint64_t> pending_ops;
};

struct SimFilesystem::Failure {
  // Returns false so resolvers can `return failure->Set(...)`.
  bool Set(Code code_in, const char* what_in) {
    code = code_in;
    what = what_in;
    return false;
  }
  Code code = Code::kOk;
  const char* what = "";
};

// A path resolved up to its final component.
struct SimFilesystem::Entry {
  Inode* dir = nullptr;   // the directory holding the final component (root for "/")
  std::string_view name;  // the final component; empty for "/"
  Inode* node = nullptr;  // what name links to; nullptr if missing
  bool trailing_slash = false;
  bool is_root = false;
};

namespace {
const char* const kNoEntry = "no such file or directory";
const char* const kDenied = "permission denied";
const char* const kDots = "\".\" and \"..\" components are not accepted";
const char* const kFinalSymlink = "is a symlink (the final component is not followed)";
}  // namespace

// ---------------------------------------------------------------------------
// Handles

class SimWritableFile final : public WritableFile {
 public:
  SimWritableFile(std::shared_ptr<SimFilesystem*> anchor, uint64_t token, uint64_t generation,
                  std::string path)
      : anchor_(std::move(anchor)),
        token_(token),
        generation_(generation),
        path_(std::move(path)) {}
  ~SimWritableFile() override {
    if (!closed_ && *anchor_ != nullptr) (*anchor_)->ReleaseFile(token_);
  }

  Status Append(std::string_view bytes) override {
    if (*anchor_ == nullptr) return Gone(FsOp::kAppend);
    return (*anchor_)->FileAppend(this, bytes);
  }
  Status Sync() override {
    if (*anchor_ == nullptr) return Gone(FsOp::kSync);
    return (*anchor_)->FileSync(this);
  }
  Status Close() override {
    if (closed_) return Status::Ok();
    if (*anchor_ == nullptr) {
      closed_ = true;
      return Gone(FsOp::kClose);
    }
    return (*anchor_)->FileClose(this);
  }

 private:
  friend class SimFilesystem;
  Status Gone(FsOp op) const { return OpError(op, path_)(Code::kIo, "filesystem destroyed"); }

  std::shared_ptr<SimFilesystem*> anchor_;
  const uint64_t token_;
  const uint64_t generation_;  // crash generation at open
  const std::string path_;
  bool closed_ = false;
};

class SimFileLock final : public FileLock {
 public:
  SimFileLock(std::shared_ptr<SimFilesystem*> anchor, uint64_t token)
      : anchor_(std::move(anchor)), token_(token) {}
  // Idempotent and safe after Crash/KillProcess: the token is looked up,
  // never a pointer kept.
  ~SimFileLock() override {
    if (*anchor_ != nullptr) (*anchor_)->ReleaseLock(token_);
  }

 private:
  std::shared_ptr<SimFilesystem*> anchor_;
  const uint64_t token_;
};

// ---------------------------------------------------------------------------
// Construction, the call prologue, resolution, bookkeeping

SimFilesystem::SimFilesystem(Executor* executor, SimFilesystemOptions options)
    : executor_(executor), options_(options), anchor_(std::make_shared<SimFilesystem*>(this)) {
  assert(executor_ != nullptr);
  root_ = NewInode(FileType::kDirectory, options_.root_mode);
  root_->parent = root_;
}

SimFilesystem::~SimFilesystem() { *anchor_ = nullptr; }

int64_t SimFilesystem::WallNowMs() const { return kSimEpochMs + executor_->NowMs(); }

Status SimFilesystem::BeginCall(FsOp op, std::string_view path, std::string_view path2, uint64_t link_count) {
  const std::string_view name = FsOpName(op);
  executor_->Yield(name);
  const uint64_t index = call_count_++;
  if (hook_) {
    Status status = hook_(CallInfo{index, op, name, path, path2, link_count});
    if (!status.ok()) return status;
  }
  if (!plan_active_) return Status::Ok();
  const uint32_t allowed = plan_.allowed_codes[static_cast<size_t>(op)];
  if (allowed == 0) return Status::Ok();
  if (!plan_always_ && rng_.Next() >= plan_threshold_) return Status::Ok();
  // Pick one allowed code uniformly: clear the lowest set bits pick times.
  uint64_t pick = rng_.Next() % static_cast<uint64_t>(std::popcount(allowed));
  uint32_t rest = allowed;
  for (; pick > 0; --pick) rest &= rest - 1;
  const int bit = std::countr_zero(rest);
  const Code code = static_cast<Code>(bit);
  ++fault_counts_[static_cast<size_t>(bit)];
  if (fault_observer_) fault_observer_(code);
  std::string what = "injected fault: ";
  what += CodeWhat(code);
  return MakeError(code, Verb(op), path, path2, what);
}

SimFilesystem::Inode* SimFilesystem::WalkDirs(std::string_view dirs, Inode* start, bool allow_dots,
                                              bool check_perms, int* hops, Failure* failure) const {
  Inode* cur = start;
  size_t pos = 0;
  std::string_view comp;
  while (NextComponent(dirs, &pos, &comp)) {
    if (check_perms && (cur->mode & kModeX) == 0) {
      failure->Set(Code::kPermission, kDenied);
      return nullptr;
    }
    if (comp == "." || comp == "..") {
      if (!allow_dots) {
        failure->Set(Code::kInvalidArgument, kDots);
        return nullptr;
      }
      if (comp == "..") cur = cur->parent;
      continue;
    }
    const auto it = cur->entries.find(comp);
    if (it == cur->entries.end()) {
      failure->Set(Code::kNotFound, kNoEntry);
      return nullptr;
    }
    Inode* child = it->second;
    if (child->is_dir()) {
      cur = child;
      continue;
    }
    if (child->type != FileType::kSymlink) {
      failure->Set(Code::kNotDirectory, "not a directory");
      return nullptr;
    }
    if (++*hops > kSymlinkHopsMax) {
      failure->Set(Code::kInvalidArgument, "too many levels of symlinks");
      return nullptr;
    }
    // Recursion depth is bounded by the hop limit.
    const std::string_view target = child->target;
    cur = WalkDirs(target, target.front() == '/' ? root_ : cur, /*allow_dots=*/true, check_perms,
                   hops, failure);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

bool SimFilesystem::ResolveEntry(std::string_view path, bool check_perms, Entry* entry,
                                 Failure* failure) const {
  if (path.empty() || path.front() != '/') {
    return failure->Set(Code::kInvalidArgument, "not an absolute path");
  }
  if (path.size() > kPathBytesMax) return failure->Set(Code::kInvalidArgument, "path too long");
  if (path.find('\0') != std::string_view::npos) {
    return failure->Set(Code::kInvalidArgument, "path contains a NUL byte");
  }
  size_t end = path.size();
  while (end > 1 && path[end - 1] == '/') --end;
  entry->trailing_slash = end < path.size();
  if (end == 1) {  // "/", "//", ...
    entry->dir = root_;
    entry->node = root_;
    entry->name = {};
    entry->is_root = true;
    return true;
  }
  const size_t slash = path.rfind('/', end - 1);
  entry->name = path.substr(slash + 1, end - slash - 1);
  if (entry->name == "." || entry->name == "..") {
    return failure->Set(Code::kInvalidArgument, kDots);
  }
  if (entry->name.size() > kNameBytesMax) {
    return failure->Set(Code::kInvalidArgument, "name too long");
  }
  int hops = 0;
  entry->dir =
      WalkDirs(path.substr(0, slash), root_, /*allow_dots=*/false, check_perms, &hops, failure);
  if (entry->dir == nullptr) return false;
  if (check_perms && (entry->dir->mode & kModeX) == 0) {
    return failure->Set(Code::kPermission, kDenied);
  }
  const auto it = entry->dir->entries.find(entry->name);
  entry->node = it == entry->dir->entries.end() ? nullptr : it->second;
  if (entry->trailing_slash && entry->node != nullptr && !entry->node->is_dir()) {
    return failure->Set(Code::kNotDirectory, "not a directory");
  }
  return true;
}

SimFilesystem::Inode* SimFilesystem::FollowToFile(const std::string& path, bool check_perms,
                                                  Failure* failure) const {
  Entry entry;
  if (!ResolveEntry(path, check_perms, &entry, failure)) return nullptr;
  Inode* dir = entry.dir;
  Inode* node = entry.node;
  int hops = 0;
  while (node != nullptr && node->type == FileType::kSymlink) {
    if (++hops > kSymlinkHopsMax) {
      failure->Set(Code::kInvalidArgument, "too many levels of symlinks");
      return nullptr;
    }
    const std::string_view target = node->target;
    size_t end = target.size();
    while (end > 0 && target[end - 1] == '/') --end;
    if (end == 0) return root_;  // "/": a directory; the caller rejects it
    const size_t slash = target.rfind('/', end - 1);
    const std::string_view last = slash == std::string_view::npos
                                      ? target.substr(0, end)
                                      : target.substr(slash + 1, end - slash - 1);
    const std::string_view dirs =
        slash == std::string_view::npos ? std::string_view() : target.substr(0, slash);
    dir = WalkDirs(dirs, target.front() == '/' ? root_ : dir, /*allow_dots=*/true, check_perms,
                   &hops, failure);
    if (dir == nullptr) return nullptr;
    if (check_perms && (dir->mode & kModeX) == 0) {
      failure->Set(Code::kPermission, kDenied);
      return nullptr;
    }
    if (last == ".") {
      node = dir;
    } else if (last == "..") {
      node = dir->parent;
    } else {
      const auto it = dir->entries.find(last);
      node = it == dir->entries.end() ? nullptr : it->second;
    }
  }
  if (node == nullptr) failure->Set(Code::kNotFound, kNoEntry);
  return node;
}

SimFilesystem::Inode* SimFilesystem::NewInode(FileType type, uint32_t mode) {
  const uint64_t id = next_inode_id_++;
  auto inode = std::make_unique<Inode>(id, type, mode, WallNowMs());
  if (type == FileType::kDirectory) inode->nlink = 2;
  Inode* raw = inode.get();
  inodes_.emplace(id, std::move(inode));
  return raw;
}

void SimFilesystem::AddEntry(Inode* dir, std::string_view name, Inode* child) {
  NoteChange(dir, name);
  dir->entries.emplace(std::string(name), child);
  ++child->entry_refs;
  if (child->is_dir()) {
    child->parent = dir;
    ++dir->nlink;
  } else {
    ++child->nlink;
  }
  dir->mtime_ms = WallNowMs();
}

void SimFilesystem::RemoveEntry(Inode* dir, std::string_view name) {
  NoteChange(dir, name);
  const auto it = dir->entries.find(name);
  assert(it != dir->entries.end());
  Inode* child = it->second;
  dir->entries.erase(it);
  --child->entry_refs;
  if (child->is_dir()) {
    assert(child->entries.empty());
    --dir->nlink;
    child->nlink = 0;
    child->parent = nullptr;
  } else {
    --child->nlink;
  }
  dir->mtime_ms = WallNowMs();
  MaybeFree(child);
}

void SimFilesystem::MaybeFree(Inode* inode) {
  if (inode == root_ || !inode->Unreferenced()) return;
  // A freed directory drops its durable entries, which may free more. Each
  // inode is pushed once: when its last reference goes.
  std::vector<Inode*> doomed{inode};
  auto unref = [&](Inode* child) {
    --child->durable_refs;
    if (child != root_ && child->Unreferenced()) doomed.push_back(child);
  };
  while (!doomed.empty()) {
    Inode* dead = doomed.back();
    doomed.pop_back();
    assert(dead->entries.empty());
    // No crash can reach a directory nothing names: its entries' pending
    // changes no longer matter. A rename keeps its other side.
    for (uint64_t seq : dead->pending_ops) {
      const auto op = pending_.find(seq);
      if (op == pending_.end()) continue;  // dropped at an earlier change
      auto& changes = op->second.changes;
      for (auto it = changes.begin(); it != changes.end();) {
        if (it->dir != dead) {
          ++it;
          continue;
        }
        if (it->after != nullptr) unref(it->after);
        it = changes.erase(it);
      }
      if (changes.empty()) pending_.erase(op);
    }
    dead->pending_ops.clear();
    // With no live entries left, every durable entry is in the undo log.
    for (const auto& entry : dead->changed_since_sync) {
      if (entry.second.durable != nullptr) unref(entry.second.durable);
    }
    used_bytes_ -= dead->bytes.size();
    dirty_files_.erase(dead->id);
    inodes_.erase(dead->id);
  }
}

void SimFilesystem::DropHandleRef(Inode* inode) {
  assert(inode->handle_refs > 0);
  --inode->handle_refs;
  MaybeFree(inode);
}

void SimFilesystem::NoteChange(Inode* dir, std::string_view name) {
  if (dir->changed_since_sync.find(name) != dir->changed_since_sync.end()) return;
  const auto it = dir->entries.find(name);
  dir->changed_since_sync.emplace(std::string(name),
                                  Inode::SlotUndo{it == dir->entries.end() ? nullptr : it->second, 0});
}

uint64_t SimFilesystem::FinishOp(FsOp op, Inode* dir, std::string_view name, Inode* dir2,
                                 std::string_view name2) {
  const uint64_t seq = next_seq_++;
  PendingOp pending{op, {}};
  auto add = [&](Inode* d, std::string_view n) {
    const auto live = d->entries.find(n);
    Inode* after = live == d->entries.end() ? nullptr : live->second;
    if (after != nullptr) ++after->durable_refs;
    ++d->changed_since_sync.find(n)->second.pending;
    d->pending_ops.push_back(seq);
    pending.changes.push_back({d, std::string(n), after});
  };
  add(dir, name);
  if (dir2 != nullptr) add(dir2, name2);
  pending_.emplace(seq, std::move(pending));
  if (options_.persistence == PersistenceModel::kJournaled) CommitOps({seq});
  return seq;
}

std::vector<uint64_t> SimFilesystem::Closure(std::vector<uint64_t> seqs,
                                             const Inode* whole_dir) const {
  std::set<uint64_t> taken;
  while (!seqs.empty()) {
    const uint64_t seq = seqs.back();
    seqs.pop_back();
    const auto op = pending_.find(seq);
    if (op == pending_.end() || !taken.insert(seq).second) continue;
    for (const SlotChange& change : op->second.changes) {
      if (change.dir == whole_dir) continue;
      // Earlier pending operations on the same entry (pending_ops ascends).
      for (uint64_t earlier : change.dir->pending_ops) {
        if (earlier >= seq) break;
        for (const SlotChange& other : pending_.at(earlier).changes) {
          if (other.dir == change.dir && other.name == change.name) seqs.push_back(earlier);
        }
      }
    }
  }
  return std::vector<uint64_t>(taken.begin(), taken.end());
}

void SimFilesystem::CommitOps(const std::vector<uint64_t>& seqs) {
  // The durable value of each changed entry becomes the operation's; the
  // value it replaces loses that durable reference. Free by id afterwards:
  // freeing one inode can cascade to others still listed.
  std::vector<uint64_t> maybe_free;
  for (uint64_t seq : seqs) {
    const auto op = pending_.find(seq);
    assert(op != pending_.end());
    for (const SlotChange& change : op->second.changes) {
      Inode* dir = change.dir;
      const auto undo = dir->changed_since_sync.find(change.name);
      assert(undo != dir->changed_since_sync.end() && undo->second.pending > 0);
      Inode* old = undo->second.durable;
      undo->second.durable = change.after;  // its pending reference turns durable
      if (old != nullptr) {
        --old->durable_refs;
        maybe_free.push_back(old->id);
      }
      if (--undo->second.pending == 0) {
        // Every change of the entry is durable: durable and live agree.
        assert(undo->second.durable == [&]() -> Inode* {
          const auto live = dir->entries.find(change.name);
          return live == dir->entries.end() ? nullptr : live->second;
        }());
        dir->changed_since_sync.erase(undo);
      }
      auto& list = dir->pending_ops;
      list.erase(std::find(list.begin(), list.end(), seq));
    }
    pending_.erase(op);
  }
  for (uint64_t id : maybe_free) {
    const auto it = inodes_.find(id);
    if (it != inodes_.end()) MaybeFree(it->second.get());
  }
}

void SimFilesystem::CommitAll() {
  CommitOps(PendingSeqs());
  while (!dirty_files_.empty()) MakeFileDurable(inodes_.at(*dirty_files_.begin()).get());
}

void SimFilesystem::MakeFileDurable(Inode* file) {
  file->durable_is_prefix = true;
  file->durable_size_bytes = file->bytes.size();
  std::string().swap(file->durable_bytes);
  file->marks.clear();
  dirty_files_.erase(file->id);
}

void SimFilesystem::NoteWrite(Inode* file, bool truncated) {
  dirty_files_.insert(file->id);
  if (options_.persistence != PersistenceModel::kOrderedMetadata) return;
  // Content at an earlier mark is no longer a prefix of the bytes: a cut
  // before the overwrite keeps the durable content (see the header).
  if (truncated) file->marks.clear();
  file->marks.emplace_back(next_seq_++, file->bytes.size());
}

uint64_t SimFilesystem::PendingRange(const Inode& file) const {
  return file.durable_is_prefix ? file.bytes.size() - file.durable_size_bytes : file.bytes.size();
}

std::vector<uint64_t> SimFilesystem::PendingSeqs() const {
  std::vector<uint64_t> seqs;
  seqs.reserve(pending_.size());
  for (const auto& kv : pending_) seqs.push_back(kv.first);
  return seqs;
}

std::vector<uint64_t> SimFilesystem::JournalEvents() const {
  std::vector<uint64_t> events = PendingSeqs();
  for (uint64_t id : dirty_files_) {
    for (const auto& [seq, size] : inodes_.at(id)->marks) events.push_back(seq);
  }
  std::sort(events.begin(), events.end());
  return events;
}

// ---------------------------------------------------------------------------
// The port

Status SimFilesystem::Lookup(FsOp op, std::string_view path1, std::string_view path2,
                             std::string_view path, Want want, Entry* entry) const {
  const OpError err(op, path1, path2);
  Failure f;
  if (!ResolveEntry(path, /*check_perms=*/true, entry, &f)) return err(f.code, f.what);
  switch (want) {
    case Want::kAny: break;
    case Want::kExisting:
      if (entry->node == nullptr) return err(Code::kNotFound);
      break;
    case Want::kNewFile:
    case Want::kNewDir:
      if (entry->node != nullptr) return err(Code::kAlreadyExists);
      if (want == Want::kNewFile && entry->trailing_slash) return err(Code::kNotDirectory);
      if (!CanChangeEntries(entry->dir->mode)) return err(Code::kPermission);
      break;
  }
  return Status::Ok();
}

Status SimFilesystem::Prologue(FsOp op, const std::string& path, Want want, Entry* entry) {
  MS_RETURN_IF_ERROR(BeginCall(op, path));
  return Lookup(op, path, {}, path, want, entry);
}

Status SimFilesystem::MakeDir(const std::string& path, uint32_t mode) {
  Entry e;
  MS_RETURN_IF_ERROR(Prologue(FsOp::kMakeDir, path, Want::kNewDir, &e));
  if (e.dir->nlink + 1 > options_.link_count_max) {
    return OpError(FsOp::kMakeDir, path)(Code::kTooManyLinks);
  }
  AddEntry(e.dir, e.name, NewInode(FileType::kDirectory, mode));
  FinishOp(FsOp::kMakeDir, e.dir, e.name);
  return Status::Ok();
}

Status SimFilesystem::RemoveDir(const std::string& path) {
  Entry e;
  MS_RETURN_IF_ERROR(Prologue(FsOp::kRemoveDir, path, Want::kExisting, &e));
  const OpError err(FsOp::kRemoveDir, path);
  if (e.is_root) return err(Code::kInvalidArgument, "cannot remove the root");
  if (!e.node->is_dir()) return err(Code::kNotDirectory);
  if (!e.node->entries.empty()) return err(Code::kNotEmpty);
  if (!CanChangeEntries(e.dir->mode)) return err(Code::kPermission);
  RemoveEntry(e.dir, e.name);
  FinishOp(FsOp::kRemoveDir, e.dir, e.name);
  return Status::Ok();
}

Status SimFilesystem::Unlink(const std::string& path) {
  Entry e;
  MS_RETURN_IF_ERROR(Prologue(FsOp::kUnlink, path, Want::kExisting, &e));
  const OpError err(FsOp::kUnlink, path);
  if (e.node->is_dir()) return err(Code::kIsDirectory);
  if (!CanChangeEntries(e.dir->mode)) return err(Code::kPermission);
  RemoveEntry(e.dir, e.name);
  FinishOp(FsOp::kUnlink, e.dir, e.name);
  return Status::Ok();
}

Status SimFilesystem::Link(const std::string& existing_path, const std::string& new_path) {
  const FsOp op = FsOp::kLink;
  MS_RETURN_IF_ERROR(BeginCall(op, existing_path, new_path));
  const OpError err(op, existing_path, new_path);
  Entry src;
  Entry dst;
  MS_RETURN_IF_ERROR(Lookup(op, existing_path, new_path, existing_path, Want::kExisting, &src));
  // Linux: EPERM. Like linkat without AT_SYMLINK_FOLLOW, a symlink is
  // linked itself.
  if (src.node->is_dir()) return err(Code::kPermission, "hard link to a directory");
  MS_RETURN_IF_ERROR(Lookup(op, existing_path, new_path, new_path, Want::kNewFile, &dst));
  if (src.node->nlink + 1 > options_.link_count_max) return err(Code::kTooManyLinks);
  AddEntry(dst.dir, dst.name, src.node);
  FinishOp(op, dst.dir, dst.name);
  return Status::Ok();
}

Status SimFilesystem::Symlink(const std::string& target, const std::string& link_path) {
  const FsOp op = FsOp::kSymlink;
  MS_RETURN_IF_ERROR(BeginCall(op, link_path, target));
  const OpError err(op, link_path, target);
  if (target.empty()) return err(Code::kInvalidArgument, "empty symlink target");
  if (target.size() > kPathBytesMax) return err(Code::kInvalidArgument, "target too long");
  if (target.find('\0') != std::string::npos) {
    return err(Code::kInvalidArgument, "target contains a NUL byte");
  }
  Entry e;
  MS_RETURN_IF_ERROR(Lookup(op, link_path, target, link_path, Want::kNewFile, &e));
  Inode* link = NewInode(FileType::kSymlink, 0777);
  link->target = target;
  AddEntry(e.dir, e.name, link);
  FinishOp(op, e.dir, e.name);
  return Status::Ok();
}

Result<std::string> SimFilesystem::ReadLink(const std::string& path) {
  Entry e;
  MS_RETURN_IF_ERROR(Prologue(FsOp::kReadLink, path, Want::kExisting, &e));
  if (e.node->type != FileType::kSymlink) {
    return OpError(FsOp::kReadLink, path)(Code::kInvalidArgument, "not a symlink");
  }
  return e.node->target;
}

Status SimFilesystem::Rename(const std::string& from, const std::string& to) {
  const FsOp op = FsOp::kRename;
  MS_RETURN_IF_ERROR(BeginCall(op, from, to));
  const OpError err(op, from, to);
  Entry src;
  Entry dst;
  MS_RETURN_IF_ERROR(Lookup(op, from, to, from, Want::kExisting, &src));
  MS_RETURN_IF_ERROR(Lookup(op, from, to, to, Want::kAny, &dst));
  if (src.is_root || dst.is_root) return err(Code::kInvalidArgument, "cannot rename the root");
  Inode* moved = src.node;
  Inode* victim = dst.node;
  if (!CanChangeEntries(src.dir->mode) || !CanChangeEntries(dst.dir->mode)) {
    return err(Code::kPermission);
  }
  // POSIX: two links to one inode (or one entry twice): nothing to do.
  if (victim == moved) return Status::Ok();
  if (moved->is_dir()) {
    if (victim != nullptr && !victim->is_dir()) return err(Code::kNotDirectory);
    if (victim != nullptr && !victim->entries.empty()) return err(Code::kNotEmpty);
    // Into its own subtree: walk up from the destination's parent. The live
    // tree is acyclic, so this reaches the root within inode_count steps.
    const Inode* up = dst.dir;
    for (uint64_t steps = 0; up != root_ && up != moved && steps <= inodes_.size(); ++steps) {
      up = up->parent;
    }
    if (up == moved) return err(Code::kInvalidArgument, "cannot move a directory into itself");
    if (up != root_) return err(Code::kInternal, "directory tree has a cycle");
    if (src.dir != dst.dir) {
      if ((moved->mode & kModeW) == 0) return err(Code::kPermission);  // its ".." changes
      if (victim == nullptr && dst.dir->nlink + 1 > options_.link_count_max) {
        return err(Code::kTooManyLinks);
      }
    }
  } else {
    if (victim != nullptr && victim->is_dir()) return err(Code::kIsDirectory);
    if (dst.trailing_slash) return err(Code::kNotDirectory);
  }
  // Act: drop the replaced entry, then move the entry's map node (the name
  // string is reused, not reallocated).
  if (victim != nullptr) RemoveEntry(dst.dir, dst.name);
  NoteChange(src.dir, src.name);
  NoteChange(dst.dir, dst.name);
  auto handle = src.dir->entries.extract(src.dir->entries.find(src.name));
  handle.key().assign(dst.name);
  dst.dir->entries.insert(std::move(handle));
  if (moved->is_dir() && src.dir != dst.dir) {
    --src.dir->nlink;
    ++dst.dir->nlink;
    moved->parent = dst.dir;
  }
  const int64_t now_ms = WallNowMs();
  src.dir->mtime_ms = now_ms;
  dst.dir->mtime_ms = now_ms;
  // One operation: a crash keeps both names' changes or neither.
  FinishOp(op, src.dir, src.name, dst.dir, dst.name);
  return Status::Ok();
}

Result<FileInfo> SimFilesystem::Stat(const std::string& path) {
  Entry e;
  MS_RETURN_IF_ERROR(Prologue(FsOp::kStat, path, Want::kExisting, &e));
  return InfoOf(*e.node);
}

Result<std::vector<std::string>> SimFilesystem::ReadDir(const std::string& path) {
  Entry e;
  MS_RETURN_IF_ERROR(Prologue(FsOp::kReadDir, path, Want::kExisting, &e));
  const OpError err(FsOp::kReadDir, path);
  if (!e.node->is_dir()) return err(Code::kNotDirectory);
  if ((e.node->mode & kModeR) == 0) return err(Code::kPermission);
  std::vector<std::string> names;
  names.reserve(e.node->entries.size());
  for (const auto& entry : e.node->entries) names.push_back(entry.first);
  return names;
}

Result<std::unique_ptr<WritableFile>> SimFilesystem::NewWritableFile(const std::string& path,
                                                                     uint32_t mode) {
  Entry e;
  MS_RETURN_IF_ERROR(Prologue(FsOp::kNewWritableFile, path, Want::kNewFile, &e));
  // Like open(O_CREAT|O_EXCL, mode): the descriptor writes even if mode
  // has no w bit.
  Inode* file = NewInode(FileType::kRegular, mode);
  AddEntry(e.dir, e.name, file);
  FinishOp(FsOp::kNewWritableFile, e.dir, e.name);
  const uint64_t token = next_token_++;
  open_files_.emplace(token, OpenFile{file, executor_->CurrentProcess()});
  ++file->handle_refs;
  return std::unique_ptr<WritableFile>(
      std::make_unique<SimWritableFile>(anchor_, token, crash_generation_, path));
}

Result<std::string> SimFilesystem::ReadFile(const std::string& path, uint64_t max_bytes) {
  Entry e;
  MS_RETURN_IF_ERROR(Prologue(FsOp::kReadFile, path, Want::kExisting, &e));
  const OpError err(FsOp::kReadFile, path);
  if (e.node->is_dir()) return err(Code::kIsDirectory);
  if (e.node->type == FileType::kSymlink) return err(Code::kInvalidArgument, kFinalSymlink);
  if ((e.node->mode & kModeR) == 0) return err(Code::kPermission);
  if (e.node->bytes.size() > max_bytes) {
    return err(Code::kInvalidArgument, "larger than " + std::to_string(max_bytes) + " bytes");
  }
  return e.node->bytes;
}

Status SimFilesystem::Chmod(const std::string& path, uint32_t mode) {
  Entry e;
  MS_RETURN_IF_ERROR(Prologue(FsOp::kChmod, path, Want::kExisting, &e));
  if (e.node->type == FileType::kSymlink) {
    return OpError(FsOp::kChmod, path)(Code::kInvalidArgument, kFinalSymlink);
  }
  e.node->mode = mode & kModeBits;
  return Status::Ok();
}

Status SimFilesystem::SyncDir(const std::string& path) {
  Entry e;
  MS_RETURN_IF_ERROR(Prologue(FsOp::kSyncDir, path, Want::kExisting, &e));
  const OpError err(FsOp::kSyncDir, path);
  if (!e.node->is_dir()) return err(Code::kNotDirectory);
  if ((e.node->mode & kModeR) == 0) return err(Code::kPermission);
  switch (options_.persistence) {
    case PersistenceModel::kAdversarial:
      // Every pending operation on its entries, and what they need.
      CommitOps(Closure(e.node->pending_ops, e.node));
      break;
    case PersistenceModel::kOrderedMetadata:
      CommitAll();  // a journal commit
      break;
    case PersistenceModel::kJournaled:
      break;  // nothing pending: every operation committed with its call
  }
  return Status::Ok();
}

Result<std::unique_ptr<FileLock>> SimFilesystem::LockFile(const std::string& path) {
  return LockFileImpl(path, /*wait=*/true);
}

Result<std::unique_ptr<FileLock>> SimFilesystem::TryLockFile(const std::string& path) {
  return LockFileImpl(path, /*wait=*/false);
}

Result<std::unique_ptr<FileLock>> SimFilesystem::LockFileImpl(const std::string& path, bool wait) {
  MS_RETURN_IF_ERROR(BeginCall(FsOp::kLockFile, path));
  const OpError err(FsOp::kLockFile, path);
  // Each attempt resolves the path and, if its file is free, takes the lock
  // in the same atomic step, so the locked file is the one linked at path
  // at the moment of return. If held, park until it is free or gone, then
  // resolve again (someone may have unlinked or replaced it meanwhile).
  for (int attempt = 0; attempt < kLockAttemptsMax; ++attempt) {
    Entry e;
    MS_RETURN_IF_ERROR(Lookup(FsOp::kLockFile, path, {}, path, Want::kAny, &e));
    Inode* file = e.node;
    if (file == nullptr) {
      if (e.trailing_slash) return err(Code::kNotDirectory);
      if (!CanChangeEntries(e.dir->mode)) return err(Code::kPermission);
      file = NewInode(FileType::kRegular, 0600);
      AddEntry(e.dir, e.name, file);
      FinishOp(FsOp::kLockFile, e.dir, e.name);
    } else if (file->is_dir()) {
      return err(Code::kIsDirectory);
    } else if (file->type == FileType::kSymlink) {
      return err(Code::kInvalidArgument, kFinalSymlink);
    } else if ((file->mode & (kModeR | kModeW)) != (kModeR | kModeW)) {
      return err(Code::kPermission);
    }
    if (file->lock_token == 0) {
      const uint64_t token = next_token_++;
      file->lock_token = token;
      ++file->handle_refs;
      locks_.emplace(token, LockRecord{file, executor_->CurrentProcess()});
      return std::unique_ptr<FileLock>(std::make_unique<SimFileLock>(anchor_, token));
    }
    if (!wait) return err(Code::kUnavailable, "held");
    const uint64_t id = file->id;
    executor_->WaitUntil(
        [this, id] {
          const auto it = inodes_.find(id);
          return it == inodes_.end() || it->second->lock_token == 0;
        },
        "fs.lock");
  }
  return err(Code::kInternal, "file kept being replaced");
}

// ---------------------------------------------------------------------------
// Handles' calls

Status SimFilesystem::CheckHandle(const SimWritableFile& file, FsOp op, Inode** inode) const {
  const OpError err(op, file.path_);
  if (file.closed_) return err(Code::kInvalidArgument, "file is closed");
  if (file.generation_ != crash_generation_) {
    return err(Code::kIo, "file handle invalidated by crash");
  }
  const auto it = open_files_.find(file.token_);
  if (it == open_files_.end()) return err(Code::kIo, "file handle invalidated: process killed");
  *inode = it->second.inode;
  return Status::Ok();
}

Status SimFilesystem::FileAppend(SimWritableFile* file, std::string_view bytes) {
  const auto open = open_files_.find(file->token_);
  MS_RETURN_IF_ERROR(BeginCall(FsOp::kAppend, file->path_, {},
                               open != open_files_.end() && open->second.inode != nullptr ? open->second.inode->nlink : 0));
  Inode* inode = nullptr;
  MS_RETURN_IF_ERROR(CheckHandle(*file, FsOp::kAppend, &inode));
  if (bytes.size() > options_.capacity_bytes - used_bytes_) {
    return OpError(FsOp::kAppend, file->path_)(Code::kNoSpace);
  }
  inode->bytes.append(bytes);
  used_bytes_ += bytes.size();
  inode->mtime_ms = WallNowMs();
  if (!bytes.empty()) NoteWrite(inode, /*truncated=*/false);
  return Status::Ok();
}

Status SimFilesystem::FileSync(SimWritableFile* file) {
  MS_RETURN_IF_ERROR(BeginCall(FsOp::kSync, file->path_));
  Inode* inode = nullptr;
  MS_RETURN_IF_ERROR(CheckHandle(*file, FsOp::kSync, &inode));
  if (options_.persistence == PersistenceModel::kOrderedMetadata) {
    CommitAll();  // fsync commits the journal: every operation and write before it
  } else {
    MakeFileDurable(inode);
  }
  return Status::Ok();
}

Status SimFilesystem::FileClose(SimWritableFile* file) {
  // Like close(2), the handle is released even when the call reports an
  // error (an injected EIO included).
  Status status = BeginCall(FsOp::kClose, file->path_);
  Inode* inode = nullptr;
  Status handle_status = CheckHandle(*file, FsOp::kClose, &inode);
  file->closed_ = true;
  ReleaseFile(file->token_);
  return status.ok() ? handle_status : status;
}

void SimFilesystem::ReleaseFile(uint64_t token) {
  const auto it = open_files_.find(token);
  if (it == open_files_.end()) return;  // crash or process kill got it first
  Inode* inode = it->second.inode;
  open_files_.erase(it);
  DropHandleRef(inode);
}

void SimFilesystem::ReleaseLock(uint64_t token) {
  const auto it = locks_.find(token);
  if (it == locks_.end()) return;  // crash or process kill got it first
  Inode* inode = it->second.inode;
  locks_.erase(it);
  assert(inode->lock_token == token);
  inode->lock_token = 0;
  DropHandleRef(inode);
}

// ---------------------------------------------------------------------------
// Non-port writes

Status SimFilesystem::WriteThrough(FsOp op, const std::string& path, std::string_view bytes,
                                   bool truncate) {
  MS_RETURN_IF_ERROR(BeginCall(op, path));
  const OpError err(op, path);
  Failure f;
  Inode* file = FollowToFile(path, true, &f);
  if (file == nullptr) return err(f.code, f.what);
  if (file->is_dir()) return err(Code::kIsDirectory);
  if ((file->mode & kModeW) == 0) return err(Code::kPermission);
  const uint64_t old_size = file->bytes.size();
  const uint64_t new_size = truncate ? bytes.size() : old_size + bytes.size();
  if (new_size > old_size && new_size - old_size > options_.capacity_bytes - used_bytes_) {
    return err(Code::kNoSpace);
  }
  if (truncate) {
    // The durable content can no longer be a prefix of bytes: keep a copy.
    if (file->durable_is_prefix) {
      file->durable_bytes.assign(file->durable_view());
      file->durable_is_prefix = false;
    }
    file->bytes.assign(bytes);
  } else {
    file->bytes.append(bytes);
  }
  used_bytes_ = used_bytes_ - old_size + new_size;
  file->mtime_ms = WallNowMs();
  NoteWrite(file, truncate);
  return Status::Ok();
}

Status SimFilesystem::OverwriteFile(const std::string& path, std::string_view bytes) {
  return WriteThrough(FsOp::kOverwriteFile, path, bytes, /*truncate=*/true);
}

Status SimFilesystem::AppendToExisting(const std::string& path, std::string_view bytes) {
  return WriteThrough(FsOp::kAppendToExisting, path, bytes, /*truncate=*/false);
}

// ---------------------------------------------------------------------------
// Crash model

std::string_view PersistenceModelName(PersistenceModel model) {
  switch (model) {
    case PersistenceModel::kAdversarial: return "adversarial";
    case PersistenceModel::kOrderedMetadata: return "ordered-metadata";
    case PersistenceModel::kJournaled: return "journaled";
  }
  return "?";
}

Result<PersistenceModel> ParsePersistenceModel(std::string_view name) {
  for (PersistenceModel model : kPersistenceModels) {
    if (PersistenceModelName(model) == name) return model;
  }
  return Status(Code::kInvalidArgument, "unknown crash model \"" + std::string(name) +
                                            "\" (adversarial, ordered-metadata or journaled)");
}

std::string CrashState::ToText() const {
  if (cut >= 0) return "c" + std::to_string(cut);
  std::string out = "o" + ops + "/f";
  for (size_t i = 0; i < files.size(); ++i) {
    if (i > 0) out += '.';
    out += std::to_string(files[i]);
  }
  return out;
}

Result<CrashState> CrashState::Parse(std::string_view text) {
  const auto bad = [&] {
    return Status(Code::kInvalidArgument,
                  "crash state \"" + std::string(text.substr(0, 80)) + "\" is not c<cut> or o<0|1...>/f<n>.<n>...");
  };
  auto number = [](std::string_view digits, uint64_t* out) {
    if (digits.empty() || digits.size() > 18) return false;
    uint64_t v = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    *out = v;
    return true;
  };
  CrashState state;
  if (!text.empty() && text.front() == 'c') {
    uint64_t cut = 0;
    if (!number(text.substr(1), &cut)) return bad();
    state.cut = static_cast<int64_t>(cut);
    return state;
  }
  const size_t slash = text.find("/f");
  if (text.empty() || text.front() != 'o' || slash == std::string_view::npos) return bad();
  state.ops = std::string(text.substr(1, slash - 1));
  if (state.ops.find_first_not_of("01") != std::string::npos) return bad();
  std::string_view rest = text.substr(slash + 2);
  while (!rest.empty()) {
    const size_t dot = rest.find('.');
    uint64_t n = 0;
    if (!number(rest.substr(0, dot), &n)) return bad();
    state.files.push_back(n);
    rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
  }
  return state;
}

CrashState SimFilesystem::Normalize(const CrashState& state) const {
  CrashState out;
  if (options_.persistence == PersistenceModel::kOrderedMetadata) {
    const int64_t events = static_cast<int64_t>(JournalEvents().size());
    out.cut = std::clamp<int64_t>(state.cut, 0, events);
    return out;
  }
  // Operations: the chosen ones and every earlier one they need.
  const std::vector<uint64_t> seqs = PendingSeqs();
  std::vector<uint64_t> chosen;
  for (size_t i = 0; i < seqs.size() && i < state.ops.size(); ++i) {
    if (state.ops[i] == '1') chosen.push_back(seqs[i]);
  }
  const std::vector<uint64_t> kept = Closure(std::move(chosen), nullptr);
  out.ops.assign(seqs.size(), '0');
  for (size_t i = 0, k = 0; i < seqs.size() && k < kept.size(); ++i) {
    if (seqs[i] == kept[k]) {
      out.ops[i] = '1';
      ++k;
    }
  }
  size_t i = 0;
  for (uint64_t id : dirty_files_) {
    const uint64_t chosen_bytes = i < state.files.size() ? state.files[i] : 0;
    out.files.push_back(std::min(chosen_bytes, PendingRange(*inodes_.at(id))));
    ++i;
  }
  return out;
}

SimFilesystem::Kept SimFilesystem::Resolve(const CrashState& normalized) const {
  Kept kept;
  if (options_.persistence == PersistenceModel::kOrderedMetadata) {
    // A journal prefix: every operation and write before the cut.
    const std::vector<uint64_t> events = JournalEvents();
    const size_t cut = static_cast<size_t>(std::max<int64_t>(normalized.cut, 0));
    const uint64_t cut_seq = cut < events.size() ? events[cut] : UINT64_MAX;
    for (const auto& kv : pending_) {
      if (kv.first < cut_seq) kept.ops.push_back(kv.first);
    }
    for (uint64_t id : dirty_files_) {
      Inode* file = inodes_.at(id).get();
      uint64_t size = 0;
      bool written = false;
      for (const auto& [seq, mark_size] : file->marks) {
        if (seq >= cut_seq) break;
        size = mark_size;
        written = true;
      }
      if (!written) continue;
      kept.files.emplace_back(file, file->durable_is_prefix ? size - file->durable_size_bytes : size);
    }
    return kept;
  }
  const std::vector<uint64_t> seqs = PendingSeqs();
  for (size_t i = 0; i < seqs.size() && i < normalized.ops.size(); ++i) {
    if (normalized.ops[i] == '1') kept.ops.push_back(seqs[i]);
  }
  size_t i = 0;
  for (uint64_t id : dirty_files_) {
    if (i < normalized.files.size() && normalized.files[i] > 0) {
      kept.files.emplace_back(inodes_.at(id).get(), normalized.files[i]);
    }
    ++i;
  }
  return kept;
}

void SimFilesystem::Crash() { ApplyCrash(Kept{}); }

void SimFilesystem::Crash(const CrashState& state) { ApplyCrash(Resolve(Normalize(state))); }

void SimFilesystem::ApplyCrash(const Kept& kept) {
  ++crash_generation_;
  open_files_.clear();
  locks_.clear();
  // The kept operations become durable, in order; then every directory's
  // entries become its durable ones and every file's bytes its durable
  // (or kept) ones. Every reference is forgotten, to be recounted from
  // what the root reaches.
  for (uint64_t seq : kept.ops) {
    for (const SlotChange& change : pending_.at(seq).changes) {
      change.dir->changed_since_sync.find(change.name)->second.durable = change.after;
    }
  }
  for (const auto& [file, n] : kept.files) {
    if (file->durable_is_prefix) {
      file->durable_size_bytes = std::min<uint64_t>(file->bytes.size(), file->durable_size_bytes + n);
    } else {
      file->durable_is_prefix = true;  // a prefix of the new content
      file->durable_size_bytes = std::min<uint64_t>(file->bytes.size(), n);
      std::string().swap(file->durable_bytes);
    }
  }
  pending_.clear();
  dirty_files_.clear();
  for (auto& kv : inodes_) {
    Inode* n = kv.second.get();
    for (auto& change : n->changed_since_sync) {
      if (change.second.durable == nullptr) {
        n->entries.erase(change.first);
      } else {
        n->entries.insert_or_assign(change.first, change.second.durable);
      }
    }
    n->changed_since_sync.clear();
    n->pending_ops.clear();
    n->marks.clear();
    n->entry_refs = 0;
    n->durable_refs = 0;
    n->handle_refs = 0;
    n->lock_token = 0;
    n->nlink = 0;
  }
  root_->nlink = 2;
  root_->parent = root_;
  root_->crash_mark = crash_generation_;
  std::vector<std::pair<Inode*, std::string>> dropped;
  WalkTree(
      root_, kLiveEntries,
      [&](Inode* dir, uint64_t, const std::string&, Inode* child, uint64_t, bool first) {
        if (first) {
          child->crash_mark = crash_generation_;
          if (child->is_dir()) {
            child->nlink = 2;
            child->parent = dir;
          } else if (child->type == FileType::kRegular) {
            if (child->durable_is_prefix) {
              child->bytes.resize(child->durable_size_bytes);
            } else {
              child->bytes = std::move(child->durable_bytes);
              std::string().swap(child->durable_bytes);
              child->durable_is_prefix = true;
              child->durable_size_bytes = child->bytes.size();
            }
          }
        }
        if (child->is_dir()) {
          ++dir->nlink;
        } else {
          ++child->nlink;
        }
        ++child->entry_refs;
        ++child->durable_refs;  // what survived is, by definition, durable
      },
      [&](Inode* dir, const std::string& name) { dropped.emplace_back(dir, name); });
  for (const auto& [dir, name] : dropped) dir->entries.erase(name);
  used_bytes_ = 0;
  for (auto it = inodes_.begin(); it != inodes_.end();) {
    if (it->second->crash_mark != crash_generation_) {
      it = inodes_.erase(it);
    } else {
      used_bytes_ += it->second->bytes.size();
      ++it;
    }
  }
}

CrashState SimFilesystem::PickCrashState(Prng& rng) const {
  CrashState state;
  if (options_.persistence == PersistenceModel::kOrderedMetadata) {
    const uint64_t events = JournalEvents().size();
    switch (rng.Below(3)) {
      case 0: state.cut = 0; break;
      case 1: state.cut = static_cast<int64_t>(events); break;
      default: state.cut = static_cast<int64_t>(rng.Below(events + 1)); break;
    }
    return state;
  }
  // Nothing, everything, a random part, everything but one operation (and
  // what needs it), or one alone (and what it needs): the last two are
  // ALICE's telling states, where durability bugs hide.
  const size_t n = pending_.size();
  const uint64_t ops_mode = rng.Below(5);
  const size_t pick = n > 0 && ops_mode >= 3 ? rng.Below(n) : 0;
  const std::string drop = ops_mode == 3 && n > 0 ? DependentsOf(PendingSeqs(), pick) : std::string();
  for (size_t i = 0; i < n; ++i) {
    bool keep = false;
    switch (ops_mode) {
      case 0: keep = false; break;
      case 1: keep = true; break;
      case 2: keep = rng.Below(2) == 1; break;
      case 3: keep = drop[i] == '0'; break;
      default: keep = i == pick; break;  // its predecessors join it in Normalize
    }
    state.ops += keep ? '1' : '0';
  }
  const uint64_t files_mode = rng.Below(3);
  for (uint64_t id : dirty_files_) {
    const uint64_t range = PendingRange(*inodes_.at(id));
    state.files.push_back(files_mode == 0 ? 0 : files_mode == 1 ? range : rng.Below(range + 1));
  }
  return Normalize(state);
}

CrashStates SimFilesystem::EnumerateCrashStates(size_t max_states) const {
  CrashStates out;
  std::set<uint64_t> seen;
  bool full = max_states == 0;
  // Offers a candidate; false once the bound is reached.
  auto offer = [&](const CrashState& candidate) {
    if (full) return false;
    ++out.candidates;
    CrashState normalized = Normalize(candidate);
    if (seen.insert(CrashStateHash(normalized)).second) out.states.push_back(std::move(normalized));
    full = out.states.size() >= max_states;
    return !full;
  };
  if (options_.persistence == PersistenceModel::kOrderedMetadata) {
    const int64_t events = static_cast<int64_t>(JournalEvents().size());
    for (int64_t cut = 0; cut <= events; ++cut) {
      CrashState state;
      state.cut = cut;
      if (!offer(state)) break;
    }
    out.bounded = full && out.candidates < static_cast<uint64_t>(events + 1);
    return out;
  }
  const std::vector<uint64_t> seqs = PendingSeqs();
  const size_t n = seqs.size();
  std::vector<uint64_t> range;
  for (uint64_t id : dirty_files_) range.push_back(PendingRange(*inodes_.at(id)));
  const size_t f = range.size();
  auto files_all = [&](bool all) {
    std::vector<uint64_t> v(f, 0);
    if (all) v = range;
    return v;
  };
  auto make = [&](std::string ops, std::vector<uint64_t> files) {
    CrashState s;
    s.ops = std::move(ops);
    s.files = std::move(files);
    return s;
  };
  const std::string none(n, '0'), all(n, '1');
  bool more = offer(make(none, files_all(false))) && offer(make(all, files_all(true))) &&
              offer(make(all, files_all(false))) && offer(make(none, files_all(true)));
  // ALICE's telling states first: each operation kept alone (with what it
  // needs) or dropped alone (with what needs it); each file lost or torn.
  for (size_t i = 0; more && i < n; ++i) {
    const std::string drop = DependentsOf(seqs, i);
    std::string ops = all;
    for (size_t j = 0; j < n; ++j) {
      if (drop[j] == '1') ops[j] = '0';
    }
    std::string alone = none;
    alone[i] = '1';  // its predecessors join it in Normalize
    more = offer(make(alone, files_all(false))) && offer(make(ops, files_all(true)));
  }
  for (size_t j = 0; more && j < f; ++j) {
    std::vector<uint64_t> lost = range, torn = range;
    lost[j] = 0;
    torn[j] = range[j] / 2;
    more = offer(make(all, lost)) && offer(make(all, torn));
  }
  for (size_t p = 1; more && p < n; ++p) {
    std::string prefix = none;
    std::fill(prefix.begin(), prefix.begin() + static_cast<std::ptrdiff_t>(p), '1');
    more = offer(make(prefix, files_all(true))) && offer(make(prefix, files_all(false)));
  }
  constexpr size_t kChoicesMax = 16;
  const bool exhaustive = n + f <= kChoicesMax;
  for (uint64_t mask = 0; more && exhaustive && mask < (uint64_t{1} << (n + f)); ++mask) {
    std::string ops = none;
    std::vector<uint64_t> files(f, 0);
    for (size_t i = 0; i < n; ++i) {
      if ((mask >> i) & 1) ops[i] = '1';
    }
    for (size_t j = 0; j < f; ++j) {
      if ((mask >> (n + j)) & 1) files[j] = range[j];
    }
    more = offer(make(ops, files));
  }
  // Every candidate above, counted: fewer were tried if the bound cut in.
  const uint64_t total = 4 + 2 * (n > 0 ? n - 1 : 0) + 2 * n + 2 * f +
                         (exhaustive ? uint64_t{1} << (n + f) : 0);
  out.bounded = !exhaustive || out.candidates < total;
  return out;
}

std::string SimFilesystem::DependentsOf(const std::vector<uint64_t>& seqs, size_t i) const {
  const size_t n = seqs.size();
  std::string drop(n, '0');
  drop[i] = '1';
  for (size_t j = i + 1; j < n; ++j) {
    for (const SlotChange& c : pending_.at(seqs[j]).changes) {
      for (size_t k = i; k < j && drop[j] == '0'; ++k) {
        if (drop[k] == '0') continue;
        for (const SlotChange& d : pending_.at(seqs[k]).changes) {
          if (c.dir == d.dir && c.name == d.name) drop[j] = '1';
        }
      }
    }
  }
  return drop;
}

SimFilesystem::CrashView SimFilesystem::ViewOf(const Kept& kept) const {
  CrashView view;
  for (uint64_t seq : kept.ops) {
    for (const SlotChange& change : pending_.at(seq).changes) {
      view.entries[change.dir][change.name] = change.after;
    }
  }
  for (uint64_t id : dirty_files_) {
    const Inode* file = inodes_.at(id).get();
    view.bytes[file] = file->durable_view();
  }
  for (const auto& [file, n] : kept.files) {
    view.bytes[file] = file->durable_is_prefix
                           ? std::string_view(file->bytes).substr(0, file->durable_size_bytes + n)
                           : std::string_view(file->bytes).substr(0, n);
  }
  return view;
}

uint64_t SimFilesystem::CrashStateHash(const CrashState& state) const {
  const CrashView view = ViewOf(Resolve(Normalize(state)));
  return HashTree(/*durable=*/true, &view);
}

void SimFilesystem::KillProcess(int process) {
  for (auto it = locks_.begin(); it != locks_.end();) {
    if (it->second.process != process) {
      ++it;
      continue;
    }
    Inode* inode = it->second.inode;
    it = locks_.erase(it);
    inode->lock_token = 0;
    DropHandleRef(inode);  // frees only inodes nobody holds, so no record dangles
  }
  for (auto it = open_files_.begin(); it != open_files_.end();) {
    if (it->second.process != process) {
      ++it;
      continue;
    }
    Inode* inode = it->second.inode;
    it = open_files_.erase(it);
    DropHandleRef(inode);
  }
}

// ---------------------------------------------------------------------------
// Faults

void SimFilesystem::SetFaultPlan(const FaultPlan& plan) {
  plan_ = plan;
  rng_ = FaultRng(plan.seed);
  plan_active_ = plan.rate > 0.0;  // false for NaN too
  plan_always_ = plan.rate >= 1.0;
  // rate < 1, so rate * 2^64 < 2^64 converts exactly enough and in range.
  plan_threshold_ =
      plan_active_ && !plan_always_ ? static_cast<uint64_t>(plan.rate * 18446744073709551616.0) : 0;
}

std::map<Code, uint64_t> SimFilesystem::FaultCounts() const {
  std::map<Code, uint64_t> counts;
  for (size_t bit = 0; bit < fault_counts_.size(); ++bit) {
    if (fault_counts_[bit] != 0) counts.emplace(static_cast<Code>(bit), fault_counts_[bit]);
  }
  return counts;
}

// ---------------------------------------------------------------------------
// Inspection

const SimFilesystem::Inode* SimFilesystem::Find(const std::string& path) const {
  Entry e;
  Failure f;
  return ResolveEntry(path, /*check_perms=*/false, &e, &f) ? e.node : nullptr;
}

FileInfo SimFilesystem::InfoOf(const Inode& inode) const {
  FileInfo info;
  info.type = inode.type;
  info.inode = inode.id;
  info.device = options_.device;
  info.link_count = inode.nlink;
  info.size_bytes = inode.size_bytes();
  info.mode = inode.mode;
  info.mtime_ms = inode.mtime_ms;
  return info;
}

std::optional<InodeView> SimFilesystem::Inspect(const std::string& path) const {
  const Inode* node = Find(path);
  if (node == nullptr) return std::nullopt;
  return InodeView{InfoOf(*node), node->bytes, node->target, node->lock_token != 0};
}

bool SimFilesystem::Exists(const std::string& path) const { return Find(path) != nullptr; }

const std::string* SimFilesystem::RegularFileBytes(const std::string& path) const {
  const Inode* node = Find(path);
  return node != nullptr && node->type == FileType::kRegular ? &node->bytes : nullptr;
}

bool SimFilesystem::IsLocked(const std::string& path) const {
  const Inode* node = Find(path);
  return node != nullptr && node->lock_token != 0;
}

std::vector<std::string> SimFilesystem::ListDir(const std::string& path) const {
  const Inode* node = Find(path);
  std::vector<std::string> names;
  if (node == nullptr || !node->is_dir()) return names;
  names.reserve(node->entries.size());
  for (const auto& entry : node->entries) names.push_back(entry.first);
  return names;
}

void SimFilesystem::Walk(const std::string& path,
                         const std::function<void(const WalkEntry&)>& visit) const {
  const Inode* top = Find(path);
  if (top == nullptr) return;
  // The live tree is a tree (each directory has one entry), so a plain
  // depth-first walk visits each entry once.
  std::vector<std::pair<const Inode*, std::string>> stack;
  stack.emplace_back(top, path);
  while (!stack.empty()) {
    auto [node, node_path] = std::move(stack.back());
    stack.pop_back();
    visit(WalkEntry{node_path, InfoOf(*node), node->bytes, node->target});
    if (!node->is_dir()) continue;
    for (auto it = node->entries.rbegin(); it != node->entries.rend(); ++it) {
      std::string child_path = node_path;
      if (child_path.empty() || child_path.back() != '/') child_path += '/';
      child_path += it->first;
      stack.emplace_back(it->second, std::move(child_path));
    }
  }
}

uint64_t SimFilesystem::TotalBytes(const std::string& subtree) const {
  const Inode* top = Find(subtree);
  if (top == nullptr) return 0;
  if (top->type == FileType::kRegular) return top->bytes.size();
  uint64_t total = 0;
  WalkTree(
      top, kLiveEntries,
      [&](const Inode*, uint64_t, const std::string&, const Inode* child, uint64_t, bool first) {
        if (first && child->type == FileType::kRegular) total += child->bytes.size();
      },
      kIgnoreDropped);
  return total;
}

uint64_t SimFilesystem::HashTree(bool durable, const CrashView* view) const {
  Fnv1a hash;
  hash.U64(root_->mode);
  auto on_edge = [&](Inode*, uint64_t dir_ordinal, const std::string& name, Inode* child,
                     uint64_t child_ordinal, bool first) {
    hash.U64(dir_ordinal);
    hash.Str(name);
    hash.U64(child_ordinal);
    if (!first) return;  // a hard link: the ordinal says which inode
    hash.Byte(static_cast<uint8_t>(child->type));
    hash.U64(child->mode);
    if (child->type == FileType::kRegular) {
      std::string_view bytes = durable ? child->durable_view() : std::string_view(child->bytes);
      if (view != nullptr) {
        const auto it = view->bytes.find(child);
        if (it != view->bytes.end()) bytes = it->second;
      }
      hash.Str(bytes);
    } else if (child->type == FileType::kSymlink) {
      hash.Str(child->target);
    }
  };
  if (view != nullptr) {
    // The durable entries, overlaid with what the kept operations change.
    std::vector<std::pair<const std::string*, Inode*>> merged;
    auto crash_entries = [&](Inode* dir, auto& visit) {
      const auto changes = view->entries.find(dir);
      if (changes == view->entries.end()) {
        ForEachDurableEntry(dir, visit);
        return;
      }
      merged.clear();
      ForEachDurableEntry(dir, [&](const std::string& name, Inode* child) { merged.emplace_back(&name, child); });
      std::vector<std::pair<const std::string*, Inode*>> out;
      auto it = merged.begin();
      auto ch = changes->second.begin();
      while (it != merged.end() || ch != changes->second.end()) {
        if (ch == changes->second.end() || (it != merged.end() && *it->first < ch->first)) {
          out.push_back(*it++);
          continue;
        }
        if (it != merged.end() && *it->first == ch->first) ++it;
        if (ch->second != nullptr) out.emplace_back(&ch->first, ch->second);
        ++ch;
      }
      for (const auto& [name, child] : out) visit(*name, child);
    };
    WalkTree(root_, crash_entries, on_edge, kIgnoreDropped);
  } else if (durable) {
    WalkTree(root_, kDurableEntries, on_edge, kIgnoreDropped);
  } else {
    WalkTree(root_, kLiveEntries, on_edge, kIgnoreDropped);
  }
  return hash.value();
}

uint64_t SimFilesystem::StateHash() const { return HashTree(/*durable=*/false); }

uint64_t SimFilesystem::DurableStateHash() const { return HashTree(/*durable=*/true); }

Status SimFilesystem::CheckConsistency() const {
  struct Counts {
    uint64_t entry_refs = 0;
    uint64_t durable_refs = 0;
    uint64_t handle_refs = 0;
    uint64_t subdirs = 0;
  };
  std::unordered_map<const Inode*, Counts> counts;  // lookups only
  uint64_t bytes = 0;
  for (const auto& kv : inodes_) {
    const Inode* n = kv.second.get();
    bytes += n->bytes.size();
    for (const auto& entry : n->entries) {
      ++counts[entry.second].entry_refs;
      if (entry.second->is_dir()) ++counts[n].subdirs;
    }
    ForEachDurableEntry(
        n, [&](const std::string&, const Inode* child) { ++counts[child].durable_refs; });
    // Each name's pending count is the pending operations changing it.
    const std::set<uint64_t> listed(n->pending_ops.begin(), n->pending_ops.end());
    for (const auto& [name, undo] : n->changed_since_sync) {
      uint32_t changes = 0;
      for (uint64_t seq : listed) {
        const auto op = pending_.find(seq);
        if (op == pending_.end()) return Status(Code::kInternal, "inode " + std::to_string(n->id) + ": stale pending op");
        for (const SlotChange& c : op->second.changes) changes += c.dir == n && c.name == name ? 1 : 0;
      }
      if (changes == 0 || changes != undo.pending) {
        return Status(Code::kInternal, "inode " + std::to_string(n->id) + ": pending count of " + name);
      }
    }
    const bool dirty = n->type == FileType::kRegular && n->durable_view() != std::string_view(n->bytes);
    if (dirty && dirty_files_.count(n->id) == 0) {
      return Status(Code::kInternal, "inode " + std::to_string(n->id) + ": pending bytes not listed");
    }
  }
  for (const auto& [seq, op] : pending_) {
    for (const SlotChange& c : op.changes) {
      if (c.after != nullptr) ++counts[c.after].durable_refs;
      if (inodes_.count(c.dir->id) == 0) return Status(Code::kInternal, "pending op on a freed directory");
      const auto& list = c.dir->pending_ops;
      if (std::find(list.begin(), list.end(), seq) == list.end() ||
          c.dir->changed_since_sync.find(c.name) == c.dir->changed_since_sync.end()) {
        return Status(Code::kInternal, "pending op " + std::to_string(seq) + " not indexed");
      }
    }
  }
  for (const auto& kv : open_files_) ++counts[kv.second.inode].handle_refs;
  for (const auto& kv : locks_) {
    ++counts[kv.second.inode].handle_refs;
    if (kv.second.inode->lock_token != kv.first) {
      return Status(Code::kInternal,
                    "lock token mismatch on inode " + std::to_string(kv.second.inode->id));
    }
  }
  if (bytes != used_bytes_) return Status(Code::kInternal, "used_bytes mismatch");
  for (const auto& kv : inodes_) {
    const Inode* n = kv.second.get();
    const Counts c = counts[n];
    const std::string id = "inode " + std::to_string(n->id);
    if (c.entry_refs != n->entry_refs) return Status(Code::kInternal, id + ": entry_refs");
    if (c.durable_refs != n->durable_refs) return Status(Code::kInternal, id + ": durable_refs");
    if (c.handle_refs != n->handle_refs) return Status(Code::kInternal, id + ": handle_refs");
    if (n != root_ && n->Unreferenced()) return Status(Code::kInternal, id + ": leaked");
    if (n->is_dir() && n->entry_refs > 1) return Status(Code::kInternal, id + ": dir linked twice");
    const bool linked = n == root_ || n->entry_refs > 0;
    const uint64_t nlink = !n->is_dir() ? n->entry_refs : linked ? 2 + c.subdirs : 0;
    if (nlink != n->nlink) return Status(Code::kInternal, id + ": nlink");
    if (n->lock_token != 0 && locks_.count(n->lock_token) == 0) {
      return Status(Code::kInternal, id + ": stale lock token");
    }
    for (const auto& entry : n->entries) {
      if (entry.second->is_dir() && entry.second->parent != n) {
        return Status(Code::kInternal, id + ": wrong parent of " + entry.first);
      }
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Seeding

Status SimFilesystem::WriteFileForTest(const std::string& path, std::string_view bytes,
                                       uint32_t mode) {
  const OpError err("write_for_test", path);
  Entry e;
  Failure f;
  if (!ResolveEntry(path, false, &e, &f)) return err(f.code, f.what);
  Inode* file = e.node;
  if (file != nullptr && file->type != FileType::kRegular) {
    return err(Code::kAlreadyExists, "exists and is not a regular file");
  }
  if (file == nullptr) {
    file = NewInode(FileType::kRegular, mode);
    AddEntry(e.dir, e.name, file);
    CommitOps(Closure({FinishOp(FsOp::kNewWritableFile, e.dir, e.name)}, nullptr));
  }
  used_bytes_ = used_bytes_ - file->bytes.size() + bytes.size();
  file->bytes.assign(bytes);
  file->mode = mode & kModeBits;
  MakeFileDurable(file);
  return Status::Ok();
}

Status SimFilesystem::MakeDirsForTest(const std::string& path, uint32_t mode) {
  const OpError err("mkdirs_for_test", path);
  if (path.empty() || path.front() != '/')
    return err(Code::kInvalidArgument, "not an absolute path");
  Inode* cur = root_;
  size_t pos = 0;
  std::string_view comp;
  while (NextComponent(path, &pos, &comp)) {
    if (comp == "." || comp == "..") return err(Code::kInvalidArgument, kDots);
    const auto it = cur->entries.find(comp);
    if (it == cur->entries.end()) {
      Inode* dir = NewInode(FileType::kDirectory, mode);
      AddEntry(cur, comp, dir);
      CommitOps(Closure({FinishOp(FsOp::kMakeDir, cur, comp)}, nullptr));
      cur = dir;
    } else if (it->second->is_dir()) {
      cur = it->second;
    } else {
      return err(Code::kNotDirectory);
    }
  }
  return Status::Ok();
}

}  // namespace ms::sim
