// Exhaustive crash exploration, as CrashMonkey does with its bounded
// workloads: run a fixed workload once without crashing to find its
// persistence points (the step right before each SyncDir or file Sync, and
// the end of the workload: between two such points a crash can only keep
// less), then at each point crash the node into every distinct legal
// post-crash state of the run's persistence model (up to a bound per
// point), restart the store on each (boot repair, startup sweep), let the
// kubelet reconcile and the final sweep run, and judge every invariant,
// I8 recovery included.
//
// Each state is its own run of the simulator (config + crash_at +
// crash_pick), so a failure is a trace file like any other.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sim/workload/simulator.h"

namespace ms::sim {

struct CrashExploration {
  uint64_t steps = 0;           // of the crash-free run
  uint64_t points = 0;          // persistence points crashed at
  uint64_t states = 0;          // post-crash states explored: runs that crashed
  uint64_t bounded_points = 0;  // points with more legal states than the bound
  uint64_t failed = 0;          // runs that broke an invariant
  std::vector<std::string> failures;  // the first few, described
};

struct CrashExplorationOptions {
  uint64_t states_max = 16;  // distinct post-crash states per point
  // Only the points whose index is shard modulo shards.
  uint64_t shard = 0;
  uint64_t shards = 1;
  // Called with each failing run (to save its trace).
  std::function<void(const SimReport&)> on_failure;
};

// workload: an explicit workload (scripts, one driver process is usual),
// its crash_model a concrete persistence model.
CrashExploration ExploreCrashStates(const SimConfig& workload, const CrashExplorationOptions& options);

}  // namespace ms::sim
