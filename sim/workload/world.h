// The simulated world of one run, internal to sim/workload: the ports, the
// driver processes, the actors, the kubelet's intents and the checker. Its
// member functions live with the actors they run:
//   world.cpp    setup, the run loop, crashes, the history of a failure
//   drivers.cpp  driver processes: boot (startup sweep) and the GC actor
//   clients.cpp  client actors (kubelet streams) and the calls they issue
//   mishaps.cpp  the registry mutator (tag moves), the tenant, the
//                status corruptor
//   kubelet.cpp  the finale: reconciliation to every slot's last intent,
//                the final sweep
//   recovery.cpp what returned calls promised, checked at each power loss
//                (I8 recovery)
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/registry.h"
#include "core/volume_service.h"
#include "core/volume_status.h"
#include "sim/checking/invariant_checker.h"
#include "sim/checking/result_oracle.h"
#include "sim/common/prng.h"
#include "sim/filesystem/sim_filesystem.h"
#include "sim/registry/fake_registry.h"
#include "sim/registry/hostile_models.h"
#include "sim/scheduling/sim_runtime.h"
#include "sim/workload/simulator.h"

namespace ms::sim {

inline constexpr char kRoot[] = "/node/root";
inline constexpr char kSibling[] = "/node/sibling";
inline constexpr int kRegistryProcess = 100;  // the registry mutator: not a driver
inline constexpr int kKubeletProcess = 101;   // the final reconciliation: never crashes
inline constexpr int kTenantProcess = 102;    // a container writing through its volume
inline constexpr int kCorruptorProcess = 103; // node mishaps on status.json
inline constexpr uint64_t kTenantStream = 0x74656e616e74ULL;     // "tenant"
inline constexpr uint64_t kCorruptorStream = 0x636f7272ULL;      // "corr"
inline constexpr uint64_t kCrashStream = 0x6372617368ULL;
inline constexpr uint64_t kCrashStateStream = 0x6b657074ULL;  // "kept"
inline constexpr uint64_t kGcStream = 0x6763ULL;
inline constexpr size_t kHistoryMax = 24;   // notes a failure report shows
inline constexpr size_t kNotesMax = 100'000;  // notes a run keeps (a bound)
// crash_at_syncs: a drawn power loss waits at most this many steps for a sync.
inline constexpr uint64_t kCrashWaitStepsMax = 200;
inline constexpr int64_t kStagingGraceMs = 60'000;


// The slot's key in reports and the kubelet's intents: "volume" or
// "volume/mount".
std::string SlotKey(const std::string& volume, const std::string& mount);
// A release or a static delete: a call on the whole volume tree.
bool IsVolumeWide(const ClientOp& op);
// The record dir of a slot, on the simulated disk.
std::string RecordDir(const std::string& volume, const std::string& mount);

class World;

// Sees every manifest fetch, to judge I2 at that instant.
class FetchWatch final : public Registry {
 public:
  FetchWatch(Registry* target, World* world) : target_(target), world_(world) {}
  Result<Digest> Resolve(const CancelToken& t, const Reference& r) override {
    return target_->Resolve(t, r);
  }
  Result<std::string> FetchManifest(const CancelToken& t, const Reference& r, const Digest& d) override;
  Result<std::string> FetchBlob(const CancelToken& t, const Reference& r, const Digest& d) override;
  // Forwards; the blob fetch is reported where FetchBlob reports it: once
  // the registry has returned the bytes, i.e. at the stream's end (the Read
  // that returns empty), in the reading actor's turn.
  Result<std::unique_ptr<BlobReader>> OpenBlob(const CancelToken& t, const Reference& r,
                                               const Digest& d) override;

