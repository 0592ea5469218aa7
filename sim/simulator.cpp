#include "sim/simulator.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <set>
#include <sstream>

#include "core/fs_util.h"
#include "core/puller.h"
#include "core/volume_manager.h"
#include "core/volume_status.h"
#include "sim/fake_registry.h"
#include "sim/prng.h"
#include "sim/sim_filesystem.h"
#include "sim/sim_runtime.h"

namespace ms::sim {
namespace {

constexpr char kRoot[] = "/node/root";
constexpr char kSibling[] = "/node/sibling";
constexpr int kRegistryProcess = 100;  // the registry mutator: not a driver
constexpr int kKubeletProcess = 101;   // the final reconciliation: never crashes
constexpr int kTenantProcess = 102;    // a container writing through its volume
constexpr int kCorruptorProcess = 103; // node mishaps on status.json
constexpr uint64_t kTenantStream = 0x74656e616e74ULL;     // "tenant"
constexpr uint64_t kCorruptorStream = 0x636f7272ULL;      // "corr"
constexpr uint64_t kCrashStream = 0x6372617368ULL;
constexpr uint64_t kGcStream = 0x6763ULL;
constexpr size_t kHistoryMax = 24;
constexpr int64_t kStagingGraceMs = 60'000;

std::string SlotKey(const std::string& volume, const std::string& mount) {
  return mount.empty() ? volume : volume + "/" + mount;
}

// A release or a static delete: a call on the whole volume tree.
bool IsVolumeWide(const ClientOp& op) {
  return op.kind == OpKind::kRelease || (op.kind == OpKind::kDelete && op.mount.empty());
}

std::string RecordDir(const std::string& volume, const std::string& mount) {
  return mount.empty() ? std::string(kRoot) + "/volumes/" + volume
                       : std::string(kRoot) + "/volumes/" + volume + "/models/" + mount;
}

// A file lock that locks nothing, for the broken-store mode.
class NoLock final : public FileLock {};

// Skips the entry locks: the deliberately broken store the checker must
// catch (break_entry_lock).
class EntryLockBreakingFs final : public FilesystemWrapper {
 public:
  using FilesystemWrapper::FilesystemWrapper;
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    if (path.size() > 6 && path.compare(path.size() - 6, 6, "/.lock") == 0) {
      return std::unique_ptr<FileLock>(std::make_unique<NoLock>());
    }
    return FilesystemWrapper::LockFile(path);
  }
};
// A journaling filesystem's namespace: every entry a call creates,
// renames or removes is durable when the call returns (as ext4 or XFS
// commit metadata), while file bytes stay volatile until fsynced. Modeled by
// syncing the parents after each such call (metadata_durable).
class MetadataDurableFs final : public FilesystemWrapper {
 public:
  using FilesystemWrapper::FilesystemWrapper;
  Status MakeDir(const std::string& p, uint32_t m) override { return Synced(FilesystemWrapper::MakeDir(p, m), p); }
  Status RemoveDir(const std::string& p) override { return Synced(FilesystemWrapper::RemoveDir(p), p); }
  Status Unlink(const std::string& p) override { return Synced(FilesystemWrapper::Unlink(p), p); }
  Status Link(const std::string& a, const std::string& b) override { return Synced(FilesystemWrapper::Link(a, b), b); }
  Status Symlink(const std::string& t, const std::string& l) override {
    return Synced(FilesystemWrapper::Symlink(t, l), l);
  }
  Status Rename(const std::string& a, const std::string& b) override {
    Status st = Synced(FilesystemWrapper::Rename(a, b), b);
    if (st.ok() && ParentPath(a) != ParentPath(b)) Commit(ParentPath(a));
    return st;
  }
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p, uint32_t m) override {
    auto file = FilesystemWrapper::NewWritableFile(p, m);
    if (file.ok()) Commit(ParentPath(p));
    return file;
  }

 private:
  static constexpr int kCommitAttemptsMax = 16;
  // The journal commit cannot fail the call: an injected EIO on it is
  // retried (bounded; 16 in a row at any sane fault rate do not happen).
  void Commit(const std::string& dir) {
    for (int attempt = 0; attempt < kCommitAttemptsMax; ++attempt) {
      const Status st = target()->SyncDir(dir);
      if (st.ok() || st.code() == Code::kNotFound) return;
    }
  }
  Status Synced(Status st, const std::string& path) {
    if (st.ok()) Commit(ParentPath(path));
    return st;
  }
};

class EntryLockBreakingRuntime final : public RuntimeWrapper {
 public:
  using RuntimeWrapper::RuntimeWrapper;
  void Lock(std::string_view key) override {
    if (key.rfind("entry:", 0) != 0) RuntimeWrapper::Lock(key);
  }
  void Unlock(std::string_view key) override {
    if (key.rfind("entry:", 0) != 0) RuntimeWrapper::Unlock(key);
  }
};

class World;

// Sees every manifest fetch, to judge I2 at that instant.
class FetchWatch final : public Registry {
 public:
  FetchWatch(Registry* target, World* world) : target_(target), world_(world) {}
  Result<Digest> Resolve(const CancelToken& t, const Reference& r) override {
    return target_->Resolve(t, r);
  }
  Result<std::string> FetchManifest(const CancelToken& t, const Reference& r, const Digest& d) override;
  Result<std::string> FetchBlob(const CancelToken& t, const Reference& r, const Digest& d) override {
    return target_->FetchBlob(t, r, d);
  }

