// ModelStore's own promises, below the volume layer.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <set>

#include "core/tests/test_support.h"

namespace ms::testing {
namespace {

class ModelStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() + "/root";
    ASSERT_TRUE(posix_.MakeDir(root_, 0755).ok());
    options_.root = root_;
  }
  // A pull that writes three read-only files.
  static Status ThreeFiles(Filesystem* fs, const std::string& dir) {
    for (const char* name : {"a", "b", "c"}) {
      MS_ASSIGN_OR_RETURN(auto f, fs->NewWritableFile(dir + "/" + name, 0444));
      MS_RETURN_IF_ERROR(f->Append(name));
      MS_RETURN_IF_ERROR(f->Close());
    }
    return Status::Ok();
  }
  // Every referrer is live: only the refs themselves decide.
  static Result<bool> AlwaysLive(const std::string&, const Digest&) { return true; }

  TempDir tmp_;
  std::string root_;
  PosixFilesystem posix_;
  ThreadRuntime runtime_;
  StoreOptions options_;
  const Digest digest_ = Digest::Sha256Of("model");
  CancelToken token_;
};

TEST_F(ModelStoreTest, AFailedLinkLeavesNoDestinationAndNoReference) {
  FailNthLinkFs fs(&posix_, 2);
  ModelStore store(&fs, &runtime_, options_, AlwaysLive);
  ASSERT_TRUE(store.Init().ok());
  ASSERT_TRUE(posix_.MakeDir(root_ + "/vol", 0755).ok());
  Status st = store.Materialize(digest_, root_ + "/vol/model", "volumes/v",
                                [&](const std::string& d) { return ThreeFiles(&fs, d); }, token_);
  EXPECT_EQ(st.code(), Code::kTooManyLinks);
  EXPECT_FALSE(Exists(&posix_, root_ + "/vol/model").value()) << "half-populated destination";
  // No ref holds the entry, so it was collected on the spot.
  EXPECT_FALSE(Exists(&posix_, store.EntryDir(digest_)).value());
}

TEST_F(ModelStoreTest, ASecondMaterializeLinksWithoutPulling) {
  ModelStore store(&posix_, &runtime_, options_, AlwaysLive);
  ASSERT_TRUE(store.Init().ok());
  int pulls = 0;
  auto pull = [&](const std::string& d) {
    ++pulls;
    return ThreeFiles(&posix_, d);
  };
  ASSERT_TRUE(store.Materialize(digest_, root_ + "/one", "volumes/one", pull, token_).ok());
  ASSERT_TRUE(store.Materialize(digest_, root_ + "/two", "volumes/two", pull, token_).ok());
  EXPECT_EQ(pulls, 1);
  EXPECT_EQ(posix_.Stat(root_ + "/two/b")->inode, posix_.Stat(store.DataDir(digest_) + "/b")->inode);
  EXPECT_EQ(posix_.ReadDir(store.EntryDir(digest_) + "/refs")->size(), 2u);
}

TEST_F(ModelStoreTest, AFailedPullLeavesNoStagingAndNoEntry) {
  ModelStore store(&posix_, &runtime_, options_, AlwaysLive);
  ASSERT_TRUE(store.Init().ok());
  Status st = store.Materialize(digest_, root_ + "/one", "volumes/one",
                                [&](const std::string& d) {
                                  (void)ThreeFiles(&posix_, d);
                                  return Status(Code::kNoSpace, "injected ENOSPC");
                                },
                                token_);
  EXPECT_EQ(st.code(), Code::kNoSpace);
  EXPECT_FALSE(Exists(&posix_, store.EntryDir(digest_)).value());
  EXPECT_FALSE(Exists(&posix_, root_ + "/one").value());
}

