// Time-dependent behaviour, run under libfaketime (ctest label faketime):
// the process clock runs fast, so minutes of retries and grace periods pass
// in milliseconds of real time, with the production ThreadRuntime.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>

#include "core/tests/test_support.h"

namespace ms::testing {
namespace {

// CLOCK_MONOTONIC straight from the kernel, around libfaketime.
int64_t RealMonotonicMs() {
  struct timespec ts {};
  ::syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

TEST(FakedClock, IsInEffect) {
  const char* preload = std::getenv("LD_PRELOAD");
  ASSERT_NE(preload, nullptr) << "run through ctest: LD_PRELOAD must name libfaketime";
  EXPECT_NE(std::string(preload).find("faketime"), std::string::npos);
  ThreadRuntime rt;
  const int64_t real_start = RealMonotonicMs();
  const int64_t fake_start = rt.NowMs();
  rt.SleepMs(10'000);
  const int64_t fake_elapsed = rt.NowMs() - fake_start;
  const int64_t real_elapsed = RealMonotonicMs() - real_start;
  EXPECT_GE(fake_elapsed, 10'000);
  EXPECT_LT(real_elapsed, 2'500) << "ten faked seconds took " << real_elapsed << " real ms";
}

class TimeDependent : public VolumeTest {};

// Fails RemoveDir of one directory with "not empty" a number of times.
class TransientNotEmptyFs : public FilesystemWrapper {
 public:
  TransientNotEmptyFs(Filesystem* target, std::string path, int failures)
      : FilesystemWrapper(target), path_(std::move(path)), failures_(failures) {}
  Status RemoveDir(const std::string& p) override {
    if (p == path_ && calls++ < failures_) return Status(Code::kNotEmpty, "rmdir " + p + ": not empty");
    return FilesystemWrapper::RemoveDir(p);
  }
  std::atomic<int> calls{0};

 private:
  std::string path_;
  int failures_;
};

TEST_F(TimeDependent, DeleteRetriesATransientDirectoryNotEmpty) {
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  TransientNotEmptyFs fs(&posix_, manager_->VolumeDir("vol1"), 5);
  MakeManager(&fs);
  const int64_t start = runtime_->NowMs();
  ASSERT_TRUE(manager_->DeleteModel("vol1", "").ok());
  EXPECT_EQ(fs.calls.load(), 6);
  EXPECT_GE(runtime_->NowMs() - start, 5 * 1000) << "five 1 s waits";
  EXPECT_TRUE(Entries().empty());
}

TEST_F(TimeDependent, DeleteGivesUpAfterSixtyAttempts) {
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  TransientNotEmptyFs fs(&posix_, manager_->VolumeDir("vol1"), 1'000);
  MakeManager(&fs);
  const int64_t start = runtime_->NowMs();
  Status st = manager_->DeleteModel("vol1", "");
  EXPECT_EQ(st.code(), Code::kNotEmpty);
  EXPECT_NE(st.message().find("after 60 attempts"), std::string::npos) << st.ToString();
  EXPECT_EQ(fs.calls.load(), 60);
  EXPECT_GE(runtime_->NowMs() - start, 59 * 1000);
  EXPECT_LT(runtime_->NowMs() - start, 120 * 1000);
}

// Sleeps a faked 2 s before every blob.
class SlowRegistry : public ForwardingRegistry {
 public:
  SlowRegistry(Registry* target, Runtime* runtime) : ForwardingRegistry(target), runtime_(runtime) {}
  Result<std::string> FetchBlob(const CancelToken& t, const Reference& r, const Digest& d) override {
    runtime_->SleepMs(2'000);
    return ForwardingRegistry::FetchBlob(t, r, d);
  }

 private:
  Runtime* runtime_;
};

TEST_F(TimeDependent, APullPastItsDeadlineRecordsTimeout) {
  SlowRegistry slow(&registry_, runtime_.get());
  manager_ = std::make_unique<VolumeManager>(&posix_, runtime_.get(), &slow, options_);
  ASSERT_TRUE(manager_->Init().ok());
  // Model A has three blobs: 6 s of fetching against a 3 s deadline.
  auto result = manager_->PullModel(PullRequest{"vol1", "", "models/a:v1", false, {}, 3'000});
  EXPECT_EQ(result.code(), Code::kDeadlineExceeded) << result.status().ToString();
  EXPECT_EQ(manager_->GetStatus("vol1", "")->state, VolumeState::kTimeout);
  EXPECT_TRUE(Entries().empty());
  // The same pull with room to spare succeeds.
  auto roomy = manager_->PullModel(PullRequest{"vol2", "", "models/a:v1", false, {}, 60'000});
  EXPECT_TRUE(roomy.ok()) << roomy.status().ToString();
}

TEST_F(TimeDependent, SweepLeavesYoungStagingAndTakesItAfterTheGracePeriod) {
  options_.store.staging_grace_ms = 30'000;
  MakeManager();
  const Digest d = model_a_.manifest_digest;
  ASSERT_TRUE(MakeDirs(&posix_, manager_->store().StagingDir(d), 0755).ok());
  auto first = manager_->Sweep();
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->staging_kept, 1u);
  runtime_->SleepMs(10'000);
  auto second = manager_->Sweep();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->staging_kept, 1u) << "10 s old, grace 30 s";
  runtime_->SleepMs(25'000);
  auto third = manager_->Sweep();
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->staging_removed, 1u) << "35 s old, grace 30 s";
  EXPECT_TRUE(Entries().empty());
}

}  // namespace
}  // namespace ms::testing