 private:
  Registry* target_;
  World* world_;
};

struct Desired {
  bool present = false;
  std::string reference;
  bool partial = false;
  bool operator==(const Desired&) const = default;
};

class World {
 public:
  explicit World(SimConfig config, std::shared_ptr<const Trace> replay)
      : config_(std::move(config)), replay_(std::move(replay)), crash_rng_(config_.seed ^ kCrashStream) {}

  SimReport Run();
  void OnManifestFetch(const Digest& digest);

 private:
  struct Process {
    std::unique_ptr<SimRuntime> sim_runtime;
    std::unique_ptr<Runtime> runtime_wrapper;
    std::unique_ptr<Filesystem> fs_wrapper;
    std::unique_ptr<Filesystem> durable_fs;
    std::unique_ptr<FetchWatch> registry;
    std::unique_ptr<VolumeManager> manager;
    bool ready = false;
  };
  struct Client {
    int index = 0;
    int process = 0;
    std::vector<ClientOp> script;
    size_t next = 0;  // the first op not finished
    // With client_lanes > 1, per op: 0 not started, 1 in flight, 2 done.
    std::vector<uint8_t> state;
    // Per op, the slot's intent before the op was first issued: a retry
    // after a crash must restore that one on a conflict, not the intent
    // its own killed first attempt recorded.
    std::map<size_t, std::optional<Desired>> before_first;
  };

  Status Setup();
  void ComputeExpected();
  Process* Boot(int process);
  void SpawnDriverActors(int process);
  void SpawnClient(size_t client);
  void SpawnClientLane(size_t client, int lane);
  // Issues one scripted op as the kubelet would (its intent recorded
  // first) and runs it; returns its status.
  Status IssueOp(size_t client, size_t op_index, Process* p, const std::string& who);
  // Whether the files under a failed pull's slot are its own to have
  // cleaned up (the DESIGN §5 check), not another call's or a kept model's.
  bool FailedPullOwnsItsSlot(const ClientOp& op, bool unfinished_before);
  // A file (not a dir) under the slot's model dir, or "".
  std::string ModelFileLeft(const ClientOp& op);
  bool RecordSucceeded(const ClientOp& op);
  // The record's status.json as the checker reads it (not through the
  // store): nullopt when it is missing or does not decode.
  std::optional<VolumeStatus> ReadRecord(const std::string& record);
  void SpawnGc(int process);
  Status Execute(VolumeManager* manager, const ClientOp& op, const std::string& who);
  // Waits until about `target` client operations have finished (or all).
  void WaitForOps(uint64_t target, std::string_view what);
  void SpawnTenant();
  void TenantWrite(Prng& rng, int n);
  void SpawnCorruptor();
  // Garbles one record's status.json; returns the record ("" if none had
  // one). at_sweep prefers a succeeded full record.
  std::string CorruptStatus(Prng& rng, bool at_sweep);
  // Faults injected so far, of every kind.
  uint64_t FaultsSoFar() const;
  // force_node: an explicit crash point is always a node crash.
  void Crash(bool force_node = false, int kill_process = -1);
  void Finale();
  void Note(std::string line);
  bool AllDone() const;

  SimConfig config_;
  std::shared_ptr<const Trace> replay_;
  std::unique_ptr<Scheduler> sched_;
  std::unique_ptr<SimFilesystem> fs_;
  std::unique_ptr<FakeRegistry> registry_;
  std::unique_ptr<InvariantChecker> checker_;
  ModelPool pool_;
  std::map<std::string, ExpectedModel> expected_;
  // Every incarnation lives to the end: killed actors unwind into them.
  std::vector<std::unique_ptr<Process>> incarnations_;
  std::vector<Process*> current_;
  std::vector<Client> clients_;
  std::vector<int> gc_rounds_left_;
  int tag_moves_left_ = 0;
  std::vector<std::string> record_dirs_;
  uint64_t ops_total_ = 0;
  uint64_t ops_done_ = 0;
  int tenant_writes_left_ = 0;
  int corruptions_left_ = 0;
  int corruptions_done_ = 0;
  std::map<ActorId, const ClientOp*> running_op_;
  // Explicit faults (fault_at) injected into each actor's calls so far.
  std::map<ActorId, uint64_t> explicit_faults_by_actor_;
  std::map<std::string, Desired> desired_;
  Prng crash_rng_;
  bool finale_started_ = false;
  uint64_t explicit_faults_ = 0;
  bool finished_ = false;
  SimReport report_;
  std::deque<std::string> history_;
};

Result<std::string> FetchWatch::FetchManifest(const CancelToken& t, const Reference& r, const Digest& d) {
  world_->OnManifestFetch(d);
  return target_->FetchManifest(t, r, d);
}

void World::Note(std::string line) {
  history_.push_back("step " + std::to_string(sched_->steps()) + " " + std::move(line));
  if (history_.size() > kHistoryMax) history_.pop_front();
}

void World::OnManifestFetch(const Digest& digest) {
  auto it = running_op_.find(sched_->CurrentActor());
  if (it == running_op_.end() || it->second->kind != OpKind::kPull) return;
  checker_->OnFullPullFetch(digest.ToString(), sched_->steps());
}

