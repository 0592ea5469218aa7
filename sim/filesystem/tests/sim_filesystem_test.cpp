// SimFilesystem: inode semantics, permissions, the crash model, locks and
// fault injection. Each test arranges a small tree, acts once, asserts.
#include "sim/filesystem/sim_filesystem.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace ms {
void PrintTo(Code code, std::ostream* os);
void PrintTo(Code code, std::ostream* os) { *os << CodeName(code); }
}  // namespace ms

namespace ms::sim {
namespace {

::testing::AssertionResult IsOk(const Status& status) {
  if (status.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << status.ToString();
}

// Creates path through the port with bytes; syncs the file unless told not.
void CreateFile(SimFilesystem& fs, const std::string& path, std::string_view bytes,
                bool sync = true, uint32_t mode = 0644) {
  auto file = fs.NewWritableFile(path, mode);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  ASSERT_TRUE(IsOk((*file)->Append(bytes)));
  if (sync) {
    ASSERT_TRUE(IsOk((*file)->Sync()));
  }
  ASSERT_TRUE(IsOk((*file)->Close()));
}

uint64_t LinkCount(SimFilesystem& fs, const std::string& path) {
  auto info = fs.Stat(path);
  EXPECT_TRUE(info.ok()) << info.status().ToString();
  return info.ok() ? info->link_count : 0;
}

std::string Read(SimFilesystem& fs, const std::string& path) {
  auto bytes = fs.ReadFile(path, 1 << 20);
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  return bytes.ok() ? *bytes : std::string("<error>");
}

class SimFilesystemTest : public ::testing::Test {
 protected:
  InlineExecutor exec_;
  SimFilesystem fs_{&exec_};
};

// ---------------------------------------------------------------------------
// Inodes and link counts

TEST_F(SimFilesystemTest, RootExistsAsDirectoryWithTwoLinks) {
  auto info = fs_.Stat("/");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->type, FileType::kDirectory);
  EXPECT_EQ(info->link_count, 2u);
}

TEST_F(SimFilesystemTest, MakeDirAndRemoveDirMaintainDirectoryLinkCounts) {
  ASSERT_TRUE(IsOk(fs_.MakeDir("/a", 0755)));
  ASSERT_TRUE(IsOk(fs_.MakeDir("/a/b", 0755)));
  ASSERT_TRUE(IsOk(fs_.MakeDir("/a/c", 0755)));
  CreateFile(fs_, "/a/file", "x");  // files do not count in a dir's nlink
  EXPECT_EQ(LinkCount(fs_, "/"), 3u);
  EXPECT_EQ(LinkCount(fs_, "/a"), 4u);
  EXPECT_EQ(LinkCount(fs_, "/a/b"), 2u);
  ASSERT_TRUE(IsOk(fs_.RemoveDir("/a/b")));
  EXPECT_EQ(LinkCount(fs_, "/a"), 3u);
}

TEST_F(SimFilesystemTest, LinkAndUnlinkMaintainFileLinkCount) {
  CreateFile(fs_, "/f", "data");
  ASSERT_TRUE(IsOk(fs_.Link("/f", "/g")));
  ASSERT_TRUE(IsOk(fs_.Link("/f", "/h")));
  EXPECT_EQ(LinkCount(fs_, "/f"), 3u);
  ASSERT_TRUE(IsOk(fs_.Unlink("/f")));
  EXPECT_EQ(LinkCount(fs_, "/g"), 2u);
  ASSERT_TRUE(IsOk(fs_.Unlink("/g")));
  EXPECT_EQ(LinkCount(fs_, "/h"), 1u);
}

TEST_F(SimFilesystemTest, RenameOfDirectoryMovesParentLinkCounts) {
  ASSERT_TRUE(IsOk(fs_.MakeDir("/a", 0755)));
  ASSERT_TRUE(IsOk(fs_.MakeDir("/b", 0755)));
  ASSERT_TRUE(IsOk(fs_.MakeDir("/a/sub", 0755)));
  ASSERT_TRUE(IsOk(fs_.Rename("/a/sub", "/b/sub")));
  EXPECT_EQ(LinkCount(fs_, "/a"), 2u);
  EXPECT_EQ(LinkCount(fs_, "/b"), 3u);
  EXPECT_EQ(LinkCount(fs_, "/b/sub"), 2u);
}

TEST_F(SimFilesystemTest, RenameOverFileDropsReplacedInodeLink) {
  CreateFile(fs_, "/old", "old");
  ASSERT_TRUE(IsOk(fs_.Link("/old", "/old2")));
  CreateFile(fs_, "/new", "new");
  ASSERT_TRUE(IsOk(fs_.Rename("/new", "/old")));
  EXPECT_EQ(LinkCount(fs_, "/old2"), 1u);
  EXPECT_EQ(Read(fs_, "/old"), "new");
  EXPECT_FALSE(fs_.Exists("/new"));
}

TEST_F(SimFilesystemTest, HardlinksShareInodeAndBytes) {
  CreateFile(fs_, "/f", "before");
  ASSERT_TRUE(IsOk(fs_.Link("/f", "/g")));
  EXPECT_EQ(fs_.Stat("/f")->inode, fs_.Stat("/g")->inode);
  ASSERT_TRUE(IsOk(fs_.OverwriteFile("/g", "after")));
  EXPECT_EQ(Read(fs_, "/f"), "after");
}

TEST_F(SimFilesystemTest, ReadDirIsSortedBytewise) {
  ASSERT_TRUE(IsOk(fs_.MakeDir("/d", 0755)));
  for (const char* name : {"b", "aa", "C", "a", "_"})
    CreateFile(fs_, std::string("/d/") + name, "");
  auto names = fs_.ReadDir("/d");
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"C", "_", "a", "aa", "b"}));
}

TEST_F(SimFilesystemTest, UnlinkedFileIsFreedOnceItsDirectoryIsSynced) {
  CreateFile(fs_, "/f", "1234");
  const uint64_t inodes = fs_.inode_count();
  ASSERT_TRUE(IsOk(fs_.Unlink("/f")));
  // A crash may still keep the creation without the unlink.
  EXPECT_EQ(fs_.inode_count(), inodes);
  ASSERT_TRUE(IsOk(fs_.SyncDir("/")));
  EXPECT_EQ(fs_.inode_count(), inodes - 1);
  EXPECT_EQ(fs_.used_bytes(), 0u);
}

TEST(SimFilesystemJournaledTest, UnlinkedFileIsFreedAtOnce) {
  InlineExecutor exec;
  SimFilesystemOptions options;
  options.persistence = PersistenceModel::kJournaled;
  SimFilesystem fs(&exec, options);
  CreateFile(fs, "/f", "1234");
  const uint64_t inodes = fs.inode_count();
  ASSERT_TRUE(IsOk(fs.Unlink("/f")));
  EXPECT_EQ(fs.inode_count(), inodes - 1);
  EXPECT_EQ(fs.used_bytes(), 0u);
}

TEST_F(SimFilesystemTest, RemovedDirectoryReleasesItsDurableEntriesWhenFreed) {
  ASSERT_TRUE(IsOk(fs_.MakeDirsForTest("/d")));
  ASSERT_TRUE(IsOk(fs_.WriteFileForTest("/d/f", "x")));  // durable in /d
  ASSERT_TRUE(IsOk(fs_.Unlink("/d/f")));  // still durable: a crash would bring it back
  ASSERT_TRUE(IsOk(fs_.RemoveDir("/d")));
  EXPECT_EQ(fs_.inode_count(), 3u);
  ASSERT_TRUE(IsOk(fs_.SyncDir("/")));  // /d is gone for good, and with it /d/f
  EXPECT_EQ(fs_.inode_count(), 1u);
  EXPECT_EQ(fs_.used_bytes(), 0u);
  EXPECT_TRUE(IsOk(fs_.CheckConsistency()));
}

TEST_F(SimFilesystemTest, OpenFileKeepsUnlinkedInodeWritable) {
  auto file = fs_.NewWritableFile("/f", 0644);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(IsOk(fs_.Unlink("/f")));
  EXPECT_TRUE(IsOk((*file)->Append("still here")));
  EXPECT_EQ(fs_.used_bytes(), 10u);
  ASSERT_TRUE(IsOk((*file)->Close()));
  ASSERT_TRUE(IsOk(fs_.SyncDir("/")));  // the creation and the unlink settled
  EXPECT_EQ(fs_.used_bytes(), 0u);
}

TEST_F(SimFilesystemTest, StatReportsModeSizeAndSimulatedMtime) {
  exec_.AdvanceMs(1234);
  CreateFile(fs_, "/f", "12345", true, 0640);
  auto info = fs_.Stat("/f");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->type, FileType::kRegular);
  EXPECT_EQ(info->mode, 0640u);
  EXPECT_EQ(info->size_bytes, 5u);
  EXPECT_EQ(info->mtime_ms, kSimEpochMs + 1234);
  EXPECT_EQ(info->device, 1u);
}

