// The upstream scenarios (DESIGN §1), on a real temp dir.
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <thread>

#include "core/tests/test_support.h"

namespace ms::testing {
namespace {

class UpstreamScenario : public VolumeTest {};

TEST_F(UpstreamScenario, StaticPullSucceedsAndRecordsCacheKey) {
  auto result = Pull("vol1", "", "models/a:v1");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  auto status = manager_->GetStatus("vol1", "").value();
  EXPECT_EQ(status.state, VolumeState::kSucceeded);
  EXPECT_EQ(status.cache_key, model_a_.manifest_digest.ToString());
  EXPECT_EQ(ModelFiles("vol1", "").at("README.md"), "# model a\n");
}

TEST_F(UpstreamScenario, DynamicPullSucceeds) {
  auto result = Pull("vol1", "mount1", "models/a:v1");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->model_dir, root_ + "/volumes/vol1/models/mount1/model");
  EXPECT_EQ(ModelFiles("vol1", "mount1").size(), 3u);
  EXPECT_EQ(manager_->GetStatus("vol1", "mount1")->state, VolumeState::kSucceeded);
}

TEST_F(UpstreamScenario, VolumeFileIsTheSameInodeAsTheStoreFile) {
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  const auto vol = posix_.Stat(manager_->ModelDir("vol1", "") + "/weights/model.safetensors").value();
  const auto store = posix_.Stat(manager_->store().DataDir(model_a_.manifest_digest) +
                                 "/weights/model.safetensors").value();
  EXPECT_EQ(vol.inode, store.inode);
  // The layer's payload, the model's file and the volume's: one inode.
  EXPECT_EQ(vol.link_count, 3u);
}

TEST_F(UpstreamScenario, TwoVolumesOfOneReferenceShareOneInodeAndOneFetch) {
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  ASSERT_TRUE(Pull("vol2", "m", "models/a:v1").ok());
  const auto one = posix_.Stat(manager_->ModelDir("vol1", "") + "/config.json").value();
  const auto two = posix_.Stat(manager_->ModelDir("vol2", "m") + "/config.json").value();
  EXPECT_EQ(one.inode, two.inode);
  EXPECT_EQ(one.link_count, 4u);  // the layer's, the model's, two volumes' 
  EXPECT_EQ(registry_.ManifestFetches(model_a_.manifest_digest), 1u) << "I2 dedup";
}

TEST_F(UpstreamScenario, PartialPullLeavesNoCacheKeyAndNoStoreEntry) {
  PullRequest req{"vol1", "m", "models/a:v1", /*exclude_weights=*/true, {}, 0};
  auto result = manager_->PullModel(req);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->status.cache_key, "");
  EXPECT_TRUE(result->status.partial);
  auto files = ModelFiles("vol1", "m");
  EXPECT_EQ(files.count("weights/model.safetensors"), 0u);
  EXPECT_EQ(files.count("README.md"), 1u);
  EXPECT_TRUE(Entries().empty());
}

TEST_F(UpstreamScenario, PartialPullByPatternSkipsMatchingFiles) {
  PullRequest req{"vol1", "", "models/a:v1", false, {"*.md"}, 0};
  ASSERT_TRUE(manager_->PullModel(req).ok());
  auto files = ModelFiles("vol1", "");
  EXPECT_EQ(files.count("README.md"), 0u);
  EXPECT_EQ(files.count("config.json"), 1u);
  EXPECT_TRUE(Entries().empty());
}

TEST_F(UpstreamScenario, FailedDigestResolutionFailsThePull) {
  auto result = Pull("vol1", "", "models/unknown:v1");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.code(), Code::kNotFound);
  EXPECT_NE(result.status().message().find("models/unknown:v1"), std::string::npos);
  EXPECT_EQ(manager_->GetStatus("vol1", "")->state, VolumeState::kFailed);
  EXPECT_TRUE(Entries().empty());
}

