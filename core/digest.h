// Content digests in OCI form, "algo:hex". A Digest can only be built by
// Parse (or from computed bytes), so every Digest in the program is valid:
// a known algorithm, exactly the right number of lower-case hex characters,
// and therefore safe to use as a path component.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header

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
  friend class DigestHasher;
  Digest(DigestAlgorithm algorithm, std::string hex)
      : algorithm_(algorithm), hex_(std::move(hex)) {}
  DigestAlgorithm algorithm_ = DigestAlgorithm::kSha256;
  std::string hex_;
};

// A digest computed over bytes handed in pieces: Update with each piece in
// order, then Finish once. Digest::SameAlgorithmOf(a + b) ==
// Finish() after Update(a), Update(b). Not copyable, not thread-safe.
class DigestHasher {
 public:
  explicit DigestHasher(DigestAlgorithm algorithm);
  ~DigestHasher();
  DigestHasher(const DigestHasher&) = delete;
  DigestHasher& operator=(const DigestHasher&) = delete;

  void Update(std::string_view bytes);
  // The digest of every byte given to Update. Call once: after it the
  // hasher starts over (empty), so a second Finish is the empty digest.
  Digest Finish();
  // Bytes given to Update since construction or the last Finish.
  uint64_t size_bytes() const { return size_bytes_; }

 private:
  struct CtxFree {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  DigestAlgorithm algorithm_;
  std::unique_ptr<evp_md_ctx_st, CtxFree> ctx_;
  uint64_t size_bytes_ = 0;
};

// Lower-case hex of SHA-256 of bytes (64 characters).
std::string Sha256Hex(std::string_view bytes);

}  // namespace ms
