// modelstore-sim: runs seeds of the deterministic simulation and reports;
// replays, shrinks and merges what runs wrote.
//
// Exit status: 0 every invariant held; 1 an invariant failed; 2 bad usage,
// bad configuration, unreadable input or unwritable output (one line on
// stderr naming the flag or file, and no work done).
//
// The wall clock here only measures throughput for the report and bounds
// --time-budget; it never reaches the simulation, which lives in the sim
// library and reads no clock.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "sim/cli/campaign.h"
#include "sim/cli/campaign_report.h"
#include "sim/cli/cli_values.h"
#include "sim/cli/config_flags.h"
#include "sim/cli/output_file.h"
#include "sim/cli/shrink.h"
#include "sim/workload/simulator.h"

namespace {

using ms::Result;
using ms::Status;
using ms::sim::SimConfig;
using ms::sim::SimReport;
namespace cli = ms::cli;

constexpr int kExitPass = 0;
constexpr int kExitInvariantFailed = 1;
constexpr int kExitUsage = 2;
constexpr size_t kTraceBytesMax = size_t{1} << 30;
constexpr size_t kReportBytesMax = size_t{256} << 20;  // also --config files
constexpr std::string_view kTraceMagic = "modelstore-sim trace v1\n";

int UsageError(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return kExitUsage;
}

std::string ExePath() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.string();
}

// How to call this tool again, for printed commands.
std::string Self() {
  const std::string exe = ExePath();
  return exe.empty() ? "modelstore-sim" : cli::Pretty(exe);
}

// build/sim/modelstore-sim -> build/sim-failures, wherever the tool runs from.
std::string DefaultFailDir() {
  const std::string exe = ExePath();
  if (exe.empty()) return "sim-failures";
  const std::filesystem::path dir = std::filesystem::path(exe).parent_path();
  return ((dir.filename() == "sim" ? dir.parent_path() : dir) / "sim-failures").string();
}

// The text of a --config file: key=value lines, or a trace file (its header).
Result<SimConfig> ReadConfigFile(const std::string& path) {
  MS_ASSIGN_OR_RETURN(std::string text, cli::ReadSmallFile("--config", path, kReportBytesMax));
  std::string_view header = text;
  if (header.starts_with(kTraceMagic)) {
    header.remove_prefix(kTraceMagic.size());
    const size_t sep = header.find("---\n");
    if (sep == std::string_view::npos) {
      return Status(ms::Code::kInvalidArgument, "--config " + path + ": a trace file without its \"---\" line");
    }
    header = header.substr(0, sep);
  }
  if (header.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Status(ms::Code::kInvalidArgument, "--config " + path + ": empty: no key=value line");
  }
  auto parsed = SimConfig::Parse(header);
  if (!parsed.ok()) return Status(ms::Code::kInvalidArgument, "--config " + path + ": " + parsed.status().message());
  MS_RETURN_IF_ERROR(cli::ValidateConfig(*parsed, "--config " + path));
  return parsed;
}

struct RunArgs {
  std::string seed, seeds, first_seed, shard, jobs, time_budget, max_failures, swarm;
  std::string trace_path, fail_dir, json_path, junit_path, config_path;
  bool check_determinism = false, quiet = false, no_progress = false, stop_on_failure = false;
  // Config flags given, in the table's order (value, or "1" for a switch).
  std::vector<std::string> config_values;
  std::vector<bool> config_given;
};

Status WriteOutputs(const cli::CampaignReport& report, const std::string& json_path, const std::string& junit_path) {
  if (!json_path.empty()) MS_RETURN_IF_ERROR(cli::WriteFileAtomically(json_path, cli::ToJson(report)).Annotate("--json"));
  if (!junit_path.empty()) {
    MS_RETURN_IF_ERROR(cli::WriteFileAtomically(junit_path, cli::ToJUnit(report)).Annotate("--junit"));
  }
  return Status::Ok();
}