// ---------------------------------------------------------------------------
// Errors

TEST_F(SimFilesystemTest, ErrorsNameTheOpAndPaths) {
  CreateFile(fs_, "/a", "");
  CreateFile(fs_, "/b", "");
  Status st = fs_.Link("/a", "/b");
  EXPECT_EQ(st.code(), Code::kAlreadyExists);
  EXPECT_EQ(st.message(), "link /a -> /b: file exists");
  EXPECT_EQ(fs_.Stat("/missing/x").status().message(),
            "stat /missing/x: no such file or directory");
}

TEST_F(SimFilesystemTest, BasicErrorCodes) {
  ASSERT_TRUE(IsOk(fs_.MakeDir("/d", 0755)));
  CreateFile(fs_, "/d/f", "x");
  EXPECT_EQ(fs_.MakeDir("/d", 0755).code(), Code::kAlreadyExists);
  EXPECT_EQ(fs_.MakeDir("/nope/x", 0755).code(), Code::kNotFound);
  EXPECT_EQ(fs_.MakeDir("/d/f/x", 0755).code(), Code::kNotDirectory);
  EXPECT_EQ(fs_.RemoveDir("/d").code(), Code::kNotEmpty);
  EXPECT_EQ(fs_.RemoveDir("/d/f").code(), Code::kNotDirectory);
  EXPECT_EQ(fs_.RemoveDir("/none").code(), Code::kNotFound);
  EXPECT_EQ(fs_.Unlink("/d").code(), Code::kIsDirectory);
  EXPECT_EQ(fs_.Unlink("/d/none").code(), Code::kNotFound);
  EXPECT_EQ(fs_.Link("/d", "/d2").code(), Code::kPermission);
  EXPECT_EQ(fs_.NewWritableFile("/d/f", 0644).code(), Code::kAlreadyExists);
  EXPECT_EQ(fs_.ReadFile("/d", 10).code(), Code::kIsDirectory);
  EXPECT_EQ(fs_.ReadFile("/d/f", 0).code(), Code::kInvalidArgument);
  EXPECT_EQ(fs_.ReadDir("/d/f").code(), Code::kNotDirectory);
  EXPECT_EQ(fs_.ReadLink("/d/f").code(), Code::kInvalidArgument);
  EXPECT_EQ(fs_.SyncDir("/d/f").code(), Code::kNotDirectory);
}

TEST_F(SimFilesystemTest, RelativeAndDotPathsAreInvalid) {
  ASSERT_TRUE(IsOk(fs_.MakeDir("/a", 0755)));
  EXPECT_EQ(fs_.Stat("a").code(), Code::kInvalidArgument);
  EXPECT_EQ(fs_.Stat("").code(), Code::kInvalidArgument);
  EXPECT_EQ(fs_.Stat("/a/..").code(), Code::kInvalidArgument);
  EXPECT_EQ(fs_.Stat("/a/../a").code(), Code::kInvalidArgument);
  EXPECT_EQ(fs_.MakeDir("/a/./b", 0755).code(), Code::kInvalidArgument);
  EXPECT_TRUE(fs_.Stat("//a").ok());  // repeated separators are one
}

TEST_F(SimFilesystemTest, TrailingSlashDemandsADirectory) {
  CreateFile(fs_, "/f", "x");
  EXPECT_EQ(fs_.Stat("/f/").code(), Code::kNotDirectory);
  EXPECT_EQ(fs_.NewWritableFile("/g/", 0644).code(), Code::kNotDirectory);
  ASSERT_TRUE(IsOk(fs_.MakeDir("/d/", 0755)));
  EXPECT_TRUE(fs_.Stat("/d/").ok());
}

// ---------------------------------------------------------------------------
// Rename rules

TEST_F(SimFilesystemTest, RenameDirectoryOverEmptyDirectoryReplacesIt) {
  ASSERT_TRUE(IsOk(fs_.MakeDir("/src", 0755)));
  CreateFile(fs_, "/src/f", "x");
  ASSERT_TRUE(IsOk(fs_.MakeDir("/dst", 0755)));
  ASSERT_TRUE(IsOk(fs_.Rename("/src", "/dst")));
  EXPECT_EQ(Read(fs_, "/dst/f"), "x");
  EXPECT_FALSE(fs_.Exists("/src"));
  EXPECT_EQ(LinkCount(fs_, "/"), 3u);
}

TEST_F(SimFilesystemTest, RenameDirectoryOverNonEmptyDirectoryIsNotEmpty) {
  ASSERT_TRUE(IsOk(fs_.MakeDir("/src", 0755)));
  ASSERT_TRUE(IsOk(fs_.MakeDir("/dst", 0755)));
  CreateFile(fs_, "/dst/f", "x");
  EXPECT_EQ(fs_.Rename("/src", "/dst").code(), Code::kNotEmpty);
  EXPECT_TRUE(fs_.Exists("/src"));
  EXPECT_TRUE(fs_.Exists("/dst/f"));
}

TEST_F(SimFilesystemTest, RenameFileOverDirectoryIsIsDirectory) {
  CreateFile(fs_, "/f", "x");
  ASSERT_TRUE(IsOk(fs_.MakeDir("/d", 0755)));
  EXPECT_EQ(fs_.Rename("/f", "/d").code(), Code::kIsDirectory);
}

TEST_F(SimFilesystemTest, RenameDirectoryOverFileIsNotDirectory) {
  CreateFile(fs_, "/f", "x");
  ASSERT_TRUE(IsOk(fs_.MakeDir("/d", 0755)));
  EXPECT_EQ(fs_.Rename("/d", "/f").code(), Code::kNotDirectory);
}

TEST_F(SimFilesystemTest, RenameDirectoryIntoItsOwnSubtreeIsInvalid) {
  ASSERT_TRUE(IsOk(fs_.MakeDir("/a", 0755)));
  ASSERT_TRUE(IsOk(fs_.MakeDir("/a/b", 0755)));
  EXPECT_EQ(fs_.Rename("/a", "/a/b/c").code(), Code::kInvalidArgument);
  EXPECT_EQ(fs_.Rename("/a", "/a/c").code(), Code::kInvalidArgument);
  EXPECT_TRUE(fs_.Exists("/a/b"));
}

TEST_F(SimFilesystemTest, RenameBetweenLinksOfOneInodeDoesNothing) {
  CreateFile(fs_, "/f", "x");
  ASSERT_TRUE(IsOk(fs_.Link("/f", "/g")));
  ASSERT_TRUE(IsOk(fs_.Rename("/f", "/g")));
  EXPECT_TRUE(fs_.Exists("/f"));
  EXPECT_TRUE(fs_.Exists("/g"));
  EXPECT_EQ(LinkCount(fs_, "/f"), 2u);
}

TEST_F(SimFilesystemTest, RenameOfMissingSourceIsNotFound) {
  EXPECT_EQ(fs_.Rename("/none", "/x").code(), Code::kNotFound);
}

TEST_F(SimFilesystemTest, RenameMovesASymlinkNotItsTarget) {
  CreateFile(fs_, "/target", "x");
  ASSERT_TRUE(IsOk(fs_.Symlink("/target", "/link")));
  ASSERT_TRUE(IsOk(fs_.Rename("/link", "/link2")));
  EXPECT_EQ(*fs_.ReadLink("/link2"), "/target");
  EXPECT_TRUE(fs_.Exists("/target"));
}

// ---------------------------------------------------------------------------
// Symlinks

TEST_F(SimFilesystemTest, StatDoesNotFollowFinalSymlink) {
  CreateFile(fs_, "/target", "x");
  ASSERT_TRUE(IsOk(fs_.Symlink("/target", "/link")));
  auto info = fs_.Stat("/link");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->type, FileType::kSymlink);
  EXPECT_EQ(info->size_bytes, 7u);
  EXPECT_EQ(fs_.ReadFile("/link", 10).code(), Code::kInvalidArgument);
}

TEST_F(SimFilesystemTest, UnlinkRemovesSymlinkNotTarget) {
  CreateFile(fs_, "/target", "x");
  ASSERT_TRUE(IsOk(fs_.Symlink("/target", "/link")));
  ASSERT_TRUE(IsOk(fs_.Unlink("/link")));
  EXPECT_TRUE(fs_.Exists("/target"));
}

TEST_F(SimFilesystemTest, IntermediateSymlinksAreFollowed) {
  ASSERT_TRUE(IsOk(fs_.MakeDir("/store", 0755)));
  ASSERT_TRUE(IsOk(fs_.MakeDir("/store/blobs", 0755)));
  CreateFile(fs_, "/store/blobs/x", "payload");
  ASSERT_TRUE(IsOk(fs_.MakeDir("/vol", 0755)));
  ASSERT_TRUE(IsOk(fs_.Symlink("/store/blobs", "/vol/abs")));
  ASSERT_TRUE(IsOk(fs_.Symlink("../store/./blobs", "/vol/rel")));
  EXPECT_EQ(Read(fs_, "/vol/abs/x"), "payload");
  EXPECT_EQ(Read(fs_, "/vol/rel/x"), "payload");
  CreateFile(fs_, "/vol/rel/y", "new");  // creation through a symlinked dir
  EXPECT_EQ(Read(fs_, "/store/blobs/y"), "new");
}

