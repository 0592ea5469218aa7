#include "sim/workload/world.h"

#include "core/volume_manager.h"

namespace ms::sim {

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
  // reaching it; the kubelet retries until a call cleans it up. Nor is one
  // whose record a mishap garbled while the call ran (the caller says so).
  if (unfinished_before) return false;
  // Another call into the slot in flight (a delete of it, a release of its
  // volume) owns its files now; whatever it leaves, I3 judges at quiescence.
  for (const auto& [actor, other] : running_op_) {
    if (actor == sched_->CurrentActor() || other->volume != op.volume) continue;
    if (IsVolumeWide(*other) || other->mount == op.mount) return false;
  }
  return true;
}

void World::JudgeHostilePull(const ClientOp& op, const HostileArtifact& artifact, const Status& st, bool faulted,
                             bool overlapped, bool unfinished_before) {
  HostileTally& tally = report_.hostile[artifact.class_name];
  ++tally.served;
  const std::string what =
      "hostile pull of " + op.reference + " (" + artifact.class_name + ") into " + SlotKey(op.volume, op.mount);
  if (st.ok()) {
    ++tally.accepted;
    checker_->AddViolation("I7 results", sched_->steps(), what + " succeeded: the store accepted what it must refuse");
    return;
  }
  // Refused before the artifact could matter (a conflict, a cancellation,
  // a volume or mount name that is no name), or by a fault that came
  // first: the error names that, not the artifact.
  const bool bad_names = !ValidateVolumeName(op.volume, "volume").ok() ||
                         (!op.mount.empty() && !ValidateVolumeName(op.mount, "mount").ok());
  if (faulted || bad_names || st.code() == Code::kConflict || st.code() == Code::kCanceled ||
      st.code() == Code::kDeadlineExceeded) {
    ++tally.excused;
    return;
  }
  std::string unnamed;
  if (st.message().find(op.reference) == std::string::npos) unnamed = "the reference";
  for (const std::string& culprit : artifact.culprits) {
    if (unnamed.empty() && st.message().find(culprit) == std::string::npos) unnamed = "\"" + culprit + "\"";
  }
  if (!unnamed.empty()) {
    checker_->AddViolation("I7 results", sched_->steps(),
                           what + " failed without naming " + unnamed + ": " + st.ToString().substr(0, 400));
  } else {
    ++tally.refused;
  }
  // DESIGN §5: refused, it leaves nothing half-done: a failed record, no
  // model dir (when the slot's files are this call's to have cleaned up:
  // no other call on the volume ran meanwhile, even one that has
  // finished, as an unpublish that waited for this pull's lock).
  if (!overlapped && FailedPullOwnsItsSlot(op, unfinished_before)) {
    const std::string record = RecordDir(op.volume, op.mount);
    const auto status = ReadRecord(record);
    if (!status || (status->reference == op.reference && status->state != VolumeState::kFailed)) {
      checker_->AddViolation("I7 results", sched_->steps(),
                             what + " failed (" + std::string(CodeName(st.code())) + ") but its record " +
                                 (status ? "says " + std::string(StateName(status->state)) : std::string("is gone")));
    }
    if (fs_->Exists(record + "/model")) {
      const std::string left = ModelFileLeft(op);
      checker_->AddViolation("I3 footprint", sched_->steps(),
                             what + " failed but left its model dir" + (left.empty() ? "" : ": " + left));
    }
  }
  checker_->CheckOutside(sched_->steps(), "after a " + what);
}

