#include "sim/scheduling/strategy.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <system_error>

#include "sim/scheduling/trace.h"

namespace ms::sim {

namespace {

// Distinct streams for distinct uses of one seed.
constexpr uint64_t kRandomStream = 0x52414e444f4d0001ULL;
constexpr uint64_t kPctStream = 0x5043540000000001ULL;
constexpr int kMaxPctDepth = 1000;

}  // namespace

ActorId RandomStrategy::Pick(const Choice& choice) {
  if (choice.runnable.size() == 1) return choice.runnable[0];
  return choice.runnable[prng_.Below(choice.runnable.size())];
}

ActorId RoundRobinStrategy::Pick(const Choice& choice) {
  if (choice.previous != kNoActor) {
    for (ActorId id : choice.runnable) {
      if (id > choice.previous) return id;
    }
  }
  return choice.runnable[0];
}

PctStrategy::PctStrategy(uint64_t seed, int depth, uint64_t expected_steps) : prng_(seed ^ kPctStream) {
  if (depth < 1 || expected_steps < 1) {
    std::fprintf(stderr, "PctStrategy: depth %d and expected_steps %llu must be >= 1\n", depth,
                 static_cast<unsigned long long>(expected_steps));
    std::abort();
  }
  // D-1 distinct change points drawn uniformly from [1, k]; the i-th drawn
  // (1-based) lowers to priority i. Bounded: at most k points exist.
  const uint64_t points = std::min<uint64_t>(static_cast<uint64_t>(depth - 1), expected_steps);
  for (uint64_t i = 1; i <= points; ++i) {
    uint64_t step = 0;
    bool fresh = false;
    for (int attempt = 0; attempt < 64 && !fresh; ++attempt) {
      step = prng_.InRange(1, expected_steps);
      fresh = std::none_of(change_points_.begin(), change_points_.end(),
                           [step](const ChangePoint& c) { return c.step == step; });
    }
    if (!fresh) {  // dense corner (D-1 close to k): take the smallest free step
      for (step = 1; std::any_of(change_points_.begin(), change_points_.end(),
                                 [step](const ChangePoint& c) { return c.step == step; });
           ++step) {
      }
    }
    change_points_.push_back({step, i});
  }
  std::sort(change_points_.begin(), change_points_.end(),
            [](const ChangePoint& a, const ChangePoint& b) { return a.step < b.step; });
}

void PctStrategy::OnSpawn(ActorId id) {
  if (priorities_.size() <= id) priorities_.resize(id + 1, 0);
  // A random distinct priority above every change-point priority: for the
  // actors present, a uniformly random permutation, as PCT asks.
  uint64_t priority = 0;
  do {
    priority = kInitialPriorityFloor | (prng_.Next() >> 2);
  } while (!used_priorities_.insert(priority).second);
  priorities_[id] = priority;
}

ActorId PctStrategy::Pick(const Choice& choice) {
  while (next_change_ < change_points_.size() && change_points_[next_change_].step <= choice.step) {
    const ChangePoint& change = change_points_[next_change_++];
    if (change.step == choice.step && choice.previous != kNoActor) {
      priorities_[choice.previous] = change.priority;
    }
  }
  ActorId best = choice.runnable[0];
  uint64_t best_priority = priorities_[best];
  for (ActorId id : choice.runnable) {
    const uint64_t priority = priorities_[id];
    if (priority > best_priority) {
      best_priority = priority;
      best = id;
    }
  }
  return best;
}

ActorId ReplayStrategy::Pick(const Choice& choice) {
  if (choice.step >= trace_->decisions.size()) return kNoActor;
  return trace_->decisions[choice.step].actor;
}

std::string StrategySpec::ToString() const {
  switch (kind) {
    case Kind::kRandom:
      return "random";
    case Kind::kRoundRobin:
      return "rr";
    case Kind::kPct:
      return "pct:" + std::to_string(pct_depth);
    case Kind::kReplay:
      return replay_path.empty() ? "replay" : "replay:" + replay_path;
  }
  return "?";
}

Result<StrategySpec> ParseStrategySpec(std::string_view text) {
  const auto error = [text](std::string_view why) {
    return Status(Code::kInvalidArgument, "bad strategy '" + std::string(text) + "': " + std::string(why) +
                                              " (expected random, rr, pct:D with D in 1.." +
                                              std::to_string(kMaxPctDepth) + ", replay or replay:FILE)");
  };
  StrategySpec spec;
  if (text == "random") {
    spec.kind = StrategySpec::Kind::kRandom;
  } else if (text == "rr") {
    spec.kind = StrategySpec::Kind::kRoundRobin;
  } else if (text == "replay") {
    spec.kind = StrategySpec::Kind::kReplay;
  } else if (text.starts_with("replay:")) {
    spec.kind = StrategySpec::Kind::kReplay;
    spec.replay_path = std::string(text.substr(7));
    if (spec.replay_path.empty()) return error("empty trace path");
  } else if (text.starts_with("pct:")) {
    const std::string_view depth = text.substr(4);
    int value = 0;
    const auto [end, ec] = std::from_chars(depth.data(), depth.data() + depth.size(), value);
    if (depth.empty() || ec != std::errc() || end != depth.data() + depth.size()) {
      return error("depth '" + std::string(depth) + "' is not a number");
    }
    if (value < 1 || value > kMaxPctDepth) return error("depth " + std::to_string(value) + " out of range");
    spec.kind = StrategySpec::Kind::kPct;
    spec.pct_depth = value;
  } else {
    return error("unknown strategy");
  }
  return spec;
}

std::unique_ptr<Strategy> MakeStrategy(const StrategySpec& spec, uint64_t seed, uint64_t pct_expected_steps,
                                       const Trace* replay) {
  switch (spec.kind) {
    case StrategySpec::Kind::kRandom:
      return std::make_unique<RandomStrategy>(seed ^ kRandomStream);
    case StrategySpec::Kind::kRoundRobin:
      return std::make_unique<RoundRobinStrategy>();
    case StrategySpec::Kind::kPct:
      return std::make_unique<PctStrategy>(seed, spec.pct_depth, pct_expected_steps);
    case StrategySpec::Kind::kReplay:
      if (replay == nullptr) {
        std::fprintf(stderr, "MakeStrategy: replay needs a trace\n");
        std::abort();
      }
      return std::make_unique<ReplayStrategy>(replay);
  }
  return nullptr;
}

}  // namespace ms::sim
