// Bugs the simulator found in this core, pinned on a real disk.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "core/tests/test_support.h"

namespace ms::testing {
namespace {

class FoundBySimulation : public VolumeTest {};

// Once armed, fails the next ReadDir of one path with EIO (a transient
// fault), and watches I1 while files go: no file may leave a model whose
// record still says succeeded.
class TransientReadDirFs : public FilesystemWrapper {
 public:
  TransientReadDirFs(Filesystem* target, std::string path) : FilesystemWrapper(target), path_(std::move(path)) {}
  Result<std::vector<std::string>> ReadDir(const std::string& p) override {
    if (p == path_ && armed_ && !failed_) {
      failed_ = true;
      return Status(Code::kIo, "injected EIO readdir " + p);
    }
    return FilesystemWrapper::ReadDir(p);
  }
  Status Unlink(const std::string& p) override {
    const size_t model = p.find("/model/");
    if (model != std::string::npos) {
      auto status = ReadStatusFile(target(), p.substr(0, model) + "/status.json");
      if (status.ok() && status->state == VolumeState::kSucceeded) i1_violations.push_back(p);
    }
    return FilesystemWrapper::Unlink(p);
  }
  void Arm() { armed_ = true; }
  std::vector<std::string> i1_violations;

 private:
  std::string path_;
  bool armed_ = false;
  bool failed_ = false;
};

// Seed 135 (faults 0.01): a release whose listing of models/ failed removed
// the volume blind, depth first, so model/ went before status.json.
TEST_F(FoundBySimulation, AReleaseThatCannotListItsMountsRemovesNothingBlind) {
  ASSERT_TRUE(Pull("vol1", "m1", "models/a:v1").ok());
  TransientReadDirFs fs(&posix_, manager_->VolumeDir("vol1") + "/models");
  MakeManager(&fs);  // its startup repair lists models/ too
  fs.Arm();
  EXPECT_EQ(manager_->ReleaseVolume("vol1").code(), Code::kIo);
  EXPECT_EQ(ModelFiles("vol1", "m1").size(), 3u);
  // The kubelet retries; the retry removes it properly.
  EXPECT_TRUE(manager_->ReleaseVolume("vol1").ok());
  EXPECT_TRUE(fs.i1_violations.empty()) << "I1: removed " << fs.i1_violations.front()
                                        << " under a succeeded record";
  EXPECT_TRUE(Entries().empty());
}

// Seed 8: deleting a static volume that also holds dynamic mounts removed
// their models before their records and leaked their cache entries.
TEST_F(FoundBySimulation, AStaticDeleteOverDynamicMountsDropsTheirRecordsAndCollectsTheirKeys) {
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  ASSERT_TRUE(Pull("vol1", "m1", "models/b:v1").ok());
  ASSERT_EQ(Entries().size(), 2u);
  ASSERT_TRUE(manager_->DeleteModel("vol1", "").ok());
  EXPECT_TRUE(Entries().empty()) << "the mount's entry leaked";
  EXPECT_FALSE(Exists(&posix_, manager_->VolumeDir("vol1")).value());
}

// Runs `then` once, at the first unlink below `dir` (a release removing a
// model), and watches I1 like TransientReadDirFs.
class OnFirstUnlinkBelowFs : public FilesystemWrapper {
 public:
  OnFirstUnlinkBelowFs(Filesystem* target, std::string dir, std::function<void()> then)
      : FilesystemWrapper(target), dir_(std::move(dir)), then_(std::move(then)) {}
  Status Unlink(const std::string& p) override {
    if (!fired_ && p.rfind(dir_ + "/", 0) == 0) {
      fired_ = true;
      then_();
    }
    const size_t model = p.find("/model/");
    if (model != std::string::npos) {
      auto status = ReadStatusFile(target(), p.substr(0, model) + "/status.json");
      if (status.ok() && status->state == VolumeState::kSucceeded) i1_violations.push_back(p);
    }
    return FilesystemWrapper::Unlink(p);
  }
  bool fired() const { return fired_; }
  std::vector<std::string> i1_violations;

