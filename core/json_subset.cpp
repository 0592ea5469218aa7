#include "core/json_subset.h"

#include <cstdint>
#include <string>

namespace ms {
namespace {

constexpr int kDepthMax = 64;

class SubsetReader : public JsonSubsetCursor {
 public:
  using JsonSubsetCursor::JsonSubsetCursor;

  std::optional<nlohmann::json> Document() {
    nlohmann::json out;
    SkipSpace();
    if (!Value(&out, 0)) return std::nullopt;
    SkipSpace();
    if (!AtEnd()) return std::nullopt;
    return out;
  }

 private:
  bool Value(nlohmann::json* out, int depth) {
    if (pos_ >= s_.size()) return false;
    switch (s_[pos_]) {
      case '{': return Object(out, depth + 1);
      case '[': return Array(out, depth + 1);
      case '"': {
        ++pos_;
        std::string str;
        if (!String(&str)) return false;
        *out = std::move(str);
        return true;
      }
      case 't': *out = true; return Literal("true");
      case 'f': *out = false; return Literal("false");
      case 'n': *out = nullptr; return Literal("null");
      default: return Unsigned(out);
    }
  }

  bool Object(nlohmann::json* out, int depth) {
    if (depth > kDepthMax) return false;
    ++pos_;  // '{'
    *out = nlohmann::json::object();
    SkipSpace();
    if (Eat('}')) return true;
    std::string key;
    while (true) {
      SkipSpace();
      key.clear();
      if (!Eat('"') || !String(&key)) return false;
      SkipSpace();
      if (!Eat(':')) return false;
      SkipSpace();
      nlohmann::json value;
      if (!Value(&value, depth)) return false;
      (*out)[key] = std::move(value);
      SkipSpace();
      if (Eat('}')) return true;
      if (!Eat(',')) return false;
    }
  }

  bool Array(nlohmann::json* out, int depth) {
    if (depth > kDepthMax) return false;
    ++pos_;  // '['
    *out = nlohmann::json::array();
    SkipSpace();
    if (Eat(']')) return true;
    while (true) {
      SkipSpace();
      nlohmann::json value;
      if (!Value(&value, depth)) return false;
      out->push_back(std::move(value));
      SkipSpace();
      if (Eat(']')) return true;
      if (!Eat(',')) return false;
    }
  }

  // nlohmann stores a plain non-negative integer as number_unsigned.
  bool Unsigned(nlohmann::json* out) {
    const size_t start = pos_;
    uint64_t value = 0;
    while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
      value = value * 10 + static_cast<uint64_t>(s_[pos_] - '0');
      ++pos_;
    }
    const size_t digits = pos_ - start;
    if (digits == 0 || digits > 19 || (digits > 1 && s_[start] == '0')) return false;
    // A fraction or an exponent makes it a float: nlohmann's business.
    if (pos_ < s_.size() && (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E')) return false;
    *out = value;
    return true;
  }
};

}  // namespace

void JsonSubsetCursor::SkipSpace() {
  while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
    ++pos_;
  }
}

bool JsonSubsetCursor::Eat(char c) {
  if (pos_ >= s_.size() || s_[pos_] != c) return false;
  ++pos_;
  return true;
}

bool JsonSubsetCursor::Literal(std::string_view word) {
  if (s_.substr(pos_, word.size()) != word) return false;
  pos_ += word.size();
  return true;
}

bool JsonSubsetCursor::String(std::string* dst) {
  const size_t start = pos_;
  while (pos_ < s_.size()) {
    const auto c = static_cast<unsigned char>(s_[pos_]);
    if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
    ++pos_;
  }
  dst->append(s_.substr(start, pos_ - start));
  while (pos_ < s_.size()) {
    const auto c = static_cast<unsigned char>(s_[pos_++]);
    if (c == '"') return true;
    if (c < 0x20 || c >= 0x80) return false;
    if (c != '\\') {
      dst->push_back(static_cast<char>(c));
      continue;
    }
    if (pos_ >= s_.size()) return false;
    switch (s_[pos_++]) {
      case '"': dst->push_back('"'); break;
      case '\\': dst->push_back('\\'); break;
      case '/': dst->push_back('/'); break;
      case 'b': dst->push_back('\b'); break;
      case 'f': dst->push_back('\f'); break;
      case 'n': dst->push_back('\n'); break;
      case 'r': dst->push_back('\r'); break;
      case 't': dst->push_back('\t'); break;
      default: return false;  // \u and invalid escapes
    }
  }
  return false;
}

std::optional<nlohmann::json> ParseJsonSubset(std::string_view text) { return SubsetReader(text).Document(); }

}  // namespace ms
