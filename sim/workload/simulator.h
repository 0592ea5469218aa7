// One simulated run: a seed decides the workload, the schedule, every
// fault and every crash. The production core runs unchanged on the
// simulated ports; the InvariantChecker watches the simulated disk.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sim/checking/invariant_checker.h"
#include "sim/scheduling/scheduler.h"
#include "sim/scheduling/trace.h"
#include "sim/workload/workload.h"

namespace ms::sim {

struct SimReport {
  SimConfig config;
  Outcome outcome = Outcome::kCompleted;
  std::string outcome_message;
  uint64_t steps = 0;
  uint64_t trace_hash = 0;
  uint64_t state_hash = 0;  // the simulated disk at the end
  int64_t virtual_ms = 0;
  std::map<std::string, uint64_t> ops;        // by kind
  std::map<std::string, uint64_t> op_errors;  // "kind: Code"
  uint64_t fs_faults = 0;
  uint64_t registry_faults = 0;
  uint64_t crashes = 0;
  std::map<std::string, uint64_t> manifest_fetches;  // digest -> fetches
  Footprint footprint;
  std::vector<Violation> violations;
  std::vector<std::string> history;  // the operations leading to the first violation
  std::string trace_file;            // config + schedule: what `replay` reads
  // With config.crash_states_max > 0: the distinct legal post-crash states
  // at the first crash_at step (CrashState::ToText()), whether that list
  // was cut short (CrashStates::bounded), and the persistence points before
  // the finale, as crash steps: the step right before each sync (a
  // SyncDir or a file Sync), and the last step before the finale.
  std::vector<std::string> crash_states;
  bool crash_states_bounded = false;
  std::vector<uint64_t> persistence_steps;

  bool ok() const { return violations.empty(); }
};

// Runs config.seed. With replay set, follows that schedule exactly.
SimReport RunSimulation(const SimConfig& config, std::shared_ptr<const Trace> replay = nullptr);

// A trace file: "modelstore-sim trace v1", the config, then the schedule.
Result<std::pair<SimConfig, Trace>> ParseTraceFile(std::string_view text);

}  // namespace ms::sim