TEST_F(UpstreamScenario, BlobFetchFailureRecordsFailedAndRemovesModel) {
  registry_.FailNext(sim::FakeRegistry::Op::kBlob, Code::kUnavailable);
  auto result = Pull("vol1", "", "models/a:v1");
  ASSERT_FALSE(result.ok());
  auto status = manager_->GetStatus("vol1", "").value();
  EXPECT_EQ(status.state, VolumeState::kFailed);
  EXPECT_FALSE(Exists(&posix_, manager_->ModelDir("vol1", "")).value());
  EXPECT_TRUE(Entries().empty());
  ExpectNoStaging();
}

TEST_F(UpstreamScenario, DeletingTheLastVolumeRemovesTheEntry) {
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  ASSERT_EQ(Entries().size(), 1u);
  ASSERT_TRUE(manager_->DeleteModel("vol1", "").ok());
  EXPECT_TRUE(Entries().empty());
  EXPECT_FALSE(Exists(&posix_, manager_->VolumeDir("vol1")).value());
}

TEST_F(UpstreamScenario, DeletingOneOfTwoVolumesKeepsTheEntry) {
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  ASSERT_TRUE(Pull("vol2", "", "models/a:v1").ok());
  ASSERT_TRUE(manager_->DeleteModel("vol1", "").ok());
  EXPECT_EQ(Entries().size(), 1u);
  EXPECT_EQ(ModelFiles("vol2", "").size(), 3u);
}

TEST_F(UpstreamScenario, ReleasingATreeOfThreeMountsOverTwoReferencesReclaimsBoth) {
  ASSERT_TRUE(Pull("vol1", "m1", "models/a:v1").ok());
  ASSERT_TRUE(Pull("vol1", "m2", "models/a:v1").ok());
  ASSERT_TRUE(Pull("vol1", "m3", "models/b:v1").ok());
  ASSERT_EQ(Entries().size(), 2u);
  ASSERT_TRUE(manager_->ReleaseVolume("vol1").ok());
  EXPECT_TRUE(Entries().empty());
  EXPECT_FALSE(Exists(&posix_, manager_->VolumeDir("vol1")).value());
}

TEST_F(UpstreamScenario, ReleasingAMissingVolumeIsANoOp) {
  EXPECT_TRUE(manager_->ReleaseVolume("never-existed").ok());
}

TEST_F(UpstreamScenario, ReleasingAVolumeWhoseStatusHasNoKeyIsANoOpForTheStore) {
  ASSERT_TRUE(Pull("vol2", "", "models/a:v1").ok());
  PullRequest partial{"vol1", "", "models/a:v1", true, {}, 0};
  ASSERT_TRUE(manager_->PullModel(partial).ok());
  ASSERT_TRUE(manager_->ReleaseVolume("vol1").ok());
  EXPECT_EQ(Entries().size(), 1u) << "vol2's entry must survive";
}

// Fails every RemoveDir below one path.
class FailingRemoveFs : public FilesystemWrapper {
 public:
  FailingRemoveFs(Filesystem* target, std::string prefix, Code code)
      : FilesystemWrapper(target), prefix_(std::move(prefix)), code_(code) {}
  Status RemoveDir(const std::string& p) override {
    if (p.rfind(prefix_, 0) == 0) {
      ++calls;
      return Status(code_, "injected rmdir failure " + p);
    }
    return FilesystemWrapper::RemoveDir(p);
  }
  std::atomic<int> calls{0};

 private:
  std::string prefix_;
  Code code_;
};

TEST_F(UpstreamScenario, AVolumeRemovalErrorIsReturned) {
  ASSERT_TRUE(Pull("vol1", "m1", "models/a:v1").ok());
  FailingRemoveFs fs(&posix_, root_ + "/volumes/vol1", Code::kIo);
  MakeManager(&fs);
  Status st = manager_->ReleaseVolume("vol1");
  EXPECT_EQ(st.code(), Code::kIo);
  EXPECT_NE(st.message().find("injected rmdir failure"), std::string::npos);
}

// Fails the store's lock file, so every GC fails.
class FailingLockFs : public FilesystemWrapper {
 public:
  using FilesystemWrapper::FilesystemWrapper;
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& p) override {
    if (armed && p.find("/store/") != std::string::npos) return Status(Code::kIo, "injected lock failure " + p);
    return FilesystemWrapper::LockFile(p);
  }
  bool armed = false;
};

