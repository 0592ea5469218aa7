// Strategy: who runs next at a scheduling point.
//
// The Scheduler collects the runnable actors (ascending ActorId) and asks its
// strategy to pick one. Strategies are deterministic functions of their seed
// and of the choices shown to them; none reads a clock or global state.
//
//   random  uniform among the runnable actors (seeded Prng)
//   rr      round-robin: the next runnable actor after the previous one
//   pct:D   PCT, Burckhardt et al., ASPLOS 2010: each actor gets a random
//           distinct priority at spawn; D-1 change points are drawn
//           uniformly from [1, k] (k = expected run length in steps); after
//           the step numbered by the i-th change point, the actor that ran it
//           drops to priority i, below every initial priority. The highest
//           priority runnable actor always runs. D=1 is "no preemption".
//   replay  follows a recorded Trace decision by decision (the Scheduler
//           checks the trace's labels and reports divergence).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "sim/scheduling/actor_id.h"
#include "sim/common/prng.h"

namespace ms::sim {

class Trace;

// One scheduling decision, as a strategy sees it.
struct Choice {
  uint64_t step = 0;                   // 0-based index of the decision; == steps run so far
  ActorId previous = kNoActor;         // the actor that ran the last step (kNoActor at step 0)
  std::span<const ActorId> runnable;   // ascending, never empty
};

class Strategy {
 public:
  Strategy() = default;
  Strategy(const Strategy&) = delete;
  Strategy& operator=(const Strategy&) = delete;
  virtual ~Strategy() = default;

  // Called once per actor, in spawn order, before it can be picked.
  virtual void OnSpawn(ActorId id) { (void)id; }

  // Returns one of choice.runnable. Only a replay strategy may return
  // kNoActor (its trace ran out); the Scheduler treats any other answer
  // outside choice.runnable as a divergence.
  virtual ActorId Pick(const Choice& choice) = 0;
};

class RandomStrategy final : public Strategy {
 public:
  explicit RandomStrategy(uint64_t seed) : prng_(seed) {}
  ActorId Pick(const Choice& choice) override;

 private:
  Prng prng_;
};

class RoundRobinStrategy final : public Strategy {
 public:
  ActorId Pick(const Choice& choice) override;
};

class PctStrategy final : public Strategy {
 public:
  // depth >= 1 (D); expected_steps >= 1 (k).
  PctStrategy(uint64_t seed, int depth, uint64_t expected_steps);

  void OnSpawn(ActorId id) override;
  ActorId Pick(const Choice& choice) override;

  // The actor's current priority (higher runs first). Initial priorities are
  // >= kInitialPriorityFloor; a lowered actor has priority 1..D-1.
  uint64_t priority(ActorId id) const { return priorities_[id]; }
  static constexpr uint64_t kInitialPriorityFloor = uint64_t{1} << 62;

  struct ChangePoint {
    uint64_t step;       // after this many steps have run, ...
    uint64_t priority;   // ... the actor that ran the last one gets this priority
  };
  // Sorted by step; at most D-1 (fewer only when k < D-1).
  const std::vector<ChangePoint>& change_points() const { return change_points_; }

 private:
  Prng prng_;
  std::vector<uint64_t> priorities_;  // by ActorId
  std::set<uint64_t> used_priorities_;
  std::vector<ChangePoint> change_points_;
  size_t next_change_ = 0;
};

class ReplayStrategy final : public Strategy {
 public:
  // trace must outlive the strategy.
  explicit ReplayStrategy(const Trace* trace) : trace_(trace) {}
  ActorId Pick(const Choice& choice) override;

 private:
  const Trace* trace_;
};

// A parsed strategy spec: "random", "rr", "pct:D", "replay" or "replay:FILE".
struct StrategySpec {
  enum class Kind { kRandom, kRoundRobin, kPct, kReplay };
  Kind kind = Kind::kRandom;
  int pct_depth = 0;        // kPct: D >= 1
  std::string replay_path;  // kReplay: the trace file, may be empty (trace given in memory)

  // The canonical text: "random", "rr", "pct:3", "replay", "replay:FILE".
  std::string ToString() const;
};

// Parses a spec; Code::kInvalidArgument naming the spec and what is accepted.
Result<StrategySpec> ParseStrategySpec(std::string_view text);

// Builds the strategy a spec names. A replay spec needs replay (the trace to
// follow, which must outlive the strategy); the others ignore it.
std::unique_ptr<Strategy> MakeStrategy(const StrategySpec& spec, uint64_t seed, uint64_t pct_expected_steps,
                                       const Trace* replay);

}  // namespace ms::sim
