// A fast reader for the usual shape of the JSON documents the core reads
// (registry manifests). nlohmann-json's parser costs tens of thousands of
// instructions per small document; this one builds the very same
// nlohmann::json for a strict subset of JSON and declines everything else,
// which the caller then hands to nlohmann::json::parse (so what is accepted,
// what is rejected, and every error stay nlohmann's).
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace ms {

// The document nlohmann::json::parse(text) would return, when text is in
// the subset: objects and arrays nested at most 64 deep; strings of
// printable ASCII with the short escapes (\" \\ \/ \b \f \n \r \t, no \u);
// non-negative integers of at most 19 digits without leading zeros; true,
// false, null; JSON white space. A repeated key keeps its last value, as
// nlohmann's does. nullopt otherwise (invalid JSON included).
std::optional<nlohmann::json> ParseJsonSubset(std::string_view text);

// The subset's lexical pieces, for readers that fill their own structures
// (status.json's). Each returns false where the text leaves the subset.
class JsonSubsetCursor {
 public:
  explicit JsonSubsetCursor(std::string_view text) : s_(text) {}

  void SkipSpace();
  bool Eat(char c);
  bool Literal(std::string_view word);
  // After the opening quote: appends the string to dst, up to and past the
  // closing quote.
  bool String(std::string* dst);
  bool AtEnd() const { return pos_ == s_.size(); }

 protected:
  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace ms