void World::ComputeExpected() {
  // Pull every model once into a scratch disk, whole and without weights.
  InlineExecutor inline_exec;
  SimFilesystem scratch(&inline_exec);
  FakeRegistry registry;
  PushPool(pool_, &registry);
  SimRuntime runtime(&inline_exec);
  InvariantChecker reader(&scratch, "/", {});
  CancelToken token;
  std::map<size_t, std::string> repo_of;
  for (const auto& [repo, tag, index] : pool_.tags) repo_of.emplace(index, repo);
  for (const auto& [repo, tag, candidates] : pool_.moving) {
    for (size_t index : candidates) repo_of.emplace(index, repo);
  }
  for (const auto& [index, repo] : repo_of) {
    const BuiltModel& model = pool_.models[index].second;
    const Reference ref = Reference::Parse(repo).value();
    ExpectedModel expected;
    for (bool partial : {false, true}) {
      const std::string dir = "/m" + std::to_string(index) + (partial ? "p" : "f");
      (void)scratch.MakeDirsForTest(dir);
      PullOptions options;
      options.exclude_weights = partial;
      Status st = PullPayload(&scratch, &runtime, &registry, token, ref, model.manifest_digest, dir,
                              options, nullptr);
      if (!st.ok()) std::abort();  // the pool is ours: it must pull
      (partial ? expected.partial : expected.full) = reader.ReadTree(dir);
    }
    for (const auto& [path, node] : expected.full) {
      if (node.type == FileType::kRegular) expected.payload_bytes += node.content.size();
    }
    expected_[model.manifest_digest.ToString()] = std::move(expected);
  }
}

Status World::Setup() {
  SchedulerOptions options;
  options.seed = config_.seed;
  options.max_steps = config_.max_steps;
  if (replay_) {
    options.strategy.kind = StrategySpec::Kind::kReplay;
    options.replay = replay_;
  } else {
    MS_ASSIGN_OR_RETURN(options.strategy, ParseStrategySpec(config_.strategy));
  }
  MS_ASSIGN_OR_RETURN(sched_, Scheduler::Create(options));
  fs_ = std::make_unique<SimFilesystem>(sched_.get());
  registry_ = std::make_unique<FakeRegistry>(sched_.get());
  pool_ = MakeModelPool(config_.seed);
  PushPool(pool_, registry_.get());
  ComputeExpected();

  std::vector<std::string> records;
  if (!config_.scripts.empty()) config_.actors = static_cast<int>(config_.scripts.size());
  for (int i = 0; i < config_.actors; ++i) {
    for (const auto& [volume, mount] : SlotsOf(i)) records.push_back(RecordDir(volume, mount));
  }
  record_dirs_ = records;
  checker_ = std::make_unique<InvariantChecker>(fs_.get(), kRoot, records);
  for (const auto& [digest, expected] : expected_) checker_->AddExpected(digest, expected);

  MS_RETURN_IF_ERROR(fs_->MakeDirsForTest(kRoot));
  MS_RETURN_IF_ERROR(fs_->MakeDirsForTest(kSibling));
  MS_RETURN_IF_ERROR(fs_->WriteFileForTest(std::string(kSibling) + "/keep.txt", "outside the root"));
  std::map<uint64_t, Code> faults_at;
  for (const FaultAt& f : config_.faults_at) faults_at[f.call] = f.code;
  fs_->SetCallHook([this, faults_at](const CallInfo& call) {
    checker_->OnCall(call);
    // A real link limit (ext4: 65000) fails the same link every time, also
    // in the finale: not a fault but the disk's shape.
    if (config_.link_max > 0 && call.op == FsOp::kLink) {
      auto source = fs_->Inspect(std::string(call.path));
      if (source && source->info.type == FileType::kRegular && source->info.link_count >= config_.link_max) {
        return Status(Code::kTooManyLinks, "link " + std::string(call.path) + " -> " + std::string(call.path2) +
                                               ": too many links (limit " + std::to_string(config_.link_max) + ")");
      }
    }
    if (finale_started_) return Status::Ok();
    auto it = faults_at.find(call.index);
    if (it == faults_at.end()) return Status::Ok();
    ++explicit_faults_;
    ++explicit_faults_by_actor_[sched_->CurrentActor()];
    return Status(it->second, std::string(call.name) + " " + std::string(call.path) +
                                  ": injected fault at call " + std::to_string(call.index));
  });
  if (config_.fault_rate > 0) {
    FaultPlan plan;
    plan.seed = config_.seed ^ 0x6661756c74ULL;
    plan.rate = config_.fault_rate;
    fs_->SetFaultPlan(plan);
    MS_RETURN_IF_ERROR(registry_->SetRandomFaults(config_.seed ^ 0x726567ULL, config_.fault_rate,
                                                  config_.fault_rate / 2, config_.fault_rate / 2));
  }
  current_.assign(static_cast<size_t>(config_.processes), nullptr);
  gc_rounds_left_.assign(static_cast<size_t>(config_.processes), config_.gc_rounds);
  tag_moves_left_ = config_.tag_moves;
  tenant_writes_left_ = config_.tenant_writes;
  corruptions_left_ = config_.status_corruptions;
  for (int i = 0; i < config_.actors; ++i) {
    Client c;
    c.index = i;
    c.process = i % config_.processes;
    c.script = MakeScript(config_, pool_, i);
    c.state.assign(c.script.size(), 0);
    ops_total_ += c.script.size();
    clients_.push_back(std::move(c));
  }
  return Status::Ok();
}

