// ModelBuilder and the ustar writer: deterministic bytes, digests that are
// the sha256 of those bytes, the model-spec manifest shape, the escape
// hatches, and ustar headers a strict reader would accept.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "core/digest.h"
#include "sim/registry/model_builder.h"
#include "sim/registry/tar_writer.h"

namespace ms::sim {
namespace {

using Json = nlohmann::json;

BuiltModel SmallModel() {
  return ModelBuilder("small")
      .AddRawFile("weights/model.safetensors", "weights")
      .AddRawFile("README.md", "readme", std::string(media_type::kDocRaw))
      .Build();
}

Json ManifestJson(const BuiltModel& model) { return Json::parse(model.manifest_bytes); }

// --- ModelBuilder -----------------------------------------------------------

TEST(ModelBuilderTest, SameCallsGiveIdenticalBytes) {
  const BuiltModel a = SmallModel();
  const BuiltModel b = SmallModel();
  EXPECT_EQ(a.manifest_bytes, b.manifest_bytes);
  EXPECT_EQ(a.manifest_digest, b.manifest_digest);
  EXPECT_EQ(a.blobs, b.blobs);
}

TEST(ModelBuilderTest, ManifestDigestIsSha256OfManifestBytes) {
  const BuiltModel model = SmallModel();
  EXPECT_EQ(model.manifest_digest, Digest::Sha256Of(model.manifest_bytes));
}

TEST(ModelBuilderTest, EveryBlobIsStoredUnderTheSha256OfItsBytes) {
  const BuiltModel model = SmallModel();
  ASSERT_EQ(model.blobs.size(), 3u);  // config + two layers
  for (const auto& [digest, bytes] : model.blobs) {
    EXPECT_EQ(digest, Digest::Sha256Of(bytes).ToString());
  }
  EXPECT_EQ(model.blobs.at(model.config_digest.ToString()), model.config_bytes);
}

TEST(ModelBuilderTest, ManifestBytesAreCompactWithModelSpecKeysInOrder) {
  const BuiltModel model = ModelBuilder("m").AddRawFile("w.bin", "abc").Build();
  const std::string layer = Digest::Sha256Of("abc").ToString();
  const std::string expected =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("artifactType":"application/vnd.cncf.model.manifest.v1+json",)"
      R"("config":{"mediaType":"application/vnd.cncf.model.config.v1+json","digest":")" +
      model.config_digest.ToString() + R"(","size":)" + std::to_string(model.config_bytes.size()) +
      R"(},"layers":[{"mediaType":"application/vnd.cncf.model.weight.v1.raw","digest":")" +
      layer + R"(","size":3,"annotations":{"org.cncf.model.filepath":"w.bin"}}]})";
  EXPECT_EQ(model.manifest_bytes, expected);
}

TEST(ModelBuilderTest, ConfigNamesTheModelAndListsLayerDigestsAsDiffIds) {
  const BuiltModel model = SmallModel();
  const Json config = Json::parse(model.config_bytes);
  EXPECT_EQ(config["descriptor"]["name"], "small");
  EXPECT_EQ(config["descriptor"]["version"], "v1");
  EXPECT_EQ(config["modelfs"]["type"], "layers");
  EXPECT_EQ(config["modelfs"]["diffIds"],
            Json::array({Digest::Sha256Of("weights").ToString(), Digest::Sha256Of("readme").ToString()}));
}

TEST(ModelBuilderTest, LayerDescriptorsRecordMediaTypeSizeAndFilepath) {
  const Json layers = ManifestJson(SmallModel())["layers"];
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[1]["mediaType"], media_type::kDocRaw);
  EXPECT_EQ(layers[1]["size"], 6);
  EXPECT_EQ(layers[1]["annotations"][std::string(kFilepathAnnotation)], "README.md");
}

