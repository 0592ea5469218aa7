// FakeRegistry: resolution, fetches, counters, tag moves and deletes, fault
// injection (on demand and seeded), virtual-time latency and tokens, thread
// safety without an executor, and streams (OpenBlob): chunks, each Read a
// scheduling point, the in-flight count, faults that strike mid-stream.
#include "sim/registry/fake_registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sim/scheduling/executor.h"
#include "sim/registry/model_builder.h"

namespace ms::sim {
namespace {

constexpr char kRepo[] = "models/tiny";

Reference Ref(const std::string& text) {
  Result<Reference> ref = Reference::Parse(text);
  EXPECT_TRUE(ref.ok()) << ref.status().ToString();
  return std::move(ref).value();
}

BuiltModel Model(const std::string& weights) {
  return ModelBuilder("tiny")
      .AddRawFile("weights/model.safetensors", weights)
      .AddRawFile("README.md", "readme", std::string(media_type::kDocRaw))
      .Build();
}

Digest WeightsDigest(const BuiltModel& model) {
  return Digest::Parse(model.layers[0].digest).value();
}

class FakeRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override { registry_.Push(kRepo, "v1", model_); }

  Result<std::string> FetchWeights() {
    return registry_.FetchBlob(token_, Ref("models/tiny:v1"), WeightsDigest(model_));
  }