TEST_F(SimFilesystemTest, SymlinkLoopIsTooManyLevels) {
  ASSERT_TRUE(IsOk(fs_.Symlink("/b", "/a")));
  ASSERT_TRUE(IsOk(fs_.Symlink("/a", "/b")));
  Status st = fs_.Stat("/a/x").status();
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("too many levels of symlinks"), std::string::npos) << st.message();
}

TEST_F(SimFilesystemTest, SymlinkToFileInTheMiddleIsNotDirectory) {
  CreateFile(fs_, "/f", "x");
  ASSERT_TRUE(IsOk(fs_.Symlink("/f", "/l")));
  EXPECT_EQ(fs_.Stat("/l/x").code(), Code::kNotDirectory);
}

TEST_F(SimFilesystemTest, DanglingSymlinkIsReadableAsLink) {
  ASSERT_TRUE(IsOk(fs_.Symlink("/nowhere", "/l")));
  EXPECT_EQ(*fs_.ReadLink("/l"), "/nowhere");
  EXPECT_EQ(fs_.Stat("/l/x").code(), Code::kNotFound);
  EXPECT_EQ(fs_.Symlink("/x", "/l").code(), Code::kAlreadyExists);
}

TEST_F(SimFilesystemTest, OverwriteFileFollowsFinalSymlink) {
  CreateFile(fs_, "/f", "old");
  ASSERT_TRUE(IsOk(fs_.Symlink("f", "/l")));
  ASSERT_TRUE(IsOk(fs_.OverwriteFile("/l", "new")));
  EXPECT_EQ(Read(fs_, "/f"), "new");
}

// ---------------------------------------------------------------------------
// Permissions

TEST_F(SimFilesystemTest, ReadOnlyFileRefusesOverwriteThroughHardlink) {
  CreateFile(fs_, "/entry", "weights");
  ASSERT_TRUE(IsOk(fs_.Chmod("/entry", 0444)));
  ASSERT_TRUE(IsOk(fs_.Link("/entry", "/volume_file")));
  EXPECT_EQ(fs_.OverwriteFile("/volume_file", "evil").code(), Code::kPermission);
  EXPECT_EQ(fs_.AppendToExisting("/volume_file", "evil").code(), Code::kPermission);
  EXPECT_EQ(Read(fs_, "/entry"), "weights");
}

TEST_F(SimFilesystemTest, WritableFileAllowsOverwriteVisibleThroughEveryLink) {
  CreateFile(fs_, "/entry", "weights");
  ASSERT_TRUE(IsOk(fs_.Link("/entry", "/volume_file")));
  ASSERT_TRUE(IsOk(fs_.AppendToExisting("/volume_file", "+")));
  EXPECT_EQ(Read(fs_, "/entry"), "weights+");
  EXPECT_EQ(fs_.OverwriteFile("/none", "x").code(), Code::kNotFound);
}

TEST_F(SimFilesystemTest, ReadOnlyDirectoryRefusesCreateAndRemove) {
  ASSERT_TRUE(IsOk(fs_.MakeDir("/d", 0755)));
  CreateFile(fs_, "/d/f", "x");
  ASSERT_TRUE(IsOk(fs_.MakeDir("/d/sub", 0755)));
  ASSERT_TRUE(IsOk(fs_.Chmod("/d", 0555)));
  EXPECT_EQ(fs_.NewWritableFile("/d/g", 0644).code(), Code::kPermission);
  EXPECT_EQ(fs_.MakeDir("/d/e", 0755).code(), Code::kPermission);
  EXPECT_EQ(fs_.Unlink("/d/f").code(), Code::kPermission);
  EXPECT_EQ(fs_.RemoveDir("/d/sub").code(), Code::kPermission);
  EXPECT_EQ(fs_.Link("/d/f", "/d/g").code(), Code::kPermission);
  EXPECT_EQ(fs_.Rename("/d/f", "/f").code(), Code::kPermission);
  EXPECT_EQ(fs_.Symlink("/x", "/d/s").code(), Code::kPermission);
  EXPECT_TRUE(fs_.Exists("/d/f"));
}

TEST_F(SimFilesystemTest, DirectoryWithoutExecuteRefusesTraversal) {
  ASSERT_TRUE(IsOk(fs_.MakeDir("/d", 0755)));
  CreateFile(fs_, "/d/f", "x");
  ASSERT_TRUE(IsOk(fs_.Chmod("/d", 0644)));
  EXPECT_EQ(fs_.Stat("/d/f").code(), Code::kPermission);
  EXPECT_TRUE(fs_.ReadDir("/d").ok());  // listing needs r, not x
}

TEST_F(SimFilesystemTest, FileWithoutReadBitRefusesReadFile) {
  CreateFile(fs_, "/f", "secret", true, 0200);
  EXPECT_EQ(fs_.ReadFile("/f", 100).code(), Code::kPermission);
}

TEST_F(SimFilesystemTest, MovingReadOnlyDirectoryToAnotherParentIsRefused) {
  ASSERT_TRUE(IsOk(fs_.MakeDir("/a", 0755)));
  ASSERT_TRUE(IsOk(fs_.MakeDir("/b", 0755)));
  ASSERT_TRUE(IsOk(fs_.MakeDir("/a/ro", 0555)));
  EXPECT_EQ(fs_.Rename("/a/ro", "/b/ro").code(), Code::kPermission);
  EXPECT_TRUE(IsOk(fs_.Rename("/a/ro", "/a/ro2")));  // same parent: ".." unchanged
}

TEST_F(SimFilesystemTest, OpenWritableFileKeepsWritingAfterChmod) {
  auto file = fs_.NewWritableFile("/f", 0444);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(IsOk(fs_.Chmod("/f", 0400)));
  EXPECT_TRUE(IsOk((*file)->Append("ok")));
}

// ---------------------------------------------------------------------------
// Limits

TEST(SimFilesystemLimits, LinkBeyondLinkCountMaxIsTooManyLinks) {
  InlineExecutor exec;
  SimFilesystem fs(&exec, SimFilesystemOptions{.link_count_max = 3});
  CreateFile(fs, "/f", "x");
  ASSERT_TRUE(IsOk(fs.Link("/f", "/g")));
  ASSERT_TRUE(IsOk(fs.Link("/f", "/h")));
  Status st = fs.Link("/f", "/i");
  EXPECT_EQ(st.code(), Code::kTooManyLinks);
  EXPECT_FALSE(fs.Exists("/i"));
}

TEST(SimFilesystemLimits, MakeDirBeyondLinkCountMaxIsTooManyLinks) {
  InlineExecutor exec;
  SimFilesystem fs(&exec, SimFilesystemOptions{.link_count_max = 3});
  ASSERT_TRUE(IsOk(fs.MakeDir("/a", 0755)));  // root: 3
  EXPECT_EQ(fs.MakeDir("/b", 0755).code(), Code::kTooManyLinks);
}

TEST(SimFilesystemLimits, AppendBeyondCapacityIsNoSpace) {
  InlineExecutor exec;
  SimFilesystem fs(&exec, SimFilesystemOptions{.capacity_bytes = 10});
  auto file = fs.NewWritableFile("/f", 0644);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(IsOk((*file)->Append("12345678")));
  EXPECT_EQ((*file)->Append("123").code(), Code::kNoSpace);
  EXPECT_EQ(fs.used_bytes(), 8u);
}

// ---------------------------------------------------------------------------
// Crash model

TEST_F(SimFilesystemTest, CrashLosesUnsyncedFileBytes) {
  CreateFile(fs_, "/f", "unsynced", /*sync=*/false);
  ASSERT_TRUE(IsOk(fs_.SyncDir("/")));
  fs_.Crash();
  ASSERT_TRUE(fs_.Exists("/f"));
  EXPECT_EQ(Read(fs_, "/f"), "");
}

TEST_F(SimFilesystemTest, CrashKeepsSyncedPrefixOnly) {
  auto file = fs_.NewWritableFile("/f", 0644);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(IsOk((*file)->Append("synced")));
  ASSERT_TRUE(IsOk((*file)->Sync()));
  ASSERT_TRUE(IsOk((*file)->Append("+lost")));
  ASSERT_TRUE(IsOk(fs_.SyncDir("/")));
  fs_.Crash();
  EXPECT_EQ(Read(fs_, "/f"), "synced");
}

