// Unit tests of the core's small parts: digests, references, manifests,
// tar, paths, status records, the runtime's locks and the POSIX file lock.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <thread>

#include "core/json_subset.h"
#include "core/manifest.h"
#include "core/reference.h"
#include "core/tar_reader.h"
#include "core/tests/test_support.h"
#include "core/volume_status.h"
#include "sim/registry/tar_writer.h"

namespace ms::testing {
namespace {

TEST(Digest, ParsesSha256AndSha512) {
  const std::string hex256(64, 'a');
  const std::string hex512(128, '0');
  auto a = Digest::Parse("sha256:" + hex256);
  auto b = Digest::Parse("sha512:" + hex512);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(a->ToString(), "sha256:" + hex256);
  EXPECT_EQ(b->algorithm(), DigestAlgorithm::kSha512);
}

TEST(Digest, RejectsEveryMalformedShapeNamingTheInput) {
  for (const std::string& bad :
       std::vector<std::string>{"sha256", "sha256:", "sha256:abc", "SHA256:" + std::string(64, 'a'),
        "sha256:" + std::string(64, 'A'), "sha256:" + std::string(63, 'a') + "g",
        "sha256:" + std::string(65, 'a'), "sha1:" + std::string(40, 'a'), "sha256:../" + std::string(61, 'a'),
        "sha256:" + std::string(62, 'a') + "/a", "sha512:" + std::string(64, 'a')}) {
    auto d = Digest::Parse(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.code(), Code::kInvalidArgument);
    EXPECT_NE(d.status().message().find(bad.substr(0, 20)), std::string::npos) << d.status().ToString();
  }
}

TEST(Digest, Sha256MatchesTheKnownVector) {
  EXPECT_EQ(Digest::Sha256Of("abc").hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Digest().hex(), Digest::Sha256Of("").hex());
}

TEST(Reference, ParsesRepositoryTagAndDefaultsToLatest) {
  auto r = Reference::Parse("models/llama");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->repository(), "models/llama");
  EXPECT_EQ(r->tag(), "latest");
  auto t = Reference::Parse("models/llama:v1.2-rc_3");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->tag(), "v1.2-rc_3");
}

TEST(Reference, ParsesHostWithPortAndDigest) {
  const std::string digest = "sha256:" + std::string(64, 'b');
  auto r = Reference::Parse("registry.local:5000/org/model:v1@" + digest);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->host(), "registry.local:5000");
  EXPECT_EQ(r->repository(), "org/model");
  EXPECT_EQ(r->tag(), "v1");
  EXPECT_EQ(r->digest()->ToString(), digest);
  EXPECT_EQ(r->ToString(), "registry.local:5000/org/model:v1@" + digest);
}

TEST(Reference, RejectsMalformedReferences) {
  for (const std::string& bad : std::vector<std::string>{"", "UPPER/case", "a//b", "a/", "/a", "a:", "a:.tag", "a@sha256:x",
                                "a b", "-a/b", "a/b-"}) {
    EXPECT_EQ(Reference::Parse(bad).code(), Code::kInvalidArgument) << bad;
  }
}

TEST(Paths, ValidateRelativePathRefusesEscapes) {
  EXPECT_TRUE(ValidateRelativePath("a/b.c/d", "p").ok());
  for (const std::string& bad : std::vector<std::string>{"", "/abs", "a/../b", "..", "a//b", "a/./b", "a/", std::string("a\0b", 3)}) {
    EXPECT_EQ(ValidateRelativePath(bad, "p").code(), Code::kInvalidArgument) << bad;
  }
}

TEST(Manifest, ParsesLayersWithTheirFormatAndPath) {
  auto model = sim::ModelBuilder("m")
                   .AddRawFile("w.bin", "weights")
                   .AddTarLayer("docs", {sim::TarEntry::File("docs/a.md", "a")})
                   .Build();
  auto parsed = ParseModelManifest(model.manifest_bytes, model.manifest_digest);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->layers.size(), 2u);
  EXPECT_EQ(parsed->layers[0].format, LayerFormat::kRaw);
  EXPECT_TRUE(parsed->layers[0].is_weight);
  EXPECT_EQ(parsed->layers[0].filepath, "w.bin");
  EXPECT_EQ(parsed->layers[1].format, LayerFormat::kTar);
  EXPECT_FALSE(parsed->layers[1].is_weight);
}

