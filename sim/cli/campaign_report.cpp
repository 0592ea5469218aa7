#include "sim/cli/campaign_report.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "designs/design_registry.h"
#include "sim/cli/config_flags.h"

#ifndef MS_BUILD_VERSION
#define MS_BUILD_VERSION "unknown"
#endif
#ifndef MS_BUILD_COMPILER
#define MS_BUILD_COMPILER "unknown"
#endif
#ifndef MS_BUILD_TYPE
#define MS_BUILD_TYPE "unknown"
#endif
#ifndef MS_BUILD_SANITIZE
#define MS_BUILD_SANITIZE ""
#endif
#if __has_include("ms_build_git.h")
#include "ms_build_git.h"
#endif
#ifndef MS_BUILD_GIT
#define MS_BUILD_GIT "unknown"
#endif

namespace ms::cli {
namespace {

using Json = nlohmann::ordered_json;

double Per(double a, double b) { return b > 0 ? a / b : 0.0; }

std::string Format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string Format(const char* fmt, ...) {
  char buf[1024];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  return buf;
}

unsigned long long U(uint64_t v) { return static_cast<unsigned long long>(v); }

std::string SeedsText(const CampaignReport& r) {
  if (r.single_seed) return "seed " + std::to_string(r.first_seed);
  std::string text = std::to_string(r.first_seed) + ".." + std::to_string(r.first_seed + (r.seeds - 1));
  if (r.shard_count > 1) {
    if (r.shards.size() == 1) {
      text += " shard " + std::to_string(r.shards[0].index) + "/" + std::to_string(r.shard_count);
    } else {
      text += " shards";
      for (size_t i = 0; i < r.shards.size(); ++i) text += (i ? "," : " ") + std::to_string(r.shards[i].index);
      text += " of " + std::to_string(r.shard_count);
    }
  }
  return text;
}

std::string JoinSeeds(const std::vector<FailedSeed>& failures, size_t max) {
  std::string out;
  for (size_t i = 0; i < failures.size() && i < max; ++i) out += (i ? " " : "") + std::to_string(failures[i].seed);
  if (failures.size() > max) out += " ... (" + std::to_string(failures.size() - max) + " more)";
  return out;
}

Json MapToJson(const std::map<std::string, uint64_t>& m) {
  Json j = Json::object();
  for (const auto& [k, v] : m) j[k] = v;
  return j;
}

Json StringMapToJson(const std::map<std::string, std::string>& m) {
  Json j = Json::object();
  for (const auto& [k, v] : m) j[k] = v;
  return j;
}

Json ConfigObject(const sim::SimConfig& config) {
  // Keys that may repeat (op=, crash_at=, ...) become arrays; others scalars.
  Json j = Json::object();
  std::map<std::string, int> count;
  const auto pairs = ConfigPairs(config);
  for (const auto& [k, v] : pairs) ++count[k];
  for (const auto& [k, v] : pairs) {
    const bool list = count[k] > 1 || k == "op" || k == "crash_at" || k == "fault_at" || k == "kill_at";
    if (list) {
      j[k].push_back(v);
    } else {
      j[k] = v;
    }
  }
  return j;
}

void AddTally(sim::HostileTally* sum, const sim::HostileTally& n) {
  sum->served += n.served;
  sum->refused += n.refused;
  sum->excused += n.excused;
  sum->accepted += n.accepted;
}

// The hostile registry's line: the classes served and refused, per class
// "served/refused", wrapped.
std::string HostileReport(const sim::SimConfig& c, const Totals& t) {
  if (c.hostile_rate <= 0 && t.hostile.empty()) return "";
  sim::HostileTally all;
  for (const auto& [cls, n] : t.hostile) AddTally(&all, n);
  std::string out = Format(
      "  hostile        rate %g, %zu classes served in %llu pulls: %llu refused naming the input, %llu failed first "
      "otherwise (fault, conflict, cancel), %llu WRONGLY accepted\n",
      c.hostile_rate, t.hostile.size(), U(all.served), U(all.refused), U(all.excused), U(all.accepted));
  std::string line;
  for (const auto& [cls, n] : t.hostile) {
    std::string item = cls + " " + std::to_string(n.served) + "/" + std::to_string(n.refused);
    if (n.accepted > 0) item += " (" + std::to_string(n.accepted) + " WRONGLY ACCEPTED)";
    if (!line.empty() && line.size() + item.size() > 96) {
      out += "    " + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : "  ") + item;
  }
  if (!line.empty()) out += "    " + line + "\n";
  if (!t.hostile.empty()) {
    out += "    (per class: pulls served / refused naming the input)\n";
  }
  return out;
}

}  // namespace

double BlobLevelRatio(const Totals& t) {
  const uint64_t blob_bytes = t.blob_bytes > 0 ? t.blob_bytes : t.content_bytes;
  return blob_bytes > 0 ? Per(static_cast<double>(t.disk_bytes), static_cast<double>(blob_bytes)) : 1.0;
}

void Accumulate(Totals* t, const sim::SimReport& r) {
  ++t->seeds;
  t->steps += r.steps;
  t->crashes += r.crashes;
  t->fs_faults += r.fs_faults;
  t->registry_faults += r.registry_faults;
  t->virtual_ms += r.virtual_ms;
  for (const auto& [k, v] : r.ops) t->ops[k] += v;
  for (const auto& [k, v] : r.op_errors) t->op_errors[k] += v;
  for (const auto& [d, n] : r.manifest_fetches) {
    t->fetches += n;
    ++t->unique_fetched;
  }
  for (const auto& [d, n] : r.blob_fetches) {
    t->blob_fetches += n;
    ++t->unique_blobs;
  }
  t->disk_bytes += r.footprint.bytes_on_disk;
  t->referenced_bytes += r.footprint.unique_referenced;
  t->content_bytes += r.footprint.unique_content_bytes;
  t->blob_bytes += r.footprint.unique_blob_bytes;
  t->fetch_peak = std::max(t->fetch_peak, r.blob_fetches_in_flight_peak);
  if (r.blob_fetches_in_flight_peak >= static_cast<uint64_t>(r.config.fetches_max)) ++t->seeds_at_fetch_bound;
  t->all_disk_bytes += r.footprint.all_bytes_on_disk;
  t->results_calls += r.results.calls;
  t->results_histories += r.results.histories;
  t->results_inconclusive += r.results.inconclusive;
  for (const auto& [cls, n] : r.hostile) AddTally(&t->hostile[cls], n);
  if (!r.ok()) ++t->failed;
  std::set<std::string> seen;
  for (const auto& v : r.violations) {
    ++t->violations[v.invariant];
    if (seen.insert(v.invariant).second) ++t->failed_seeds[v.invariant];
  }
}

void Add(Totals* t, const Totals& m) {
  t->seeds += m.seeds;
  t->failed += m.failed;
  t->steps += m.steps;
  t->crashes += m.crashes;
  t->fs_faults += m.fs_faults;
  t->registry_faults += m.registry_faults;
  t->fetches += m.fetches;
  t->unique_fetched += m.unique_fetched;
  t->disk_bytes += m.disk_bytes;
  t->referenced_bytes += m.referenced_bytes;
  t->content_bytes += m.content_bytes;
  t->blob_bytes += m.blob_bytes;
  t->blob_fetches += m.blob_fetches;
  t->fetch_peak = std::max(t->fetch_peak, m.fetch_peak);
  t->seeds_at_fetch_bound += m.seeds_at_fetch_bound;
  t->unique_blobs += m.unique_blobs;
  t->all_disk_bytes += m.all_disk_bytes;
  t->virtual_ms += m.virtual_ms;
  t->results_calls += m.results_calls;
  t->results_histories += m.results_histories;
  t->results_inconclusive += m.results_inconclusive;
  for (const auto& [k, v] : m.ops) t->ops[k] += v;
  for (const auto& [k, v] : m.op_errors) t->op_errors[k] += v;
  for (const auto& [k, v] : m.failed_seeds) t->failed_seeds[k] += v;
  for (const auto& [k, v] : m.violations) t->violations[k] += v;
  for (const auto& [cls, n] : m.hostile) AddTally(&t->hostile[cls], n);
}

std::vector<uint64_t> CampaignReport::MissingShards() const {
  std::vector<uint64_t> missing;
  std::set<uint64_t> have;
  for (const ShardRun& s : shards) have.insert(s.index);
  for (uint64_t i = 0; i < shard_count && missing.size() < 10000; ++i) {
    if (have.count(i) == 0) missing.push_back(i);
  }
  return missing;
}

double CampaignReport::WallSeconds() const {
  double wall = 0;
  for (const ShardRun& s : shards) wall = std::max(wall, s.wall_s);
  return wall;
}

int CampaignReport::Jobs() const {
  int jobs = 0;
  for (const ShardRun& s : shards) jobs += s.jobs;
  return jobs;
}

std::map<std::string, std::string> BuildIdentity() {
  return {{"version", MS_BUILD_VERSION},
          {"git", MS_BUILD_GIT},
          {"compiler", MS_BUILD_COMPILER},
          {"build_type", MS_BUILD_TYPE},
          {"sanitize", MS_BUILD_SANITIZE}};
}

std::vector<std::string> InvariantNames() {
  std::vector<std::string> names;
  for (const char* name : sim::kInvariantNames) names.emplace_back(name);
  return names;
}

std::string Verdict(const CampaignReport& r, const std::string& invariant) {
  if (r.totals.failed_seeds.count(invariant) != 0) return "FAIL";
  if (invariant == "I6 determinism" && !r.check_determinism) return "not checked";
  if (r.totals.seeds == 0) return "not checked";
  return "PASS";
}

std::string TextReport(const CampaignReport& r) {
  const Totals& t = r.totals;
  const double wall_s = r.WallSeconds();
  std::string out = "\nmodelstore-sim report\n";
  out += Format("  seeds          %s: %llu run, %llu ok, %llu failed\n", SeedsText(r).c_str(), U(t.seeds),
                U(t.seeds - t.failed), U(t.failed));
  for (const ShardRun& s : r.shards) {
    if (s.stopped_by == "time-budget") {
      out += Format("  stopped        time budget (%.0f s) spent: %llu of %llu seeds%s ran\n", r.time_budget_s,
                    U(s.seeds_run), U(s.seeds_planned), r.shards.size() > 1 ? (" of shard " + std::to_string(s.index)).c_str() : "");
    } else if (s.stopped_by == "max-failures") {
      out += Format("  stopped        after %llu failing seed(s) (--max-failures): %llu of %llu seeds%s ran\n",
                    U(r.max_failures), U(s.seeds_run), U(s.seeds_planned),
                    r.shards.size() > 1 ? (" of shard " + std::to_string(s.index)).c_str() : "");
    }
  }
  if (const auto missing = r.MissingShards(); !missing.empty()) {
    std::string list;
    for (size_t i = 0; i < missing.size(); ++i) list += (i ? " " : "") + std::to_string(missing[i]);
    out += Format("  missing        shard(s) %s of %llu: no report\n", list.c_str(), U(r.shard_count));
  }
  const sim::SimConfig& c = r.config;
  out += Format("  workload       strategy %s, %d processes, %d actors x %d ops, faults %g, crashes %g (%s), shared slots %g%s\n",
                c.strategy.c_str(), c.processes, c.actors, c.ops, c.fault_rate, c.crash_rate, c.crash_model.c_str(), c.shared_slots,
                r.swarm ? "; swarm: each seed a random subset around these" : "");
  if (c.design != designs::kDefaultDesign) {
    const designs::DesignInfo* d = designs::FindDesign(c.design);
    out += Format("  design         %s: %s%s\n", c.design.c_str(), d ? std::string(d->title).c_str() : "?",
                  d && !d->proposal.empty() ? (" (" + std::string(d->proposal) + ")").c_str() : "");
  }
  out += Format("  steps          %llu (%.0f per seed), %.1f virtual s\n", U(t.steps),
                Per(static_cast<double>(t.steps), static_cast<double>(t.seeds)), static_cast<double>(t.virtual_ms) / 1000.0);
  out += Format("  speed          %.1f seeds/s, %.0f scheduling points/s (wall %.2f s, %d job%s%s)\n",
                Per(static_cast<double>(t.seeds), wall_s), Per(static_cast<double>(t.steps), wall_s), wall_s, r.Jobs(),
                r.Jobs() == 1 ? "" : "s", r.shards.size() > 1 ? " over the shards, wall of the longest" : "");
  out += "  operations    ";
  for (const auto& [k, v] : t.ops) out += Format(" %s %llu", k.c_str(), U(v));
  out += "\n";
  if (!t.op_errors.empty()) {
    out += "  op errors     ";
    int shown = 0;
    for (const auto& [k, v] : t.op_errors) {
      if (shown++ == 8) {
        out += " ...";
        break;
      }
      out += Format(" [%s] %llu", k.c_str(), U(v));
    }
    out += "\n";
  }
  out += Format("  faults         filesystem %llu, registry %llu; crashes %llu\n", U(t.fs_faults), U(t.registry_faults),
                U(t.crashes));
  out += Format("  fetches        %.3f manifest fetches per unique digest per seed (%llu / %llu), %.3f blob fetches per unique blob (%llu / %llu)\n",
                Per(static_cast<double>(t.fetches), static_cast<double>(t.unique_fetched)), U(t.fetches),
                U(t.unique_fetched), Per(static_cast<double>(t.blob_fetches), static_cast<double>(t.unique_blobs)),
                U(t.blob_fetches), U(t.unique_blobs));
  out += Format("  fetch bound    peak %llu blob fetches in flight at once; %llu of %llu seeds reached their fetches_max\n",
                U(t.fetch_peak), U(t.seeds_at_fetch_bound), U(t.seeds));
  out += Format("  footprint      bytes on disk / one copy per manifest = %.4f (%llu / %llu, at quiescence)\n",
                t.referenced_bytes > 0 ? Per(static_cast<double>(t.disk_bytes), static_cast<double>(t.referenced_bytes)) : 1.0,
                U(t.disk_bytes), U(t.referenced_bytes));
  const double blob_ratio = BlobLevelRatio(t);
  out += Format("  blob-level     bytes on disk / unique layer bytes = %.3f (%llu / %llu): %s\n", blob_ratio,
                U(t.disk_bytes), U(t.blob_bytes > 0 ? t.blob_bytes : t.content_bytes),
                blob_ratio > 1.0 ? "a layer kept more than once (I3, DESIGN 2.8)" : "one copy per layer (I3)");
  out += HostileReport(c, t);
  out += Format("  results        %llu call answers judged in %llu slot histories, %llu inconclusive (I7)\n",
                U(t.results_calls), U(t.results_histories), U(t.results_inconclusive));
  for (const std::string& name : InvariantNames()) {
    const std::string verdict = Verdict(r, name);
    if (verdict == "FAIL") {
      out += Format("  %-24s FAIL in %llu seed(s)\n", name.c_str(), U(t.failed_seeds.at(name)));
    } else if (verdict == "not checked" && name == "I6 determinism") {
      out += Format("  %-24s not checked (add --check-determinism)\n", name.c_str());
    } else {
      out += Format("  %-24s %s\n", name.c_str(), verdict.c_str());
    }
  }
  if (!r.failures.empty()) out += "  failing seeds  " + JoinSeeds(r.failures, 50) + "\n";
  out += Format("%llu passed, %llu failed\n", U(t.seeds - t.failed), U(t.failed));
  return out;
}

std::string ToJson(const CampaignReport& r) {
  Json j;
  j["schema"] = kReportSchema;
  j["schema_version"] = kReportSchemaVersion;
  j["passed"] = r.Passed() && r.MissingShards().empty();
  j["config"] = ConfigObject(r.config);
  j["config_text"] = ConfigTextWithoutSeed(r.config);
  Json campaign;
  campaign["single_seed"] = r.single_seed;
  campaign["first_seed"] = r.first_seed;
  campaign["seeds"] = r.seeds;
  campaign["check_determinism"] = r.check_determinism;
  campaign["swarm"] = r.swarm;
  campaign["shard_count"] = r.shard_count;
  campaign["time_budget_s"] = r.time_budget_s;
  campaign["max_failures"] = r.max_failures;
  j["campaign"] = campaign;
  Json shards = Json::array();
  for (const ShardRun& s : r.shards) {
    shards.push_back({{"index", s.index},
                      {"seeds_planned", s.seeds_planned},
                      {"seeds_run", s.seeds_run},
                      {"stopped_by", s.stopped_by},
                      {"wall_s", s.wall_s},
                      {"jobs", s.jobs},
                      {"build", StringMapToJson(s.build)}});
  }
  j["shards"] = shards;
  j["shards_missing"] = r.MissingShards();
  const Totals& t = r.totals;
  j["totals"] = {{"seeds_run", t.seeds},
                 {"seeds_passed", t.seeds - t.failed},
                 {"seeds_failed", t.failed},
                 {"steps", t.steps},
                 {"virtual_ms", t.virtual_ms},
                 {"operations", MapToJson(t.ops)},
                 {"op_errors", MapToJson(t.op_errors)},
                 {"fs_faults", t.fs_faults},
                 {"registry_faults", t.registry_faults},
                 {"crashes", t.crashes},
                 {"manifest_fetches", t.fetches},
                 {"unique_fetched_digests", t.unique_fetched},
                 {"bytes_on_disk", t.disk_bytes},
                 {"unique_referenced_bytes", t.referenced_bytes},
                 {"unique_content_bytes", t.content_bytes},
                 {"unique_blob_bytes", t.blob_bytes},
                 {"all_bytes_on_disk", t.all_disk_bytes},
                 {"blob_fetches", t.blob_fetches},
                 {"unique_fetched_blobs", t.unique_blobs},
                 {"blob_fetches_in_flight_peak", t.fetch_peak},
                 {"seeds_at_fetch_bound", t.seeds_at_fetch_bound},
                 {"results_calls", t.results_calls},
                 {"results_histories", t.results_histories},
                 {"results_inconclusive", t.results_inconclusive}};
  Json hostile = Json::object();
  for (const auto& [cls, n] : t.hostile) {
    hostile[cls] = {{"served", n.served}, {"refused", n.refused}, {"excused", n.excused}, {"accepted", n.accepted}};
  }
  j["totals"]["hostile"] = hostile;
  const double wall_s = r.WallSeconds();
  j["figures"] = {
      {"steps_per_seed", Per(static_cast<double>(t.steps), static_cast<double>(t.seeds))},
      {"virtual_s", static_cast<double>(t.virtual_ms) / 1000.0},
      {"fetches_per_unique_digest", Per(static_cast<double>(t.fetches), static_cast<double>(t.unique_fetched))},
      {"fetches_per_unique_blob", Per(static_cast<double>(t.blob_fetches), static_cast<double>(t.unique_blobs))},
      {"footprint_ratio",
       t.referenced_bytes > 0 ? Per(static_cast<double>(t.disk_bytes), static_cast<double>(t.referenced_bytes)) : 1.0},
      {"blob_level_ratio", BlobLevelRatio(t)},
      {"file_content_ratio",
       t.content_bytes > 0 ? Per(static_cast<double>(t.disk_bytes), static_cast<double>(t.content_bytes)) : 1.0}};
  j["timing"] = {{"wall_s", wall_s},
                 {"jobs", r.Jobs()},
                 {"seeds_per_s", Per(static_cast<double>(t.seeds), wall_s)},
                 {"steps_per_s", Per(static_cast<double>(t.steps), wall_s)}};
  Json invariants = Json::array();
  for (const std::string& name : InvariantNames()) {
    const auto fs = t.failed_seeds.find(name);
    const auto vs = t.violations.find(name);
    invariants.push_back({{"name", name},
                          {"verdict", Verdict(r, name)},
                          {"failed_seeds", fs == t.failed_seeds.end() ? 0 : fs->second},
                          {"violations", vs == t.violations.end() ? 0 : vs->second}});
  }
  j["invariants"] = invariants;
  Json failures = Json::array();
  for (const FailedSeed& f : r.failures) {
    Json violations = Json::array();
    for (const sim::Violation& v : f.violations) {
      violations.push_back({{"invariant", v.invariant}, {"step", v.step}, {"detail", v.detail}});
    }
    const sim::Violation* first = f.violations.empty() ? nullptr : &f.violations.front();
    failures.push_back({{"seed", f.seed},
                        {"invariant", first ? first->invariant : ""},
                        {"step", first ? first->step : 0},
                        {"outcome", f.outcome},
                        {"trace", f.trace_path},
                        {"rerun", f.rerun},
                        {"violations", violations},
                        {"operations", f.history}});
  }
  j["failures"] = failures;
  return j.dump(2) + "\n";
}

Result<CampaignReport> FromJson(const std::string& text) {
  const Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status(Code::kCorrupt, "not JSON");
  if (j.value("schema", "") != kReportSchema) {
    return Status(Code::kCorrupt, std::string("not a ") + kReportSchema + " (no \"schema\": \"" + kReportSchema + "\")");
  }
  if (j.value("schema_version", 0) != kReportSchemaVersion) {
    return Status(Code::kCorrupt, "schema_version " + j.value("schema_version", Json(nullptr)).dump() +
                                      " (this tool reads version " + std::to_string(kReportSchemaVersion) + ")");
  }
  try {
    CampaignReport r;
    auto config = sim::SimConfig::Parse(j.at("config_text").get<std::string>());
    if (!config.ok()) return Status(Code::kCorrupt, "config_text: " + config.status().message());
    r.config = std::move(config).value();
    const Json& c = j.at("campaign");
    r.single_seed = c.at("single_seed").get<bool>();
    r.first_seed = c.at("first_seed").get<uint64_t>();
    r.seeds = c.at("seeds").get<uint64_t>();
    r.check_determinism = c.at("check_determinism").get<bool>();
    r.swarm = c.at("swarm").get<bool>();
    r.shard_count = c.at("shard_count").get<uint64_t>();
    r.time_budget_s = c.at("time_budget_s").get<double>();
    r.max_failures = c.at("max_failures").get<uint64_t>();
    r.config.seed = r.first_seed;
    for (const Json& s : j.at("shards")) {
      ShardRun run;
      run.index = s.at("index").get<uint64_t>();
      run.seeds_planned = s.at("seeds_planned").get<uint64_t>();
      run.seeds_run = s.at("seeds_run").get<uint64_t>();
      run.stopped_by = s.at("stopped_by").get<std::string>();
      run.wall_s = s.at("wall_s").get<double>();
      run.jobs = s.at("jobs").get<int>();
      run.build = s.at("build").get<std::map<std::string, std::string>>();
      r.shards.push_back(std::move(run));
    }
    const Json& t = j.at("totals");
    r.totals.seeds = t.at("seeds_run").get<uint64_t>();
    r.totals.failed = t.at("seeds_failed").get<uint64_t>();
    r.totals.steps = t.at("steps").get<uint64_t>();
    r.totals.virtual_ms = t.at("virtual_ms").get<int64_t>();
    r.totals.ops = t.at("operations").get<std::map<std::string, uint64_t>>();
    r.totals.op_errors = t.at("op_errors").get<std::map<std::string, uint64_t>>();
    r.totals.fs_faults = t.at("fs_faults").get<uint64_t>();
    r.totals.registry_faults = t.at("registry_faults").get<uint64_t>();
    r.totals.crashes = t.at("crashes").get<uint64_t>();
    r.totals.fetches = t.at("manifest_fetches").get<uint64_t>();
    r.totals.unique_fetched = t.at("unique_fetched_digests").get<uint64_t>();
    r.totals.disk_bytes = t.at("bytes_on_disk").get<uint64_t>();
    r.totals.referenced_bytes = t.at("unique_referenced_bytes").get<uint64_t>();
    r.totals.content_bytes = t.at("unique_content_bytes").get<uint64_t>();
    // Added later: a report without them merges as zeros.
    r.totals.all_disk_bytes = t.value("all_bytes_on_disk", uint64_t{0});
    r.totals.blob_bytes = t.value("unique_blob_bytes", uint64_t{0});
    r.totals.blob_fetches = t.value("blob_fetches", uint64_t{0});
    r.totals.unique_blobs = t.value("unique_fetched_blobs", uint64_t{0});
    r.totals.fetch_peak = t.value("blob_fetches_in_flight_peak", uint64_t{0});
    r.totals.seeds_at_fetch_bound = t.value("seeds_at_fetch_bound", uint64_t{0});
    r.totals.results_calls = t.at("results_calls").get<uint64_t>();
    r.totals.results_histories = t.at("results_histories").get<uint64_t>();
    r.totals.results_inconclusive = t.at("results_inconclusive").get<uint64_t>();
    if (t.contains("hostile")) {  // reports written before the hostile registry lack it
      for (const auto& [cls, n] : t.at("hostile").items()) {
        r.totals.hostile[cls] = {n.at("served").get<uint64_t>(), n.at("refused").get<uint64_t>(),
                                 n.at("excused").get<uint64_t>(), n.at("accepted").get<uint64_t>()};
      }
    }
    for (const Json& inv : j.at("invariants")) {
      const std::string name = inv.at("name").get<std::string>();
      if (const uint64_t n = inv.at("failed_seeds").get<uint64_t>(); n > 0) r.totals.failed_seeds[name] = n;
      if (const uint64_t n = inv.at("violations").get<uint64_t>(); n > 0) r.totals.violations[name] = n;
    }
    for (const Json& f : j.at("failures")) {
      FailedSeed seed;
      seed.seed = f.at("seed").get<uint64_t>();
      seed.outcome = f.at("outcome").get<std::string>();
      seed.trace_path = f.at("trace").get<std::string>();
      seed.rerun = f.at("rerun").get<std::string>();
      seed.history = f.at("operations").get<std::vector<std::string>>();
      for (const Json& v : f.at("violations")) {
        seed.violations.push_back(
            {v.at("invariant").get<std::string>(), v.at("step").get<uint64_t>(), v.at("detail").get<std::string>()});
      }
      r.failures.push_back(std::move(seed));
    }
    return r;
  } catch (const Json::exception& e) {
    return Status(Code::kCorrupt, std::string("malformed report: ") + e.what());
  }
}

namespace {

std::string Xml(std::string_view s) {
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // XML 1.0 allows no control characters but tab, newline and CR.
        if (c < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') {
          out += Format("\\x%02x", c);
        } else {
          out += ch;
        }
    }
  }
  return out;
}

}  // namespace