TEST(ModelBuilderTest, SameWeightsInTwoModelsShareOneDigest) {
  const BuiltModel a = ModelBuilder("a").AddRawFile("w", "shared").Build();
  const BuiltModel b = ModelBuilder("b").AddRawFile("w", "shared").Build();
  EXPECT_NE(a.manifest_digest, b.manifest_digest);
  EXPECT_EQ(a.layers[0].digest, b.layers[0].digest);
}

// --- LayerPayloadBytes ------------------------------------------------------

TEST(LayerPayloadBytesTest, ARawLayerPutsItsSizeOnDisk) {
  const BuiltModel model = ModelBuilder("raw").AddRawFile("w.bin", std::string(40, 'w')).Build();
  const auto bytes = LayerPayloadBytes(model);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(*bytes, (std::map<std::string, uint64_t>{{model.layers[0].digest, 40}}));
}

TEST(LayerPayloadBytesTest, ATarLayerPutsItsRegularFilesBytesOnDiskNotTheArchives) {
  const BuiltModel model = ModelBuilder("tar")
                               .AddTarLayer("code", {TarEntry::Directory("code"), TarEntry::File("code/a.py", "12345"),
                                                     TarEntry::Symlink("code/b", "a.py"),
                                                     TarEntry::File("code/c.py", "1234567", 0755)},
                                            std::string(media_type::kCodeTar))
                               .Build();
  const auto bytes = LayerPayloadBytes(model);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(bytes->at(model.layers[0].digest), 12u);  // 5 + 7; the archive is 2.5 KiB
}

TEST(LayerPayloadBytesTest, ALayerListedTwiceIsOneBlobCountedOnce) {
  const BuiltModel model =
      ModelBuilder("twice").AddRawFile("a.bin", std::string(30, 'x')).AddRawFile("b.bin", std::string(30, 'x')).Build();
  ASSERT_EQ(model.layers[0].digest, model.layers[1].digest);
  const auto bytes = LayerPayloadBytes(model);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  EXPECT_EQ(*bytes, (std::map<std::string, uint64_t>{{model.layers[0].digest, 30}}));
}

TEST(ModelBuilderTest, SetConfigBytesReplacesTheConfigBlob) {
  const BuiltModel model = ModelBuilder("m").AddRawFile("w", "x").SetConfigBytes("{}").Build();
  EXPECT_EQ(model.config_bytes, "{}");
  EXPECT_EQ(ManifestJson(model)["config"]["digest"], Digest::Sha256Of("{}").ToString());
}

TEST(ModelBuilderTest, OverrideDigestWritesTheTextAndServesUnderIt) {
  const BuiltModel model =
      ModelBuilder("m").AddRawFile("w", "bytes").OverrideDigest("sha256:XYZ").Build();
  EXPECT_EQ(ManifestJson(model)["layers"][0]["digest"], "sha256:XYZ");
  ASSERT_TRUE(model.blobs.contains("sha256:XYZ"));
  EXPECT_EQ(model.blobs.at("sha256:XYZ"), "bytes");
}

TEST(ModelBuilderTest, OverrideSizeChangesOnlyTheDescriptor) {
  const BuiltModel model = ModelBuilder("m").AddRawFile("w", "bytes").OverrideSize(99).Build();
  EXPECT_EQ(ManifestJson(model)["layers"][0]["size"], 99);
  EXPECT_EQ(model.blobs.at(model.layers[0].digest), "bytes");
}

TEST(ModelBuilderTest, OverrideFilepathAndMediaTypeRewriteTheLastLayer) {
  const BuiltModel model = ModelBuilder("m")
                               .AddRawFile("first", "1")
                               .AddRawFile("second", "2")
                               .OverrideFilepath("../escape")
                               .OverrideMediaType("application/vnd.example.unknown")
                               .Build();
  const Json layers = ManifestJson(model)["layers"];
  EXPECT_EQ(layers[0]["annotations"][std::string(kFilepathAnnotation)], "first");
  EXPECT_EQ(layers[1]["annotations"][std::string(kFilepathAnnotation)], "../escape");
  EXPECT_EQ(layers[1]["mediaType"], "application/vnd.example.unknown");
}