TEST(Manifest, RefusesARawFileBelowAnotherRawFile) {
  auto model = sim::ModelBuilder("m").AddRawFile("a", "1").AddRawFile("a/b", "2").Build();
  auto parsed = ParseModelManifest(model.manifest_bytes, model.manifest_digest);
  EXPECT_EQ(parsed.code(), Code::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find("\"a/b\""), std::string::npos);
}

TEST(Manifest, RefusesNonJsonAndWrongSchemaNamingTheDigest) {
  const Digest d = Digest::Sha256Of("x");
  for (const std::string& bad : std::vector<std::string>{"not json", "[]", "{\"schemaVersion\":1}", "{\"schemaVersion\":2}"}) {
    auto parsed = ParseModelManifest(bad, d);
    EXPECT_EQ(parsed.code(), Code::kCorrupt) << bad;
    EXPECT_NE(parsed.status().message().find(d.ToString()), std::string::npos);
  }
}

TEST(Tar, ReadsFilesDirectoriesAndSymlinks) {
  auto tar = sim::WriteTar({sim::TarEntry::Directory("d"), sim::TarEntry::File("d/f", "hello", 0755),
                            sim::TarEntry::Symlink("d/l", "f")});
  ASSERT_TRUE(tar.ok());
  auto entries = ReadTar(*tar, "t");
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].type, TarEntry::Type::kDirectory);
  EXPECT_EQ((*entries)[1].content, "hello");
  EXPECT_EQ((*entries)[1].mode, 0755u);
  EXPECT_EQ((*entries)[2].link_target, "f");
}

TEST(Tar, RefusesEscapesHardlinksAndTruncation) {
  auto escape = sim::WriteTar({sim::TarEntry::File("../../x", "x")});
  ASSERT_TRUE(escape.ok());
  EXPECT_EQ(ReadTar(*escape, "t").code(), Code::kInvalidArgument);
  auto link = sim::WriteTar({sim::TarEntry::Symlink("l", "../../etc")});
  ASSERT_TRUE(link.ok());
  EXPECT_EQ(ReadTar(*link, "t").code(), Code::kInvalidArgument);
  auto abs = sim::WriteTar({sim::TarEntry::Symlink("l", "/etc")});
  ASSERT_TRUE(abs.ok());
  EXPECT_EQ(ReadTar(*abs, "t").code(), Code::kInvalidArgument);
  auto ok = sim::WriteTar({sim::TarEntry::File("f", std::string(1000, 'x'))});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ReadTar(ok->substr(0, 1024), "t").code(), Code::kCorrupt);
}

TEST(Tar, SymlinkContainmentIsJudgedFromTheLinksDirectory) {
  EXPECT_TRUE(SymlinkStaysInside("a/b/l", "../c"));
  EXPECT_TRUE(SymlinkStaysInside("a/l", "../x"));
  EXPECT_FALSE(SymlinkStaysInside("l", "../x"));
  EXPECT_FALSE(SymlinkStaysInside("a/l", "../../x"));
  // A ".." after a name: the name may be a symlink ("hop" -> ".").
  EXPECT_FALSE(SymlinkStaysInside("out", "hop/.."));
  EXPECT_FALSE(SymlinkStaysInside("a/out", "../hop/../x"));
  EXPECT_TRUE(SymlinkStaysInside("a/b/l", "../../c/./d"));
}

TEST(Messages, QuoteInputEscapesWhatWouldBreakALineAndBoundsItsLength) {
  EXPECT_EQ(QuoteInput("a/b"), "\"a/b\"");
  EXPECT_EQ(QuoteInput(std::string("a\0b\n\"\\", 6)), "\"a\\x00b\\x0a\\\"\\\\\"");
  EXPECT_EQ(QuoteInput("abcdef", 3), "\"abc...\"");
}

TEST(VolumeStatusRecord, RoundTripsEveryField) {
  VolumeStatus s{"v", "m", "models/a:v1", "sha256:" + std::string(64, 'c'), "sha256:" + std::string(64, 'd'), VolumeState::kTimeout,
                 true, "deadline exceeded"};
  auto back = DecodeStatus(EncodeStatus(s), "p");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, s);
}

