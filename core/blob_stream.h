// Streaming a blob from the Registry port, verified as it arrives.
//
// Both functions read the blob through Registry::OpenBlob in chunks of at
// most chunk_bytes, hash each chunk as it arrives (DigestHasher) and check
// the size as bytes arrive: an answer longer than the descriptor's size is
// refused as soon as it shows, without reading the rest; a short one at its
// end; the digest at the end. So at most chunk_bytes of the blob are held in
// memory by StreamBlobToFile, whatever the blob's size.
//
// Fetch slots: with slots (not nullptr) the fetch holds one slot from before
// OpenBlob until the stream has ended or failed (reader destroyed first,
// then the slot), the way the puller's whole-blob fetches do.
//
// Errors are annotated with `where` ("where: message"). A size or digest
// mismatch is kCorrupt, worded as the puller's whole-blob check:
//   "<where>: blob is N bytes, descriptor says M"
//   "<where>: blob is at least N bytes, descriptor says M"  (over-long, refused early)
//   "<where>: blob content hashes to sha256:..."
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/cancel_token.h"
#include "core/digest.h"
#include "core/fetch_slots.h"
#include "core/filesystem.h"
#include "core/reference.h"
#include "core/registry.h"
#include "core/runtime.h"
#include "core/status.h"

namespace ms {

// The largest read a stream asks of the registry at once.
inline constexpr size_t kBlobChunkBytes = size_t{1} << 20;  // 1 MiB

// Streams the blob `digest` of `reference` into a NEW file at path (mode), verifying size
// and digest while writing: at most chunk_bytes of it in memory at once. Size checked as
// bytes arrive (more than size_bytes is refused at once, fewer at the end), digest at the end.
// With durable, the file is fsynced before return (its directory entry is the caller's to
// sync). The fetch holds a slot of `slots` (if not nullptr) from before OpenBlob until the
// stream ends or fails. An existing path is kAlreadyExists and is left alone. On any other
// error the file is closed and removed (nothing half-written stays; should the removal
// itself fail, the message says so and the file may remain) and the status is annotated
// with `where`; a size/digest mismatch is kCorrupt. The token is checked before the slot,
// and between chunks (kCanceled / kDeadlineExceeded). chunk_bytes must be > 0
// (kInvalidArgument).
Status StreamBlobToFile(Filesystem* fs, Runtime* runtime, Registry* registry,
                        const CancelToken& token, const Reference& reference,
                        const Digest& digest, uint64_t size_bytes, const std::string& path,
                        uint32_t mode, bool durable, FetchSlots* slots, const std::string& where,
                        size_t chunk_bytes = kBlobChunkBytes);

// The same verification into memory, for blobs the caller must parse (a tar layer, the
// config): reads at most size_bytes (+1 to detect an over-long answer), never more, so the
// result holds at most size_bytes + chunk_bytes of memory while it is built. Errors as
// StreamBlobToFile's, annotated with `where`.
Result<std::string> ReadBlobVerified(Runtime* runtime, Registry* registry,
                                     const CancelToken& token, const Reference& reference,
                                     const Digest& digest, uint64_t size_bytes, FetchSlots* slots,
                                     const std::string& where,
                                     size_t chunk_bytes = kBlobChunkBytes);

}  // namespace ms
