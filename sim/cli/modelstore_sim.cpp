// modelstore-sim: runs seeds of the deterministic simulation and reports.
//
// The wall clock here only measures throughput for the report; it never
// reaches the simulation, which lives in the sim library and reads no clock.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "sim/workload/simulator.h"

namespace {

using ms::sim::SimConfig;
using ms::sim::SimReport;

struct CampaignFlags {
  uint64_t seed = 0;
  bool seed_given = false;
  uint64_t seeds = 300;
  uint64_t first_seed = 1;
  std::string shard = "0/1";
  std::string trace_path;
  std::string fail_dir = "build/sim-failures";
  std::string json_path;
  bool check_determinism = false;
  bool quiet = false;
  bool no_progress = false;
  bool stop_on_failure = false;
};

std::string Quote(const std::string& s) {
  return s.find_first_of(" \t'\"") == std::string::npos ? s : "'" + s + "'";
}

// The flags that rebuild this exact run, for the replay line.
std::string RunFlags(const SimConfig& c) {
  std::ostringstream out;
  out << "--seed " << c.seed << " --strategy " << Quote(c.strategy) << " --actors " << c.actors
      << " --ops " << c.ops << " --processes " << c.processes << " --faults " << c.fault_rate
      << " --crashes " << c.crash_rate;
  out << " --tenant-writes " << c.tenant_writes << " --status-corruptions " << c.status_corruptions
      << " --corrupt-at-sweep " << (c.corrupt_at_sweep ? 1 : 0) << " --link-max " << c.link_max
      << " --gc-rounds " << c.gc_rounds << " --tag-moves " << c.tag_moves << " --client-lanes " << c.client_lanes;
  out << " --crash-model " << c.crash_model << " --tag-moves-spread "
      << (c.tag_moves_spread ? 1 : 0);
  out << " --overlap-release " << (c.overlap_release ? 1 : 0);
  if (c.break_entry_lock) out << " --break-entry-lock";
  return out.str();
}

std::string Self() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "modelstore-sim";
  auto rel = std::filesystem::relative(p, std::filesystem::current_path(), ec);
  return ec ? p.string() : rel.string();
}