TEST(ModelBuilderTest, RemoveFilepathDropsTheAnnotations) {
  const BuiltModel model = ModelBuilder("m").AddRawFile("w", "x").RemoveFilepath().Build();
  EXPECT_FALSE(ManifestJson(model)["layers"][0].contains("annotations"));
}

TEST(ModelBuilderTest, ServeBytesServesOtherBytesUnderTheOriginalDigest) {
  const BuiltModel model = ModelBuilder("m").AddRawFile("w", "original").ServeBytes("orig").Build();
  const BuiltLayer& layer = model.layers[0];
  EXPECT_EQ(layer.digest, Digest::Sha256Of("original").ToString());
  EXPECT_EQ(layer.size_bytes, 8);
  EXPECT_EQ(layer.content, "original");
  EXPECT_EQ(model.blobs.at(layer.digest), "orig");
}

TEST(ModelBuilderDeathTest, OverrideBeforeAnyLayerAborts) {
  EXPECT_DEATH(ModelBuilder("m").OverrideSize(1), "before any layer");
}

TEST(ModelBuilderTest, TarLayerBlobIsTheArchiveAtTheAnnotatedPath) {
  const std::vector<TarEntry> entries = {TarEntry::Directory("d"), TarEntry::File("d/f", "hi")};
  const BuiltModel model = ModelBuilder("m").AddTarLayer("d", entries).Build();
  const Result<std::string> archive = WriteTar(entries);
  ASSERT_TRUE(archive.ok());
  EXPECT_EQ(model.layers[0].content, *archive);
  EXPECT_EQ(model.layers[0].media_type, media_type::kDocTar);
  EXPECT_EQ(model.layers[0].filepath, "d");
}

// --- ustar writer -----------------------------------------------------------

// The header fields a strict ustar reader looks at, decoded by hand so the
// test does not share code with the writer.
struct Header {
  std::string name, linkname, magic, version, uname, gname, prefix;
  uint64_t mode = 0, uid = 0, gid = 0, size = 0, mtime = 0, checksum = 0;
  char typeflag = 0;
  uint64_t computed_checksum = 0;
};

std::string Field(const std::string& block, size_t offset, size_t width) {
  const std::string raw = block.substr(offset, width);
  return raw.substr(0, raw.find('\0'));
}

uint64_t Octal(const std::string& block, size_t offset, size_t width) {
  return std::stoull(Field(block, offset, width), nullptr, 8);
}

Header ParseHeader(const std::string& archive, size_t block_index) {
  const std::string block = archive.substr(block_index * kTarBlockBytes, kTarBlockBytes);
  Header h;
  h.name = Field(block, 0, 100);
  h.mode = Octal(block, 100, 8);
  h.uid = Octal(block, 108, 8);
  h.gid = Octal(block, 116, 8);
  h.size = Octal(block, 124, 12);
  h.mtime = Octal(block, 136, 12);
  h.checksum = Octal(block, 148, 8);
  h.typeflag = block[156];
  h.linkname = Field(block, 157, 100);
  h.magic = block.substr(257, 6);
  h.version = block.substr(263, 2);
  h.uname = Field(block, 265, 32);
  h.gname = Field(block, 297, 32);
  h.prefix = Field(block, 345, 155);
  for (size_t i = 0; i < kTarBlockBytes; ++i) {
    const bool in_checksum = i >= 148 && i < 156;
    h.computed_checksum += in_checksum ? ' ' : static_cast<unsigned char>(block[i]);
  }
  return h;
}

std::string MustWrite(const std::vector<TarEntry>& entries) {
  Result<std::string> archive = WriteTar(entries);
  EXPECT_TRUE(archive.ok()) << archive.status().ToString();
  return archive.ok() ? *archive : std::string();
}