TEST_F(SimFilesystemTest, CrashRestoresSyncedBytesAfterUnsyncedOverwrite) {
  CreateFile(fs_, "/f", "original");
  ASSERT_TRUE(IsOk(fs_.SyncDir("/")));
  ASSERT_TRUE(IsOk(fs_.OverwriteFile("/f", "changed")));
  fs_.Crash();
  EXPECT_EQ(Read(fs_, "/f"), "original");
}

TEST_F(SimFilesystemTest, CrashLosesEntriesOfDirectoryNotSynced) {
  ASSERT_TRUE(IsOk(fs_.MakeDir("/d", 0755)));
  ASSERT_TRUE(IsOk(fs_.SyncDir("/")));
  CreateFile(fs_, "/d/synced_file_unsynced_dir", "x");
  fs_.Crash();
  EXPECT_TRUE(fs_.Exists("/d"));
  EXPECT_FALSE(fs_.Exists("/d/synced_file_unsynced_dir"));
}

TEST_F(SimFilesystemTest, CrashKeepsSyncedEntriesAndBytes) {
  ASSERT_TRUE(IsOk(fs_.MakeDir("/d", 0755)));
  CreateFile(fs_, "/d/f", "durable");
  ASSERT_TRUE(IsOk(fs_.SyncDir("/d")));
  ASSERT_TRUE(IsOk(fs_.SyncDir("/")));
  fs_.Crash();
  EXPECT_EQ(Read(fs_, "/d/f"), "durable");
  EXPECT_EQ(LinkCount(fs_, "/d/f"), 1u);
  EXPECT_EQ(LinkCount(fs_, "/"), 3u);
}

TEST_F(SimFilesystemTest, CrashDropsSubtreeOfDirectoryNeverDurablyCreated) {
  const uint64_t inodes_before = fs_.inode_count();
  ASSERT_TRUE(IsOk(fs_.MakeDir("/d", 0755)));
  CreateFile(fs_, "/d/f", "x");
  ASSERT_TRUE(IsOk(fs_.SyncDir("/d")));  // its entries are durable, itself is not
  fs_.Crash();
  EXPECT_FALSE(fs_.Exists("/d"));
  EXPECT_EQ(fs_.inode_count(), inodes_before);
  EXPECT_EQ(fs_.used_bytes(), 0u);
}

TEST_F(SimFilesystemTest, CrashKeepsUnlinkOnlyIfParentSynced) {
  CreateFile(fs_, "/f", "x");
  ASSERT_TRUE(IsOk(fs_.SyncDir("/")));
  ASSERT_TRUE(IsOk(fs_.Unlink("/f")));
  fs_.Crash();
  EXPECT_EQ(Read(fs_, "/f"), "x");  // the unlink was never made durable
  ASSERT_TRUE(IsOk(fs_.Unlink("/f")));
  ASSERT_TRUE(IsOk(fs_.SyncDir("/")));
  fs_.Crash();
  EXPECT_FALSE(fs_.Exists("/f"));
}

class SimFilesystemRenameCrashTest : public SimFilesystemTest {
 protected:
  // /a/f and /b, all durable; then rename /a/f -> /b/f.
  void SetUp() override {
    ASSERT_TRUE(IsOk(fs_.MakeDirsForTest("/a")));
    ASSERT_TRUE(IsOk(fs_.MakeDirsForTest("/b")));
    ASSERT_TRUE(IsOk(fs_.WriteFileForTest("/a/f", "x")));
    ASSERT_TRUE(IsOk(fs_.Rename("/a/f", "/b/f")));
  }
};

TEST_F(SimFilesystemRenameCrashTest, DurableOnlyAfterBothParentsSynced) {
  ASSERT_TRUE(IsOk(fs_.SyncDir("/a")));
  ASSERT_TRUE(IsOk(fs_.SyncDir("/b")));
  fs_.Crash();
  EXPECT_FALSE(fs_.Exists("/a/f"));
  EXPECT_EQ(Read(fs_, "/b/f"), "x");
}

TEST_F(SimFilesystemRenameCrashTest, NoParentSyncedKeepsOldName) {
  fs_.Crash();
  EXPECT_EQ(Read(fs_, "/a/f"), "x");
  EXPECT_FALSE(fs_.Exists("/b/f"));
}

// A rename is one operation: syncing either parent makes all of it durable.
TEST_F(SimFilesystemRenameCrashTest, OnlyDestinationSyncedMovesTheName) {
  ASSERT_TRUE(IsOk(fs_.SyncDir("/b")));
  fs_.Crash();
  EXPECT_FALSE(fs_.Exists("/a/f"));
  EXPECT_EQ(Read(fs_, "/b/f"), "x");
  EXPECT_EQ(LinkCount(fs_, "/b/f"), 1u);
}

TEST_F(SimFilesystemRenameCrashTest, OnlySourceSyncedMovesTheName) {
  ASSERT_TRUE(IsOk(fs_.SyncDir("/a")));
  fs_.Crash();
  EXPECT_FALSE(fs_.Exists("/a/f"));
  EXPECT_EQ(Read(fs_, "/b/f"), "x");
}

TEST_F(SimFilesystemRenameCrashTest, EveryStateKeepsExactlyOneName) {
  const CrashStates states = fs_.EnumerateCrashStates(100);
  EXPECT_EQ(states.states.size(), 2u);  // the old name or the new, never both or neither
  EXPECT_FALSE(states.bounded);
  for (const CrashState& state : states.states) {
    SimFilesystem copy(&exec_);
    ASSERT_TRUE(IsOk(copy.MakeDirsForTest("/a")));
    ASSERT_TRUE(IsOk(copy.MakeDirsForTest("/b")));
    ASSERT_TRUE(IsOk(copy.WriteFileForTest("/a/f", "x")));
    ASSERT_TRUE(IsOk(copy.Rename("/a/f", "/b/f")));
    copy.Crash(state);
    EXPECT_NE(copy.Exists("/a/f"), copy.Exists("/b/f")) << state.ToText();
  }
}

TEST_F(SimFilesystemTest, CrashKeepsAMovedDirectoryUnderOneParent) {
  ASSERT_TRUE(IsOk(fs_.MakeDirsForTest("/a/d")));
  ASSERT_TRUE(IsOk(fs_.MakeDirsForTest("/b")));
  ASSERT_TRUE(IsOk(fs_.Rename("/a/d", "/b/d")));
  ASSERT_TRUE(IsOk(fs_.SyncDir("/b")));
  fs_.Crash();
  EXPECT_FALSE(fs_.Exists("/a/d"));
  EXPECT_TRUE(fs_.Exists("/b/d"));
  EXPECT_EQ(LinkCount(fs_, "/a"), 2u);
  EXPECT_EQ(LinkCount(fs_, "/b"), 3u);
}

TEST_F(SimFilesystemTest, CrashInvalidatesOpenFiles) {
  auto file = fs_.NewWritableFile("/f", 0644);
  ASSERT_TRUE(file.ok());
  fs_.Crash();
  Status st = (*file)->Append("x");
  EXPECT_EQ(st.code(), Code::kIo);
  EXPECT_NE(st.message().find("file handle invalidated by crash"), std::string::npos);
  EXPECT_EQ(fs_.open_file_count(), 0u);
}

TEST_F(SimFilesystemTest, TryLockFileOfAHeldFileIsUnavailableAndTakesAFreeOne) {
  auto held = fs_.TryLockFile("/lock");
  ASSERT_TRUE(held.ok());
  EXPECT_TRUE(fs_.IsLocked("/lock"));
  EXPECT_EQ(fs_.TryLockFile("/lock").code(), Code::kUnavailable);  // no park: an answer
  held->reset();
  EXPECT_TRUE(fs_.TryLockFile("/lock").ok());
  EXPECT_EQ(fs_.TryLockFile("/missing/lock").code(), Code::kNotFound);
}

TEST_F(SimFilesystemTest, CrashDropsLocksAndOldLockObjectsStaySafe) {
  auto lock = fs_.LockFile("/lock");
  ASSERT_TRUE(lock.ok());
  ASSERT_TRUE(IsOk(fs_.SyncDir("/")));
  fs_.Crash();
  EXPECT_FALSE(fs_.IsLocked("/lock"));
  auto again = fs_.LockFile("/lock");  // would abort (deadlock) if still held
  ASSERT_TRUE(again.ok());
  lock->reset();  // the stale lock must not release the new one
  EXPECT_TRUE(fs_.IsLocked("/lock"));
}