TEST_F(ModelStoreTest, GcDropsRefsWhoseVolumeLetGoAndKeepsLiveOnes) {
  std::set<std::string> live = {"volumes/one", "volumes/two"};
  ModelStore store(&posix_, &runtime_, options_,
                   [&](const std::string& r, const Digest&) -> Result<bool> { return live.count(r) > 0; });
  ASSERT_TRUE(store.Init().ok());
  auto pull = [&](const std::string& d) { return ThreeFiles(&posix_, d); };
  ASSERT_TRUE(store.Materialize(digest_, root_ + "/one", "volumes/one", pull, token_).ok());
  ASSERT_TRUE(store.Materialize(digest_, root_ + "/two", "volumes/two", pull, token_).ok());
  live.erase("volumes/one");
  ASSERT_TRUE(store.MaybeGc(digest_).ok());
  // A GC stops at the first ref that holds (refs are listed in directory
  // order): one's stale ref goes now or at the sweep, two's stays.
  EXPECT_TRUE(Exists(&posix_, store.DataDir(digest_)).value());
  ASSERT_TRUE(store.Sweep().ok());
  EXPECT_EQ(posix_.ReadDir(store.EntryDir(digest_) + "/refs")->size(), 1u);
  live.clear();
  ASSERT_TRUE(store.MaybeGc(digest_).ok());
  EXPECT_FALSE(Exists(&posix_, store.EntryDir(digest_)).value());
}

TEST_F(ModelStoreTest, AGcConfirmsRefsOnlyUntilOneHoldsAndTheSweepConfirmsThemAll) {
  // Deleting one of R volumes of a model must not cost R confirmations.
  constexpr int kVolumes = 40;
  std::set<std::string> live;
  int checks = 0;
  ModelStore store(&posix_, &runtime_, options_, [&](const std::string& r, const Digest&) -> Result<bool> {
    ++checks;
    return live.count(r) > 0;
  });
  ASSERT_TRUE(store.Init().ok());
  auto pull = [&](const std::string& d) { return ThreeFiles(&posix_, d); };
  for (int v = 0; v < kVolumes; ++v) {
    const std::string name = "v" + std::to_string(v);
    ASSERT_TRUE(store.Materialize(digest_, root_ + "/" + name, "volumes/" + name, pull, token_).ok());
    live.insert("volumes/" + name);
  }
  checks = 0;
  ASSERT_TRUE(store.MaybeGc(digest_).ok());
  EXPECT_EQ(checks, 1) << "every ref holds: the first one confirmed is enough";
  // Two volumes let go. Refs are named by a hash of their referrer, so
  // where the two stale ones sort is the hash's business: the GC confirms
  // at most those before the first that holds, and that one.
  live.erase("volumes/v0");
  live.erase("volumes/v1");
  checks = 0;
  ASSERT_TRUE(store.MaybeGc(digest_).ok());
  EXPECT_LE(checks, 3);
  const size_t after_gc = posix_.ReadDir(store.EntryDir(digest_) + "/refs")->size();
  EXPECT_LE(after_gc, size_t{kVolumes});
  EXPECT_GE(after_gc, size_t{kVolumes - 2});
  // The sweep reads every ref: whatever stale ref the GC did not reach goes.
  checks = 0;
  auto report = store.Sweep();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(checks, static_cast<int>(after_gc));
  EXPECT_EQ(report->refs_dropped, after_gc - (kVolumes - 2));
  EXPECT_EQ(posix_.ReadDir(store.EntryDir(digest_) + "/refs")->size(), size_t{kVolumes - 2});
  EXPECT_TRUE(Exists(&posix_, store.DataDir(digest_)).value());
}

TEST_F(ModelStoreTest, AReferrerCheckErrorKeepsTheEntry) {
  ModelStore store(&posix_, &runtime_, options_,
                   [](const std::string&, const Digest&) -> Result<bool> {
                     return Status(Code::kIo, "cannot read status");
                   });
  ASSERT_TRUE(store.Init().ok());
  ASSERT_TRUE(store.Materialize(digest_, root_ + "/one", "volumes/one",
                                [&](const std::string& d) { return ThreeFiles(&posix_, d); }, token_)
                  .ok());
  ASSERT_TRUE(store.MaybeGc(digest_).ok());
  EXPECT_TRUE(Exists(&posix_, store.DataDir(digest_)).value()) << "uncertainty must not collect";
}

