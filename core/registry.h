// Registry port: the three calls the store makes on an OCI registry.
//
// Implementations: sim::FakeRegistry (in memory, loads OCI image layouts,
// counts fetches, injects faults). A real OCI distribution client would be a
// third. Every call takes the caller's CancelToken; a slow implementation
// must honour it.
#pragma once

#include <string>

#include "core/cancel_token.h"
#include "core/digest.h"
#include "core/reference.h"
#include "core/status.h"

namespace ms {

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
};

}  // namespace ms
