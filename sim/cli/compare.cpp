#include "sim/cli/compare.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "designs/design_registry.h"
#include "sim/cli/campaign.h"
#include "sim/cli/config_flags.h"
#include "sim/cli/output_file.h"
#include "sim/cli/shrink.h"

namespace ms::cli {
namespace {

using Json = nlohmann::ordered_json;
constexpr size_t kTraceBytesMax = size_t{1} << 30;

double Per(double a, double b) { return b > 0 ? a / b : 0.0; }

// "I3 footprint" -> "I3".
std::string ShortName(const std::string& invariant) { return invariant.substr(0, invariant.find(' ')); }

uint64_t Operations(const Totals& t) {
  uint64_t n = 0;
  for (const auto& [kind, count] : t.ops) n += count;
  return n;
}

struct Figures {
  double footprint = 1, blob_level = 1, per_blob = 0, per_manifest = 0, ops_per_s = 0;
};

Figures FiguresOf(const CampaignReport& r) {
  const Totals& t = r.totals;
  Figures f;
  if (t.referenced_bytes > 0) f.footprint = Per(static_cast<double>(t.disk_bytes), static_cast<double>(t.referenced_bytes));
  f.blob_level = BlobLevelRatio(t);
  f.per_blob = Per(static_cast<double>(t.blob_fetches), static_cast<double>(t.unique_blobs));
  f.per_manifest = Per(static_cast<double>(t.fetches), static_cast<double>(t.unique_fetched));
  f.ops_per_s = Per(static_cast<double>(Operations(t)), r.WallSeconds());
  return f;
}

bool RowPassed(const CompareRow& row) {
  return std::all_of(row.cells.begin(), row.cells.end(), [](const CompareCell& c) { return c.verdict != "FAIL"; }) &&
         row.report.totals.seeds > 0;
}

void Shrink(const std::string& fail_dir, const std::string& design, uint64_t runs_max, CompareCell* cell) {
  auto text = ReadSmallFile("compare", cell->trace, kTraceBytesMax);
  if (!text.ok()) return;
  auto parsed = sim::ParseTraceFile(*text);
  if (!parsed.ok()) return;
  const sim::SimConfig config = parsed->first;
  const sim::SimReport first = sim::RunSimulation(config);
  const bool fails = std::any_of(first.violations.begin(), first.violations.end(),
                                 [&](const sim::Violation& v) { return v.invariant == cell->invariant; });
  if (!fails) return;
  const ShrinkOutcome out = ShrinkRun(config, first, cell->invariant, runs_max);
  const std::string path = fail_dir + "/" + design + "/" + ShortName(cell->invariant) + ".min.trace";
  if (!WriteFileAtomically(path, out.report.trace_file).ok()) return;
  cell->shrunk = true;
  cell->shrunk_actors = out.config.scripts.empty() ? static_cast<uint64_t>(out.config.actors) : out.config.scripts.size();
  cell->shrunk_ops = OperationCount(out.config);
  cell->shrunk_steps = out.report.steps;
  cell->shrink_runs = out.runs;
  cell->shrunk_trace = path;
}

}  // namespace

const std::vector<InvariantStatement>& InvariantStatements() {
  static const std::vector<InvariantStatement> statements = {
      {"I1 no-referenced-loss",
       "a record that says succeeded has exactly the registry's files, bytes and symlinks in what its pod sees "
       "(model/, or the directory a model/ symlink names), checked after every step that touches it",
       "no store entry's data/ is moved away or removed while a volume is recorded succeeded on it"},
      {"I2 dedup",
       "no full pull fetches a layer (blob) while a volume is recorded succeeded on a manifest that lists it, nor a "
       "layer that another full pull, of any manifest, its record still running, fetched already (when both succeed)",
       "no full pull fetches the manifest M while store/<M>/data holds it, nor a layer while its entry under blobs/ "
       "holds it; never more blob fetches in flight than fetches_max"},
      {"I3 footprint",
       "at quiescence, every payload inode on disk (the whole root) is held by an active volume's view, payload "
       "bytes on disk (each inode once) are at most one copy of each layer the active records list, and every file "
       "under volumes/ belongs to a record; before the final sweep too in a run with no crash, fault or corrupted "
       "record",
       "one entry per referenced digest and one layer entry per layer they list, no staging, no lock file of a gone "
       "volume; nothing for the sweep before it"},
      {"I4 progress", "no deadlock, no step-limit livelock, no actor failure", ""},
      {"I5 confinement", "nothing created, changed or removed outside the root", ""},
      {"I6 determinism", "same seed, same trace and disk hashes", ""},
      {"I7 results", "every call's answer is explained by some real-time order of the calls on its slot", ""},
      {"I8 recovery",
       "at every power loss, what the calls that returned success promised is still on the disk: a published "
       "volume's record and its files, an unpublished volume's record gone",
       "the entry a published full volume is recorded on still holds its payload"},
  };
  return statements;
}

CompareReport RunCompare(const CompareOptions& o, Status* output_error) {
  const auto start = std::chrono::steady_clock::now();
  CompareReport out;
  out.config = o.config;
  out.config.design = designs::kDefaultDesign;
  out.swarm = o.swarm;
  out.check_determinism = o.check_determinism;
  out.first_seed = o.first_seed;
  out.seeds = o.seeds;
  out.shrink_runs = o.shrink_runs;
  std::vector<std::string> names = o.designs;
  if (names.empty()) {
    for (const designs::DesignInfo& d : designs::Designs()) names.emplace_back(d.name);
  }
  for (const std::string& name : names) {
    if (o.progress) std::fprintf(stderr, "compare: %s, seeds %llu..%llu\n", name.c_str(),
                                 static_cast<unsigned long long>(o.first_seed),
                                 static_cast<unsigned long long>(o.first_seed + o.seeds - 1));
    CampaignOptions co;
    co.config = o.config;
    co.config.design = name;
    co.first_seed = o.first_seed;
    co.seeds = o.seeds;
    co.swarm = o.swarm;
    co.check_determinism = o.check_determinism;
    co.jobs = o.jobs;
    co.fail_dir = o.fail_dir + "/" + name;
    co.silent = true;
    co.self = o.self;
    CompareRow row;
    const designs::DesignInfo* info = designs::FindDesign(name);
    row.design = name;
    row.title = info ? std::string(info->title) : "";
    row.proposal = info ? std::string(info->proposal) : "";
    Status campaign_error;
    row.report = RunCampaign(co, &campaign_error);
    if (!campaign_error.ok() && output_error->ok()) *output_error = campaign_error;
    for (const std::string& inv : InvariantNames()) {
      CompareCell cell;
      cell.invariant = inv;
      cell.verdict = Verdict(row.report, inv);
      if (auto it = row.report.totals.failed_seeds.find(inv); it != row.report.totals.failed_seeds.end()) {
        cell.failed_seeds = it->second;
      }
      for (const FailedSeed& f : row.report.failures) {  // in seed order
        const auto v = std::find_if(f.violations.begin(), f.violations.end(),
                                    [&](const sim::Violation& each) { return each.invariant == inv; });
        if (v == f.violations.end()) continue;
        cell.first_seed = f.seed;
        cell.detail = v->detail;
        cell.trace = f.trace_path;
        break;
      }
      row.cells.push_back(std::move(cell));
    }
    out.rows.push_back(std::move(row));
  }
  // Shrink every failing cell's first seed, cells spread over the jobs.
  std::vector<std::pair<size_t, size_t>> tasks;
  for (size_t r = 0; r < out.rows.size(); ++r) {
    for (size_t c = 0; c < out.rows[r].cells.size(); ++c) {
      const CompareCell& cell = out.rows[r].cells[c];
      if (o.shrink_runs > 0 && cell.verdict == "FAIL" && !cell.trace.empty()) tasks.emplace_back(r, c);
    }
  }
  if (o.progress && !tasks.empty()) std::fprintf(stderr, "compare: shrinking %zu failures\n", tasks.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < tasks.size(); i = next++) {
      CompareRow& row = out.rows[tasks[i].first];
      Shrink(o.fail_dir, row.design, o.shrink_runs, &row.cells[tasks[i].second]);
    }
  };
  std::vector<std::thread> threads;
  for (int j = 1; j < o.jobs; ++j) threads.emplace_back(worker);
  worker();
  for (std::thread& t : threads) t.join();
  out.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

std::string CompareText(const CompareReport& r, const std::string& self) {
  std::ostringstream out;
  char buf[512];
  std::snprintf(buf, sizeof buf, "\nmodelstore-sim compare: seeds %llu..%llu%s, the same seeds for every design\n",
                static_cast<unsigned long long>(r.first_seed),
                static_cast<unsigned long long>(r.first_seed + r.seeds - 1),
                r.swarm ? " (swarm: each seed its own subset of the campaign's features)" : "");
  out << buf;
  out << "  cell: FAIL <first failing seed> <ops>/<steps> of its run shrunk while the same invariant fails\n\n";
  const std::vector<std::string> names = InvariantNames();
  std::snprintf(buf, sizeof buf, "  %-6s", "design");
  out << buf;
  for (const std::string& n : names) {
    // "I1 no-referenced-loss" is the one name wider than a column.
    const std::string shown = n == "I1 no-referenced-loss" ? "I1 no-ref-loss" : n.substr(0, 18);
    std::snprintf(buf, sizeof buf, " %-18s", shown.c_str());
    out << buf;
  }
  out << "\n";
  for (const CompareRow& row : r.rows) {
    std::snprintf(buf, sizeof buf, "  %-6s", row.design.c_str());
    out << buf;
    for (const CompareCell& c : row.cells) {
      std::string text = c.verdict;
      if (c.verdict == "FAIL") {
        text += " s" + std::to_string(c.first_seed);
        if (c.shrunk) text += " " + std::to_string(c.shrunk_ops) + "/" + std::to_string(c.shrunk_steps);
      }
      std::snprintf(buf, sizeof buf, " %-18s", text.c_str());
      out << buf;
    }
    out << "\n";
  }
  out << "\n";
  std::snprintf(buf, sizeof buf, "  %-6s %10s %10s %10s %10s %10s %12s %12s\n", "design", "footprint", "blob-level",
                "fetch/blob", "fetch/mfst", "ops/s", "payload B", "all bytes B");
  out << buf;
  for (const CompareRow& row : r.rows) {
    const Figures f = FiguresOf(row.report);
    std::snprintf(buf, sizeof buf, "  %-6s %10.4f %10.4f %10.3f %10.3f %10.0f %12llu %12llu\n", row.design.c_str(),
                  f.footprint, f.blob_level, f.per_blob, f.per_manifest, f.ops_per_s,
                  static_cast<unsigned long long>(row.report.totals.disk_bytes),
                  static_cast<unsigned long long>(row.report.totals.all_disk_bytes));
    out << buf;
  }
  out << "  footprint: payload bytes on disk / unique bytes the records need; blob-level: the same over each distinct\n"
         "  layer (blob) digest once; fetch/blob, fetch/mfst: fetches per unique blob and manifest per seed; ops/s: CSI calls\n"
         "  per wall second; payload B / all bytes B: at quiescence, summed over the seeds\n\n";
  for (const CompareRow& row : r.rows) {
    for (const CompareCell& c : row.cells) {
      if (c.verdict != "FAIL") continue;
      out << "  " << row.design << " " << c.invariant << ": " << c.failed_seeds << " seed(s), first " << c.first_seed
          << ": " << c.detail.substr(0, std::min<size_t>(240, c.detail.find('\n'))) << "\n";
      if (c.shrunk) {
        out << "    minimal: " << c.shrunk_actors << " actor(s), " << c.shrunk_ops << " operation(s), " << c.shrunk_steps
            << " steps (" << c.shrink_runs << " runs); replay: " << self << " replay " << Pretty(c.shrunk_trace) << "\n";
      } else if (!c.trace.empty()) {
        out << "    replay: " << self << " replay " << Pretty(c.trace) << "\n";
      }
    }
  }
  out << "\n  statements (every design; and what our core's layout adds, judged for core only):\n";
  for (const InvariantStatement& s : InvariantStatements()) {
    out << "    " << s.name << ": " << s.every_design << "\n";
    if (!s.core_only.empty()) out << "      core only: " << s.core_only << "\n";
  }
  std::snprintf(buf, sizeof buf, "\n%zu designs, %llu seeds each, wall %.1f s\n", r.rows.size(),
                static_cast<unsigned long long>(r.seeds), r.wall_s);
  out << buf;
  return out.str();
}

std::string CompareJson(const CompareReport& r) {
  Json j;
  j["schema"] = kCompareSchema;
  j["schema_version"] = kCompareSchemaVersion;
  bool core_passed = false;
  for (const CompareRow& row : r.rows) {
    if (row.design == designs::kDefaultDesign) core_passed = RowPassed(row);
  }
  j["core_passed"] = core_passed;
  j["campaign"] = {{"first_seed", r.first_seed},
                   {"seeds", r.seeds},
                   {"swarm", r.swarm},
                   {"check_determinism", r.check_determinism},
                   {"shrink_runs", r.shrink_runs}};
  j["config_text"] = ConfigTextWithoutSeed(r.config);
  j["wall_s"] = r.wall_s;
  Json statements = Json::array();
  for (const InvariantStatement& s : InvariantStatements()) {
    statements.push_back({{"name", s.name}, {"every_design", s.every_design}, {"core_only", s.core_only}});
  }
  j["statements"] = statements;
  Json designs_json = Json::array();
  for (const CompareRow& row : r.rows) {
    const Totals& t = row.report.totals;
    const Figures f = FiguresOf(row.report);
    const Json report_json = Json::parse(ToJson(row.report));  // the campaign's own totals, as `run --json` has them
    Json cells = Json::array();
    for (const CompareCell& c : row.cells) {
      Json cell = {{"name", c.invariant},
                   {"verdict", c.verdict},
                   {"failed_seeds", c.failed_seeds},
                   {"first_failing_seed", c.verdict == "FAIL" ? Json(c.first_seed) : Json(nullptr)},
                   {"detail", c.detail},
                   {"trace", c.trace}};
      cell["shrunk"] = c.shrunk ? Json{{"actors", c.shrunk_actors},
                                       {"operations", c.shrunk_ops},
                                       {"steps", c.shrunk_steps},
                                       {"runs", c.shrink_runs},
                                       {"trace", c.shrunk_trace}}
                                : Json(nullptr);
      cells.push_back(cell);
    }
    designs_json.push_back(
        {{"name", row.design},
         {"title", row.title},
         {"proposal", row.proposal},
         {"passed", RowPassed(row)},
         {"seeds_run", t.seeds},
         {"seeds_failed", t.failed},
         {"figures",
          {{"footprint_ratio", f.footprint},
           {"blob_level_ratio", f.blob_level},
           {"fetches_per_unique_blob", f.per_blob},
           {"fetches_per_unique_manifest", f.per_manifest},
           {"operations_per_s", f.ops_per_s},
           {"steps_per_s", Per(static_cast<double>(t.steps), row.report.WallSeconds())},
           {"wall_s", row.report.WallSeconds()}}},
         {"totals", report_json["totals"]},
         {"invariants", cells}});
  }
  j["designs"] = designs_json;
  return j.dump(2) + "\n";
}

Result<std::vector<std::string>> CheckExpectations(const CompareReport& r, std::string_view expected,
                                                   std::string_view name) {
  std::map<std::pair<std::string, std::string>, std::string> pinned;  // (design, I#) -> verdict
  std::istringstream in{std::string(expected)};
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (const size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream words(line);
    std::string design, invariant, verdict, extra;
    if (!(words >> design)) continue;
    if (!(words >> invariant >> verdict) || (words >> extra) ||
        (verdict != "PASS" && verdict != "FAIL" && verdict != "not-checked")) {
      return Status(Code::kInvalidArgument, std::string(name) + ":" + std::to_string(number) +
                                                ": not \"DESIGN INVARIANT PASS|FAIL|not-checked\"");
    }
    if (verdict == "not-checked") verdict = "not checked";
    pinned[{design, ShortName(invariant)}] = verdict;
  }
  std::vector<std::string> mismatches;
  std::set<std::pair<std::string, std::string>> seen;
  for (const CompareRow& row : r.rows) {
    for (const CompareCell& c : row.cells) {
      const std::pair<std::string, std::string> key{row.design, ShortName(c.invariant)};
      seen.insert(key);
      const auto it = pinned.find(key);
      if (it == pinned.end()) {
        mismatches.push_back(row.design + " " + c.invariant + ": " + c.verdict + ", not pinned in " + std::string(name));
      } else if (it->second != c.verdict) {
        mismatches.push_back(row.design + " " + c.invariant + ": " + c.verdict + ", pinned " + it->second +
                             (c.verdict == "FAIL" ? " (first failing seed " + std::to_string(c.first_seed) + ": " +
                                                        c.detail.substr(0, 160) + ")"
                                                  : " (a known weakness no longer shows: was the model changed?)"));
      }
    }
  }
  for (const auto& [key, verdict] : pinned) {
    if (seen.count(key) == 0) mismatches.push_back(key.first + " " + key.second + ": pinned " + verdict + ", not run");
  }
  return mismatches;
}

}  // namespace ms::cli
