// modelpack/model-csi-driver pull request 32 (pkg/service/worker.go's
// EnsureCachedModel / ReleaseCachedModel / FindCacheDigestByRef, tested in
// worker_cache_test.go, and node_static_inline.go): a shared cache of
// content and ref files, bind-mounted into the pods.
//
// Models:
//   - cache/content/<algo>/<hex>/ holds the payload, pulled into it in place
//     (a half-filled one is removed before a new pull); cache/refs/<algo>/
//     <hex>/.ready marks it complete; cache/refs/<algo>/<hex>/<ref> is one
//     empty file per volume using it (the ref is the volume name, and for a
//     dynamic mount "volume+mount": the proposal covers static inline volumes
//     only; we give each slot its own ref);
//   - EnsureCachedModel: an in-process single-flight per digest around the
//     pull, an in-process mutex per digest around readiness, pull, ready
//     marker and ref file; markers and refs written without fsync;
//   - the pod sees the content directory itself: a bind mount, modelled as
//     model/ being a symlink to it (what the pod sees is the shared content,
//     writable: the mount is read-write);
//   - ReleaseCachedModel on delete, with the digest from the record, or
//     found by scanning refs/ for the ref (FindCacheDigestByRef): the ref goes,
//     and with the last ref the content and refs dir;
//   - on a failure after the ref was written (the bind mount failing), the
//     ref is released; a re-pull whose tag moved never releases the old ref
//     (its first record names no digest); no sweep.
// Leaves out: the bind mount itself (a symlink stands in: the checker reads
// through it as a pod would); partial pulls (the legacy per-volume path, as
// for every design).
#pragma once

#include <memory>

#include "designs/upstream_shell.h"

namespace ms::designs {

std::unique_ptr<PayloadCache> MakeContentRefs(const CacheEnv& env);

}  // namespace ms::designs
