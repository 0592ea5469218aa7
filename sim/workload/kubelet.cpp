#include "sim/workload/world.h"

namespace ms::sim {

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

}  // namespace ms::sim
