#include "sim/workload/workload.h"

#include <algorithm>
#include <charconv>
#include <span>
#include <sstream>

#include "sim/common/prng.h"
#include "sim/registry/hostile_models.h"

namespace ms::sim {
namespace {

constexpr uint64_t kPoolStream = 0x6d6f64656c73ULL;   // "models"
constexpr uint64_t kScriptStream = 0x736372697074ULL; // "script"
constexpr uint64_t kHostileStream = 0x686f7374ULL;      // "host"
constexpr uint64_t kSharedStream = 0x736861726564ULL; // "shared"
constexpr uint64_t kSwarmStream = 0x737761726dULL;    // "swarm"
constexpr uint64_t kSwarmFetchStream = 0x6665746368ULL;  // "fetch"
constexpr uint64_t kFamilyStream = 0x66616d696c79ULL;  // "family"

// A probability in [0, 1] as a draw: true with probability p.
bool Chance(Prng& rng, double p) {
  constexpr uint64_t kScale = uint64_t{1} << 32;
  return rng.Below(kScale) < static_cast<uint64_t>(p * static_cast<double>(kScale));
}

struct KindName {
  uint32_t bit;
  std::string_view name;
};
constexpr KindName kFaultKindNames[] = {
    {kFaultEnospc, "enospc"},           {kFaultEio, "eio"},
    {kFaultExdev, "exdev"},             {kFaultEmlink, "emlink"},
    {kFaultEacces, "eacces"},           {kFaultUnavailable, "unavailable"},
    {kFaultCorruptBlob, "corrupt-blob"}, {kFaultTruncatedBlob, "truncated-blob"}};
constexpr KindName kCrashKindNames[] = {{kCrashNode, "node"}, {kCrashProcess, "process"}};
constexpr KindName kOpKindNames[] = {{OpKindBit(OpKind::kPull), "pull"},
                                     {OpKindBit(OpKind::kPullPartial), "pull-partial"},
                                     {OpKindBit(OpKind::kDelete), "delete"},
                                     {OpKindBit(OpKind::kRelease), "release"},
                                     {OpKindBit(OpKind::kStatus), "status"}};

std::span<const KindName> NamesOf(KindSet set) {
  switch (set) {
    case KindSet::kFaults: return kFaultKindNames;
    case KindSet::kCrashes: return kCrashKindNames;
    case KindSet::kOps: return kOpKindNames;
  }
  return {};
}

std::string Bytes(Prng& rng, size_t n) {
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>('a' + rng.Below(26));
  return out;
}

// A model family's members, as pool indices.
struct Family {
  size_t base = 0, version = 0, fine_tune = 0;
};

// Adds one generated family to the pool (DESIGN §2.8's case, the layers a
// blob-level store keeps once): a base of 2-4 raw weight shards
// (weights/shard-<i>.bin, 30-130 bytes) and a config.json; its next
// version, which changes config.json only; and a fine-tune that keeps the
// base's first 1..n-1 shards and replaces the rest (same sizes, new bytes),
// with a config.json of its own. With code, every member also carries one
// and the same code tar layer (a tokenizer and a script).
Family AddFamily(ModelPool* pool, Prng& rng, const std::string& name, bool with_code) {
  const uint64_t shard_count = 2 + rng.Below(3);
  std::vector<std::string> shards;
  for (uint64_t i = 0; i < shard_count; ++i) shards.push_back(Bytes(rng, 30 + rng.Below(101)));
  const uint64_t kept = 1 + rng.Below(shard_count - 1);
  std::vector<std::string> tuned = shards;
  for (uint64_t i = kept; i < shard_count; ++i) tuned[i] = Bytes(rng, shards[i].size());
  std::vector<TarEntry> code;
  if (with_code) {
    code = {TarEntry::Directory("code"), TarEntry::File("code/tokenizer.json", Bytes(rng, 20 + rng.Below(40))),
            TarEntry::File("code/run.py", Bytes(rng, 20 + rng.Below(40)), 0755)};
  }
  auto member = [&](const std::string& model, const std::string& version, const std::vector<std::string>& weights,
                    const std::string& config) {
    ModelBuilder builder(model, version);
    for (size_t i = 0; i < weights.size(); ++i) builder.AddRawFile("weights/shard-" + std::to_string(i) + ".bin", weights[i]);
    builder.AddRawFile("config.json", config, std::string(media_type::kWeightConfigRaw));
    if (with_code) builder.AddTarLayer("code", code, std::string(media_type::kCodeTar));
    pool->models.emplace_back(model + "-" + version, builder.Build());
    return pool->models.size() - 1;
  };
  const std::string config = "{\"family\":\"" + name + "\",\"v\":";
  Family f;
  f.base = member(name, "1", shards, config + "1}");
  f.version = member(name, "2", shards, config + "2}");
  f.fine_tune = member(name + "-ft", "1", tuned, config + "1,\"tune\":\"ft\"}");
  return f;
}

}  // namespace

std::string_view OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kPull: return "pull";
    case OpKind::kPullPartial: return "pull-partial";
    case OpKind::kDelete: return "delete";
    case OpKind::kRelease: return "release";
    case OpKind::kStatus: return "status";
  }
  return "?";
}

