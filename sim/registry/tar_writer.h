// A minimal, deterministic POSIX ustar writer for building model-spec tar
// layers in tests and fixtures.
//
// It writes whatever it is given, hostile paths included ("../../x", absolute
// symlink targets): the point is to feed the core's tar reader bad archives
// as well as good ones. It refuses only what ustar cannot encode (a path or
// link target too long for its fields). Every header has mtime 0, uid/gid 0
// and empty uname/gname, so the same entries always give the same bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace ms::sim {

// One archive member. Not core's ms::TarEntry (the parsed form): this is the
// description a test writes.
struct TarEntry {
  enum class Type {
    kFile,      // typeflag '0'; content is the file's bytes
    kDirectory, // typeflag '5'; the name gets a trailing '/' if it has none
    kSymlink,   // typeflag '2'; link_target is the symlink's content
    kHardlink,  // typeflag '1'; link_target names an earlier member (for
                // testing that readers refuse it)
    kCharDevice,   // typeflag '3' (device numbers 0, 0)
    kBlockDevice,  // typeflag '4'
    kFifo,         // typeflag '6'
  };
  std::string path;
  Type type = Type::kFile;
  uint32_t mode = 0644;
  std::string content;      // kFile only
  std::string link_target;  // kSymlink / kHardlink only
  // Escape hatches for hostile archives (a strict reader must refuse what
  // they make): a typeflag written instead of the type's ('L' a GNU long
  // name, 'x' a PAX header; such an entry may carry content), and a size
  // field that lies about the content that follows (the content is still
  // written in full, padded as its real size requires).
  char typeflag_override = '\0';
  std::optional<uint64_t> declared_size;

  static TarEntry File(std::string path, std::string content, uint32_t mode = 0644);
  static TarEntry Directory(std::string path, uint32_t mode = 0755);
  static TarEntry Symlink(std::string path, std::string target);
  static TarEntry Hardlink(std::string path, std::string target);
  // A special file (kCharDevice, kBlockDevice or kFifo).
  static TarEntry Special(std::string path, Type type);
};

inline constexpr size_t kTarBlockBytes = 512;

// The archive: one 512-byte header per entry, file content padded to a
// multiple of 512, then two zero blocks. kInvalidArgument, naming the entry,
// for a path that fits neither name[100] nor prefix[155]/name[100], a link
// target over 100 bytes, content of a non-file entry (unless its typeflag is
// overridden), or a mode above 07777.
Result<std::string> WriteTar(const std::vector<TarEntry>& entries);

}  // namespace ms::sim
