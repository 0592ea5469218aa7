// DESIGN §5: every bad input gets a clear, typed error naming the input,
// writes nothing outside the root, and leaves nothing half-done inside it.
#include <gtest/gtest.h>

#include <cstdlib>

#include "core/tests/test_support.h"
#include "sim/registry/hostile_models.h"

namespace ms::testing {
namespace {

class BadInput : public VolumeTest {
 protected:
  // Nothing half-done: no entry, no staging, no model dir, no payload.
  void ExpectNothingHalfDone(const std::string& volume) {
    EXPECT_TRUE(Entries().empty());
    ExpectNoStaging();
    EXPECT_FALSE(Exists(&posix_, manager_->ModelDir(volume, "")).value());
    EXPECT_EQ(PayloadBytes(&posix_, root_), 0u);
  }
};

TEST_F(BadInput, AReferenceWithAMalformedDigestNamesIt) {
  for (const std::string& ref : std::vector<std::string>{"models/a@sha256:XYZ", "models/a@md5:abcd",
                                "models/a@sha256:" + std::string(64, 'A'),
                                "models/a@sha256:../../etc/passwd"}) {
    auto result = Pull("vol1", "", ref);
    ASSERT_FALSE(result.ok()) << ref;
    EXPECT_EQ(result.code(), Code::kInvalidArgument) << ref;
    EXPECT_NE(result.status().message().find(ref.substr(ref.find('@') + 1)), std::string::npos)
        << result.status().ToString();
  }
  EXPECT_FALSE(Exists(&posix_, manager_->VolumeDir("vol1")).value()) << "nothing recorded";
}

TEST_F(BadInput, AReferenceThatDoesNotParseNamesIt) {
  for (const std::string& ref : std::vector<std::string>{"", "Models/A:v1", "models//a", "../a:v1", "models/a:-bad", "a:b:c"}) {
    auto result = Pull("vol1", "", ref);
    ASSERT_FALSE(result.ok()) << ref;
    EXPECT_EQ(result.code(), Code::kInvalidArgument) << ref;
    EXPECT_NE(result.status().message().find("\"" + ref + "\""), std::string::npos)
        << result.status().ToString();
  }
}

TEST_F(BadInput, AVolumeNameOrMountIdThatCouldEscapeTheRootIsRefused) {
  for (const std::string& name : std::vector<std::string>{"..", "a/b", "../../etc", "", "x\ny"}) {
    auto result = Pull(name, "", "models/a:v1");
    EXPECT_EQ(result.code(), Code::kInvalidArgument) << name;
    auto mount = Pull("vol1", name.empty() ? "." : name, "models/a:v1");
    EXPECT_EQ(mount.code(), Code::kInvalidArgument) << name;
    EXPECT_EQ(manager_->DeleteModel(name.empty() ? ".." : name, "").code(), Code::kInvalidArgument);
  }
}

// Serves other bytes than asked for whenever a manifest is fetched.
class SwappedManifestRegistry : public ForwardingRegistry {
 public:
  SwappedManifestRegistry(Registry* target, std::string bytes)
      : ForwardingRegistry(target), bytes_(std::move(bytes)) {}
  Result<std::string> FetchManifest(const CancelToken&, const Reference&, const Digest&) override {
    return bytes_;
  }

