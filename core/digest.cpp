#include "core/digest.h"

#include <openssl/evp.h>

#include <array>

namespace ms {
namespace {

std::string HexOf(const unsigned char* data, unsigned int len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 0xf]);
  }
  return out;
}

std::string HashHex(const EVP_MD* md, std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  // EVP_Digest only fails on allocation failure; treat that as fatal.
  const int rc = EVP_Digest(bytes.data(), bytes.size(), out.data(), &len, md, nullptr);
  if (rc != 1) std::abort();
  return HexOf(out.data(), len);
}

Status Invalid(std::string_view text, std::string_view why) {
  std::string msg = "invalid digest \"";
  // Quote at most 200 characters of hostile input.
  msg += text.substr(0, 200);
  if (text.size() > 200) msg += "...";
  msg += "\": ";
  msg += why;
  return Status(Code::kInvalidArgument, std::move(msg));
}

}  // namespace

Digest::Digest()
    : algorithm_(DigestAlgorithm::kSha256),
      hex_("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") {}

Result<Digest> Digest::Parse(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return Invalid(text, "expected algo:hex");
  const std::string_view algo = text.substr(0, colon);
  const std::string_view hex = text.substr(colon + 1);
  DigestAlgorithm algorithm;
  size_t hex_len;
  if (algo == "sha256") {
    algorithm = DigestAlgorithm::kSha256;
    hex_len = 64;
  } else if (algo == "sha512") {
    algorithm = DigestAlgorithm::kSha512;
    hex_len = 128;
  } else {
    return Invalid(text, "unsupported algorithm (want sha256 or sha512)");
  }
  if (hex.size() != hex_len) {
    return Invalid(text, "hex part must be exactly " + std::to_string(hex_len) +
                             " characters, got " + std::to_string(hex.size()));
  }
  for (char c : hex) {
    const bool lower_hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (!lower_hex) return Invalid(text, "hex part must be lower-case [0-9a-f]");
  }
  return Digest(algorithm, std::string(hex));
}

Digest Digest::Sha256Of(std::string_view bytes) {
  return Digest(DigestAlgorithm::kSha256, HashHex(EVP_sha256(), bytes));
}

Digest Digest::Sha512Of(std::string_view bytes) {
  return Digest(DigestAlgorithm::kSha512, HashHex(EVP_sha512(), bytes));
}

Digest Digest::SameAlgorithmOf(std::string_view bytes) const {
  return algorithm_ == DigestAlgorithm::kSha256 ? Sha256Of(bytes) : Sha512Of(bytes);
}

std::string_view Digest::algorithm_name() const {
  return algorithm_ == DigestAlgorithm::kSha256 ? "sha256" : "sha512";
}

std::string Digest::ToString() const {
  std::string out(algorithm_name());
  out += ':';
  out += hex_;
  return out;
}

std::string Sha256Hex(std::string_view bytes) { return HashHex(EVP_sha256(), bytes); }

}  // namespace ms
