#include "core/tar_reader.h"

#include <cstring>

#include "core/fs_util.h"

namespace ms {
namespace {

constexpr size_t kBlock = 512;

std::string_view Field(std::string_view header, size_t offset, size_t len) {
  std::string_view f = header.substr(offset, len);
  const size_t nul = f.find('\0');
  return nul == std::string_view::npos ? f : f.substr(0, nul);
}

Result<uint64_t> Octal(std::string_view field, std::string_view what) {
  uint64_t v = 0;
  bool any = false;
  for (char c : field) {
    if (c == ' ' || c == '\0') {
      if (any) break;
      continue;
    }
    if (c < '0' || c > '7') return Status(Code::kCorrupt, std::string(what) + ": bad octal field");
    if (v > (UINT64_MAX >> 3)) return Status(Code::kCorrupt, std::string(what) + ": octal overflow");
    v = v * 8 + static_cast<uint64_t>(c - '0');
    any = true;
  }
  return v;
}

// What a refused typeflag is, for the message.
const char* TypeName(char type) {
  switch (type) {
    case '1': return "hard link";
    case '3': return "character device";
    case '4': return "block device";
    case '6': return "FIFO";
    case '7': return "contiguous file";
    case 'L': case 'K': return "GNU long name";
    case 'x': case 'g': return "PAX extended header";
    default: return "unknown";
  }
}

bool AllZero(std::string_view block) {
  for (char c : block) {
    if (c != '\0') return false;
  }
  return true;
}

}  // namespace

bool SymlinkStaysInside(std::string_view link_path, std::string_view target) {
  if (target.empty() || target.front() == '/') return false;
  // Depth of the directory holding the link: a real directory, since
  // nothing is ever placed below a symlink.
  int depth = 0;
  for (char c : link_path) depth += (c == '/') ? 1 : 0;
  bool descended = false;
  size_t start = 0;
  while (start <= target.size()) {
    size_t slash = target.find('/', start);
    if (slash == std::string_view::npos) slash = target.size();
    const std::string_view comp = target.substr(start, slash - start);
    if (comp == "..") {
      // A ".." after a name applies to wherever that name leads, and the
      // name may be another symlink ("hop" -> ".", "out" -> "hop/.."
      // reaches the model's parent): counting names would be wrong.
      if (descended || --depth < 0) return false;
    } else if (!comp.empty() && comp != ".") {
      ++depth;
      descended = true;
    }
    start = slash + 1;
  }
  return true;
}

Result<std::vector<TarEntry>> ReadTar(std::string_view archive, std::string_view what) {
  std::vector<TarEntry> entries;
  size_t pos = 0;
  const std::string prefix_what(what);
  while (true) {
    if (pos + kBlock > archive.size()) {
      return Status(Code::kCorrupt, prefix_what + ": truncated tar (no end-of-archive marker)");
    }
    const std::string_view header = archive.substr(pos, kBlock);
    if (AllZero(header)) break;  // end of archive
    const std::string at = prefix_what + ": tar entry at offset " + std::to_string(pos);
    // Checksum: sum of header bytes with the checksum field as spaces.
    uint64_t sum = 0;
    for (size_t i = 0; i < kBlock; ++i) {
      sum += (i >= 148 && i < 156) ? static_cast<unsigned char>(' ')
                                   : static_cast<unsigned char>(header[i]);
    }
    MS_ASSIGN_OR_RETURN(const uint64_t want_sum, Octal(header.substr(148, 8), at));
    if (sum != want_sum) return Status(Code::kCorrupt, at + ": header checksum mismatch");
    if (header.substr(257, 5) != "ustar") {
      return Status(Code::kUnsupported, at + ": not a ustar header");
    }
    std::string name(Field(header, 0, 100));
    const std::string_view prefix = Field(header, 345, 155);
    if (!prefix.empty()) name = std::string(prefix) + "/" + name;
    while (!name.empty() && name.back() == '/') name.pop_back();
    if (name.rfind("./", 0) == 0) name = name.substr(2);
    MS_ASSIGN_OR_RETURN(const uint64_t mode, Octal(header.substr(100, 8), at));
    MS_ASSIGN_OR_RETURN(const uint64_t size, Octal(header.substr(124, 12), at));
    const char type = header[156];
    pos += kBlock;
    const uint64_t padded = (size + kBlock - 1) / kBlock * kBlock;
    if (padded > archive.size() - pos) {
      return Status(Code::kCorrupt, at + ": entry " + QuoteInput(name) + " runs past the end of the archive");
    }
    TarEntry entry;
    entry.path = name;
    entry.mode = static_cast<uint32_t>(mode & 07777);
    MS_RETURN_IF_ERROR(ValidateRelativePath(name, at + ": path"));
    switch (type) {
      case '0':
      case '\0':
        entry.type = TarEntry::Type::kFile;
        entry.content = archive.substr(pos, size);
        break;
      case '5':
        entry.type = TarEntry::Type::kDirectory;
        break;
      case '2':
        entry.type = TarEntry::Type::kSymlink;
        entry.link_target = std::string(Field(header, 157, 100));
        if (!SymlinkStaysInside(name, entry.link_target)) {
          return Status(Code::kInvalidArgument,
                        at + ": symlink " + QuoteInput(name) + " -> " + QuoteInput(entry.link_target) +
                            " leaves the model (or climbs \"..\" after a name, which another symlink "
                            "could lead out of it)");
        }
        break;
      default:
        return Status(Code::kUnsupported, at + ": entry " + QuoteInput(name) + " has unsupported type " +
                                              QuoteInput(std::string(1, type)) + " (" + TypeName(type) + ")");
    }
    if (entries.size() >= 1'000'000) return Status(Code::kCorrupt, at + ": too many entries");
    entries.push_back(std::move(entry));
    pos += padded;
  }
  return entries;
}

}  // namespace ms
