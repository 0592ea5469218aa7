#include "core/reference.h"

namespace ms {
namespace {

Status Invalid(std::string_view text, std::string_view why) {
  std::string msg = "invalid reference " + QuoteInput(text, 256) + ": ";
  msg += why;
  return Status(Code::kInvalidArgument, std::move(msg));
}

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool ValidPathComponent(std::string_view c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) return false;
  size_t i = 0;
  while (i < c.size()) {
    if (IsLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    // A separator run.
    size_t j = i;
    while (j < c.size() && !IsLowerAlnum(c[j])) ++j;
    const std::string_view sep = c.substr(i, j - i);
    const bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
    i = j;
  }
  return true;
}

bool ValidHost(std::string_view h) {
  if (h.empty() || h.size() > 255) return false;
  for (char c : h) {
    const bool ok = IsLowerAlnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '-' || c == ':';
    if (!ok) return false;
  }
  return h.front() != '.' && h.front() != '-' && h.front() != ':';
}

bool ValidTag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    const bool word = IsLowerAlnum(c) || (c >= 'A' && c <= 'Z') || c == '_';
    if (!(word || (i > 0 && (c == '.' || c == '-')))) return false;
  }
  return true;
}

}  // namespace

Result<Reference> Reference::Parse(std::string_view text) {
  if (text.empty()) return Invalid(text, "empty");
  if (text.size() > 1024) return Invalid(text, "longer than 1024 characters");
  Reference ref;
  std::string_view rest = text;
  if (const size_t at = rest.find('@'); at != std::string_view::npos) {
    auto digest = Digest::Parse(rest.substr(at + 1));
    if (!digest.ok()) return Invalid(text, digest.status().message());
    ref.digest_ = std::move(digest).value();
    rest = rest.substr(0, at);
  }
  // A ':' after the last '/' starts the tag.
  const size_t last_slash = rest.rfind('/');
  const size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || colon > last_slash)) {
    const std::string_view tag = rest.substr(colon + 1);
    if (!ValidTag(tag)) return Invalid(text, "bad tag \"" + std::string(tag) + "\"");
    ref.tag_ = std::string(tag);
    rest = rest.substr(0, colon);
  }
  // The first component is a host if it has '.', ':' or is "localhost".
  if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
    const std::string_view first = rest.substr(0, slash);
    if (first.find_first_of(".:") != std::string_view::npos || first == "localhost") {
      if (!ValidHost(first)) return Invalid(text, "bad registry host");
      ref.host_ = std::string(first);
      rest = rest.substr(slash + 1);
    }
  }
  if (rest.empty()) return Invalid(text, "empty repository");
  if (rest.size() > 255) return Invalid(text, "repository longer than 255 characters");
  size_t start = 0;
  while (true) {
    const size_t slash = rest.find('/', start);
    const std::string_view comp = rest.substr(start, slash == std::string_view::npos
                                                          ? std::string_view::npos
                                                          : slash - start);
    if (!ValidPathComponent(comp)) {
      return Invalid(text, "bad repository component \"" + std::string(comp) + "\"");
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  ref.repository_ = std::string(rest);
  if (ref.tag_.empty() && !ref.digest_) ref.tag_ = "latest";
  return ref;
}

std::string Reference::Name() const {
  return host_.empty() ? repository_ : host_ + "/" + repository_;
}

std::string Reference::ToString() const {
  // Appends piece by piece: GCC 12 at -O3 misreads `out += ":" + tag_`
  // as an overlapping memcpy (-Wrestrict, a known false positive).
  std::string out = Name();
  if (!tag_.empty()) {
    out.push_back(':');
    out.append(tag_);
  }
  if (digest_) {
    out.push_back('@');
    out.append(digest_->ToString());
  }
  return out;
}

}  // namespace ms
