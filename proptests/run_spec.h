// RunSpec: a whole simulated run in a shape that shrinks well.
//
// A SimConfig names each operation by its actor's volumes ("s1", "d1/m2"),
// so removing an actor would leave the next one's operations naming slots
// it does not own. A RunSpec names them by position instead (slot 0..3 of
// whichever actor holds the op, reference i of the pool), so a generator
// may drop actors, drop operations, lower a seed or a step, and the result
// is still a valid run. ToSimConfig turns it into the explicit SimConfig the
// simulator runs (and its trace file records).
//
// Used by the RapidCheck generators (run_gen.h) and the libFuzzer decoder
// (fuzz/fuzz_decode.h); nothing here depends on either.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "sim/workload/workload.h"

namespace ms::prop {

// Operations per actor slot: SlotsOf(i) has the static volume s<i> (slot 0)
// and the dynamic mounts d<i>/m0..m2 (slots 1..3).
inline constexpr int kSlotsPerActor = 4;
// Slot 4: the dynamic volume d<i> itself, with an empty mount id. A delete
// there is DeleteModel("d<i>", ""), a static delete over a volume that
// holds dynamic mounts (the simulator's own scripts never issue it: their
// static volumes are s<i>); a status reads a record that never exists; a
// pull there pulls d<i>/m0 (a static record inside d<i> is not a slot the
// checker knows).
inline constexpr int kWholeDynamicVolume = 4;

// Names that try to leave the root (I5 confinement). Index 0 is "none";
// 1..kHostileNames-1 replace the volume, mount or reference of an op.
inline constexpr int kHostileNames = 9;

struct SpecOp {
  sim::OpKind kind = sim::OpKind::kPull;
  int slot = 0;     // 0..kWholeDynamicVolume
  // Which reference a pull names: 0 is the slot's home reference (so most
  // re-pulls of a mount name what it holds), k > 0 the k-th after it,
  // which a mount already holding the home reference refuses (kConflict).
  int ref = 0;
  int hostile = 0;  // 0: none; else a hostile name (I5 properties only)
  // Pulls only: 0 none; k > 0 addresses the hostile registry's artifact of
  // class k - 1 (modulo the class count; sim/registry/hostile_models.h)
  // instead of a pool reference.
  int artifact = 0;
  // Whose slot: 0 the op's own actor's; k > 0 the same slot of actor
  // (a + k) mod actors: calls of several clients on one slot (I7).
  int other = 0;
  bool operator==(const SpecOp&) const = default;
};

struct RunSpec {
  uint64_t seed = 1;
  std::string strategy = "random";  // random | rr | pct:D
  int processes = 1;
  int gc_rounds = 0;
  int tag_moves = 0;
  // How many of the pool's references the run pulls (its first `refs`;
  // 0: all). Few references, few digests: concurrent first pulls (I2).
  int refs = 0;
  std::vector<std::vector<SpecOp>> actors;  // one script per client actor
  std::vector<uint64_t> crash_steps;        // node crashes (power loss) after these steps
  std::vector<sim::KillAt> kills;           // process crashes (disk intact); process taken mod processes
  std::vector<sim::FaultAt> faults;         // filesystem faults at call indices
  // Node mishaps and tenants (SimConfig has the details):
  int tenant_writes = 0;                    // writes through a volume's file
  int status_corruptions = 0;               // status.json garbled mid-run
  bool corrupt_at_sweep = false;            // one garbled right before the final sweep
  uint64_t link_max = 0;                    // EMLINK beyond this many links (0: none)
  int client_lanes = 1;                     // calls a kubelet stream has in flight at once
  bool overlap_release = false;             // a release may start over calls into its volume
  bool tag_moves_spread = false;            // tag moves land between pulls
  bool break_entry_lock = false;            // self-test: a store without its entry lock
  uint64_t max_steps = 200'000;             // I4: more is a livelock
  bool operator==(const RunSpec&) const = default;
};

// The explicit SimConfig of a spec: fault and crash rates 0 (every fault and
// crash is one of spec's), one script per actor (at least one, maybe empty).
sim::SimConfig ToSimConfig(const RunSpec& spec);

// Total client operations of a spec.
size_t OpCount(const RunSpec& spec);

// The hostile replacement an op carries, for reports: "volume \"..\"".
std::string HostileName(int hostile);

// RapidCheck prints counterexamples with showValue (found by ADL): the
// SimConfig text, which is also what the trace file records.
void showValue(const RunSpec& spec, std::ostream& os);

}  // namespace ms::prop
