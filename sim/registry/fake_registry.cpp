#include "sim/registry/fake_registry.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "sim/registry/oci_layout.h"

namespace ms::sim {
namespace {

// Bounds FailNext so a typo cannot queue a near-infinite fault run.
constexpr int kFailNextMaxCount = 1'000'000;

std::string_view OpName(FakeRegistry::Op op) {
  switch (op) {
    case FakeRegistry::Op::kResolve: return "registry.resolve";
    case FakeRegistry::Op::kManifest: return "registry.manifest";
    case FakeRegistry::Op::kBlob: return "registry.blob";
    case FakeRegistry::Op::kBlobRead: return "registry.blob.read";
  }
  return "registry.?";
}

[[noreturn]] void Die(std::string_view why) {
  std::fprintf(stderr, "FakeRegistry: %.*s\n", static_cast<int>(why.size()), why.data());
  std::abort();
}

// splitmix64 (Steele, Lea, Flood 2014): tiny, seedable with any value, and
// the same on every platform, unlike std::*_distribution.
uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A double in [0, 1) from the top 53 bits.
double UnitInterval(uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

// Flips every bit of the byte at index (an empty string gains a byte, so
// the result still differs from the original).
void FlipByte(std::string& bytes, size_t index) {
  if (bytes.empty()) {
    bytes.push_back('\xff');
    return;
  }
  bytes[index] = static_cast<char>(~static_cast<unsigned char>(bytes[index]));
}

Status NotFound(std::string what) { return Status(Code::kNotFound, std::move(what)); }

std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::map<std::string, uint64_t> ByDigestText(const std::map<Digest, uint64_t>& counts) {
  std::map<std::string, uint64_t> out;
  for (const auto& [digest, count] : counts) out.emplace(digest.ToString(), count);
  return out;
}

}  // namespace

FakeRegistry::FakeRegistry(Executor* executor) : executor_(executor) {}

Status FakeRegistry::Enter(const CancelToken& token, Op op) {
  const std::string_view name = OpName(op);
  if (executor_ == nullptr) {
    // No clock to compare a deadline with; cancellation still counts.
    if (token.canceled()) return Status(Code::kCanceled, std::string(name) + ": operation canceled");
    return Status::Ok();
  }
  executor_->Yield(name);
  int64_t latency_ms = 0;
  {
    std::lock_guard lock(mu_);
    latency_ms = latency_ms_;
  }
  // Checked before the sleep (an expired token should not wait) and after
  // it (the deadline may pass while waiting).
  if (Status status = token.Check(executor_->NowMs()); !status.ok()) return status.Annotate(name);
  if (latency_ms > 0) executor_->SleepUntil(executor_->NowMs() + latency_ms);
  if (Status status = token.Check(executor_->NowMs()); !status.ok()) return status.Annotate(name);
  return Status::Ok();
}

uint64_t FakeRegistry::NextRandomLocked() { return SplitMix64(rng_state_); }

Status FakeRegistry::InjectLocked(Op op, std::string_view what, Draw& draw, bool defer_transient) {
  ++calls_[op];
  draw = Draw::kNone;
  auto& queue = fail_next_[op];
  if (!queue.empty()) {
    const Code code = queue.front().first;
    if (--queue.front().second == 0) queue.pop_front();
    ++faults_.fail_next;
    if (fault_observer_) fault_observer_();
    return Status(code, "injected fault (FailNext) at " + std::string(OpName(op)) + " " +
                            std::string(what));
  }
  if (!random_faults_) return Status::Ok();
  const double u = UnitInterval(NextRandomLocked());
  if (u < transient_rate_) {
    if (defer_transient) {
      draw = Draw::kTransient;
      return Status::Ok();
    }
    ++faults_.transient;
    if (fault_observer_) fault_observer_();
    return Status(Code::kUnavailable, "injected transient fault at " + std::string(OpName(op)) +
                                          " " + std::string(what));
  }
  if (u < transient_rate_ + corrupt_rate_) {
    draw = Draw::kCorrupt;
  } else if (u < transient_rate_ + corrupt_rate_ + truncate_rate_) {
    draw = Draw::kTruncate;
  }
  return Status::Ok();
}

void FakeRegistry::DamageLocked(Draw draw, std::string& bytes) {
  if (draw == Draw::kCorrupt) {
    const uint64_t r = NextRandomLocked();
    FlipByte(bytes, bytes.empty() ? 0 : static_cast<size_t>(r % bytes.size()));
    ++faults_.corrupt;
    if (fault_observer_) fault_observer_();
  } else if (draw == Draw::kTruncate && !bytes.empty()) {
    bytes.resize(static_cast<size_t>(NextRandomLocked() % bytes.size()));
    ++faults_.truncate;
    if (fault_observer_) fault_observer_();
  }
}

Result<Digest> FakeRegistry::Resolve(const CancelToken& token, const Reference& reference) {
  MS_RETURN_IF_ERROR(Enter(token, Op::kResolve));
  std::lock_guard lock(mu_);
  const std::string ref_text = reference.ToString();
  Draw draw;
  MS_RETURN_IF_ERROR(InjectLocked(Op::kResolve, ref_text, draw));
  const auto repo = repositories_.find(reference.repository());
  if (repo == repositories_.end()) {
    return NotFound("resolve " + Quoted(ref_text) + ": no repository " +
                    Quoted(reference.repository()));
  }
  // A digest wins over a tag ("repo:tag@sha256:..."), as in OCI clients.
  if (reference.digest()) {
    if (!repo->second.manifests.contains(*reference.digest())) {
      return NotFound("resolve " + Quoted(ref_text) + ": no such manifest");
    }
    ++resolves_;
    return *reference.digest();
  }
  const auto tag = repo->second.tags.find(reference.tag());
  if (tag == repo->second.tags.end()) {
    return NotFound("resolve " + Quoted(ref_text) + ": no tag " + Quoted(reference.tag()));
  }
  ++resolves_;
  return tag->second;
}

Result<std::string> FakeRegistry::FetchLocked(Op op, const Reference& reference,
                                              const Digest& digest,
                                              std::map<Digest, std::string> Repository::*table) {
  const std::string what = digest.ToString() + " of " + Quoted(reference.ToString());
  Draw draw;
  MS_RETURN_IF_ERROR(InjectLocked(op, what, draw));
  const auto repo = repositories_.find(reference.repository());
  if (repo == repositories_.end()) {
    return NotFound(std::string(OpName(op)) + " " + what + ": no repository " +
                    Quoted(reference.repository()));
  }
  const auto& stored = repo->second.*table;
  const auto it = stored.find(digest);
  if (it == stored.end()) return NotFound(std::string(OpName(op)) + " " + what + ": not found");
  std::string bytes = it->second;
  DamageLocked(draw, bytes);
  ++(op == Op::kBlob ? blob_fetches_ : manifest_fetches_)[digest];
  return bytes;
}

Result<std::string> FakeRegistry::FetchManifest(const CancelToken& token,
                                                const Reference& reference, const Digest& digest) {
  MS_RETURN_IF_ERROR(Enter(token, Op::kManifest));
  std::lock_guard lock(mu_);
  return FetchLocked(Op::kManifest, reference, digest, &Repository::manifests);
}

Result<std::string> FakeRegistry::FetchBlob(const CancelToken& token, const Reference& reference,
                                            const Digest& digest) {
  // In flight from here until it returns, on every path.
  const BlobFlight flight(this);
  MS_RETURN_IF_ERROR(Enter(token, Op::kBlob));
  std::lock_guard lock(mu_);
  return FetchLocked(Op::kBlob, reference, digest, &Repository::blobs);
}

void FakeRegistry::CountFaultLocked(uint64_t FaultCounts::*counter) {
  ++(faults_.*counter);
  if (fault_observer_) fault_observer_();
}

void FakeRegistry::LeaveBlobFlightLocked() {
  if (blobs_in_flight_ == 0) Die("blob fetches in flight below zero");
  --blobs_in_flight_;
}

FakeRegistry::BlobFlight::BlobFlight(FakeRegistry* registry) : registry_(registry) {
  std::lock_guard lock(registry_->mu_);
  registry_->blobs_in_flight_peak_ = std::max(registry_->blobs_in_flight_peak_, ++registry_->blobs_in_flight_);
}

FakeRegistry::BlobFlight::~BlobFlight() {
  if (registry_ == nullptr) return;
  std::lock_guard lock(registry_->mu_);
  registry_->LeaveBlobFlightLocked();
}

// A stream over a snapshot of the blob. Its state is its own (one caller at
// a time, as the port says); counters, faults and the in-flight count are
// the registry's, under its lock.
class FakeRegistry::Stream final : public BlobReader {
 public:
  Stream(FakeRegistry* registry, Digest digest, std::string what, StreamPlan plan,
         size_t chunk_bytes)
      : registry_(registry),
        digest_(std::move(digest)),
        what_(std::move(what)),
        plan_(std::move(plan)),
        chunk_bytes_(chunk_bytes) {}

