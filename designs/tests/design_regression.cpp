// design_regression TRACE: one fixture of fixtures/designs/, a minimal run
// in which a design breaks an invariant (docs/designs.md). The file is named
// <design>-<I#>-<what>.trace, or <design>-<I#>+<I#>-<what>.trace for a run
// that breaks more than one invariant. It passes when
//   1. the trace's header runs that design;
//   2. replaying the trace reproduces its schedule exactly (the same trace
//      hash) and violates every I# named: the weakness is still in the model;
//   3. the same header run with our core (design "core") violates nothing.
// Exit 0 when all three hold, 1 when one does not (the line says which), 2
// for an unreadable or misnamed file.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "designs/design_registry.h"
#include "sim/workload/simulator.h"

namespace {

int Fail(const std::string& path, const std::string& why) {
  std::printf("FAIL %s: %s\n", path.c_str(), why.c_str());
  return 1;
}

bool Violates(const ms::sim::SimReport& r, const std::string& short_name) {
  for (const auto& v : r.violations) {
    if (v.invariant.rfind(short_name + " ", 0) == 0) return true;
  }
  return false;
}

std::string Violations(const ms::sim::SimReport& r) {
  std::string out;
  for (const auto& v : r.violations) out += (out.empty() ? "" : "; ") + v.invariant + ": " + v.detail.substr(0, 200);
  return out.empty() ? "none" : out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: design_regression TRACE\n");
    return 2;
  }
  const std::string path = argv[1];
  const std::string file = path.substr(path.rfind('/') + 1);
  const size_t dash = file.find('-');
  const size_t dash2 = dash == std::string::npos ? dash : file.find('-', dash + 1);
  if (dash2 == std::string::npos || file.size() < 6 || file.substr(file.size() - 6) != ".trace") {
    std::fprintf(stderr, "error: %s: not named <design>-<I#>-<what>.trace\n", path.c_str());
    return 2;
  }
  const std::string design = file.substr(0, dash);
  const std::string invariant = file.substr(dash + 1, dash2 - dash - 1);
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    std::fprintf(stderr, "error: %s: cannot read\n", path.c_str());
    return 2;
  }
  auto parsed = ms::sim::ParseTraceFile(text.str());
  if (!parsed.ok()) {
    std::fprintf(stderr, "error: %s: %s\n", path.c_str(), parsed.status().ToString().c_str());
    return 2;
  }
  auto& [config, trace] = parsed.value();
  if (config.design != design) return Fail(path, "the header runs design \"" + config.design + "\", the name says " + design);
  const uint64_t recorded = trace.Hash();
  const auto replay = ms::sim::RunSimulation(config, std::make_shared<const ms::sim::Trace>(trace));
  if (replay.outcome == ms::sim::Outcome::kReplayDiverged || replay.trace_hash != recorded) {
    return Fail(path, "the replay no longer follows the recorded schedule (the model changed?); re-record it with "
                      "`modelstore-sim run --config " + path + " --seed " + std::to_string(config.seed) +
                      " --trace " + path + "` and check it still shows the weakness");
  }
  for (size_t from = 0;;) {
    const size_t plus = invariant.find('+', from);
    const std::string one = invariant.substr(from, plus == std::string::npos ? std::string::npos : plus - from);
    if (!Violates(replay, one)) {
      return Fail(path, design + " no longer violates " + one + " (a known weakness hidden?); it violates: " +
                            Violations(replay));
    }
    if (plus == std::string::npos) break;
    from = plus + 1;
  }
  ms::sim::SimConfig ours = config;
  ours.design = ms::designs::kDefaultDesign;
  const auto core = ms::sim::RunSimulation(ours);
  if (!core.ok()) return Fail(path, "our core fails the same configuration: " + Violations(core));
  std::printf("ok %s: %s violates %s; our core holds every invariant on the same configuration\n", path.c_str(),
              design.c_str(), invariant.c_str());
  return 0;
}