World::Process* World::Boot(int process) {
  auto p = std::make_unique<Process>();
  p->sim_runtime = std::make_unique<SimRuntime>(sched_.get());
  Runtime* runtime = p->sim_runtime.get();
  Filesystem* fs = fs_.get();
  if (config_.break_entry_lock) {
    p->runtime_wrapper = std::make_unique<EntryLockBreakingRuntime>(runtime);
    p->fs_wrapper = std::make_unique<EntryLockBreakingFs>(fs);
    runtime = p->runtime_wrapper.get();
    fs = p->fs_wrapper.get();
  }
  if (config_.metadata_durable) {
    p->durable_fs = std::make_unique<MetadataDurableFs>(fs);
    fs = p->durable_fs.get();
  }
  p->registry = std::make_unique<FetchWatch>(registry_.get(), this);
  VolumeOptions options;
  options.store.root = kRoot;
  options.store.staging_grace_ms = kStagingGraceMs;
  options.remove_retry_interval_ms = 100;
  options.remove_attempts_max = 5;
  p->manager = std::make_unique<VolumeManager>(fs, runtime, p->registry.get(), options);
  Process* raw = p.get();
  incarnations_.push_back(std::move(p));
  current_[static_cast<size_t>(process)] = raw;
  return raw;
}

void World::SpawnDriverActors(int process) {
  Process* p = Boot(process);
  // Startup: create the layout and sweep what a crash may have left.
  sched_->Spawn("boot-" + std::to_string(process), process, [this, p] {
    Status st = p->manager->Init();
    if (st.ok()) st = p->manager->Sweep().status();
    Note("boot: " + st.ToString());
    p->ready = true;
  });
  for (size_t c = 0; c < clients_.size(); ++c) {
    if (clients_[c].process == process && clients_[c].next < clients_[c].script.size()) SpawnClient(c);
  }
  if (gc_rounds_left_[static_cast<size_t>(process)] > 0) SpawnGc(process);
}

std::string World::ModelFileLeft(const ClientOp& op) {
  std::string left;
  fs_->Walk(RecordDir(op.volume, op.mount) + "/model", [&](const WalkEntry& e) {
    if (left.empty() && e.info.type != FileType::kDirectory) left = std::string(e.path);
  });
  return left;
}

std::optional<VolumeStatus> World::ReadRecord(const std::string& record) {
  auto view = fs_->Inspect(record + "/status.json");
  if (!view || view->info.type != FileType::kRegular) return std::nullopt;
  auto status = DecodeStatus(view->bytes, record);
  if (!status.ok()) return std::nullopt;
  return std::move(*status);
}

bool World::RecordSucceeded(const ClientOp& op) {
  const auto status = ReadRecord(RecordDir(op.volume, op.mount));
  return status && status->state == VolumeState::kSucceeded;
}

bool World::FailedPullOwnsItsSlot(const ClientOp& op, bool unfinished_before) {
  // A record that still says succeeded is the last successful pull's, left
  // as it was by a call refused before it changed anything (an invalid name,
  // a fault before the first "running" record landed); I1 judges its model.
  if (RecordSucceeded(op)) return false;
  // A model some earlier call left unfinished (a killed attempt of this
  // very call, retried) is not this call's doing if it fails before
  // reaching it; the kubelet retries until a call cleans it up.
  if (unfinished_before) return false;
  // Another call into the slot in flight (a delete of it, a release of its
  // volume) owns its files now; whatever it leaves, I3 judges at quiescence.
  for (const auto& [actor, other] : running_op_) {
    if (actor == sched_->CurrentActor() || other->volume != op.volume) continue;
    if (IsVolumeWide(*other) || other->mount == op.mount) return false;
  }
  return true;
}

Status World::Execute(VolumeManager* manager, const ClientOp& op, const std::string& who) {
  const std::string name(OpKindName(op.kind));
  ++report_.ops[name];
  Status st;
  switch (op.kind) {
    case OpKind::kPull:
    case OpKind::kPullPartial: {
      PullRequest req{op.volume, op.mount, op.reference, op.kind == OpKind::kPullPartial, {}, 0};
      const uint64_t faults_before = explicit_faults_by_actor_[sched_->CurrentActor()];
      const bool judged = config_.fault_rate == 0;
      const bool unfinished_before = judged && !RecordSucceeded(op) && !ModelFileLeft(op).empty();
      auto r = manager->PullModel(req);
      st = r.status();
      // A second explicit fault in one call may have hit its cleanup.
      const bool cleanup_hit = explicit_faults_by_actor_[sched_->CurrentActor()] - faults_before > 1;
      // DESIGN §5: a failed call leaves nothing half-done. Judged only when
      // no fault may have hit the cleanup itself (no random faults, at most
      // one explicit fault in the call; the link limit hits links, which a
      // cleanup never makes), and only when the files under the slot are
      // this call's to clean up.
      if (judged && !st.ok() && st.code() != Code::kConflict && !cleanup_hit &&
          FailedPullOwnsItsSlot(op, unfinished_before)) {
        const std::string left = ModelFileLeft(op);
        if (!left.empty()) {
          checker_->AddViolation("I3 footprint", sched_->steps(),
                                 "a failed pull (" + st.ToString().substr(0, 120) + ") left a half-populated model: " + left);
        }
      }
      break;
    }
    case OpKind::kDelete:
      st = manager->DeleteModel(op.volume, op.mount);
      break;
    case OpKind::kRelease:
      st = manager->ReleaseVolume(op.volume);
      break;
    case OpKind::kStatus: {
      auto r = manager->GetStatus(op.volume, op.mount);
      st = r.code() == Code::kNotFound ? Status::Ok() : r.status();
      break;
    }
  }
  if (!st.ok()) ++report_.op_errors[name + ": " + std::string(CodeName(st.code()))];
  Note(who + " " + name + " " + SlotKey(op.volume, op.mount) +
       (op.reference.empty() ? "" : " " + op.reference) + " -> " + st.ToString().substr(0, 160));
  return st;
}

