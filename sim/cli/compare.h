// `modelstore-sim compare`: the design shoot-out. One campaign per design
// (designs/design_registry.h) over the same seeds and configuration, then a
// matrix design x invariant (the first failing seed, and the length of its
// run shrunk while the same invariant still fails) and what each design
// costs (footprint at manifest and blob level, fetches per unique blob and
// manifest, operations per second, bytes on disk). Rendered as text and as
// JSON (schema kCompareSchema, version kCompareSchemaVersion, in the
// README); pinned verdicts (--expect) turn it into a CI check.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/cli/campaign_report.h"

namespace ms::cli {

inline constexpr int kCompareSchemaVersion = 1;
inline constexpr const char* kCompareSchema = "modelstore-sim-compare";

struct CompareOptions {
  sim::SimConfig config;             // every design's campaign; its design field is replaced
  bool swarm = true;
  bool check_determinism = false;
  uint64_t first_seed = 1;
  uint64_t seeds = 40;
  std::vector<std::string> designs;  // in this order; every design when empty
  int jobs = 1;
  std::string fail_dir;              // a design's traces go to <fail_dir>/<design>/
  uint64_t shrink_runs = 300;        // simulations per shrink at most; 0: no shrinking
  bool progress = false;             // one line per design on stderr
  std::string self;                  // how to call this tool in printed commands
};

// One design x one invariant.
struct CompareCell {
  std::string invariant;
  std::string verdict;       // "PASS", "FAIL" or "not checked"
  uint64_t failed_seeds = 0;
  uint64_t first_seed = 0;   // FAIL: the first failing seed
  std::string detail;        // FAIL: that seed's violation of this invariant
  std::string trace;         // FAIL: that seed's trace file
  bool shrunk = false;       // FAIL, shrinking on: the minimal run below
  uint64_t shrunk_actors = 0, shrunk_ops = 0, shrunk_steps = 0, shrink_runs = 0;
  std::string shrunk_trace;  // <fail_dir>/<design>/<I#>.min.trace
};

struct CompareRow {
  std::string design, title, proposal;
  CampaignReport report;
  std::vector<CompareCell> cells;  // in InvariantNames() order
};

struct CompareReport {
  sim::SimConfig config;
  bool swarm = true;
  bool check_determinism = false;
  uint64_t first_seed = 1, seeds = 0, shrink_runs = 0;
  std::vector<CompareRow> rows;
  double wall_s = 0;
};

// What each invariant says for every design, and what our core's layout adds.
struct InvariantStatement {
  std::string_view name, every_design, core_only;
};
const std::vector<InvariantStatement>& InvariantStatements();

// Runs every campaign (and the shrinks). *output_error: a trace that could
// not be written.
CompareReport RunCompare(const CompareOptions& options, Status* output_error);

std::string CompareText(const CompareReport& report, const std::string& self);
std::string CompareJson(const CompareReport& report);

// Pinned verdicts: one "DESIGN INVARIANT VERDICT" line per cell (INVARIANT
// as "I3" or its full name, VERDICT PASS, FAIL or not-checked; '#' starts a
// comment). The mismatches, one line each (a cell the file does not pin, a
// pinned cell the run did not have, a verdict that differs); kInvalidArgument
// naming `name` and the line for a malformed file.
Result<std::vector<std::string>> CheckExpectations(const CompareReport& report, std::string_view expected,
                                                   std::string_view name);

}  // namespace ms::cli