TEST_F(ModelStoreTest, SweepSkipsForeignNamesAndNeverTouchesThem) {
  ModelStore store(&posix_, &runtime_, options_, AlwaysLive);
  ASSERT_TRUE(store.Init().ok());
  ASSERT_TRUE(MakeDirs(&posix_, root_ + "/store/sha256/NOT-A-DIGEST", 0755).ok());
  ASSERT_TRUE(MakeDirs(&posix_, root_ + "/store/md5", 0755).ok());
  auto report = store.Sweep();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->foreign_skipped, 1u);
  EXPECT_TRUE(Exists(&posix_, root_ + "/store/sha256/NOT-A-DIGEST").value());
}

// Counts the names a store lists under refs/ directories.
class RefListingFs : public FilesystemWrapper {
 public:
  using FilesystemWrapper::FilesystemWrapper;
  Result<std::vector<std::string>> ReadDir(const std::string& p) override {
    return Count(p, FilesystemWrapper::ReadDir(p));
  }
  Result<std::vector<std::string>> ReadDirSome(const std::string& p, size_t max) override {
    return Count(p, target()->ReadDirSome(p, max));
  }
  uint64_t listed = 0;

 private:
  Result<std::vector<std::string>> Count(const std::string& p, Result<std::vector<std::string>> names) {
    if (names.ok() && p.size() > 5 && p.compare(p.size() - 5, 5, "/refs") == 0) listed += names->size();
    return names;
  }
};

TEST_F(ModelStoreTest, AGcListsAFewRefsNotAllOfThem) {
  // Deleting one of R volumes of a model must not list R refs either.
  constexpr int kVolumes = 100;
  RefListingFs fs(&posix_);
  ModelStore store(&fs, &runtime_, options_, [](const std::string&, const Digest&) -> Result<bool> { return true; });
  ASSERT_TRUE(store.Init().ok());
  auto pull = [&](const std::string& d) { return ThreeFiles(&posix_, d); };
  for (int v = 0; v < kVolumes; ++v) {
    const std::string name = "v" + std::to_string(v);
    ASSERT_TRUE(store.Materialize(digest_, root_ + "/" + name, "volumes/" + name, pull, token_).ok());
  }
  fs.listed = 0;
  ASSERT_TRUE(store.MaybeGc(digest_).ok());
  EXPECT_GE(fs.listed, 1u);
  EXPECT_LE(fs.listed, 16u) << "a GC lists a batch of refs, not all " << kVolumes;
  fs.listed = 0;
  ASSERT_TRUE(store.Sweep().ok());
  EXPECT_EQ(fs.listed, uint64_t{kVolumes}) << "the sweep lists them all";
}

TEST(PosixReadDirSome, ListsAtMostTheNamesAskedForAndOnlyRealOnes) {
  TempDir tmp;
  PosixFilesystem posix;
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(WriteFileAtomic(&posix, tmp.path() + "/f" + std::to_string(i), "x", 0644).ok());
  const std::vector<std::string> all = posix.ReadDir(tmp.path()).value();
  ASSERT_EQ(all.size(), 50u);
  const std::vector<std::string> some = posix.ReadDirSome(tmp.path(), 7).value();
  EXPECT_EQ(some.size(), 7u);
  for (const std::string& name : some) EXPECT_TRUE(std::binary_search(all.begin(), all.end(), name)) << name;
  EXPECT_EQ(posix.ReadDirSome(tmp.path(), 500).value().size(), 50u);
  EXPECT_EQ(posix.ReadDirSome(tmp.path() + "/none", 3).code(), Code::kNotFound);
}

