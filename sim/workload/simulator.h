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

// The hostile pulls of one class in a run (kubelet retries included).
struct HostileTally {
  uint64_t served = 0;    // pulls that addressed an artifact of the class
  uint64_t refused = 0;   // failed with an error naming the reference and the culprit
  uint64_t excused = 0;   // failed first for another reason: a fault in the call, a
                          // conflict, a cancellation
  uint64_t accepted = 0;  // succeeded: a violation ("I7 results")
  bool operator==(const HostileTally&) const = default;
};

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
  std::map<std::string, uint64_t> blob_fetches;      // digest -> fetches
  // The most blob fetches the registry had in flight at once (the drivers'
  // bound is config.fetches_max).
  uint64_t blob_fetches_in_flight_peak = 0;
  std::map<std::string, HostileTally> hostile;       // by class name
  Footprint footprint;
  // I7: what the result oracle judged.
  struct Results {
    uint64_t calls = 0;         // calls judged, once per slot they address
    uint64_t histories = 0;     // slot histories (a slot between power losses)
    uint64_t inconclusive = 0;  // histories whose search hit its bound
    uint64_t search_nodes = 0;
  } results;
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