// The same result, or the same error (code and message).
void ExpectSameDecode(std::string_view bytes) {
  const auto fast = DecodeStatus(bytes, "/r/status.json");
  const auto general = DecodeStatusGeneral(bytes, "/r/status.json");
  ASSERT_EQ(fast.ok(), general.ok()) << bytes;
  if (fast.ok()) {
    EXPECT_EQ(*fast, *general) << bytes;
  } else {
    EXPECT_EQ(fast.code(), Code::kCorrupt) << bytes;
    EXPECT_EQ(fast.status().ToString(), general.status().ToString()) << bytes;
  }
}

// status.json's hand-written fast paths give nlohmann's bytes, values and
// errors: on awkward field values, on other spellings of the document, and
// on canonical documents damaged byte by byte.
TEST(VolumeStatusRecord, FastPathsAgreeWithTheGeneralCodec) {
  const std::vector<std::string> values = {"", "v", "a\"b\\c/d", std::string("\b\f\n\r\t\x01\x1f\x7f", 8),
                                           "caf\xc3\xa9", "sha256:" + std::string(64, 'c'), "x y"};
  VolumeStatus base{"v", "m", "models/a:v1", "sha256:" + std::string(64, 'c'), "sha256:" + std::string(64, 'd'),
                    VolumeState::kSucceeded, false, ""};
  std::vector<std::string> docs;
  for (const std::string& value : values) {
    for (std::string VolumeStatus::*field : {&VolumeStatus::volume, &VolumeStatus::mount_id, &VolumeStatus::reference,
                                             &VolumeStatus::cache_key, &VolumeStatus::manifest, &VolumeStatus::error}) {
      for (bool partial : {false, true}) {
        VolumeStatus s = base;
        s.*field = value;
        s.partial = partial;
        s.state = partial ? VolumeState::kFailed : VolumeState::kRunning;
        const std::string bytes = EncodeStatus(s);
        EXPECT_EQ(bytes, EncodeStatusGeneral(s));
        auto back = DecodeStatus(bytes, "p");
        ASSERT_TRUE(back.ok()) << bytes;
        EXPECT_EQ(*back, s);
        docs.push_back(bytes);
      }
    }
  }
  for (const char* doc : {
           R"( { "volume" : "v" , "reference":"r", "state":"running" } )",
           "\t{\"volume\":\"v\",\r\n\"reference\":\"r\",\"state\":\"failed\",\"partial\":true}\n\n",
           R"({"volume":"\u0076","reference":"r\/s","state":"running"})",
           R"({"volume":"v","volume":"w","reference":"r","state":"running"})",
           R"({"volume":"v","reference":"r","state":"running","extra":[1,{"a":null}]})",
           R"({"volume":"v","reference":"r","state":"running","partial":1})",
           R"({"volume":"v","reference":"r","state":"running","partial":null})",
           R"({"volume":"v","reference":"r","state":"Running"})",
           R"({"volume":"v","reference":"r"})", R"({"volume":"v","state":"running"})",
           R"({"volume":"v","reference":"r","state":"running"} x)", R"({"volume":"v","reference":"r","state":"running",})",
           R"({"volume":"v","reference":"r","state":"running"}{})", R"({"volume":"v\x","reference":"r","state":"running"})",
           "{\"volume\":\"v\n\",\"reference\":\"r\",\"state\":\"running\"}",
           "\xef\xbb\xbf{\"volume\":\"v\",\"reference\":\"r\",\"state\":\"running\"}",
           "{\"volume\":\"\xff\",\"reference\":\"r\",\"state\":\"running\"}", "", " ", "{}", "[]", "null", "\"v\"",
           R"({"volume":1,"reference":"r","state":"running"})", R"({"volume":"v","reference":"r","state":true})"}) {
    ExpectSameDecode(doc);
  }
  for (const std::string& doc : {docs.front(), docs.back()}) {
    for (size_t i = 0; i <= doc.size(); ++i) {
      ExpectSameDecode(doc.substr(0, i));
      if (i == doc.size()) break;
      ExpectSameDecode(doc.substr(0, i) + doc.substr(i + 1));
      for (char c : std::string(" \"\\},:{xu0t\x80\x01", 13)) {
        std::string damaged = doc;
        damaged[i] = c;
        ExpectSameDecode(damaged);
      }
    }
  }
}