int Run(const RunArgs& a, CLI::App* run) {
  auto given = [run](const char* name) { return run->count(name) > 0; };
  cli::CampaignOptions o;
  o.self = Self();
  // The configuration: the default campaign, or a --config file, then flags.
  o.config = ms::sim::DefaultCampaignConfig();
  if (!a.config_path.empty()) {
    auto config = ReadConfigFile(a.config_path);
    if (!config.ok()) return UsageError(config.status().message());
    o.config = std::move(config).value();
    o.config_file = a.config_path;
  }
  const auto& flags = cli::ConfigFlags();
  for (size_t i = 0; i < flags.size(); ++i) {
    if (!a.config_given[i]) continue;
    if (Status st = flags[i].set(&o.config, a.config_values[i]); !st.ok()) {
      return UsageError(std::string(flags[i].name) + ": " + st.message());
    }
  }
  // The seeds.
  auto number = [&](const char* name, const std::string& text, uint64_t* out) -> bool {
    auto v = cli::ParseUnsigned(text);
    if (!v.ok()) {
      UsageError(std::string(name) + ": " + v.status().message());
      return false;
    }
    *out = *v;
    return true;
  };
  if (given("--seed")) {
    if (given("--seeds") || given("--first-seed") || given("--shard") || given("--time-budget")) {
      return UsageError("--seed runs one seed: it takes no --seeds, --first-seed, --shard or --time-budget");
    }
    o.single_seed = true;
    if (!number("--seed", a.seed, &o.first_seed)) return kExitUsage;
  } else {
    if (!a.trace_path.empty()) {
      return UsageError("--trace " + a.trace_path + ": needs --seed (a campaign writes failing seeds' traces to --fail-dir)");
    }
    if (given("--first-seed") && !number("--first-seed", a.first_seed, &o.first_seed)) return kExitUsage;
    const uint64_t room = UINT64_MAX - o.first_seed + 1;  // seeds first..UINT64_MAX (0: all 2^64)
    if (given("--seeds")) {
      if (!number("--seeds", a.seeds, &o.seeds)) return kExitUsage;
      if (o.seeds == 0) return UsageError("--seeds 0: no seed to run (at least 1)");
      if (room != 0 && o.seeds > room) {
        return UsageError("--seeds " + a.seeds + ": seeds " + std::to_string(o.first_seed) + ".. would pass the last seed " +
                          std::to_string(UINT64_MAX));
      }
    } else if (given("--time-budget")) {
      o.seeds = room == 0 ? UINT64_MAX : room;  // until the budget is spent
    } else {
      o.seeds = room != 0 ? std::min<uint64_t>(300, room) : 300;
    }
    if (given("--shard") || !a.shard.empty()) {
      auto shard = cli::ParseShard(a.shard);
      if (!shard.ok()) return UsageError("--shard: " + shard.status().message());
      o.shard = *shard;
    }
    if (cli::PlannedSeeds(o) == 0) {
      return UsageError("--shard " + std::to_string(o.shard.index) + "/" + std::to_string(o.shard.count) + ": none of the " +
                        std::to_string(o.seeds) + " seeds falls in this shard (zero work)");
    }
  }
  if (given("--time-budget")) {
    auto t = cli::ParseDurationSeconds(a.time_budget);
    if (!t.ok()) return UsageError("--time-budget: " + t.status().message());
    o.time_budget_s = *t;
  }
  if (given("--max-failures")) {
    if (!number("--max-failures", a.max_failures, &o.max_failures)) return kExitUsage;
    if (o.max_failures == 0) return UsageError("--max-failures 0: at least 1 (omit it for no limit)");
  }
  if (a.stop_on_failure) o.max_failures = 1;
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  o.jobs = static_cast<int>(std::min(cores, 1024u));
  if (given("--jobs")) {
    auto j = cli::ParseIntIn(a.jobs, 1, 1024);
    if (!j.ok()) return UsageError("--jobs: " + j.status().message());
    o.jobs = *j;
  }
  o.swarm = a.config_path.empty();  // the default campaign swarms; a --config file runs as it says
  if (given("--swarm")) {
    auto swarm = cli::ParseZeroOne(a.swarm);
    if (!swarm.ok()) return UsageError("--swarm: " + swarm.status().message());
    o.swarm = *swarm;
  }
  o.check_determinism = a.check_determinism;
  o.quiet = a.quiet;
  o.progress = !a.no_progress && ::isatty(2);
  o.trace_path = a.trace_path;
  o.fail_dir = a.fail_dir.empty() ? DefaultFailDir() : a.fail_dir;
  // Every output is checked before any work is done.
  if (!a.json_path.empty()) {
    if (Status st = cli::CheckWritableFile("--json", a.json_path); !st.ok()) return UsageError(st.message());
  }
  if (!a.junit_path.empty()) {
    if (Status st = cli::CheckWritableFile("--junit", a.junit_path); !st.ok()) return UsageError(st.message());
  }
  if (!a.trace_path.empty()) {
    if (Status st = cli::CheckWritableFile("--trace", a.trace_path); !st.ok()) return UsageError(st.message());
  } else if (Status st = cli::CheckWritableDir("--fail-dir", o.fail_dir); !st.ok()) {
    return UsageError(st.message());
  }

  Status output_error;
  const cli::CampaignReport report = cli::RunCampaign(o, &output_error);
  std::fputs(cli::TextReport(report).c_str(), stdout);
  std::fflush(stdout);
  if (Status st = WriteOutputs(report, a.json_path, a.junit_path); !st.ok() && output_error.ok()) output_error = st;
  if (!output_error.ok()) return UsageError(output_error.message());
  return report.Passed() ? kExitPass : kExitInvariantFailed;
}

