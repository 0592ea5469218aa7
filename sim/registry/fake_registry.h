// An in-memory OCI registry implementing the Registry port, for the
// simulator and the tests.
//
// Repositories are keyed by Reference::repository(): the host part of a
// reference is ignored, so "registry.local/models/a:v1" and "models/a:v1"
// name the same repository "models/a". Each repository holds tags ->
// manifest digests, manifests and blobs, all bytes stored exactly as given:
// nothing is verified, so a fixture can serve bytes that do not match their
// digest and the store under test has to notice.
//
// It counts every fetch per digest (the dedup metric), and injects faults on
// demand (FailNext, CorruptBlob, TruncateBlob) or from a seed
// (SetRandomFaults). OpenBlob truly streams: each Read hands out at most
// stream_chunk_bytes (32 by default, so the simulator's small blobs take
// several chunks) and is a scheduling point of its own, and a random fault
// may strike at any chunk. With an Executor every call is a scheduling point and
// may take virtual time; without one it is a plain thread-safe map, callable
// from many threads at once.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "core/registry.h"
#include "sim/scheduling/executor.h"
#include "sim/registry/model_builder.h"

namespace ms::sim {

class FakeRegistry final : public Registry {
 public:
  // kBlob: FetchBlob and OpenBlob; kBlobRead: each Read of an open stream.
  enum class Op { kResolve, kManifest, kBlob, kBlobRead };

  // What one Read of a stream hands out at most, by default.
  static constexpr size_t kDefaultStreamChunkBytes = 32;

  struct FaultCounts {
    uint64_t fail_next = 0;  // calls failed by FailNext
    uint64_t transient = 0;  // random kUnavailable failures
    uint64_t corrupt = 0;    // random fetches served with one byte flipped
    uint64_t truncate = 0;   // random fetches served short
    bool operator==(const FaultCounts&) const = default;
  };

  // executor may be nullptr (no scheduling points, no latency). It must
  // outlive the registry.
  explicit FakeRegistry(Executor* executor = nullptr);

  // --- Registry port ---------------------------------------------------
  // Each call, in order: a scheduling point (executor->Yield), the
  // configured latency on the virtual clock, the token check (kCanceled /
  // kDeadlineExceeded), then injected faults, then the lookup.
  Result<Digest> Resolve(const CancelToken& token, const Reference& reference) override;
  Result<std::string> FetchManifest(const CancelToken& token, const Reference& reference,
                                    const Digest& digest) override;
  Result<std::string> FetchBlob(const CancelToken& token, const Reference& reference,
                                const Digest& digest) override;
  // Opens a stream over the blob's bytes as stored now (a later change to
  // the registry does not reach an open stream). The open is a call like
  // FetchBlob: scheduling point, latency, token check, then FailNext(kBlob)
  // or a random draw (one per open, at FetchBlob's rates), then the lookup.
  // Each Read is a scheduling point (no latency), then the token check,
  // then FailNext(kBlobRead), and hands out at most
  // min(max_bytes, stream_chunk_bytes) bytes. A random fault drawn at open
  // strikes where it falls in the blob: a transient kUnavailable at the
  // open or at the Read that would hand out the drawn byte (the bytes
  // before it were served); a flipped byte in the chunk that carries it; a
  // truncation as an early end. It is counted (InjectedFaults, the fault
  // observer) when it strikes, in the reading actor's turn; one the reader
  // never reaches (destroyed early) is not counted. A stream that reaches
  // its end counts as one fetch (BlobFetches), damaged or not, as FetchBlob.
  // The reader must not outlive the registry.
  Result<std::unique_ptr<BlobReader>> OpenBlob(const CancelToken& token,
                                               const Reference& reference,
                                               const Digest& digest) override;

  // --- Content -----------------------------------------------------------
  // Stores bytes under their sha256; returns it.
  Digest PutBlob(const std::string& repository, std::string bytes);
  // Stores bytes under digest_text whatever they hash to. kInvalidArgument if
  // digest_text does not parse (FetchBlob could never ask for it).
  Status PutBlobAs(const std::string& repository, std::string_view digest_text, std::string bytes);
  // Stores manifest bytes (unvalidated) under their sha256; returns it.
  Digest PutManifest(const std::string& repository, std::string bytes);
  // Stores manifest bytes under digest_text whatever they hash to: a
  // registry whose manifest answer disagrees with the digest it resolved.
  // kInvalidArgument if digest_text does not parse.
  Status PutManifestAs(const std::string& repository, std::string_view digest_text,
                       std::string bytes);
  // The manifest, every blob of model whose digest text parses, and the tag.
  void Push(const std::string& repository, const std::string& tag, const BuiltModel& model);
  // Points tag at a manifest of the repository, creating or moving it.
  // kNotFound if the repository has no such manifest.
  Status Tag(const std::string& repository, const std::string& tag, const Digest& manifest);
  // Points tag at manifest whether or not the repository holds it: Resolve
  // then answers a digest FetchManifest does not serve (kNotFound).
  void TagDangling(const std::string& repository, const std::string& tag, const Digest& manifest);
  Status DeleteTag(const std::string& repository, const std::string& tag);
  // Also deletes the tags naming the manifest, as registries do.
  Status DeleteManifest(const std::string& repository, const Digest& manifest);
  Status DeleteBlob(const std::string& repository, const Digest& blob);
  // Adds an OCI image layout's manifests, blobs and tags (ReadOciLayout) to
  // repository; tags already present are moved. Errors name the file.
  Status LoadLayout(const std::string& dir, const std::string& repository);

