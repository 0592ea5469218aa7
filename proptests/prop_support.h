// What every property test shares: running a RunSpec, judging one named
// invariant, and keeping a failing run as a regression trace.
//
// A failure writes the run's trace file (SimReport::trace_file: the config,
// explicit scripts, crash and fault points, and the schedule) to
//   $MS_REGRESSION_DIR, else <source>/fixtures/regressions/
// as <property>-<16 hex of the config>.trace. While RapidCheck shrinks, each
// new failing candidate replaces the file the previous one wrote, so the
// file left behind is the shrunk case (the last failing candidate RapidCheck
// tries is the one it reports). Every file in fixtures/regressions/ is
// replayed as its own ctest test (regression.<stem>), so committing the file
// keeps the bug fixed forever.
//
// RC_PARAMS: ApplyRcDefaults (called by prop_main before any property)
// fills in keys the user did not set from $MS_RC_DEFAULTS, so a ctest
// budget or a campaign can choose max_success/max_size while a RC_PARAMS
// given by hand (reproduce=..., seed=...) always wins.
//
// Open findings (known_findings.h): the properties tolerate a first
// violation that matches a signature in fixtures/regressions/open/
// (RapidCheck tags the case "known open finding <name>").
//
// Self-test (a test that cannot fail is a defect): $MS_PROP_BREAK breaks the
// run on purpose, for every property of the process:
//   entry-lock      SimConfig::break_entry_lock (a store without its
//                   per-digest lock: I1, I2 or I3 must fail)
//   max-steps=N     a step bound of N (I4 must fail as a livelock)
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "proptests/known_findings.h"
#include "proptests/run_spec.h"
#include "sim/workload/simulator.h"

namespace ms::prop {

// Merges $MS_RC_DEFAULTS (and built-in defaults) under $RC_PARAMS.
void ApplyRcDefaults();

// Applies $MS_PROP_BREAK to spec (see above).
void ApplyBreak(RunSpec* spec);

// The build tree this binary was configured for.
std::string BinaryDir();
std::string RegressionDir();

// The first violation of invariant (a kInvariantNames entry), or nullptr.
const sim::Violation* FindViolation(const sim::SimReport& report, std::string_view invariant);

// FindViolation, unless the violation is a tolerated open finding (then
// nullptr, and *known names it when known is given).
const sim::Violation* NewViolation(const sim::SimReport& report, std::string_view invariant,
                                   std::string* known = nullptr);

// Writes report.trace_file as <RegressionDir>/<property>-<hash>.trace,
// removing the file this process last wrote for property; returns the path
// ("" if it could not be written).
std::string SaveRegression(const std::string& property, const sim::SimReport& report);

// The failure text: the violation, the operations leading to it, the trace
// file and the commands that replay it.
std::string DescribeFailure(const sim::SimReport& report, std::string_view invariant,
                            const std::string& trace_path);

// "<path relative to the source dir if under it>".
std::string Pretty(const std::string& path);

// Crash exploration budgets: MS_CRASH_BUDGET=campaign asks for the large
// one; MS_SHARD=I/N for the I-th of N slices (aborts on a malformed value).
bool CrashBudgetIsCampaign();
std::pair<uint64_t, uint64_t> ShardFromEnv();

// Runs spec (after ApplyBreak) and fails the current RapidCheck property
// (RC_FAIL) iff `invariant` is violated, after saving the regression trace
// as `property`. Other invariants are other properties' business, so a
// shrink always keeps the same invariant broken. Returns the report.
sim::SimReport RequireInvariant(RunSpec spec, std::string_view invariant, const std::string& property);

}  // namespace ms::prop