int Replay(const std::string& path) {
  auto text = cli::ReadSmallFile("replay", path, kTraceBytesMax, kTraceMagic, "a modelstore-sim trace");
  if (!text.ok()) return UsageError(text.status().message());
  auto parsed = ms::sim::ParseTraceFile(*text);
  if (!parsed.ok()) return UsageError("replay " + path + ": " + parsed.status().message());
  auto& [config, trace] = parsed.value();
  if (Status st = cli::ValidateConfig(config, "replay " + path); !st.ok()) return UsageError(st.message());
  if (config.seed != trace.seed || config.strategy != trace.strategy) {
    return UsageError("replay " + path + ": its header (seed=" + std::to_string(config.seed) + ", strategy=" +
                      config.strategy + ") is not the run its schedule recorded (seed " + std::to_string(trace.seed) +
                      ", strategy " + trace.strategy + "): an edited header; `run --config " + path +
                      "` runs the header as it is");
  }
  const uint64_t recorded = trace.Hash();
  auto shared = std::make_shared<const ms::sim::Trace>(std::move(trace));
  SimReport r = ms::sim::RunSimulation(config, shared);
  std::printf("replay %s: seed %llu, %s, %llu steps, trace %s (recorded %s)\n", path.c_str(),
              static_cast<unsigned long long>(config.seed), std::string(ms::sim::OutcomeName(r.outcome)).c_str(),
              static_cast<unsigned long long>(r.steps), ms::sim::HashToHex(r.trace_hash).c_str(),
              ms::sim::HashToHex(recorded).c_str());
  if (r.outcome == ms::sim::Outcome::kReplayDiverged || r.trace_hash != recorded) {
    // Not this build's run of its header, or this build is nondeterministic:
    // two fresh runs of the header tell which.
    const SimReport a = ms::sim::RunSimulation(config);
    const SimReport b = ms::sim::RunSimulation(config);
    if (a.trace_hash == b.trace_hash && a.state_hash == b.state_hash && a.trace_hash != recorded) {
      return UsageError("replay " + path + ": the schedule is not the one its header gives in this build (an edited "
                        "header, or a trace from another build); `run --config " + path + "` runs the header as it is");
    }
    if (r.trace_hash != recorded && r.violations.empty()) {
      r.violations.push_back({"I6 determinism", r.steps, "replayed trace hash differs from the recorded one"});
    }
  }
  if (r.ok()) {
    std::printf("verdict: all invariants hold\n");
    return kExitPass;
  }
  std::printf("verdict: FAIL\n");
  for (const auto& v : r.violations) {
    std::printf("  %s violated at step %llu: %s\n", v.invariant.c_str(), static_cast<unsigned long long>(v.step),
                v.detail.c_str());
  }
  for (const auto& h : r.history) std::printf("    %s\n", h.c_str());
  std::printf("  shrink:  %s shrink %s\n", Self().c_str(), path.c_str());
  return kExitInvariantFailed;
}

