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

// The footprint's blob-level figure (I3's report, DESIGN §2.8): what a store
// keyed by layer digest keeps for the active records. Two manifests, a
// version pair: one weight layer (100 bytes) in common, a config.json each.
class BlobFootprintTest : public ::testing::Test {
 protected:
  static constexpr char kV1[] = "sha256:v1";
  static constexpr char kV2[] = "sha256:v2";

  void SetUp() override {
    checker_.SetStoreChecks(false);  // no store layout: the records alone
    checker_.AddExpected(kV1, Model("{\"v\":1}", "sha256:config1"));
    checker_.AddExpected(kV2, Model("{\"v\":22}", "sha256:config2"));
  }

  static ExpectedModel Model(const std::string& config, const std::string& config_layer) {
    ExpectedModel m;
    m.full["weights/w.bin"] = TreeNode{FileType::kRegular, std::string(100, 'w')};
    m.full["config.json"] = TreeNode{FileType::kRegular, config};
    m.partial["config.json"] = m.full["config.json"];  // what a pull without weights keeps, here
    m.payload_bytes = 100 + config.size();
    m.layer_payload_bytes = {{"sha256:weights", 100}, {config_layer, config.size()}};
    return m;
  }

  void Record(const std::string& dir, const std::string& manifest, bool partial) {
    VolumeStatus status;
    status.volume = dir.substr(dir.rfind('/') + 1);
    status.reference = "models/v:x";
    status.manifest = manifest;
    status.cache_key = partial ? "" : manifest;
    status.state = VolumeState::kSucceeded;
    status.partial = partial;
    ASSERT_TRUE(fs_.MakeDirsForTest(dir).ok());
    ASSERT_TRUE(fs_.WriteFileForTest(dir + "/status.json", EncodeStatus(status)).ok());
  }

  InlineExecutor exec_;
  SimFilesystem fs_{&exec_};
  InvariantChecker checker_{&fs_, "/r", {"/r/volumes/s0", "/r/volumes/s1", "/r/volumes/s2"}};
};

TEST_F(BlobFootprintTest, ALayerTwoActiveManifestsListIsCountedOnce) {
  Record("/r/volumes/s0", kV1, false);
  Record("/r/volumes/s1", kV2, false);
  const Footprint fp = checker_.CheckQuiescent(1);
  EXPECT_EQ(fp.unique_blob_bytes, 100u + 7 + 8);  // the manifest-level figure is 107 + 108
}

TEST_F(BlobFootprintTest, APartialVolumeAddsItsOwnFilesAsInUniqueReferenced) {
  Record("/r/volumes/s0", kV1, false);
  Record("/r/volumes/s2", kV2, true);
  const Footprint fp = checker_.CheckQuiescent(1);
  EXPECT_EQ(fp.unique_blob_bytes, 107u + 8);
}

TEST_F(BlobFootprintTest, AnExpectationWithoutLayerBytesCountsItsPayloadAsOneBlob) {
  ExpectedModel m = Model("{\"v\":3}", "sha256:config3");
  m.layer_payload_bytes.clear();
  checker_.AddExpected("sha256:v3", m);
  Record("/r/volumes/s0", kV1, false);
  Record("/r/volumes/s1", "sha256:v3", false);
  const Footprint fp = checker_.CheckQuiescent(1);
  EXPECT_EQ(fp.unique_blob_bytes, 107u + 107);
}

// I3 at blob level: two manifests sharing a layer, each with a volume.
class BlobLevelI3Test : public BlobFootprintTest {
 protected:
  void Model(const std::string& record, const std::string& config) {
    ASSERT_TRUE(fs_.MakeDirsForTest(record + "/model/weights").ok());
    ASSERT_TRUE(fs_.WriteFileForTest(record + "/model/config.json", config).ok());
  }
  // The first I3 violation's detail, "" if none (the fixture takes no
  // snapshot of the outside, so I5 is not this test's).
  std::string I3Detail() {
    for (const Violation& v : checker_.violations()) {
      if (v.invariant == "I3 footprint") return v.detail;
    }
    return "";
  }
};

TEST_F(BlobLevelI3Test, ALayerTwoManifestsShareKeptOnceHolds) {
  Record("/r/volumes/s0", kV1, false);
  Record("/r/volumes/s1", kV2, false);
  Model("/r/volumes/s0", "{\"v\":1}");
  Model("/r/volumes/s1", "{\"v\":22}");
  ASSERT_TRUE(fs_.WriteFileForTest("/r/volumes/s0/model/weights/w.bin", std::string(100, 'w')).ok());
  ASSERT_TRUE(fs_.Link("/r/volumes/s0/model/weights/w.bin", "/r/volumes/s1/model/weights/w.bin").ok());
  const Footprint fp = checker_.CheckQuiescent(1);
  EXPECT_EQ(fp.bytes_on_disk, 115u);
  EXPECT_EQ(I3Detail(), "");
}

TEST_F(BlobLevelI3Test, ALayerTwoManifestsShareKeptTwiceFailsThoughOneCopyPerManifestWouldPass) {
  Record("/r/volumes/s0", kV1, false);
  Record("/r/volumes/s1", kV2, false);
  Model("/r/volumes/s0", "{\"v\":1}");
  Model("/r/volumes/s1", "{\"v\":22}");
  for (const char* record : {"/r/volumes/s0", "/r/volumes/s1"}) {
    ASSERT_TRUE(fs_.WriteFileForTest(std::string(record) + "/model/weights/w.bin", std::string(100, 'w')).ok());
  }
  const Footprint fp = checker_.CheckQuiescent(1);
  EXPECT_EQ(fp.bytes_on_disk, 215u);
  EXPECT_EQ(fp.unique_referenced, 215u);  // a manifest-level store's figure: it passed there
  EXPECT_NE(I3Detail().find("a copy too many"), std::string::npos) << I3Detail();
}

}  // namespace
}  // namespace ms::sim
