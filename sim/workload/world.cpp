#include "sim/workload/world.h"

#include <algorithm>
#include <set>

#include "core/puller.h"
#include "core/volume_manager.h"

namespace ms::sim {

std::string SlotKey(const std::string& volume, const std::string& mount) {
  return mount.empty() ? volume : volume + "/" + mount;
}

bool IsVolumeWide(const ClientOp& op) {
  return op.kind == OpKind::kRelease || (op.kind == OpKind::kDelete && op.mount.empty());
}

std::string RecordDir(const std::string& volume, const std::string& mount) {
  return mount.empty() ? std::string(kRoot) + "/volumes/" + volume
                       : std::string(kRoot) + "/volumes/" + volume + "/models/" + mount;
}

Result<std::string> FetchWatch::FetchManifest(const CancelToken& t, const Reference& r, const Digest& d) {
  world_->OnManifestFetch(d);
  return target_->FetchManifest(t, r, d);
}

Result<std::string> FetchWatch::FetchBlob(const CancelToken& t, const Reference& r, const Digest& d) {
  auto blob = target_->FetchBlob(t, r, d);
  if (blob.ok()) world_->OnBlobFetch(d);
  return blob;
}

namespace {

// Reports the blob to the world once, when its stream ends.
class WatchedBlobReader final : public BlobReader {
 public:
  WatchedBlobReader(std::unique_ptr<BlobReader> target, World* world, Digest digest)
      : target_(std::move(target)), world_(world), digest_(std::move(digest)) {}

  Result<std::string> Read(const CancelToken& token, size_t max_bytes) override {
    Result<std::string> chunk = target_->Read(token, max_bytes);
    if (chunk.ok() && chunk->empty() && !reported_) {
      reported_ = true;
      world_->OnBlobFetch(digest_);
    }
    return chunk;
  }

