#include "sim/cli/campaign.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <algorithm>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "sim/cli/config_flags.h"
#include "sim/cli/output_file.h"

namespace ms::cli {
namespace {

using Clock = std::chrono::steady_clock;

// The bar fills with seeds, or with time under a --time-budget.
void Progress(uint64_t done, uint64_t total, uint64_t failed, double elapsed_s, double budget_s) {
  constexpr int kWidth = 40;
  const double part = budget_s > 0 ? std::min(1.0, elapsed_s / budget_s)
                                   : (total ? static_cast<double>(done) / static_cast<double>(total) : 1.0);
  const int filled = static_cast<int>(kWidth * part);
  std::fprintf(stderr, "\r[%.*s%*s] %llu", filled, "========================================", kWidth - filled, "",
               static_cast<unsigned long long>(done));
  if (budget_s > 0) {
    std::fprintf(stderr, " seeds, %llu failed, %.0f of %.0f s", static_cast<unsigned long long>(failed), elapsed_s,
                 budget_s);
  } else {
    std::fprintf(stderr, "/%llu seeds, %llu failed", static_cast<unsigned long long>(total),
                 static_cast<unsigned long long>(failed));
  }
}

void PrintFailure(const FailedSeed& f, const CampaignOptions& o) {
  std::printf("\nFAIL seed %llu (%s)\n", static_cast<unsigned long long>(f.seed), f.outcome.c_str());
  for (const auto& v : f.violations) {
    std::printf("  %s violated at step %llu: %s\n", v.invariant.c_str(), static_cast<unsigned long long>(v.step),
                v.detail.c_str());
  }
  if (!f.history.empty()) {
    std::printf("  operations leading there:\n");
    for (const auto& h : f.history) std::printf("    %s\n", h.c_str());
  }
  if (f.trace_path.empty()) {
    std::printf("  (no trace: it could not be written)\n");
  } else {
    std::printf("  replay:  %s replay %s\n", o.self.c_str(), Pretty(f.trace_path).c_str());
    std::printf("  shrink:  %s shrink %s\n", o.self.c_str(), Pretty(f.trace_path).c_str());
  }
  std::printf("  re-run:  %s run %s\n", o.self.c_str(), f.rerun.c_str());
  std::fflush(stdout);
}

// The k-th seed of the shard.
uint64_t SeedAt(const CampaignOptions& o, uint64_t k) {
  return o.single_seed ? o.first_seed : o.first_seed + o.shard.index + k * o.shard.count;
}

}  // namespace

uint64_t PlannedSeeds(const CampaignOptions& o) {
  if (o.single_seed) return 1;
  if (o.seeds <= o.shard.index) return 0;
  return (o.seeds - o.shard.index - 1) / o.shard.count + 1;
}

sim::SimReport RunSeed(const sim::SimConfig& base, uint64_t seed, bool swarm, bool check_determinism,
                       bool keep_trace) {
  sim::SimConfig config = base;
  config.seed = seed;
  if (swarm) config = sim::SwarmConfig(base, seed);
  sim::SimReport r = sim::RunSimulation(config);
  if (check_determinism) {
    const sim::SimReport again = sim::RunSimulation(config);
    if (again.trace_hash != r.trace_hash || again.state_hash != r.state_hash ||
        again.violations.size() != r.violations.size()) {
      r.violations.push_back({"I6 determinism", r.steps,
                              "a second run of the seed differs: trace " + sim::HashToHex(r.trace_hash) + " vs " +
                                  sim::HashToHex(again.trace_hash) + ", disk " + sim::HashToHex(r.state_hash) + " vs " +
                                  sim::HashToHex(again.state_hash)});
    }
  }
  if (r.ok() && !keep_trace) {
    r.trace_file.clear();  // kept only for failures: a campaign may buffer many reports
    r.trace_file.shrink_to_fit();
  }
  return r;
}

CampaignReport RunCampaign(const CampaignOptions& o, Status* output_error) {
  CampaignReport report;
  report.config = o.config;
  report.config.seed = o.first_seed;
  report.check_determinism = o.check_determinism;
  report.swarm = o.swarm;
  report.single_seed = o.single_seed;
  report.first_seed = o.first_seed;
  report.seeds = o.single_seed ? 1 : o.seeds;
  report.shard_count = o.single_seed ? 1 : o.shard.count;
  report.time_budget_s = o.time_budget_s;
  report.max_failures = o.max_failures;
  ShardRun shard;
  shard.index = o.single_seed ? 0 : o.shard.index;
  shard.seeds_planned = PlannedSeeds(o);
  shard.jobs = o.jobs;
  shard.build = BuildIdentity();

  const uint64_t planned = shard.seeds_planned;
  const bool progress = o.progress && planned > 1;
  const auto start = Clock::now();
  const auto budget_spent = [&] {
    return o.time_budget_s > 0 &&
           std::chrono::duration<double>(Clock::now() - start).count() >= o.time_budget_s;
  };

  // Workers take seed indices in order and park their reports; this thread
  // consumes them in seed order. A worker runs at most `window` ahead of
  // the consumer, so buffered reports stay bounded.
  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, sim::SimReport> done;
  uint64_t next = 0;      // the next index to hand out
  uint64_t issued = 0;    // indices handed out (each will be run)
  uint64_t consumed = 0;  // reports taken in order
  bool stop = false;
  const int jobs = std::max(1, o.jobs);
  const uint64_t window = static_cast<uint64_t>(jobs) * 4;

  auto take = [&](uint64_t* k) {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return stop || next >= planned || next < consumed + window; });
    if (stop || next >= planned) return false;
    if (budget_spent()) {
      stop = true;
      shard.stopped_by = "time-budget";
      cv.notify_all();
      return false;
    }
    *k = next++;
    issued = next;
    return true;
  };
  auto worker = [&] {
    uint64_t k = 0;
    while (take(&k)) {
      sim::SimReport r = RunSeed(o.config, SeedAt(o, k), o.swarm, o.check_determinism, !o.trace_path.empty());
      std::lock_guard lock(mu);
      done.emplace(k, std::move(r));
      cv.notify_all();
    }
    std::lock_guard lock(mu);
    cv.notify_all();
  };
  std::vector<std::thread> threads;
  if (jobs > 1) {
    for (int i = 0; i < jobs; ++i) threads.emplace_back(worker);
  }

  size_t detailed = 0;
  uint64_t failures = 0;
  bool stopped_for_failures = false;
  while (true) {
    sim::SimReport r;
    if (jobs == 1) {
      uint64_t k = 0;
      if (!take(&k)) break;
      r = RunSeed(o.config, SeedAt(o, k), o.swarm, o.check_determinism, !o.trace_path.empty());
    } else {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return done.count(consumed) != 0 || ((stop || next >= planned) && consumed >= issued); });
      auto it = done.find(consumed);
      if (it == done.end()) break;
      r = std::move(it->second);
      done.erase(it);
    }
    {
      std::lock_guard lock(mu);
      ++consumed;
      cv.notify_all();
    }
    const uint64_t seed = r.config.seed;
    Accumulate(&report.totals, r);
    const std::string default_trace = o.fail_dir + "/seed-" + std::to_string(seed) + ".trace";
    const std::string trace_path = !o.trace_path.empty() ? o.trace_path : default_trace;
    if (!o.trace_path.empty() && r.ok()) {
      // --trace with --seed: the run's trace whatever the verdict.
      const Status st = WriteFileAtomically(o.trace_path, r.trace_file);
      if (!st.ok() && output_error->ok()) *output_error = st.Annotate("--trace");
    }
    if (r.ok() && o.trace_path.empty() && !o.fail_dir.empty()) {
      // A trace left by an earlier campaign for a seed that now passes is stale.
      std::error_code ec;
      std::filesystem::remove(default_trace, ec);
    }
    if (!r.ok()) {
      ++failures;
      FailedSeed f;
      f.seed = seed;
      f.outcome = std::string(sim::OutcomeName(r.outcome));
      f.violations = r.violations;
      f.history = r.history;
      const Status st = WriteFileAtomically(trace_path, r.trace_file);
      if (st.ok()) {
        f.trace_path = trace_path;
      } else if (output_error->ok()) {
        *output_error = st.Annotate(o.trace_path.empty() ? "--fail-dir" : "--trace");
      }
      // The seed's own configuration (a swarm's draw), exactly, swarm off.
      const std::string flags = RerunFlags(r.config);
      if (!flags.empty()) {
        f.rerun = flags + " --swarm 0";
      } else {
        const std::string from = !f.trace_path.empty() ? f.trace_path : o.config_file;
        f.rerun = "--config " + Pretty(from) + " --seed " + std::to_string(seed);
      }
      if (detailed < o.detailed_failures_max) {
        if (progress) std::fprintf(stderr, "\r\033[K");
        PrintFailure(f, o);
        ++detailed;
      }
      report.failures.push_back(std::move(f));
      if (o.max_failures > 0 && failures >= o.max_failures) {
        stopped_for_failures = true;
        std::lock_guard lock(mu);
        stop = true;
        cv.notify_all();
      }
    }
    if (progress && (consumed == planned || consumed % std::max<uint64_t>(1, std::min<uint64_t>(planned / 100, 50)) == 0)) {
      Progress(consumed, planned, report.totals.failed,
               std::chrono::duration<double>(Clock::now() - start).count(), o.time_budget_s);
    }
    if (o.single_seed && !o.quiet) {
      std::printf("seed %llu: %s, %llu steps, trace %s, disk %s\n", static_cast<unsigned long long>(seed),
                  std::string(sim::OutcomeName(r.outcome)).c_str(), static_cast<unsigned long long>(r.steps),
                  sim::HashToHex(r.trace_hash).c_str(), sim::HashToHex(r.state_hash).c_str());
    }
    if (stopped_for_failures) break;
  }
  for (std::thread& t : threads) t.join();
  if (progress) {
    Progress(consumed, planned, report.totals.failed, std::chrono::duration<double>(Clock::now() - start).count(),
             o.time_budget_s);
    std::fprintf(stderr, "\n");
  }
  if (stopped_for_failures) shard.stopped_by = "max-failures";
  if (report.failures.size() > detailed) {
    std::printf("\n... and %zu more failing seed(s), not detailed above: each has its trace in %s and its line in "
                "--json/--junit\n",
                report.failures.size() - detailed, Pretty(o.fail_dir).c_str());
  }
  shard.seeds_run = report.totals.seeds;
  shard.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  report.shards.push_back(shard);
  return report;
}

}  // namespace ms::cli
