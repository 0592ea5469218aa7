// One test per DESIGN §2 weakness (1-7) that the core fixes. Each fails on
// the upstream design.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>

#include "core/tests/test_support.h"

namespace ms::testing {
namespace {

class WeaknessFix : public VolumeTest {};

// §2.1: a re-pull after the tag moved must collect the old entry at once.
TEST_F(WeaknessFix, RepullAfterTagMoveCollectsTheOldEntry) {
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  registry_.Push("models/a", "v1", model_b_);  // the tag moves
  auto result = Pull("vol1", "", "models/a:v1");
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->status.cache_key, model_b_.manifest_digest.ToString());
  EXPECT_EQ(Entries(), std::vector<Digest>{model_b_.manifest_digest});
}

// §2.2: a crash after data.tmp became data/ but before any link leaves an
// entry nobody references; the sweep collects it.
TEST_F(WeaknessFix, SweepCollectsAnEntryACrashLeftUnreferenced) {
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  // Simulate the crash: the volume's record and links are gone, the entry
  // and its ref stay (nobody will ever call GC for it).
  ASSERT_TRUE(RemoveAll(&posix_, manager_->VolumeDir("vol1")).ok());
  ASSERT_EQ(Entries().size(), 1u);
  auto report = manager_->Sweep();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->entries_removed, 1u);
  EXPECT_EQ(report->refs_dropped, 1u);
  EXPECT_TRUE(Entries().empty());
  EXPECT_EQ(PayloadBytes(&posix_, root_), 0u) << "I3 footprint after sweep";
}

void AgeDir(const std::string& path, int64_t age_s) {
  struct timespec times[2];
  ::clock_gettime(CLOCK_REALTIME, &times[0]);
  times[0].tv_sec -= age_s;
  times[1] = times[0];
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
}

// §2.2: a crash mid-pull leaves a staging dir; the sweep removes it once it
// is older than the grace period, and not before.
TEST_F(WeaknessFix, SweepRemovesStaleStagingAndKeepsYoungStaging) {
  const Digest d = model_a_.manifest_digest;
  const std::string staging = manager_->store().StagingDir(d);
  ASSERT_TRUE(MakeDirs(&posix_, staging + "/weights", 0755).ok());
  auto young = manager_->Sweep();
  ASSERT_TRUE(young.ok());
  EXPECT_EQ(young->staging_kept, 1u);
  EXPECT_TRUE(Exists(&posix_, staging).value());
  AgeDir(staging, options_.store.staging_grace_ms / 1000 + 5);
  auto old = manager_->Sweep();
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->staging_removed, 1u);
  EXPECT_TRUE(Entries().empty());
}

// §2.3: a payload with no regular file (dirs and a symlink only) is live
// while a volume uses it; upstream's link-count test read it as garbage.
TEST_F(WeaknessFix, APayloadWithoutRegularFilesStaysWhileReferenced) {
  ASSERT_TRUE(Pull("vol1", "", "models/empty:v1").ok());
  ASSERT_TRUE(Pull("vol2", "", "models/empty:v1").ok());
  ASSERT_TRUE(manager_->DeleteModel("vol1", "").ok());
  ASSERT_TRUE(manager_->Sweep().ok());
  EXPECT_EQ(Entries(), std::vector<Digest>{model_no_regular_.manifest_digest});
  // A third volume links from the cache rather than fetching again.
  ASSERT_TRUE(Pull("vol3", "", "models/empty:v1").ok());
  EXPECT_EQ(registry_.ManifestFetches(model_no_regular_.manifest_digest), 1u) << "I2 dedup";
  auto tree = ReadTree(&posix_, manager_->ModelDir("vol3", ""));
  EXPECT_EQ(tree.at("assets/current").content, "empty");
  ASSERT_TRUE(manager_->DeleteModel("vol2", "").ok());
  ASSERT_TRUE(manager_->DeleteModel("vol3", "").ok());
  EXPECT_TRUE(Entries().empty());
}

