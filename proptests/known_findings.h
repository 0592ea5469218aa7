// Open findings: bugs the bench found that the store has not fixed yet.
//
// Each lives in fixtures/regressions/open/ as one or more <name>.trace
// files (replayed by ctest as regression-open.<name>, which passes while
// the bug is there and fails once it is fixed) and a <name>.known
// signature: "invariant=<a kInvariantNames entry>" and "detail=<ECMAScript
// regex>" lines, all of which a violation must match ('#' lines are
// comments). The properties, the crash-point explorer and the fuzz target
// tolerate a violation that matches a signature, so one known bug does not
// turn every run red while its fix is pending; MS_PROP_STRICT=1 tolerates
// nothing. Delete the .known file when the fix lands.
#pragma once

#include <string>

#include "sim/checking/invariant_checker.h"

namespace ms::prop {

// The source tree: $MS_SOURCE_DIR, else the one this binary was configured
// from (without either, no open findings are known).
std::string SourceDir();

// The name of the signature violation matches, or "" (none, or strict).
std::string KnownOpenFinding(const sim::Violation& violation);

}  // namespace ms::prop
