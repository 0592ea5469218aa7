// modelpack/model-csi-driver pull request 34 (pkg/service/pull_dedup_test.go
// and the worker it tests): no store. A new volume is cloned by hardlinks
// from an existing volume that holds the same manifest digest.
//
// Models:
//   - findExistingModelDir(digest): a scan of every record under volumes/
//     (static and dynamic), in directory order, for one that decodes, says
//     succeeded, names the digest, and whose model/ exists (our record's
//     cache_key stands for the proposal's Digest field; partial pulls record
//     none, so they never serve as a source);
//   - cloneByHardlink(src, dst): directories made, files hardlinked, symlinks
//     recreated; if it fails, what it made is removed and the volume is pulled
//     for real (the fallback of TestPullModel_Dedup_HardlinkFallback);
//   - concurrent pulls of one digest collapse into one real pull (the tests
//     with 10 concurrent pulls): an in-process mutex per digest held from the
//     scan until the puller's record says succeeded, so the others find it;
//     a second driver process shares nothing;
//   - files 0644, shared by inode with the source volume; nothing is kept
//     when the last volume goes (no GC needed), nothing is checked later.
// Leaves out: digest resolution by a digest-form reference without a
// network call (the volume layer resolves every reference once); the
// fallback to a real pull when resolution fails (a resolution failure fails
// the pull here, as in every design); volume-name prefixes (pvc-/csi-).
#pragma once

#include <memory>

#include "designs/upstream_shell.h"

namespace ms::designs {

std::unique_ptr<PayloadCache> MakeVolumeClone(const CacheEnv& env);

}  // namespace ms::designs
