// modelpack/model-csi-driver pull request 39 (pkg/service/layer_cache.go,
// layer_metadata.go, puller.go's layerAwarePuller): layer cache A, an
// in-memory index from layer digest to file paths in volumes. No store: the
// volumes' files are the only copies, and an inode goes with its last link.
//
// Models:
//   - the index: layer digest -> paths, in memory, per process; Lookup
//     returns the first path whose stat succeeds (no content check);
//     Register after a hardlink or a download; RemoveByPrefix(record dir) on a
//     delete and after a failed pull (a string prefix: "volumes/s1" also
//     matches "volumes/s10"); a re-pull's removed model leaves its paths in;
//   - a full pull: the manifest, then per layer with a file path: a hit is
//     hardlinked (a failed link falls back to a download); misses download
//     under an in-process single-flight per layer digest and a node semaphore
//     of 8 taken inside it; the downloader writes into its own volume and
//     registers the file; the others hardlink from the index afterwards
//     (each miss tried 3 times, 1 s apart); a miss classified before another
//     pull finished that layer downloads it again;
//   - downloads check the blob's size (the HTTP client's Content-Length) but
//     not its digest (client.Fetch + codec.Decode verify nothing more); the
//     config blob is never fetched (only layers with a file path are);
//   - layer_digests.json ([{digest, file_path, size}]) written into the record
//     dir at the end of a full pull (tmp + rename, no fsync); partial pulls
//     never rewrite it;
//   - rebuild at start: every record that says succeeded, each entry of its
//     layer_digests.json registered if model/<file_path> exists (only that;
//     the path joined and cleaned as filepath.Join does, ".." and all);
//   - files 0644, shared by inode between volumes; tar layers land as
//     directories, which cannot be hardlinked: they download again.
// Leaves out: the errgroup's parallel layers within one pull (sequential
// here); standardPull (the fallback when Inspect fails); the volume layer
// (upstream_shell.h).
#pragma once

#include <memory>

#include "designs/upstream_shell.h"

namespace ms::designs {

std::unique_ptr<PayloadCache> MakeLayerIndex(const CacheEnv& env);

}  // namespace ms::designs
