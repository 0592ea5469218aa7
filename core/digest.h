// Content digests in OCI form, "algo:hex". A Digest can only be built by
// Parse (or from computed bytes), so every Digest in the program is valid:
// a known algorithm, exactly the right number of lower-case hex characters,
// and therefore safe to use as a path component.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace ms {

enum class DigestAlgorithm { kSha256, kSha512 };

class Digest {
 public:
  // The digest of zero bytes (sha256), so a default-built Digest is valid.
  Digest();
  // Accepts "sha256:<64 hex>" and "sha512:<128 hex>", lower-case only.
  // Anything else is kInvalidArgument with the offending text quoted.
  static Result<Digest> Parse(std::string_view text);

  static Digest Sha256Of(std::string_view bytes);
  static Digest Sha512Of(std::string_view bytes);
  // The digest of bytes with the same algorithm as this one.
  Digest SameAlgorithmOf(std::string_view bytes) const;

  DigestAlgorithm algorithm() const { return algorithm_; }
  std::string_view algorithm_name() const;  // "sha256" / "sha512"
  const std::string& hex() const { return hex_; }
  std::string ToString() const;  // "sha256:<hex>"

  bool operator==(const Digest& other) const = default;
  auto operator<=>(const Digest& other) const = default;

 private:
  Digest(DigestAlgorithm algorithm, std::string hex)
      : algorithm_(algorithm), hex_(std::move(hex)) {}
  DigestAlgorithm algorithm_ = DigestAlgorithm::kSha256;
  std::string hex_;
};

// Lower-case hex of SHA-256 of bytes (64 characters).
std::string Sha256Hex(std::string_view bytes);

}  // namespace ms