// Equal values of the same JSON types all the way down (2u and 2 compare
// equal in nlohmann, but ParseJsonSubset must build what parse builds).
bool SameJson(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.type() != b.type() || a.size() != b.size() || a != b) return false;
  if (a.is_object()) {
    for (auto it = a.begin(), jt = b.begin(); it != a.end(); ++it, ++jt) {
      if (it.key() != jt.key() || !SameJson(*it, *jt)) return false;
    }
  } else if (a.is_array()) {
    for (size_t i = 0; i < a.size(); ++i) {
      if (!SameJson(a[i], b[i])) return false;
    }
  }
  return true;
}

// ParseJsonSubset either declines, or builds exactly what nlohmann builds.
void ExpectSubsetAgrees(std::string_view text) {
  const auto fast = ParseJsonSubset(text);
  if (!fast) return;
  const auto slow = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(slow.is_discarded()) << "accepted what nlohmann rejects: " << text;
  EXPECT_TRUE(SameJson(*fast, slow)) << text;
}

TEST(JsonSubset, BuildsWhatNlohmannBuildsOrDeclines) {
  const std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":)"
      R"("application/vnd.cncf.model.config.v1+json","digest":"sha256:)" + std::string(64, 'a') +
      R"(","size":123},"layers":[{"mediaType":"application/vnd.cncf.model.weight.v1.raw","digest":"sha256:)" +
      std::string(64, 'b') + R"(","size":0,"annotations":{"org.cncf.model.filepath":"w\/a.bin"}}],)"
      R"("annotations":{"k":"v\t\"q\"","n":null,"t":true,"f":false,"big":9999999999999999999}})";
  ASSERT_TRUE(ParseJsonSubset(manifest).has_value());
  ExpectSubsetAgrees(manifest);
  for (const char* doc : {"2", "0", "[]", "{}", " [ 1 , [ ] , { } ] ", "\"x\"", "true", "null",
                          R"({"a":1,"a":[2],"b":{"a":3,"a":"4"}})", "01", "-1", "-0", "1.5", "1e3", "1E3",
                          "12345678901234567890", "9999999999999999999", "[1,]", "{\"a\":1,}", "{\"a\" 1}",
                          "[\"\\u0041\"]", "[\"\\x\"]", "[\"caf\xc3\xa9\"]", "[\"\x01\"]", "\xef\xbb\xbf[]",
                          "[] []", "[", "", " ", "tru", "nul", "[true false]"}) {
    ExpectSubsetAgrees(doc);
  }
  EXPECT_FALSE(ParseJsonSubset(std::string(65, '[') + std::string(65, ']')).has_value());
  ExpectSubsetAgrees(std::string(64, '[') + std::string(64, ']'));
  for (size_t i = 0; i <= manifest.size(); ++i) {
    ExpectSubsetAgrees(manifest.substr(0, i));
    if (i == manifest.size()) break;
    ExpectSubsetAgrees(manifest.substr(0, i) + manifest.substr(i + 1));
    for (char c : std::string(" \"\\}],:{[x0-.e\x80\x01", 16)) {
      std::string damaged = manifest;
      damaged[i] = c;
      ExpectSubsetAgrees(damaged);
    }
  }
}

TEST(FsUtil, RemoveAllRemovesATreeAndToleratesAMissingPath) {
  TempDir tmp;
  PosixFilesystem fs;
  ASSERT_TRUE(MakeDirs(&fs, tmp.path() + "/a/b/c", 0755).ok());
  ASSERT_TRUE(WriteFileAtomic(&fs, tmp.path() + "/a/b/f", "x", 0444).ok());
  ASSERT_TRUE(fs.Symlink("/etc", tmp.path() + "/a/link").ok());
  ASSERT_TRUE(RemoveAll(&fs, tmp.path() + "/a").ok());
  EXPECT_FALSE(Exists(&fs, tmp.path() + "/a").value());
  EXPECT_TRUE(Exists(&fs, "/etc/passwd").value()) << "a symlink is removed, never followed";
  EXPECT_TRUE(RemoveAll(&fs, tmp.path() + "/a").ok());
}

