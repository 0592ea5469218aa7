// The invariant checker's reach (I1): which filesystem calls make it judge a
// record again. A record is judged after a step that touched it; "touched"
// must include changes a volume sees without a path under its record: bytes
// written in place into an inode another name links (a store file under a
// volume's hardlink), and changes under the directory a volume's model/
// symlink names (a design's shared content).
#include "sim/checking/invariant_checker.h"

#include <gtest/gtest.h>

#include "core/volume_status.h"
#include "sim/filesystem/sim_filesystem.h"
#include "sim/scheduling/executor.h"

namespace ms::sim {
namespace {

constexpr char kRecord[] = "/r/volumes/s0";
constexpr char kDigest[] = "sha256:aa";

class CheckerReachTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ExpectedModel model;
    model.full["f"] = TreeNode{FileType::kRegular, "bytes"};
    model.partial = model.full;
    checker_.AddExpected(kDigest, model);
    fs_.SetCallHook([this](const CallInfo& call) {
      checker_.OnCall(call);
      return Status::Ok();
    });
    ASSERT_TRUE(fs_.MakeDirsForTest("/r/store/e").ok());
    auto file = fs_.NewWritableFile("/r/store/e/f", 0644);
    ASSERT_TRUE(file.ok());
    store_file_ = std::move(file).value();
    ASSERT_TRUE(store_file_->Append("bytes").ok());
    ASSERT_TRUE(fs_.MakeDirsForTest(kRecord).ok());
    VolumeStatus status;
    status.volume = "s0";
    status.reference = "models/a:v1";
    status.manifest = kDigest;
    status.cache_key = kDigest;
    status.state = VolumeState::kSucceeded;
    status.partial = true;  // judged on its model alone, not on a store entry
    ASSERT_TRUE(fs_.WriteFileForTest(std::string(kRecord) + "/status.json", EncodeStatus(status)).ok());
  }

  // The record judged once (as after the step that published it).
  void Published() {
    checker_.MarkAllDirty();
    checker_.AfterStep(1);
    ASSERT_FALSE(checker_.Failed("I1 no-referenced-loss")) << checker_.violations().front().detail;
  }

  InlineExecutor exec_;
  SimFilesystem fs_{&exec_};
  InvariantChecker checker_{&fs_, "/r", {kRecord}};
  std::unique_ptr<WritableFile> store_file_;  // still open: the store writes on
};

TEST_F(CheckerReachTest, BytesAppendedToAHardlinkedStoreFileAreJudgedAtThatStep) {
  ASSERT_TRUE(fs_.MakeDir(std::string(kRecord) + "/model", 0755).ok());
  ASSERT_TRUE(fs_.Link("/r/store/e/f", std::string(kRecord) + "/model/f").ok());
  Published();
  // The store writes on into a file it already linked: the volume's
  // hardlink shows it, though no path under the record changed.
  ASSERT_TRUE(store_file_->Append(" more").ok());
  checker_.AfterStep(2);
  ASSERT_TRUE(checker_.Failed("I1 no-referenced-loss"));
  EXPECT_EQ(checker_.violations().front().step, 2u);
}

TEST_F(CheckerReachTest, AppendingToAFileOfOneNameJudgesNothing) {
  ASSERT_TRUE(fs_.MakeDirsForTest(std::string(kRecord) + "/model").ok());
  ASSERT_TRUE(fs_.WriteFileForTest(std::string(kRecord) + "/model/f", "bytes").ok());
  Published();
  ASSERT_TRUE(store_file_->Append(" more").ok());  // no volume links it
  checker_.AfterStep(2);
  EXPECT_FALSE(checker_.Failed("I1 no-referenced-loss"));
}

TEST_F(CheckerReachTest, AChangeUnderTheDirectoryAModelSymlinkNamesIsJudgedAtThatStep) {
  ASSERT_TRUE(fs_.Symlink("/r/store/e", std::string(kRecord) + "/model").ok());
  Published();
  // A design's GC removes the shared content a volume's view points into.
  ASSERT_TRUE(fs_.Unlink("/r/store/e/f").ok());
  checker_.AfterStep(2);
  ASSERT_TRUE(checker_.Failed("I1 no-referenced-loss"));
  EXPECT_EQ(checker_.violations().front().step, 2u);
}

}  // namespace
}  // namespace ms::sim
