// One copy per layer (issue 12): layer entries under blobs/, shared by the
// models that list them, on a real disk.
#include <gtest/gtest.h>

#include "core/fs_util.h"
#include "core/tests/test_support.h"

namespace ms::testing {
namespace {

class LayerStore : public VolumeTest {
 protected:
  // The digest of model's layer at filepath.
  static Digest LayerOf(const sim::BuiltModel& model, const std::string& filepath) {
    for (const sim::BuiltLayer& layer : model.layers) {
      if (layer.filepath == filepath) return Digest::Parse(layer.digest).value();
    }
    ADD_FAILURE() << "no layer at " << filepath;
    return Digest();
  }
  std::string RawPayload(const Digest& layer) {
    return manager_->store().LayerDataDir(LayerFormat::kRaw, layer) + "/" + kRawPayloadName;
  }
  uint64_t Inode(const std::string& path) { return posix_.Stat(path).value().inode; }
  bool Present(const std::string& path) { return Exists(&posix_, path).value(); }
  // Model a's next version: the same weights and README, another config.
  static sim::BuiltModel ModelA2() {
    return sim::ModelBuilder("model-a")
        .AddRawFile("weights/model.safetensors", std::string(4096, 'w'))
        .AddRawFile("config.json", "{\"arch\":\"a2\"}", std::string(sim::media_type::kWeightConfigRaw))
        .AddRawFile("README.md", "# model a\n", std::string(sim::media_type::kDocRaw))
        .Build();
  }

  const std::string kWeights = "weights/model.safetensors";
};

TEST_F(LayerStore, TwoModelsSharingALayerFetchItOnceAndShareOneInode) {
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  ASSERT_TRUE(Pull("vol2", "m", "models/b:v1").ok());
  const Digest weights = LayerOf(model_a_, kWeights);
  ASSERT_EQ(weights, LayerOf(model_b_, kWeights));
  EXPECT_EQ(registry_.BlobFetches(weights), 1u) << "I2 at blob level";
  const uint64_t inode = Inode(RawPayload(weights));
  EXPECT_EQ(Inode(manager_->ModelDir("vol1", "") + "/" + kWeights), inode);
  EXPECT_EQ(Inode(manager_->ModelDir("vol2", "m") + "/" + kWeights), inode);
  // The layer's, two models', two volumes'.
  EXPECT_EQ(posix_.Stat(RawPayload(weights))->link_count, 5u);
  EXPECT_EQ(PayloadBytes(&posix_, root_), 4096u + 12 + 10 + 12) << "each layer once";
}

TEST_F(LayerStore, ALayerStaysWhileAnotherModelListsItAndGoesWithTheLast) {
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  ASSERT_TRUE(Pull("vol2", "", "models/b:v1").ok());
  const Digest weights = LayerOf(model_a_, kWeights);
  const Digest readme = LayerOf(model_a_, "README.md");
  ASSERT_TRUE(manager_->DeleteModel("vol1", "").ok());
  EXPECT_EQ(Entries(), std::vector<Digest>{model_b_.manifest_digest}) << "a is collected";
  EXPECT_TRUE(Present(RawPayload(weights))) << "b still lists the weights";
  EXPECT_FALSE(Present(manager_->store().LayerEntryDir(LayerFormat::kRaw, readme))) << "only a listed README.md";
  EXPECT_EQ(ModelFiles("vol2", "").at(kWeights), std::string(4096, 'w'));
  ASSERT_TRUE(manager_->DeleteModel("vol2", "").ok());
  EXPECT_TRUE(Entries().empty());
  EXPECT_TRUE(posix_.ReadDir(root_ + "/blobs/raw/sha256").value().empty()) << "the last model took its layers";
}

TEST_F(LayerStore, ATagMoveThatKeepsMostLayersFetchesOnlyTheChangedOne) {
  const sim::BuiltModel a2 = ModelA2();
  registry_.Push("models/a", "latest", model_a_);
  ASSERT_TRUE(Pull("vol1", "", "models/a:latest").ok());
  registry_.Push("models/a", "latest", a2);  // the tag moves
  ASSERT_TRUE(Pull("vol1", "", "models/a:latest").ok());
  EXPECT_EQ(registry_.BlobFetches(LayerOf(a2, kWeights)), 1u);
  EXPECT_EQ(registry_.BlobFetches(LayerOf(a2, "README.md")), 1u);
  EXPECT_EQ(registry_.BlobFetches(LayerOf(a2, "config.json")), 1u);
  EXPECT_EQ(Entries(), std::vector<Digest>{a2.manifest_digest}) << "the old model is collected";
  EXPECT_FALSE(Present(manager_->store().LayerEntryDir(LayerFormat::kRaw, LayerOf(model_a_, "config.json"))))
      << "the old config, which nothing lists any more, is collected";
  EXPECT_EQ(ModelFiles("vol1", "").at("config.json"), "{\"arch\":\"a2\"}");
}

TEST_F(LayerStore, ATamperedLayerIsFetchedAgainForTheNextModel) {
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  const Digest weights = LayerOf(model_a_, kWeights);
  const uint64_t tampered = Inode(RawPayload(weights));
  ASSERT_TRUE(posix_.Chmod(RawPayload(weights), 0644).ok());
  ASSERT_TRUE(Pull("vol2", "", "models/b:v1").ok());
  EXPECT_EQ(registry_.BlobFetches(weights), 2u) << "a tampered payload is not linked";
  const auto fresh = posix_.Stat(manager_->ModelDir("vol2", "") + "/" + kWeights).value();
  EXPECT_NE(fresh.inode, tampered);
  EXPECT_EQ(fresh.mode & 0222, 0u);
  EXPECT_EQ(Inode(RawPayload(weights)), fresh.inode) << "the layer entry holds the fresh copy";
}

TEST_F(LayerStore, TheSweepCollectsALayerWhoseModelIsGone) {
  ASSERT_TRUE(Pull("vol1", "", "models/a:v1").ok());
  // A crash's leftover: a layer entry whose only ref names a model entry
  // that no longer exists.
  const Digest orphan = Digest::Sha256Of("orphan layer");
  const std::string entry = manager_->store().LayerEntryDir(LayerFormat::kRaw, orphan);
  ASSERT_TRUE(MakeDirs(&posix_, entry + "/data", 0755).ok());
  ASSERT_TRUE(MakeDirs(&posix_, entry + "/refs", 0755).ok());
  ASSERT_TRUE(WriteFileAtomic(&posix_, entry + "/data/file", "orphan layer", 0444).ok());
  ASSERT_TRUE(WriteFileAtomic(&posix_, entry + "/refs/gone", Digest::Sha256Of("gone").ToString(), 0644).ok());
  auto report = manager_->Sweep();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->layers_removed, 1u);
  EXPECT_FALSE(Present(entry));
  EXPECT_TRUE(Present(RawPayload(LayerOf(model_a_, kWeights)))) << "a's layers stay: vol1 holds a";
  EXPECT_EQ(report->layers_scanned, 4u);
}

}  // namespace
}  // namespace ms::testing
