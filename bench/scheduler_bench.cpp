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
// Target: ns_per_decision <= 100. The hot path does no allocation per step:
// labels are string_views interned through a pointer cache, the trace vector
// is reserved ahead, the strategy sees a span.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <boost/context/fiber.hpp>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <string>
#include <utility>

#include "sim/scheduler.h"

namespace {

namespace ctx = boost::context;
using ms::sim::Outcome;
using ms::sim::RunResult;
using ms::sim::Scheduler;
using ms::sim::SchedulerOptions;
using ms::sim::StrategySpec;

constexpr uint64_t kDecisionsPerRun = 1 << 18;

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

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("BareFiberSwitch", BareFiberSwitch);
  for (const char* spec : {"random", "pct:3"}) {
    const StrategySpec strategy = ms::sim::ParseStrategySpec(spec).value();
    for (int actors : {2, 8}) {
      const std::string name = "SchedulerDecision/" + std::string(spec) + "/actors:" + std::to_string(actors);
      benchmark::RegisterBenchmark(name.c_str(), SchedulerDecision, strategy, actors)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