TEST_F(SimFilesystemTest, DurableStateHashPredictsStateAfterCrash) {
  ASSERT_TRUE(IsOk(fs_.MakeDirsForTest("/a/d")));
  ASSERT_TRUE(IsOk(fs_.MakeDirsForTest("/b")));
  CreateFile(fs_, "/a/f", "synced");
  CreateFile(fs_, "/a/g", "unsynced", /*sync=*/false);
  ASSERT_TRUE(IsOk(fs_.SyncDir("/a")));
  ASSERT_TRUE(IsOk(fs_.Link("/a/f", "/b/f")));
  ASSERT_TRUE(IsOk(fs_.Rename("/a/d", "/b/d")));
  ASSERT_TRUE(IsOk(fs_.SyncDir("/b")));
  ASSERT_TRUE(IsOk(fs_.OverwriteFile("/a/f", "overwritten")));
  const uint64_t predicted = fs_.DurableStateHash();
  EXPECT_NE(predicted, fs_.StateHash());
  fs_.Crash();
  EXPECT_EQ(fs_.StateHash(), predicted);
  EXPECT_EQ(fs_.DurableStateHash(), predicted);
}

// ---------------------------------------------------------------------------
// Writable files

TEST_F(SimFilesystemTest, CloseIsIdempotentAndAppendAfterCloseFails) {
  auto file = fs_.NewWritableFile("/f", 0644);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(IsOk((*file)->Close()));
  EXPECT_TRUE(IsOk((*file)->Close()));
  EXPECT_EQ((*file)->Append("x").code(), Code::kInvalidArgument);
}

TEST(SimFilesystemLifetime, HandlesOutlivingTheFilesystemAreHarmless) {
  InlineExecutor exec;
  auto fs = std::make_unique<SimFilesystem>(&exec);
  auto file = fs->NewWritableFile("/f", 0644);
  auto lock = fs->LockFile("/lock");
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(lock.ok());
  fs.reset();
  EXPECT_EQ((*file)->Append("x").code(), Code::kIo);
  EXPECT_EQ((*file)->Close().code(), Code::kIo);
  lock->reset();  // must not touch freed memory (ASan would say)
}

// ---------------------------------------------------------------------------
// Locks

TEST_F(SimFilesystemTest, LockFileCreatesMissingFileAndHoldsIt) {
  auto lock = fs_.LockFile("/lock");
  ASSERT_TRUE(lock.ok());
  EXPECT_TRUE(fs_.IsLocked("/lock"));
  EXPECT_EQ(fs_.Inspect("/lock")->info.mode, 0600u);
  lock->reset();
  EXPECT_FALSE(fs_.IsLocked("/lock"));
  EXPECT_EQ(fs_.LockFile("/missing/lock").code(), Code::kNotFound);
}

TEST_F(SimFilesystemTest, LockSurvivesUnlinkByHolder) {
  auto lock = fs_.LockFile("/lock");
  ASSERT_TRUE(lock.ok());
  ASSERT_TRUE(IsOk(fs_.Unlink("/lock")));
  EXPECT_EQ(fs_.lock_count(), 1u);
  lock->reset();
  EXPECT_EQ(fs_.lock_count(), 0u);
}

TEST_F(SimFilesystemTest, KillProcessReleasesOnlyThatProcesssLocksAndFiles) {
  exec_.set_process(0);
  auto lock0 = fs_.LockFile("/l0");
  exec_.set_process(1);
  auto lock1 = fs_.LockFile("/l1");
  auto file1 = fs_.NewWritableFile("/f1", 0644);
  ASSERT_TRUE(lock0.ok() && lock1.ok() && file1.ok());
  fs_.KillProcess(1);
  EXPECT_TRUE(fs_.IsLocked("/l0"));
  EXPECT_FALSE(fs_.IsLocked("/l1"));
  EXPECT_EQ((*file1)->Append("x").code(), Code::kIo);
  EXPECT_TRUE(fs_.Exists("/f1"));  // the disk keeps everything
}

// Runs one actor on a second thread in strict alternation with the test's
// thread (the driver), so exactly one touches the filesystem at a time. The
// actor parks in WaitUntil and runs again when the driver calls Resume.
class TwoActorExecutor final : public Executor {
 public:
  ~TwoActorExecutor() override { Finish(); }

  // Runs the actor to its end and joins it. If it is still waiting (a test
  // failed), WaitUntil stops parking so it runs out rather than hangs.
  void Finish() {
    if (!actor_.joinable()) return;
    abandon_ = true;
    while (!done()) Resume();
    actor_.join();
  }

  void Yield(std::string_view) override {}
  void WaitUntil(const std::function<bool()>& ready, std::string_view) override {
    if (std::this_thread::get_id() != actor_id_) {
      if (!ready()) std::abort();  // the driver never waits
      return;
    }
    while (!ready() && !abandon_) {
      ++parks_;
      std::unique_lock<std::mutex> lock(mu_);
      actor_turn_ = false;
      cv_.notify_all();
      cv_.wait(lock, [this] { return actor_turn_; });
    }
  }
  void SleepUntil(int64_t) override {}
  int64_t NowMs() const override { return 0; }
  int CurrentProcess() const override {
    return std::this_thread::get_id() == actor_id_ ? actor_process_ : 0;
  }

  // Starts body as process `process` and runs it until it parks or ends.
  void Start(int process, std::function<void()> body) {
    actor_process_ = process;
    actor_ = std::thread([this, body = std::move(body)] {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return actor_turn_; });
      }
      body();
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      actor_turn_ = false;
      cv_.notify_all();
    });
    actor_id_ = actor_.get_id();
    Resume();
  }
  void Resume() {
    std::unique_lock<std::mutex> lock(mu_);
    actor_turn_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return !actor_turn_; });
  }
  bool done() const {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  int parks() const { return parks_; }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool actor_turn_ = false;
  bool done_ = false;
  bool abandon_ = false;
  int parks_ = 0;
  int actor_process_ = 1;
  std::thread::id actor_id_;
  std::thread actor_;
};

// Process 0 (the test) holds /lock; process 1 (the waiter) is parked in
// LockFile("/lock").
class SimFilesystemLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto held = fs_.LockFile("/lock");
    ASSERT_TRUE(held.ok());
    held_ = std::move(held).value();
    held_inode_ = fs_.Inspect("/lock")->info.inode;
    exec_.Start(1, [this] {
      auto lock = fs_.LockFile("/lock");
      ASSERT_TRUE(lock.ok()) << lock.status().ToString();
      waiter_lock_ = std::move(lock).value();
    });
    ASSERT_FALSE(exec_.done());
  }
  void TearDown() override { exec_.Finish(); }

  TwoActorExecutor exec_;
  SimFilesystem fs_{&exec_};
  std::unique_ptr<FileLock> held_;
  uint64_t held_inode_ = 0;
  std::unique_ptr<FileLock> waiter_lock_;
};

TEST_F(SimFilesystemLockTest, LockBlocksAnotherProcessUntilReleased) {
  EXPECT_EQ(exec_.parks(), 1);
  exec_.Resume();  // still held: parks again
  EXPECT_FALSE(exec_.done());
  held_.reset();
  exec_.Resume();
  ASSERT_TRUE(exec_.done());
  EXPECT_TRUE(waiter_lock_ != nullptr);
  EXPECT_TRUE(fs_.IsLocked("/lock"));
}

TEST_F(SimFilesystemLockTest, WaiterRetriesWhenLockFileIsReplaced) {
  // The holder replaces the lock file, then releases the old inode's lock.
  CreateFile(fs_, "/lock.new", "");
  ASSERT_TRUE(IsOk(fs_.Rename("/lock.new", "/lock")));
  held_.reset();
  exec_.Resume();
  ASSERT_TRUE(exec_.done());
  ASSERT_TRUE(waiter_lock_ != nullptr);
  EXPECT_NE(fs_.Inspect("/lock")->info.inode, held_inode_);
  EXPECT_TRUE(fs_.IsLocked("/lock"));  // the lock is on the file linked now
}

TEST_F(SimFilesystemLockTest, WaiterRetriesWhenHeldFileIsUnlinkedAndNewOneLocked) {
  // The holder unlinks the file it holds and locks a fresh one at the path.
  ASSERT_TRUE(IsOk(fs_.Unlink("/lock")));
  auto second = fs_.LockFile("/lock");
  ASSERT_TRUE(second.ok());
  held_.reset();  // the waiter wakes, finds the path names a locked file
  exec_.Resume();
  EXPECT_FALSE(exec_.done());
  second->reset();
  exec_.Resume();
  ASSERT_TRUE(exec_.done());
  EXPECT_TRUE(waiter_lock_ != nullptr);
}

TEST_F(SimFilesystemLockTest, KillingTheHolderWakesTheWaiter) {
  fs_.KillProcess(0);
  exec_.Resume();
  ASSERT_TRUE(exec_.done());
  EXPECT_TRUE(waiter_lock_ != nullptr);
  held_.reset();  // released by the kill already: must not release the waiter's
  EXPECT_TRUE(fs_.IsLocked("/lock"));
}

// ---------------------------------------------------------------------------
// Fault injection

struct InjectCase {
  FsOp op;
  Code code;
};

