// DESIGN §5: every bad input gets a clear, typed error naming the input,
// writes nothing outside the root, and leaves nothing half-done inside it.
#include <gtest/gtest.h>

#include <cstdlib>

#include "core/tests/test_support.h"

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

}  // namespace
}  // namespace ms::testing