  const BuiltModel model_ = Model("weights-v1");
  CancelToken token_;
  FakeRegistry registry_;
};

// --- Resolve ----------------------------------------------------------------

TEST_F(FakeRegistryTest, ResolveTagGivesTheManifestDigest) {
  const Result<Digest> digest = registry_.Resolve(token_, Ref("models/tiny:v1"));
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(*digest, model_.manifest_digest);
}

TEST_F(FakeRegistryTest, ResolveIgnoresTheHost) {
  const Result<Digest> digest = registry_.Resolve(token_, Ref("registry.local:5000/models/tiny:v1"));
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(*digest, model_.manifest_digest);
}

TEST_F(FakeRegistryTest, ResolveDigestReferenceGivesItselfWhenTheManifestExists) {
  const std::string text = "models/tiny@" + model_.manifest_digest.ToString();
  const Result<Digest> digest = registry_.Resolve(token_, Ref(text));
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(*digest, model_.manifest_digest);
}

TEST_F(FakeRegistryTest, ResolveUnknownDigestIsNotFoundNamingTheReference) {
  const std::string text = "models/tiny@" + Digest::Sha256Of("nothing").ToString();
  const Result<Digest> digest = registry_.Resolve(token_, Ref(text));
  EXPECT_EQ(digest.code(), Code::kNotFound);
  EXPECT_NE(digest.status().message().find(text), std::string::npos) << digest.status().ToString();
}

TEST_F(FakeRegistryTest, ResolveUnknownTagIsNotFoundNamingTheReference) {
  const Result<Digest> digest = registry_.Resolve(token_, Ref("models/tiny:v9"));
  EXPECT_EQ(digest.code(), Code::kNotFound);
  EXPECT_NE(digest.status().message().find("models/tiny:v9"), std::string::npos);
}

TEST_F(FakeRegistryTest, ResolveUnknownRepositoryIsNotFound) {
  EXPECT_EQ(registry_.Resolve(token_, Ref("models/other:v1")).code(), Code::kNotFound);
}

// --- Fetch ------------------------------------------------------------------

TEST_F(FakeRegistryTest, FetchManifestAndBlobReturnTheStoredBytes) {
  const Result<std::string> manifest =
      registry_.FetchManifest(token_, Ref("models/tiny:v1"), model_.manifest_digest);
  ASSERT_TRUE(manifest.ok());
  EXPECT_EQ(*manifest, model_.manifest_bytes);
  const Result<std::string> blob = FetchWeights();
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(*blob, "weights-v1");
}

TEST_F(FakeRegistryTest, ManifestsAndBlobsAreSeparateNamespaces) {
  const Result<std::string> as_blob =
      registry_.FetchBlob(token_, Ref("models/tiny:v1"), model_.manifest_digest);
  EXPECT_EQ(as_blob.code(), Code::kNotFound);
}

TEST_F(FakeRegistryTest, FetchBlobFromAnotherRepositoryIsNotFound) {
  const Result<std::string> blob =
      registry_.FetchBlob(token_, Ref("models/other:v1"), WeightsDigest(model_));
  EXPECT_EQ(blob.code(), Code::kNotFound);
  EXPECT_NE(blob.status().message().find(WeightsDigest(model_).ToString()), std::string::npos);
}

TEST_F(FakeRegistryTest, PushSkipsBlobsUnderUnparseableDigests) {
  const BuiltModel bad =
      ModelBuilder("bad").AddRawFile("w", "x").OverrideDigest("sha256:XYZ").Build();
  registry_.Push("models/bad", "v1", bad);
  EXPECT_TRUE(registry_.Resolve(token_, Ref("models/bad:v1")).ok());
  EXPECT_TRUE(registry_.FetchBlob(token_, Ref("models/bad:v1"), bad.config_digest).ok());
}

TEST_F(FakeRegistryTest, PutBlobAsServesBytesThatDoNotMatchTheDigest) {
  const Digest claimed = Digest::Sha256Of("the real content");
  ASSERT_TRUE(registry_.PutBlobAs(kRepo, claimed.ToString(), "something else").ok());
  const Result<std::string> blob = registry_.FetchBlob(token_, Ref("models/tiny:v1"), claimed);
  ASSERT_TRUE(blob.ok());
  EXPECT_EQ(*blob, "something else");
}

TEST_F(FakeRegistryTest, PutBlobAsRejectsAnUnparseableDigest) {
  const Status status = registry_.PutBlobAs(kRepo, "sha256:XYZ", "x");
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
}

// --- Counters ---------------------------------------------------------------

TEST_F(FakeRegistryTest, FetchCountersCountPerDigestAndKind) {
  ASSERT_TRUE(FetchWeights().ok());
  ASSERT_TRUE(FetchWeights().ok());
  ASSERT_TRUE(registry_.FetchBlob(token_, Ref("models/tiny:v1"), model_.config_digest).ok());
  ASSERT_TRUE(registry_.FetchManifest(token_, Ref("models/tiny:v1"), model_.manifest_digest).ok());
  ASSERT_TRUE(registry_.Resolve(token_, Ref("models/tiny:v1")).ok());

  EXPECT_EQ(registry_.BlobFetches(WeightsDigest(model_)), 2u);
  EXPECT_EQ(registry_.BlobFetches(model_.manifest_digest), 0u);
  EXPECT_EQ(registry_.ManifestFetches(model_.manifest_digest), 1u);
  EXPECT_EQ(registry_.ResolveCount(), 1u);
  const std::map<std::string, uint64_t> expected = {{model_.layers[0].digest, 2},
                                                    {model_.config_digest.ToString(), 1}};
  EXPECT_EQ(registry_.AllBlobFetches(), expected);
  EXPECT_EQ(registry_.AllManifestFetches().size(), 1u);
}

TEST_F(FakeRegistryTest, FailedCallsCountOnlyAsCalls) {
  registry_.FailNext(FakeRegistry::Op::kBlob, Code::kUnavailable);
  EXPECT_FALSE(FetchWeights().ok());
  EXPECT_EQ(registry_.BlobFetches(WeightsDigest(model_)), 0u);
  EXPECT_EQ(registry_.CallCount(FakeRegistry::Op::kBlob), 1u);
}

TEST_F(FakeRegistryTest, ResetCountersZeroesEverything) {
  ASSERT_TRUE(FetchWeights().ok());
  registry_.ResetCounters();
  EXPECT_EQ(registry_.BlobFetches(WeightsDigest(model_)), 0u);
  EXPECT_TRUE(registry_.AllBlobFetches().empty());
  EXPECT_EQ(registry_.CallCount(FakeRegistry::Op::kBlob), 0u);
}

// --- Tags and deletes -------------------------------------------------------

TEST_F(FakeRegistryTest, TagMovesToAnotherManifest) {
  const BuiltModel v2 = Model("weights-v2");
  registry_.Push(kRepo, "v2", v2);
  ASSERT_TRUE(registry_.Tag(kRepo, "v1", v2.manifest_digest).ok());
  const Result<Digest> digest = registry_.Resolve(token_, Ref("models/tiny:v1"));
  ASSERT_TRUE(digest.ok());
  EXPECT_EQ(*digest, v2.manifest_digest);
}

TEST_F(FakeRegistryTest, TagToAnUnknownManifestIsNotFound) {
  EXPECT_EQ(registry_.Tag(kRepo, "v1", Digest::Sha256Of("none")).code(), Code::kNotFound);
  EXPECT_EQ(*registry_.Resolve(token_, Ref("models/tiny:v1")), model_.manifest_digest);
}

TEST_F(FakeRegistryTest, DeleteTagMakesTheTagUnresolvable) {
  ASSERT_TRUE(registry_.DeleteTag(kRepo, "v1").ok());
  EXPECT_EQ(registry_.Resolve(token_, Ref("models/tiny:v1")).code(), Code::kNotFound);
  EXPECT_EQ(registry_.DeleteTag(kRepo, "v1").code(), Code::kNotFound);
}

TEST_F(FakeRegistryTest, DeleteManifestAlsoDropsItsTags) {
  ASSERT_TRUE(registry_.DeleteManifest(kRepo, model_.manifest_digest).ok());
  EXPECT_EQ(registry_.Resolve(token_, Ref("models/tiny:v1")).code(), Code::kNotFound);
  EXPECT_EQ(registry_.FetchManifest(token_, Ref("models/tiny:v1"), model_.manifest_digest).code(),
            Code::kNotFound);
}

TEST_F(FakeRegistryTest, DeleteBlobMakesItUnfetchable) {
  ASSERT_TRUE(registry_.DeleteBlob(kRepo, WeightsDigest(model_)).ok());
  EXPECT_EQ(FetchWeights().code(), Code::kNotFound);
  EXPECT_EQ(registry_.DeleteBlob(kRepo, WeightsDigest(model_)).code(), Code::kNotFound);
}

// --- Faults on demand -------------------------------------------------------

TEST_F(FakeRegistryTest, FailNextFailsExactlyCountCallsOfThatOp) {
  registry_.FailNext(FakeRegistry::Op::kBlob, Code::kUnavailable, 2);
  EXPECT_EQ(FetchWeights().code(), Code::kUnavailable);
  EXPECT_TRUE(registry_.Resolve(token_, Ref("models/tiny:v1")).ok());  // other op untouched
  EXPECT_EQ(FetchWeights().code(), Code::kUnavailable);
  EXPECT_TRUE(FetchWeights().ok());
  EXPECT_EQ(registry_.InjectedFaults().fail_next, 2u);
}

TEST_F(FakeRegistryTest, FailNextQueuesCodesInOrder) {
  registry_.FailNext(FakeRegistry::Op::kResolve, Code::kUnavailable);
  registry_.FailNext(FakeRegistry::Op::kResolve, Code::kPermission);
  EXPECT_EQ(registry_.Resolve(token_, Ref("models/tiny:v1")).code(), Code::kUnavailable);
  EXPECT_EQ(registry_.Resolve(token_, Ref("models/tiny:v1")).code(), Code::kPermission);
  EXPECT_TRUE(registry_.Resolve(token_, Ref("models/tiny:v1")).ok());
}

TEST_F(FakeRegistryTest, CorruptBlobFlipsExactlyOneByteForGood) {
  ASSERT_TRUE(registry_.CorruptBlob(WeightsDigest(model_)).ok());
  for (int i = 0; i < 2; ++i) {
    const Result<std::string> blob = FetchWeights();
    ASSERT_TRUE(blob.ok());
    ASSERT_EQ(blob->size(), std::string("weights-v1").size());
    int differing = 0;
    for (size_t j = 0; j < blob->size(); ++j) differing += (*blob)[j] != "weights-v1"[j];
    EXPECT_EQ(differing, 1);
  }
}

TEST_F(FakeRegistryTest, CorruptUnknownBlobIsNotFound) {
  EXPECT_EQ(registry_.CorruptBlob(Digest::Sha256Of("none")).code(), Code::kNotFound);
}

TEST_F(FakeRegistryTest, TruncateBlobServesAPrefix) {
  ASSERT_TRUE(registry_.TruncateBlob(WeightsDigest(model_), 3).ok());
  EXPECT_EQ(*FetchWeights(), "wei");
}

TEST_F(FakeRegistryTest, TruncateToANotSmallerSizeIsInvalidAndChangesNothing) {
  EXPECT_EQ(registry_.TruncateBlob(WeightsDigest(model_), 10).code(), Code::kInvalidArgument);
  EXPECT_EQ(*FetchWeights(), "weights-v1");
}

// --- Seeded random faults ---------------------------------------------------

// The outcome of n blob fetches under a seed, one character each:
// '.' intact, 'U' unavailable, 'C' corrupted (same size), 'T' truncated.
std::string FaultTrace(uint64_t seed, int n) {
  FakeRegistry registry;
  const BuiltModel model = Model("weights-v1");
  registry.Push(kRepo, "v1", model);
  EXPECT_TRUE(registry.SetRandomFaults(seed, 0.2, 0.2, 0.2).ok());
  CancelToken token;
  std::string trace;
  for (int i = 0; i < n; ++i) {
    const Result<std::string> blob = registry.FetchBlob(token, Ref("models/tiny:v1"), WeightsDigest(model));
    if (!blob.ok()) {
      trace += blob.code() == Code::kUnavailable ? 'U' : '?';
    } else if (*blob == "weights-v1") {
      trace += '.';
    } else {
      trace += blob->size() == 10 ? 'C' : 'T';
    }
  }
  return trace;
}

TEST(FakeRegistryRandomFaultsTest, SameSeedGivesTheSameFaults) {
  EXPECT_EQ(FaultTrace(42, 200), FaultTrace(42, 200));
}

TEST(FakeRegistryRandomFaultsTest, DifferentSeedsGiveDifferentFaults) {
  EXPECT_NE(FaultTrace(42, 200), FaultTrace(43, 200));
}

TEST(FakeRegistryRandomFaultsTest, EveryKindOfFaultOccursAtItsRate) {
  const std::string trace = FaultTrace(7, 1000);
  for (const char kind : std::string("UCT.")) {
    const auto n = std::count(trace.begin(), trace.end(), kind);
    // 20% each for U, C, T and 40% intact, with generous slack.
    const long expected = kind == '.' ? 400 : 200;
    EXPECT_NEAR(n, expected, 60) << "kind " << kind << " in " << trace;
  }
}

TEST_F(FakeRegistryTest, RandomDamageLastsOneFetchOnly) {
  ASSERT_TRUE(registry_.SetRandomFaults(1, 0.0, 1.0, 0.0).ok());
  EXPECT_NE(*FetchWeights(), "weights-v1");
  registry_.ClearRandomFaults();
  EXPECT_EQ(*FetchWeights(), "weights-v1");
  EXPECT_EQ(registry_.InjectedFaults().corrupt, 1u);
}

TEST_F(FakeRegistryTest, FullTransientRateFailsEveryCallAndCountsIt) {
  ASSERT_TRUE(registry_.SetRandomFaults(1, 1.0, 0.0, 0.0).ok());
  EXPECT_EQ(registry_.Resolve(token_, Ref("models/tiny:v1")).code(), Code::kUnavailable);
  EXPECT_EQ(FetchWeights().code(), Code::kUnavailable);
  EXPECT_EQ(registry_.InjectedFaults().transient, 2u);
}

TEST_F(FakeRegistryTest, RatesOutsideTheUnitIntervalAreInvalid) {
  EXPECT_EQ(registry_.SetRandomFaults(1, 0.6, 0.6, 0.0).code(), Code::kInvalidArgument);
  EXPECT_EQ(registry_.SetRandomFaults(1, -0.1, 0.0, 0.0).code(), Code::kInvalidArgument);
}

// --- Executor: scheduling points, latency, tokens -----------------------------

class RecordingExecutor final : public Executor {
 public:
  void Yield(std::string_view what) override { yields.emplace_back(what); }
  void WaitUntil(const std::function<bool()>&, std::string_view) override {}
  void SleepUntil(int64_t wake_ms) override { inner.SleepUntil(wake_ms); }
  int64_t NowMs() const override { return inner.NowMs(); }
  int CurrentProcess() const override { return 0; }
  std::vector<std::string> yields;
  InlineExecutor inner;
};

TEST(FakeRegistryExecutorTest, EveryCallIsANamedSchedulingPoint) {
  RecordingExecutor executor;
  FakeRegistry registry(&executor);
  const BuiltModel model = Model("w");
  registry.Push(kRepo, "v1", model);
  CancelToken token;
  ASSERT_TRUE(registry.Resolve(token, Ref("models/tiny:v1")).ok());
  ASSERT_TRUE(registry.FetchManifest(token, Ref("models/tiny:v1"), model.manifest_digest).ok());
  ASSERT_TRUE(registry.FetchBlob(token, Ref("models/tiny:v1"), model.config_digest).ok());
  EXPECT_EQ(executor.yields,
            (std::vector<std::string>{"registry.resolve", "registry.manifest", "registry.blob"}));
}

class FakeRegistryLatencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.Push(kRepo, "v1", model_);
    registry_.set_latency_ms(50);
  }

  InlineExecutor executor_;
  FakeRegistry registry_{&executor_};
  const BuiltModel model_ = Model("w");
};