TEST_F(UpstreamScenario, GcErrorsAreLoggedNotReturned) {
  FailingLockFs fs(&posix_);
  MakeManager(&fs);
  ASSERT_TRUE(Pull("vol1", "m1", "models/a:v1").ok());
  fs.armed = true;
  EXPECT_TRUE(manager_->ReleaseVolume("vol1").ok());
  EXPECT_TRUE(logs_.Contains("injected lock failure"));
  EXPECT_EQ(Entries().size(), 1u);  // left for the sweep
}

TEST_F(UpstreamScenario, AMountIdReusedForAnotherReferenceIsAConflict) {
  ASSERT_TRUE(Pull("vol1", "m1", "models/a:v1").ok());
  auto result = Pull("vol1", "m1", "models/b:v1");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.code(), Code::kConflict);
  EXPECT_NE(result.status().message().find("models/b:v1"), std::string::npos);
  EXPECT_EQ(ModelFiles("vol1", "m1").size(), 3u) << "the conflicting pull must not wipe the model";
}

// Blocks FetchBlob until the token is canceled or past its deadline; with a
// manual clock the deadline case never sleeps for real.
class BlockingRegistry : public ForwardingRegistry {
 public:
  BlockingRegistry(Registry* target, Runtime* runtime) : ForwardingRegistry(target), runtime_(runtime) {}
  Result<std::string> FetchBlob(const CancelToken& t, const Reference& r, const Digest& d) override {
    entered = true;
    for (int i = 0; i < 10'000; ++i) {
      MS_RETURN_IF_ERROR(t.Check(runtime_->NowMs()));
      runtime_->SleepMs(1);
    }
    return ForwardingRegistry::FetchBlob(t, r, d);
  }
  std::atomic<bool> entered{false};

 private:
  Runtime* runtime_;
};

// Records every status.json written, so states that a later delete removes
// can still be observed.
class StatusRecordingFs : public FilesystemWrapper {
 public:
  using FilesystemWrapper::FilesystemWrapper;
  Status Rename(const std::string& from, const std::string& to) override {
    if (to.size() >= 11 && to.compare(to.size() - 11, 11, "status.json") == 0) {
      auto bytes = target()->ReadFile(from, 1 << 20);
      if (bytes.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        written.push_back(DecodeStatus(*bytes, to).value());
      }
    }
    return FilesystemWrapper::Rename(from, to);
  }
  std::mutex mu;
  std::vector<VolumeStatus> written;
};

TEST_F(UpstreamScenario, ADeleteCancelsAnInFlightPullWhichRecordsCanceled) {
  BlockingRegistry blocking(&registry_, runtime_.get());
  StatusRecordingFs fs(&posix_);
  manager_ = std::make_unique<VolumeManager>(&fs, runtime_.get(), &blocking, options_);
  ASSERT_TRUE(manager_->Init().ok());
  Result<PullResult> result = Status(Code::kInternal, "not run");
  std::thread puller([&] { result = Pull("vol1", "m1", "models/a:v1"); });
  while (!blocking.entered) std::this_thread::yield();
  ASSERT_TRUE(manager_->DeleteModel("vol1", "m1").ok());
  puller.join();
  EXPECT_EQ(result.code(), Code::kCanceled);
  ASSERT_FALSE(fs.written.empty());
  EXPECT_EQ(fs.written.back().state, VolumeState::kCanceled);
  EXPECT_FALSE(Exists(&posix_, manager_->VolumeDir("vol1") + "/models/m1").value());
  EXPECT_TRUE(Entries().empty());
}

// A runtime whose monotonic clock moves only when SleepMs is called.
class ManualClockRuntime : public RuntimeWrapper {
 public:
  explicit ManualClockRuntime(Runtime* target) : RuntimeWrapper(target) {}
  int64_t NowMs() override { return now_ms.load(); }
  void SleepMs(int64_t ms) override { now_ms += ms; }
  std::atomic<int64_t> now_ms{1000};
};

