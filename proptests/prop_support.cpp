#include "proptests/prop_support.h"

#include <rapidcheck.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "sim/common/fnv1a.h"
#include "sim/scheduling/trace.h"

#ifndef MS_PROP_BINARY_DIR
#define MS_PROP_BINARY_DIR "build"
#endif

namespace ms::prop {
namespace {

// RapidCheck's own defaults (max_success=100, max_size=100) are our fast
// budget; nothing more is built in.
std::vector<std::pair<std::string, std::string>> ParseParams(const char* text) {
  std::vector<std::pair<std::string, std::string>> out;
  if (text == nullptr) return out;
  std::istringstream in(text);
  std::string token;
  while (in >> token) {
    const size_t eq = token.find('=');
    out.emplace_back(token.substr(0, eq), eq == std::string::npos ? "" : token.substr(eq + 1));
  }
  return out;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// The file each property last wrote in this process.
std::map<std::string, std::string>& LastWritten() {
  static std::map<std::string, std::string> files;
  return files;
}

}  // namespace

const sim::Violation* NewViolation(const sim::SimReport& report, std::string_view invariant, std::string* known) {
  const sim::Violation* v = FindViolation(report, invariant);
  if (v == nullptr) return nullptr;
  const std::string name = KnownOpenFinding(*v);
  if (name.empty()) return v;
  if (known != nullptr) *known = name;
  return nullptr;
}

void ApplyRcDefaults() {
  auto params = ParseParams(std::getenv("RC_PARAMS"));
  for (const auto& [key, value] : ParseParams(std::getenv("MS_RC_DEFAULTS"))) {
    bool given = false;
    for (const auto& p : params) given = given || p.first == key;
    if (!given) params.emplace_back(key, value);
  }
  std::string merged;
  for (const auto& [key, value] : params) {
    if (!merged.empty()) merged += ' ';
    merged += value.empty() ? key : key + "=" + value;
  }
  if (!merged.empty()) ::setenv("RC_PARAMS", merged.c_str(), 1);
}

void ApplyBreak(RunSpec* spec) {
  const std::string what = Env("MS_PROP_BREAK");
  if (what.empty()) return;
  if (what == "entry-lock") {
    spec->break_entry_lock = true;
  } else if (what.rfind("max-steps=", 0) == 0) {
    spec->max_steps = std::strtoull(what.c_str() + 10, nullptr, 10);
  } else {
    std::fprintf(stderr, "MS_PROP_BREAK=\"%s\": expected entry-lock or max-steps=N\n", what.c_str());
    std::abort();
  }
}

std::string BinaryDir() { return MS_PROP_BINARY_DIR; }

std::string RegressionDir() {
  const std::string env = Env("MS_REGRESSION_DIR");
  return env.empty() ? SourceDir() + "/fixtures/regressions" : env;
}

std::string Pretty(const std::string& path) {
  std::error_code ec;
  const auto rel = std::filesystem::relative(path, SourceDir(), ec);
  if (ec || rel.empty() || rel.native().rfind("..", 0) == 0) return path;
  return rel.string();
}

const sim::Violation* FindViolation(const sim::SimReport& report, std::string_view invariant) {
  for (const sim::Violation& v : report.violations) {
    if (v.invariant == invariant) return &v;
  }
  return nullptr;
}

std::string SaveRegression(const std::string& property, const sim::SimReport& report) {
  const std::string dir = RegressionDir();
  const uint64_t hash = sim::Fnv1a64(sim::kFnvOffsetBasis, report.config.ToText());
  const std::string path = dir + "/" + property + "-" + sim::HashToHex(hash) + ".trace";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  auto& last = LastWritten()[property];
  if (!last.empty() && last != path) std::filesystem::remove(last, ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << report.trace_file;
  out.close();
  if (!out) return "";
  last = path;
  return path;
}

std::string DescribeFailure(const sim::SimReport& report, std::string_view invariant,
                            const std::string& trace_path) {
  std::ostringstream out;
  const sim::Violation* v = FindViolation(report, invariant);
  out << invariant << " violated";
  if (v != nullptr) out << " at step " << v->step << ": " << v->detail;
  out << "\n  run: " << report.steps << " steps, outcome " << sim::OutcomeName(report.outcome) << ", "
      << report.crashes << " crashes, " << report.fs_faults << " filesystem faults";
  if (!report.history.empty()) {
    out << "\n  operations leading there:";
    for (const std::string& h : report.history) out << "\n    " << h;
  }
  if (trace_path.empty()) {
    out << "\n  (could not write the trace file under " << RegressionDir() << ")";
  } else {
    const std::string stem = std::filesystem::path(trace_path).stem().string();
    out << "\n  trace:      " << Pretty(trace_path)
        << "\n  replay:     " << Pretty(BinaryDir() + "/sim/modelstore-sim") << " replay " << Pretty(trace_path)
        << "\n  regression: cmake " << Pretty(BinaryDir()) << " && ctest --test-dir " << Pretty(BinaryDir())
        << " -R 'regression\\." << stem << "$'  (commit the file to keep it)";
  }
  return out.str();
}

sim::SimReport RequireInvariant(RunSpec spec, std::string_view invariant, const std::string& property) {
  ApplyBreak(&spec);
  sim::SimReport report = sim::RunSimulation(ToSimConfig(spec));
  std::string known;
  const sim::Violation* v = NewViolation(report, invariant, &known);
  if (!known.empty()) {
    RC_TAG("known open finding " + known);
  } else {
    RC_TAG(report.crashes > 0 ? "crashed" : "no crash", report.fs_faults > 0 ? "faults" : "no fault");
  }
  if (v != nullptr) {
    const std::string path = SaveRegression(property, report);
    RC_FAIL(DescribeFailure(report, invariant, path));
  }
  return report;
}

bool CrashBudgetIsCampaign() {
  const char* b = std::getenv("MS_CRASH_BUDGET");
  return b != nullptr && std::string(b) == "campaign";
}

std::pair<uint64_t, uint64_t> ShardFromEnv() {
  unsigned long index = 0, count = 1;
  const char* s = std::getenv("MS_SHARD");
  if (s != nullptr && (std::sscanf(s, "%lu/%lu", &index, &count) != 2 || count == 0 || index >= count)) {
    std::fprintf(stderr, "MS_SHARD=\"%s\" must be I/N with 0 <= I < N\n", s);
    std::abort();
  }
  return {index, count};
}

}  // namespace ms::prop