// Counts the calls RemoveAll makes; unlink_refusal, if set, answers an
// Unlink before the target sees it (a platform's answer for a directory,
// an injected failure).
class CountingFilesystem : public FilesystemWrapper {
 public:
  using FilesystemWrapper::FilesystemWrapper;
  Result<FileInfo> Stat(const std::string& p) override {
    ++stats;
    return FilesystemWrapper::Stat(p);
  }
  Status Unlink(const std::string& p) override {
    ++unlinks;
    if (unlink_refusal) {
      Status refused = unlink_refusal(p);
      if (!refused.ok()) return refused;
    }
    return FilesystemWrapper::Unlink(p);
  }
  int stats = 0;
  int unlinks = 0;
  std::function<Status(const std::string&)> unlink_refusal;
};

// a/ holding b/ (files f and g), a file h and a symlink: 6 entries.
void MakeSmallTree(Filesystem* fs, const std::string& root) {
  ASSERT_TRUE(MakeDirs(fs, root + "/a/b", 0755).ok());
  ASSERT_TRUE(WriteFileAtomic(fs, root + "/a/b/f", "x", 0444).ok());
  ASSERT_TRUE(WriteFileAtomic(fs, root + "/a/b/g", "y", 0444).ok());
  ASSERT_TRUE(WriteFileAtomic(fs, root + "/a/h", "z", 0444).ok());
  ASSERT_TRUE(fs->Symlink("/etc", root + "/a/link").ok());
}

TEST(FsUtil, RemoveAllUnlinksEachEntryOnceAndNeverStats) {
  TempDir tmp;
  PosixFilesystem posix;
  MakeSmallTree(&posix, tmp.path());
  // The port's answer RemoveAll relies on to tell a directory.
  EXPECT_EQ(posix.Unlink(tmp.path() + "/a/b").code(), Code::kIsDirectory);
  CountingFilesystem fs(&posix);
  ASSERT_TRUE(RemoveAll(&fs, tmp.path() + "/a").ok());
  EXPECT_FALSE(Exists(&posix, tmp.path() + "/a").value());
  EXPECT_EQ(fs.unlinks, 6);
  EXPECT_EQ(fs.stats, 0);
}

TEST(FsUtil, RemoveAllDescendsIntoADirectoryWhoseUnlinkSaysPermission) {
  TempDir tmp;
  PosixFilesystem posix;
  MakeSmallTree(&posix, tmp.path());
  CountingFilesystem fs(&posix);
  // Where unlink(2) of a directory is EPERM (POSIX allows it), not EISDIR.
  fs.unlink_refusal = [&posix](const std::string& p) {
    auto info = posix.Stat(p);
    return info.ok() && info->type == FileType::kDirectory ? Status(Code::kPermission, "unlink " + p)
                                                           : Status::Ok();
  };
  ASSERT_TRUE(RemoveAll(&fs, tmp.path() + "/a").ok());
  EXPECT_FALSE(Exists(&posix, tmp.path() + "/a").value());
  EXPECT_EQ(fs.stats, 2) << "one Stat per refused directory";
}

TEST(FsUtil, RemoveAllReturnsTheUnlinkErrorOfAFile) {
  TempDir tmp;
  PosixFilesystem posix;
  MakeSmallTree(&posix, tmp.path());
  CountingFilesystem fs(&posix);
  fs.unlink_refusal = [](const std::string& p) {
    return p.ends_with("/g") ? Status(Code::kIo, "unlink " + p) : Status::Ok();
  };
  EXPECT_EQ(RemoveAll(&fs, tmp.path() + "/a").code(), Code::kIo);
  EXPECT_TRUE(Exists(&posix, tmp.path() + "/a/b/g").value());
}

TEST(FsUtil, RemoveAllStopsAtItsBudget) {
  TempDir tmp;
  PosixFilesystem posix;
  MakeSmallTree(&posix, tmp.path());
  EXPECT_EQ(RemoveAll(&posix, tmp.path() + "/a", 5).code(), Code::kInternal);
  ASSERT_TRUE(RemoveAll(&posix, tmp.path() + "/a", 6).ok());
  EXPECT_FALSE(Exists(&posix, tmp.path() + "/a").value());
}