TEST_F(UpstreamScenario, APullPastItsDeadlineRecordsTimeout) {
  ManualClockRuntime clock(runtime_.get());
  BlockingRegistry blocking(&registry_, &clock);
  manager_ = std::make_unique<VolumeManager>(&posix_, &clock, &blocking, options_);
  ASSERT_TRUE(manager_->Init().ok());
  PullRequest req{"vol1", "", "models/a:v1", false, {}, /*timeout_ms=*/500};
  auto result = manager_->PullModel(req);
  EXPECT_EQ(result.code(), Code::kDeadlineExceeded);
  EXPECT_EQ(manager_->GetStatus("vol1", "")->state, VolumeState::kTimeout);
  EXPECT_FALSE(Exists(&posix_, manager_->ModelDir("vol1", "")).value());
  EXPECT_TRUE(Entries().empty());
}

// Reads the volume's status.json from disk at the first blob fetch.
class StatusPeekingRegistry : public ForwardingRegistry {
 public:
  StatusPeekingRegistry(Registry* target, Filesystem* fs, std::string path)
      : ForwardingRegistry(target), fs_(fs), path_(std::move(path)) {}
  Result<std::string> FetchBlob(const CancelToken& t, const Reference& r, const Digest& d) override {
    if (!seen) seen = ReadStatusFile(fs_, path_).value();
    return ForwardingRegistry::FetchBlob(t, r, d);
  }
  std::optional<VolumeStatus> seen;

 private:
  Filesystem* fs_;
  std::string path_;
};

TEST_F(UpstreamScenario, TheStatusNamesTheCacheKeyBeforeTheFirstBlobMoves) {
  StatusPeekingRegistry peeking(&registry_, &posix_, manager_->RecordDir("vol1", "") + "/status.json");
  manager_ = std::make_unique<VolumeManager>(&posix_, runtime_.get(), &peeking, options_);
  ASSERT_TRUE(manager_->Init().ok());
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  ASSERT_TRUE(peeking.seen.has_value());
  EXPECT_EQ(peeking.seen->state, VolumeState::kRunning);
  EXPECT_EQ(peeking.seen->cache_key, model_a_.manifest_digest.ToString());
}

TEST_F(UpstreamScenario, ARepullNeverShowsASucceededRecordOverAWipedModel) {
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  StatusPeekingRegistry peeking(&registry_, &posix_, manager_->RecordDir("vol1", "") + "/status.json");
  manager_ = std::make_unique<VolumeManager>(&posix_, runtime_.get(), &peeking, options_);
  ASSERT_TRUE(manager_->Init().ok());
  // Force a real re-fetch: the tag moves to B, whose model dir starts empty.
  registry_.Push("models/a", "v1", model_b_);
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  ASSERT_TRUE(peeking.seen.has_value());
  EXPECT_EQ(peeking.seen->state, VolumeState::kRunning) << "I1: succeeded while the model was wiped";
}

// Counts waiters on pull flights; holds Resolve shut until opened.
class FlightCountingRuntime : public RuntimeWrapper {
 public:
  using RuntimeWrapper::RuntimeWrapper;
  void Lock(std::string_view key) override {
    if (key.rfind("flight:", 0) == 0) ++flight_locks;
    RuntimeWrapper::Lock(key);
  }
  std::atomic<int> flight_locks{0};
};

class GateRegistry : public ForwardingRegistry {
 public:
  using ForwardingRegistry::ForwardingRegistry;
  Result<Digest> Resolve(const CancelToken& t, const Reference& r) override {
    while (!open) std::this_thread::yield();
    return ForwardingRegistry::Resolve(t, r);
  }
  std::atomic<bool> open{false};
};

TEST_F(UpstreamScenario, IdenticalConcurrentPullsShareOneExecution) {
  FlightCountingRuntime counting(runtime_.get());
  GateRegistry gate(&registry_);
  manager_ = std::make_unique<VolumeManager>(&posix_, &counting, &gate, options_);
  ASSERT_TRUE(manager_->Init().ok());
  constexpr int kCallers = 8;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&] { ok += Pull("vol1", "m", "models/a:v1").ok() ? 1 : 0; });
  }
  // The leader and every waiter have reached the flight lock.
  while (counting.flight_locks < kCallers) std::this_thread::yield();
  gate.open = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kCallers);
  EXPECT_EQ(registry_.ResolveCount(), 1u) << "every caller ran its own pull";
}

}  // namespace
}  // namespace ms::testing
