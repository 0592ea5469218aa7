// regression_replay FILE...: judges trace files of the regression corpus.
//
// Each file (a modelstore-sim trace: config + schedule) is run twice:
//   replay   the recorded schedule, decision by decision. While the store
//            makes the same port calls as when the file was written, this
//            is the very run that once failed.
//   re-run   the config alone (seed, strategy, explicit scripts, crash and
//            fault points). Still meaningful once the store's calls have
//            changed and the recorded schedule no longer fits.
// A regression stays fixed when the re-run keeps every invariant and the
// replay either keeps every invariant or has diverged (a changed store:
// said so on stdout, judged by the re-run alone). Exit 0 then, else 1;
// 2 for a file that cannot be read or parsed.
//
// regression_replay --open FILE...: the same judgement for an open finding
// (fixtures/regressions/open/: a bug found and not fixed yet). Exit 0 while
// the bug is still there, 1 once every invariant holds: the fix is in, move
// the file up to fixtures/regressions/ so that it stays fixed.
//
// regression_replay --rerecord FILE...: after an intended change of the
// store's port calls, rewrites each FILE with its re-run's trace (same
// config, the schedule this build takes), only if the re-run keeps every
// invariant. Review the diff before committing it.
#include <algorithm>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "sim/workload/simulator.h"

namespace {

using ms::sim::SimReport;

void PrintViolations(const SimReport& r) {
  for (const auto& v : r.violations) {
    std::cout << "    " << v.invariant << " violated at step " << v.step << ": " << v.detail << "\n";
  }
  for (const auto& h : r.history) std::cout << "      " << h << "\n";
}

enum class Mode { kJudge, kOpen, kRerecord };

int Judge(const std::string& path, Mode mode) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "error: cannot read " << path << "\n";
    return 2;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  auto parsed = ms::sim::ParseTraceFile(buf.str());
  if (!parsed.ok()) {
    std::cerr << "error: " << path << ": " << parsed.status().ToString() << "\n";
    return 2;
  }
  const ms::sim::SimConfig config = parsed->first;
  const uint64_t recorded = parsed->second.Hash();
  const SimReport replay =
      ms::sim::RunSimulation(config, std::make_shared<const ms::sim::Trace>(std::move(parsed->second)));
  const SimReport rerun = ms::sim::RunSimulation(config);
  const bool diverged = replay.outcome == ms::sim::Outcome::kReplayDiverged;
  std::cout << path << "\n  replay: " << ms::sim::OutcomeName(replay.outcome) << ", " << replay.steps
            << " steps, trace " << ms::sim::HashToHex(replay.trace_hash) << " (recorded "
            << ms::sim::HashToHex(recorded) << ")\n";
  if (diverged) {
    std::cout << "    the recorded schedule no longer fits this build (the store's port calls changed);"
                 " judged by the re-run alone: " << replay.outcome_message << "\n";
  } else if (!replay.ok()) {
    PrintViolations(replay);
  }
  std::cout << "  re-run: " << ms::sim::OutcomeName(rerun.outcome) << ", " << rerun.steps << " steps, trace "
            << ms::sim::HashToHex(rerun.trace_hash) << ", " << rerun.crashes << " crashes, " << rerun.fs_faults
            << " filesystem faults\n";
  if (!rerun.ok()) PrintViolations(rerun);
  const bool fixed = rerun.ok() && (diverged || replay.ok());
  std::cout << "  verdict: " << (fixed ? "every invariant holds" : "FAIL: the regression is back") << "\n";
  if (mode == Mode::kOpen) {
    if (fixed) {
      std::cout << "  this open finding is fixed: git mv " << path << " fixtures/regressions/\n";
      return 1;
    }
    std::cout << "  still open (expected while the store is not fixed)\n";
    return 0;
  }
  if (mode == Mode::kRerecord && rerun.ok()) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << rerun.trace_file;
    out.close();
    if (!out) {
      std::cerr << "error: cannot rewrite " << path << "\n";
      return 2;
    }
    std::cout << "  rerecorded with this build's schedule (trace " << ms::sim::HashToHex(rerun.trace_hash) << ")\n";
    return 0;
  }
  return fixed ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Mode mode = Mode::kJudge;
  int first = 1;
  if (argc > 1 && std::strcmp(argv[1], "--rerecord") == 0) {
    mode = Mode::kRerecord;
    first = 2;
  } else if (argc > 1 && std::strcmp(argv[1], "--open") == 0) {
    mode = Mode::kOpen;
    first = 2;
  }
  if (argc <= first) {
    std::cerr << "usage: regression_replay [--open | --rerecord] FILE...\n";
    return 2;
  }
  int worst = 0;
  for (int i = first; i < argc; ++i) worst = std::max(worst, Judge(argv[i], mode));
  return worst;
}