 private:
  std::string dir_;
  std::function<void()> then_;
  bool fired_ = false;
};

// docs/findings/core-release-over-a-pull.trace: an unpublish of a static
// volume (a release) overlapping a publish of it. The release canceled only
// the pulls registered before it started; a publish arriving while it
// removed the model re-created the model and recorded success, and the
// release went on unlinking the new model's files (I1), then removed the
// volume the publish had just reported mounted.
TEST_F(FoundBySimulation, APublishArrivingDuringAReleaseOfItsVolumeIsCanceled) {
  options_.remove_attempts_max = 3;
  options_.remove_retry_interval_ms = 1;
  MakeManager();
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  Result<PullResult> late = Status(Code::kInternal, "never ran");
  OnFirstUnlinkBelowFs fs(&posix_, manager_->ModelDir("vol1", ""), [&] { late = Pull("vol1", "", "models/a:v1"); });
  MakeManager(&fs);
  Status release = manager_->ReleaseVolume("vol1");
  ASSERT_TRUE(fs.fired()) << "the release never removed the model";
  EXPECT_EQ(late.code(), Code::kCanceled) << (late.ok() ? "the late publish reported success" : late.status().ToString());
  EXPECT_TRUE(release.ok()) << release.ToString();
  EXPECT_TRUE(fs.i1_violations.empty()) << "I1: removed " << fs.i1_violations.front() << " under a succeeded record";
  EXPECT_FALSE(Exists(&posix_, manager_->VolumeDir("vol1")).value());
  EXPECT_TRUE(Entries().empty());
  // Once the release is over, the volume can be published again.
  EXPECT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  EXPECT_EQ(ModelFiles("vol1", "").size(), 3u);
}

// Runs `then` at the Nth creation of a file named name (a write of a record
// through WriteStatusFile creates "status.json.tmp" each time).
class OnNthCreateFs : public FilesystemWrapper {
 public:
  OnNthCreateFs(Filesystem* target, std::string path, int n, std::function<void()> then)
      : FilesystemWrapper(target), path_(std::move(path)), n_(n), then_(std::move(then)) {}
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p, uint32_t m) override {
    if (p == path_ && ++count_ == n_) then_();
    return FilesystemWrapper::NewWritableFile(p, m);
  }

 private:
  std::string path_;
  int n_;
  int count_ = 0;
  std::function<void()> then_;
};

// Whether another holder has the flock on path (the entry lock of a
// PosixFilesystem, held by this very process or any other).
bool FlockHeldElsewhere(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  const bool held = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
  if (!held) ::flock(fd, LOCK_UN);
  ::close(fd);
  return held;
}

// Was "still wrong" 2 in docs/findings.md (--status-corruptions 3
// --link-max 3, seed 444, before the corruptor spared busy volumes): a
// volume's status.json garbled (a node mishap) while its publish was
// between linking and recording success; a GC in that window (another
// driver process) read the garbage as "references nothing", dropped the
// ref and collected the entry; the publish then recorded success on it.
// The success is now recorded under the entry lock.
TEST_F(FoundBySimulation, AGcBetweenAPublishsLinkAndItsSuccessRecordNeverCollectsTheEntry) {
  const std::string status_path = manager_->RecordDir("vol1", "") + "/status.json";
  ThreadRuntime other_runtime;
  VolumeManager other(&posix_, &other_runtime, &registry_, options_);  // a second driver process
  std::thread blocked_gc;
  Digest key;
  // A fresh publish writes its record three times: running, running with
  // the key, succeeded. The third is the window.
  OnNthCreateFs fs(&posix_, status_path + ".tmp", 3, [&] {
    ASSERT_TRUE(WriteFileAtomic(&posix_, status_path, "\x17garbled", 0644).ok());
    key = other.store().ListEntries().value().front();
    const std::string lock = other.store().EntryDir(key) + "/.lock";
    if (FlockHeldElsewhere(lock)) {
      // Held by the publish: the GC waits for it, as another process would.
      blocked_gc = std::thread([&] { EXPECT_TRUE(other.store().MaybeGc(key).ok()); });
    } else {
      EXPECT_TRUE(other.store().MaybeGc(key).ok());
    }
  });
  MakeManager(&fs);
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  if (blocked_gc.joinable()) blocked_gc.join();
  EXPECT_EQ(manager_->GetStatus("vol1", "")->state, VolumeState::kSucceeded);
  EXPECT_TRUE(Exists(&posix_, manager_->store().DataDir(key)).value())
      << "recorded succeeded on a collected entry: the next publish downloads it again";
}

// Another driver process on the same root, as during an upgrade: its own
// runtime (so none of the first one's in-process locks), the same disk. It
// runs one call on a thread of its own and says when that call asks for
// one of the volume lock files under root/locks/.
class SecondProcess {
 public:
  SecondProcess(Filesystem* disk, Registry* registry, const VolumeOptions& options, std::string locks_dir)
      : fs_(disk, this, std::move(locks_dir)), manager_(&fs_, &runtime_, registry, options) {}
  ~SecondProcess() {
    if (thread_.joinable()) thread_.join();
  }
  VolumeManager& manager() { return manager_; }

