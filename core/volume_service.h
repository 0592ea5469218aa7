// VolumeService: what the CSI node service asks of a node-local model
// cache, whatever its design. The simulator drives every design through
// this interface only (our VolumeManager, and the models of the upstream
// proposals in designs/), so one workload, one fault plan and one checker
// judge them all.
//
// Every call returns a Status naming its input; none throws. An instance is
// one driver process: whatever it keeps in memory is that process's alone
// and is lost with it (a second driver process sharing the root is a second
// instance).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/digest.h"
#include "core/model_store.h"
#include "core/status.h"
#include "core/volume_status.h"

namespace ms {

struct PullRequest {
  std::string volume;    // a safe path component
  std::string mount_id;  // empty: a static volume; else a safe path component
  std::string reference;
  bool exclude_weights = false;
  std::vector<std::string> exclude_patterns;
  int64_t timeout_ms = 0;  // 0: no deadline
};

struct PullResult {
  VolumeStatus status;
  std::string model_dir;
};

class VolumeService {
 public:
  VolumeService() = default;
  VolumeService(const VolumeService&) = delete;
  VolumeService& operator=(const VolumeService&) = delete;
  virtual ~VolumeService() = default;

  // Validates the root and creates the layout; a design that keeps an index
  // in memory rebuilds it here (a process start).
  virtual Status Init() = 0;

  // Pulls reference into the volume (mount): the record says running before
  // the payload moves, then succeeded, or the error's state
  // (failed / canceled / timeout) with the model removed. A mount recorded
  // with another reference is kConflict.
  virtual Result<PullResult> PullModel(const PullRequest& request) = 0;

  // Removes the mount's record and model (an empty mount_id: the whole
  // static volume, as ReleaseVolume). A missing one is OK.
  virtual Status DeleteModel(const std::string& volume, const std::string& mount_id) = 0;

  // Removes volumes/<volume> and everything below it. A missing one is OK.
  virtual Status ReleaseVolume(const std::string& volume) = 0;

  // The record of the volume (mount): kNotFound without one, kCorrupt if it
  // does not decode.
  virtual Result<VolumeStatus> GetStatus(const std::string& volume, const std::string& mount_id) = 0;

  // Maintenance at boot and from the periodic GC actor: what the design
  // collects when nothing asks (a design without any returns an empty
  // report).
  virtual Result<SweepReport> Sweep() = 0;

  // The GC actor's per-digest hook: collect what the design keeps for this
  // manifest digest if nothing references it (a no-op where the design keeps
  // nothing per digest).
  virtual Status CollectDigest(const Digest& manifest) = 0;

  // Deferred work a design schedules on the clock (a debounced flush), run by
  // a timer actor of the process: the earliest time any is due (Runtime
  // NowMs), or -1 when none is pending; RunDueTimers runs what is due.
  // HasTimers is false for a design that never schedules any.
  virtual bool HasTimers() const { return false; }
  virtual int64_t NextTimerMs() { return -1; }
  virtual void RunDueTimers() {}
};

}  // namespace ms