bool WriteText(const std::string& path, const std::string& text) {
  std::error_code ec;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

void PrintFailure(const SimReport& r, const std::string& trace_path) {
  std::cout << "\nFAIL seed " << r.config.seed << " (" << ms::sim::OutcomeName(r.outcome) << ")\n";
  for (const auto& v : r.violations) {
    std::cout << "  " << v.invariant << " violated at step " << v.step << ": " << v.detail << "\n";
  }
  if (!r.history.empty()) {
    std::cout << "  operations leading there:\n";
    for (const auto& h : r.history) std::cout << "    " << h << "\n";
  }
  std::cout << "  replay:  " << Self() << " replay " << trace_path << "\n";
  std::cout << "  re-run:  " << Self() << " run " << RunFlags(r.config) << "\n";
}

struct Totals {
  uint64_t seeds = 0, failed = 0, steps = 0, crashes = 0, fs_faults = 0, registry_faults = 0;
  uint64_t fetches = 0, unique_fetched = 0, disk_bytes = 0, referenced_bytes = 0, content_bytes = 0;
  int64_t virtual_ms = 0;
  std::map<std::string, uint64_t> ops, op_errors;
  std::map<std::string, uint64_t> violated;  // invariant -> seeds
  bool determinism_checked = false;
};

void Accumulate(Totals* t, const SimReport& r) {
  ++t->seeds;
  t->steps += r.steps;
  t->crashes += r.crashes;
  t->fs_faults += r.fs_faults;
  t->registry_faults += r.registry_faults;
  t->virtual_ms += r.virtual_ms;
  for (const auto& [k, v] : r.ops) t->ops[k] += v;
  for (const auto& [k, v] : r.op_errors) t->op_errors[k] += v;
  for (const auto& [d, n] : r.manifest_fetches) {
    t->fetches += n;
    ++t->unique_fetched;
  }
  t->disk_bytes += r.footprint.bytes_on_disk;
  t->referenced_bytes += r.footprint.unique_referenced;
  t->content_bytes += r.footprint.unique_content_bytes;
  if (!r.ok()) ++t->failed;
  std::set<std::string> seen;
  for (const auto& v : r.violations) {
    if (seen.insert(v.invariant).second) ++t->violated[v.invariant];
  }
}

void PrintReport(const Totals& t, const SimConfig& c, double wall_s, const std::string& seeds_text) {
  auto per = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  std::printf("\nmodelstore-sim report\n");
  std::printf("  seeds          %s: %llu run, %llu ok, %llu failed\n", seeds_text.c_str(),
              static_cast<unsigned long long>(t.seeds), static_cast<unsigned long long>(t.seeds - t.failed),
              static_cast<unsigned long long>(t.failed));
  std::printf("  workload       strategy %s, %d processes, %d actors x %d ops, faults %g, crashes %g (%s)\n",
              c.strategy.c_str(), c.processes, c.actors, c.ops, c.fault_rate, c.crash_rate, c.crash_model.c_str());
  std::printf("  steps          %llu (%.0f per seed), %.1f virtual s\n",
              static_cast<unsigned long long>(t.steps), per(static_cast<double>(t.steps), static_cast<double>(t.seeds)),
              static_cast<double>(t.virtual_ms) / 1000.0);
  std::printf("  speed          %.1f seeds/s, %.0f scheduling points/s (wall %.2f s)\n",
              per(static_cast<double>(t.seeds), wall_s), per(static_cast<double>(t.steps), wall_s), wall_s);
  std::printf("  operations    ");
  for (const auto& [k, v] : t.ops) std::printf(" %s %llu", k.c_str(), static_cast<unsigned long long>(v));
  std::printf("\n");
  if (!t.op_errors.empty()) {
    std::printf("  op errors     ");
    int shown = 0;
    for (const auto& [k, v] : t.op_errors) {
      if (shown++ == 8) {
        std::printf(" ...");
        break;
      }
      std::printf(" [%s] %llu", k.c_str(), static_cast<unsigned long long>(v));
    }
    std::printf("\n");
  }
  std::printf("  faults         filesystem %llu, registry %llu; crashes %llu\n",
              static_cast<unsigned long long>(t.fs_faults), static_cast<unsigned long long>(t.registry_faults),
              static_cast<unsigned long long>(t.crashes));
  std::printf("  fetches        %.3f manifest fetches per unique digest per seed (%llu / %llu)\n",
              per(static_cast<double>(t.fetches), static_cast<double>(t.unique_fetched)),
              static_cast<unsigned long long>(t.fetches), static_cast<unsigned long long>(t.unique_fetched));
  std::printf("  footprint      bytes on disk / unique referenced bytes = %.4f (%llu / %llu, at quiescence)\n",
              t.referenced_bytes > 0 ? per(static_cast<double>(t.disk_bytes), static_cast<double>(t.referenced_bytes)) : 1.0,
              static_cast<unsigned long long>(t.disk_bytes), static_cast<unsigned long long>(t.referenced_bytes));
  std::printf("  blob-level     bytes on disk / unique file-content bytes = %.4f (%llu / %llu): manifest-level dedup only (DESIGN 2.8)\n",
              t.content_bytes > 0 ? per(static_cast<double>(t.disk_bytes), static_cast<double>(t.content_bytes)) : 1.0,
              static_cast<unsigned long long>(t.disk_bytes), static_cast<unsigned long long>(t.content_bytes));
  for (const char* name : ms::sim::kInvariantNames) {
    auto it = t.violated.find(name);
    const bool is_i6 = std::string_view(name) == "I6 determinism";
    if (it != t.violated.end()) {
      std::printf("  %-24s FAIL in %llu seed(s)\n", name, static_cast<unsigned long long>(it->second));
    } else if (is_i6 && !t.determinism_checked) {
      std::printf("  %-24s not checked (add --check-determinism)\n", name);
    } else {
      std::printf("  %-24s PASS\n", name);
    }
  }
  std::printf("%llu passed, %llu failed\n", static_cast<unsigned long long>(t.seeds - t.failed),
              static_cast<unsigned long long>(t.failed));
}

void Progress(uint64_t done, uint64_t total, uint64_t failed) {
  constexpr int kWidth = 40;
  const int filled = total ? static_cast<int>(kWidth * done / total) : kWidth;
  std::fprintf(stderr, "\r[%.*s%*s] %llu/%llu seeds, %llu failed", filled,
               "========================================", kWidth - filled, "",
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
               static_cast<unsigned long long>(failed));
  if (done == total) std::fprintf(stderr, "\n");
}

int RunCampaign(SimConfig base, const CampaignFlags& f) {
  uint64_t shard_index = 0, shard_count = 1;
  if (std::sscanf(f.shard.c_str(), "%llu/%llu", reinterpret_cast<unsigned long long*>(&shard_index),
                  reinterpret_cast<unsigned long long*>(&shard_count)) != 2 ||
      shard_count == 0 || shard_index >= shard_count) {
    std::cerr << "error: --shard \"" << f.shard << "\" must be I/N with 0 <= I < N\n";
    return 2;
  }
  if (auto spec = ms::sim::ParseStrategySpec(base.strategy); !spec.ok()) {
    std::cerr << "error: --strategy: " << spec.status().message() << "\n";
    return 2;
  }
  std::vector<uint64_t> seeds;
  if (f.seed_given) {
    seeds.push_back(f.seed);
  } else {
    for (uint64_t i = 0; i < f.seeds; ++i) {
      if (i % shard_count == shard_index) seeds.push_back(f.first_seed + i);
    }
  }
  std::string seeds_text = f.seed_given ? "seed " + std::to_string(f.seed)
                                        : std::to_string(f.first_seed) + ".." +
                                              std::to_string(f.first_seed + f.seeds - 1) +
                                              (shard_count > 1 ? " shard " + f.shard : "");
  const bool tty = !f.no_progress && ::isatty(2) && seeds.size() > 1;
  Totals totals;
  totals.determinism_checked = f.check_determinism;
  int printed_failures = 0;
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < seeds.size(); ++i) {
    SimConfig config = base;
    config.seed = seeds[i];
    SimReport r = ms::sim::RunSimulation(config);
    if (f.check_determinism) {
      const SimReport again = ms::sim::RunSimulation(config);
      if (again.trace_hash != r.trace_hash || again.state_hash != r.state_hash ||
          again.violations.size() != r.violations.size()) {
        r.violations.push_back({"I6 determinism", r.steps,
                                "a second run of the seed differs: trace " + ms::sim::HashToHex(r.trace_hash) +
                                    " vs " + ms::sim::HashToHex(again.trace_hash) + ", disk " +
                                    ms::sim::HashToHex(r.state_hash) + " vs " + ms::sim::HashToHex(again.state_hash)});
      }
    }
    Accumulate(&totals, r);
    if (!f.trace_path.empty() && seeds.size() == 1) WriteText(f.trace_path, r.trace_file);
    if (!r.ok()) {
      const std::string path = !f.trace_path.empty() && seeds.size() == 1
                                   ? f.trace_path
                                   : f.fail_dir + "/seed-" + std::to_string(config.seed) + ".trace";
      WriteText(path, r.trace_file);
      if (tty) std::fprintf(stderr, "\n");
      if (printed_failures++ < 5) PrintFailure(r, path);
      if (f.stop_on_failure) break;
    }
    if (tty && (i + 1 == seeds.size() || (i + 1) % std::max<size_t>(1, seeds.size() / 100) == 0)) {
      Progress(i + 1, seeds.size(), totals.failed);
    }
    if (seeds.size() == 1 && !f.quiet) {
      std::printf("seed %llu: %s, %llu steps, trace %s, disk %s\n", static_cast<unsigned long long>(config.seed),
                  std::string(ms::sim::OutcomeName(r.outcome)).c_str(), static_cast<unsigned long long>(r.steps),
                  ms::sim::HashToHex(r.trace_hash).c_str(), ms::sim::HashToHex(r.state_hash).c_str());
    }
  }
  const double wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  PrintReport(totals, base, wall_s, seeds_text);
  if (!f.json_path.empty()) {
    std::ostringstream j;
    j << "{\"seeds\":" << totals.seeds << ",\"failed\":" << totals.failed << ",\"steps\":" << totals.steps
      << ",\"wall_s\":" << wall_s << ",\"seeds_per_s\":" << (wall_s > 0 ? totals.seeds / wall_s : 0)
      << ",\"steps_per_s\":" << (wall_s > 0 ? totals.steps / wall_s : 0) << "}\n";
    WriteText(f.json_path, j.str());
  }
  return totals.failed == 0 ? 0 : 1;
}