TEST(FsUtil, WriteFileAtomicReplacesContentAndLeavesNoTemporary) {
  TempDir tmp;
  PosixFilesystem fs;
  const std::string p = tmp.path() + "/s.json";
  ASSERT_TRUE(WriteFileAtomic(&fs, p, "one", 0644).ok());
  ASSERT_TRUE(WriteFileAtomic(&fs, p, "two", 0644).ok());
  EXPECT_EQ(fs.ReadFile(p, 100).value(), "two");
  EXPECT_EQ(fs.ReadDir(tmp.path()).value(), std::vector<std::string>{"s.json"});
}

TEST(PosixFilesystem, MapsErrnoToCodesNamingThePath) {
  TempDir tmp;
  PosixFilesystem fs;
  auto missing = fs.Stat(tmp.path() + "/nope");
  EXPECT_EQ(missing.code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find(tmp.path() + "/nope"), std::string::npos);
  ASSERT_TRUE(fs.MakeDir(tmp.path() + "/d", 0755).ok());
  EXPECT_EQ(fs.MakeDir(tmp.path() + "/d", 0755).code(), Code::kAlreadyExists);
  ASSERT_TRUE(WriteFileAtomic(&fs, tmp.path() + "/d/f", "x", 0644).ok());
  EXPECT_EQ(fs.RemoveDir(tmp.path() + "/d").code(), Code::kNotEmpty);
}

TEST(PosixFilesystem, AFileLockExcludesAnotherProcess) {
  TempDir tmp;
  PosixFilesystem fs;
  const std::string lock_path = tmp.path() + "/.lock";
  const std::string log = tmp.path() + "/log";
  auto held = fs.LockFile(lock_path);
  ASSERT_TRUE(held.ok());
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    PosixFilesystem child_fs;
    auto lock = child_fs.LockFile(lock_path);  // blocks until the parent lets go
    auto f = child_fs.NewWritableFile(log + ".child", 0644);
    ::_exit(lock.ok() && f.ok() ? 0 : 1);
  }
  ::usleep(200 * 1000);
  // The child is still waiting: it has not written its marker.
  EXPECT_FALSE(Exists(&fs, log + ".child").value());
  held->reset();
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  EXPECT_EQ(WEXITSTATUS(wstatus), 0);
  EXPECT_TRUE(Exists(&fs, log + ".child").value());
}

TEST(PosixFilesystem, ALockOnAnUnlinkedFileIsNotHandedOut) {
  TempDir tmp;
  PosixFilesystem fs;
  const std::string dir = tmp.path() + "/entry";
  ASSERT_TRUE(fs.MakeDir(dir, 0755).ok());
  auto held = fs.LockFile(dir + "/.lock");
  ASSERT_TRUE(held.ok());
  std::atomic<bool> got{false};
  Result<std::unique_ptr<FileLock>> second = Status(Code::kInternal, "unset");
  std::thread waiter([&] {
    second = fs.LockFile(dir + "/.lock");
    got = true;
  });
  ::usleep(100 * 1000);
  EXPECT_FALSE(got.load());
  // The holder removes the entry (as GC does) and lets go.
  ASSERT_TRUE(RemoveAll(&fs, dir).ok());
  held->reset();
  waiter.join();
  // The waiter must not believe it holds a lock on the vanished file.
  EXPECT_EQ(second.code(), Code::kNotFound);
}

TEST(ThreadRuntime, AKeyedLockIsMutuallyExclusive) {
  ThreadRuntime rt;
  int counter = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        ScopedLock lock(&rt, "k");
        counter = counter + 1;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, 16000);
  EXPECT_EQ(rt.ActiveKeys(), 0u) << "unused keys are forgotten";
}

TEST(ThreadRuntime, DistinctKeysDoNotExcludeEachOther) {
  ThreadRuntime rt;
  rt.Lock("a");
  std::atomic<bool> got_b{false};
  std::thread t([&] {
    rt.Lock("b");
    got_b = true;
    rt.Unlock("b");
  });
  t.join();
  EXPECT_TRUE(got_b.load());
  rt.Unlock("a");
}

}  // namespace
}  // namespace ms::testing
