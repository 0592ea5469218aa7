// OCI references: "[host[:port]/]repository[:tag][@digest]".
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/digest.h"
#include "core/status.h"

namespace ms {

class Reference {
 public:
  // Parses and validates per the OCI distribution grammar: repository path
  // components are lower-case alphanumerics joined by '.', '_', '__' or '-'
  // runs; a tag is [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; a digest is a
  // Digest. No tag and no digest means tag "latest". Errors are
  // kInvalidArgument quoting the reference.
  static Result<Reference> Parse(std::string_view text);

  const std::string& host() const { return host_; }          // may be empty
  const std::string& repository() const { return repository_; }
  const std::string& tag() const { return tag_; }            // may be empty
  const std::optional<Digest>& digest() const { return digest_; }

  // The reference as given (normalized: "latest" added when neither a tag nor
  // a digest was present).
  std::string ToString() const;
  // host/repository, the key a registry stores manifests under.
  std::string Name() const;

  bool operator==(const Reference& other) const = default;

 private:
  std::string host_;
  std::string repository_;
  std::string tag_;
  std::optional<Digest> digest_;
};

}  // namespace ms
