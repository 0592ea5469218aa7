// Helpers shared by the scheduler and SimRuntime tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "sim/scheduling/scheduler.h"

namespace ms::sim::testing {

inline SchedulerOptions OptionsFor(std::string_view spec, uint64_t seed, uint64_t max_steps = 100'000) {
  Result<StrategySpec> parsed = ParseStrategySpec(spec);
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  SchedulerOptions options;
  options.strategy = parsed.ok() ? parsed.value() : StrategySpec{};
  options.seed = seed;
  options.max_steps = max_steps;
  options.stack_size_bytes = 64 * 1024;
  return options;
}

inline std::unique_ptr<Scheduler> MakeScheduler(std::string_view spec, uint64_t seed, uint64_t max_steps = 100'000) {
  return std::make_unique<Scheduler>(OptionsFor(spec, seed, max_steps));
}

// The actor of each decision, in order.
inline std::vector<ActorId> ActorsOf(const Trace& trace) {
  std::vector<ActorId> out;
  out.reserve(trace.decisions.size());
  for (const TraceDecision& d : trace.decisions) out.push_back(d.actor);
  return out;
}

}  // namespace ms::sim::testing