// §2.4: two driver processes on one root (an upgrade). Each forks from
// here and hammers pulls and deletes of the same reference; no pull may
// fail and every volume recorded succeeded must hold the whole model.
TEST_F(WeaknessFix, TwoProcessesSharingARootNeverLoseAReferencedEntry) {
  ASSERT_TRUE(Pull("probe", "", "models/a:v1").ok());
  const auto want = ModelFiles("probe", "");
  ASSERT_TRUE(manager_->DeleteModel("probe", "").ok());
  constexpr int kProcesses = 2;
  constexpr int kRounds = 60;
  pid_t pids[kProcesses];
  for (int p = 0; p < kProcesses; ++p) {
    pids[p] = ::fork();
    ASSERT_GE(pids[p], 0);
    if (pids[p] == 0) {
      // Child: its own runtime and manager, as a separate driver would have.
      ThreadRuntime runtime;
      sim::FakeRegistry registry;
      registry.Push("models/a", "v1", ModelA());
      VolumeManager manager(&posix_, &runtime, &registry, options_);
      int failures = manager.Init().ok() ? 0 : 1;
      for (int i = 0; i < kRounds; ++i) {
        const std::string vol = "p" + std::to_string(p) + "-" + std::to_string(i % 3);
        PullRequest req{vol, "", "models/a:v1", false, {}, 0};
        auto result = manager.PullModel(req);
        if (!result.ok()) {
          ++failures;
          continue;
        }
        // Every file must be there, with the registry's bytes.
        for (const auto& [rel, bytes] : want) {
          auto got = posix_.ReadFile(manager.ModelDir(vol, "") + "/" + rel, 1 << 20);
          if (!got.ok() || *got != bytes) ++failures;
        }
        if (i % 2 == 1 && !manager.DeleteModel(vol, "").ok()) ++failures;
      }
      ::_exit(failures == 0 ? 0 : 1);
    }
  }
  for (pid_t pid : pids) {
    int wstatus = 0;
    ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
    EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
        << "a process saw a failed pull or a volume missing files";
  }
  ASSERT_TRUE(manager_->Sweep().ok());
  ExpectNoStaging();
}

// §2.5: store files are read-only; a tampered (writable) store file is
// detected and a fresh copy is pulled for the next volume.
TEST_F(WeaknessFix, StoreFilesAreReadOnly) {
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  for (const auto& [rel, e] : ReadTree(&posix_, manager_->store().DataDir(model_a_.manifest_digest))) {
    if (e.type == FileType::kRegular) {
      EXPECT_EQ(e.mode & 0222, 0u) << rel;
    }
  }
}

TEST_F(WeaknessFix, ATamperedStoreFileIsReplacedByAFreshPull) {
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  const std::string file = manager_->store().DataDir(model_a_.manifest_digest) + "/README.md";
  ASSERT_TRUE(posix_.Chmod(file, 0644).ok());
  ASSERT_TRUE(posix_.Unlink(file).ok());
  ASSERT_TRUE(WriteFileAtomic(&posix_, file, "evil", 0644).ok());
  ASSERT_TRUE(Pull("vol2", "", "models/a:v1").ok());
  EXPECT_EQ(ModelFiles("vol2", "").at("README.md"), "# model a\n");
  EXPECT_EQ(registry_.ManifestFetches(model_a_.manifest_digest), 2u);
  EXPECT_TRUE(logs_.Contains("tampered"));
}

TEST_F(WeaknessFix, ABlobWhoseBytesDoNotMatchItsDigestIsRefused) {
  const Digest weight = Digest::Parse(model_a_.layers[0].digest).value();
  ASSERT_TRUE(registry_.CorruptBlob(weight).ok());
  auto result = Pull("vol1", "", "models/a:v1");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.code(), Code::kCorrupt);
  EXPECT_NE(result.status().message().find(weight.ToString()), std::string::npos);
  EXPECT_TRUE(Entries().empty());
  ExpectNoStaging();
}

// §2.6: a corrupt status.json is a clear error naming the file; deleting
// the volume still works, and the sweep reclaims the entry it hid.
TEST_F(WeaknessFix, ACorruptStatusIsAClearErrorAndTheSweepRecoversItsSpace) {
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  const std::string status_path = manager_->RecordDir("vol1", "") + "/status.json";
  ASSERT_TRUE(WriteFileAtomic(&posix_, status_path, "{not json", 0644).ok());
  auto status = manager_->GetStatus("vol1", "");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), Code::kCorrupt);
  EXPECT_NE(status.status().message().find(status_path), std::string::npos);
  ASSERT_TRUE(manager_->DeleteModel("vol1", "").ok());
  EXPECT_TRUE(logs_.Contains(status_path));
  EXPECT_EQ(Entries().size(), 1u) << "the key was unknown to delete";
  ASSERT_TRUE(manager_->Sweep().ok());
  EXPECT_TRUE(Entries().empty());
}

// §2.7: a failure half-way through linking leaves no half-populated volume
// holding references.
TEST_F(WeaknessFix, ALinkFailureHalfWayLeavesNoHalfPopulatedVolume) {
  FailNthLinkFs fs(&posix_, 2);
  MakeManager(&fs);
  auto result = Pull("vol1", "", "models/a:v1");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.code(), Code::kTooManyLinks);
  EXPECT_FALSE(Exists(&posix_, manager_->ModelDir("vol1", "")).value());
  EXPECT_EQ(manager_->GetStatus("vol1", "")->state, VolumeState::kFailed);
  EXPECT_TRUE(Entries().empty()) << "the entry must not be held by a failed volume";
  EXPECT_EQ(PayloadBytes(&posix_, root_), 0u);
}

}  // namespace
}  // namespace ms::testing