void World::SpawnClient(size_t index) {
  if (config_.client_lanes > 1) {
    for (int lane = 0; lane < config_.client_lanes; ++lane) SpawnClientLane(index, lane);
    return;
  }
  const int process = clients_[index].process;
  const std::string name = "client-" + std::to_string(index);
  sched_->Spawn(name, process, [this, index, process, name] {
    Client& c = clients_[index];
    Process* p = current_[static_cast<size_t>(process)];
    sched_->WaitUntil([p] { return p->ready; }, "client.wait-boot");
    while (c.next < c.script.size()) {
      (void)IssueOp(index, c.next, p, name);
      ++c.next;
      ++ops_done_;
    }
  });
}

void World::SpawnClientLane(size_t index, int lane) {
  const int process = clients_[index].process;
  const std::string name = "client-" + std::to_string(index) + (lane == 0 ? "" : "." + std::to_string(lane));
  sched_->Spawn(name, process, [this, index, process, name] {
    Client& c = clients_[index];
    Process* p = current_[static_cast<size_t>(process)];
    sched_->WaitUntil([p] { return p->ready; }, "client.wait-boot");
    // The next call in script order not yet issued (a crash puts the calls
    // it cut short back: the kubelet retries them).
    auto first_unstarted = [&c] {
      size_t j = c.next;
      while (j < c.script.size() && c.state[j] != 0) ++j;
      return j;
    };
    // What overlaps: calls on different volumes, and a mount's delete over
    // its pull still in flight (the kubelet's publish timed out, it
    // unpublishes; the driver's handler goes on). Not: a second publish of
    // a mount whose publish is in flight (a retry of the identical call
    // shares its flight), anything into a volume being released, nor
    // (unless overlap_release) a release over calls into its volume (the
    // store cancels them; before it did, see docs/findings.md, the release
    // removed a volume a late publish had just recorded).
    const bool overlap_release = config_.overlap_release;
    auto may_start = [&c, &first_unstarted, overlap_release] {
      const size_t j = first_unstarted();
      if (j == c.script.size()) return true;
      const ClientOp& op = c.script[j];
      const bool is_pull = op.kind == OpKind::kPull || op.kind == OpKind::kPullPartial;
      for (size_t k = c.next; k < j; ++k) {
        if (c.state[k] != 1) continue;
        const ClientOp& other = c.script[k];
        if (IsVolumeWide(other) && other.volume == op.volume) return false;
        if (!overlap_release && IsVolumeWide(op) && other.volume == op.volume) return false;
        const bool other_pull = other.kind == OpKind::kPull || other.kind == OpKind::kPullPartial;
        if (is_pull && other_pull && other.volume == op.volume && other.mount == op.mount) return false;
      }
      return true;
    };
    while (true) {
      sched_->WaitUntil(may_start, "client.wait-release");
      const size_t j = first_unstarted();
      if (j == c.script.size()) return;
      c.state[j] = 1;
      (void)IssueOp(index, j, p, name);
      c.state[j] = 2;
      while (c.next < c.script.size() && c.state[c.next] == 2) ++c.next;
      ++ops_done_;
    }
  });
}

Status World::IssueOp(size_t index, size_t op_index, Process* p, const std::string& who) {
  Client& c = clients_[index];
  const ClientOp& op = c.script[op_index];
  // The kubelet's intent, retried after a crash until it returns.
  const std::string key = SlotKey(op.volume, op.mount);
  const auto found = desired_.find(key);
  const auto first = c.before_first.find(op_index);
  const std::optional<Desired> before =
      first != c.before_first.end()
          ? first->second
          : (found == desired_.end() ? std::nullopt : std::optional<Desired>(found->second));
  c.before_first.emplace(op_index, before);
  if (op.kind == OpKind::kPull || op.kind == OpKind::kPullPartial) {
    desired_[key] = Desired{true, op.reference, op.kind == OpKind::kPullPartial};
  } else if (op.kind == OpKind::kDelete) {
    desired_[key] = Desired{};
  } else if (op.kind == OpKind::kRelease) {
    for (const auto& [v, m] : SlotsOf(clients_[index].index)) {
      if (v == op.volume) desired_[SlotKey(v, m)] = Desired{};
    }
  }
  const std::optional<Desired> mine =
      desired_.count(key) != 0 ? std::optional<Desired>(desired_[key]) : std::nullopt;
  running_op_[sched_->CurrentActor()] = &op;
  const Status st = Execute(p->manager.get(), op, who);
  running_op_.erase(sched_->CurrentActor());
  // A publish refused for a conflict never replaces the accepted one
  // (unless a later call replaced it meanwhile).
  const auto now = desired_.find(key);
  const std::optional<Desired> current =
      now == desired_.end() ? std::nullopt : std::optional<Desired>(now->second);
  if (st.code() == Code::kConflict && current == mine) {
    if (before) {
      desired_[key] = *before;
    } else {
      desired_.erase(key);
    }
  }
  return st;
}