Result<OpKind> ParseOpKind(std::string_view name) {
  for (OpKind k : {OpKind::kPull, OpKind::kPullPartial, OpKind::kDelete, OpKind::kRelease, OpKind::kStatus}) {
    if (OpKindName(k) == name) return k;
  }
  return Status(Code::kCorrupt, "unknown op kind \"" + std::string(name) + "\"");
}

std::string KindSetText(KindSet set, uint32_t mask) {
  std::string out;
  for (const KindName& k : NamesOf(set)) {
    if ((mask & k.bit) == 0) continue;
    if (!out.empty()) out += ",";
    out += k.name;
  }
  return out.empty() ? "none" : out;
}

std::string KindSetNames(KindSet set) {
  uint32_t all = 0;
  for (const KindName& k : NamesOf(set)) all |= k.bit;
  return KindSetText(set, all);
}

Result<uint32_t> ParseKindSet(KindSet set, std::string_view text) {
  if (text == "none") return 0u;
  uint32_t mask = 0;
  while (true) {
    const size_t comma = text.find(',');
    const std::string_view name = text.substr(0, comma);
    bool found = false;
    for (const KindName& k : NamesOf(set)) {
      if (k.name == name) {
        mask |= k.bit;
        found = true;
      }
    }
    if (!found) {
      return Status(Code::kInvalidArgument,
                    "unknown kind \"" + std::string(name) + "\" (kinds: " + KindSetNames(set) + ", or none)");
    }
    if (comma == std::string_view::npos) return mask;
    text.remove_prefix(comma + 1);
  }
}

namespace {
Result<Code> ParseCodeName(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(Code::kInternal); ++i) {
    if (CodeName(static_cast<Code>(i)) == name) return static_cast<Code>(i);
  }
  return Status(Code::kCorrupt, "unknown error code \"" + std::string(name) + "\"");
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = s.find(',', start);
    out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}
}  // namespace

SimConfig DefaultCampaignConfig() {
  SimConfig config;
  config.fault_rate = 0.005;
  config.crash_rate = 0.0005;
  // The tenant and the status corruptor are how weaknesses 5 and 6
  // (DESIGN §2) show.
  config.tenant_writes = 2;
  config.status_corruptions = 1;
  config.corrupt_at_sweep = true;
  // An impatient kubelet: an unpublish may overlap its publish.
  config.client_lanes = 2;
  // ... and a release (a static unpublish) may start over them.
  config.overlap_release = true;
  // Tags move between pulls, not only while the drivers boot.
  config.tag_moves_spread = true;
  // A quarter of the calls go to another client's slots.
  config.shared_slots = 0.25;
  // One pull in ten addresses a hostile artifact, of any class (§8).
  config.hostile_rate = 0.1;
  // Every persistence model, one per seed; power losses at persistence
  // points, where durability bugs show.
  config.crash_model = kMixedCrashModel;
  config.crash_at_syncs = true;
  return config;
}

std::string ConcreteCrashModel(const SimConfig& config) {
  if (config.crash_model != kMixedCrashModel) return config.crash_model;
  constexpr uint64_t kCrashModelStream = 0x6d6f64656cULL;  // "model"
  Prng rng(config.seed ^ kCrashModelStream);
  const PersistenceModel picks[] = {PersistenceModel::kAdversarial, PersistenceModel::kAdversarial,
                                    PersistenceModel::kOrderedMetadata, PersistenceModel::kJournaled};
  return std::string(PersistenceModelName(picks[rng.Below(4)]));
}

