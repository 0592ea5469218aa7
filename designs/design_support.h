// What the models of the upstream proposals share: fetching a manifest and
// its layers, writing a layer's files, mirroring a tree by hardlinks, and
// writing a small metadata file the way Go's os.WriteFile does.
//
// File placement (pulled payload files, linked trees) is made durable as our
// core makes it (files and the directories created are fsynced when
// CacheEnv::durable): upstream's extractor does not fsync, and a power loss
// would then leave zero-length files under a succeeded record in every
// proposal alike, which says nothing about the proposals. Each proposal's
// own metadata (ready markers, ref files, layer indexes) is written as the
// proposal writes it, without fsync: WriteSmallFile.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/cancel_token.h"
#include "core/digest.h"
#include "core/manifest.h"
#include "core/reference.h"
#include "designs/upstream_shell.h"

namespace ms::designs {

// The manifest with this digest, its bytes checked against the digest and
// parsed (our parser: every proposal parses with modctl / model-spec, whose
// path checks we do not model; ours refuse what DESIGN §5 lists).
Result<ModelManifest> FetchModelManifest(const CacheEnv& env, const Reference& reference, const Digest& digest,
                                         const CancelToken& token);

// dir (absent; its parent exists) filled with the full payload, by our
// verified puller, files writable (0644, as upstream's extractor writes
// them).
Status PullInto(const CacheEnv& env, const Reference& reference, const Digest& manifest, const std::string& dir,
                const CancelToken& token);

// One layer's blob. verify_digest false: only the size is checked (what an
// HTTP client's Content-Length check gives), not the bytes.
Result<std::string> FetchLayer(const CacheEnv& env, const Reference& reference, const Layer& layer,
                               const CancelToken& token, bool verify_digest);

// The manifest's config blob, fetched and checked against its descriptor
// (what a model-spec client such as modctl's pull does; nothing of it is
// written). An artifact whose config the registry does not serve is broken.
Status FetchConfig(const CacheEnv& env, const Reference& reference, const Digest& manifest_digest,
                   const ModelManifest& manifest, const CancelToken& token);

// Writes one layer's files below dir (created if missing): a raw layer is
// one file at its path, a tar layer its entries. Files 0644 (directories
// and symlinks as the tar says), fsynced when durable. An entry that exists
// already is kAlreadyExists; an entry below a symlink another layer (or an
// earlier entry) left is kInvalidArgument, as our puller refuses it (the OS
// would follow the symlink, maybe out of the volume).
Status WriteLayer(const CacheEnv& env, const Layer& layer, std::string_view blob, const std::string& dir);

// Mirrors the tree at src into dst (created if missing): directories
// recreated with their modes, symlinks recreated, regular files hardlinked,
// in ReadDir order. Stops at the first error, leaving what it made (the
// caller cleans up, or not, as its proposal does).
Status LinkTree(const CacheEnv& env, const std::string& src, const std::string& dst, const CancelToken& token);

// Visits every possible record dir under root/volumes, in directory order:
// root/volumes/<v> (a static volume), then each root/volumes/<v>/models/<m>
// (the mounts of a dynamic one), until visit returns false. What the
// proposals' scans do (without their volume-name prefixes).
void ForEachRecordDir(Filesystem* fs, const std::string& root, const std::function<bool(const std::string&)>& visit);

// path cleaned lexically as Go's filepath.Clean does: repeated and trailing
// '/' dropped, "." components dropped, each ".." removes the component before
// it ("/.." is "/"). What filepath.Join hands on: a relative path with ".."
// joined under a directory can leave it.
std::string CleanPath(std::string_view path);

// Writes bytes to path like Go's os.WriteFile: created or truncated (here:
// replaced), mode 0644, never fsynced.
Status WriteSmallFile(Filesystem* fs, const std::string& path, std::string_view bytes);

// Writes bytes to path through path.tmp and a rename, never fsynced (the
// proposals' "atomic" metadata writes).
Status WriteSmallFileRenamed(Filesystem* fs, const std::string& path, std::string_view bytes);

}  // namespace ms::designs
