#include "sim/workload/crash_explorer.h"

namespace ms::sim {
namespace {

constexpr size_t kFailuresKept = 5;

void Judge(const SimReport& r, uint64_t step, const std::string& state, const CrashExplorationOptions& options,
           CrashExploration* out) {
  if (r.crashes == 0) return;  // the step fell in the finale: not a crash
  ++out->states;
  if (r.ok()) return;
  ++out->failed;
  if (options.on_failure) options.on_failure(r);
  if (out->failures.size() < kFailuresKept) {
    const Violation& v = r.violations.front();
    out->failures.push_back("crash after step " + std::to_string(step) + " keeping " + state + ": " +
                            v.invariant + " at step " + std::to_string(v.step) + ": " + v.detail);
  }
}

}  // namespace

CrashExploration ExploreCrashStates(const SimConfig& workload, const CrashExplorationOptions& options) {
  CrashExploration out;
  SimConfig base = workload;
  base.crash_steps.clear();
  base.crash_picks.clear();
  base.crash_rate = 0;
  base.crash_states_max = options.states_max;
  const SimReport free = RunSimulation(base);
  out.steps = free.steps;
  if (!free.ok()) {
    ++out.failed;
    out.failures.push_back("fails without any crash: " + free.violations.front().invariant + ": " +
                           free.violations.front().detail);
    return out;
  }
  const uint64_t shards = options.shards == 0 ? 1 : options.shards;
  for (size_t i = 0; i < free.persistence_steps.size(); ++i) {
    if (i % shards != options.shard) continue;
    const uint64_t step = free.persistence_steps[i];
    SimConfig at = base;
    at.crash_steps = {step};
    // The first run lists the point's states and keeps the first of them.
    const SimReport first = RunSimulation(at);
    if (first.crashes == 0) continue;
    ++out.points;
    if (first.crash_states_bounded) ++out.bounded_points;
    Judge(first, step, first.crash_states.empty() ? "?" : first.crash_states.front(), options, &out);
    at.crash_states_max = 0;
    for (size_t s = 1; s < first.crash_states.size(); ++s) {
      at.crash_picks = {CrashPick{step, first.crash_states[s]}};
      Judge(RunSimulation(at), step, first.crash_states[s], options, &out);
    }
  }
  return out;
}

}  // namespace ms::sim
