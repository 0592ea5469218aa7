// One RapidCheck property per invariant of DESIGN §4, over whole simulated
// runs of the production store: generated scripts per actor, faults at
// chosen filesystem calls, node crashes at chosen steps, a strategy and a
// seed. Each property fails only when its own invariant breaks, so
// shrinking ends at the shortest run that still breaks that invariant, and
// the shrunk run is saved as a regression trace (prop_support.h).
//
// Reproduce a failure exactly: RC_PARAMS="reproduce=<the string RapidCheck
// printed>" <build>/proptests/prop_invariant_tests --gtest_filter='Invariants.I1_*'
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <cstdlib>
#include <memory>

#include "proptests/prop_support.h"
#include "proptests/run_gen.h"
#include "sim/scheduling/trace.h"

namespace ms::prop {
namespace {

GenLimits ConcurrentPulls() {
  // Many actors on few references (a:v1 and a:latest name one manifest
  // until the tag moves): concurrent first pulls of one digest.
  GenLimits l = StormLimits();
  l.actors_max = 4;
  l.ops_max = 6;
  l.refs_max = 3;
  return l;
}

// Several clients on one slot, two calls in flight each: publishes of
// different references into one mount, unpublishes and status calls
// against them, releases over them (I7 judges every answer).
GenLimits Conflicts() {
  GenLimits l = StormLimits();
  l.conflicts = true;
  l.refs_max = 3;
  return l;
}

GenLimits Hostile() {
  GenLimits l = StormLimits();
  l.hostile = true;
  l.hostile_artifacts = true;
  return l;
}

RC_GTEST_PROP(Invariants, I1_no_referenced_loss, ()) {
  RequireInvariant(*GenRun(StormLimits()), "I1 no-referenced-loss", "I1_no_referenced_loss");
}

RC_GTEST_PROP(Invariants, I2_dedup, ()) {
  RequireInvariant(*GenRun(ConcurrentPulls()), "I2 dedup", "I2_dedup");
}

RC_GTEST_PROP(Invariants, I3_footprint, ()) {
  RequireInvariant(*GenRun(StormLimits()), "I3 footprint", "I3_footprint");
}

RC_GTEST_PROP(Invariants, I4_progress, ()) {
  RequireInvariant(*GenRun(StormLimits()), "I4 progress", "I4_progress");
}

RC_GTEST_PROP(Invariants, I7_results, ()) {
  RunSpec spec = *GenRun(Conflicts());
  spec.client_lanes = std::max(spec.client_lanes, 2);
  RequireInvariant(spec, "I7 results", "I7_results");
}

RC_GTEST_PROP(Invariants, I5_confinement, ()) {
  RequireInvariant(*GenRun(Hostile()), "I5 confinement", "I5_confinement");
}

// The hostile registry's artifacts (DESIGN §8), under faults and crashes:
// each refused with an error naming its input, nothing of it kept.
RC_GTEST_PROP(Invariants, I7_results_hostile_registry, ()) {
  RequireInvariant(*GenRun(Hostile()), "I7 results", "I7_results_hostile_registry");
}

// Two runs of one config write the same trace file and leave the same disk;
// the trace file alone replays the run to the same hashes and verdict.
RC_GTEST_PROP(Invariants, I6_determinism, ()) {
  RunSpec spec = *GenRun(StormLimits());
  ApplyBreak(&spec);
  const sim::SimConfig config = ToSimConfig(spec);
  const sim::SimReport a = sim::RunSimulation(config);
  const sim::SimReport b = sim::RunSimulation(config);
  std::string why;
  if (a.trace_file != b.trace_file) {
    why = "two runs of one config recorded different schedules: trace " + sim::HashToHex(a.trace_hash) + " vs " +
          sim::HashToHex(b.trace_hash);
  } else if (a.state_hash != b.state_hash) {
    why = "two runs of one config left different disks: " + sim::HashToHex(a.state_hash) + " vs " +
          sim::HashToHex(b.state_hash);
  } else if (auto parsed = sim::ParseTraceFile(a.trace_file); !parsed.ok()) {
    why = "the trace file does not parse: " + parsed.status().ToString();
  } else if (parsed->first.ToText() != config.ToText()) {
    why = "the trace file's config does not round-trip";
  } else {
    const sim::SimReport r =
        sim::RunSimulation(parsed->first, std::make_shared<const sim::Trace>(std::move(parsed->second)));
    if (r.outcome == sim::Outcome::kReplayDiverged) {
      why = "replay diverged: " + r.outcome_message;
    } else if (r.trace_hash != a.trace_hash || r.state_hash != a.state_hash) {
      why = "replay reached trace " + sim::HashToHex(r.trace_hash) + " disk " + sim::HashToHex(r.state_hash) +
            ", the run trace " + sim::HashToHex(a.trace_hash) + " disk " + sim::HashToHex(a.state_hash);
    } else if (r.violations.size() != a.violations.size()) {
      why = "replay found " + std::to_string(r.violations.size()) + " violations, the run " +
            std::to_string(a.violations.size());
    } else {
      for (size_t i = 0; i < r.violations.size() && why.empty(); ++i) {
        if (r.violations[i].invariant != a.violations[i].invariant || r.violations[i].step != a.violations[i].step) {
          why = "replay's verdict differs: " + r.violations[i].invariant + " at step " +
                std::to_string(r.violations[i].step) + " vs " + a.violations[i].invariant + " at step " +
                std::to_string(a.violations[i].step);
        }
      }
    }
  }
  if (!why.empty()) {
    sim::SimReport failed = a;
    failed.violations.insert(failed.violations.begin(), sim::Violation{"I6 determinism", a.steps, why});
    RC_FAIL(DescribeFailure(failed, "I6 determinism", SaveRegression("I6_determinism", a)));
  }
}

// The generators' contract, checked without the store.
RC_GTEST_PROP(Generators, EveryOpNamesASlotOfTheActorItsOtherNames, ()) {
  const RunSpec spec = *GenRun(Conflicts());
  const sim::SimConfig c = ToSimConfig(spec);
  RC_ASSERT(c.scripts.size() == std::max<size_t>(1, spec.actors.size()));
  RC_ASSERT(c.fault_rate == 0.0);
  RC_ASSERT(c.crash_rate == 0.0);
  for (size_t a = 0; a < c.scripts.size(); ++a) {
    for (size_t i = 0; i < c.scripts[a].size(); ++i) {
      const sim::ClientOp& op = c.scripts[a][i];
      const int other = a < spec.actors.size() ? spec.actors[a][i].other : 0;
      const auto slots = sim::SlotsOf(static_cast<int>((a + static_cast<size_t>(other)) % c.scripts.size()));
      bool owned = false;
      for (const auto& [volume, mount] : slots) owned = owned || (op.volume == volume && (op.mount == mount || op.mount.empty()));
      RC_ASSERT(owned);
      RC_ASSERT((op.kind == sim::OpKind::kPull || op.kind == sim::OpKind::kPullPartial) == !op.reference.empty());
    }
  }
  // The config round-trips through the trace file's text.
  auto parsed = sim::SimConfig::Parse(c.ToText());
  RC_ASSERT(parsed.ok());
  RC_ASSERT(parsed->ToText() == c.ToText());
}

}  // namespace
}  // namespace ms::prop