 private:
  std::unique_ptr<BlobReader> target_;
  World* world_;
  Digest digest_;
  bool reported_ = false;
};

}  // namespace

Result<std::unique_ptr<BlobReader>> FetchWatch::OpenBlob(const CancelToken& t, const Reference& r,
                                                         const Digest& d) {
  MS_ASSIGN_OR_RETURN(std::unique_ptr<BlobReader> reader, target_->OpenBlob(t, r, d));
  return std::unique_ptr<BlobReader>(std::make_unique<WatchedBlobReader>(std::move(reader), world_, d));
}

void World::Note(std::string line) {
  if (history_.size() == kNotesMax) history_.pop_front();
  history_.emplace_back(sched_->steps(), "step " + std::to_string(sched_->steps()) + " " + std::move(line));
}

void World::OnManifestFetch(const Digest& digest) {
  auto it = running_op_.find(sched_->CurrentActor());
  if (it == running_op_.end() || it->second->kind != OpKind::kPull) return;
  checker_->OnFullPullFetch(sched_->CurrentActor(), digest.ToString(), sched_->steps());
}

void World::OnBlobFetch(const Digest& blob) {
  auto it = running_op_.find(sched_->CurrentActor());
  if (it == running_op_.end() || it->second->kind != OpKind::kPull) return;
  checker_->OnFullPullBlobFetch(sched_->CurrentActor(), blob.ToString(), sched_->steps());
}

namespace {

// What a volume must hold for one manifest: pulled once, whole and without
// weights, into a scratch disk by the production puller.
ExpectedModel PullExpected(Registry* registry, const std::string& repository, const Digest& manifest) {
  InlineExecutor inline_exec;
  SimFilesystem scratch(&inline_exec);
  SimRuntime runtime(&inline_exec);
  InvariantChecker reader(&scratch, "/", {});
  CancelToken token;
  const Reference ref = Reference::Parse(repository).value();
  ExpectedModel expected;
  for (bool partial : {false, true}) {
    const std::string dir = partial ? "/partial" : "/full";
    (void)scratch.MakeDirsForTest(dir);
    PullOptions options;
    options.exclude_weights = partial;
    Status st = PullPayload(&scratch, &runtime, registry, token, ref, manifest, dir, options, nullptr);
    if (!st.ok()) std::abort();  // the content is ours: it must pull
    (partial ? expected.partial : expected.full) = reader.ReadTree(dir);
  }
  for (const auto& [path, node] : expected.full) {
    if (node.type == FileType::kRegular) expected.payload_bytes += node.content.size();
  }
  return expected;
}

}  // namespace

void World::ComputeExpected() {
  // Pull every model once into a scratch disk, whole and without weights.
  FakeRegistry registry;
  PushPool(pool_, &registry);
  std::map<size_t, std::string> repo_of;
  for (const auto& [repo, tag, index] : pool_.tags) repo_of.emplace(index, repo);
  for (const auto& [repo, tag, candidates] : pool_.moving) {
    for (size_t index : candidates) repo_of.emplace(index, repo);
  }
  for (const auto& [index, repo] : repo_of) {
    const BuiltModel& model = pool_.models[index].second;
    ExpectedModel expected = PullExpected(&registry, repo, model.manifest_digest);
    for (const BuiltLayer& layer : model.layers) expected.layer_digests.insert(layer.digest);
    auto layer_bytes = LayerPayloadBytes(model);
    if (!layer_bytes.ok()) std::abort();  // the content is ours: its tars read
    expected.layer_payload_bytes = std::move(layer_bytes).value();
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
  SimFilesystemOptions fs_options;
  MS_ASSIGN_OR_RETURN(fs_options.persistence, ParsePersistenceModel(config_.crash_model));
  fs_ = std::make_unique<SimFilesystem>(sched_.get(), fs_options);
  registry_ = std::make_unique<FakeRegistry>(sched_.get());
  if (config_.registry_latency_ms > 0) registry_->set_latency_ms(config_.registry_latency_ms);
  pool_ = MakeModelPool(config_.seed);
  PushPool(pool_, registry_.get());
  ComputeExpected();

  std::vector<std::string> records;
  if (!config_.scripts.empty()) config_.actors = static_cast<int>(config_.scripts.size());
  for (int i = 0; i < config_.actors; ++i) {
    for (const auto& [volume, mount] : SlotsOf(i)) {
      records.push_back(RecordDir(volume, mount));
      slot_of_record_[records.back()] = SlotKey(volume, mount);
    }
  }
  record_dirs_ = records;
  // A script may name a slot of an actor it does not have (a shared slot
  // whose owner a shrink removed): the checker and the oracle know it too.
  // The mishaps keep to the owners' slots (record_dirs_).
  for (const auto& script : config_.scripts) {
    for (const ClientOp& op : script) {
      if (IsVolumeWide(op) || !ValidateVolumeName(op.volume, "volume").ok() ||
          (!op.mount.empty() && !ValidateVolumeName(op.mount, "mount").ok())) {
        continue;
      }
      const std::string dir = RecordDir(op.volume, op.mount);
      if (slot_of_record_.emplace(dir, SlotKey(op.volume, op.mount)).second) records.push_back(dir);
    }
  }
  checker_ = std::make_unique<InvariantChecker>(fs_.get(), kRoot, records);
  checker_->SetStoreChecks(config_.design == "core");
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
    ++faults_by_actor_[sched_->CurrentActor()];
    return Status(it->second, std::string(call.name) + " " + std::string(call.path) +
                                  ": injected fault at call " + std::to_string(call.index));
  });
  // Every injected fault is charged to the call that met it (I7 excuses
  // that call's error, and no other's).
  fs_->SetFaultObserver([this](Code) { ++faults_by_actor_[sched_->CurrentActor()]; });
  registry_->SetFaultObserver([this] { ++faults_by_actor_[sched_->CurrentActor()]; });
  for (const auto& [repo, tag, index] : pool_.tags) {
    calls_.Named(repo + ":" + tag, pool_.models[index].second.manifest_digest.ToString());
  }
  if (config_.fault_rate > 0) {
    FaultPlan plan;
    plan.seed = config_.seed ^ 0x6661756c74ULL;
    plan.rate = config_.fault_rate;
    // Only the filesystem codes of the configuration's fault kinds.
    uint32_t codes = 0;
    const std::pair<uint32_t, Code> kinds[] = {{kFaultEnospc, Code::kNoSpace}, {kFaultEio, Code::kIo},
                                               {kFaultExdev, Code::kCrossDevice}, {kFaultEmlink, Code::kTooManyLinks},
                                               {kFaultEacces, Code::kPermission}};
    for (const auto& [kind, code] : kinds) {
      if ((config_.fault_kinds & kind) != 0) codes |= CodeBit(code);
    }
    for (uint32_t& allowed : plan.allowed_codes) allowed &= codes;
    fs_->SetFaultPlan(plan);
    auto rate_of = [this](uint32_t kind, double rate) { return (config_.fault_kinds & kind) != 0 ? rate : 0.0; };
    MS_RETURN_IF_ERROR(registry_->SetRandomFaults(config_.seed ^ 0x726567ULL,
                                                  rate_of(kFaultUnavailable, config_.fault_rate),
                                                  rate_of(kFaultCorruptBlob, config_.fault_rate / 2),
                                                  rate_of(kFaultTruncatedBlob, config_.fault_rate / 2)));
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
  SetUpHostile();
  checker_->SnapshotOutside();
  return Status::Ok();
}

void World::SetUpHostile() {
  // Only the artifacts some script addresses: building all of them would
  // cost more than many a run.
  std::set<HostileClass> classes;
  for (const Client& c : clients_) {
    for (const ClientOp& op : c.script) {
      if (auto cls = HostileClassOf(op.reference)) classes.insert(*cls);
    }
  }
  for (HostileClass cls : classes) {
    HostileArtifact artifact = MakeHostileArtifact(cls, config_.seed);
    PushHostile(artifact, registry_.get());
    calls_.Named(artifact.reference, artifact.manifest_digest.ToString());
    checker_->AddHostile(artifact.manifest_digest.ToString(), artifact.class_name + " (" + artifact.reference + ")");
    hostile_.emplace(artifact.reference, std::move(artifact));
  }
}

const HostileArtifact* World::HostileOf(const ClientOp& op) const {
  if (hostile_.empty() || (op.kind != OpKind::kPull && op.kind != OpKind::kPullPartial)) return nullptr;
  const auto it = hostile_.find(op.reference);
  return it == hostile_.end() ? nullptr : &it->second;
}

std::vector<std::string> World::HistoryUpTo(uint64_t step) const {
  auto end = history_.begin();
  while (end != history_.end() && end->first <= step) ++end;
  auto begin = end - std::min<std::ptrdiff_t>(end - history_.begin(), kHistoryMax);
  std::vector<std::string> out;
  for (auto it = begin; it != end; ++it) out.push_back(it->second);
  return out;
}

std::string World::SlotOfRecord(const std::string& record_dir) const {
  const auto it = slot_of_record_.find(record_dir);
  return it == slot_of_record_.end() ? "" : it->second;
}

void World::LogPowerLoss() {
  std::map<std::string, SlotRecord> records;
  for (const auto& [dir, slot] : slot_of_record_) {
    const std::string path = dir + "/status.json";
    records[slot] = RecordFromBytes(fs_->RegularFileBytes(path), path);
  }
  calls_.PowerLoss(records);
}

void World::CheckResults() {
  OracleOptions options;
  options.link_limit = config_.link_max > 0;
  const SlotVerdict* first = nullptr;
  std::vector<SlotVerdict> verdicts;
  for (const SlotHistory& h : calls_.Histories()) {
    verdicts.push_back(CheckSlotHistory(h, options));
    ++report_.results.histories;
    report_.results.calls += h.calls.size();
    report_.results.search_nodes += verdicts.back().nodes;
    if (verdicts.back().kind == SlotVerdict::Kind::kInconclusive) ++report_.results.inconclusive;
  }
  for (const SlotVerdict& v : verdicts) {
    if (v.kind == SlotVerdict::Kind::kUnexplained && (first == nullptr || v.step < first->step)) first = &v;
  }
  if (first != nullptr) checker_->AddViolation(kResultsInvariant, first->step, first->detail);
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

uint64_t World::FaultsSoFar() const {
  uint64_t n = explicit_faults_;
  for (const auto& [code, count] : fs_->FaultCounts()) n += count;
  const auto rf = registry_->InjectedFaults();
  return n + rf.fail_next + rf.transient + rf.corrupt + rf.truncate;
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

CrashState World::KeptAtCrash(uint64_t step, bool scheduled) {
  if (scheduled) {
    for (const CrashPick& pick : config_.crash_picks) {
      if (pick.step == step) return CrashState::Parse(pick.state).value();  // checked by SimConfig::Parse
    }
    if (config_.crash_states_max > 0 && !crash_states_listed_) {
      // Exhaustive exploration lists the states here and takes the first.
      crash_states_listed_ = true;
      const CrashStates states = fs_->EnumerateCrashStates(config_.crash_states_max);
      for (const CrashState& state : states.states) report_.crash_states.push_back(state.ToText());
      report_.crash_states_bounded = states.bounded;
      return states.states.front();
    }
  }
  return fs_->PickCrashState(crash_state_rng_);
}

bool World::DrawNodeCrash() {
  // A drawn crash is of a kind the configuration allows (both: a coin).
  if (config_.crash_kinds == kAllCrashKinds) return config_.processes == 1 || crash_rng_.Below(2) == 0;
  return (config_.crash_kinds & kCrashNode) != 0;
}

void World::Crash(uint64_t step, bool node, int kill_process, bool scheduled) {
  ++report_.crashes;
  auto forget_ops_of = [this](int process) {
    std::erase_if(running_op_, [&](const auto& kv) {
      if (sched_->ActorProcess(kv.first) != process) return false;
      checker_->CallEnded(kv.first, false, sched_->steps());
      return true;
    });
    // Their answers never come: each may or may not have taken effect.
    std::erase_if(running_call_, [&](const auto& kv) {
      if (sched_->ActorProcess(kv.first) != process) return false;
      calls_.Cut(kv.second, sched_->steps());
      return true;
    });
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
    const std::set<std::string> promised = checker_->KeptPromises(promises_);
    const CrashState kept = KeptAtCrash(step, scheduled);
    fs_->Crash(kept);
    checker_->ForgetFetches();
    LogPowerLoss();
    Note("CRASH node (" + config_.crash_model + ", kept " + kept.ToText().substr(0, 60) +
         "): every driver killed");
    // What calls that returned success promised must have survived.
    // The step the notes name the crash at (the loop's step is one before).
    checker_->CheckPromises(sched_->steps(), promises_, promised, config_.crash_model);
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
  SpawnRegistryMutator();
  if (tenant_writes_left_ > 0) SpawnTenant();
  if (corruptions_left_ > 0) SpawnCorruptor();
  sched_->Spawn("kubelet", kKubeletProcess, [this] { Finale(); });
  const uint64_t crash_threshold =
      config_.crash_kinds == 0 ? 0 : static_cast<uint64_t>(config_.crash_rate * static_cast<double>(uint64_t{1} << 32));
  size_t violations_seen = 0;
  uint64_t last_workload_step = 0;
  bool power_loss_armed = false;  // crash_at_syncs: drawn, waiting for a sync
  uint64_t armed_at = 0;
  std::vector<uint64_t> crash_steps = config_.crash_steps;
  std::sort(crash_steps.begin(), crash_steps.end());
  sched_->set_step_observer([&](uint64_t step, ActorId ran, std::string_view what) {
    checker_->AfterStep(step);
    checker_->CheckFetchesInFlight(step, registry_->BlobFetchesInFlight(), static_cast<uint64_t>(config_.fetches_max));
    // A persistence point: a crash right before a sync (after the step
    // before it) keeps the most of what the sync would have made durable.
    if (config_.crash_states_max > 0 && !finale_started_ && step > 0 && (what == "fs.sync" || what == "fs.syncdir") &&
        (report_.persistence_steps.empty() || report_.persistence_steps.back() != step - 1)) {
      report_.persistence_steps.push_back(step - 1);
    }
    if (checker_->violations().size() != violations_seen) {
      if (violations_seen == 0) {
        report_.history = HistoryUpTo(step);
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
    const bool drawn = !power_loss_armed && crash_threshold > 0 &&
                       static_cast<int>(report_.crashes) < config_.crashes_max &&
                       (crash_rng_.Next() >> 32) < crash_threshold;
    const auto kill = std::find_if(config_.kills_at.begin(), config_.kills_at.end(),
                                   [step](const KillAt& k) { return k.step == step; });
    if (kill != config_.kills_at.end() && kill->process < config_.processes) {
      Crash(step, /*node=*/false, kill->process);
    } else if (scheduled) {
      Crash(step, /*node=*/true, -1, /*scheduled=*/true);
    } else if (drawn) {
      const bool node = DrawNodeCrash();
      if (node && config_.crash_at_syncs) {
        power_loss_armed = true;  // at the next persistence point
        armed_at = step;
      } else {
        Crash(step, node);
      }
    }
    if (power_loss_armed) {
      const std::string_view next = sched_->ActorFinished(ran) ? std::string_view() : sched_->ActorNextLabel(ran);
      if (next == "fs.sync" || next == "fs.syncdir" || step - armed_at >= kCrashWaitStepsMax) {
        power_loss_armed = false;
        Crash(step, /*node=*/true);
      }
    }
    last_workload_step = step;
  });
  const RunResult run = sched_->Run();
  // The end of the workload is a persistence point too: what its last
  // calls left pending.
  if (config_.crash_states_max > 0 &&
      (report_.persistence_steps.empty() || report_.persistence_steps.back() != last_workload_step)) {
    report_.persistence_steps.push_back(last_workload_step);
  }
  report_.outcome = run.outcome;
  report_.outcome_message = run.message;
  report_.steps = run.steps;
  report_.trace_hash = run.trace_hash;
  report_.virtual_ms = run.end_ms;
  if (run.ok() && finished_) {
    report_.footprint = checker_->CheckQuiescent(run.steps);
    CheckResults();
  } else if (run.outcome == Outcome::kReplayDiverged) {
    checker_->AddViolation("I6 determinism", run.steps, "replay diverged: " + run.message);
  } else {
    checker_->AddViolation("I4 progress", run.steps,
                           std::string(OutcomeName(run.outcome)) + ": " + run.message);
  }
  report_.violations = checker_->violations();
  if (!report_.violations.empty() && report_.history.empty()) {
    // Judged after the run (I7, I3 at quiescence): what led to its step.
    uint64_t first_step = report_.violations.front().step;
    for (const Violation& v : report_.violations) first_step = std::min(first_step, v.step);
    report_.history = HistoryUpTo(first_step);
  }
  report_.state_hash = fs_->StateHash();
  report_.fs_faults = explicit_faults_;
  for (const auto& [code, n] : fs_->FaultCounts()) report_.fs_faults += n;
  const auto rf = registry_->InjectedFaults();
  report_.registry_faults = rf.fail_next + rf.transient + rf.corrupt + rf.truncate;
  report_.manifest_fetches = registry_->AllManifestFetches();
  report_.blob_fetches = registry_->AllBlobFetches();
  report_.blob_fetches_in_flight_peak = registry_->BlobFetchesInFlightPeak();
  report_.trace_file = "modelstore-sim trace v1\n" + config_.ToText() + "---\n" + sched_->trace().ToText();
  return report_;
}

}  // namespace ms::sim