SimConfig SwarmConfig(const SimConfig& base, uint64_t seed) {
  SimConfig c = base;
  c.seed = seed;
  if (!base.scripts.empty() || !base.crash_steps.empty() || !base.faults_at.empty() || !base.kills_at.empty()) {
    return c;  // an explicit workload is what it says
  }
  c.crash_model = ConcreteCrashModel(c);  // a mix picks per seed, and the header says which
  Prng rng(seed ^ kSwarmStream);
  // Keeps each kind of mask with probability 3/4, at least one.
  auto subset = [&rng](uint32_t mask) {
    uint32_t out = 0;
    for (uint32_t bit = 1; bit != 0 && bit <= mask; bit <<= 1) {
      if ((mask & bit) != 0 && rng.Below(4) != 0) out |= bit;
    }
    if (out == 0 && mask != 0) out = mask & (0u - mask);  // the lowest
    return out;
  };
  // Off, the base's rate, or four times it.
  auto rate = [&rng](double r) {
    const uint64_t pick = rng.Below(4);
    return pick == 0 ? 0.0 : pick == 3 ? std::min(1.0, 4 * r) : r;
  };
  const bool quiet = rng.Below(6) == 0;
  c.fault_rate = rate(base.fault_rate);
  c.fault_kinds = subset(base.fault_kinds);
  c.crash_rate = rate(base.crash_rate);
  c.crash_kinds = subset(base.crash_kinds);
  c.tenant_writes = rng.Below(3) == 0 ? 0 : base.tenant_writes;
  c.status_corruptions = rng.Below(3) == 0 ? 0 : base.status_corruptions;
  c.corrupt_at_sweep = base.corrupt_at_sweep && rng.Below(3) != 0;
  if (quiet) {
    c.fault_rate = 0;
    c.crash_rate = 0;
    c.tenant_writes = 0;
    c.status_corruptions = 0;
    c.corrupt_at_sweep = false;
  }
  c.op_kinds = subset(base.op_kinds & ~OpKindBit(OpKind::kPull)) | OpKindBit(OpKind::kPull);
  // The hostile registry: off in a third of the seeds, else a random
  // subset of the base's classes (each kept with probability 3/4).
  if (base.hostile_rate > 0) {
    if (rng.Below(3) == 0) {
      c.hostile_rate = 0;
    } else {
      std::vector<std::string> kept;
      const std::vector<HostileClass> enabled = EnabledHostileClasses(base);
      for (HostileClass cls : enabled) {
        if (rng.Below(4) != 0) kept.emplace_back(HostileClassName(cls));
      }
      if (kept.empty() && !enabled.empty()) kept.emplace_back(HostileClassName(enabled[rng.Below(enabled.size())]));
      c.hostile_classes = kept.size() == enabled.size() ? base.hostile_classes : kept;
    }
  }
  c.shared_slots = rng.Below(3) == 0 ? 0.0 : base.shared_slots;
  c.tag_moves = rng.Below(4) == 0 ? 0 : base.tag_moves;
  if (base.strategy == "random") {
    const uint64_t pick = rng.Below(4);
    c.strategy = pick < 2 ? "random" : pick == 2 ? "pct:2" : "pct:3";
  }
  constexpr int kLanesMax = 16, kProcessesMax = 8;
  c.client_lanes = std::min(kLanesMax, 1 + static_cast<int>(rng.Below(static_cast<uint64_t>(base.client_lanes) + 1)));
  c.overlap_release = base.overlap_release && rng.Below(4) != 0;
  c.processes = std::min(kProcessesMax, 1 + static_cast<int>(rng.Below(static_cast<uint64_t>(base.processes) + 1)));
  // The fetch bound: the base's in half the seeds, else 1 or 2, so the
  // bound is reached (and a store that does not keep it is caught). Its
  // own stream, so the draws above stay what they were before it existed.
  Prng fetch_rng(seed ^ kSwarmFetchStream);
  const uint64_t fetch_pick = fetch_rng.Below(4);
  if (fetch_pick < 2) c.fetches_max = static_cast<int>(fetch_pick) + 1;
  return c;
}