 private:
  std::string bytes_;
};

TEST_F(BadInput, AManifestWhoseBytesDoNotMatchItsDigestIsRefused) {
  SwappedManifestRegistry swapped(&registry_, model_b_.manifest_bytes);
  manager_ = std::make_unique<VolumeManager>(&posix_, runtime_.get(), &swapped, options_);
  ASSERT_TRUE(manager_->Init().ok());
  auto result = Pull("vol1", "", "models/a:v1");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.code(), Code::kCorrupt);
  EXPECT_NE(result.status().message().find(model_a_.manifest_digest.ToString()), std::string::npos);
  ExpectNothingHalfDone("vol1");
}

TEST_F(BadInput, AStatusFileThatIsNotJsonIsACorruptErrorNamingIt) {
  ASSERT_TRUE(MakeDirs(&posix_, manager_->RecordDir("vol1", ""), 0755).ok());
  const std::string path = manager_->RecordDir("vol1", "") + "/status.json";
  for (const std::string& bytes : std::vector<std::string>{"", "[]", "{\"volume\":1}", "{\"volume\":\"v\",\"reference\":\"r\",\"state\":\"weird\"}"}) {
    ASSERT_TRUE(WriteFileAtomic(&posix_, path, bytes, 0644).ok());
    auto status = manager_->GetStatus("vol1", "");
    ASSERT_FALSE(status.ok()) << bytes;
    EXPECT_EQ(status.code(), Code::kCorrupt) << bytes;
    EXPECT_NE(status.status().message().find(path), std::string::npos);
  }
}

// The malformed fixtures, each loaded from its committed OCI image layout.
struct MalformedCase {
  const char* fixture;
  Code code;
  const char* names;  // a fragment the error message must contain
};

class MalformedFixture : public BadInput, public ::testing::WithParamInterface<MalformedCase> {};

TEST_P(MalformedFixture, IsRefusedWithAnErrorNamingTheInput) {
  const MalformedCase& c = GetParam();
  const char* env_src = std::getenv("MS_SOURCE_DIR");
  const char* src = env_src != nullptr ? env_src : MS_SOURCE_DIR_DEFAULT;
  const std::string dir = std::string(src) + "/fixtures/malformed/" + c.fixture;
  Status loaded = registry_.LoadLayout(dir, "bad/model");
  ASSERT_TRUE(loaded.ok()) << loaded.ToString();
  auto result = Pull("vol1", "", "bad/model:v1");
  ASSERT_FALSE(result.ok()) << c.fixture << " was accepted";
  EXPECT_EQ(result.code(), c.code) << result.status().ToString();
  EXPECT_NE(result.status().message().find(c.names), std::string::npos) << result.status().ToString();
  EXPECT_NE(result.status().message().find("\"bad/model:v1\""), std::string::npos)
      << "names the reference it pulled: " << result.status().ToString();
  EXPECT_EQ(manager_->GetStatus("vol1", "")->state, VolumeState::kFailed);
  ExpectNothingHalfDone("vol1");
}

INSTANTIATE_TEST_SUITE_P(
    Section5, MalformedFixture,
    ::testing::Values(MalformedCase{"bad-digest", Code::kInvalidArgument, "sha256:XYZ"},
                      MalformedCase{"dotdot-path", Code::kInvalidArgument, "../escape.bin"},
                      MalformedCase{"absolute-path", Code::kInvalidArgument, "/etc/evil"},
                      MalformedCase{"duplicate-path", Code::kInvalidArgument, "used by two layers"},
                      MalformedCase{"size-mismatch", Code::kCorrupt, "descriptor says"},
                      MalformedCase{"digest-mismatch", Code::kCorrupt, "hashes to"},
                      MalformedCase{"truncated-blob", Code::kCorrupt, "descriptor says"},
                      MalformedCase{"tar-escape", Code::kInvalidArgument, "../../x"},
                      MalformedCase{"tar-symlink-escape", Code::kInvalidArgument, "leaves the model"},
                      MalformedCase{"unsupported-media", Code::kUnsupported,
                                    "application/vnd.example.unknown"}),
    [](const ::testing::TestParamInfo<MalformedCase>& param_info) {
      std::string name = param_info.param.fixture;
      for (char& ch : name) {
        if (ch == '-') ch = '_';
      }
      return name;
    });

// --- The hostile registry (DESIGN §8): compositions and lies ----------------

// Serves one model built here under "bad/model:v1".
class HostileContent : public BadInput {
 protected:
  Result<PullResult> PullBuilt(const sim::BuiltModel& model) {
    registry_.Push("bad/model", "v1", model);
    return Pull("vol1", "", "bad/model:v1");
  }
  void ExpectRefused(const Result<PullResult>& result, Code code, const std::string& names) {
    ASSERT_FALSE(result.ok()) << "accepted";
    EXPECT_EQ(result.code(), code) << result.status().ToString();
    EXPECT_NE(result.status().message().find(names), std::string::npos) << result.status().ToString();
    EXPECT_EQ(manager_->GetStatus("vol1", "")->state, VolumeState::kFailed);
    ExpectNothingHalfDone("vol1");
    ExpectSiblingUntouched();
  }
};

TEST_F(HostileContent, SymlinksInsideOneByOneButOutsideTogetherAreRefused) {
  // "hop" -> "." is the model root; "out" -> "hop/.." counts as inside
  // name by name, but leads to the model's parent.
  ExpectRefused(PullBuilt(sim::ModelBuilder("chain")
                              .AddTarLayer("hop", {sim::TarEntry::Symlink("hop", ".")})
                              .AddTarLayer("out", {sim::TarEntry::Symlink("out", "hop/..")})
                              .Build()),
                Code::kInvalidArgument, "\"hop/..\"");
}

TEST_F(HostileContent, ALinkToItsOwnParentFollowedByDotDotIsRefused) {
  ExpectRefused(PullBuilt(sim::ModelBuilder("chain")
                              .AddTarLayer("d", {sim::TarEntry::Directory("d"), sim::TarEntry::Symlink("d/up", ".."),
                                                 sim::TarEntry::Symlink("out", "d/up/../sibling")})
                              .Build()),
                Code::kInvalidArgument, "\"d/up/../sibling\"");
}

TEST_F(HostileContent, AConfigThatIsNoModelConfigIsUnsupported) {
  ExpectRefused(PullBuilt(sim::ModelBuilder("image")
                              .AddRawFile("w.bin", "weights")
                              .SetConfigMediaType("application/vnd.oci.image.config.v1+json")
                              .Build()),
                Code::kUnsupported, "\"application/vnd.oci.image.config.v1+json\"");
}

TEST_F(HostileContent, AnIndexWhereAManifestWasExpectedSaysItIsAnIndex) {
  const sim::BuiltModel inner = sim::ModelBuilder("inner").AddRawFile("w.bin", "weights").Build();
  registry_.Push("bad/model", "inner", inner);
  const std::string index = R"({"schemaVersion":2,"manifests":[{"mediaType":")" +
                            std::string(sim::media_type::kOciManifest) + R"(","digest":")" +
                            inner.manifest_digest.ToString() + R"(","size":)" +
                            std::to_string(inner.manifest_bytes.size()) + "}]}";
  const Digest digest = registry_.PutManifest("bad/model", index);
  ASSERT_TRUE(registry_.Tag("bad/model", "v1", digest).ok());
  auto result = Pull("vol1", "", "bad/model:v1");
  ExpectRefused(result, Code::kUnsupported, digest.ToString());
  EXPECT_NE(result.status().message().find("image index"), std::string::npos) << result.status().ToString();
}