void World::WaitForOps(uint64_t target, std::string_view what) {
  sched_->WaitUntil(
      [this, target] {
        if (ops_done_ >= target) return true;
        for (const Client& c : clients_) {
          if (c.next < c.script.size()) return false;
        }
        return true;
      },
      what);
}

void World::SpawnTenant() {
  sched_->Spawn("tenant", kTenantProcess, [this] {
    Prng rng(config_.seed ^ kTenantStream);
    for (int n = 0; tenant_writes_left_ > 0; ++n) {
      WaitForOps(rng.Below(ops_total_ + 1), "tenant.wait");
      TenantWrite(rng, n);
      --tenant_writes_left_;
    }
  });
}

void World::TenantWrite(Prng& rng, int n) {
  // A container of a full (store-backed) volume opens one of its model
  // files for writing, as a training job writing "its" weights would.
  sched_->Yield("tenant.pick");
  std::vector<std::string> candidates;
  for (const std::string& record : record_dirs_) {
    const auto status = ReadRecord(record);
    if (status && status->state == VolumeState::kSucceeded && !status->partial) candidates.push_back(record);
  }
  if (candidates.empty()) {
    Note("tenant: no succeeded full volume to write into");
    return;
  }
  const std::string record = candidates[rng.Below(candidates.size())];
  std::vector<std::string> files;
  fs_->Walk(record + "/model", [&](const WalkEntry& e) {
    if (e.info.type == FileType::kRegular) files.emplace_back(e.path);
  });
  if (files.empty()) {
    Note("tenant: " + record.substr(sizeof(kRoot)) + " has no regular file");
    return;
  }
  const std::string path = files[rng.Below(files.size())];
  ++report_.ops["tenant-write"];
  const Status st = fs_->OverwriteFile(path, "tenant write " + std::to_string(n) + "\n");
  if (st.ok()) {
    // Its own volume changed by its own hand; every other volume sharing
    // the inode must be checked now.
    checker_->ExemptTenantWritten(record);
    checker_->MarkAllDirty();
  } else {
    ++report_.op_errors["tenant-write: " + std::string(CodeName(st.code()))];
  }
  Note("tenant overwrite " + path.substr(sizeof(kRoot)) + " -> " + st.ToString().substr(0, 120));
}

void World::SpawnCorruptor() {
  sched_->Spawn("corruptor", kCorruptorProcess, [this] {
    Prng rng(config_.seed ^ kCorruptorStream);
    while (corruptions_left_ > 0) {
      WaitForOps(rng.Below(ops_total_ + 1), "corruptor.wait");
      sched_->Yield("corruptor.corrupt");
      if (!CorruptStatus(rng, false).empty()) ++corruptions_done_;
      --corruptions_left_;
    }
  });
}

std::string World::CorruptStatus(Prng& rng, bool at_sweep) {
  // A mishap on a volume nobody is calling about: a record whose volume
  // has a call in flight is about to be rewritten by it anyway (and the
  // store's answer to a record garbled under a running pull is its own
  // question, see docs/findings.md).
  std::set<std::string> busy;
  for (const auto& [actor, op] : running_op_) busy.insert(std::string(kRoot) + "/volumes/" + op->volume);
  std::vector<std::string> candidates;
  std::vector<std::string> preferred;
  for (const std::string& record : record_dirs_) {
    const size_t end = record.find('/', sizeof(kRoot) + std::string_view("volumes/").size());
    if (busy.count(record.substr(0, end)) != 0) continue;
    auto view = fs_->Inspect(record + "/status.json");
    if (!view || view->info.type != FileType::kRegular) continue;
    candidates.push_back(record);
    auto status = DecodeStatus(view->bytes, record);
    if (status.ok() && status->state == VolumeState::kSucceeded && !status->partial) preferred.push_back(record);
  }
  if (at_sweep && !preferred.empty()) candidates = preferred;
  if (candidates.empty()) {
    Note("corruptor: no status.json to corrupt");
    return "";
  }
  const std::string record = candidates[rng.Below(candidates.size())];
  const std::string path = record + "/status.json";
  const auto view = fs_->Inspect(path);
  const bool truncate = rng.Below(2) == 0;
  // A torn write (cut mid-JSON) or a garbled block: neither parses.
  const std::string bytes = truncate ? view->bytes.substr(0, view->bytes.size() / 2) : std::string("\x00\x17garbled\n", 10);
  (void)fs_->WriteFileForTest(path, bytes, view->info.mode);
  ++report_.ops["corrupt-status"];
  Note(std::string("corruptor: ") + (truncate ? "truncated " : "garbled ") + path.substr(sizeof(kRoot)));
  return record;
}

uint64_t World::FaultsSoFar() const {
  uint64_t n = explicit_faults_;
  for (const auto& [code, count] : fs_->FaultCounts()) n += count;
  const auto rf = registry_->InjectedFaults();
  return n + rf.fail_next + rf.transient + rf.corrupt + rf.truncate;
}