// Performs op once on a prepared tree and returns its status.
Status RunOp(SimFilesystem& fs, FsOp op) {
  switch (op) {
    case FsOp::kMakeDir: return fs.MakeDir("/newdir", 0755);
    case FsOp::kRemoveDir: return fs.RemoveDir("/emptydir");
    case FsOp::kUnlink: return fs.Unlink("/f");
    case FsOp::kLink: return fs.Link("/f", "/g");
    case FsOp::kSymlink: return fs.Symlink("/f", "/s");
    case FsOp::kRename: return fs.Rename("/f", "/h");
    case FsOp::kStat: return fs.Stat("/f").status();
    case FsOp::kReadFile: return fs.ReadFile("/f", 100).status();
    case FsOp::kSyncDir: return fs.SyncDir("/");
    case FsOp::kChmod: return fs.Chmod("/f", 0444);
    case FsOp::kNewWritableFile: return fs.NewWritableFile("/new", 0644).status();
    case FsOp::kLockFile: return fs.LockFile("/lock").status();
    default: return Status(Code::kInternal, "RunOp: op not covered");
  }
}

TEST(SimFilesystemFaultTest, PlanInjectsEveryCodeOnItsOps) {
  const std::vector<InjectCase> cases = {
      {FsOp::kMakeDir, Code::kNoSpace},
      {FsOp::kNewWritableFile, Code::kNoSpace},
      {FsOp::kLink, Code::kNoSpace},
      {FsOp::kSymlink, Code::kNoSpace},
      {FsOp::kStat, Code::kIo},
      {FsOp::kSyncDir, Code::kIo},
      {FsOp::kReadFile, Code::kIo},
      {FsOp::kLink, Code::kCrossDevice},
      {FsOp::kRename, Code::kCrossDevice},
      {FsOp::kLink, Code::kTooManyLinks},
      {FsOp::kUnlink, Code::kPermission},
      {FsOp::kRemoveDir, Code::kPermission},
      {FsOp::kChmod, Code::kPermission},
      {FsOp::kLockFile, Code::kNoSpace},
  };
  for (const InjectCase& c : cases) {
    SCOPED_TRACE(std::string(FsOpName(c.op)) + " " + std::string(CodeName(c.code)));
    InlineExecutor exec;
    SimFilesystem fs(&exec);
    ASSERT_TRUE(IsOk(fs.WriteFileForTest("/f", "x")));
    ASSERT_TRUE(IsOk(fs.MakeDirsForTest("/emptydir")));
    const uint64_t before = fs.StateHash();
    fs.SetFaultPlan(FaultPlan{.seed = 1, .rate = 1.0}.Only(c.op, {c.code}));
    Status st = RunOp(fs, c.op);
    EXPECT_EQ(st.code(), c.code) << st.ToString();
    EXPECT_NE(st.message().find("injected fault"), std::string::npos) << st.message();
    EXPECT_EQ(fs.StateHash(), before);  // failed before acting
    EXPECT_EQ(fs.FaultCounts(), (std::map<Code, uint64_t>{{c.code, 1}}));
  }
}

TEST(SimFilesystemFaultTest, PlanInjectsIoOnWritableFileCalls) {
  InlineExecutor exec;
  SimFilesystem fs(&exec);
  auto file = fs.NewWritableFile("/f", 0644);
  ASSERT_TRUE(file.ok());
  FaultPlan plan{.seed = 3, .rate = 1.0};
  plan.Only(FsOp::kAppend, {Code::kNoSpace}).Allow(FsOp::kSync, {Code::kIo});
  plan.Allow(FsOp::kClose, {Code::kIo});
  fs.SetFaultPlan(plan);
  EXPECT_EQ((*file)->Append("x").code(), Code::kNoSpace);
  EXPECT_EQ((*file)->Sync().code(), Code::kIo);
  EXPECT_EQ((*file)->Close().code(), Code::kIo);
  EXPECT_EQ(fs.open_file_count(), 0u);  // close released it anyway
  EXPECT_EQ(fs.Inspect("/f")->info.size_bytes, 0u);
}

// The outcome code of each of n Stat/Link calls under plan.
std::vector<Code> Outcomes(const FaultPlan& plan, int n) {
  InlineExecutor exec;
  SimFilesystem fs(&exec);
  EXPECT_TRUE(IsOk(fs.WriteFileForTest("/f", "x")));
  fs.SetFaultPlan(plan);
  std::vector<Code> codes;
  for (int i = 0; i < n; ++i) {
    Status st = (i % 2 == 0) ? fs.Stat("/f").status() : fs.Link("/f", "/l" + std::to_string(i));
    codes.push_back(st.code());
  }
  return codes;
}

TEST(SimFilesystemFaultTest, PlanIsReproducibleBySeedAndDiffersAcrossSeeds) {
  const FaultPlan plan_a{.seed = 42, .rate = 0.3};
  const FaultPlan plan_b{.seed = 43, .rate = 0.3};
  const std::vector<Code> a1 = Outcomes(plan_a, 200);
  const std::vector<Code> a2 = Outcomes(plan_a, 200);
  const std::vector<Code> b = Outcomes(plan_b, 200);
  EXPECT_EQ(a1, a2);
  EXPECT_NE(a1, b);
  const auto failures = std::count_if(a1.begin(), a1.end(), [](Code c) { return c != Code::kOk; });
  EXPECT_GT(failures, 30);  // about 60 expected at rate 0.3
  EXPECT_LT(failures, 100);
}

TEST(SimFilesystemFaultTest, PlanDrawsEveryAllowedCodeOfAnOp) {
  InlineExecutor exec;
  SimFilesystem fs(&exec);
  ASSERT_TRUE(IsOk(fs.WriteFileForTest("/f", "x")));
  fs.SetFaultPlan(FaultPlan{.seed = 7, .rate = 1.0});
  for (int i = 0; i < 200; ++i) (void)fs.Link("/f", "/g");
  const std::map<Code, uint64_t> counts = fs.FaultCounts();
  for (Code code :
       {Code::kNoSpace, Code::kIo, Code::kCrossDevice, Code::kTooManyLinks, Code::kPermission}) {
    EXPECT_GT(counts.count(code), 0u) << CodeName(code);
  }
  EXPECT_FALSE(fs.Exists("/g"));
}

TEST(SimFilesystemFaultTest, ZeroRateInjectsNothing) {
  InlineExecutor exec;
  SimFilesystem fs(&exec);
  fs.SetFaultPlan(FaultPlan{.seed = 7, .rate = 0.0});
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(fs.Stat("/").ok());
  EXPECT_TRUE(fs.FaultCounts().empty());
}

TEST(SimFilesystemFaultTest, CallHookFailsExactlyCallN) {
  InlineExecutor exec;
  SimFilesystem fs(&exec);
  std::vector<std::string> seen;
  fs.SetCallHook([&](const CallInfo& call) {
    seen.push_back(std::to_string(call.index) + " " + std::string(call.name) + " " +
                   std::string(call.path));
    return call.index == 2 ? Status(Code::kIo, "crash point") : Status::Ok();
  });
  EXPECT_TRUE(IsOk(fs.MakeDir("/a", 0755)));
  EXPECT_TRUE(IsOk(fs.MakeDir("/b", 0755)));
  EXPECT_EQ(fs.MakeDir("/c", 0755).code(), Code::kIo);
  EXPECT_TRUE(IsOk(fs.MakeDir("/d", 0755)));
  EXPECT_EQ(fs.call_count(), 4u);
  EXPECT_FALSE(fs.Exists("/c"));
  EXPECT_EQ(seen, (std::vector<std::string>{"0 fs.mkdir /a", "1 fs.mkdir /b", "2 fs.mkdir /c",
                                            "3 fs.mkdir /d"}));
}

TEST(SimFilesystemFaultTest, CallHookMayCrashTheFilesystem) {
  InlineExecutor exec;
  SimFilesystem fs(&exec);
  ASSERT_TRUE(IsOk(fs.MakeDir("/a", 0755)));
  fs.SetCallHook([&](const CallInfo& call) {
    if (call.op != FsOp::kSyncDir) return Status::Ok();
    fs.Crash();
    return Status(Code::kIo, "power lost");
  });
  EXPECT_EQ(fs.SyncDir("/").code(), Code::kIo);
  EXPECT_FALSE(fs.Exists("/a"));
}

// Records every scheduling point.
class RecordingExecutor final : public Executor {
 public:
  void Yield(std::string_view what) override { yields.emplace_back(what); }
  void WaitUntil(const std::function<bool()>& ready, std::string_view) override {
    if (!ready()) std::abort();
  }
  void SleepUntil(int64_t) override {}
  int64_t NowMs() const override { return 0; }
  int CurrentProcess() const override { return 0; }
  std::vector<std::string> yields;
};

