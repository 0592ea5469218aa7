// I8 recovery's bookkeeping: what each CSI call that returned success
// promised about the records it touched, so that a power loss can be held
// to it (InvariantChecker::CheckPromises).
//
// A promise is made only by a call that had its records to itself: no
// other call on them was in flight when it returned, and none started
// after it (a later call, even one still running or killed, owns the
// record now). A status call promises nothing and voids nothing.
#include "sim/workload/world.h"

namespace ms::sim {
namespace {

bool Covers(const ClientOp& op, const std::string& record, const std::string& volume_dir,
            const std::string& slot_dir) {
  if (op.kind == OpKind::kStatus) return false;
  if (!IsVolumeWide(op)) return record == slot_dir;
  return record == volume_dir || record.rfind(volume_dir + "/", 0) == 0;
}

}  // namespace

std::vector<std::string> World::RecordsOf(const ClientOp& op) const {
  std::vector<std::string> records;
  const std::string volume_dir = RecordDir(op.volume, "");
  const std::string slot_dir = RecordDir(op.volume, op.mount);
  for (const std::string& record : record_dirs_) {
    if (Covers(op, record, volume_dir, slot_dir)) records.push_back(record);
  }
  return records;
}

uint64_t World::CallStarted(const ClientOp& op) {
  if (op.kind == OpKind::kStatus) return 0;
  const uint64_t serial = ++call_serial_;
  for (const std::string& record : RecordsOf(op)) {
    last_call_[record] = serial;
    promises_.erase(record);
  }
  return serial;
}

void World::CallEnded(const ClientOp& op, uint64_t serial, const Status& st, const VolumeStatus* pulled) {
  if (serial == 0 || !st.ok()) return;
  const ActorId self = sched_->CurrentActor();
  for (const std::string& record : RecordsOf(op)) {
    if (last_call_[record] != serial) continue;
    bool shared = false;
    for (const auto& [actor, other] : running_op_) {
      if (actor != self && !RecordsOf(*other).empty()) {
        for (const std::string& r : RecordsOf(*other)) shared = shared || r == record;
      }
    }
    if (shared) continue;
    Promise promise;
    if (pulled != nullptr) {
      promise.published = true;
      promise.partial = pulled->partial;
      promise.reference = pulled->reference;
      promise.manifest = pulled->manifest;
    }
    promises_[record] = promise;
  }
}

}  // namespace ms::sim
