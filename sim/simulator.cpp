#include "sim/simulator.h"

#include <algorithm>
#include <deque>
#include <optional>
#include <sstream>

#include "core/fs_util.h"
#include "core/puller.h"
#include "core/volume_manager.h"
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
constexpr uint64_t kCrashStream = 0x6372617368ULL;
constexpr uint64_t kGcStream = 0x6763ULL;
constexpr size_t kHistoryMax = 24;
constexpr int64_t kStagingGraceMs = 60'000;

std::string SlotKey(const std::string& volume, const std::string& mount) {
  return mount.empty() ? volume : volume + "/" + mount;
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
    std::unique_ptr<FetchWatch> registry;
    std::unique_ptr<VolumeManager> manager;
    bool ready = false;
  };
  struct Client {
    int index = 0;
    int process = 0;
    std::vector<ClientOp> script;
    size_t next = 0;
  };

  Status Setup();
  void ComputeExpected();
  Process* Boot(int process);
  void SpawnDriverActors(int process);
  void SpawnClient(size_t client);
  void SpawnGc(int process);
  Status Execute(VolumeManager* manager, const ClientOp& op, const std::string& who);
  // force_node: an explicit crash point is always a node crash.
  void Crash(bool force_node = false);
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
  std::map<ActorId, const ClientOp*> running_op_;
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
  checker_ = std::make_unique<InvariantChecker>(fs_.get(), kRoot, records);
  for (const auto& [digest, expected] : expected_) checker_->AddExpected(digest, expected);

  MS_RETURN_IF_ERROR(fs_->MakeDirsForTest(kRoot));
  MS_RETURN_IF_ERROR(fs_->MakeDirsForTest(kSibling));
  MS_RETURN_IF_ERROR(fs_->WriteFileForTest(std::string(kSibling) + "/keep.txt", "outside the root"));
  std::map<uint64_t, Code> faults_at;
  for (const FaultAt& f : config_.faults_at) faults_at[f.call] = f.code;
  fs_->SetCallHook([this, faults_at](const CallInfo& call) {
    checker_->OnCall(call);
    if (finale_started_) return Status::Ok();
    auto it = faults_at.find(call.index);
    if (it == faults_at.end()) return Status::Ok();
    ++explicit_faults_;
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
  for (int i = 0; i < config_.actors; ++i) {
    Client c;
    c.index = i;
    c.process = i % config_.processes;
    c.script = MakeScript(config_, pool_, i);
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

Status World::Execute(VolumeManager* manager, const ClientOp& op, const std::string& who) {
  const std::string name(OpKindName(op.kind));
  ++report_.ops[name];
  Status st;
  switch (op.kind) {
    case OpKind::kPull:
    case OpKind::kPullPartial: {
      PullRequest req{op.volume, op.mount, op.reference, op.kind == OpKind::kPullPartial, {}, 0};
      auto r = manager->PullModel(req);
      st = r.status();
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
  const int process = clients_[index].process;
  const std::string name = "client-" + std::to_string(index);
  sched_->Spawn(name, process, [this, index, process, name] {
    Client& c = clients_[index];
    Process* p = current_[static_cast<size_t>(process)];
    sched_->WaitUntil([p] { return p->ready; }, "client.wait-boot");
    while (c.next < c.script.size()) {
      const ClientOp& op = c.script[c.next];
      // The kubelet's intent, retried after a crash until it returns.
      const std::string key = SlotKey(op.volume, op.mount);
      const auto found = desired_.find(key);
      const std::optional<Desired> before =
          found == desired_.end() ? std::nullopt : std::optional<Desired>(found->second);
      if (op.kind == OpKind::kPull || op.kind == OpKind::kPullPartial) {
        desired_[key] = Desired{true, op.reference, op.kind == OpKind::kPullPartial};
      } else if (op.kind == OpKind::kDelete) {
        desired_[key] = Desired{};
      } else if (op.kind == OpKind::kRelease) {
        for (const auto& [v, m] : SlotsOf(c.index)) {
          if (v == op.volume) desired_[SlotKey(v, m)] = Desired{};
        }
      }
      running_op_[sched_->CurrentActor()] = &op;
      const Status st = Execute(p->manager.get(), op, name);
      running_op_.erase(sched_->CurrentActor());
      // A publish refused for a conflict never replaces the accepted one.
      if (st.code() == Code::kConflict) {
        if (before) {
          desired_[key] = *before;
        } else {
          desired_.erase(key);
        }
      }
      ++c.next;
    }
  });
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
  return tag_moves_left_ == 0;
}

void World::Crash(bool force_node) {
  ++report_.crashes;
  const bool node = force_node || config_.processes == 1 || crash_rng_.Below(2) == 0;
  auto forget_ops_of = [this](int process) {
    std::erase_if(running_op_, [&](const auto& kv) { return sched_->ActorProcess(kv.first) == process; });
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
    const int victim = static_cast<int>(crash_rng_.Below(static_cast<uint64_t>(config_.processes)));
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
    (void)Execute(p->manager.get(), op, "kubelet-reconcile");
    running_op_.erase(sched_->CurrentActor());
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
    while (tag_moves_left_ > 0) {
      sched_->Yield("registry.move-tag");
      const auto& [repo, tag, candidates] = pool_.moving[rng.Below(pool_.moving.size())];
      const BuiltModel& target = pool_.models[candidates[rng.Below(candidates.size())]].second;
      (void)registry_->Tag(repo, tag, target.manifest_digest);
      Note("registry tag " + repo + ":" + tag + " -> " + target.manifest_digest.ToString().substr(0, 19));
      --tag_moves_left_;
    }
  });
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
    if (scheduled || drawn) Crash(scheduled);
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
  MS_ASSIGN_OR_RETURN(Trace trace, Trace::Parse(text.substr(sep + 4)));
  return std::make_pair(std::move(config), std::move(trace));
}

}  // namespace ms::sim
