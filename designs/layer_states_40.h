// modelpack/model-csi-driver pull request 40 (pkg/service/layercache.go,
// layercache_hook.go, worker.go): layer cache B, a per-layer owner/waiter
// state machine hooked before each layer pull. No store: the volumes' files
// are the only copies, and an inode goes with its last link.
//
// Models:
//   - per layer digest, in memory, per process: a state (Idle, Pulling,
//     Done) and the known paths; Acquire tries to hardlink any known path into
//     the target (stale paths dropped; an existing target removed first), else
//     takes a permit of the node semaphore and becomes the owner (Pulling), or
//     waits while another owner pulls; a waiter whose pull is canceled gets
//     the cancellation, and the hook then pulls the layer itself;
//   - Publish(digest, target) after a pull or a hit: the path recorded,
//     state Done, the semaphore released if the state was Pulling (whoever
//     publishes); Fail(digest) after a failed pull: state Idle or Done, the
//     semaphore released if the state was Pulling, without checking who owns
//     the layer;
//   - layers.json per record dir ({schema, items: [{digest, path}]},
//     absolute paths) written by a flush 500 ms after the last Publish of any
//     volume (a debounce on the Runtime's clock, run by the process's timer
//     actor), through MkdirAll of the record dir, tmp + rename, no fsync;
//   - OnVolumeRemoved(record dir) after a delete and after a failed pull:
//     the volume's paths dropped from memory; a flush still pending for it is
//     not; a re-pull's removed model leaves its paths in;
//   - rebuild at start: every layers.json under volumes/, each path kept if
//     its stat succeeds (not checked to lie inside the volume, nor against
//     the volume's record);
//   - the node semaphore (node_layer_concurrency): 2 here, so that it binds
//     in small runs (upstream's default, 0, means no bound);
//   - the config blob and every layer's blob checked by size and digest
//     (modctl's pull, whose hooks these are), files 0644 shared by
//     inode between volumes; tar layers land as directories, which cannot be
//     hardlinked: they are pulled again.
// Leaves out: modctl's concurrent layers within one pull (sequential here);
// the waiters' channels (a waiter polls its entry's notification count every
// 5 ms of virtual time); the volume layer (upstream_shell.h).
#pragma once

#include <memory>

#include "designs/upstream_shell.h"

namespace ms::designs {

inline constexpr int64_t kLayerStatesConcurrency = 2;

std::unique_ptr<PayloadCache> MakeLayerStates(const CacheEnv& env);

}  // namespace ms::designs