 private:
  Registry* target_;
  World* world_;
};

struct Desired {
  bool present = false;
  std::string reference;
  bool partial = false;
  bool operator==(const Desired&) const = default;
};

class World {
 public:
  explicit World(SimConfig config, std::shared_ptr<const Trace> replay)
      : config_(std::move(config)),
        replay_(std::move(replay)),
        crash_rng_(config_.seed ^ kCrashStream),
        crash_state_rng_(config_.seed ^ kCrashStateStream) {
    config_.crash_model = ConcreteCrashModel(config_);
  }

  SimReport Run();
  void OnManifestFetch(const Digest& digest);
  // A blob the registry returned to the current actor.
  void OnBlobFetch(const Digest& blob);

 private:
  struct Process {
    std::unique_ptr<SimRuntime> sim_runtime;
    std::unique_ptr<Runtime> runtime_wrapper;
    std::unique_ptr<Filesystem> fs_wrapper;
    std::unique_ptr<FetchWatch> registry;
    std::unique_ptr<VolumeService> manager;  // the configured design
    bool ready = false;
  };
  struct Client {
    int index = 0;
    int process = 0;
    std::vector<ClientOp> script;
    size_t next = 0;  // the first op not finished
    // With client_lanes > 1, per op: 0 not started, 1 in flight, 2 done.
    std::vector<uint8_t> state;
    // Per op, the slot's intent before the op was first issued: a retry
    // after a crash must restore that one on a conflict, not the intent
    // its own killed first attempt recorded.
    std::map<size_t, std::optional<Desired>> before_first;
  };

  Status Setup();
  void ComputeExpected();
  Process* Boot(int process);
  void SpawnDriverActors(int process);
  void SpawnClient(size_t client);
  void SpawnClientLane(size_t client, int lane);
  // Issues one scripted op as the kubelet would (its intent recorded
  // first) and runs it; returns its status.
  Status IssueOp(size_t client, size_t op_index, Process* p, const std::string& who);
  // Whether the files under a failed pull's slot are its own to have
  // cleaned up (the DESIGN §5 check), not another call's or a kept model's.
  bool FailedPullOwnsItsSlot(const ClientOp& op, bool unfinished_before);
  // A file (not a dir) under the slot's model dir, or "".
  std::string ModelFileLeft(const ClientOp& op);
  bool RecordSucceeded(const ClientOp& op);
  // The record's status.json as the checker reads it (not through the
  // store): nullopt when it is missing or does not decode.
  std::optional<VolumeStatus> ReadRecord(const std::string& record);
  void SpawnGc(int process);
  // Runs a design's deferred work (a debounced flush) on the virtual clock.
  void SpawnTimers(int process);
  void SpawnRegistryMutator();
  // Runs one CSI call and logs it for the result oracle (I7).
  Status Execute(VolumeService* manager, const ClientOp& op, const std::string& who);
  // The slots a call addresses: its own, or every slot of its volume.
  std::vector<std::string> SlotsOfCall(const ClientOp& op) const;
  // The slot whose record lives in record_dir ("" if none).
  std::string SlotOfRecord(const std::string& record_dir) const;
  // A power loss: the oracle starts every slot over from its record.
  void LogPowerLoss();
  // I7 over the whole run's call log.
  void CheckResults();
  // The hostile registry (DESIGN §8): the artifacts the scripts address,
  // pushed, and their digests told to the checker.
  void SetUpHostile();
  // The artifact a pull's reference addresses, or nullptr.
  const HostileArtifact* HostileOf(const ClientOp& op) const;
  // The oracle of one hostile pull's result (I7 results), and of what it
  // left (I3 footprint, I5 confinement). faulted: a fault hit the call.
  // overlapped: another call on the volume started while this one ran.
  void JudgeHostilePull(const ClientOp& op, const HostileArtifact& artifact, const Status& st, bool faulted,
                        bool overlapped, bool unfinished_before);
  // Waits until about `target` client operations have finished (or all).
  void WaitForOps(uint64_t target, std::string_view what);
  void SpawnTenant();
  void TenantWrite(Prng& rng, int n);
  void SpawnCorruptor();
  // Garbles one record's status.json; returns the record ("" if none had
  // one). at_sweep prefers a succeeded full record.
  std::string CorruptStatus(Prng& rng, bool at_sweep);
  // Faults injected so far, of every kind.
  uint64_t FaultsSoFar() const;
  // After step: a power loss (node) or a process killed (kill_process, or
  // one drawn). scheduled: an explicit crash_at step.
  void Crash(uint64_t step, bool node, int kill_process = -1, bool scheduled = false);
  // Whether a drawn crash is a power loss (else one process dies).
  bool DrawNodeCrash();
  // The post-crash state a power loss after step keeps.
  CrashState KeptAtCrash(uint64_t step, bool scheduled);
  // I8 recovery's bookkeeping (recovery.cpp): the records a call may
  // change; a call starting (its serial, 0 for a call that promises
  // nothing) and ending.
  std::vector<std::string> RecordsOf(const ClientOp& op) const;
  uint64_t CallStarted(const ClientOp& op);
  void CallEnded(const ClientOp& op, uint64_t serial, const Status& st, const VolumeStatus* pulled);
  // A mishap changed the record behind the store's back: no promise holds,
  // not even that of a call in flight on it.
  void VoidPromise(const std::string& record) {
    promises_.erase(record);
    last_call_[record] = ++call_serial_;
  }
  void Finale();
  void Note(std::string line);
  // The last kHistoryMax notes at or before step.
  std::vector<std::string> HistoryUpTo(uint64_t step) const;
  bool AllDone() const;