TEST_F(FakeRegistryLatencyTest, LatencyAdvancesTheVirtualClockPerCall) {
  const CancelToken token;
  ASSERT_TRUE(registry_.Resolve(token, Ref("models/tiny:v1")).ok());
  EXPECT_EQ(executor_.NowMs(), 50);
  ASSERT_TRUE(registry_.FetchBlob(token, Ref("models/tiny:v1"), model_.config_digest).ok());
  EXPECT_EQ(executor_.NowMs(), 100);
}

TEST_F(FakeRegistryLatencyTest, DeadlinePassedDuringLatencyIsDeadlineExceeded) {
  const CancelToken token(/*deadline_ms=*/30);
  const Result<std::string> blob =
      registry_.FetchBlob(token, Ref("models/tiny:v1"), model_.config_digest);
  EXPECT_EQ(blob.code(), Code::kDeadlineExceeded);
  EXPECT_EQ(executor_.NowMs(), 50);
  EXPECT_EQ(registry_.BlobFetches(model_.config_digest), 0u);
}

TEST_F(FakeRegistryLatencyTest, ExpiredTokenFailsBeforeSleeping) {
  executor_.AdvanceMs(100);
  const CancelToken token(/*deadline_ms=*/100);
  EXPECT_EQ(registry_.Resolve(token, Ref("models/tiny:v1")).code(), Code::kDeadlineExceeded);
  EXPECT_EQ(executor_.NowMs(), 100);
}

