#include "sim/cli/config_flags.h"

#include <charconv>
#include <sstream>

#include "designs/design_registry.h"
#include "sim/cli/cli_values.h"

namespace ms::cli {
namespace {

using sim::SimConfig;

// The shortest text that reads back exactly, in plain decimals ("0.0005")
// unless that is long, then with an exponent.
std::string Num(double v) {
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  if (r.ec == std::errc() && r.ptr - buf <= 24) return std::string(buf, r.ptr);
  r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

template <int SimConfig::*Field, int Min, int Max>
ConfigFlag IntFlag(const char* name, const char* help) {
  return ConfigFlag{
      name, help,
      [](SimConfig* c, std::string_view t) -> Status {
        MS_ASSIGN_OR_RETURN(c->*Field, ParseIntIn(t, Min, Max));
        return Status::Ok();
      },
      [](const SimConfig& c) { return std::to_string(c.*Field); }};
}

template <bool SimConfig::*Field>
ConfigFlag BoolFlag(const char* name, const char* help) {
  return ConfigFlag{
      name, help,
      [](SimConfig* c, std::string_view t) -> Status {
        MS_ASSIGN_OR_RETURN(c->*Field, ParseZeroOne(t));
        return Status::Ok();
      },
      [](const SimConfig& c) { return std::string(c.*Field ? "1" : "0"); }, false, "0|1"};
}

template <double SimConfig::*Field>
ConfigFlag RateFlag(const char* name, const char* help) {
  return ConfigFlag{
      name, help,
      [](SimConfig* c, std::string_view t) -> Status {
        MS_ASSIGN_OR_RETURN(c->*Field, ParseRate(t));
        return Status::Ok();
      },
      [](const SimConfig& c) { return Num(c.*Field); }, false, "P"};
}

template <uint32_t SimConfig::*Field, sim::KindSet Set>
ConfigFlag KindsFlag(const char* name, const std::string& help) {
  return ConfigFlag{
      name, help + sim::KindSetNames(Set) + " (or none)",
      [](SimConfig* c, std::string_view t) -> Status {
        MS_ASSIGN_OR_RETURN(c->*Field, sim::ParseKindSet(Set, t));
        return Status::Ok();
      },
      [](const SimConfig& c) { return sim::KindSetText(Set, c.*Field); }, false, "LIST"};
}

std::vector<ConfigFlag> MakeTable() {
  std::vector<ConfigFlag> t;
  t.push_back(ConfigFlag{
      "--strategy", "scheduler: random, pct:D (D-1 priority change points) or rr",
      [](SimConfig* c, std::string_view text) -> Status {
        MS_ASSIGN_OR_RETURN(const sim::StrategySpec spec, sim::ParseStrategySpec(text));
        if (spec.kind == sim::StrategySpec::Kind::kReplay) {
          return Status(Code::kInvalidArgument,
                        "\"" + std::string(text) + "\" is not a run strategy (replay a trace with `modelstore-sim replay FILE`)");
        }
        c->strategy = std::string(text);
        return Status::Ok();
      },
      [](const SimConfig& c) { return c.strategy; }, false, "SPEC"});
  t.push_back(IntFlag<&SimConfig::actors, 1, 64>("--actors", "client actors (kubelet streams)"));
  t.push_back(IntFlag<&SimConfig::ops, 0, 10000>("--ops", "CSI calls per client actor"));
  t.push_back(IntFlag<&SimConfig::processes, 1, 8>("--processes", "driver processes sharing the root"));
  t.push_back(RateFlag<&SimConfig::fault_rate>("--faults", "fault probability per filesystem and registry call"));
  t.push_back(RateFlag<&SimConfig::crash_rate>("--crashes", "crash probability per scheduling step"));
  t.push_back(IntFlag<&SimConfig::crashes_max, 0, 1000000>("--crashes-max", "crashes per seed at most"));
  t.push_back(ConfigFlag{
      "--max-steps", "step bound (I4: more is a livelock)",
      [](SimConfig* c, std::string_view text) -> Status {
        MS_ASSIGN_OR_RETURN(c->max_steps, ParseUnsigned(text, uint64_t{1} << 40));
        if (c->max_steps == 0) return Status(Code::kInvalidArgument, "0 steps cannot run anything (at least 1)");
        return Status::Ok();
      },
      [](const SimConfig& c) { return std::to_string(c.max_steps); }});
  t.push_back(IntFlag<&SimConfig::gc_rounds, 0, 10000>("--gc-rounds", "sweeps/GCs per driver process's GC actor"));
  t.push_back(IntFlag<&SimConfig::tag_moves, 0, 10000>("--tag-moves", "registry tag moves per run"));
  t.push_back(IntFlag<&SimConfig::tenant_writes, 0, 10000>(
      "--tenant-writes", "writes by a container through a file of a succeeded volume, per run (DESIGN 2.5)"));
  t.push_back(IntFlag<&SimConfig::status_corruptions, 0, 10000>(
      "--status-corruptions", "status.json files truncated or garbled during the run (DESIGN 2.6)"));
  t.push_back(BoolFlag<&SimConfig::corrupt_at_sweep>(
      "--corrupt-at-sweep", "1: garble one succeeded record's status.json right before the final sweep (DESIGN 2.6)"));
  t.push_back(IntFlag<&SimConfig::client_lanes, 1, 16>(
      "--client-lanes", "calls each client may have in flight at once (an impatient kubelet); 1: one at a time"));
  t.push_back(ConfigFlag{
      "--crash-model",
      "what a power loss keeps of what was not synced: adversarial (any subset the Filesystem port's promises "
      "allow), ordered-metadata (a journal prefix: data before the names exposing it), journaled (every "
      "namespace change at once, file bytes at their fsync), or mixed (one per seed)",
      [](SimConfig* c, std::string_view text) -> Status {
        if (text != sim::kMixedCrashModel && !sim::ParsePersistenceModel(text).ok()) {
          return Status(Code::kInvalidArgument,
                        "\"" + std::string(text) + "\" is not adversarial, ordered-metadata, journaled or mixed");
        }
        c->crash_model = std::string(text);
        return Status::Ok();
      },
      [](const SimConfig& c) { return c.crash_model; }, false, "MODEL"});
  t.push_back(BoolFlag<&SimConfig::crash_at_syncs>(
      "--crash-at-syncs",
      "1: a power loss --crashes draws waits for the next persistence point (right before a sync), where the "
      "most is pending; 0: it happens at the step drawn"));
  t.push_back(BoolFlag<&SimConfig::tag_moves_spread>(
      "--tag-moves-spread", "1: tag moves wait for client calls to finish, landing between pulls; 0: all at the start"));
  t.push_back(BoolFlag<&SimConfig::overlap_release>(
      "--overlap-release",
      "1: with --client-lanes > 1, a release (a static unpublish) may start over calls in flight into its volume; "
      "0: it waits for them"));
  t.push_back(RateFlag<&SimConfig::shared_slots>(
      "--shared-slots", "probability that a client's call addresses another client's slot (conflicting calls); 0: none"));
  t.push_back(KindsFlag<&SimConfig::fault_kinds, sim::KindSet::kFaults>(
      "--fault-kinds", "faults --faults injects, a comma list of: "));
  t.push_back(KindsFlag<&SimConfig::crash_kinds, sim::KindSet::kCrashes>(
      "--crash-kinds", "crashes --crashes makes (node: a power loss; process: one driver killed), a comma list of: "));
  t.push_back(KindsFlag<&SimConfig::op_kinds, sim::KindSet::kOps>(
      "--op-kinds", "CSI calls the scripts draw (pulls always), a comma list of: "));
  t.push_back(RateFlag<&SimConfig::hostile_rate>(
      "--hostile",
      "the hostile registry (DESIGN 8): probability that a pull into a free slot addresses a hostile artifact "
      "(its slot's pulls then retry it until an unpublish); 0: none"));
  std::string classes;
  for (sim::HostileClass cls : sim::AllHostileClasses()) {
    classes += (classes.empty() ? "" : ",") + std::string(sim::HostileClassName(cls));
  }
  t.push_back(ConfigFlag{
      "--hostile-classes", "hostile classes those pulls draw from, all or a comma list of: " + classes,
      [](SimConfig* c, std::string_view text) -> Status {
        if (text == "all") {
          c->hostile_classes.clear();
          return Status::Ok();
        }
        auto parsed = SimConfig::Parse("hostile_classes=" + std::string(text));
        if (!parsed.ok()) return Status(Code::kInvalidArgument, parsed.status().message());
        if (parsed->hostile_classes.empty()) return Status(Code::kInvalidArgument, "no class (all, or a comma list)");
        c->hostile_classes = parsed->hostile_classes;
        return Status::Ok();
      },
      [](const SimConfig& c) {
        std::string out;
        for (const std::string& name : c.hostile_classes) out += (out.empty() ? "" : ",") + name;
        return out.empty() ? std::string("all") : out;
      },
      false, "LIST"});
  t.push_back(ConfigFlag{
      "--link-max", "hard links per file beyond which link fails with EMLINK, every time; 0: none (DESIGN 2.7)",
      [](SimConfig* c, std::string_view text) -> Status {
        MS_ASSIGN_OR_RETURN(c->link_max, ParseUnsigned(text));
        return Status::Ok();
      },
      [](const SimConfig& c) { return std::to_string(c.link_max); }});
  t.push_back(ConfigFlag{
      "--registry-latency-ms", "virtual milliseconds every registry call takes (0: none)",
      [](SimConfig* c, std::string_view text) -> Status {
        MS_ASSIGN_OR_RETURN(const uint64_t ms, ParseUnsigned(text, 3'600'000));
        c->registry_latency_ms = static_cast<int64_t>(ms);
        return Status::Ok();
      },
      [](const SimConfig& c) { return std::to_string(c.registry_latency_ms); }});
  t.push_back(ConfigFlag{
      "--fetches-max",
      "the drivers' node-wide bound on concurrent blob fetches (VolumeOptions::fetches_max, 1..64); the checker "
      "wants it kept at every step (I2); the swarm draws 1 or 2 in half the seeds",
      [](SimConfig* c, std::string_view text) -> Status {
        MS_ASSIGN_OR_RETURN(c->fetches_max, ParseIntIn(text, 1, 64));
        return Status::Ok();
      },
      [](const SimConfig& c) { return std::to_string(c.fetches_max); }});
  t.push_back(ConfigFlag{
      "--design", "the volume service design the drivers run: " + designs::DesignNames() + " (see docs/designs.md)",
      [](SimConfig* c, std::string_view text) -> Status {
        if (designs::FindDesign(text) == nullptr) {
          return Status(Code::kInvalidArgument,
                        "unknown design \"" + std::string(text) + "\" (designs: " + designs::DesignNames() + ")");
        }
        c->design = std::string(text);
        return Status::Ok();
      },
      [](const SimConfig& c) { return c.design; }, false, "NAME"});
  ConfigFlag broken = BoolFlag<&SimConfig::break_entry_lock>(
      "--break-entry-lock", "simulate a deliberately broken store (no entry lock) to see the checker fail");
  broken.is_switch = true;
  t.push_back(broken);
  return t;
}

}  // namespace

const std::vector<ConfigFlag>& ConfigFlags() {
  static const std::vector<ConfigFlag> table = MakeTable();
  return table;
}

Status ValidateConfig(const SimConfig& config, std::string_view what) {
  for (const ConfigFlag& flag : ConfigFlags()) {
    SimConfig scratch = config;
    const Status st = flag.set(&scratch, flag.get(config));
    if (!st.ok()) {
      std::string key = std::string(flag.name + 2);
      return Status(Code::kInvalidArgument, std::string(what) + ": " + key + ": " + st.message());
    }
  }
  return Status::Ok();
}

std::string RerunFlags(const SimConfig& config) {
  SimConfig rebuilt = sim::DefaultCampaignConfig();
  std::string out = "--seed " + std::to_string(config.seed);
  rebuilt.seed = config.seed;
  for (const ConfigFlag& flag : ConfigFlags()) {
    const std::string value = flag.get(config);
    if (!flag.set(&rebuilt, value).ok()) return "";
    if (flag.is_switch) {
      if (value == "1") out += std::string(" ") + flag.name;
    } else {
      const bool quote = value.find_first_of(" \t'\"$`\\") != std::string::npos;
      out += std::string(" ") + flag.name + " " + (quote ? "'" + value + "'" : value);
    }
  }
  // Exact, or nothing: a field no flag sets (scripts, crash and fault
  // points, a key the simulator grew) shows as a difference here.
  return rebuilt.ToText() == config.ToText() ? out : "";
}

std::string ConfigTextWithoutSeed(const SimConfig& config) {
  const std::string text = config.ToText();
  std::string out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("seed=", 0) == 0) continue;
    out += line + "\n";
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ConfigPairs(const SimConfig& config) {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream in(ConfigTextWithoutSeed(config));
  std::string line;
  while (std::getline(in, line)) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    out.emplace_back(line.substr(0, eq), line.substr(eq + 1));
  }
  return out;
}

}  // namespace ms::cli