std::string ToJUnit(const CampaignReport& r) {
  const std::vector<std::string> names = InvariantNames();
  size_t invariant_failures = 0, skipped = 0;
  for (const std::string& name : names) {
    const std::string v = Verdict(r, name);
    invariant_failures += v == "FAIL";
    skipped += v == "not checked";
  }
  const size_t tests = names.size() + r.failures.size();
  const size_t failures = invariant_failures + r.failures.size();
  const double wall_s = r.WallSeconds();
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += Format("<testsuites name=\"modelstore-sim\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.3f\">\n",
                tests, failures, skipped, wall_s);
  out += Format("  <testsuite name=\"modelstore-sim.invariants\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.3f\">\n",
                names.size(), invariant_failures, skipped, wall_s);
  out += "    <properties>\n";
  out += "      <property name=\"seeds\" value=\"" + Xml(SeedsText(r)) + "\"/>\n";
  out += "      <property name=\"seeds_run\" value=\"" + std::to_string(r.totals.seeds) + "\"/>\n";
  out += std::string("      <property name=\"check_determinism\" value=\"") + (r.check_determinism ? "1" : "0") + "\"/>\n";
  out += std::string("      <property name=\"swarm\" value=\"") + (r.swarm ? "1" : "0") + "\"/>\n";
  for (const auto& [k, v] : ConfigPairs(r.config)) {
    out += "      <property name=\"config." + Xml(k) + "\" value=\"" + Xml(v) + "\"/>\n";
  }
  out += "    </properties>\n";
  for (const std::string& name : names) {
    const std::string verdict = Verdict(r, name);
    out += "    <testcase classname=\"modelstore-sim.invariants\" name=\"" + Xml(name) + "\" time=\"0\"";
    if (verdict == "PASS") {
      out += "/>\n";
      continue;
    }
    out += ">\n";
    if (verdict == "not checked") {
      out += "      <skipped message=\"" +
             Xml(name == "I6 determinism" ? "not checked (add --check-determinism)" : "no seed ran") + "\"/>\n";
    } else {
      std::string seeds;
      for (const FailedSeed& f : r.failures) {
        for (const sim::Violation& v : f.violations) {
          if (v.invariant == name) {
            seeds += (seeds.empty() ? "" : " ") + std::to_string(f.seed);
            break;
          }
        }
      }
      out += Format("      <failure type=\"%s\" message=\"violated in %llu seed(s)\">", Xml(name).c_str(),
                    U(r.totals.failed_seeds.at(name)));
      out += Xml("failing seeds: " + seeds) + "</failure>\n";
    }
    out += "    </testcase>\n";
  }
  out += "  </testsuite>\n";
  out += Format("  <testsuite name=\"modelstore-sim.failing-seeds\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"0\" time=\"0\">\n",
                r.failures.size(), r.failures.size());
  for (const FailedSeed& f : r.failures) {
    const sim::Violation* v = f.violations.empty() ? nullptr : &f.violations.front();
    out += "    <testcase classname=\"modelstore-sim.failing-seeds\" name=\"seed " + std::to_string(f.seed) + "\" time=\"0\">\n";
    const std::string message = v ? v->invariant + " violated at step " + std::to_string(v->step) : f.outcome;
    std::string body;
    for (const sim::Violation& each : f.violations) {
      body += each.invariant + " violated at step " + std::to_string(each.step) + ": " + each.detail + "\n";
    }
    for (const std::string& h : f.history) body += "  " + h + "\n";
    if (!f.trace_path.empty()) body += "trace: " + f.trace_path + "\n";
    if (!f.rerun.empty()) body += "re-run: modelstore-sim run " + f.rerun + "\n";
    out += "      <failure type=\"" + Xml(v ? v->invariant : "failure") + "\" message=\"" + Xml(message) + "\">" +
           Xml(body) + "</failure>\n";
    out += "    </testcase>\n";
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

Result<CampaignReport> Merge(const std::vector<CampaignReport>& reports, const std::vector<std::string>& names) {
  if (reports.empty()) return Status(Code::kInvalidArgument, "no reports to merge");
  const CampaignReport& first = reports.front();
  const std::string first_config = ConfigTextWithoutSeed(first.config);
  CampaignReport merged = first;
  merged.shards.clear();
  merged.totals = Totals{};
  merged.failures.clear();
  std::map<uint64_t, std::string> shard_from;
  for (size_t i = 0; i < reports.size(); ++i) {
    const CampaignReport& r = reports[i];
    auto differs = [&](const std::string& what) {
      return Status(Code::kInvalidArgument,
                    names[i] + ": " + what + " differs from " + names[0] + "'s: not shards of one campaign");
    };
    if (r.single_seed || first.single_seed) {
      if (reports.size() > 1) return Status(Code::kInvalidArgument, names[r.single_seed ? i : 0] + ": a single-seed run, not a campaign shard");
    }
    if (ConfigTextWithoutSeed(r.config) != first_config) return differs("the configuration");
    if (r.check_determinism != first.check_determinism) return differs("--check-determinism");
    if (r.swarm != first.swarm) return differs("--swarm");
    if (r.first_seed != first.first_seed || r.seeds != first.seeds) return differs("the seed range");
    if (r.shard_count != first.shard_count) return differs("the shard count");
    if (r.time_budget_s != first.time_budget_s) return differs("--time-budget");
    if (r.max_failures != first.max_failures) return differs("--max-failures");
    for (const ShardRun& s : r.shards) {
      const auto [it, inserted] = shard_from.emplace(s.index, names[i]);
      if (!inserted) {
        return Status(Code::kInvalidArgument, names[i] + ": shard " + std::to_string(s.index) + "/" +
                                                  std::to_string(r.shard_count) + " is also in " + it->second +
                                                  " (overlapping shards)");
      }
      merged.shards.push_back(s);
    }
    Add(&merged.totals, r.totals);
    merged.failures.insert(merged.failures.end(), r.failures.begin(), r.failures.end());
  }
  std::sort(merged.shards.begin(), merged.shards.end(), [](const ShardRun& a, const ShardRun& b) { return a.index < b.index; });
  std::sort(merged.failures.begin(), merged.failures.end(),
            [](const FailedSeed& a, const FailedSeed& b) { return a.seed < b.seed; });
  return merged;
}

}  // namespace ms::cli