TEST(ModelBuilderTarTest, FileHeaderHasUstarFieldsAndAValidChecksum) {
  const std::string archive = MustWrite({TarEntry::File("dir/f.txt", "hello", 0640)});
  const Header h = ParseHeader(archive, 0);
  EXPECT_EQ(h.name, "dir/f.txt");
  EXPECT_EQ(h.mode, 0640u);
  EXPECT_EQ(h.uid, 0u);
  EXPECT_EQ(h.gid, 0u);
  EXPECT_EQ(h.size, 5u);
  EXPECT_EQ(h.mtime, 0u);
  EXPECT_EQ(h.typeflag, '0');
  EXPECT_EQ(h.magic, std::string("ustar\0", 6));
  EXPECT_EQ(h.version, "00");
  EXPECT_EQ(h.uname, "");
  EXPECT_EQ(h.gname, "");
  EXPECT_EQ(h.checksum, h.computed_checksum);
  EXPECT_EQ(archive.substr(kTarBlockBytes, 5), "hello");
}

TEST(ModelBuilderTarTest, ContentIsPaddedAndTheArchiveEndsWithTwoZeroBlocks) {
  const std::string archive = MustWrite({TarEntry::File("f", std::string(513, 'x'))});
  // header + two content blocks + two end blocks
  ASSERT_EQ(archive.size(), 5 * kTarBlockBytes);
  EXPECT_EQ(archive.substr(kTarBlockBytes + 513, kTarBlockBytes - 1),
            std::string(kTarBlockBytes - 1, '\0'));
  EXPECT_EQ(archive.substr(3 * kTarBlockBytes), std::string(2 * kTarBlockBytes, '\0'));
}

TEST(ModelBuilderTarTest, DirectoryGetsTypeflag5AndATrailingSlash) {
  const Header h = ParseHeader(MustWrite({TarEntry::Directory("a/b")}), 0);
  EXPECT_EQ(h.typeflag, '5');
  EXPECT_EQ(h.name, "a/b/");
  EXPECT_EQ(h.mode, 0755u);
  EXPECT_EQ(h.size, 0u);
}

TEST(ModelBuilderTarTest, SymlinkCarriesItsTargetInLinkname) {
  const Header h = ParseHeader(MustWrite({TarEntry::Symlink("latest", "a/b")}), 0);
  EXPECT_EQ(h.typeflag, '2');
  EXPECT_EQ(h.linkname, "a/b");
  EXPECT_EQ(h.checksum, h.computed_checksum);
}

TEST(ModelBuilderTarTest, HostilePathsAreWrittenVerbatim) {
  const std::string archive =
      MustWrite({TarEntry::File("../../x", "e"), TarEntry::Symlink("etc", "/etc")});
  EXPECT_EQ(ParseHeader(archive, 0).name, "../../x");
  EXPECT_EQ(ParseHeader(archive, 2).linkname, "/etc");
}

TEST(ModelBuilderTarTest, PathLongerThanNameFieldSplitsIntoPrefix) {
  const std::string dir(120, 'd');
  const Header h = ParseHeader(MustWrite({TarEntry::File(dir + "/file", "")}), 0);
  EXPECT_EQ(h.prefix, dir);
  EXPECT_EQ(h.name, "file");
}

TEST(ModelBuilderTarTest, UnencodablePathIsInvalidArgumentNamingTheEntry) {
  const std::string path(120, 'p');  // no '/' to split at
  const Result<std::string> archive = WriteTar({TarEntry::File(path, "")});
  ASSERT_FALSE(archive.ok());
  EXPECT_EQ(archive.code(), Code::kInvalidArgument);
  EXPECT_NE(archive.status().message().find(path), std::string::npos);
}

TEST(ModelBuilderTarTest, SameEntriesGiveIdenticalArchives) {
  const std::vector<TarEntry> entries = {TarEntry::Directory("a"), TarEntry::File("a/f", "1"),
                                         TarEntry::Symlink("l", "a")};
  EXPECT_EQ(MustWrite(entries), MustWrite(entries));
}

}  // namespace
}  // namespace ms::sim
