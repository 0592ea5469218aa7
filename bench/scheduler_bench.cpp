// scheduler_bench: what one scheduling decision costs.
//
//   BareFiberSwitch               a Boost.Context fiber switch round trip
//                                 (main -> fiber -> main): the floor, since a
//                                 decision is one such round trip plus the
//                                 scheduler's bookkeeping.
//   SchedulerDecision/<s>/<n>     n actors that only Yield, under strategy s;
//                                 one Run of kDecisionsPerRun decisions per
//                                 iteration, timed around Run() (wall clock:
//                                 this is bench/, not sim/). Counters:
//                                 ns_per_decision (wall), cpu_ns_per_decision
//                                 (this thread's CPU time: robust when other
//                                 jobs preempt us), bare_switch_cpu_ns (measured
//                                 in this process) and ratio_to_bare (CPU/CPU).
//
//   SimulatorEndToEnd             the default campaign (SwarmConfig around
//                                 DefaultCampaignConfig, what `modelstore-sim
//                                 run` runs) over seeds
//                                 1..kEndToEndSeeds through RunSimulation:
//                                 scheduler + simulated filesystem, registry
//                                 and invariant checker + the production
//                                 core, per scheduling point. Counters:
//                                 items_per_second (points per wall second),
//                                 ns_per_point (wall), cpu_ns_per_point and
//                                 cpu_points_per_second (this thread's CPU),
//                                 decision_cpu_ns (a bare scheduler decision,
//                                 SchedulerDecision/random/actors:8's loop,
//                                 measured in this process) and
//                                 ratio_to_decision (CPU/CPU: what a point
//                                 costs beyond the scheduler's own decision).
//
//   SimulatorCampaignJobs         the default campaign through modelstore-sim's
//                                 campaign runner (ms::cli::RunCampaign) with
//                                 --jobs 1 and --jobs 2 in every iteration
//                                 (alternating which goes first), wall clock:
//                                 seeds_per_second_jobs1/2,
//                                 points_per_second_jobs1/2, speedup_jobs2
//                                 (time 1 / time 2; >= 1.8 expected on two
//                                 idle cores) and jobs2_vs_jobs1 (its inverse,
//                                 a time ratio like the others).
//
// --profile=smoke|quick|full (bench_support.h): smoke runs each benchmark
// once at tiny sizes (the bench-smoke test checks names and counters).
//
// Target: ns_per_decision <= 100. The hot path does no allocation per step:
// labels are string_views interned through a pointer cache, the trace vector
// is reserved ahead, the strategy sees a span. Issue #3 wants >= 1,000,000
// points per second per core end to end, i.e. cpu_ns_per_point <= 1000.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <boost/context/fiber.hpp>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <string>
#include <utility>

#include "bench/bench_support.h"
#include "sim/cli/campaign.h"
#include "sim/scheduling/scheduler.h"
#include "sim/workload/simulator.h"

namespace {

namespace ctx = boost::context;
using ms::sim::Outcome;
using ms::sim::RunResult;
using ms::sim::Scheduler;
using ms::sim::SchedulerOptions;
using ms::sim::StrategySpec;

uint64_t kDecisionsPerRun = 1 << 18;  // smaller in the smoke profile
uint64_t kEndToEndSeeds = 20;
uint64_t kJobsCampaignSeeds = 300;  // the default campaign

// A fiber that bounces straight back until *stop; ended by one last resume
// (a clean return, not a forced unwind, so the baseline stays exception-free
// and ASan-clean without switch annotations).
class PingFiber {
 public:
  PingFiber()
      : fiber_([this](ctx::fiber&& caller) {
          while (!stop_) caller = std::move(caller).resume();
          return std::move(caller);
        }) {}
  PingFiber(const PingFiber&) = delete;
  PingFiber& operator=(const PingFiber&) = delete;
  ~PingFiber() {
    stop_ = true;
    fiber_ = std::move(fiber_).resume();
  }
  void RoundTrip() { fiber_ = std::move(fiber_).resume(); }

