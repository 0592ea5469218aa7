// modelpack/model-csi-driver pull request 37 (pkg/service/model_store.go):
// the seed ModelStore as proposed, before our fixes (DESIGN §1, §2).
//
// Models:
//   - store/<algo>/<hex>/data/ per manifest digest, filled through
//     store/<algo>/<hex>/data.tmp/ (a leftover removed first, a failed pull's
//     removed), renamed to data/ without an fsync, then mirrored into the
//     volume: directories made with their modes, symlinks recreated, files
//     hardlinked (linkTree);
//   - files as the extractor writes them: 0644, nothing checks them later;
//   - one in-process keyed mutex per digest (kmutex) around pull, link and
//     GC: a second driver process shares nothing;
//   - MaybeGC(digest) after a delete and after a failed pull, with the key
//     read from the record: the entry is live while some regular file under
//     data/ has a link count above 1, else the whole entry is removed (also a
//     data/-less entry, staging and all);
//   - no sweep, no ref files; a re-pull whose tag moved writes the new key and
//     never collects the old one; a record that does not decode hides its key.
// Leaves out: the CSI layer around it (upstream_shell.h holds it fixed);
// modctl's extraction details (our puller fills data.tmp/, durably, checking
// every blob); the Go context's cancellation inside the mutex wait.
#pragma once

#include <memory>

#include "designs/upstream_shell.h"

namespace ms::designs {

std::unique_ptr<PayloadCache> MakeSeedStore(const CacheEnv& env);

}  // namespace ms::designs
