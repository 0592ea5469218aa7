#include "core/digest.h"

#include <openssl/evp.h>

#include <array>
#include <cstdlib>
#include <memory>

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

// OpenSSL 3 looks a legacy EVP_sha256() up again at every digest init, and
// EVP_Digest allocates a context per call: together some 5,000 instructions
// per hash, more than hashing a small blob. So each algorithm is fetched
// once, and each thread reuses one context.
const EVP_MD* FetchedMd(const char* name, const EVP_MD* legacy) {
  const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  return md != nullptr ? md : legacy;
}

const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = FetchedMd("SHA256", EVP_sha256());
  return md;
}

const EVP_MD* Sha512Md() {
  static const EVP_MD* const md = FetchedMd("SHA512", EVP_sha512());
  return md;
}

std::string HashHex(const EVP_MD* md, std::string_view bytes) {
  thread_local const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                                  &EVP_MD_CTX_free);
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  // These only fail on allocation failure; treat that as fatal.
  if (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1) {
    std::abort();
  }
  return HexOf(out.data(), len);
}

Status Invalid(std::string_view text, std::string_view why) {
  // Quote at most 200 characters of hostile input.
  std::string msg = "invalid digest " + QuoteInput(text, 200) + ": ";
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
  return Digest(DigestAlgorithm::kSha256, HashHex(Sha256Md(), bytes));
}

Digest Digest::Sha512Of(std::string_view bytes) {
  return Digest(DigestAlgorithm::kSha512, HashHex(Sha512Md(), bytes));
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

std::string Sha256Hex(std::string_view bytes) { return HashHex(Sha256Md(), bytes); }

namespace {

const EVP_MD* MdOf(DigestAlgorithm algorithm) {
  return algorithm == DigestAlgorithm::kSha256 ? Sha256Md() : Sha512Md();
}

}  // namespace

void DigestHasher::CtxFree::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

DigestHasher::DigestHasher(DigestAlgorithm algorithm)
    : algorithm_(algorithm), ctx_(EVP_MD_CTX_new()) {
  // As in HashHex: these fail only on allocation failure, which is fatal.
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_.get(), MdOf(algorithm_), nullptr) != 1) std::abort();
}

DigestHasher::~DigestHasher() = default;

void DigestHasher::Update(std::string_view bytes) {
  if (EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size()) != 1) std::abort();
  size_bytes_ += bytes.size();
}

Digest DigestHasher::Finish() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), out.data(), &len) != 1 ||
      EVP_DigestInit_ex(ctx_.get(), MdOf(algorithm_), nullptr) != 1) {
    std::abort();
  }
  size_bytes_ = 0;
  return Digest(algorithm_, HexOf(out.data(), len));
}

}  // namespace ms
