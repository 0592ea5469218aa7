// modelpack/model-csi-driver pull request 31 (pkg/service/reuse.go): a
// cache directory per manifest digest plus hardlink reuse.
//
// Models:
//   - cache/models/<algo>/<hex>/ per digest (getCacheModelDir), filled in
//     place by the first pull of the digest and never collected: no refs, no
//     GC, no sweep;
//   - an in-process single-flight keyed by the digest around "fill the cache
//     if missing, then link it into the volume": linkModelDir removes
//     <model>.linking and <model>, hardlinks the cache into <model>.linking,
//     renames it to <model>; the callers that shared the flight get its
//     answer and nothing linked into their own volume (the review finding:
//     the link is per volume, the other volumes stay empty);
//   - files 0644 shared by inode with the cache; nothing checks them later.
// Leaves out: how the proposal fills the cache (not in reuse.go: in place,
// a failed fill removed); resolution by Inspect (the volume layer resolves).
#pragma once

#include <memory>

#include "designs/upstream_shell.h"

namespace ms::designs {

std::unique_ptr<PayloadCache> MakeCacheReuse(const CacheEnv& env);

}  // namespace ms::designs