 private:
  bool stop_ = false;
  ctx::fiber fiber_;
};

void BareFiberSwitch(benchmark::State& state) {
  PingFiber ping;
  for (auto _ : state) ping.RoundTrip();
  state.SetItemsProcessed(state.iterations());
}

// CPU time of the calling thread, in ns.
double ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// The bare round trip in CPU ns, measured once per process (best of 7
// batches), so every scheduler benchmark divides by the same figure.
double BareSwitchCpuNs() {
  static const double ns = [] {
    PingFiber ping;
    constexpr int kRoundTrips = 1 << 20;
    double best = 1e300;
    for (int batch = 0; batch < 7; ++batch) {
      const double start = ThreadCpuNs();
      for (int i = 0; i < kRoundTrips; ++i) ping.RoundTrip();
      best = std::min(best, (ThreadCpuNs() - start) / kRoundTrips);
    }
    return best;
  }();
  return ns;
}

void SchedulerDecision(benchmark::State& state, StrategySpec strategy, int actors) {
  const double bare_cpu_ns = BareSwitchCpuNs();
  double total_ns = 0;
  double total_cpu_ns = 0;
  uint64_t total_decisions = 0;
  for (auto _ : state) {
    SchedulerOptions options;
    options.seed = 42;
    options.strategy = strategy;
    options.max_steps = kDecisionsPerRun;
    options.pct_expected_steps = kDecisionsPerRun;
    options.trace_reserve_steps = kDecisionsPerRun;
    Scheduler sched(options);
    for (int a = 0; a < actors; ++a) {
      sched.Spawn("actor-" + std::to_string(a), 0, [&sched] {
        for (;;) sched.Yield("bench.step");
      });
    }
    const double cpu_start = ThreadCpuNs();
    const auto start = std::chrono::steady_clock::now();
    const RunResult result = sched.Run();
    const std::chrono::duration<double, std::nano> elapsed = std::chrono::steady_clock::now() - start;
    total_cpu_ns += ThreadCpuNs() - cpu_start;
    if (result.outcome != Outcome::kStepLimit || result.steps != kDecisionsPerRun) {
      state.SkipWithError(("unexpected outcome: " + result.ToString()).c_str());
      return;
    }
    benchmark::DoNotOptimize(result.trace_hash);
    state.SetIterationTime(elapsed.count() / 1e9);
    total_ns += elapsed.count();
    total_decisions += result.steps;
  }
  const double decisions = static_cast<double>(total_decisions);
  const double cpu_ns_per_decision = total_cpu_ns / decisions;
  state.SetItemsProcessed(static_cast<int64_t>(total_decisions));
  state.counters["ns_per_decision"] = total_ns / decisions;
  state.counters["cpu_ns_per_decision"] = cpu_ns_per_decision;
  state.counters["bare_switch_cpu_ns"] = bare_cpu_ns;
  state.counters["ratio_to_bare"] = cpu_ns_per_decision / bare_cpu_ns;
}

// A bare scheduler decision in CPU ns (random strategy, 8 actors that only
// yield: SchedulerDecision's loop), best of 5 runs, once per process.
double DecisionCpuNs() {
  static const double ns = [] {
    constexpr uint64_t kDecisions = 1 << 16;
    double best = 1e300;
    for (int batch = 0; batch < 5; ++batch) {
      SchedulerOptions options;
      options.seed = 42;
      options.strategy = ms::sim::ParseStrategySpec("random").value();
      options.max_steps = kDecisions;
      options.pct_expected_steps = kDecisions;
      options.trace_reserve_steps = kDecisions;
      Scheduler sched(options);
      for (int a = 0; a < 8; ++a) {
        sched.Spawn("actor-" + std::to_string(a), 0, [&sched] {
          for (;;) sched.Yield("bench.step");
        });
      }
      const double start = ThreadCpuNs();
      const RunResult result = sched.Run();
      best = std::min(best, (ThreadCpuNs() - start) / static_cast<double>(result.steps));
    }
    return best;
  }();
  return ns;
}

void SimulatorEndToEnd(benchmark::State& state) {
  const double decision_cpu_ns = DecisionCpuNs();
  double total_ns = 0;
  double total_cpu_ns = 0;
  uint64_t total_points = 0;
  uint64_t points_per_campaign = 0;
  for (auto _ : state) {
    uint64_t points = 0;
    const double cpu_start = ThreadCpuNs();
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t seed = 1; seed <= kEndToEndSeeds; ++seed) {
      // What the campaign runs for this seed: swarm-drawn around the defaults.
      const ms::sim::SimConfig config = ms::sim::SwarmConfig(ms::sim::DefaultCampaignConfig(), seed);
      const ms::sim::SimReport report = ms::sim::RunSimulation(config);
      if (!report.ok()) {
        state.SkipWithError(("seed " + std::to_string(seed) + " failed: " + report.violations.front().detail).c_str());
        return;
      }
      points += report.steps;
    }
    const std::chrono::duration<double, std::nano> elapsed = std::chrono::steady_clock::now() - start;
    total_cpu_ns += ThreadCpuNs() - cpu_start;
    state.SetIterationTime(elapsed.count() / 1e9);
    total_ns += elapsed.count();
    total_points += points;
    points_per_campaign = points;
  }
  const double points = static_cast<double>(total_points);
  const double cpu_ns_per_point = total_cpu_ns / points;
  state.SetItemsProcessed(static_cast<int64_t>(total_points));
  state.counters["seeds"] = static_cast<double>(kEndToEndSeeds);
  state.counters["points_per_campaign"] = static_cast<double>(points_per_campaign);
  state.counters["ns_per_point"] = total_ns / points;
  state.counters["cpu_ns_per_point"] = cpu_ns_per_point;
  state.counters["cpu_points_per_second"] = 1e9 / cpu_ns_per_point;
  state.counters["decision_cpu_ns"] = decision_cpu_ns;
  state.counters["ratio_to_decision"] = cpu_ns_per_point / decision_cpu_ns;
}

