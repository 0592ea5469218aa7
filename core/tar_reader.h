// A strict reader of uncompressed POSIX ustar archives, as model-spec tar
// layers carry them. It accepts regular files, directories and symlinks and
// refuses everything else (hard links, devices, PAX/GNU extensions) with an
// error naming the entry, so nothing unexpected reaches the disk.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace ms {

struct TarEntry {
  enum class Type { kFile, kDirectory, kSymlink };
  Type type = Type::kFile;
  std::string path;         // validated relative path, no trailing '/'
  uint32_t mode = 0;        // permission bits from the header
  std::string_view content; // file bytes, a view into the archive
  std::string link_target;  // symlink content
};

// Parses the whole archive up front; paths are checked with
// ValidateRelativePath, and a symlink's target must stay inside the model
// (SymlinkStaysInside).
Result<std::vector<TarEntry>> ReadTar(std::string_view archive, std::string_view what);

// True if the relative symlink target, resolved from the directory holding
// link_path, stays within the model root whatever the other entries are:
// its ".." components come first and never climb above the root. A ".."
// after a name is refused, since the name may be another symlink ("hop" ->
// ".", then "out" -> "hop/.." is the model's parent).
bool SymlinkStaysInside(std::string_view link_path, std::string_view target);

}  // namespace ms