void World::SpawnGc(int process) {
  sched_->Spawn("gc-" + std::to_string(process), process, [this, process] {
    Process* p = current_[static_cast<size_t>(process)];
    sched_->WaitUntil([p] { return p->ready; }, "gc.wait-boot");
    Prng rng(config_.seed ^ kGcStream ^ static_cast<uint64_t>(process));
    int& left = gc_rounds_left_[static_cast<size_t>(process)];
    while (left > 0) {
      if (rng.Below(2) == 0) {
        auto r = p->manager->Sweep();
        Note("gc-" + std::to_string(process) + " sweep -> " + r.status().ToString().substr(0, 120));
      } else {
        const auto& model = pool_.models[rng.Below(pool_.models.size())].second;
        Status st = p->manager->store().MaybeGc(model.manifest_digest);
        Note("gc-" + std::to_string(process) + " maybe_gc " + model.manifest_digest.ToString().substr(0, 19) +
             " -> " + st.ToString().substr(0, 120));
      }
      --left;
    }
  });
}

bool World::AllDone() const {
  for (const Client& c : clients_) {
    if (c.next < c.script.size()) return false;
  }
  for (int left : gc_rounds_left_) {
    if (left > 0) return false;
  }
  return tag_moves_left_ == 0 && tenant_writes_left_ == 0 && corruptions_left_ == 0;
}

void World::Crash(bool force_node, int kill_process) {
  ++report_.crashes;
  // kill_process >= 0: an explicit process crash (kill_at), never a node's.
  const bool node = kill_process < 0 && (force_node || config_.processes == 1 || crash_rng_.Below(2) == 0);
  auto forget_ops_of = [this](int process) {
    std::erase_if(running_op_, [&](const auto& kv) { return sched_->ActorProcess(kv.first) == process; });
    // Calls cut short are issued again by the respawned lanes.
    for (Client& c : clients_) {
      if (c.process != process) continue;
      for (uint8_t& st : c.state) {
        if (st == 1) st = 0;
      }
    }
  };
  if (node) {
    for (int p = 0; p < config_.processes; ++p) {
      sched_->KillProcess(p);
      forget_ops_of(p);
    }
    fs_->Crash();
    Note("CRASH node: every driver killed, unsynced state lost");
    for (int p = 0; p < config_.processes; ++p) SpawnDriverActors(p);
  } else {
    const int victim = kill_process >= 0 ? kill_process
                                         : static_cast<int>(crash_rng_.Below(static_cast<uint64_t>(config_.processes)));
    sched_->KillProcess(victim);
    forget_ops_of(victim);
    fs_->KillProcess(victim);
    Note("CRASH process " + std::to_string(victim));
    SpawnDriverActors(victim);
  }
  checker_->MarkAllDirty();
}

void World::Finale() {
  // Quiescence: faults off, the kubelet reconciles every slot to its last
  // intent (CSI calls are retried until they succeed), one final sweep.
  sched_->WaitUntil([this] { return AllDone(); }, "finale.wait");
  finale_started_ = true;
  fs_->ClearFaultPlan();
  registry_->ClearRandomFaults();
  Process* p = current_[0];
  sched_->WaitUntil([p] { return p->ready; }, "finale.wait-boot");
  for (const auto& [key, want] : desired_) {
    const size_t slash = key.find('/');
    ClientOp op;
    op.volume = key.substr(0, slash);
    op.mount = slash == std::string::npos ? "" : key.substr(slash + 1);
    op.kind = want.present ? (want.partial ? OpKind::kPullPartial : OpKind::kPull) : OpKind::kDelete;
    op.reference = want.reference;
    running_op_[sched_->CurrentActor()] = &op;
    const Status st = Execute(p->manager.get(), op, "kubelet-reconcile");
    if (st.code() == Code::kConflict) {
      // The intent was never accepted (its call failed before the store
      // could refuse it): the pod cannot start, is deleted, and the kubelet
      // unpublishes the mount.
      ClientOp unpublish = op;
      unpublish.kind = OpKind::kDelete;
      unpublish.reference.clear();
      running_op_[sched_->CurrentActor()] = &unpublish;
      (void)Execute(p->manager.get(), unpublish, "kubelet-reconcile");
    }
    running_op_.erase(sched_->CurrentActor());
  }
  // Nothing excuses a leak in a run without crashes, faults or corrupted
  // records: the store must not need its sweep (a tag move's leak, §2.1).
  if (report_.crashes == 0 && corruptions_done_ == 0 && FaultsSoFar() == 0) {
    checker_->CheckNothingToSweep(sched_->steps());
  }
  if (config_.corrupt_at_sweep) {
    sched_->Yield("corruptor.at-sweep");
    Prng rng(config_.seed ^ kCorruptorStream ^ 0x7377656570ULL);  // "sweep"
    const std::string record = CorruptStatus(rng, true);
    if (!record.empty()) checker_->ExemptCorruptedAtSweep(record);
  }
  // Let the staging grace period pass, as it would between periodic
  // sweeps: staging left by a failed cleanup is then collectable.
  sched_->SleepUntil(sched_->NowMs() + kStagingGraceMs + 1);
  auto sweep = p->manager->Sweep();
  Note("final sweep -> " + sweep.status().ToString());
  finished_ = true;
}