// The default campaign's seeds with `jobs` workers; wall seconds and points.
std::pair<double, uint64_t> TimeCampaign(int jobs, const std::string& fail_dir) {
  ms::cli::CampaignOptions options;
  options.config = ms::sim::DefaultCampaignConfig();
  options.swarm = true;  // as `modelstore-sim run` runs it
  options.seeds = kJobsCampaignSeeds;
  options.jobs = jobs;
  options.fail_dir = fail_dir;
  options.self = "modelstore-sim";
  ms::Status output_error;
  const auto start = std::chrono::steady_clock::now();
  const ms::cli::CampaignReport report = ms::cli::RunCampaign(options, &output_error);
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  if (!report.Passed()) return {-1.0, 0};
  return {elapsed.count(), report.totals.steps};
}

void SimulatorCampaignJobs(benchmark::State& state) {
  ms::bench::ScratchDir fail_dir("jobs-bench");
  double seconds[3] = {0, 0, 0};
  uint64_t points = 0;
  bool two_first = false;
  for (auto _ : state) {
    double t[3] = {0, 0, 0};
    const int order[2] = {two_first ? 2 : 1, two_first ? 1 : 2};
    for (const int jobs : order) {
      const auto [wall, steps] = TimeCampaign(jobs, fail_dir.path());
      if (wall < 0) {
        state.SkipWithError("a seed of the default campaign failed");
        return;
      }
      t[jobs] = wall;
      points = steps;
    }
    two_first = !two_first;
    seconds[1] += t[1];
    seconds[2] += t[2];
    state.SetIterationTime(t[1] + t[2]);
  }
  const double n = static_cast<double>(state.iterations());
  const double seeds = static_cast<double>(kJobsCampaignSeeds);
  state.counters["seeds"] = seeds;
  state.counters["seeds_per_second_jobs1"] = seeds * n / seconds[1];
  state.counters["seeds_per_second_jobs2"] = seeds * n / seconds[2];
  state.counters["points_per_second_jobs1"] = static_cast<double>(points) * n / seconds[1];
  state.counters["points_per_second_jobs2"] = static_cast<double>(points) * n / seconds[2];
  state.counters["speedup_jobs2"] = seconds[1] / seconds[2];
  state.counters["jobs2_vs_jobs1"] = seconds[2] / seconds[1];
}

}  // namespace

int main(int argc, char** argv) {
  const ms::bench::Profile profile = ms::bench::ParseProfile(&argc, argv);
  if (profile == ms::bench::Profile::kSmoke) {
    kDecisionsPerRun = 1 << 12;
    kEndToEndSeeds = 2;
    kJobsCampaignSeeds = 8;
  } else if (profile == ms::bench::Profile::kQuick) {
    kJobsCampaignSeeds = 60;
  }
  auto* bare = benchmark::RegisterBenchmark("BareFiberSwitch", BareFiberSwitch);
  if (profile == ms::bench::Profile::kSmoke) bare->Iterations(1000);
  for (const char* spec : {"random", "pct:3"}) {
    const StrategySpec strategy = ms::sim::ParseStrategySpec(spec).value();
    for (int actors : {2, 8}) {
      const std::string name = "SchedulerDecision/" + std::string(spec) + "/actors:" + std::to_string(actors);
      auto* b = benchmark::RegisterBenchmark(name.c_str(), SchedulerDecision, strategy, actors)
                    ->UseManualTime()
                    ->Unit(benchmark::kMillisecond);
      if (profile == ms::bench::Profile::kSmoke) b->Iterations(1);
    }
  }
  auto* e2e = benchmark::RegisterBenchmark("SimulatorEndToEnd", SimulatorEndToEnd)
                  ->UseManualTime()
                  ->Unit(benchmark::kMillisecond);
  auto* jobs = benchmark::RegisterBenchmark("SimulatorCampaignJobs", SimulatorCampaignJobs)
                   ->UseManualTime()
                   ->Unit(benchmark::kMillisecond);
  if (profile == ms::bench::Profile::kSmoke) e2e->Iterations(1);
  ms::bench::ApplyIterations(jobs, profile, 5, 1);
  return ms::bench::RunSuite("scheduler", profile, &argc, argv);
}
