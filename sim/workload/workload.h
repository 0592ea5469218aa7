// The simulated world's workload: the models the registry serves, the tags
// that move, and one script of CSI calls per client actor (a kubelet
// stream). Everything is drawn from the seed.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "sim/filesystem/sim_filesystem.h"
#include "sim/registry/fake_registry.h"
#include "sim/registry/hostile_models.h"
#include "sim/registry/model_builder.h"

namespace ms::sim {

enum class OpKind { kPull, kPullPartial, kDelete, kRelease, kStatus };
inline constexpr int kOpKindCount = 5;
std::string_view OpKindName(OpKind kind);
Result<OpKind> ParseOpKind(std::string_view name);

// Feature sets a configuration turns on, as bit masks over named kinds
// (written as comma lists in trace headers and flags).
// Faults: five filesystem errnos and three registry mishaps.
enum FaultKind : uint32_t {
  kFaultEnospc = 1u << 0,
  kFaultEio = 1u << 1,
  kFaultExdev = 1u << 2,
  kFaultEmlink = 1u << 3,
  kFaultEacces = 1u << 4,
  kFaultUnavailable = 1u << 5,  // a transient registry failure
  kFaultCorruptBlob = 1u << 6,  // a fetch served with a byte flipped
  kFaultTruncatedBlob = 1u << 7,
};
inline constexpr uint32_t kAllFaultKinds = (1u << 8) - 1;
// Crashes: a node power loss, one driver process killed.
enum CrashKind : uint32_t { kCrashNode = 1u << 0, kCrashProcess = 1u << 1 };
inline constexpr uint32_t kAllCrashKinds = 3;
inline constexpr uint32_t kAllOpKinds = (1u << kOpKindCount) - 1;
constexpr uint32_t OpKindBit(OpKind kind) { return 1u << static_cast<uint32_t>(kind); }

enum class KindSet { kFaults, kCrashes, kOps };
// "enospc,eio", "node", "pull,delete" <-> masks; "none" is the empty set.
std::string KindSetText(KindSet set, uint32_t mask);
Result<uint32_t> ParseKindSet(KindSet set, std::string_view text);
// Every name of a set, comma separated (help texts).
std::string KindSetNames(KindSet set);

struct ClientOp {
  OpKind kind = OpKind::kPull;
  std::string volume;
  std::string mount;      // empty: static volume
  std::string reference;  // pulls only
  bool operator==(const ClientOp&) const = default;
};

// A fault at one filesystem call, by the call's global index.
struct FaultAt {
  uint64_t call = 0;
  Code code = Code::kIo;
  bool operator==(const FaultAt&) const = default;
};

// A driver process killed at one scheduling step (its disk state stays).
struct KillAt {
  uint64_t step = 0;
  int process = 0;
  bool operator==(const KillAt&) const = default;
};

// The post-crash state a power loss at one crash_at step keeps
// (CrashState::ToText(), see sim/filesystem/sim_filesystem.h).
struct CrashPick {
  uint64_t step = 0;
  std::string state;
  bool operator==(const CrashPick&) const = default;
};

// The crash models a config may name: the three persistence models, or
// "mixed" (one of them per seed).
inline constexpr const char* kMixedCrashModel = "mixed";

struct SimConfig {
  uint64_t seed = 1;
  std::string strategy = "random";  // random | pct:D | rr
  int actors = 4;                   // client actors (kubelet streams)
  int ops = 10;                     // CSI calls per client actor
  int processes = 2;                // driver processes sharing one root
  double fault_rate = 0.0;          // per port call (filesystem and registry)
  double crash_rate = 0.0;          // per scheduling step
  int crashes_max = 3;              // crashes per run, at most
  int gc_rounds = 6;                // sweeps/GCs per GC actor
  int tag_moves = 4;                // registry mutations
  uint64_t max_steps = 2'000'000;   // I4: more is a livelock
  // A deliberately broken store, to prove the checker can fail: the
  // per-digest entry lock (in-process and file lock) is not taken.
  bool break_entry_lock = false;
  // Explicit workload (property tests and regressions): when non-empty,
  // scripts replace the generated ones, one per client actor (actors is
  // then scripts.size()); each op must name a slot of its actor (SlotsOf).
  std::vector<std::vector<ClientOp>> scripts;
  // Node crashes at these scheduling steps (before the finale), in
  // addition to crash_rate.
  std::vector<uint64_t> crash_steps;
  // Faults at these filesystem call indices, in addition to fault_rate.
  std::vector<FaultAt> faults_at;
  // Node mishaps and tenants (proptests/mutants need them to kill the
  // weaknesses of DESIGN §2; all off by default, so older trace files,
  // which lack these keys, replay unchanged):
  // A container writes through a file of a succeeded volume this many
  // times per run (§2.5: a read-only store file refuses; a writable one
  // changes every volume sharing the inode).
  int tenant_writes = 0;
  // This many status.json files are truncated or garbled during the run
  // (§2.6); the kubelet's reconciliation must still converge.
  int status_corruptions = 0;
  // One succeeded record's status.json is garbled after the final
  // reconciliation, right before the final sweep, which must then reclaim
  // what that record held (§2.6).
  bool corrupt_at_sweep = false;
  // Hard links to one regular file beyond this count fail with EMLINK, as
  // at ext4's 65000, persistently (also in the final reconciliation, where
  // faults are off). 0: no limit (§2.7).
  uint64_t link_max = 0;
  // Calls each client actor may have in flight at once: an impatient
  // kubelet that issues its next call (maybe on the same volume: an
  // unpublish while the publish still runs) before the last returned.
  // Calls still start in script order. 1: one at a time.
  int client_lanes = 1;
  // With client_lanes > 1: a release may also start over calls still in
  // flight into its volume (the store does not handle it yet).
  bool overlap_release = false;
  // Driver processes killed at these steps (before the finale): a process
  // crash, the disk keeps everything (crash_steps are power losses).
  std::vector<KillAt> kills_at;
  // What a power loss keeps of what was not synced: "adversarial",
  // "ordered-metadata" or "journaled" (SimFilesystem's persistence models),
  // or "mixed": the seed picks one (a run's report and trace record the
  // one picked). Old traces' metadata_durable=1 reads as "journaled".
  std::string crash_model = "adversarial";
  // Explicit post-crash states for crash_at steps; a power loss without
  // one keeps a state drawn from the seed (SimFilesystem::PickCrashState).
  std::vector<CrashPick> crash_picks;
  // Exhaustive crash exploration: > 0 lists up to this many distinct legal
  // post-crash states at the first crash_at step (SimReport::crash_states,
  // the first of them applied unless a crash_pick names another), and
  // reports the run's persistence points (SimReport::persistence_steps).
  uint64_t crash_states_max = 0;
  // A power loss drawn by crash_rate waits for a persistence point: the
  // moment the actor that just ran is about to sync (a SyncDir or a file
  // Sync), when the most is pending (at most kCrashWaitStepsMax steps
  // later). Off: it happens at the step drawn. Process kills never wait.
  bool crash_at_syncs = false;
  // Tag moves wait for a random number of client calls to finish, so they
  // land between pulls; off: they happen as the run starts.
  bool tag_moves_spread = false;
  // Conflicting calls: the probability that a client's call addresses a
  // slot of another client (concurrent publishes of different references
  // into one mount, a publish against another client's unpublish or
  // status, releases over them). 0: each slot has one client.
  double shared_slots = 0.0;
  // Which faults fault_rate injects, which crashes crash_rate makes, which
  // calls scripts draw (pulls always): all by default.
  uint32_t fault_kinds = kAllFaultKinds;
  uint32_t crash_kinds = kAllCrashKinds;
  uint32_t op_kinds = kAllOpKinds;
  // The hostile registry (DESIGN §8): the fraction of generated pulls that
  // address a hostile artifact (sim/registry/hostile_models.h) instead of
  // their slot's reference, drawn from the enabled classes (class names;
  // empty: every class). Explicit scripts name hostile references
  // ("hostile/<class>:v1") themselves. Both keys appear in the trace only
  // when set.
  double hostile_rate = 0.0;
  std::vector<std::string> hostile_classes;
  // Virtual milliseconds every registry call takes (resolve, manifest,
  // blob). 0: instantaneous, and then a waiter that polls the clock (a
  // design's semaphore, a layer waiter) wakes only once every actor waits.
  int64_t registry_latency_ms = 0;
  // The drivers' node-wide bound on concurrent blob fetches
  // (VolumeOptions::fetches_max, at least 1); the checker wants the fake
  // registry's blob fetches in flight never above it, at every step (I2,
  // our core only). Written to a trace header only when not 8, the
  // production default.
  int fetches_max = 8;
  // The volume service design the driver processes run (designs/): our
  // core, or a model of an upstream proposal. Written to a trace header
  // only when not the default, so older traces read as before.
  std::string design = "core";