std::string SimConfig::ToText() const {
  std::ostringstream out;
  out << "seed=" << seed << "\nstrategy=" << strategy << "\nactors=" << actors << "\nops=" << ops
      << "\nprocesses=" << processes << "\nfault_rate=" << fault_rate
      << "\ncrash_rate=" << crash_rate << "\ncrashes_max=" << crashes_max
      << "\ngc_rounds=" << gc_rounds << "\ntag_moves=" << tag_moves
      << "\nmax_steps=" << max_steps << "\nbreak_entry_lock=" << (break_entry_lock ? 1 : 0) << "\n";
  // op=<actor>,<kind>,<volume>,<mount>,<reference> (names never hold ',').
  for (size_t a = 0; a < scripts.size(); ++a) {
    for (const ClientOp& op : scripts[a]) {
      out << "op=" << a << "," << OpKindName(op.kind) << "," << op.volume << "," << op.mount << ","
          << op.reference << "\n";
    }
    if (scripts[a].empty()) out << "op=" << a << ",none,,,\n";
  }
  for (uint64_t step : crash_steps) out << "crash_at=" << step << "\n";
  for (const FaultAt& f : faults_at) out << "fault_at=" << f.call << "," << CodeName(f.code) << "\n";
  // Later keys appear only when set, so a config without them reads (and
  // writes) exactly as before they existed.
  if (tenant_writes != 0) out << "tenant_writes=" << tenant_writes << "\n";
  if (status_corruptions != 0) out << "status_corruptions=" << status_corruptions << "\n";
  if (corrupt_at_sweep) out << "corrupt_at_sweep=1\n";
  if (link_max != 0) out << "link_max=" << link_max << "\n";
  if (client_lanes != 1) out << "client_lanes=" << client_lanes << "\n";
  if (overlap_release) out << "overlap_release=1\n";
  for (const KillAt& k : kills_at) out << "kill_at=" << k.step << "," << k.process << "\n";
  if (crash_model != "adversarial") out << "crash_model=" << crash_model << "\n";
  for (const CrashPick& p : crash_picks) out << "crash_pick=" << p.step << ":" << p.state << "\n";
  if (crash_states_max != 0) out << "crash_states_max=" << crash_states_max << "\n";
  if (crash_at_syncs) out << "crash_at_syncs=1\n";
  if (tag_moves_spread) out << "tag_moves_spread=1\n";
  if (shared_slots != 0) out << "shared_slots=" << shared_slots << "\n";
  if (fault_kinds != kAllFaultKinds) out << "fault_kinds=" << KindSetText(KindSet::kFaults, fault_kinds) << "\n";
  if (crash_kinds != kAllCrashKinds) out << "crash_kinds=" << KindSetText(KindSet::kCrashes, crash_kinds) << "\n";
  if (op_kinds != kAllOpKinds) out << "op_kinds=" << KindSetText(KindSet::kOps, op_kinds) << "\n";
  if (hostile_rate != 0) out << "hostile_rate=" << hostile_rate << "\n";
  if (!hostile_classes.empty()) {
    out << "hostile_classes=";
    for (size_t i = 0; i < hostile_classes.size(); ++i) out << (i == 0 ? "" : ",") << hostile_classes[i];
    out << "\n";
  }
  if (registry_latency_ms != 0) out << "registry_latency_ms=" << registry_latency_ms << "\n";
  if (design != "core") out << "design=" << design << "\n";
  if (fetches_max != 8) out << "fetches_max=" << fetches_max << "\n";
  return out.str();
}

