// A campaign's report: what `modelstore-sim run` prints and writes, and what
// `merge` reads back. One data model, three renderings: the text report,
// JSON (schema "modelstore-sim-report", version kReportSchemaVersion,
// documented in the README) and JUnit XML.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "sim/workload/simulator.h"

namespace ms::cli {

inline constexpr int kReportSchemaVersion = 1;
inline constexpr const char* kReportSchema = "modelstore-sim-report";

// One failing seed.
struct FailedSeed {
  uint64_t seed = 0;
  std::string outcome;                     // the scheduler's outcome ("completed", "deadlock", ...)
  std::vector<sim::Violation> violations;  // the first is the failure's invariant
  std::vector<std::string> history;        // the operations leading there (and those in flight)
  std::string trace_path;                  // "" if it could not be written
  std::string rerun;                       // `run` arguments that rebuild the seed's run
};

struct Totals {
  uint64_t seeds = 0, failed = 0, steps = 0, crashes = 0, fs_faults = 0, registry_faults = 0;
  uint64_t fetches = 0, unique_fetched = 0, disk_bytes = 0, referenced_bytes = 0, content_bytes = 0;
  uint64_t blob_fetches = 0, unique_blobs = 0, all_disk_bytes = 0;
  // What a store keyed by layer digest would keep (Footprint::unique_blob_bytes),
  // summed over the seeds: the blob-level ratio's denominator.
  uint64_t blob_bytes = 0;
  // The fetch bound: the most blob fetches in flight in any seed, and the
  // seeds whose peak reached their own fetches_max.
  uint64_t fetch_peak = 0, seeds_at_fetch_bound = 0;
  int64_t virtual_ms = 0;
  uint64_t results_calls = 0, results_histories = 0, results_inconclusive = 0;  // I7's oracle
  std::map<std::string, uint64_t> ops, op_errors;
  std::map<std::string, uint64_t> failed_seeds;  // invariant -> seeds that violated it
  std::map<std::string, uint64_t> violations;    // invariant -> violations
  std::map<std::string, sim::HostileTally> hostile;  // hostile class -> its pulls
};

// bytes on disk / unique blob bytes (DESIGN §2.8); a report merged from
// shards written before unique_blob_bytes existed falls back to the unique
// file-content bytes; 1 when there is neither.
double BlobLevelRatio(const Totals& totals);

void Accumulate(Totals* totals, const sim::SimReport& report);
void Add(Totals* totals, const Totals& more);

// One process's share of a campaign (a merged report has several).
struct ShardRun {
  uint64_t index = 0;
  uint64_t seeds_planned = 0;  // its seeds in the campaign
  uint64_t seeds_run = 0;      // the first seeds_run of them ran
  std::string stopped_by;      // "", "time-budget" or "max-failures"
  double wall_s = 0;
  int jobs = 1;
  std::map<std::string, std::string> build;  // BuildIdentity() of the binary that ran it
};

struct CampaignReport {
  sim::SimConfig config;  // the configuration every seed shares (its seed field unused)
  bool check_determinism = false;
  bool swarm = false;        // each seed ran SwarmConfig(config, seed)
  bool single_seed = false;  // --seed S: first_seed = S, seeds = 1
  uint64_t first_seed = 1;
  uint64_t seeds = 0;  // seeds of the whole campaign, all shards
  uint64_t shard_count = 1;
  double time_budget_s = 0;   // 0: none
  uint64_t max_failures = 0;  // 0: none
  std::vector<ShardRun> shards;  // by index
  Totals totals;
  std::vector<FailedSeed> failures;  // by seed

  // Shards of 0..shard_count-1 without a report.
  std::vector<uint64_t> MissingShards() const;
  // Every invariant held in every seed run, and at least one seed ran.
  bool Passed() const { return totals.failed == 0 && totals.seeds > 0; }
  double WallSeconds() const;  // the longest shard's wall time
  int Jobs() const;            // summed over the shards
};

// The binary's identity: version, git commit, compiler, build type, sanitizers.
std::map<std::string, std::string> BuildIdentity();

// The invariant names the checker defines (kInvariantNames).
std::vector<std::string> InvariantNames();

// "PASS", "FAIL" or "not checked".
std::string Verdict(const CampaignReport& report, const std::string& invariant);

// The text report (the block ending in "N passed, M failed").
std::string TextReport(const CampaignReport& report);

std::string ToJson(const CampaignReport& report);
// Reads a report ToJson wrote; errors name what is wrong (the caller names the file).
Result<CampaignReport> FromJson(const std::string& text);

std::string ToJUnit(const CampaignReport& report);

// Combines the reports of the shards of one campaign; refuses reports of
// different campaigns or configurations and overlapping shards (names[i]
// names reports[i] in errors).
Result<CampaignReport> Merge(const std::vector<CampaignReport>& reports, const std::vector<std::string>& names);

}  // namespace ms::cli