TEST(SimFilesystemSchedulingTest, EveryCallYieldsFirstWithItsName) {
  RecordingExecutor exec;
  SimFilesystem fs(&exec);
  auto file = fs.NewWritableFile("/f", 0644);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(IsOk((*file)->Append("x")));
  ASSERT_TRUE(IsOk((*file)->Sync()));
  ASSERT_TRUE(IsOk((*file)->Close()));
  (void)fs.Stat("/f");
  (void)fs.Inspect("/f");  // inspection is not a scheduling point
  EXPECT_EQ(exec.yields,
            (std::vector<std::string>{"fs.create", "fs.append", "fs.sync", "fs.close", "fs.stat"}));
}

// ---------------------------------------------------------------------------
// Inspection

TEST_F(SimFilesystemTest, TotalBytesCountsHardlinkedInodeOnce) {
  ASSERT_TRUE(IsOk(fs_.MakeDir("/root", 0755)));
  ASSERT_TRUE(IsOk(fs_.MakeDir("/root/v1", 0755)));
  ASSERT_TRUE(IsOk(fs_.MakeDir("/root/v2", 0755)));
  CreateFile(fs_, "/root/v1/w", "0123456789");
  ASSERT_TRUE(IsOk(fs_.Link("/root/v1/w", "/root/v2/w")));
  ASSERT_TRUE(IsOk(fs_.Link("/root/v1/w", "/root/v1/w2")));
  CreateFile(fs_, "/root/v2/small", "12345");
  ASSERT_TRUE(IsOk(fs_.Symlink("/root/v1/w", "/root/v2/link")));
  EXPECT_EQ(fs_.TotalBytes("/root"), 15u);
  EXPECT_EQ(fs_.TotalBytes("/root/v2"), 15u);
  EXPECT_EQ(fs_.TotalBytes("/root/v1/w"), 10u);
  EXPECT_EQ(fs_.TotalBytes("/none"), 0u);
}

TEST_F(SimFilesystemTest, InspectAndWalkSeeTheTree) {
  ASSERT_TRUE(IsOk(fs_.MakeDir("/d", 0700)));
  CreateFile(fs_, "/d/f", "abc");
  ASSERT_TRUE(IsOk(fs_.Symlink("f", "/d/s")));
  auto view = fs_.Inspect("/d/f");
  ASSERT_TRUE(view.has_value());
  EXPECT_EQ(view->bytes, "abc");
  EXPECT_EQ(fs_.Inspect("/d/s")->target, "f");
  EXPECT_EQ(fs_.ListDir("/d"), (std::vector<std::string>{"f", "s"}));
  std::vector<std::string> walked;
  fs_.Walk("/", [&](const WalkEntry& e) { walked.emplace_back(e.path); });
  EXPECT_EQ(walked, (std::vector<std::string>{"/", "/d", "/d/f", "/d/s"}));
}

// Builds one small history; `variant` changes one thing at the end.
uint64_t HashAfterHistory(int variant) {
  InlineExecutor exec;
  SimFilesystem fs(&exec);
  EXPECT_TRUE(IsOk(fs.MakeDir("/a", 0755)));
  CreateFile(fs, "/a/f", "bytes");
  EXPECT_TRUE(IsOk(fs.Symlink("f", "/a/s")));
  switch (variant) {
    case 1: EXPECT_TRUE(IsOk(fs.Link("/a/f", "/a/g"))); break;
    case 2: CreateFile(fs, "/a/g", "bytes"); break;  // a copy, not a link
    case 3: EXPECT_TRUE(IsOk(fs.Chmod("/a/f", 0444))); break;
    case 4: EXPECT_TRUE(IsOk(fs.OverwriteFile("/a/f", "bytez"))); break;
    default: break;
  }
  return fs.StateHash();
}

TEST(SimFilesystemHashTest, StateHashEqualForEqualHistoriesAndDiffersAfterChange) {
  EXPECT_EQ(HashAfterHistory(0), HashAfterHistory(0));
  EXPECT_EQ(HashAfterHistory(1), HashAfterHistory(1));
  const std::vector<uint64_t> hashes = {HashAfterHistory(0), HashAfterHistory(1),
                                        HashAfterHistory(2), HashAfterHistory(3),
                                        HashAfterHistory(4)};
  for (size_t i = 0; i < hashes.size(); ++i) {
    for (size_t j = i + 1; j < hashes.size(); ++j) EXPECT_NE(hashes[i], hashes[j]) << i << " " << j;
  }
}

TEST(SimFilesystemHashTest, StateHashIgnoresInodeNumbering) {
  InlineExecutor exec;
  SimFilesystem one(&exec);
  SimFilesystem two(&exec);
  CreateFile(one, "/x", "1");
  CreateFile(one, "/y", "2");
  CreateFile(two, "/tmp", "");  // burns an inode id in two only
  ASSERT_TRUE(IsOk(two.Unlink("/tmp")));
  CreateFile(two, "/y", "2");
  CreateFile(two, "/x", "1");
  EXPECT_EQ(one.StateHash(), two.StateHash());
}

// ---------------------------------------------------------------------------
// Random histories

// Random calls over a small namespace (directories, files, hard links,
// symlinks to directories, renames, syncs, open files, crashes). After every
// call the incremental bookkeeping must match a recount, and every crash
// must land exactly on the state DurableStateHash predicted.
TEST(SimFilesystemRandomTest, BookkeepingMatchesRecountOverRandomHistories) {
  const std::vector<std::string> dirs = {"/", "/a", "/b", "/a/c", "/b/d"};
  const std::vector<std::string> names = {"x", "y", "c", "d", "a"};
  int crashes = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    InlineExecutor exec;
    SimFilesystemOptions options;
    options.persistence = kPersistenceModels[seed % 3];
    SimFilesystem fs(&exec, options);
    FaultRng rng(seed);
    Prng picks(seed);
    auto pick_dir = [&] { return dirs[rng.Next() % dirs.size()]; };
    auto pick_path = [&] {
      const std::string dir = pick_dir();
      return (dir == "/" ? std::string() : dir) + "/" + names[rng.Next() % names.size()];
    };
    std::vector<std::unique_ptr<WritableFile>> open_files;
    for (int step = 0; step < 300; ++step) {
      const uint64_t op = rng.Next() % 14;
      switch (op) {
        case 0:
        case 1: (void)fs.MakeDir(pick_path(), 0755); break;
        case 2: (void)fs.RemoveDir(pick_path()); break;
        case 3: (void)fs.Unlink(pick_path()); break;
        case 4: (void)fs.Link(pick_path(), pick_path()); break;
        case 5: (void)fs.Symlink(pick_dir(), pick_path()); break;
        case 6: (void)fs.Rename(pick_path(), pick_path()); break;
        case 7: {
          auto file = fs.NewWritableFile(pick_path(), 0644);
          if (!file.ok()) break;
          (void)(*file)->Append("bytes" + std::to_string(step));
          if (rng.Next() % 2 == 0) (void)(*file)->Sync();
          open_files.push_back(std::move(file).value());
          break;
        }
        case 8:
          if (open_files.empty()) break;
          (void)open_files.back()->Append("+");
          if (rng.Next() % 2 == 0) (void)open_files.back()->Close();
          open_files.pop_back();  // unclosed ones close in the destructor
          break;
        case 9: (void)fs.OverwriteFile(pick_path(), "over"); break;
        case 10:
        case 11: (void)fs.SyncDir(pick_dir()); break;
        case 12: (void)fs.LockFile(pick_path()); break;  // released at once
        case 13: {
          if (rng.Next() % 3 != 0) break;
          if (rng.Next() % 2 == 0) {
            const uint64_t predicted = fs.DurableStateHash();
            fs.Crash();
            ASSERT_EQ(fs.StateHash(), predicted) << "step " << step;
          } else {
            // A drawn state: its predicted hash is the tree it leaves.
            const CrashState state = fs.PickCrashState(picks);
            const uint64_t predicted = fs.CrashStateHash(state);
            fs.Crash(state);
            ASSERT_EQ(fs.StateHash(), predicted) << "step " << step << " state " << state.ToText();
          }
          ++crashes;
          break;
        }
      }
      ASSERT_TRUE(IsOk(fs.CheckConsistency())) << "step " << step << " op " << op;
    }
  }
  EXPECT_GT(crashes, 60);
}

// ---------------------------------------------------------------------------
// Persistence models

class PersistenceTest : public ::testing::Test {
 protected:
  std::unique_ptr<SimFilesystem> Make(PersistenceModel model) {
    SimFilesystemOptions options;
    options.persistence = model;
    return std::make_unique<SimFilesystem>(&exec_, options);
  }
  // Every enumerated state of fs's pending changes, each applied to a
  // fresh replay of history, as the set of paths (and file bytes) it keeps.
  std::set<std::string> Outcomes(PersistenceModel model,
                                 const std::function<void(SimFilesystem&)>& history) {
    auto fs = Make(model);
    history(*fs);
    const CrashStates states = fs->EnumerateCrashStates(1000);
    EXPECT_FALSE(states.bounded);
    std::set<std::string> outcomes;
    for (const CrashState& state : states.states) {
      auto replay = Make(model);
      history(*replay);
      const uint64_t predicted = replay->CrashStateHash(state);
      replay->Crash(state);
      EXPECT_EQ(replay->StateHash(), predicted) << state.ToText();
      std::string seen;
      replay->Walk("/", [&](const WalkEntry& e) {
        seen += std::string(e.path) + (e.info.type == FileType::kRegular ? "=" + std::string(e.bytes) : "") + " ";
      });
      outcomes.insert(seen);
    }
    return outcomes;
  }
  InlineExecutor exec_;
};