TEST_F(FakeRegistryTest, CanceledTokenIsCanceledWithoutAnExecutor) {
  token_.Cancel();
  EXPECT_EQ(FetchWeights().code(), Code::kCanceled);
}

// --- Threads ------------------------------------------------------------------

TEST_F(FakeRegistryTest, SixteenThreadsFetchingCountEveryFetch) {
  constexpr int kThreads = 16;
  constexpr int kFetchesPerThread = 200;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kFetchesPerThread; ++i) {
        if (!FetchWeights().ok()) ++failures;
        if (!registry_.Resolve(token_, Ref("models/tiny:v1")).ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(registry_.BlobFetches(WeightsDigest(model_)), uint64_t{kThreads * kFetchesPerThread});
  EXPECT_EQ(registry_.ResolveCount(), uint64_t{kThreads * kFetchesPerThread});
}

// --- Streams (OpenBlob) --------------------------------------------------------


constexpr char kStreamRepo[] = "models/stream";

Reference StreamRef() { return Reference::Parse("models/stream:v1").value(); }

std::string Weights() {
  std::string bytes;
  for (int i = 0; i < 200; ++i) bytes.push_back(static_cast<char>('a' + i % 26));
  return bytes;
}

// A stream read to its end: the bytes, the chunks, and the error that
// ended it early, if any.
struct Drained {
  std::string bytes;
  std::vector<size_t> chunk_sizes;
  Status error;
};

Drained Drain(BlobReader* reader, const CancelToken& token, size_t max_bytes = 1 << 20) {
  Drained out;
  for (int i = 0; i < 10'000; ++i) {
    Result<std::string> chunk = reader->Read(token, max_bytes);
    if (!chunk.ok()) {
      out.error = chunk.status();
      return out;
    }
    if (chunk->empty()) return out;
    out.chunk_sizes.push_back(chunk->size());
    out.bytes += *chunk;
  }
  ADD_FAILURE() << "stream never ended";
  return out;
}

class FakeRegistryStreamTest : public ::testing::Test {
 protected:
  void SetUp() override { digest_ = registry_.PutBlob(kStreamRepo, Weights()); }

  std::unique_ptr<BlobReader> Open() {
    Result<std::unique_ptr<BlobReader>> reader = registry_.OpenBlob(token_, StreamRef(), digest_);
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    return reader.ok() ? std::move(reader).value() : nullptr;
  }

  FakeRegistry registry_;
  Digest digest_;
  CancelToken token_;
};

TEST_F(FakeRegistryStreamTest, AStreamInSeveralChunksEqualsFetchBlob) {
  std::unique_ptr<BlobReader> reader = Open();
  const Drained drained = Drain(reader.get(), token_);
  ASSERT_TRUE(drained.error.ok()) << drained.error.ToString();
  EXPECT_EQ(drained.bytes, registry_.FetchBlob(token_, StreamRef(), digest_).value());
  // 200 bytes in chunks of the default 32.
  EXPECT_EQ(drained.chunk_sizes, (std::vector<size_t>{32, 32, 32, 32, 32, 32, 8}));
}

TEST_F(FakeRegistryStreamTest, AReadHandsOutAtMostMaxBytesAndTheConfiguredChunk) {
  registry_.set_stream_chunk_bytes(64);
  std::unique_ptr<BlobReader> reader = Open();
  EXPECT_EQ(reader->Read(token_, 10)->size(), 10u);
  EXPECT_EQ(reader->Read(token_, 1000)->size(), 64u);
}

TEST_F(FakeRegistryStreamTest, AStreamCountsAsOneFetchOnlyOnceItEnds) {
  std::unique_ptr<BlobReader> reader = Open();
  ASSERT_TRUE(reader->Read(token_, 32).ok());
  EXPECT_EQ(registry_.BlobFetches(digest_), 0u);
  Drain(reader.get(), token_);
  EXPECT_EQ(registry_.BlobFetches(digest_), 1u);
  EXPECT_TRUE(reader->Read(token_, 32)->empty());  // ended stays ended, counted once
  EXPECT_EQ(registry_.BlobFetches(digest_), 1u);
  EXPECT_EQ(registry_.CallCount(FakeRegistry::Op::kBlob), 1u);
}

TEST_F(FakeRegistryStreamTest, InFlightFromOpenUntilTheEnd) {
  std::unique_ptr<BlobReader> reader = Open();
  EXPECT_EQ(registry_.BlobFetchesInFlight(), 1u);
  Drain(reader.get(), token_);
  EXPECT_EQ(registry_.BlobFetchesInFlight(), 0u);
  EXPECT_EQ(registry_.BlobFetchesInFlightPeak(), 1u);
}

TEST_F(FakeRegistryStreamTest, InFlightUntilTheReaderIsDestroyed) {
  std::unique_ptr<BlobReader> a = Open();
  std::unique_ptr<BlobReader> b = Open();
  ASSERT_TRUE(a->Read(token_, 32).ok());
  EXPECT_EQ(registry_.BlobFetchesInFlight(), 2u);
  a.reset();
  EXPECT_EQ(registry_.BlobFetchesInFlight(), 1u);
  b.reset();
  EXPECT_EQ(registry_.BlobFetchesInFlight(), 0u);
  EXPECT_EQ(registry_.BlobFetchesInFlightPeak(), 2u);
  EXPECT_EQ(registry_.BlobFetches(digest_), 0u);  // abandoned: no fetch
}

TEST_F(FakeRegistryStreamTest, AFailedOpenIsNotInFlight) {
  EXPECT_EQ(registry_.OpenBlob(token_, StreamRef(), Digest::Sha256Of("none")).code(), Code::kNotFound);
  registry_.FailNext(FakeRegistry::Op::kBlob, Code::kUnavailable);
  EXPECT_EQ(registry_.OpenBlob(token_, StreamRef(), digest_).code(), Code::kUnavailable);
  EXPECT_EQ(registry_.BlobFetchesInFlight(), 0u);
}

TEST_F(FakeRegistryStreamTest, AFaultMidStreamIsReportedAndEndsTheStream) {
  std::unique_ptr<BlobReader> reader = Open();
  ASSERT_EQ(reader->Read(token_, 32)->size(), 32u);
  registry_.FailNext(FakeRegistry::Op::kBlobRead, Code::kUnavailable);
  const Result<std::string> failed = reader->Read(token_, 32);
  EXPECT_EQ(failed.code(), Code::kUnavailable);
  EXPECT_NE(failed.status().message().find("after 32 bytes"), std::string::npos) << failed.status().ToString();
  EXPECT_EQ(registry_.BlobFetchesInFlight(), 0u);
  EXPECT_EQ(reader->Read(token_, 32).code(), Code::kUnavailable);  // stays failed
  EXPECT_EQ(registry_.InjectedFaults().fail_next, 1u);
  EXPECT_EQ(registry_.BlobFetches(digest_), 0u);
}

TEST_F(FakeRegistryStreamTest, ACanceledTokenFailsTheNextRead) {
  std::unique_ptr<BlobReader> reader = Open();
  ASSERT_TRUE(reader->Read(token_, 32).ok());
  token_.Cancel();
  EXPECT_EQ(reader->Read(token_, 32).code(), Code::kCanceled);
  EXPECT_EQ(registry_.BlobFetchesInFlight(), 0u);
}

TEST_F(FakeRegistryStreamTest, TheStreamServesTheBytesAsStoredAtTheOpen) {
  std::unique_ptr<BlobReader> reader = Open();
  ASSERT_TRUE(registry_.TruncateBlob(digest_, 3).ok());
  EXPECT_EQ(Drain(reader.get(), token_).bytes, Weights());
}

TEST_F(FakeRegistryStreamTest, ARandomCorruptionFlipsOneByteAndCountsWhenServed) {
  ASSERT_TRUE(registry_.SetRandomFaults(1, 0.0, 1.0, 0.0).ok());
  std::unique_ptr<BlobReader> reader = Open();
  EXPECT_EQ(registry_.InjectedFaults().corrupt, 0u);  // not struck yet
  const Drained drained = Drain(reader.get(), token_);
  ASSERT_TRUE(drained.error.ok());
  ASSERT_EQ(drained.bytes.size(), Weights().size());
  int differing = 0;
  for (size_t i = 0; i < drained.bytes.size(); ++i) differing += drained.bytes[i] != Weights()[i];
  EXPECT_EQ(differing, 1);
  EXPECT_EQ(registry_.InjectedFaults().corrupt, 1u);
  EXPECT_EQ(registry_.BlobFetches(digest_), 1u);  // damaged, still a fetch (as FetchBlob)
}

TEST_F(FakeRegistryStreamTest, ARandomTruncationEndsTheStreamEarly) {
  ASSERT_TRUE(registry_.SetRandomFaults(1, 0.0, 0.0, 1.0).ok());
  std::unique_ptr<BlobReader> reader = Open();
  const Drained drained = Drain(reader.get(), token_);
  ASSERT_TRUE(drained.error.ok());
  EXPECT_LT(drained.bytes.size(), Weights().size());
  EXPECT_EQ(drained.bytes, Weights().substr(0, drained.bytes.size()));
  EXPECT_EQ(registry_.InjectedFaults().truncate, 1u);
}

// n streams of the weights under a seed with only transient faults: per
// stream 'O' failed at the open, else the bytes served before the failure.
std::string TransientTrace(uint64_t seed, int n) {
  FakeRegistry registry;
  const Digest digest = registry.PutBlob(kStreamRepo, Weights());
  EXPECT_TRUE(registry.SetRandomFaults(seed, 1.0, 0.0, 0.0).ok());
  const CancelToken token;
  std::string trace;
  for (int i = 0; i < n; ++i) {
    Result<std::unique_ptr<BlobReader>> reader = registry.OpenBlob(token, StreamRef(), digest);
    if (!reader.ok()) {
      EXPECT_EQ(reader.code(), Code::kUnavailable);
      trace += "O ";
      continue;
    }
    const Drained drained = Drain(reader->get(), token);
    EXPECT_EQ(drained.error.code(), Code::kUnavailable);
    trace += std::to_string(drained.bytes.size()) + " ";
  }
  EXPECT_EQ(registry.InjectedFaults().transient, static_cast<uint64_t>(n));
  EXPECT_EQ(registry.BlobFetchesInFlight(), 0u);
  return trace;
}

TEST(FakeRegistryStreamFaultsTest, ATransientFaultStrikesAtTheOpenOrMidStream) {
  const std::string trace = TransientTrace(7, 1000);
  EXPECT_NE(trace.find("O "), std::string::npos) << trace;
  // Some stream served whole chunks before failing.
  EXPECT_NE(trace.find("32 "), std::string::npos) << trace;
  EXPECT_NE(trace.find("160 "), std::string::npos) << trace;
}

TEST(FakeRegistryStreamFaultsTest, SameSeedGivesTheSameStreamFaults) {
  EXPECT_EQ(TransientTrace(42, 100), TransientTrace(42, 100));
  EXPECT_NE(TransientTrace(42, 100), TransientTrace(43, 100));
}


TEST(FakeRegistryStreamExecutorTest, EveryReadIsANamedSchedulingPointAndLatencyIsPaidAtTheOpen) {
  RecordingExecutor executor;
  FakeRegistry registry(&executor);
  registry.set_latency_ms(50);
  registry.set_stream_chunk_bytes(100);
  const Digest digest = registry.PutBlob(kStreamRepo, Weights());
  const CancelToken token;
  Result<std::unique_ptr<BlobReader>> reader = registry.OpenBlob(token, StreamRef(), digest);
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE(Drain(reader->get(), token).error.ok());
  EXPECT_EQ(executor.yields, (std::vector<std::string>{"registry.blob", "registry.blob.read", "registry.blob.read",
                                                       "registry.blob.read"}));
  EXPECT_EQ(executor.NowMs(), 50);
}

TEST(FakeRegistryStreamExecutorTest, ADeadlinePassedMidStreamIsDeadlineExceeded) {
  InlineExecutor executor;
  FakeRegistry registry(&executor);
  const Digest digest = registry.PutBlob(kStreamRepo, Weights());
  const CancelToken token(/*deadline_ms=*/100);
  Result<std::unique_ptr<BlobReader>> reader = registry.OpenBlob(token, StreamRef(), digest);
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE((*reader)->Read(token, 32).ok());
  executor.SleepUntil(100);
  EXPECT_EQ((*reader)->Read(token, 32).code(), Code::kDeadlineExceeded);
}

}  // namespace
}  // namespace ms::sim
