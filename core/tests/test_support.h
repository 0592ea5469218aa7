// Shared arrangement for core tests on a real temp dir: a root for the
// store, a sibling directory that must never be touched, the fake registry,
// and helpers to read trees back.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/fs_util.h"
#include "core/posix_filesystem.h"
#include "core/thread_runtime.h"
#include "core/volume_manager.h"
#include "sim/registry/fake_registry.h"
#include "sim/registry/model_builder.h"

namespace ms::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct TreeEntry {
  FileType type = FileType::kOther;
  std::string content;  // file bytes or symlink target
  uint64_t inode = 0;
  uint32_t mode = 0;
  bool operator==(const TreeEntry&) const = default;
};
// Every entry below dir, keyed by relative path (dirs included).
std::map<std::string, TreeEntry> ReadTree(Filesystem* fs, const std::string& dir);
// Bytes of regular files below dir, each inode counted once; files named
// status.json and anything under a refs/ directory are bookkeeping and are
// left out.
uint64_t PayloadBytes(Filesystem* fs, const std::string& dir);

// Captures Runtime::Log lines.
class LogCapture {
 public:
  ThreadRuntime::LogSink Sink();
  std::vector<std::string> Lines();
  bool Contains(std::string_view needle);

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

// The three sample models every volume test uses.
sim::BuiltModel ModelA();       // raw files, shares its weight with ModelB
sim::BuiltModel ModelB();
sim::BuiltModel ModelNoRegular();  // a tar layer of dirs and a symlink only

// Fails the Nth Link call with EMLINK (a full inode, half-way through).
class FailNthLinkFs : public FilesystemWrapper {
 public:
  FailNthLinkFs(Filesystem* target, int n) : FilesystemWrapper(target), n_(n) {}
  Status Link(const std::string& a, const std::string& b) override {
    if (++count_ == n_) return Status(Code::kTooManyLinks, "injected EMLINK " + a);
    return FilesystemWrapper::Link(a, b);
  }

 private:
  int n_;
  std::atomic<int> count_{0};
};

// Forwards to a target registry; a test overrides one call.
class ForwardingRegistry : public Registry {
 public:
  explicit ForwardingRegistry(Registry* target) : target_(target) {}
  Result<Digest> Resolve(const CancelToken& t, const Reference& r) override {
    return target_->Resolve(t, r);
  }
  Result<std::string> FetchManifest(const CancelToken& t, const Reference& r,
                                    const Digest& d) override {
    return target_->FetchManifest(t, r, d);
  }
  Result<std::string> FetchBlob(const CancelToken& t, const Reference& r,
                                const Digest& d) override {
    return target_->FetchBlob(t, r, d);
  }

 private:
  Registry* target_;
};

// The fixture: a real temp dir with root/ and an untouched sibling/.
class VolumeTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // (Re)creates the manager over fs (defaults to the POSIX one).
  void MakeManager(Filesystem* fs = nullptr, Runtime* runtime = nullptr);
  Result<PullResult> Pull(const std::string& volume, const std::string& mount,
                          const std::string& reference);
  // The files a volume's model dir holds, relative path -> bytes.
  std::map<std::string, std::string> ModelFiles(const std::string& volume,
                                                const std::string& mount);
  // Every file under the sibling dir, unchanged since SetUp.
  void ExpectSiblingUntouched();
  // No data.tmp anywhere under store/.
  void ExpectNoStaging();
  std::vector<Digest> Entries();

  TempDir tmp_;
  std::string root_;
  std::string sibling_;
  PosixFilesystem posix_;
  LogCapture logs_;
  std::unique_ptr<ThreadRuntime> runtime_;
  sim::FakeRegistry registry_;
  VolumeOptions options_;
  std::unique_ptr<VolumeManager> manager_;
  std::map<std::string, TreeEntry> sibling_before_;
  sim::BuiltModel model_a_, model_b_, model_no_regular_;
};

}  // namespace ms::testing