Result<SimConfig> SimConfig::Parse(std::string_view text) {
  SimConfig c;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) return Status(Code::kCorrupt, "config line \"" + line + "\" has no '='");
    const std::string key = line.substr(0, eq);
    const std::string value = line.substr(eq + 1);
    auto num = [&](auto* out) -> Status {
      const auto r = std::from_chars(value.data(), value.data() + value.size(), *out);
      if (r.ec != std::errc() || r.ptr != value.data() + value.size()) {
        return Status(Code::kCorrupt, "config " + key + "=\"" + value + "\" is not a number");
      }
      return Status::Ok();
    };
    if (key == "seed") MS_RETURN_IF_ERROR(num(&c.seed));
    else if (key == "strategy") c.strategy = value;
    else if (key == "actors") MS_RETURN_IF_ERROR(num(&c.actors));
    else if (key == "ops") MS_RETURN_IF_ERROR(num(&c.ops));
    else if (key == "processes") MS_RETURN_IF_ERROR(num(&c.processes));
    else if (key == "fault_rate") MS_RETURN_IF_ERROR(num(&c.fault_rate));
    else if (key == "crash_rate") MS_RETURN_IF_ERROR(num(&c.crash_rate));
    else if (key == "crashes_max") MS_RETURN_IF_ERROR(num(&c.crashes_max));
    else if (key == "gc_rounds") MS_RETURN_IF_ERROR(num(&c.gc_rounds));
    else if (key == "tag_moves") MS_RETURN_IF_ERROR(num(&c.tag_moves));
    else if (key == "max_steps") MS_RETURN_IF_ERROR(num(&c.max_steps));
    else if (key == "break_entry_lock") c.break_entry_lock = value == "1";
    else if (key == "tenant_writes") MS_RETURN_IF_ERROR(num(&c.tenant_writes));
    else if (key == "status_corruptions") MS_RETURN_IF_ERROR(num(&c.status_corruptions));
    else if (key == "corrupt_at_sweep") c.corrupt_at_sweep = value == "1";
    else if (key == "link_max") MS_RETURN_IF_ERROR(num(&c.link_max));
    else if (key == "client_lanes") MS_RETURN_IF_ERROR(num(&c.client_lanes));
    else if (key == "overlap_release") c.overlap_release = value == "1";
    else if (key == "metadata_durable") {
      // The wrapper it named is gone: journaled is what it meant, exactly.
      if (value == "1") c.crash_model = std::string(PersistenceModelName(PersistenceModel::kJournaled));
    } else if (key == "crash_model") {
      if (value != kMixedCrashModel && !ParsePersistenceModel(value).ok()) {
        return Status(Code::kCorrupt, "config crash_model=\"" + value +
                                          "\" is not adversarial, ordered-metadata, journaled or mixed");
      }
      c.crash_model = value;
    } else if (key == "crash_states_max") MS_RETURN_IF_ERROR(num(&c.crash_states_max));
    else if (key == "crash_at_syncs") c.crash_at_syncs = value == "1";
    else if (key == "crash_pick") {
      const size_t colon = value.find(':');
      CrashPick p;
      const auto r = std::from_chars(value.data(), value.data() + (colon == std::string::npos ? 0 : colon), p.step);
      if (colon == std::string::npos || r.ec != std::errc() || !CrashState::Parse(value.substr(colon + 1)).ok()) {
        return Status(Code::kCorrupt, "config crash_pick=\"" + value + "\" is not step:state (c<cut> or o<bits>/f<n>.<n>...)");
      }
      p.state = value.substr(colon + 1);
      c.crash_picks.push_back(p);
    }
    else if (key == "tag_moves_spread") c.tag_moves_spread = value == "1";
    else if (key == "shared_slots") MS_RETURN_IF_ERROR(num(&c.shared_slots));
    else if (key == "design") c.design = value;
    else if (key == "registry_latency_ms") MS_RETURN_IF_ERROR(num(&c.registry_latency_ms));
    else if (key == "fetches_max") {
      MS_RETURN_IF_ERROR(num(&c.fetches_max));
      if (c.fetches_max < 1) return Status(Code::kCorrupt, "config fetches_max=\"" + value + "\" is below 1");
    }
    else if (key == "fault_kinds" || key == "crash_kinds" || key == "op_kinds") {
      const KindSet set = key == "fault_kinds" ? KindSet::kFaults : key == "crash_kinds" ? KindSet::kCrashes : KindSet::kOps;
      auto mask = ParseKindSet(set, value);
      if (!mask.ok()) return Status(Code::kCorrupt, "config " + key + "=\"" + value + "\": " + mask.status().message());
      (key == "fault_kinds" ? c.fault_kinds : key == "crash_kinds" ? c.crash_kinds : c.op_kinds) = *mask;
    }
    else if (key == "hostile_rate") {
      MS_RETURN_IF_ERROR(num(&c.hostile_rate));
      if (!(c.hostile_rate >= 0 && c.hostile_rate <= 1)) {
        return Status(Code::kCorrupt, "config hostile_rate=\"" + value + "\" is not in [0, 1]");
      }
    }
    else if (key == "hostile_classes") {
      c.hostile_classes.clear();
      for (const std::string& name : SplitComma(value)) {
        if (name.empty()) continue;
        auto parsed = ParseHostileClass(name);
        if (!parsed.ok()) return Status(Code::kCorrupt, "config hostile_classes: " + parsed.status().message());
        c.hostile_classes.push_back(name);
      }
    }
    else if (key == "kill_at") {
      const auto parts = SplitComma(value);
      KillAt k;
      const auto r1 = std::from_chars(parts[0].data(), parts[0].data() + parts[0].size(), k.step);
      const auto r2 = parts.size() == 2 ? std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), k.process)
                                        : std::from_chars_result{nullptr, std::errc::invalid_argument};
      if (parts.size() != 2 || r1.ec != std::errc() || r2.ec != std::errc() || k.process < 0 || k.process > 7) {
        return Status(Code::kCorrupt, "config kill_at=\"" + value + "\" is not step,process");
      }
      c.kills_at.push_back(k);
    }
    else if (key == "op") {
      const auto parts = SplitComma(value);
      size_t actor = 0;
      const auto r = std::from_chars(parts[0].data(), parts[0].data() + parts[0].size(), actor);
      if (parts.size() != 5 || r.ec != std::errc() || actor > 1000) {
        return Status(Code::kCorrupt, "config op=\"" + value + "\" is not actor,kind,volume,mount,reference");
      }
      if (c.scripts.size() <= actor) c.scripts.resize(actor + 1);
      if (parts[1] == "none") continue;
      MS_ASSIGN_OR_RETURN(const OpKind kind, ParseOpKind(parts[1]));
      c.scripts[actor].push_back(ClientOp{kind, parts[2], parts[3], parts[4]});
    } else if (key == "crash_at") {
      uint64_t step = 0;
      MS_RETURN_IF_ERROR(num(&step));
      c.crash_steps.push_back(step);
    } else if (key == "fault_at") {
      const auto parts = SplitComma(value);
      uint64_t call = 0;
      const auto r = std::from_chars(parts[0].data(), parts[0].data() + parts[0].size(), call);
      if (parts.size() != 2 || r.ec != std::errc()) {
        return Status(Code::kCorrupt, "config fault_at=\"" + value + "\" is not call,code");
      }
      MS_ASSIGN_OR_RETURN(const Code code, ParseCodeName(parts[1]));
      c.faults_at.push_back(FaultAt{call, code});
    }
    else return Status(Code::kCorrupt, "unknown config key \"" + key + "\"");
  }
  return c;
}

