// OCI image layouts: the committed fixtures load into the fake registry and
// resolve, a written layout reads back as written, and a broken layout
// directory gives an error naming the broken file.
#include "sim/registry/oci_layout.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "sim/registry/fake_registry.h"
#include "sim/registry/model_builder.h"

namespace ms::sim {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

fs::path FixturesDir() {
  const char* src = std::getenv("MS_SOURCE_DIR");  // set by ms_add_gtest
  return fs::path(src != nullptr ? src : ".") / "fixtures";
}

struct Fixture {
  std::string dir;  // relative to fixtures/
  std::vector<std::string> tags;
};

const std::vector<Fixture>& GoodFixtures() {
  static const std::vector<Fixture> kFixtures = {
      {"models/tiny-a", {"v1", "v2"}},
      {"models/tiny-b", {"v1"}},
      {"models/nested", {"v1"}},
      {"models/no-regular", {"v1"}},
  };
  return kFixtures;
}

const std::vector<std::string>& MalformedFixtures() {
  static const std::vector<std::string> kNames = {
      "bad-digest",     "dotdot-path",   "absolute-path",      "duplicate-path",
      "size-mismatch",  "digest-mismatch", "truncated-blob",   "tar-escape",
      "tar-symlink-escape", "unsupported-media"};
  return kNames;
}

Reference Ref(const std::string& text) {
  Result<Reference> ref = Reference::Parse(text);
  EXPECT_TRUE(ref.ok()) << ref.status().ToString();
  return std::move(ref).value();
}

// The manifest a fixture's tag names, fetched through the Registry port.
Json FetchManifestJson(FakeRegistry& registry, const std::string& ref_text) {
  CancelToken token;
  const Reference ref = Ref(ref_text);
  const Result<Digest> digest = registry.Resolve(token, ref);
  EXPECT_TRUE(digest.ok()) << ref_text << ": " << digest.status().ToString();
  if (!digest.ok()) return Json();
  const Result<std::string> bytes = registry.FetchManifest(token, ref, *digest);
  EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
  return bytes.ok() ? Json::parse(*bytes) : Json();
}

std::string WeightsDigestOf(const Json& manifest) {
  for (const Json& layer : manifest["layers"]) {
    if (layer["annotations"][std::string(kFilepathAnnotation)] == "weights/model.safetensors") {
      return layer["digest"];
    }
  }
  return "";
}

// A fresh directory under the system temp dir, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "oci_layout_test.XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void WriteText(const fs::path& file, const std::string& text) {
  std::ofstream(file, std::ios::binary) << text;
}

// --- Committed fixtures -------------------------------------------------------

TEST(OciLayoutFixturesTest, TheCommittedSetIsExactlyTheDocumentedOne) {
  std::set<std::string> expected;
  for (const Fixture& f : GoodFixtures()) expected.insert(f.dir);
  for (const std::string& name : MalformedFixtures()) expected.insert("malformed/" + name);
  std::set<std::string> found;
  for (const char* kind : {"models", "malformed"}) {
    for (const auto& entry : fs::directory_iterator(FixturesDir() / kind)) {
      found.insert(std::string(kind) + "/" + entry.path().filename().string());
    }
  }
  EXPECT_EQ(found, expected);
}

TEST(OciLayoutFixturesTest, EveryGoodFixtureLoadsAndEveryTagResolvesToFetchableContent) {
  for (const Fixture& fixture : GoodFixtures()) {
    SCOPED_TRACE(fixture.dir);
    FakeRegistry registry;
    const std::string repo = fs::path(fixture.dir).filename().string();
    const Status loaded = registry.LoadLayout((FixturesDir() / fixture.dir).string(), repo);
    ASSERT_TRUE(loaded.ok()) << loaded.ToString();
    for (const std::string& tag : fixture.tags) {
      const Json manifest = FetchManifestJson(registry, repo + ":" + tag);
      ASSERT_TRUE(manifest.is_object());
      EXPECT_EQ(manifest["artifactType"], media_type::kModelManifest);
      CancelToken token;
      std::vector<Json> descriptors = manifest["layers"];
      descriptors.push_back(manifest["config"]);
      for (const Json& d : descriptors) {
        const Digest digest = Digest::Parse(d["digest"].get<std::string>()).value();
        const Result<std::string> blob = registry.FetchBlob(token, Ref(repo + ":" + tag), digest);
        ASSERT_TRUE(blob.ok()) << blob.status().ToString();
        EXPECT_EQ(Digest::Sha256Of(*blob), digest) << "a good fixture serves verified bytes";
        EXPECT_EQ(blob->size(), d["size"].get<size_t>());
      }
    }
  }
}