// Runs `then` once, at the first call the wrapped process makes under
// `entry` after it unlinked the entry's lock file: the first moment a second
// process's lock call can succeed (it then locks a fresh .lock).
class AfterLockUnlinkFs : public FilesystemWrapper {
 public:
  AfterLockUnlinkFs(Filesystem* target, std::string entry, std::function<void()> then)
      : FilesystemWrapper(target), entry_(std::move(entry)), then_(std::move(then)) {}
  Result<FileInfo> Stat(const std::string& p) override {
    Hook(p);
    return FilesystemWrapper::Stat(p);
  }
  Result<std::vector<std::string>> ReadDir(const std::string& p) override {
    Hook(p);
    return FilesystemWrapper::ReadDir(p);
  }
  Status RemoveDir(const std::string& p) override {
    Hook(p);
    return FilesystemWrapper::RemoveDir(p);
  }
  Status Unlink(const std::string& p) override {
    Hook(p);
    Status st = FilesystemWrapper::Unlink(p);
    if (st.ok() && p == entry_ + "/.lock") lock_gone_ = true;
    return st;
  }
  bool fired() const { return fired_; }

 private:
  void Hook(const std::string& p) {
    if (!lock_gone_ || fired_ || p.rfind(entry_, 0) != 0) return;
    fired_ = true;
    then_();
  }
  std::string entry_;
  std::function<void()> then_;
  bool lock_gone_ = false;
  bool fired_ = false;
};

// Found by the simulator (seed 317, pct:3): a collection removed the
// entry's .lock first and went on removing data.tmp/ and refs/, while a
// second process locked a fresh .lock, pulled and linked a volume; the
// collector then removed that volume's ref, and the next GC collected the
// entry under it (I1). The lock file must be the last thing to go.
TEST_F(ModelStoreTest, ACollectionNeverSharesItsEntryWithASecondProcess) {
  std::set<std::string> live = {"volumes/one"};
  auto check = [&](const std::string& r, const Digest&) -> Result<bool> { return live.count(r) > 0; };
  auto pull = [&](const std::string& d) { return ThreeFiles(&posix_, d); };
  ModelStore first(&posix_, &runtime_, options_, check);
  ASSERT_TRUE(first.Init().ok());
  ASSERT_TRUE(first.Materialize(digest_, root_ + "/one", "volumes/one", pull, token_).ok());
  live.clear();  // volume one let go: its entry is garbage

  // Another driver process on the same root (its own runtime and locks)
  // materializes the digest for volume two in the middle of the collection.
  ThreadRuntime other_runtime;
  ModelStore other(&posix_, &other_runtime, options_, AlwaysLive);
  Status other_st = Status(Code::kInternal, "never ran");
  AfterLockUnlinkFs fs(&posix_, first.EntryDir(digest_), [&] {
    other_st = other.Materialize(digest_, root_ + "/two", "volumes/two", pull, token_);
  });
  ModelStore collector(&fs, &runtime_, options_, check);
  Status gc = collector.MaybeGc(digest_);
  ASSERT_TRUE(fs.fired()) << "the collection never unlinked the lock file";
  ASSERT_TRUE(other_st.ok()) << other_st.ToString();
  EXPECT_TRUE(gc.ok()) << gc.ToString();

  // Volume two is live: no later GC may take its entry.
  ASSERT_TRUE(other.MaybeGc(digest_).ok());
  EXPECT_TRUE(Exists(&posix_, first.DataDir(digest_)).value()) << "I1: entry collected under volume two";
  auto refs = posix_.ReadDir(first.EntryDir(digest_) + "/refs");
  ASSERT_TRUE(refs.ok()) << refs.status().ToString();
  EXPECT_EQ(refs->size(), 1u);
  EXPECT_EQ(posix_.Stat(root_ + "/two/b")->inode, posix_.Stat(first.DataDir(digest_) + "/b")->inode);
}

}  // namespace
}  // namespace ms::testing
