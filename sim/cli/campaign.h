// Runs the seeds of a campaign (or one seed), on `jobs` threads, and
// collects its report. Every seed's run is independent and deterministic
// (RunSimulation shares no state between runs), and results are taken in
// seed order, so the report, the failing seeds and their traces are the
// same for any number of jobs; only the timing differs.
#pragma once

#include <cstdint>
#include <string>

#include "sim/cli/campaign_report.h"
#include "sim/cli/cli_values.h"

namespace ms::cli {

struct CampaignOptions {
  sim::SimConfig config;  // every seed's configuration (its seed field unused)
  std::string config_file;  // --config FILE, if the config came from one (for re-run lines)
  bool single_seed = false;
  uint64_t first_seed = 1;
  uint64_t seeds = 300;
  Shard shard;
  bool check_determinism = false;
  // Swarm testing: each seed runs sim::SwarmConfig(config, seed), a random
  // subset of the configuration's features drawn from the seed.
  bool swarm = false;
  std::string trace_path;  // --trace, with --seed
  std::string fail_dir;    // where failing seeds' traces go
  uint64_t max_failures = 0;  // 0: no limit
  double time_budget_s = 0;   // 0: none
  int jobs = 1;
  bool progress = false;  // a progress bar on stderr
  bool quiet = false;     // no per-seed line for a single seed
  std::string self;       // how to call this tool in printed commands
  size_t detailed_failures_max = 5;
};

// The seeds of the shard in the campaign (before any budget).
uint64_t PlannedSeeds(const CampaignOptions& options);

// Runs the campaign, printing each failure (the first detailed_failures_max
// in full) to stdout as seeds finish, in seed order. *output_error is set
// when a failing seed's trace could not be written.
CampaignReport RunCampaign(const CampaignOptions& options, Status* output_error);

// One seed, as `run` runs it (with the determinism check when asked). The
// trace file text is kept only for a failure, or with keep_trace.
sim::SimReport RunSeed(const sim::SimConfig& config, uint64_t seed, bool swarm, bool check_determinism,
                       bool keep_trace = false);

}  // namespace ms::cli