  // --- Faults --------------------------------------------------------------
  // The next count calls of op fail with code (queued after earlier ones).
  // code must not be kOk.
  void FailNext(Op op, Code code, int count = 1);
  // Permanent damage to the stored bytes, in every repository holding the
  // blob: flips all bits of the middle byte (an empty blob gains one byte);
  // truncates to new_size_bytes, which must be smaller than the size.
  // kNotFound if no repository holds the blob.
  Status CorruptBlob(const Digest& blob);
  Status TruncateBlob(const Digest& blob, uint64_t new_size_bytes);
  // From now on each call draws once from a splitmix64 stream seeded with
  // seed: with probability transient_rate it fails with kUnavailable; a
  // manifest or blob fetch is served, this once, with one byte flipped
  // (corrupt_rate) or cut short (truncate_rate). Same seed and same call
  // sequence, same faults. kInvalidArgument unless every rate is in [0, 1]
  // and they sum to at most 1.
  Status SetRandomFaults(uint64_t seed, double transient_rate, double corrupt_rate,
                         double truncate_rate);
  void ClearRandomFaults();
  // Called (under the registry's lock, so it must not call back) each time a
  // fault is injected, in the calling actor's turn: the simulator charges
  // the fault to the call that met it. Empty: none.
  void SetFaultObserver(std::function<void()> observer);

  // Each call sleeps this long on the executor's virtual clock (ignored
  // without an executor: there is no clock to sleep on). Must be >= 0.
  void set_latency_ms(int64_t latency_ms);
  // The most one stream Read hands out (streams opened from now on). Must
  // be > 0.
  void set_stream_chunk_bytes(size_t chunk_bytes);

  // --- Counters ------------------------------------------------------------
  // Fetch counters count calls that returned bytes (damaged ones included);
  // failed calls are counted only by CallCount.
  uint64_t ResolveCount() const;
  uint64_t ManifestFetches(const Digest& manifest) const;
  uint64_t BlobFetches(const Digest& blob) const;
  std::map<std::string, uint64_t> AllManifestFetches() const;  // digest text -> count
  std::map<std::string, uint64_t> AllBlobFetches() const;
  uint64_t CallCount(Op op) const;  // every call, failed or not
  // Blob fetches in flight now: FetchBlob calls entered and not yet
  // returned (a call parked at its scheduling point or sleeping its latency
  // counts), and streams from OpenBlob's entry until the stream ended,
  // failed or its reader was destroyed; and the
  // most there ever were at once (the simulator checks the store's fetch
  // bound against it at every step). ResetCounters resets the peak.
  uint64_t BlobFetchesInFlight() const;
  uint64_t BlobFetchesInFlightPeak() const;
  FaultCounts InjectedFaults() const;
  void ResetCounters();

 private:
  struct Repository {
    std::map<std::string, Digest> tags;
    std::map<Digest, std::string> manifests;
    std::map<Digest, std::string> blobs;
  };
  // The fault one call draws under SetRandomFaults.
  enum class Draw { kNone, kTransient, kCorrupt, kTruncate };
  class Stream;  // OpenBlob's reader

  // A fault a stream carries from its open to the chunk it strikes at.
  struct StreamPlan {
    std::string bytes;          // as served (a corrupt draw already applied)
    uint64_t transient_at = 0;  // with transient: fails the Read that would serve this byte
    bool transient = false;
    uint64_t corrupt_at = 0;    // with corrupt: the flipped byte
    bool corrupt = false;
    bool truncated = false;     // bytes were cut short
  };

  // Scheduling point, latency and token check; before taking mu_, since an
  // executor may switch actors here.
  Status Enter(const CancelToken& token, Op op);
  // Under mu_: counts the call, then any FailNext or random fault. With
  // defer_transient a transient draw is returned in draw (kTransient)
  // instead of failing the call.
  Status InjectLocked(Op op, std::string_view what, Draw& draw, bool defer_transient = false);
  // Under mu_: a fault struck (counter, observer).
  void CountFaultLocked(uint64_t FaultCounts::*counter);
  // Under mu_: one blob fetch (FetchBlob or stream) is no longer in flight.
  void LeaveBlobFlightLocked();
  // One blob fetch in flight from construction (not under mu_) until
  // destruction, or until HandOff passes it on (to a stream, which leaves
  // the flight itself).
  class BlobFlight {
   public:
    explicit BlobFlight(FakeRegistry* registry);
    ~BlobFlight();
    BlobFlight(const BlobFlight&) = delete;
    BlobFlight& operator=(const BlobFlight&) = delete;
    void HandOff() { registry_ = nullptr; }

   private:
    FakeRegistry* registry_;
  };
  // Under mu_: applies a corrupt/truncate draw to bytes being served.
  void DamageLocked(Draw draw, std::string& bytes);
  Result<std::string> FetchLocked(Op op, const Reference& reference, const Digest& digest,
                                  std::map<Digest, std::string> Repository::*table);
  uint64_t NextRandomLocked();

  Executor* const executor_;
  mutable std::mutex mu_;
  int64_t latency_ms_ = 0;
  size_t stream_chunk_bytes_ = kDefaultStreamChunkBytes;
  std::map<std::string, Repository> repositories_;
  std::map<Op, std::deque<std::pair<Code, int>>> fail_next_;
  bool random_faults_ = false;
  uint64_t rng_state_ = 0;
  double transient_rate_ = 0, corrupt_rate_ = 0, truncate_rate_ = 0;
  // Counters.
  uint64_t resolves_ = 0;
  std::map<Digest, uint64_t> manifest_fetches_;
  std::map<Digest, uint64_t> blob_fetches_;
  std::map<Op, uint64_t> calls_;
  uint64_t blobs_in_flight_ = 0;
  uint64_t blobs_in_flight_peak_ = 0;
  FaultCounts faults_;
  std::function<void()> fault_observer_;
};

}  // namespace ms::sim
