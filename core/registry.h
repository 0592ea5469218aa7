// Registry port: the calls the store makes on an OCI registry.
//
// Implementations: sim::FakeRegistry (in memory, loads OCI image layouts,
// counts fetches, injects faults, streams blobs in small chunks). A real OCI
// distribution client would be a third. Every call takes the caller's
// CancelToken; a slow implementation must honour it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "core/cancel_token.h"
#include "core/digest.h"
#include "core/reference.h"
#include "core/status.h"

namespace ms {

// A blob's bytes as a stream of bounded chunks, in order. Made by
// Registry::OpenBlob; must not outlive the Registry that made it. Not
// thread-safe: one reader, one caller at a time. Destroying a reader before
// its end abandons the stream (the fetch neither completed nor failed).
class BlobReader {
 public:
  BlobReader() = default;
  BlobReader(const BlobReader&) = delete;
  BlobReader& operator=(const BlobReader&) = delete;
  virtual ~BlobReader() = default;

  // The blob's next bytes, at most max_bytes (> 0; 0 is kInvalidArgument)
  // of them and at least one unless the blob has ended; empty at the end of
  // the blob (and at every call after it). An error ends the stream: every
  // later call returns an error too. Nothing is verified: the bytes are the
  // registry's answer, which the store checks against size and digest.
  virtual Result<std::string> Read(const CancelToken& token, size_t max_bytes) = 0;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;
  virtual ~Registry() = default;

  // The manifest digest a reference names now (a tag may move; a digest
  // reference resolves to itself if the manifest exists). kNotFound for an
  // unknown repository, tag or digest; kUnavailable for a transient failure.
  virtual Result<Digest> Resolve(const CancelToken& token, const Reference& reference) = 0;

  // The raw bytes of the manifest with this digest in reference's
  // repository. The store verifies the bytes against the digest.
  virtual Result<std::string> FetchManifest(const CancelToken& token, const Reference& reference,
                                            const Digest& digest) = 0;

  // The raw bytes of a blob in reference's repository. The store verifies
  // size and digest.
  virtual Result<std::string> FetchBlob(const CancelToken& token, const Reference& reference,
                                        const Digest& digest) = 0;

  // The same bytes as FetchBlob, as a stream: the caller holds at most
  // what it asks of each Read. Errors FetchBlob would return for a missing
  // blob or repository come from OpenBlob or from the first Read (an
  // implementation may defer the request). The default fetches the whole
  // blob with this->FetchBlob, then hands it out in chunks: correct for
  // every implementation, bounded in memory for none. An implementation
  // that can stream overrides it.
  virtual Result<std::unique_ptr<BlobReader>> OpenBlob(const CancelToken& token,
                                                       const Reference& reference,
                                                       const Digest& digest);
};

// A reader over bytes already in memory, handed out in order: what the
// default OpenBlob returns, and a test's building block.
std::unique_ptr<BlobReader> NewStringBlobReader(std::string bytes);

}  // namespace ms
