#include "core/blob_stream.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <string_view>
#include <utility>

namespace ms {
namespace {

// Reserve no more than this up front for ReadBlobVerified: the size is the
// descriptor's claim, which a hostile manifest may inflate.
constexpr uint64_t kReserveMaxBytes = uint64_t{64} << 20;

Status OverLong(uint64_t at_least_bytes, uint64_t size_bytes) {
  return Status(Code::kCorrupt, "blob is at least " + std::to_string(at_least_bytes) +
                                    " bytes, descriptor says " + std::to_string(size_bytes));
}

// Opens the blob (under a slot if slots is set), reads it in chunks of at
// most chunk_bytes, checks the size as it arrives, hands each chunk to sink
// (hashed first), then checks the digest once the stream has ended. The
// reader and then the slot are released as soon as the stream ends or
// fails. Not annotated: the callers do that.
Status Pump(Runtime* runtime, Registry* registry, const CancelToken& token,
            const Reference& reference, const Digest& digest, uint64_t size_bytes,
            FetchSlots* slots, size_t chunk_bytes,
            const std::function<Status(std::string_view)>& sink) {
  if (chunk_bytes == 0) return Status(Code::kInvalidArgument, "blob stream with chunk_bytes 0");
  MS_RETURN_IF_ERROR(token.Check(runtime->NowMs()));
  // Declared before the reader, so the reader goes first on every path.
  std::unique_ptr<FetchSlot> slot;
  if (slots != nullptr) {
    MS_ASSIGN_OR_RETURN(slot, slots->Acquire(token));
  }
  MS_ASSIGN_OR_RETURN(std::unique_ptr<BlobReader> reader,
                      registry->OpenBlob(token, reference, digest));
  DigestHasher hasher(digest.algorithm());
  uint64_t received_bytes = 0;
  // Bounded: every round either ends the loop or receives at least one
  // byte, and more than size_bytes ends it; so at most size_bytes + 1 rounds.
  for (;;) {
    MS_RETURN_IF_ERROR(token.Check(runtime->NowMs()));
    const uint64_t left_bytes = size_bytes - received_bytes;
    // One byte more than is left, to see an over-long answer at once.
    const size_t ask_bytes = left_bytes < chunk_bytes ? static_cast<size_t>(left_bytes) + 1 : chunk_bytes;
    MS_ASSIGN_OR_RETURN(std::string chunk, reader->Read(token, ask_bytes));
    if (chunk.empty()) break;
    if (chunk.size() > ask_bytes) {
      return Status(Code::kInternal, "blob reader returned " + std::to_string(chunk.size()) +
                                         " bytes to a read of at most " + std::to_string(ask_bytes));
    }
    if (chunk.size() > left_bytes) return OverLong(received_bytes + chunk.size(), size_bytes);
    received_bytes += chunk.size();
    hasher.Update(chunk);
    MS_RETURN_IF_ERROR(sink(chunk));
  }
  reader.reset();
  slot.reset();
  if (received_bytes != size_bytes) {
    return Status(Code::kCorrupt, "blob is " + std::to_string(received_bytes) +
                                      " bytes, descriptor says " + std::to_string(size_bytes));
  }
  const Digest got = hasher.Finish();
  if (got != digest) return Status(Code::kCorrupt, "blob content hashes to " + got.ToString());
  return Status::Ok();
}

}  // namespace

Status StreamBlobToFile(Filesystem* fs, Runtime* runtime, Registry* registry,
                        const CancelToken& token, const Reference& reference,
                        const Digest& digest, uint64_t size_bytes, const std::string& path,
                        uint32_t mode, bool durable, FetchSlots* slots, const std::string& where,
                        size_t chunk_bytes) {
  if (chunk_bytes == 0) {
    return Status(Code::kInvalidArgument, "blob stream with chunk_bytes 0").Annotate(where);
  }
  MS_RETURN_IF_ERROR(token.Check(runtime->NowMs()).Annotate(where));
  auto file = fs->NewWritableFile(path, mode);
  // Not ours to remove: the path existed, or could not be made.
  if (!file.ok()) return file.status().Annotate(where);
  std::unique_ptr<WritableFile> out = std::move(file).value();
  Status status = Pump(runtime, registry, token, reference, digest, size_bytes, slots,
                       chunk_bytes, [&](std::string_view chunk) { return out->Append(chunk); });
  if (status.ok() && durable) status = out->Sync();
  if (status.ok()) status = out->Close();
  if (status.ok()) return Status::Ok();
  (void)out->Close();  // the close error, if any, changes nothing: the file goes
  out.reset();
  if (Status removed = fs->Unlink(path); !removed.ok() && removed.code() != Code::kNotFound) {
    status = Status(status.code(), status.message() + "; and removing the partial file failed: " +
                                       removed.ToString());
  }
  return status.Annotate(where);
}

Result<std::string> ReadBlobVerified(Runtime* runtime, Registry* registry,
                                     const CancelToken& token, const Reference& reference,
                                     const Digest& digest, uint64_t size_bytes, FetchSlots* slots,
                                     const std::string& where, size_t chunk_bytes) {
  std::string bytes;
  bytes.reserve(static_cast<size_t>(std::min(size_bytes, kReserveMaxBytes)));
  Status status = Pump(runtime, registry, token, reference, digest, size_bytes, slots,
                       chunk_bytes, [&](std::string_view chunk) {
                         bytes.append(chunk);
                         return Status::Ok();
                       });
  if (!status.ok()) return status.Annotate(where);
  return bytes;
}

}  // namespace ms