  ~Stream() override {
    std::lock_guard lock(registry_->mu_);
    EndLocked();
  }

  Result<std::string> Read(const CancelToken& token, size_t max_bytes) override {
    if (!failure_.ok()) return failure_;
    if (ended_) return std::string();
    if (max_bytes == 0) return Fail(Status(Code::kInvalidArgument, "blob read of 0 bytes"));
    const std::string_view name = OpName(Op::kBlobRead);
    // A scheduling point and the token check, as Enter without the latency
    // (paid once, at the open).
    if (Executor* executor = registry_->executor_; executor != nullptr) {
      executor->Yield(name);
      if (Status status = token.Check(executor->NowMs()); !status.ok()) {
        return Fail(status.Annotate(name));
      }
    } else if (token.canceled()) {
      return Fail(Status(Code::kCanceled, std::string(name) + ": operation canceled"));
    }
    std::lock_guard lock(registry_->mu_);
    ++registry_->calls_[Op::kBlobRead];
    auto& queue = registry_->fail_next_[Op::kBlobRead];
    if (!queue.empty()) {
      const Code code = queue.front().first;
      if (--queue.front().second == 0) queue.pop_front();
      registry_->CountFaultLocked(&FaultCounts::fail_next);
      return FailLocked(Status(code, "injected fault (FailNext) at " + std::string(name) + " " +
                                         what_ + " after " + std::to_string(position_) + " bytes"));
    }
    const size_t n = std::min({max_bytes, chunk_bytes_, plan_.bytes.size() - position_});
    if (plan_.transient && position_ + n > plan_.transient_at) {
      registry_->CountFaultLocked(&FaultCounts::transient);
      return FailLocked(Status(Code::kUnavailable, "injected transient fault at " +
                                                       std::string(name) + " " + what_ + " after " +
                                                       std::to_string(position_) + " bytes"));
    }
    if (n == 0) {
      if (plan_.truncated) registry_->CountFaultLocked(&FaultCounts::truncate);
      ++registry_->blob_fetches_[digest_];
      ended_ = true;
      EndLocked();
      return std::string();
    }
    if (plan_.corrupt && plan_.corrupt_at >= position_ && plan_.corrupt_at < position_ + n) {
      registry_->CountFaultLocked(&FaultCounts::corrupt);
    }
    std::string chunk = plan_.bytes.substr(position_, n);
    position_ += n;
    return chunk;
  }

