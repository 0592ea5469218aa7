#include "core/tests/test_support.h"

#include <algorithm>

#include <unistd.h>

#include <set>

namespace ms::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base != nullptr ? base : "/tmp") + "/modelstore-test-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) std::abort();
  path_ = templ;
}

TempDir::~TempDir() {
  PosixFilesystem fs;
  // Read-only store files sit in writable dirs, so removal needs no chmod.
  (void)RemoveAll(&fs, path_);
}

namespace {
void Walk(Filesystem* fs, const std::string& dir, const std::string& rel,
          std::map<std::string, TreeEntry>* out) {
  auto names = fs->ReadDir(dir);
  if (!names.ok()) return;
  for (const std::string& name : *names) {
    const std::string path = JoinPath(dir, name);
    const std::string child = rel.empty() ? name : rel + "/" + name;
    auto info = fs->Stat(path);
    if (!info.ok()) continue;
    TreeEntry e;
    e.type = info->type;
    e.inode = info->inode;
    e.mode = info->mode;
    if (info->type == FileType::kRegular) {
      e.content = fs->ReadFile(path, 1 << 30).value();
    } else if (info->type == FileType::kSymlink) {
      e.content = fs->ReadLink(path).value();
    }
    (*out)[child] = e;
    if (info->type == FileType::kDirectory) Walk(fs, path, child, out);
  }
}
}  // namespace

std::map<std::string, TreeEntry> ReadTree(Filesystem* fs, const std::string& dir) {
  std::map<std::string, TreeEntry> out;
  Walk(fs, dir, "", &out);
  return out;
}

uint64_t PayloadBytes(Filesystem* fs, const std::string& dir) {
  std::set<uint64_t> seen;
  uint64_t total = 0;
  for (const auto& [rel, e] : ReadTree(fs, dir)) {
    if (e.type != FileType::kRegular) continue;
    const std::string base = rel.substr(rel.rfind('/') == std::string::npos ? 0 : rel.rfind('/') + 1);
    if (base == "status.json" || rel.find("/refs/") != std::string::npos) continue;
    // A model entry's list of its layers (store/<algo>/<hex>/layers).
    if (base == "layers" && rel.rfind("store/", 0) == 0 && std::count(rel.begin(), rel.end(), '/') == 3) {
      continue;
    }
    if (seen.insert(e.inode).second) total += e.content.size();
  }
  return total;
}

ThreadRuntime::LogSink LogCapture::Sink() {
  return [this](LogLevel, std::string_view msg) {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.emplace_back(msg);
  };
}
std::vector<std::string> LogCapture::Lines() {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}
bool LogCapture::Contains(std::string_view needle) {
  for (const std::string& line : Lines()) {
    if (line.find(needle) != std::string::npos) return true;
  }
  return false;
}

sim::BuiltModel ModelA() {
  return sim::ModelBuilder("model-a")
      .AddRawFile("weights/model.safetensors", std::string(4096, 'w'))
      .AddRawFile("config.json", "{\"arch\":\"a\"}", std::string(sim::media_type::kWeightConfigRaw))
      .AddRawFile("README.md", "# model a\n", std::string(sim::media_type::kDocRaw))
      .Build();
}

sim::BuiltModel ModelB() {
  return sim::ModelBuilder("model-b")
      .AddRawFile("weights/model.safetensors", std::string(4096, 'w'))
      .AddRawFile("config.json", "{\"arch\":\"b\"}", std::string(sim::media_type::kWeightConfigRaw))
      .Build();
}

sim::BuiltModel ModelNoRegular() {
  return sim::ModelBuilder("no-regular")
      .AddTarLayer("assets", {sim::TarEntry::Directory("assets"),
                              sim::TarEntry::Directory("assets/empty"),
                              sim::TarEntry::Symlink("assets/current", "empty")})
      .Build();
}

void VolumeTest::SetUp() {
  root_ = tmp_.path() + "/root";
  sibling_ = tmp_.path() + "/sibling";
  ASSERT_TRUE(posix_.MakeDir(root_, 0755).ok());
  ASSERT_TRUE(posix_.MakeDir(sibling_, 0755).ok());
  ASSERT_TRUE(WriteFileAtomic(&posix_, sibling_ + "/keep.txt", "do not touch", 0644).ok());
  sibling_before_ = ReadTree(&posix_, sibling_);
  runtime_ = std::make_unique<ThreadRuntime>(logs_.Sink());
  model_a_ = ModelA();
  model_b_ = ModelB();
  model_no_regular_ = ModelNoRegular();
  registry_.Push("models/a", "v1", model_a_);
  registry_.Push("models/b", "v1", model_b_);
  registry_.Push("models/empty", "v1", model_no_regular_);
  options_.store.root = root_;
  options_.store.durable = true;
  MakeManager();
}

void VolumeTest::TearDown() { ExpectSiblingUntouched(); }

void VolumeTest::MakeManager(Filesystem* fs, Runtime* runtime) {
  manager_ = std::make_unique<VolumeManager>(fs != nullptr ? fs : &posix_,
                                             runtime != nullptr ? runtime : runtime_.get(),
                                             &registry_, options_);
  ASSERT_TRUE(manager_->Init().ok());
}

Result<PullResult> VolumeTest::Pull(const std::string& volume, const std::string& mount,
                                    const std::string& reference) {
  PullRequest req;
  req.volume = volume;
  req.mount_id = mount;
  req.reference = reference;
  return manager_->PullModel(req);
}

std::map<std::string, std::string> VolumeTest::ModelFiles(const std::string& volume,
                                                          const std::string& mount) {
  std::map<std::string, std::string> out;
  for (const auto& [rel, e] : ReadTree(&posix_, manager_->ModelDir(volume, mount))) {
    if (e.type == FileType::kRegular) out[rel] = e.content;
  }
  return out;
}

void VolumeTest::ExpectSiblingUntouched() {
  EXPECT_EQ(ReadTree(&posix_, sibling_), sibling_before_) << "I5 confinement: sibling changed";
}

void VolumeTest::ExpectNoStaging() {
  for (const auto& [rel, e] : ReadTree(&posix_, root_ + "/store")) {
    EXPECT_EQ(rel.find("data.tmp"), std::string::npos) << "staging left behind: " << rel;
  }
}

std::vector<Digest> VolumeTest::Entries() { return manager_->store().ListEntries().value(); }

}  // namespace ms::testing
