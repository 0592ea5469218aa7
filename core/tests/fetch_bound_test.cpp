// The node-wide bound on concurrent blob fetches (VolumeOptions::fetches_max,
// core/fetch_slots.h), on the real disk with real threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "core/fetch_slots.h"
#include "core/tests/test_support.h"

namespace ms::testing {
namespace {

// Counts the FetchBlob calls in flight and keeps each one in flight a
// while, so that pulls that are not bounded would overlap.
class CountingRegistry final : public ForwardingRegistry {
 public:
  using ForwardingRegistry::ForwardingRegistry;
  Result<std::string> FetchBlob(const CancelToken& t, const Reference& r, const Digest& d) override {
    const int now = ++in_flight_;
    int peak = peak_.load();
    while (now > peak && !peak_.compare_exchange_weak(peak, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(15));
    auto blob = ForwardingRegistry::FetchBlob(t, r, d);
    --in_flight_;
    return blob;
  }
  int peak() const { return peak_.load(); }

 private:
  std::atomic<int> in_flight_{0};
  std::atomic<int> peak_{0};
};

sim::BuiltModel DistinctModel(int i) {
  const std::string tag = std::to_string(i);
  return sim::ModelBuilder("model-" + tag)
      .AddRawFile("weights/model.safetensors", std::string(1024, static_cast<char>('a' + i)) + tag)
      .AddRawFile("README.md", "# model " + tag + "\n", std::string(sim::media_type::kDocRaw))
      .Build();
}

TEST(FetchBound, ThreadsPullingDistinctBlobsNeverExceedTheBound) {
  constexpr int kBound = 2;
  constexpr int kPullers = kBound + 4;
  TempDir tmp;
  const std::string root = tmp.path() + "/root";
  PosixFilesystem fs;
  ASSERT_TRUE(fs.MakeDir(root, 0755).ok());
  ThreadRuntime runtime;
  sim::FakeRegistry target;
  for (int i = 0; i < kPullers; ++i) target.Push("models/m" + std::to_string(i), "v1", DistinctModel(i));
  CountingRegistry registry(&target);
  VolumeOptions options;
  options.store.root = root;
  options.fetches_max = kBound;
  options.fetch_poll_ms = 1;
  // Two managers on one root: the bound is node-wide, not per instance.
  VolumeManager first(&fs, &runtime, &registry, options);
  VolumeManager second(&fs, &runtime, &registry, options);
  ASSERT_TRUE(first.Init().ok());
  ASSERT_TRUE(second.Init().ok());

  std::vector<std::thread> pullers;
  std::atomic<int> failures{0};
  for (int i = 0; i < kPullers; ++i) {
    pullers.emplace_back([&, i] {
      PullRequest req;
      req.volume = "vol-" + std::to_string(i);
      req.reference = "models/m" + std::to_string(i) + ":v1";
      if (!(i % 2 == 0 ? first : second).PullModel(req).ok()) ++failures;
    });
  }
  for (std::thread& t : pullers) t.join();

  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(registry.peak(), kBound);
  EXPECT_EQ(registry.peak(), kBound) << "the pulls never overlapped: the test proves nothing";
}

// One slot on the real disk, held by the fixture.
class OneSlotHeld : public ::testing::Test {
 protected:
  void SetUp() override {
    held_ = slots_.Acquire(holder_token_);
    ASSERT_TRUE(held_.ok());
  }
  TempDir tmp_;
  PosixFilesystem fs_;
  ThreadRuntime runtime_;
  FetchSlots slots_{&fs_, &runtime_, tmp_.path() + "/locks", /*slots_count=*/1, /*poll_ms=*/5};
  CancelToken holder_token_;
  Result<std::unique_ptr<FetchSlot>> held_ = Status(Code::kInternal, "unset");
};

TEST_F(OneSlotHeld, AWaiterWhoseTokenIsCanceledReturnsCanceledPromptly) {
  CancelToken token;
  Result<std::unique_ptr<FetchSlot>> waited = Status(Code::kInternal, "unset");
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    waited = slots_.Acquire(token);
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(done.load()) << "the waiter got a slot that is held";
  const auto canceled_at = std::chrono::steady_clock::now();
  token.Cancel();
  waiter.join();
  const auto waited_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - canceled_at).count();
  EXPECT_EQ(waited.code(), Code::kCanceled);
  EXPECT_LT(waited_ms, 500);
}

TEST_F(OneSlotHeld, AWaiterPastItsDeadlineReturnsDeadlineExceeded) {
  CancelToken token(runtime_.NowMs() + 30);
  EXPECT_EQ(slots_.Acquire(token).code(), Code::kDeadlineExceeded);
}

TEST(PosixFilesystem, TryLockFileOfAFileHeldByAnotherOpenIsUnavailable) {
  TempDir tmp;
  PosixFilesystem fs;
  const std::string path = tmp.path() + "/slot.lock";
  auto held = fs.LockFile(path);
  ASSERT_TRUE(held.ok());
  // flock excludes another open file description in the same process too.
  EXPECT_EQ(fs.TryLockFile(path).code(), Code::kUnavailable);
  held->reset();
  EXPECT_TRUE(fs.TryLockFile(path).ok());
}

TEST_F(OneSlotHeld, ASlotIsFreeAgainOnceItsHolderLetsGo) {
  EXPECT_EQ(fs_.TryLockFile(slots_.SlotPath(0)).code(), Code::kUnavailable);
  held_->reset();
  CancelToken token;
  EXPECT_TRUE(slots_.Acquire(token).ok());
}

TEST(FetchBound, SlotFileNamesNeverCollideWithAVolumesLockFile) {
  EXPECT_TRUE(FetchSlots::IsSlotFileName("fetch@0.lock"));
  EXPECT_TRUE(FetchSlots::IsSlotFileName("fetch@12.lock"));
  EXPECT_FALSE(FetchSlots::IsSlotFileName("fetch-0.lock"));  // a volume may be named fetch-0
  EXPECT_FALSE(FetchSlots::IsSlotFileName("fetch@.lock"));
  EXPECT_FALSE(FetchSlots::IsSlotFileName("fetch@1x.lock"));
  EXPECT_FALSE(ValidateVolumeName("fetch@0", "volume").ok());
}

TEST(FetchBound, ZeroFetchesMaxIsRefusedAtInit) {
  TempDir tmp;
  PosixFilesystem fs;
  ThreadRuntime runtime;
  sim::FakeRegistry registry;
  VolumeOptions options;
  options.store.root = tmp.path();
  options.fetches_max = 0;
  VolumeManager manager(&fs, &runtime, &registry, options);
  const Status st = manager.Init();
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("fetches_max 0"), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace ms::testing
