// libFuzzer entry point: the input bytes choose the whole simulated run
// (DecodeRunSpec: world, schedule, client ops, crashes, faults); the run
// must keep every invariant of DESIGN §4. On a violation the trace file
// (config + schedule, what `modelstore-sim replay` and the regression
// corpus read) goes to stderr, then abort(): libFuzzer saves the input.
// Open findings with a signature in fixtures/regressions/open/ are
// tolerated, as by the properties (known_findings.h; MS_PROP_STRICT=1, or
// no source tree at run time, tolerates nothing).
//
// Environment:
//   MS_FUZZ_DETERMINISM=1  also run each input twice and require the same
//                          trace and disk hashes (I6), at half the speed
//   MS_FUZZ_BREAK=entry-lock  fuzz a store without its entry lock (to see
//                          the target find and report a bug)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "proptests/fuzz/fuzz_sim.h"
#include "proptests/fuzz/fuzz_decode.h"
#include "proptests/known_findings.h"
#include "sim/workload/simulator.h"
#include "sim/scheduling/trace.h"

namespace {

// Every violation is a known open finding (or there is none).
bool OnlyKnown(const ms::sim::SimReport& r) {
  for (const auto& v : r.violations) {
    if (ms::prop::KnownOpenFinding(v).empty()) return false;
  }
  return true;
}

bool EnvIs(const char* name, const char* value) {
  const char* v = std::getenv(name);
  return v != nullptr && std::strcmp(v, value) == 0;
}

[[noreturn]] void Report(const ms::sim::SimReport& r) {
  std::fprintf(stderr, "\n==== modelstore fuzz_sim: invariant violated ====\n");
  for (const auto& v : r.violations) {
    std::fprintf(stderr, "%s violated at step %llu: %s\n", v.invariant.c_str(),
                 static_cast<unsigned long long>(v.step), v.detail.c_str());
  }
  for (const auto& h : r.history) std::fprintf(stderr, "    %s\n", h.c_str());
  std::fprintf(stderr,
               "==== trace file (save as fixtures/regressions/<name>.trace; replay with "
               "modelstore-sim replay <file>) ====\n%s==== end of trace file ====\n",
               r.trace_file.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ms::prop::RunSpec spec = ms::prop::DecodeRunSpec(data, size);
  if (EnvIs("MS_FUZZ_BREAK", "entry-lock")) spec.break_entry_lock = true;
  const ms::sim::SimConfig config = ms::prop::ToSimConfig(spec);
  ms::sim::SimReport r = ms::sim::RunSimulation(config);
  if (!OnlyKnown(r)) Report(r);
  if (EnvIs("MS_FUZZ_DETERMINISM", "1")) {
    const ms::sim::SimReport again = ms::sim::RunSimulation(config);
    if (again.trace_hash != r.trace_hash || again.state_hash != r.state_hash) {
      r.violations.push_back({"I6 determinism", r.steps,
                              "a second run differs: trace " + ms::sim::HashToHex(r.trace_hash) + " vs " +
                                  ms::sim::HashToHex(again.trace_hash) + ", disk " +
                                  ms::sim::HashToHex(r.state_hash) + " vs " + ms::sim::HashToHex(again.state_hash)});
      Report(r);
    }
  }
  return 0;
}
