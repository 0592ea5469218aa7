// The baseline: no dedup at all. Every volume pulls its own copy of its
// model into its own model/ directory, as the upstream driver did before any
// of the proposals (modelpack/model-csi-driver's worker.go: puller.Pull into
// the volume). Not a proposal: the control row of the shoot-out. Inside the
// shared volume layer (upstream_shell.h) it must keep every invariant but
// the two dedup exists for (I2 dedup, I3 footprint); anything else it breaks
// is the shell's, not a proposal's.
//
// Models: a private, verified, writable copy per volume; nothing shared,
// nothing kept after a volume goes, nothing in memory.
// Leaves out: nothing of note (there is nothing else).
#pragma once

#include <memory>

#include "designs/upstream_shell.h"

namespace ms::designs {

std::unique_ptr<PayloadCache> MakeNoDedup(const CacheEnv& env);

}  // namespace ms::designs