TEST(OciLayoutFixturesTest, EveryMalformedFixtureLoadsWithItsTag) {
  for (const std::string& name : MalformedFixtures()) {
    SCOPED_TRACE(name);
    FakeRegistry registry;
    const Status loaded = registry.LoadLayout((FixturesDir() / "malformed" / name).string(), "bad");
    ASSERT_TRUE(loaded.ok()) << loaded.ToString();
    EXPECT_TRUE(registry.Resolve(CancelToken(), Ref("bad:v1")).ok());
  }
}

TEST(OciLayoutFixturesTest, TinyAAndTinyBShareOneWeightBlob) {
  FakeRegistry registry;
  ASSERT_TRUE(registry.LoadLayout((FixturesDir() / "models/tiny-a").string(), "tiny-a").ok());
  ASSERT_TRUE(registry.LoadLayout((FixturesDir() / "models/tiny-b").string(), "tiny-b").ok());
  const std::string a = WeightsDigestOf(FetchManifestJson(registry, "tiny-a:v1"));
  const std::string b = WeightsDigestOf(FetchManifestJson(registry, "tiny-b:v1"));
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, b);
}

TEST(OciLayoutFixturesTest, TinyAV2IsAnotherManifestWithTheSameWeights) {
  FakeRegistry registry;
  ASSERT_TRUE(registry.LoadLayout((FixturesDir() / "models/tiny-a").string(), "tiny-a").ok());
  const CancelToken token;
  EXPECT_NE(*registry.Resolve(token, Ref("tiny-a:v1")), *registry.Resolve(token, Ref("tiny-a:v2")));
  EXPECT_EQ(WeightsDigestOf(FetchManifestJson(registry, "tiny-a:v1")),
            WeightsDigestOf(FetchManifestJson(registry, "tiny-a:v2")));
}

TEST(OciLayoutFixturesTest, DigestMismatchFixtureServesBytesThatFailVerification) {
  FakeRegistry registry;
  const fs::path dir = FixturesDir() / "malformed/digest-mismatch";
  ASSERT_TRUE(registry.LoadLayout(dir.string(), "bad").ok());
  const std::string weights = WeightsDigestOf(FetchManifestJson(registry, "bad:v1"));
  const Digest digest = Digest::Parse(weights).value();
  const Result<std::string> blob = registry.FetchBlob(CancelToken(), Ref("bad:v1"), digest);
  ASSERT_TRUE(blob.ok());
  EXPECT_NE(Digest::Sha256Of(*blob), digest);
}

// --- Write and read -------------------------------------------------------------

TEST(OciLayoutTest, WrittenLayoutReadsBackAsWritten) {
  TempDir tmp;
  const BuiltModel v1 = ModelBuilder("m").AddRawFile("w", "1").Build();
  const BuiltModel v2 = ModelBuilder("m", "v2").AddRawFile("w", "2").Build();
  ASSERT_TRUE(WriteOciLayout(tmp.path().string(), {{"v1", v1}, {"v2", v2}, {"", v1}}).ok());
  const Result<OciLayout> layout = ReadOciLayout(tmp.path().string());
  ASSERT_TRUE(layout.ok()) << layout.status().ToString();
  const std::map<std::string, Digest> tags = {{"v1", v1.manifest_digest}, {"v2", v2.manifest_digest}};
  EXPECT_EQ(layout->tags, tags);
  EXPECT_EQ(layout->manifests.at(v2.manifest_digest), v2.manifest_bytes);
  EXPECT_EQ(layout->blobs.size(), 4u);  // two configs, two weights
  for (const auto& [digest, bytes] : v1.blobs) {
    EXPECT_EQ(layout->blobs.at(Digest::Parse(digest).value()), bytes);
  }
}

TEST(OciLayoutTest, TagGivenTwiceIsRefused) {
  TempDir tmp;
  const BuiltModel m = ModelBuilder("m").AddRawFile("w", "1").Build();
  const Status status = WriteOciLayout(tmp.path().string(), {{"v1", m}, {"v1", m}});
  EXPECT_EQ(status.code(), Code::kInvalidArgument);
}

TEST(OciLayoutTest, RefNameThatIsAWholeReferenceGivesItsTag) {
  TempDir tmp;
  const BuiltModel m = ModelBuilder("m").AddRawFile("w", "1").Build();
  ASSERT_TRUE(WriteOciLayout(tmp.path().string(), {{"placeholder", m}}).ok());
  Json index = Json::parse(std::ifstream(tmp.path() / "index.json"));
  index["manifests"][0]["annotations"][std::string(kRefNameAnnotation)] = "registry.local:5000/org/m:v9";
  WriteText(tmp.path() / "index.json", index.dump());
  const Result<OciLayout> layout = ReadOciLayout(tmp.path().string());
  ASSERT_TRUE(layout.ok()) << layout.status().ToString();
  EXPECT_TRUE(layout->tags.contains("v9"));
}

