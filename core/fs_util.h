// Compound filesystem operations built from Filesystem port calls only, so
// the simulator can preempt between every step (a remove-tree is many calls,
// on a real disk and in the simulation alike).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/filesystem.h"
#include "core/status.h"

namespace ms {

// "a" + "b" -> "a/b" (no normalization; b must be relative).
std::string JoinPath(std::string_view base, std::string_view rel);
// "/a/b/c" -> "/a/b"; "/a" -> "/".
std::string ParentPath(std::string_view path);

// True when name is one safe path component: non-empty, at most 255 bytes,
// not "." or "..", no '/', no NUL.
bool IsSafeComponent(std::string_view name);

// Validates a model-relative path such as "weights/model.bin": relative, no
// empty, "." or ".." components, no NUL, at most 4096 bytes and 64 levels.
// kInvalidArgument naming `what` and the path otherwise.
Status ValidateRelativePath(std::string_view path, std::string_view what);

// Creates path and any missing parents with mode. Existing directories are
// fine; an existing non-directory is kNotDirectory.
Status MakeDirs(Filesystem* fs, const std::string& path, uint32_t mode);

// MakeDirs, durably: every directory from below base down to path exists
// and its entry in its parent is durable. Each parent is synced once its
// child exists, an existing child too (its creator may have died between
// the mkdir and the sync). base must exist and is not synced: its own entry
// is the caller's (say, made durable once at startup). path must be base
// or below it.
Status MakeDurableDirs(Filesystem* fs, const std::string& base, const std::string& path, uint32_t mode);

// Removes path and everything below it, depth first. A missing path is OK.
// Bounded by max_entries removals (kInternal past that).
Status RemoveAll(Filesystem* fs, const std::string& path, uint64_t max_entries = 10'000'000);

// Writes bytes to path atomically: a sibling temporary file, fsync, rename,
// fsync of the parent. Readers see the old content or the new, never a mix.
Status WriteFileAtomic(Filesystem* fs, const std::string& path, std::string_view bytes,
                       uint32_t mode);

// True if path exists (of any type); errors other than kNotFound propagate.
Result<bool> Exists(Filesystem* fs, const std::string& path);

}  // namespace ms
