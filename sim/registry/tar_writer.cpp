#include "sim/registry/tar_writer.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string_view>

namespace ms::sim {
namespace {

// ustar header field offsets and widths (POSIX.1-1988).
constexpr size_t kNameOffset = 0, kNameBytes = 100;
constexpr size_t kModeOffset = 100, kModeBytes = 8;
constexpr size_t kUidOffset = 108, kUidBytes = 8;
constexpr size_t kGidOffset = 116, kGidBytes = 8;
constexpr size_t kSizeOffset = 124, kSizeBytes = 12;
constexpr size_t kMtimeOffset = 136, kMtimeBytes = 12;
constexpr size_t kChecksumOffset = 148, kChecksumBytes = 8;
constexpr size_t kTypeflagOffset = 156;
constexpr size_t kLinknameOffset = 157, kLinknameBytes = 100;
constexpr size_t kMagicOffset = 257;   // "ustar\0"
constexpr size_t kVersionOffset = 263; // "00"
constexpr size_t kDevmajorOffset = 329, kDevmajorBytes = 8;
constexpr size_t kDevminorOffset = 337, kDevminorBytes = 8;
constexpr size_t kPrefixOffset = 345, kPrefixBytes = 155;

using Header = std::array<char, kTarBlockBytes>;

Status Invalid(const TarEntry& entry, std::string_view why) {
  std::string msg = "tar entry \"";
  msg += std::string_view(entry.path).substr(0, 200);
  msg += "\": ";
  msg += why;
  return Status(Code::kInvalidArgument, std::move(msg));
}

void PutBytes(Header& header, size_t offset, std::string_view bytes) {
  // An empty view may hold a null pointer, which memcpy must not get.
  if (!bytes.empty()) std::memcpy(header.data() + offset, bytes.data(), bytes.size());
}

// width-1 zero-padded octal digits and a NUL, the form GNU and BSD tar write.
// Returns false if value needs more digits than the field has.
bool PutOctal(Header& header, size_t offset, size_t width, uint64_t value) {
  const size_t digits = width - 1;
  for (size_t i = digits; i-- > 0;) {
    header[offset + i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
  header[offset + digits] = '\0';
  return value == 0;
}

// Splits a long path into ustar's prefix and name fields at a '/', keeping
// as much as possible in prefix. False if no split fits.
bool SplitPath(std::string_view path, std::string_view& prefix, std::string_view& name) {
  if (path.size() <= kNameBytes) {
    prefix = {};
    name = path;
    return true;
  }
  const size_t last = std::min(kPrefixBytes, path.size() - 1);
  for (size_t p = last; p > 0; --p) {
    if (path[p] != '/') continue;
    const size_t name_len = path.size() - p - 1;
    if (name_len == 0) continue;               // a directory's trailing '/'
    if (name_len > kNameBytes) return false;  // a shorter prefix only lengthens name
    prefix = path.substr(0, p);
    name = path.substr(p + 1);
    return true;
  }
  return false;
}

char Typeflag(TarEntry::Type type) {
  switch (type) {
    case TarEntry::Type::kFile: return '0';
    case TarEntry::Type::kHardlink: return '1';
    case TarEntry::Type::kSymlink: return '2';
    case TarEntry::Type::kDirectory: return '5';
    case TarEntry::Type::kCharDevice: return '3';
    case TarEntry::Type::kBlockDevice: return '4';
    case TarEntry::Type::kFifo: return '6';
  }
  return '0';
}

Result<Header> MakeHeader(const TarEntry& entry) {
  std::string path = entry.path;
  if (entry.type == TarEntry::Type::kDirectory && (path.empty() || path.back() != '/')) {
    path += '/';  // the convention every tar writes for directories
  }
  if (entry.type != TarEntry::Type::kFile && entry.typeflag_override == '\0' &&
      !entry.content.empty()) {
    return Invalid(entry, "only regular files carry content");
  }
  if (entry.link_target.size() > kLinknameBytes) {
    return Invalid(entry, "link target longer than 100 bytes");
  }
  std::string_view prefix;
  std::string_view name;
  if (!SplitPath(path, prefix, name)) {
    return Invalid(entry, "path does not fit ustar name[100] / prefix[155]");
  }
  if (entry.mode > 07777) return Invalid(entry, "mode above 07777");
  Header header{};
  PutBytes(header, kNameOffset, name);
  (void)PutOctal(header, kModeOffset, kModeBytes, entry.mode);
  (void)PutOctal(header, kUidOffset, kUidBytes, 0);
  (void)PutOctal(header, kGidOffset, kGidBytes, 0);
  if (!PutOctal(header, kSizeOffset, kSizeBytes, entry.declared_size.value_or(entry.content.size()))) {
    return Invalid(entry, "content larger than 8 GiB");
  }
  (void)PutOctal(header, kMtimeOffset, kMtimeBytes, 0);
  header[kTypeflagOffset] =
      entry.typeflag_override != '\0' ? entry.typeflag_override : Typeflag(entry.type);
  PutBytes(header, kLinknameOffset, entry.link_target);
  PutBytes(header, kMagicOffset, std::string_view("ustar\0", 6));
  PutBytes(header, kVersionOffset, "00");
  (void)PutOctal(header, kDevmajorOffset, kDevmajorBytes, 0);
  (void)PutOctal(header, kDevminorOffset, kDevminorBytes, 0);
  PutBytes(header, kPrefixOffset, prefix);
  // The checksum is summed with its own field read as eight spaces, then
  // written as six octal digits, NUL, space.
  std::memset(header.data() + kChecksumOffset, ' ', kChecksumBytes);
  uint64_t sum = 0;
  for (const char c : header) sum += static_cast<unsigned char>(c);
  (void)PutOctal(header, kChecksumOffset, 7, sum);
  header[kChecksumOffset + 7] = ' ';
  return header;
}

}  // namespace

TarEntry TarEntry::File(std::string path, std::string content, uint32_t mode) {
  TarEntry e;
  e.path = std::move(path);
  e.type = Type::kFile;
  e.mode = mode;
  e.content = std::move(content);
  return e;
}

TarEntry TarEntry::Directory(std::string path, uint32_t mode) {
  TarEntry e;
  e.path = std::move(path);
  e.type = Type::kDirectory;
  e.mode = mode;
  return e;
}

TarEntry TarEntry::Symlink(std::string path, std::string target) {
  TarEntry e;
  e.path = std::move(path);
  e.type = Type::kSymlink;
  e.mode = 0777;
  e.link_target = std::move(target);
  return e;
}

TarEntry TarEntry::Hardlink(std::string path, std::string target) {
  TarEntry e;
  e.path = std::move(path);
  e.type = Type::kHardlink;
  e.link_target = std::move(target);
  return e;
}

TarEntry TarEntry::Special(std::string path, Type type) {
  TarEntry e;
  e.path = std::move(path);
  e.type = type;
  e.mode = 0600;
  return e;
}

Result<std::string> WriteTar(const std::vector<TarEntry>& entries) {
  std::string out;
  for (const TarEntry& entry : entries) {
    MS_ASSIGN_OR_RETURN(const Header header, MakeHeader(entry));
    out.append(header.data(), header.size());
    out += entry.content;
    const size_t tail = entry.content.size() % kTarBlockBytes;
    if (tail != 0) out.append(kTarBlockBytes - tail, '\0');
  }
  out.append(2 * kTarBlockBytes, '\0');  // end-of-archive marker
  return out;
}

}  // namespace ms::sim