// --- Broken layout directories -------------------------------------------------

class OciLayoutBrokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(WriteOciLayout(tmp_.path().string(), {{"v1", model_}}).ok());
  }

  // Asserts reading fails with code and a message naming the file.
  void ExpectError(Code code, const fs::path& file) {
    const Result<OciLayout> layout = ReadOciLayout(tmp_.path().string());
    ASSERT_FALSE(layout.ok()) << "read a broken layout";
    EXPECT_EQ(layout.code(), code) << layout.status().ToString();
    EXPECT_NE(layout.status().message().find(file.string()), std::string::npos)
        << layout.status().ToString();
  }

  fs::path Blob(const std::string& digest_text) const {
    const Digest d = Digest::Parse(digest_text).value();
    return tmp_.path() / "blobs" / "sha256" / d.hex();
  }

  TempDir tmp_;
  const BuiltModel model_ =
      ModelBuilder("m").AddRawFile("w", "weights").AddRawFile("r", "readme").Build();
};

TEST_F(OciLayoutBrokenTest, MissingOciLayoutFileIsNotFound) {
  fs::remove(tmp_.path() / "oci-layout");
  ExpectError(Code::kNotFound, tmp_.path() / "oci-layout");
}

TEST_F(OciLayoutBrokenTest, OtherLayoutVersionIsUnsupported) {
  WriteText(tmp_.path() / "oci-layout", R"({"imageLayoutVersion":"2.0.0"})");
  ExpectError(Code::kUnsupported, tmp_.path() / "oci-layout");
}

TEST_F(OciLayoutBrokenTest, IndexThatIsNotJsonIsCorrupt) {
  WriteText(tmp_.path() / "index.json", "{not json");
  ExpectError(Code::kCorrupt, tmp_.path() / "index.json");
}

TEST_F(OciLayoutBrokenTest, IndexWithoutManifestsIsCorrupt) {
  WriteText(tmp_.path() / "index.json", R"({"schemaVersion":2})");
  ExpectError(Code::kCorrupt, tmp_.path() / "index.json");
}

TEST_F(OciLayoutBrokenTest, IndexDigestThatDoesNotParseIsCorrupt) {
  WriteText(tmp_.path() / "index.json", R"({"manifests":[{"digest":"sha256:../../etc"}]})");
  ExpectError(Code::kCorrupt, tmp_.path() / "index.json");
}

TEST_F(OciLayoutBrokenTest, NestedIndexIsUnsupported) {
  WriteText(tmp_.path() / "index.json",
            R"({"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json",)"
            R"("digest":")" + model_.manifest_digest.ToString() + R"("}]})");
  ExpectError(Code::kUnsupported, tmp_.path() / "index.json");
}

TEST_F(OciLayoutBrokenTest, MissingManifestBlobIsNotFoundNamingIt) {
  fs::remove(Blob(model_.manifest_digest.ToString()));
  ExpectError(Code::kNotFound, Blob(model_.manifest_digest.ToString()));
}

TEST_F(OciLayoutBrokenTest, ManifestThatIsNotJsonIsCorruptNamingIt) {
  WriteText(Blob(model_.manifest_digest.ToString()), "garbage");
  ExpectError(Code::kCorrupt, Blob(model_.manifest_digest.ToString()));
}

TEST_F(OciLayoutBrokenTest, MissingLayerBlobIsNotFoundNamingIt) {
  fs::remove(Blob(model_.layers[1].digest));
  ExpectError(Code::kNotFound, Blob(model_.layers[1].digest));
}

TEST_F(OciLayoutBrokenTest, MissingConfigBlobIsNotFoundNamingIt) {
  fs::remove(Blob(model_.config_digest.ToString()));
  ExpectError(Code::kNotFound, Blob(model_.config_digest.ToString()));
}

TEST_F(OciLayoutBrokenTest, RegistryLoadLayoutPassesTheErrorOnNamingTheRepository) {
  fs::remove(tmp_.path() / "index.json");
  FakeRegistry registry;
  const Status status = registry.LoadLayout(tmp_.path().string(), "models/m");
  EXPECT_EQ(status.code(), Code::kNotFound);
  EXPECT_NE(status.message().find("index.json"), std::string::npos) << status.ToString();
  EXPECT_NE(status.message().find("models/m"), std::string::npos) << status.ToString();
}

TEST_F(OciLayoutBrokenTest, RepeatedTagInTheIndexIsCorrupt) {
  Json index = Json::parse(std::ifstream(tmp_.path() / "index.json"));
  index["manifests"].push_back(index["manifests"][0]);
  WriteText(tmp_.path() / "index.json", index.dump());
  ExpectError(Code::kCorrupt, tmp_.path() / "index.json");
}

}  // namespace
}  // namespace ms::sim
