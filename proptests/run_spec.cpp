#include "proptests/run_spec.h"

#include <algorithm>

namespace ms::prop {
namespace {

enum class HostilePart { kVolume, kMount, kReference };

struct Hostile {
  HostilePart part;
  const char* name;
};

// Each tries to reach /node/sibling (the simulator's untouchable neighbour
// of the root /node/root) or to climb out of the root some other way. None
// holds ',' or a newline (the trace file's op= syntax).
constexpr Hostile kHostile[kHostileNames] = {
    {HostilePart::kVolume, ""},  // 0: unused
    {HostilePart::kVolume, ".."},
    {HostilePart::kVolume, "../sibling"},
    {HostilePart::kMount, ".."},
    {HostilePart::kMount, "../../../sibling"},
    {HostilePart::kReference, "models/../../../node/sibling:v1"},
    {HostilePart::kReference, "models/a@sha256:../../../../../node/sibling"},
    {HostilePart::kReference, "/node/sibling/keep.txt"},
    {HostilePart::kVolume, "s0/../../../../node/sibling"},
};

}  // namespace

std::string HostileName(int hostile) {
  if (hostile <= 0 || hostile >= kHostileNames) return "none";
  const Hostile& h = kHostile[hostile];
  const char* part = h.part == HostilePart::kVolume ? "volume" : h.part == HostilePart::kMount ? "mount" : "reference";
  return std::string(part) + " \"" + h.name + "\"";
}

sim::SimConfig ToSimConfig(const RunSpec& spec) {
  sim::SimConfig c;
  c.seed = spec.seed;
  c.strategy = spec.strategy;
  c.processes = std::max(1, spec.processes);
  c.gc_rounds = std::max(0, spec.gc_rounds);
  c.tag_moves = std::max(0, spec.tag_moves);
  c.fault_rate = 0;
  c.crash_rate = 0;
  c.max_steps = spec.max_steps;
  c.break_entry_lock = spec.break_entry_lock;
  const sim::ModelPool pool = sim::MakeModelPool(spec.seed);
  const size_t actors = std::max<size_t>(1, spec.actors.size());
  c.scripts.resize(actors);
  for (size_t a = 0; a < spec.actors.size(); ++a) {
    for (const SpecOp& op : spec.actors[a]) {
      const size_t owner = (a + static_cast<size_t>(std::max(0, op.other))) % actors;
      const auto slots = sim::SlotsOf(static_cast<int>(owner));
      const bool pull = op.kind == sim::OpKind::kPull || op.kind == sim::OpKind::kPullPartial;
      const bool whole = op.slot >= kWholeDynamicVolume && !pull;
      const int slot = whole ? 1 : std::clamp(op.slot, 0, kSlotsPerActor - 1);
      const auto& [volume, mount] = slots[static_cast<size_t>(slot)];
      sim::ClientOp out;
      out.kind = op.kind;
      out.volume = volume;
      out.mount = op.kind == sim::OpKind::kRelease || whole ? "" : mount;
      if (pull) {
        const size_t refs = spec.refs > 0 ? std::min<size_t>(static_cast<size_t>(spec.refs), pool.references.size())
                                          : pool.references.size();
        const size_t home = owner + static_cast<size_t>(slot);
        out.reference = pool.references[(home + static_cast<size_t>(std::max(0, op.ref))) % refs];
        if (op.artifact > 0) {
          out.reference = sim::HostileReference(
              static_cast<sim::HostileClass>(static_cast<size_t>(op.artifact - 1) % sim::kHostileClassCount));
        }
      }
      if (op.hostile > 0 && op.hostile < kHostileNames) {
        const Hostile& h = kHostile[op.hostile];
        switch (h.part) {
          case HostilePart::kVolume: out.volume = h.name; break;
          case HostilePart::kMount: out.mount = h.name; break;
          case HostilePart::kReference:
            out.reference = h.name;
            if (out.kind != sim::OpKind::kPullPartial) out.kind = sim::OpKind::kPull;
            break;
        }
      }
      c.scripts[a].push_back(std::move(out));
    }
  }
  c.actors = static_cast<int>(c.scripts.size());
  c.crash_steps = spec.crash_steps;
  for (sim::KillAt k : spec.kills) {
    k.process = std::max(0, k.process) % c.processes;
    c.kills_at.push_back(k);
  }
  c.client_lanes = std::clamp(spec.client_lanes, 1, 4);
  c.overlap_release = spec.overlap_release;
  c.tag_moves_spread = spec.tag_moves_spread;
  c.faults_at = spec.faults;
  c.tenant_writes = std::max(0, spec.tenant_writes);
  c.status_corruptions = std::max(0, spec.status_corruptions);
  c.corrupt_at_sweep = spec.corrupt_at_sweep;
  c.link_max = spec.link_max;
  return c;
}

size_t OpCount(const RunSpec& spec) {
  size_t n = 0;
  for (const auto& script : spec.actors) n += script.size();
  return n;
}

void showValue(const RunSpec& spec, std::ostream& os) {
  os << "RunSpec (" << spec.actors.size() << " actors, " << OpCount(spec) << " ops, "
     << spec.crash_steps.size() << " crash points, " << spec.kills.size() << " process kills, "
     << spec.faults.size() << " faults):\n"
     << ToSimConfig(spec).ToText();
}

}  // namespace ms::prop