int Merge(const std::vector<std::string>& paths, const std::string& json_path, const std::string& junit_path) {
  if (!json_path.empty()) {
    if (Status st = cli::CheckWritableFile("--json", json_path); !st.ok()) return UsageError(st.message());
  }
  if (!junit_path.empty()) {
    if (Status st = cli::CheckWritableFile("--junit", junit_path); !st.ok()) return UsageError(st.message());
  }
  std::vector<cli::CampaignReport> reports;
  for (const std::string& path : paths) {
    auto text = cli::ReadSmallFile("merge", path, kReportBytesMax);
    if (!text.ok()) return UsageError(text.status().message());
    auto report = cli::FromJson(*text);
    if (!report.ok()) return UsageError("merge " + path + ": " + report.status().message());
    reports.push_back(std::move(report).value());
  }
  auto merged = cli::Merge(reports, paths);
  if (!merged.ok()) return UsageError("merge " + merged.status().message());
  std::fputs(cli::TextReport(*merged).c_str(), stdout);
  std::fflush(stdout);
  if (Status st = WriteOutputs(*merged, json_path, junit_path); !st.ok()) return UsageError(st.message());
  if (merged->totals.failed > 0) return kExitInvariantFailed;
  if (const auto missing = merged->MissingShards(); !missing.empty()) {
    std::string list;
    for (uint64_t i : missing) list += (list.empty() ? "" : " ") + std::to_string(i);
    return UsageError("merge: incomplete campaign: no report for shard(s) " + list + " of " +
                      std::to_string(merged->shard_count));
  }
  return merged->Passed() ? kExitPass : kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"modelstore-sim: deterministic simulation of the ModelStore (one seed = one exact run)"};
  app.require_subcommand(1);
  app.footer(
      "Exit status: 0 every invariant held; 1 an invariant failed; 2 bad usage, bad configuration, unreadable "
      "input or unwritable output (one line on stderr naming the flag or file).");
  const SimConfig defaults = ms::sim::DefaultCampaignConfig();

  RunArgs a;
  auto* run = app.add_subcommand("run", "run one seed (--seed) or a campaign of seeds (--seeds)");
  // A flag given twice takes its last value, so a script can append
  // overrides to a base set of flags.
  run->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  run->add_option("--seed", a.seed, "run exactly this seed")->type_name("N");
  run->add_option("--seeds", a.seeds, "number of seeds in the campaign (default 300; with --time-budget: no limit)")->type_name("N");
  run->add_option("--first-seed", a.first_seed, "first seed of the campaign")->default_str("1")->type_name("N");
  run->add_option("--shard", a.shard,
                  "run the I-th of N disjoint slices of the seeds, as I/N; auto (or auto/N): I (and N) from "
                  "MS_SHARD_INDEX/MS_SHARD_COUNT, JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or "
                  "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT")
      ->default_str("0/1")->type_name("I/N");
  run->add_option("--jobs", a.jobs, "seeds run in parallel (threads); the report is the same for any N")->type_name("N")
      ->default_str(std::to_string(std::max(1u, std::thread::hardware_concurrency())) + " (the machine's cores)");
  run->add_option("--time-budget", a.time_budget,
                  "start no seed after this long (90s, 10m, 1.5h): runs seeds until the budget is spent")->type_name("DURATION");
  run->add_option("--max-failures", a.max_failures, "stop after this many failing seeds")->type_name("K");
  run->add_flag("--stop-on-failure", a.stop_on_failure, "end the campaign at the first failing seed (--max-failures 1)");
  const auto& flags = cli::ConfigFlags();
  a.config_values.resize(flags.size());
  a.config_given.resize(flags.size());
  std::vector<CLI::Option*> config_options;
  for (size_t i = 0; i < flags.size(); ++i) {
    const cli::ConfigFlag& flag = flags[i];
    if (flag.is_switch) {
      config_options.push_back(run->add_flag(flag.name, flag.help));
    } else {
      config_options.push_back(run->add_option(flag.name, a.config_values[i], flag.help)
                                   ->default_str(flag.get(defaults))
                                   ->type_name(flag.value_name));
    }
  }
  run->add_option("--swarm", a.swarm,
                  "1: each seed runs a random subset of the features around these flags (swarm testing); 0: every "
                  "seed runs exactly these flags")
      ->default_str("1, or 0 with --config")->type_name("0|1");
  run->add_option("--config", a.config_path,
                  "take the configuration from this file: the key=value lines of a trace file's header (or the "
                  "trace file itself: explicit scripts, crash_at, fault_at, ...); flags given too override it, "
                  "--seed/--seeds still choose the seeds")->type_name("FILE");
  run->add_option("--trace", a.trace_path, "with --seed: write the run's trace file here")->type_name("FILE");
  run->add_option("--fail-dir", a.fail_dir,
                  "where failing seeds' traces go (seed-N.trace; a passing seed's old trace there is removed)")
      ->default_str("sim-failures beside the build's sim/ directory")->type_name("DIR");
  run->add_option("--json", a.json_path, "also write the report as JSON (schema modelstore-sim-report v1, see README)")->type_name("FILE");
  run->add_option("--junit", a.junit_path, "also write the report as JUnit XML (a test case per invariant and per failing seed)")->type_name("FILE");
  run->add_flag("--check-determinism", a.check_determinism, "run each seed twice, compare trace and disk hashes (I6)");
  run->add_flag("--quiet", a.quiet, "only the report");
  run->add_flag("--no-progress", a.no_progress, "no progress bar");

  std::string replay_path;
  auto* replay = app.add_subcommand("replay", "re-run a trace file exactly and report the same verdict");
  replay->add_option("file", replay_path, "trace file written by a run")->required()->type_name("TRACE");

  std::vector<std::string> merge_paths;
  std::string merge_json, merge_junit;
  auto* merge = app.add_subcommand(
      "merge", "combine the --json reports of the shards of one campaign into one report (text, --json, --junit)");
  merge->add_option("reports", merge_paths, "REPORT.json files, one per shard")->required()->type_name("REPORT.json");
  merge->add_option("--json", merge_json, "write the merged report as JSON")->type_name("FILE");
  merge->add_option("--junit", merge_junit, "write the merged report as JUnit XML")->type_name("FILE");

  cli::ShrinkOptions shrink_options;
  std::string max_runs;
  auto* shrink = app.add_subcommand(
      "shrink", "minimise a failing run (actors, operations, faults, crashes, schedule) while the same invariant fails");
  shrink->add_option("trace", shrink_options.trace_path, "trace file of a failing run")->required()->type_name("TRACE");
  shrink->add_option("--out", shrink_options.out_path, "where the minimal trace goes")->default_str("TRACE with .min.trace")->type_name("FILE");
  shrink->add_option("--invariant", shrink_options.invariant, "the invariant to keep failing")
      ->default_str("the run's first violation")->type_name("NAME");
  shrink->add_option("--max-runs", max_runs, "simulations at most")->default_str("5000")->type_name("N");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string message = e.what();
    std::replace(message.begin(), message.end(), '\n', ' ');
    return UsageError(message + " (see --help)");
  }
  for (size_t i = 0; i < flags.size(); ++i) {
    a.config_given[i] = config_options[i]->count() > 0;
    if (a.config_given[i] && flags[i].is_switch) a.config_values[i] = "1";
  }
  if (*run) return Run(a, run);
  if (*replay) return Replay(replay_path);
  if (*merge) return Merge(merge_paths, merge_json, merge_junit);
  shrink_options.self = Self();
  if (!max_runs.empty()) {
    auto n = cli::ParseUnsigned(max_runs, 10'000'000);
    if (!n.ok() || *n == 0) return UsageError("--max-runs: \"" + max_runs + "\" is not a positive integer");
    shrink_options.max_runs = *n;
  }
  return cli::Shrink(shrink_options);
}