TEST_F(HostileContent, AControlByteInAPathIsQuotedAndTheErrorStaysOneLine) {
  auto result = PullBuilt(sim::ModelBuilder("nul").AddRawFile(std::string("a\0b\nc", 5), "x").Build());
  ExpectRefused(result, Code::kInvalidArgument, "\"a\\x00b\\x0ac\"");
  EXPECT_EQ(result.status().message().find('\0'), std::string::npos);
  EXPECT_EQ(result.status().message().find('\n'), std::string::npos);
}

// Every class of the hostile registry's generator, drawn from several
// seeds, pulled whole and without weights: refused with a typed error that
// names the reference and what is at fault, nothing left, nothing outside.
class HostileArtifacts : public BadInput, public ::testing::WithParamInterface<sim::HostileClass> {};

TEST_P(HostileArtifacts, AreRefusedNamingTheReferenceAndTheCulprit) {
  // A few seeds per class here (the simulator draws many more); no fsync,
  // which nothing here depends on, to keep the test fast.
  options_.store.durable = false;
  MakeManager();
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const sim::HostileArtifact artifact = sim::MakeHostileArtifact(GetParam(), seed);
    sim::PushHostile(artifact, &registry_);
    for (const bool partial : {false, true}) {
      SCOPED_TRACE(artifact.class_name + " seed " + std::to_string(seed) + (partial ? " partial" : " full"));
      const std::string volume = "v" + std::to_string(seed) + (partial ? "p" : "f");
      PullRequest request;
      request.volume = volume;
      request.reference = artifact.reference;
      request.exclude_weights = partial;
      auto result = manager_->PullModel(request);
      ASSERT_FALSE(result.ok()) << "accepted";
      const std::string message = result.status().message();
      EXPECT_TRUE(result.code() == Code::kInvalidArgument || result.code() == Code::kCorrupt ||
                  result.code() == Code::kUnsupported || result.code() == Code::kNotFound)
          << result.status().ToString();
      EXPECT_NE(message.find("\"" + artifact.reference + "\""), std::string::npos) << message;
      for (const std::string& culprit : artifact.culprits) {
        EXPECT_NE(message.find(culprit), std::string::npos) << "culprit " << culprit << " in " << message;
      }
      EXPECT_EQ(message.find_first_of(std::string("\0\n", 2)), std::string::npos) << "one line";
      EXPECT_EQ(manager_->GetStatus(volume, "")->state, VolumeState::kFailed);
      EXPECT_FALSE(Exists(&posix_, manager_->ModelDir(volume, "")).value());
    }
  }
  EXPECT_TRUE(Entries().empty());
  ExpectNoStaging();
  EXPECT_EQ(PayloadBytes(&posix_, root_), 0u);
  ExpectSiblingUntouched();
}

INSTANTIATE_TEST_SUITE_P(Section8, HostileArtifacts, ::testing::ValuesIn(sim::AllHostileClasses()),
                         [](const ::testing::TestParamInfo<sim::HostileClass>& param_info) {
                           std::string name(sim::HostileClassName(param_info.param));
                           for (char& ch : name) {
                             if (ch == '-') ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace ms::testing