SimReport World::Run() {
  report_.config = config_;
  Status setup = Setup();
  if (!setup.ok()) {
    report_.outcome = Outcome::kActorFailed;
    report_.outcome_message = setup.ToString();
    report_.violations.push_back({"I4 progress", 0, "setup failed: " + setup.ToString()});
    return report_;
  }
  for (int p = 0; p < config_.processes; ++p) SpawnDriverActors(p);
  sched_->Spawn("registry-mutator", kRegistryProcess, [this] {
    Prng rng(config_.seed ^ 0x746167ULL);
    Prng spread(config_.seed ^ 0x737072656164ULL);  // "spread"
    while (tag_moves_left_ > 0) {
      // Spread over the run, a move lands between a volume's pulls (§2.1);
      // else the moves all happen while the drivers boot.
      if (config_.tag_moves_spread) WaitForOps(spread.Below(ops_total_ + 1), "registry.wait");
      sched_->Yield("registry.move-tag");
      const auto& [repo, tag, candidates] = pool_.moving[rng.Below(pool_.moving.size())];
      const BuiltModel& target = pool_.models[candidates[rng.Below(candidates.size())]].second;
      (void)registry_->Tag(repo, tag, target.manifest_digest);
      Note("registry tag " + repo + ":" + tag + " -> " + target.manifest_digest.ToString().substr(0, 19));
      --tag_moves_left_;
    }
  });
  if (tenant_writes_left_ > 0) SpawnTenant();
  if (corruptions_left_ > 0) SpawnCorruptor();
  sched_->Spawn("kubelet", kKubeletProcess, [this] { Finale(); });
  const uint64_t crash_threshold =
      static_cast<uint64_t>(config_.crash_rate * static_cast<double>(uint64_t{1} << 32));
  size_t violations_seen = 0;
  std::vector<uint64_t> crash_steps = config_.crash_steps;
  std::sort(crash_steps.begin(), crash_steps.end());
  sched_->set_step_observer([&](uint64_t step, ActorId, std::string_view) {
    checker_->AfterStep(step);
    if (checker_->violations().size() != violations_seen) {
      if (violations_seen == 0) {
        report_.history.assign(history_.begin(), history_.end());
        for (const auto& [actor, op] : running_op_) {
          report_.history.push_back("in flight: " + std::string(sched_->ActorName(actor)) + " " +
                                    std::string(OpKindName(op->kind)) + " " + SlotKey(op->volume, op->mount) +
                                    (op->reference.empty() ? "" : " " + op->reference));
        }
      }
      violations_seen = checker_->violations().size();
    }
    if (finale_started_) return;
    const bool scheduled = std::binary_search(crash_steps.begin(), crash_steps.end(), step);
    const bool drawn = crash_threshold > 0 && static_cast<int>(report_.crashes) < config_.crashes_max &&
                       (crash_rng_.Next() >> 32) < crash_threshold;
    const auto kill = std::find_if(config_.kills_at.begin(), config_.kills_at.end(),
                                   [step](const KillAt& k) { return k.step == step; });
    if (kill != config_.kills_at.end() && kill->process < config_.processes) {
      Crash(false, kill->process);
    } else if (scheduled || drawn) {
      Crash(scheduled);
    }
  });
  const RunResult run = sched_->Run();
  report_.outcome = run.outcome;
  report_.outcome_message = run.message;
  report_.steps = run.steps;
  report_.trace_hash = run.trace_hash;
  report_.virtual_ms = run.end_ms;
  if (run.ok() && finished_) {
    report_.footprint = checker_->CheckQuiescent(run.steps);
  } else if (run.outcome == Outcome::kReplayDiverged) {
    checker_->AddViolation("I6 determinism", run.steps, "replay diverged: " + run.message);
  } else {
    checker_->AddViolation("I4 progress", run.steps,
                           std::string(OutcomeName(run.outcome)) + ": " + run.message);
  }
  report_.violations = checker_->violations();
  if (!report_.violations.empty() && report_.history.empty()) {
    report_.history.assign(history_.begin(), history_.end());
  }
  report_.state_hash = fs_->StateHash();
  report_.fs_faults = explicit_faults_;
  for (const auto& [code, n] : fs_->FaultCounts()) report_.fs_faults += n;
  const auto rf = registry_->InjectedFaults();
  report_.registry_faults = rf.fail_next + rf.transient + rf.corrupt + rf.truncate;
  report_.manifest_fetches = registry_->AllManifestFetches();
  report_.trace_file = "modelstore-sim trace v1\n" + config_.ToText() + "---\n" + sched_->trace().ToText();
  return report_;
}

}  // namespace

SimReport RunSimulation(const SimConfig& config, std::shared_ptr<const Trace> replay) {
  World world(config, std::move(replay));
  return world.Run();
}

Result<std::pair<SimConfig, Trace>> ParseTraceFile(std::string_view text) {
  constexpr std::string_view kMagic = "modelstore-sim trace v1\n";
  if (text.substr(0, kMagic.size()) != kMagic) {
    return Status(Code::kCorrupt, "not a modelstore-sim trace (first line must be \"modelstore-sim trace v1\")");
  }
  text.remove_prefix(kMagic.size());
  const size_t sep = text.find("---\n");
  if (sep == std::string_view::npos) return Status(Code::kCorrupt, "trace file has no \"---\" separator");
  MS_ASSIGN_OR_RETURN(SimConfig config, SimConfig::Parse(text.substr(0, sep)));
  // The schedule's first line: after the magic, the header and "---".
  const size_t first_line = 3 + static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(sep), '\n'));
  MS_ASSIGN_OR_RETURN(Trace trace, Trace::Parse(text.substr(sep + 4), first_line));
  return std::make_pair(std::move(config), std::move(trace));
}

}  // namespace ms::sim