ModelPool MakeModelPool(uint64_t seed) {
  Prng rng(seed ^ kPoolStream);
  ModelPool pool;
  // Two models share their weight blob (layer dedup is upstream's §2.8 gap;
  // the store keys by manifest, so they are stored twice, by design).
  const std::string shared_weight = Bytes(rng, 64 + rng.Below(64));
  auto add = [&](std::string name, BuiltModel model) {
    pool.models.emplace_back(std::move(name), std::move(model));
    return pool.models.size() - 1;
  };
  const size_t a1 = add("a1", ModelBuilder("a", "1")
                                  .AddRawFile("weights/model.bin", shared_weight)
                                  .AddRawFile("config.json", "{\"v\":1}", std::string(media_type::kWeightConfigRaw))
                                  .AddRawFile("README.md", Bytes(rng, 20), std::string(media_type::kDocRaw))
                                  .Build());
  const size_t a2 = add("a2", ModelBuilder("a", "2")
                                  .AddRawFile("weights/model.bin", shared_weight)
                                  .AddRawFile("config.json", "{\"v\":2}", std::string(media_type::kWeightConfigRaw))
                                  .Build());
  const size_t b1 = add("b1", ModelBuilder("b", "1")
                                  .AddRawFile("weights/model.bin", shared_weight)
                                  .AddRawFile("tokenizer.json", Bytes(rng, 30), std::string(media_type::kWeightConfigRaw))
                                  .Build());
  const size_t empty = add("empty", ModelBuilder("empty", "1")
                                        .AddTarLayer("assets", {TarEntry::Directory("assets"),
                                                                TarEntry::Directory("assets/sub"),
                                                                TarEntry::Symlink("assets/current", "sub")})
                                        .Build());
  const size_t nested = add("nested", ModelBuilder("nested", "1")
                                          .AddTarLayer("code", {TarEntry::Directory("code"),
                                                                TarEntry::Directory("code/lib"),
                                                                TarEntry::File("code/lib/run.py", Bytes(rng, 40), 0755),
                                                                TarEntry::Symlink("code/latest", "lib")},
                                                       std::string(media_type::kCodeTar))
                                          .AddRawFile("weights/w.bin", Bytes(rng, 50))
                                          .Build());
  const size_t c1 = add("c1", ModelBuilder("c", "1").AddRawFile("w.bin", Bytes(rng, 33)).Build());
  const size_t c2 = add("c2", ModelBuilder("c", "2").AddRawFile("w.bin", Bytes(rng, 34)).Build());
  pool.tags = {{"models/a", "v1", a1},       {"models/a", "latest", a1}, {"models/b", "v1", b1},
               {"models/empty", "v1", empty}, {"models/nested", "v1", nested},
               {"models/c", "latest", c1}};
  pool.moving = {{"models/a", "latest", {a1, a2}}, {"models/c", "latest", {c1, c2}}};
  pool.references = {"models/a:v1", "models/a:latest", "models/b:v1", "models/empty:v1",
                     "models/nested:v1", "models/c:latest"};
  // Generated families whose members share layers (their own stream: the
  // models above stay what they were). models/<f>:v1 is the base,
  // models/<f>-ft:v1 the fine-tune, and models/<f>:latest starts at the
  // next version and moves among the three (a move that changes one small
  // file, or some shards).
  Prng family_rng(seed ^ kFamilyStream);
  const std::pair<std::string, bool> families[] = {{"fam", true}, {"lm", false}};  // (name, with code)
  for (const auto& [name, with_code] : families) {
    const Family f = AddFamily(&pool, family_rng, name, with_code);
    const std::string repo = "models/" + name;
    pool.tags.emplace_back(repo, "v1", f.base);
    pool.tags.emplace_back(repo, "latest", f.version);
    pool.tags.emplace_back(repo + "-ft", "v1", f.fine_tune);
    pool.moving.emplace_back(repo, "latest", std::vector<size_t>{f.base, f.version, f.fine_tune});
    for (const std::string& ref : {repo + ":v1", repo + ":latest", repo + "-ft:v1"}) pool.references.push_back(ref);
  }
  return pool;
}