TEST_F(PersistenceTest, AdversarialKeepsAnySubsetOfOperationsOnDifferentEntries) {
  const auto outcomes = Outcomes(PersistenceModel::kAdversarial, [](SimFilesystem& fs) {
    ASSERT_TRUE(IsOk(fs.MakeDir("/a", 0755)));
    ASSERT_TRUE(IsOk(fs.MakeDir("/b", 0755)));
  });
  EXPECT_EQ(outcomes, (std::set<std::string>{"/ ", "/ /a ", "/ /b ", "/ /a /b "}));
}

TEST_F(PersistenceTest, AdversarialKeepsOperationsOnOneEntryInOrder) {
  // create, unlink, create again: the second file never without the unlink.
  const auto outcomes = Outcomes(PersistenceModel::kAdversarial, [](SimFilesystem& fs) {
    ASSERT_TRUE(IsOk(fs.WriteFileForTest("/f", "old")));
    ASSERT_TRUE(IsOk(fs.Unlink("/f")));
    CreateFile(fs, "/f", "new");
  });
  EXPECT_EQ(outcomes, (std::set<std::string>{"/ /f=old ", "/ ", "/ /f=new "}));
}

TEST_F(PersistenceTest, AdversarialKeepsAnyPrefixOfUnsyncedBytes) {
  auto fs = Make(PersistenceModel::kAdversarial);
  ASSERT_TRUE(IsOk(fs->WriteFileForTest("/f", "")));
  ASSERT_TRUE(IsOk(fs->AppendToExisting("/f", "abcd")));
  CrashState torn;
  torn.files = {2};
  fs->Crash(torn);
  EXPECT_EQ(Read(*fs, "/f"), "ab");
}

TEST_F(PersistenceTest, AdversarialSyncDirMakesOnlyThatDirectorysEntriesDurable) {
  auto fs = Make(PersistenceModel::kAdversarial);
  ASSERT_TRUE(IsOk(fs->MakeDirsForTest("/a")));
  ASSERT_TRUE(IsOk(fs->MakeDir("/a/x", 0755)));
  ASSERT_TRUE(IsOk(fs->MakeDir("/y", 0755)));
  ASSERT_TRUE(IsOk(fs->SyncDir("/a")));
  EXPECT_EQ(fs->pending_op_count(), 1u);
  fs->Crash();
  EXPECT_TRUE(fs->Exists("/a/x"));
  EXPECT_FALSE(fs->Exists("/y"));
}

TEST_F(PersistenceTest, NormalizeAddsTheOperationsAKeptOneNeeds) {
  // f renamed to g, then a new f: the new f never persists without the rename.
  auto history = [](SimFilesystem& fs) {
    CreateFile(fs, "/f", "A");
    ASSERT_TRUE(IsOk(fs.Rename("/f", "/g")));
    CreateFile(fs, "/f", "B");
  };
  EXPECT_EQ(Outcomes(PersistenceModel::kAdversarial, history),
            (std::set<std::string>{"/ ", "/ /f=A ", "/ /g=A ", "/ /f=B /g=A "}));
  auto fs = Make(PersistenceModel::kAdversarial);
  history(*fs);
  CrashState last_only;
  last_only.ops = "001";
  fs->Crash(last_only);
  EXPECT_EQ(Read(*fs, "/g"), "A");
  EXPECT_TRUE(IsOk(fs->CheckConsistency()));
}

TEST_F(PersistenceTest, OrderedMetadataKeepsAPrefixOfOperations) {
  const auto outcomes = Outcomes(PersistenceModel::kOrderedMetadata, [](SimFilesystem& fs) {
    ASSERT_TRUE(IsOk(fs.MakeDir("/a", 0755)));
    ASSERT_TRUE(IsOk(fs.MakeDir("/b", 0755)));
  });
  EXPECT_EQ(outcomes, (std::set<std::string>{"/ ", "/ /a ", "/ /a /b "}));  // never /b alone
}

TEST_F(PersistenceTest, OrderedMetadataNeverExposesDataNotWritten) {
  // Write-then-rename without fsync: the new name always has the bytes.
  const auto outcomes = Outcomes(PersistenceModel::kOrderedMetadata, [](SimFilesystem& fs) {
    CreateFile(fs, "/f.tmp", "data", /*sync=*/false);
    ASSERT_TRUE(IsOk(fs.Rename("/f.tmp", "/f")));
  });
  EXPECT_EQ(outcomes, (std::set<std::string>{"/ ", "/ /f.tmp= ", "/ /f.tmp=data ", "/ /f=data "}));
}

TEST_F(PersistenceTest, OrderedMetadataAnySyncCommitsEverything) {
  auto fs = Make(PersistenceModel::kOrderedMetadata);
  ASSERT_TRUE(IsOk(fs->MakeDirsForTest("/b")));
  ASSERT_TRUE(IsOk(fs->MakeDir("/a", 0755)));
  CreateFile(*fs, "/a/f", "bytes", /*sync=*/false);
  ASSERT_TRUE(IsOk(fs->SyncDir("/b")));
  EXPECT_EQ(fs->pending_op_count(), 0u);
  EXPECT_EQ(fs->pending_file_count(), 0u);
  fs->Crash();
  EXPECT_EQ(Read(*fs, "/a/f"), "bytes");
}

TEST_F(PersistenceTest, JournaledMakesEveryOperationDurableButNotBytes) {
  auto fs = Make(PersistenceModel::kJournaled);
  ASSERT_TRUE(IsOk(fs->MakeDir("/a", 0755)));
  CreateFile(*fs, "/a/f", "bytes", /*sync=*/false);
  ASSERT_TRUE(IsOk(fs->Rename("/a/f", "/g")));
  EXPECT_EQ(fs->pending_op_count(), 0u);
  const CrashStates states = fs->EnumerateCrashStates(10);
  EXPECT_EQ(states.states.size(), 3u);  // "/g" empty, torn, whole
  fs->Crash();
  EXPECT_TRUE(fs->Exists("/a"));
  EXPECT_EQ(Read(*fs, "/g"), "");
}

TEST_F(PersistenceTest, EnumerationStopsAtItsBoundAndSaysSo) {
  auto fs = Make(PersistenceModel::kAdversarial);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(IsOk(fs->MakeDir("/d" + std::to_string(i), 0755)));
  const CrashStates all = fs->EnumerateCrashStates(1000);
  EXPECT_EQ(all.states.size(), 64u);
  EXPECT_FALSE(all.bounded);
  const CrashStates some = fs->EnumerateCrashStates(10);
  EXPECT_EQ(some.states.size(), 10u);
  EXPECT_TRUE(some.bounded);
  EXPECT_EQ(some.states.front().ToText(), "o000000/f");  // nothing kept comes first
}

TEST_F(PersistenceTest, PickIsLegalAndReproducibleBySeed) {
  auto fs = Make(PersistenceModel::kAdversarial);
  ASSERT_TRUE(IsOk(fs->MakeDir("/a", 0755)));
  ASSERT_TRUE(IsOk(fs->RemoveDir("/a")));
  CreateFile(*fs, "/f", "bytes", /*sync=*/false);
  std::set<std::string> picks;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    Prng a(seed), b(seed);
    const CrashState pick = fs->PickCrashState(a);
    EXPECT_EQ(pick.ToText(), fs->PickCrashState(b).ToText());
    EXPECT_NE(pick.ops, "01") << "an unlink kept without its creation";
    picks.insert(pick.ToText());
  }
  EXPECT_GT(picks.size(), 3u);
}

TEST(CrashStateTest, TextRoundTripsAndBadTextIsAnError) {
  for (const char* text : {"c0", "c17", "o/f", "o0110/f3.0.12"}) {
    auto parsed = CrashState::Parse(text);
    ASSERT_TRUE(parsed.ok()) << text;
    EXPECT_EQ(parsed->ToText(), text);
  }
  for (const char* text : {"", "c", "cx", "o2/f", "o01", "o1/f1..2", "x"}) {
    EXPECT_EQ(CrashState::Parse(text).code(), Code::kInvalidArgument) << text;
  }
  EXPECT_EQ(ParsePersistenceModel("ext4").code(), Code::kInvalidArgument);
  EXPECT_EQ(*ParsePersistenceModel("ordered-metadata"), PersistenceModel::kOrderedMetadata);
}

}  // namespace
}  // namespace ms::sim