 private:
  Status Fail(Status status) {
    std::lock_guard lock(registry_->mu_);
    return FailLocked(std::move(status));
  }
  Status FailLocked(Status status) {
    failure_ = std::move(status);
    EndLocked();
    return failure_;
  }
  // Under the registry's lock: no longer in flight (once), bytes freed.
  void EndLocked() {
    if (!in_flight_) return;
    in_flight_ = false;
    registry_->LeaveBlobFlightLocked();
    std::string().swap(plan_.bytes);
    position_ = 0;
  }

  FakeRegistry* const registry_;
  const Digest digest_;
  const std::string what_;
  StreamPlan plan_;
  const size_t chunk_bytes_;
  size_t position_ = 0;
  bool in_flight_ = true;
  bool ended_ = false;
  Status failure_;
};

Result<std::unique_ptr<BlobReader>> FakeRegistry::OpenBlob(const CancelToken& token,
                                                           const Reference& reference,
                                                           const Digest& digest) {
  // In flight from here: until this fails, or else handed to the stream.
  BlobFlight flight(this);
  MS_RETURN_IF_ERROR(Enter(token, Op::kBlob));
  std::lock_guard lock(mu_);
  std::string what = digest.ToString() + " of " + Quoted(reference.ToString());
  Draw draw;
  MS_RETURN_IF_ERROR(InjectLocked(Op::kBlob, what, draw, /*defer_transient=*/true));
  const auto repo = repositories_.find(reference.repository());
  if (repo == repositories_.end()) {
    return NotFound(std::string(OpName(Op::kBlob)) + " " + what + ": no repository " +
                    Quoted(reference.repository()));
  }
  const auto it = repo->second.blobs.find(digest);
  if (it == repo->second.blobs.end()) {
    return NotFound(std::string(OpName(Op::kBlob)) + " " + what + ": not found");
  }
  StreamPlan plan;
  plan.bytes = it->second;
  const uint64_t size = plan.bytes.size();
  switch (draw) {
    case Draw::kNone: break;
    case Draw::kTransient: {
      // Where it strikes: 0 at the open, else before byte k - 1.
      const uint64_t k = NextRandomLocked() % (size + 1);
      if (k == 0) {
        CountFaultLocked(&FaultCounts::transient);
        return Status(Code::kUnavailable,
                      "injected transient fault at " + std::string(OpName(Op::kBlob)) + " " + what);
      }
      plan.transient = true;
      plan.transient_at = k - 1;
      break;
    }
    case Draw::kCorrupt: {
      const uint64_t r = NextRandomLocked();
      plan.corrupt = true;
      plan.corrupt_at = size == 0 ? 0 : r % size;
      FlipByte(plan.bytes, static_cast<size_t>(plan.corrupt_at));
      break;
    }
    case Draw::kTruncate:
      if (size > 0) {
        plan.bytes.resize(static_cast<size_t>(NextRandomLocked() % size));
        plan.truncated = true;
      }
      break;
  }
  flight.HandOff();  // the stream leaves the flight now
  return std::unique_ptr<BlobReader>(
      std::make_unique<Stream>(this, digest, std::move(what), std::move(plan), stream_chunk_bytes_));
}

uint64_t FakeRegistry::BlobFetchesInFlight() const {
  std::lock_guard lock(mu_);
  return blobs_in_flight_;
}

uint64_t FakeRegistry::BlobFetchesInFlightPeak() const {
  std::lock_guard lock(mu_);
  return blobs_in_flight_peak_;
}

Digest FakeRegistry::PutBlob(const std::string& repository, std::string bytes) {
  Digest digest = Digest::Sha256Of(bytes);
  std::lock_guard lock(mu_);
  repositories_[repository].blobs.insert_or_assign(digest, std::move(bytes));
  return digest;
}

Status FakeRegistry::PutBlobAs(const std::string& repository, std::string_view digest_text,
                               std::string bytes) {
  MS_ASSIGN_OR_RETURN(Digest digest, Digest::Parse(digest_text));
  std::lock_guard lock(mu_);
  repositories_[repository].blobs.insert_or_assign(std::move(digest), std::move(bytes));
  return Status::Ok();
}

Digest FakeRegistry::PutManifest(const std::string& repository, std::string bytes) {
  Digest digest = Digest::Sha256Of(bytes);
  std::lock_guard lock(mu_);
  repositories_[repository].manifests.insert_or_assign(digest, std::move(bytes));
  return digest;
}

Status FakeRegistry::PutManifestAs(const std::string& repository, std::string_view digest_text,
                                   std::string bytes) {
  MS_ASSIGN_OR_RETURN(Digest digest, Digest::Parse(digest_text));
  std::lock_guard lock(mu_);
  repositories_[repository].manifests.insert_or_assign(std::move(digest), std::move(bytes));
  return Status::Ok();
}

void FakeRegistry::Push(const std::string& repository, const std::string& tag,
                        const BuiltModel& model) {
  std::lock_guard lock(mu_);
  Repository& repo = repositories_[repository];
  for (const auto& [digest_text, bytes] : model.blobs) {
    // A malformed descriptor digest names no fetchable blob; skip it.
    Result<Digest> digest = Digest::Parse(digest_text);
    if (digest.ok()) repo.blobs.insert_or_assign(std::move(digest).value(), bytes);
  }
  repo.manifests.insert_or_assign(model.manifest_digest, model.manifest_bytes);
  repo.tags.insert_or_assign(tag, model.manifest_digest);
}

Status FakeRegistry::Tag(const std::string& repository, const std::string& tag,
                         const Digest& manifest) {
  std::lock_guard lock(mu_);
  const auto repo = repositories_.find(repository);
  if (repo == repositories_.end() || !repo->second.manifests.contains(manifest)) {
    return NotFound("tag " + Quoted(tag) + ": no manifest " + manifest.ToString() +
                    " in repository " + Quoted(repository));
  }
  repo->second.tags.insert_or_assign(tag, manifest);
  return Status::Ok();
}

void FakeRegistry::TagDangling(const std::string& repository, const std::string& tag,
                               const Digest& manifest) {
  std::lock_guard lock(mu_);
  repositories_[repository].tags.insert_or_assign(tag, manifest);
}

Status FakeRegistry::DeleteTag(const std::string& repository, const std::string& tag) {
  std::lock_guard lock(mu_);
  const auto repo = repositories_.find(repository);
  if (repo == repositories_.end() || repo->second.tags.erase(tag) == 0) {
    return NotFound("delete tag " + Quoted(tag) + ": not in repository " + Quoted(repository));
  }
  return Status::Ok();
}

Status FakeRegistry::DeleteManifest(const std::string& repository, const Digest& manifest) {
  std::lock_guard lock(mu_);
  const auto repo = repositories_.find(repository);
  if (repo == repositories_.end() || repo->second.manifests.erase(manifest) == 0) {
    return NotFound("delete manifest " + manifest.ToString() + ": not in repository " +
                    Quoted(repository));
  }
  std::erase_if(repo->second.tags, [&](const auto& tag) { return tag.second == manifest; });
  return Status::Ok();
}

Status FakeRegistry::DeleteBlob(const std::string& repository, const Digest& blob) {
  std::lock_guard lock(mu_);
  const auto repo = repositories_.find(repository);
  if (repo == repositories_.end() || repo->second.blobs.erase(blob) == 0) {
    return NotFound("delete blob " + blob.ToString() + ": not in repository " +
                    Quoted(repository));
  }
  return Status::Ok();
}

Status FakeRegistry::LoadLayout(const std::string& dir, const std::string& repository) {
  // Disk reads happen outside the lock; only the merge holds it.
  Result<OciLayout> layout = ReadOciLayout(dir);
  if (!layout.ok()) return layout.status().Annotate("load layout into " + Quoted(repository));
  std::lock_guard lock(mu_);
  Repository& repo = repositories_[repository];
  for (auto& [digest, bytes] : layout->manifests) repo.manifests.insert_or_assign(digest, bytes);
  for (auto& [digest, bytes] : layout->blobs) repo.blobs.insert_or_assign(digest, bytes);
  for (auto& [tag, digest] : layout->tags) repo.tags.insert_or_assign(tag, digest);
  return Status::Ok();
}

void FakeRegistry::SetFaultObserver(std::function<void()> observer) {
  std::lock_guard<std::mutex> lock(mu_);
  fault_observer_ = std::move(observer);
}

void FakeRegistry::FailNext(Op op, Code code, int count) {
  if (code == Code::kOk) Die("FailNext with Code::kOk");
  if (count < 0 || count > kFailNextMaxCount) Die("FailNext count out of [0, 1000000]");
  if (count == 0) return;
  std::lock_guard lock(mu_);
  fail_next_[op].emplace_back(code, count);
}

Status FakeRegistry::CorruptBlob(const Digest& blob) {
  std::lock_guard lock(mu_);
  bool found = false;
  for (auto& [name, repo] : repositories_) {
    const auto it = repo.blobs.find(blob);
    if (it == repo.blobs.end()) continue;
    FlipByte(it->second, it->second.size() / 2);
    found = true;
  }
  if (!found) return NotFound("corrupt blob " + blob.ToString() + ": in no repository");
  return Status::Ok();
}

Status FakeRegistry::TruncateBlob(const Digest& blob, uint64_t new_size_bytes) {
  std::lock_guard lock(mu_);
  // Check every copy before cutting any, so an error leaves nothing changed.
  std::vector<std::string*> copies;
  for (auto& [name, repo] : repositories_) {
    const auto it = repo.blobs.find(blob);
    if (it == repo.blobs.end()) continue;
    if (new_size_bytes >= it->second.size()) {
      return Status(Code::kInvalidArgument,
                    "truncate blob " + blob.ToString() + " to " + std::to_string(new_size_bytes) +
                        " bytes: not smaller than its " + std::to_string(it->second.size()));
    }
    copies.push_back(&it->second);
  }
  if (copies.empty()) return NotFound("truncate blob " + blob.ToString() + ": in no repository");
  for (std::string* bytes : copies) bytes->resize(static_cast<size_t>(new_size_bytes));
  return Status::Ok();
}

Status FakeRegistry::SetRandomFaults(uint64_t seed, double transient_rate, double corrupt_rate,
                                     double truncate_rate) {
  auto is_rate = [](double r) { return r >= 0.0 && r <= 1.0; };  // false for NaN too
  if (!is_rate(transient_rate) || !is_rate(corrupt_rate) || !is_rate(truncate_rate) ||
      transient_rate + corrupt_rate + truncate_rate > 1.0) {
    return Status(Code::kInvalidArgument,
                  "random fault rates transient=" + std::to_string(transient_rate) +
                      " corrupt=" + std::to_string(corrupt_rate) + " truncate=" +
                      std::to_string(truncate_rate) + ": each must be in [0, 1], sum <= 1");
  }
  std::lock_guard lock(mu_);
  random_faults_ = true;
  rng_state_ = seed;
  transient_rate_ = transient_rate;
  corrupt_rate_ = corrupt_rate;
  truncate_rate_ = truncate_rate;
  return Status::Ok();
}

void FakeRegistry::ClearRandomFaults() {
  std::lock_guard lock(mu_);
  random_faults_ = false;
}

void FakeRegistry::set_stream_chunk_bytes(size_t chunk_bytes) {
  if (chunk_bytes == 0) Die("stream_chunk_bytes 0");
  std::lock_guard lock(mu_);
  stream_chunk_bytes_ = chunk_bytes;
}

void FakeRegistry::set_latency_ms(int64_t latency_ms) {
  if (latency_ms < 0) Die("negative latency_ms");
  std::lock_guard lock(mu_);
  latency_ms_ = latency_ms;
}

uint64_t FakeRegistry::ResolveCount() const {
  std::lock_guard lock(mu_);
  return resolves_;
}

uint64_t FakeRegistry::ManifestFetches(const Digest& manifest) const {
  std::lock_guard lock(mu_);
  const auto it = manifest_fetches_.find(manifest);
  return it == manifest_fetches_.end() ? 0 : it->second;
}

uint64_t FakeRegistry::BlobFetches(const Digest& blob) const {
  std::lock_guard lock(mu_);
  const auto it = blob_fetches_.find(blob);
  return it == blob_fetches_.end() ? 0 : it->second;
}

std::map<std::string, uint64_t> FakeRegistry::AllManifestFetches() const {
  std::lock_guard lock(mu_);
  return ByDigestText(manifest_fetches_);
}

std::map<std::string, uint64_t> FakeRegistry::AllBlobFetches() const {
  std::lock_guard lock(mu_);
  return ByDigestText(blob_fetches_);
}

uint64_t FakeRegistry::CallCount(Op op) const {
  std::lock_guard lock(mu_);
  const auto it = calls_.find(op);
  return it == calls_.end() ? 0 : it->second;
}

FakeRegistry::FaultCounts FakeRegistry::InjectedFaults() const {
  std::lock_guard lock(mu_);
  return faults_;
}

void FakeRegistry::ResetCounters() {
  std::lock_guard lock(mu_);
  resolves_ = 0;
  manifest_fetches_.clear();
  blob_fetches_.clear();
  calls_.clear();
  faults_ = {};
  blobs_in_flight_peak_ = blobs_in_flight_;
}

}  // namespace ms::sim
