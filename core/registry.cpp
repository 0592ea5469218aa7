#include "core/registry.h"

#include <algorithm>
#include <utility>

namespace ms {
namespace {

class StringBlobReader final : public BlobReader {
 public:
  explicit StringBlobReader(std::string bytes) : bytes_(std::move(bytes)) {}

  Result<std::string> Read(const CancelToken& /*token*/, size_t max_bytes) override {
    if (max_bytes == 0) return Status(Code::kInvalidArgument, "blob read of 0 bytes");
    const size_t n = std::min(max_bytes, bytes_.size() - position_);
    std::string chunk = bytes_.substr(position_, n);
    position_ += n;
    if (position_ == bytes_.size()) {
      // Done with the copy: free it now rather than with the reader.
      std::string().swap(bytes_);
      position_ = 0;
    }
    return chunk;
  }

 private:
  std::string bytes_;
  size_t position_ = 0;
};

}  // namespace

std::unique_ptr<BlobReader> NewStringBlobReader(std::string bytes) {
  return std::make_unique<StringBlobReader>(std::move(bytes));
}

Result<std::unique_ptr<BlobReader>> Registry::OpenBlob(const CancelToken& token,
                                                       const Reference& reference,
                                                       const Digest& digest) {
  MS_ASSIGN_OR_RETURN(std::string bytes, FetchBlob(token, reference, digest));
  return NewStringBlobReader(std::move(bytes));
}

}  // namespace ms