  // Canonical text, one key=value per line (goes into trace files).
  std::string ToText() const;
  static Result<SimConfig> Parse(std::string_view text);
};

// The default campaign (`modelstore-sim run`, `./run sim`) for one seed:
// faults and crashes, the tenant, the status corruptor, an impatient
// kubelet, tag moves between pulls and clients that share slots.
SimConfig DefaultCampaignConfig();

// The persistence model a run uses: config.crash_model, or for "mixed" the
// one its seed picks (adversarial half of the seeds, ordered-metadata and
// journaled a quarter each).
std::string ConcreteCrashModel(const SimConfig& config);

// Swarm testing (Groce et al., ISSTA 2012): the configuration one seed of
// a campaign runs, drawn from the seed around `base`. Each seed turns on a
// random subset of the base's features (fault and crash kinds and rates,
// call kinds, mishaps, shared slots, hostile classes), and varies its shape (strategy
// random / pct:2 / pct:3, client lanes, driver processes), so that a bug
// that needs a quiet run or a PCT schedule is still found by the default
// campaign. A feature the base turns off stays off; one seed in six is
// quiet (no fault, crash or mishap at all). Explicit workloads (scripts,
// crash or fault points) are returned unchanged. Pure: the same base and
// seed give the same configuration, which the trace header records.
SimConfig SwarmConfig(const SimConfig& base, uint64_t seed);


// Every manifest the run may serve, by digest text, with the references
// that can name it: hand-made models (a1/a2/b1 share a weight blob; an
// empty and a nested tree; c1/c2), and generated families whose members
// share layers: "fam" (members also share a code tar layer) and "lm", each
// a base (models/<f>:v1), its next version differing in config.json only,
// and a fine-tune keeping some of the base's shards (models/<f>-ft:v1);
// models/<f>:latest starts at the version and moves among the three.
struct ModelPool {
  std::vector<std::pair<std::string, BuiltModel>> models;  // (name, model)
  // (repository, tag, model index): the initial tags.
  std::vector<std::tuple<std::string, std::string, size_t>> tags;
  // Tags that move: (repository, tag, candidate model indices).
  std::vector<std::tuple<std::string, std::string, std::vector<size_t>>> moving;
  std::vector<std::string> references;  // what clients pull
};

ModelPool MakeModelPool(uint64_t seed);
void PushPool(const ModelPool& pool, FakeRegistry* registry);

// The volumes actor `index` owns: static s<index>, dynamic d<index> with
// mounts m0..m2. Other actors' calls reach them too with shared_slots; a
// slot's desired state is then the last call issued on it by anyone.
std::vector<std::pair<std::string, std::string>> SlotsOf(int index);

// The hostile classes config enables (every class when it names none);
// names that are no class are skipped (Parse refuses them).
std::vector<HostileClass> EnabledHostileClasses(const SimConfig& config);

std::vector<ClientOp> MakeScript(const SimConfig& config, const ModelPool& pool, int index);

}  // namespace ms::sim