  // Starts call on the thread, then returns once it has finished or has
  // asked for a volume lock (which, with the fix, excludes it from the
  // first process's operation from there on).
  void RunUntilDoneOrParked(std::function<Status(VolumeManager&)> call) {
    thread_ = std::thread([this, call] {
      result_ = call(manager_);
      done_ = true;
    });
    // A bound, not a timing assumption: either event comes at once.
    for (int i = 0; i < 10'000 && !done_ && !asked_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  Status Finish() {
    if (thread_.joinable()) thread_.join();
    return result_;
  }
  bool asked_for_a_volume_lock() const { return asked_; }

 private:
  class Fs : public FilesystemWrapper {
   public:
    Fs(Filesystem* target, SecondProcess* owner, std::string locks_dir)
        : FilesystemWrapper(target), owner_(owner), locks_dir_(std::move(locks_dir)) {}
    Result<std::unique_ptr<FileLock>> LockFile(const std::string& p) override {
      if (p.rfind(locks_dir_ + "/", 0) == 0) owner_->asked_ = true;
      return FilesystemWrapper::LockFile(p);
    }

   private:
    SecondProcess* owner_;
    std::string locks_dir_;
  };

  Fs fs_;
  ThreadRuntime runtime_;
  VolumeManager manager_;
  std::thread thread_;
  Status result_;
  std::atomic<bool> done_{false};
  std::atomic<bool> asked_{false};
};

// Runs `then` once, at the first Append to a path ending in `suffix`.
class OnFirstAppendFs : public FilesystemWrapper {
 public:
  OnFirstAppendFs(Filesystem* target, std::string suffix, std::function<void()> then)
      : FilesystemWrapper(target), suffix_(std::move(suffix)), then_(std::move(then)) {}
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p, uint32_t mode) override {
    auto file = FilesystemWrapper::NewWritableFile(p, mode);
    if (file.ok() && !fired_ && p.size() >= suffix_.size() && p.compare(p.size() - suffix_.size(), suffix_.size(), suffix_) == 0) {
      fired_ = true;
      then_();
    }
    return file;
  }
  bool fired() const { return fired_; }

 private:
  std::string suffix_;
  std::function<void()> then_;
  bool fired_ = false;
};

// Seed 16 of the default campaign with conflicting calls (I7 results): the
// kubelet's publish of one volume reached both driver processes of an
// upgrade. Each wrote the record through the same status.json.tmp; the
// second renamed it away under the first, whose rename then failed:
// "NotFound: rename .../status.json.tmp -> .../status.json". Volume
// operations were excluded per process only.
TEST_F(FoundBySimulation, TwoProcessesPublishingOneVolumeTakeTurns) {
  SecondProcess other(&posix_, &registry_, options_, root_ + "/locks");
  ASSERT_TRUE(other.manager().Init().ok());
  PullRequest req;
  req.volume = "vol1";
  req.reference = "models/a:v1";
  OnFirstAppendFs fs(&posix_, "/status.json.tmp", [&] {
    other.RunUntilDoneOrParked([&](VolumeManager& m) { return m.PullModel(req).status(); });
  });
  MakeManager(&fs);
  const Result<PullResult> first = manager_->PullModel(req);
  ASSERT_TRUE(fs.fired());
  const Status second = other.Finish();
  EXPECT_TRUE(other.asked_for_a_volume_lock()) << "the second process never waited for the first";
  EXPECT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(second.ok()) << second.ToString();
  EXPECT_EQ(ModelFiles("vol1", "").size(), 3u);
}

// Seed 37 (I1): a release of a dynamic volume in one process removed the
// tree while the other process was publishing one of its mounts, which
// then recorded success over a model with files missing (or failed).
TEST_F(FoundBySimulation, AReleaseInOneProcessWaitsForAPublishInTheOther) {
  SecondProcess other(&posix_, &registry_, options_, root_ + "/locks");
  ASSERT_TRUE(other.manager().Init().ok());
  OnFirstAppendFs hook(&posix_, "/status.json.tmp", [&] {
    other.RunUntilDoneOrParked([](VolumeManager& m) { return m.ReleaseVolume("vol1"); });
  });
  MakeManager(&hook);
  const Result<PullResult> publish = Pull("vol1", "m1", "models/a:v1");
  ASSERT_TRUE(hook.fired());
  const Status release = other.Finish();
  EXPECT_TRUE(other.asked_for_a_volume_lock()) << "the release never waited for the publish";
  EXPECT_TRUE(publish.ok()) << publish.status().ToString();
  EXPECT_TRUE(release.ok()) << release.ToString();
  // The release went second: nothing is left of the volume.
  EXPECT_FALSE(Exists(&posix_, manager_->VolumeDir("vol1")).value());
  EXPECT_TRUE(Entries().empty());
}

}  // namespace
}  // namespace ms::testing