  SimConfig config_;
  std::shared_ptr<const Trace> replay_;
  std::unique_ptr<Scheduler> sched_;
  std::unique_ptr<SimFilesystem> fs_;
  std::unique_ptr<FakeRegistry> registry_;
  std::unique_ptr<InvariantChecker> checker_;
  ModelPool pool_;
  std::map<std::string, ExpectedModel> expected_;
  // Every incarnation lives to the end: killed actors unwind into them.
  std::vector<std::unique_ptr<Process>> incarnations_;
  std::vector<Process*> current_;
  std::vector<Client> clients_;
  std::vector<int> gc_rounds_left_;
  int tag_moves_left_ = 0;
  std::vector<std::string> record_dirs_;
  uint64_t ops_total_ = 0;
  uint64_t ops_done_ = 0;
  int tenant_writes_left_ = 0;
  int corruptions_left_ = 0;
  int corruptions_done_ = 0;
  std::map<std::string, uint64_t> garbles_;  // status.json garbled, per record dir
  std::map<ActorId, const ClientOp*> running_op_;
  // Explicit faults (fault_at) injected into each actor's calls so far.
  std::map<ActorId, uint64_t> explicit_faults_by_actor_;
  // Faults of every kind (filesystem plan, explicit, registry) injected
  // into each actor's calls so far: a call they hit may answer an error.
  std::map<ActorId, uint64_t> faults_by_actor_;
  // The call each actor has in flight, by its id in calls_.
  std::map<ActorId, uint64_t> running_call_;
  CallLog calls_;
  std::map<std::string, std::string> slot_of_record_;  // record dir -> slot key
  std::map<std::string, HostileArtifact> hostile_;  // by reference
  std::map<std::string, uint64_t> calls_on_volume_;  // calls started per volume
  std::map<std::string, Desired> desired_;
  Prng crash_rng_;
  Prng crash_state_rng_;
  bool crash_states_listed_ = false;
  // I8: per record dir, what the last call that returned success on it
  // promised, and the serial of the last call started on it.
  std::map<std::string, Promise> promises_;
  std::map<std::string, uint64_t> last_call_;
  uint64_t call_serial_ = 0;
  bool finale_started_ = false;
  uint64_t explicit_faults_ = 0;
  bool finished_ = false;
  SimReport report_;
  std::deque<std::pair<uint64_t, std::string>> history_;  // (step, note)
};

}  // namespace ms::sim