Status World::Execute(VolumeService* manager, const ClientOp& op, const std::string& who) {
  const std::string name(OpKindName(op.kind));
  ++report_.ops[name];
  const uint64_t call_on_volume = ++calls_on_volume_[op.volume];
  const ActorId actor = sched_->CurrentActor();
  const bool pull = op.kind == OpKind::kPull || op.kind == OpKind::kPullPartial;
  const SlotCallKind kind = pull ? SlotCallKind::kPublish
                                 : op.kind == OpKind::kStatus ? SlotCallKind::kStatus : SlotCallKind::kUnpublish;
  const std::string label = who + " " + name + " " + SlotKey(op.volume, op.mount) +
                            (op.reference.empty() ? "" : " " + op.reference);
  const uint64_t faults_at_start = faults_by_actor_[actor];
  checker_->CallBegan(actor, op.kind == OpKind::kPull ? RecordDir(op.volume, op.mount) : "");
  // Input the service must refuse with InvalidArgument, whatever it holds.
  CallFlags flags;
  // (A release takes the volume only: a mount in its script is not input.)
  flags.invalid = !ValidateVolumeName(op.volume, "volume").ok() ||
                  (!op.mount.empty() && op.kind != OpKind::kRelease && !ValidateVolumeName(op.mount, "mount").ok()) ||
                  (pull && !Reference::Parse(op.reference).ok());
  Status st;
  const uint64_t serial = CallStarted(op);  // I8: what it returns it promises
  CallAnswer answer;
  switch (op.kind) {
    case OpKind::kPull:
    case OpKind::kPullPartial: {
      PullRequest req{op.volume, op.mount, op.reference, op.kind == OpKind::kPullPartial, {}, 0};
      const uint64_t faults_before = explicit_faults_by_actor_[actor];
      const HostileArtifact* hostile = HostileOf(op);
      const bool judged = config_.fault_rate == 0;
      const std::string record = RecordDir(op.volume, op.mount);
      const uint64_t garbles_before = garbles_[record];
      const bool unfinished_before = (judged || hostile != nullptr) && !RecordSucceeded(op) && !ModelFileLeft(op).empty();
      flags.hostile = hostile != nullptr;
      running_call_[actor] =
          calls_.Issue(kind, SlotsOfCall(op), op.reference, op.kind == OpKind::kPullPartial, label, flags);
      auto r = manager->PullModel(req);
      st = r.status();
      if (r.ok()) answer.status = r->status;
      // A record garbled under the call (a node mishap) hides whether the
      // call changed the slot: its files are not judged as the call's.
      const bool not_its_own = unfinished_before || garbles_[record] != garbles_before;
      if (hostile != nullptr) {
        JudgeHostilePull(op, *hostile, st, faults_by_actor_[actor] != faults_at_start,
                         calls_on_volume_[op.volume] != call_on_volume, not_its_own);
      }
      // A second explicit fault in one call may have hit its cleanup.
      const bool cleanup_hit = explicit_faults_by_actor_[actor] - faults_before > 1;
      // DESIGN §5: a failed call leaves nothing half-done. Judged only when
      // no fault may have hit the cleanup itself (no random faults, at most
      // one explicit fault in the call; the link limit hits links, which a
      // cleanup never makes), and only when the files under the slot are
      // this call's to clean up.
      if (judged && !st.ok() && st.code() != Code::kConflict && !cleanup_hit &&
          FailedPullOwnsItsSlot(op, not_its_own)) {
        const std::string left = ModelFileLeft(op);
        if (!left.empty()) {
          checker_->AddViolation("I3 footprint", sched_->steps(),
                                 "a failed pull (" + st.ToString().substr(0, 120) + ") left a half-populated model: " + left);
        }
      }
      break;
    }
    case OpKind::kDelete:
      running_call_[actor] = calls_.Issue(kind, SlotsOfCall(op), "", false, label, flags);
      st = manager->DeleteModel(op.volume, op.mount);
      break;
    case OpKind::kRelease:
      running_call_[actor] = calls_.Issue(kind, SlotsOfCall(op), "", false, label, flags);
      st = manager->ReleaseVolume(op.volume);
      break;
    case OpKind::kStatus: {
      running_call_[actor] = calls_.Issue(kind, SlotsOfCall(op), "", false, label, flags);
      auto r = manager->GetStatus(op.volume, op.mount);
      if (r.ok()) answer.status = *r;
      // Not found is the status of a slot without a record, not an error.
      st = r.code() == Code::kNotFound ? Status::Ok() : r.status();
      answer.code = r.code();
      answer.message = r.status().message();
      break;
    }
  }
  CallEnded(op, serial, st, answer.status ? &*answer.status : nullptr);
  if (op.kind != OpKind::kStatus) {
    answer.code = st.code();
    answer.message = st.message();
  }
  calls_.Return(running_call_[actor], std::move(answer), faults_by_actor_[actor] != faults_at_start, sched_->steps());
  running_call_.erase(actor);
  checker_->CallEnded(actor, op.kind == OpKind::kPull && st.ok(), sched_->steps());
  if (!st.ok()) ++report_.op_errors[name + ": " + std::string(CodeName(st.code()))];
  Note(label + " -> " + st.ToString().substr(0, 160));
  return st;
}

std::vector<std::string> World::SlotsOfCall(const ClientOp& op) const {
  if (!IsVolumeWide(op)) return {SlotKey(op.volume, op.mount)};
  std::vector<std::string> slots;
  for (const auto& [record, slot] : slot_of_record_) {
    if (slot == op.volume || slot.rfind(op.volume + "/", 0) == 0) slots.push_back(slot);
  }
  if (slots.empty()) slots.push_back(op.volume);  // a volume no client owns (invalid input)
  return slots;
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
  const bool pull = op.kind == OpKind::kPull || op.kind == OpKind::kPullPartial;
  const Desired own{true, op.reference, op.kind == OpKind::kPullPartial};
  const std::optional<Desired> at_start =
      found == desired_.end() ? std::nullopt : std::optional<Desired>(found->second);
  // A retry restores, on a conflict, what was in force before its killed
  // first attempt recorded its own intent; if another client's call has
  // recorded another intent since (shared slots), that one.
  const bool own_left = pull && at_start == std::optional<Desired>(own);
  const std::optional<Desired> before = first != c.before_first.end() && own_left ? first->second : at_start;
  c.before_first.emplace(op_index, before);
  if (pull) {
    desired_[key] = own;
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

}  // namespace ms::sim