void PushPool(const ModelPool& pool, FakeRegistry* registry) {
  // Every model goes into the repositories that may tag it.
  for (const auto& [repo, tag, index] : pool.tags) registry->Push(repo, tag, pool.models[index].second);
  for (const auto& [repo, tag, candidates] : pool.moving) {
    for (size_t index : candidates) {
      const BuiltModel& m = pool.models[index].second;
      for (const auto& [digest, bytes] : m.blobs) (void)registry->PutBlobAs(repo, digest, bytes);
      registry->PutManifest(repo, m.manifest_bytes);
    }
  }
}

std::vector<std::pair<std::string, std::string>> SlotsOf(int index) {
  const std::string i = std::to_string(index);
  return {{"s" + i, ""}, {"d" + i, "m0"}, {"d" + i, "m1"}, {"d" + i, "m2"}};
}

namespace {
// A release, or a delete of a static volume: every mount of the volume.
bool IsVolumeWideOp(const ClientOp& op) {
  return op.kind == OpKind::kRelease || (op.kind == OpKind::kDelete && op.mount.empty());
}
}  // namespace

std::vector<HostileClass> EnabledHostileClasses(const SimConfig& config) {
  if (config.hostile_classes.empty()) return AllHostileClasses();
  std::vector<HostileClass> out;
  for (const std::string& name : config.hostile_classes) {
    auto parsed = ParseHostileClass(name);
    if (parsed.ok() && std::find(out.begin(), out.end(), *parsed) == out.end()) out.push_back(*parsed);
  }
  return out;
}

