// Output files of the CLI: checked before any work is done, written whole
// or not at all (a temporary file renamed into place).
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace ms::cli {

// The file at path can be written: not a directory, its directory exists
// (created if need be) and takes a new file. what names the flag ("--json").
Status CheckWritableFile(std::string_view what, const std::string& path);
// dir exists (created if need be) and takes a new file.
Status CheckWritableDir(std::string_view what, const std::string& dir);

// Writes text to path atomically (creating its directory).
Status WriteFileAtomically(const std::string& path, std::string_view text);

// Reads a whole file (not a directory) of at most max_bytes; what names the
// flag or verb in errors ("--config", "replay"). With magic, a file that does
// not start with it is refused as soon as its first bytes are read (so
// /dev/zero is refused at once, not read to the limit).
Result<std::string> ReadSmallFile(std::string_view what, const std::string& path, size_t max_bytes,
                                  std::string_view magic = {}, std::string_view kind = {});

// path relative to the working directory when it lies below it, else as is.
std::string Pretty(const std::string& path);

}  // namespace ms::cli
