// `modelstore-sim shrink TRACE`: minimises a failing run while the same
// invariant still fails, and writes the minimal run's trace.
//
// The trace file's header is the run's whole configuration, so shrinking
// edits the header and re-runs it by seed: drop actors and operations
// (the seed's generated scripts are first written out as explicit op=
// lines), drop crash_at / kill_at / fault_at points, lower the fault and
// crash rates, the mishaps (tenant writes, status corruptions), the
// processes, the kubelet's lanes, and simplify the strategy towards
// round-robin (fewer schedule deviations). Lists shrink by RapidCheck's
// own removeChunks, the property tests' shrinker, taking the first
// candidate that still fails and starting again from it (greedy, as
// RapidCheck does). The schedule of the shrunk run is whatever its seed
// gives it; the result is itself a failing, replayable trace.
#pragma once

#include <cstdint>
#include <string>

namespace ms::cli {

struct ShrinkOptions {
  std::string trace_path;
  std::string out_path;    // "": <trace without .trace>.min.trace
  std::string invariant;   // "": the first violation's invariant
  uint64_t max_runs = 5000;
  std::string self;        // how to call this tool in printed commands
};

// Exit code: 0 the minimal failing trace was written; 2 bad input (an
// unreadable or passing trace, an unknown invariant, an unwritable output).
int Shrink(const ShrinkOptions& options);

}  // namespace ms::cli