std::vector<ClientOp> MakeScript(const SimConfig& config, const ModelPool& pool, int index) {
  if (!config.scripts.empty()) return config.scripts[static_cast<size_t>(index)];
  Prng rng(config.seed ^ kScriptStream ^ (static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15ULL));
  const auto slots = SlotsOf(index);
  // Each slot has a home reference; one pull in twenty asks for another one
  // and meets the mount-id conflict.
  std::vector<size_t> home;
  for (size_t s = 0; s < slots.size(); ++s) home.push_back(rng.Below(pool.references.size()));
  // Calls to other clients' slots draw from a stream of their own, so a
  // script with shared slots is the script without them, some calls moved.
  Prng shared(config.seed ^ kSharedStream ^ (static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15ULL));
  const bool sharing = config.shared_slots > 0 && config.actors > 1;
  auto roll_kind = [&rng] {
    const uint64_t roll = rng.Below(100);
    return roll < 50 ? OpKind::kPull
           : roll < 58 ? OpKind::kPullPartial
           : roll < 85 ? OpKind::kDelete
           : roll < 92 ? OpKind::kRelease
                       : OpKind::kStatus;
  };
  constexpr int kRerollsMax = 64;  // pulls are always on: a pull comes quickly
  // Hostile episodes: a pull into a free slot (nothing pulled since its
  // last unpublish) may address a hostile artifact instead; the slot's
  // pulls then retry that reference, as a kubelet retries a pod's publish,
  // until an unpublish frees it. (A publish of another reference would
  // only meet the mount's conflict.) From a stream of its own: with the
  // rate at 0 the script is the one it always was.
  Prng hostile_rng(config.seed ^ kHostileStream ^ (static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15ULL));
  const std::vector<HostileClass> hostile = EnabledHostileClasses(config);
  std::vector<std::string> held(slots.size());  // per slot: "" free, else what it was last pulled with
  std::vector<ClientOp> script;
  for (int i = 0; i < config.ops; ++i) {
    const size_t s = rng.Below(slots.size());
    ClientOp op;
    op.volume = slots[s].first;
    op.mount = slots[s].second;
    op.kind = roll_kind();
    for (int r = 0; r < kRerollsMax && (config.op_kinds & OpKindBit(op.kind)) == 0; ++r) op.kind = roll_kind();
    if ((config.op_kinds & OpKindBit(op.kind)) == 0) op.kind = OpKind::kPull;
    if (op.kind == OpKind::kRelease) op.mount.clear();
    if (op.kind == OpKind::kPull || op.kind == OpKind::kPullPartial) {
      op.reference = pool.references[rng.Below(20) == 0 ? rng.Below(pool.references.size()) : home[s]];
    }
    const bool moved = sharing && Chance(shared, config.shared_slots);
    if (config.hostile_rate > 0 && !hostile.empty() && !moved) {
      if (op.kind == OpKind::kPull || op.kind == OpKind::kPullPartial) {
        const bool draw = static_cast<double>(hostile_rng.Below(1'000'000)) < config.hostile_rate * 1e6;
        if (HostileClassOf(held[s])) {
          op.reference = held[s];
        } else if (draw && held[s].empty()) {
          op.reference = HostileReference(hostile[hostile_rng.Below(hostile.size())]);
        }
        if (held[s].empty()) held[s] = op.reference;
      } else if (op.kind == OpKind::kDelete || op.kind == OpKind::kRelease) {
        for (size_t t = 0; t < slots.size(); ++t) {
          if (t == s || (IsVolumeWideOp(op) && slots[t].first == op.volume)) held[t].clear();
        }
      }
    }
    if (moved) {
      // Another client's slot, with any reference: publishes of different
      // references into one mount meet there.
      const uint64_t other = (static_cast<uint64_t>(index) + 1 +
                              shared.Below(static_cast<uint64_t>(config.actors) - 1)) %
                             static_cast<uint64_t>(config.actors);
      const auto theirs = SlotsOf(static_cast<int>(other));
      const auto& [volume, mount] = theirs[shared.Below(theirs.size())];
      op.volume = volume;
      op.mount = op.kind == OpKind::kRelease ? "" : mount;
      if (!op.reference.empty()) op.reference = pool.references[shared.Below(pool.references.size())];
    }
    script.push_back(std::move(op));
  }
  return script;
}

}  // namespace ms::sim