int Replay(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "error: cannot read trace file " << path << "\n";
    return 2;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  auto parsed = ms::sim::ParseTraceFile(buf.str());
  if (!parsed.ok()) {
    std::cerr << "error: " << path << ": " << parsed.status().message() << "\n";
    return 2;
  }
  auto& [config, trace] = parsed.value();
  const uint64_t recorded = trace.Hash();
  auto shared = std::make_shared<const ms::sim::Trace>(std::move(trace));
  SimReport r = ms::sim::RunSimulation(config, shared);
  std::printf("replay %s: seed %llu, %s, %llu steps, trace %s (recorded %s)\n", path.c_str(),
              static_cast<unsigned long long>(config.seed), std::string(ms::sim::OutcomeName(r.outcome)).c_str(),
              static_cast<unsigned long long>(r.steps), ms::sim::HashToHex(r.trace_hash).c_str(),
              ms::sim::HashToHex(recorded).c_str());
  if (r.trace_hash != recorded && r.violations.empty()) {
    r.violations.push_back({"I6 determinism", r.steps, "replayed trace hash differs from the recorded one"});
  }
  if (r.ok()) {
    std::printf("verdict: all invariants hold\n");
    return 0;
  }
  std::printf("verdict: FAIL\n");
  for (const auto& v : r.violations) std::printf("  %s violated at step %llu: %s\n", v.invariant.c_str(),
                                                 static_cast<unsigned long long>(v.step), v.detail.c_str());
  for (const auto& h : r.history) std::printf("    %s\n", h.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"modelstore-sim: deterministic simulation of the ModelStore (one seed = one exact run)"};
  app.require_subcommand(1);
  // The default campaign (`./run sim`): 300 seeds with faults and crashes.
  SimConfig config = ms::sim::DefaultCampaignConfig();
  CampaignFlags f;
  auto* run = app.add_subcommand("run", "run one seed (--seed) or a campaign of seeds (--seeds)");
  // A flag given twice takes its last value, so a script can append
  // overrides to a base set of flags.
  run->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  run->add_option("--seed", f.seed, "run exactly this seed")->each([&](const std::string&) { f.seed_given = true; });
  run->add_option("--seeds", f.seeds, "number of seeds in the campaign")->capture_default_str();
  run->add_option("--first-seed", f.first_seed, "first seed of the campaign")->capture_default_str();
  run->add_option("--shard", f.shard, "run the I-th of N disjoint slices of the seeds, as I/N")->capture_default_str();
  run->add_option("--strategy", config.strategy, "scheduler: random, pct:D (D-1 change points) or rr")
      ->capture_default_str();
  run->add_option("--actors", config.actors, "client actors (kubelet streams)")->capture_default_str()->check(CLI::Range(1, 64));
  run->add_option("--ops", config.ops, "CSI calls per client actor")->capture_default_str()->check(CLI::Range(0, 10000));
  run->add_option("--processes", config.processes, "driver processes sharing the root")->capture_default_str()->check(CLI::Range(1, 8));
  run->add_option("--faults", config.fault_rate, "fault probability per port call")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  run->add_option("--crashes", config.crash_rate, "crash probability per scheduling step")->capture_default_str()->check(CLI::Range(0.0, 1.0));
  run->add_option("--crashes-max", config.crashes_max, "crashes per seed at most")->capture_default_str();
  run->add_option("--max-steps", config.max_steps, "step bound (I4: more is a livelock)")->capture_default_str();
  run->add_option("--gc-rounds", config.gc_rounds, "sweeps/GCs per driver process's GC actor")->capture_default_str()->check(CLI::Range(0, 10000));
  run->add_option("--tag-moves", config.tag_moves, "registry tag moves per run")->capture_default_str()->check(CLI::Range(0, 10000));
  run->add_option("--tenant-writes", config.tenant_writes,
                  "writes by a container through a file of a succeeded volume, per run (DESIGN 2.5)")
      ->capture_default_str()->check(CLI::Range(0, 10000));
  run->add_option("--status-corruptions", config.status_corruptions,
                  "status.json files truncated or garbled during the run (DESIGN 2.6)")
      ->capture_default_str()->check(CLI::Range(0, 10000));
  run->add_option("--corrupt-at-sweep", config.corrupt_at_sweep,
                  "1: garble one succeeded record's status.json right before the final sweep (DESIGN 2.6)")
      ->capture_default_str();
  run->add_option("--client-lanes", config.client_lanes,
                  "calls each client may have in flight at once (an impatient kubelet); 1: one at a time")
      ->capture_default_str()->check(CLI::Range(1, 16));
  auto* crash_model = run->add_option("--crash-model", config.crash_model,
                  "what a power loss keeps of what was not synced: adversarial (any subset the Filesystem port's "
                  "promises allow), ordered-metadata (a prefix, data before the names exposing it), journaled "
                  "(every namespace change at once, file bytes at their fsync), or mixed (one per seed)")
      ->capture_default_str()
      ->check(CLI::IsMember({"adversarial", "ordered-metadata", "journaled", "mixed"}));
  bool metadata_durable = false;
  run->add_option("--metadata-durable", metadata_durable, "1: the same as --crash-model journaled (older re-run lines)")
      ->each([&](const std::string& v) {
        if (v == "1") config.crash_model = "journaled";
      });
  run->add_option("--tag-moves-spread", config.tag_moves_spread,
                  "1: tag moves wait for client calls to finish, landing between pulls; 0: all at the start")
      ->capture_default_str();
  run->add_option("--overlap-release", config.overlap_release,
                  "1: with --client-lanes > 1, a release (a static unpublish) may start over calls in flight "
                  "into its volume; 0: it waits for them")
      ->capture_default_str();
  run->add_option("--link-max", config.link_max,
                  "hard links per file beyond which link fails with EMLINK, every time; 0: none (DESIGN 2.7)")
      ->capture_default_str();
  run->add_option("--trace", f.trace_path, "with --seed: write the run's trace file here");
  run->add_option("--fail-dir", f.fail_dir, "where failing seeds' traces go")->capture_default_str();
  run->add_option("--json", f.json_path, "also write the summary figures as JSON");
  run->add_flag("--check-determinism", f.check_determinism, "run each seed twice, compare trace and disk hashes (I6)");
  run->add_flag("--quiet", f.quiet, "only the report");
  run->add_flag("--no-progress", f.no_progress, "no progress bar");
  run->add_flag("--stop-on-failure", f.stop_on_failure,
                "end the campaign at the first failing seed (mutation testing: seeds to first failure)");
  run->add_flag("--break-entry-lock", config.break_entry_lock,
                "simulate a deliberately broken store (no entry lock) to see the checker fail");
  std::string replay_path;
  auto* replay = app.add_subcommand("replay", "re-run a trace file exactly and report the same verdict");
  replay->add_option("file", replay_path, "trace file written by a failing run")->required();
  std::string config_path;
  run->add_option("--config", config_path,
                  "take the workload from this file (the key=value lines of a trace file's header: explicit "
                  "scripts, crash_at, fault_at, ...); workload flags are then ignored, --seed/--seeds still apply");
  CLI11_PARSE(app, argc, argv);
  if (*replay) return Replay(replay_path);
  if (!config_path.empty()) {
    std::ifstream in(config_path, std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    auto parsed = SimConfig::Parse(buf.str());
    if (!in || !parsed.ok()) {
      std::cerr << "error: --config " << config_path << ": "
                << (in ? parsed.status().message() : std::string("cannot read")) << "\n";
      return 2;
    }
    const std::string model = config.crash_model;
    config = std::move(parsed).value();
    // Given explicitly, the crash model applies to the file's workload too.
    if (crash_model->count() > 0) config.crash_model = model;
  }
  return RunCampaign(config, f);
}
