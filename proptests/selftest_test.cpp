// A property that cannot fail is a defect. These run the same generators
// and the same judgement against deliberately broken runs and require
// RapidCheck to find a failure and shrink it; the shrunk run is printed.
// (The full properties can be broken the same way from outside:
// MS_PROP_BREAK=entry-lock or max-steps=N, see prop_support.h.)
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <optional>
#include <sstream>

#include "proptests/prop_support.h"
#include "proptests/run_gen.h"

namespace ms::prop {
namespace {

struct Caught {
  std::optional<RunSpec> spec;  // the last failing candidate: the shrunk one
  std::string invariant;
  uint64_t steps = 0;
  size_t failures = 0;
};

// Checks `invariants` over runs of limits, broken by `brk`; records the
// last failing run.
bool CheckBroken(const char* name, const GenLimits& limits, void (*brk)(RunSpec*),
                 std::vector<std::string_view> invariants, Caught* caught) {
  return rc::check(name, [&] {
    RunSpec spec = *GenRun(limits);
    brk(&spec);
    const sim::SimReport r = sim::RunSimulation(ToSimConfig(spec));
    for (std::string_view inv : invariants) {
      if (const sim::Violation* v = FindViolation(r, inv)) {
        caught->spec = spec;
        caught->invariant = std::string(inv);
        caught->steps = r.steps;
        ++caught->failures;
        RC_FAIL(std::string(inv) + " violated at step " + std::to_string(v->step) + ": " + v->detail);
      }
    }
  });
}

std::string Summary(const Caught& c) {
  std::ostringstream out;
  out << "shrunk to " << c.spec->actors.size() << " actor(s), " << OpCount(*c.spec) << " op(s), "
      << c.spec->crash_steps.size() << " crash point(s), " << c.spec->faults.size() << " fault(s), strategy "
      << c.spec->strategy << ", seed " << c.spec->seed << ", " << c.steps << " steps: " << c.invariant << " ("
      << c.failures << " failing runs seen while shrinking)";
  return out.str();
}

TEST(SelfTest, AStoreWithoutItsEntryLockBreaksI1I2OrI3AndShrinks) {
  Caught caught;
  GenLimits limits = QuietLimits();
  limits.actors_max = 4;
  limits.refs_max = 3;
  // A race needs luck: up to three RapidCheck runs (each RC_PARAMS'
  // max_success cases) to find one.
  bool passed = true;
  for (int attempt = 0; attempt < 3 && passed; ++attempt) {
    passed = CheckBroken("no entry lock", limits, [](RunSpec* s) { s->break_entry_lock = true; },
                         {"I1 no-referenced-loss", "I2 dedup", "I3 footprint"}, &caught);
  }
  ASSERT_FALSE(passed) << "a store without its entry lock passed every generated run";
  ASSERT_TRUE(caught.spec.has_value());
  std::cout << "[selftest] no entry lock: " << Summary(caught) << "\n";
  RecordProperty("shrunk", Summary(caught));
  // Shrinking must reach a small run: a race needs two actors and a few
  // pulls (typically 2 actors x 2 pulls of models/a:v1; under "rr" a
  // local minimum can keep one more actor, since dropping any op changes
  // the round-robin interleaving).
  EXPECT_LE(caught.spec->actors.size(), 4u);
  EXPECT_LE(OpCount(*caught.spec), 10u);
  EXPECT_TRUE(caught.spec->faults.empty());
  EXPECT_TRUE(caught.spec->crash_steps.empty());
}

TEST(SelfTest, AStepBoundTooSmallBreaksI4AndShrinksToOnePull) {
  Caught caught;
  const bool passed = CheckBroken("step bound 40", QuietLimits(), [](RunSpec* s) { s->max_steps = 40; },
                                  {"I4 progress"}, &caught);
  ASSERT_FALSE(passed);
  ASSERT_TRUE(caught.spec.has_value());
  std::cout << "[selftest] step bound: " << Summary(caught) << "\n";
  RecordProperty("shrunk", Summary(caught));
  // An idle world (boot, sweep, finale) fits in 40 steps; one pull does
  // not: the shrunk run is exactly one pull.
  ASSERT_EQ(OpCount(*caught.spec), 1u);
  EXPECT_EQ(caught.spec->actors[0][0].kind, sim::OpKind::kPull);
  EXPECT_EQ(caught.spec->strategy, "rr");
  EXPECT_EQ(caught.spec->seed, 1u);
}

}  // namespace
}  // namespace ms::prop
