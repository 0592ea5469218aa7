// Real threads on one root: 16 threads of random pull / delete / release /
// sweep over a handful of references, then I1 and I3 at quiescence.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "core/manifest.h"
#include "core/tar_reader.h"
#include "core/tests/test_support.h"

namespace ms::testing {
namespace {

struct Figures {
  std::atomic<int> pulls{0}, pulls_ok{0}, deletes{0}, releases{0}, sweeps{0}, refused{0};
};

class Stress : public VolumeTest {
 protected:
  // The files each model yields, pulled once into a private root.
  std::map<std::string, std::map<std::string, TreeEntry>> Golden() {
    std::map<std::string, std::map<std::string, TreeEntry>> out;
    TempDir golden;
    VolumeOptions opts = options_;
    opts.store.root = golden.path();
    VolumeManager m(&posix_, runtime_.get(), &registry_, opts);
    EXPECT_TRUE(m.Init().ok());
    for (const std::string& ref : refs_) {
      auto r = m.PullModel(PullRequest{"g", "", ref, false, {}, 0});
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      auto tree = ReadTree(&posix_, r->model_dir);
      for (auto& [rel, e] : tree) e.inode = 0;
      out[r->status.cache_key] = tree;
      EXPECT_TRUE(m.DeleteModel("g", "").ok());
    }
    return out;
  }

  // The layers each model lists, with the bytes each one's payload puts
  // on disk (a raw layer its size, a tar layer its files), from the
  // registry: what a store keyed by layer keeps.
  std::map<std::string, std::map<std::string, uint64_t>> LayerBytes() {
    std::map<std::string, std::map<std::string, uint64_t>> out;
    const CancelToken token;
    for (const std::string& ref_text : refs_) {
      const Reference ref = Reference::Parse(ref_text).value();
      const Digest key = registry_.Resolve(token, ref).value();
      const ModelManifest manifest =
          ParseModelManifest(registry_.FetchManifest(token, ref, key).value(), key).value();
      for (const Layer& layer : manifest.layers) {
        uint64_t bytes = layer.size_bytes;
        if (layer.format == LayerFormat::kTar) {
          bytes = 0;
          const std::string blob = registry_.FetchBlob(token, ref, layer.digest).value();
          const auto entries = ReadTar(blob, "layer");
          EXPECT_TRUE(entries.ok()) << entries.status().ToString();
          if (entries.ok()) {
            for (const TarEntry& e : *entries) bytes += e.content.size();
          }
        }
        out[key.ToString()][layer.digest.ToString()] = bytes;
      }
    }
    return out;
  }

  void SetUp() override {
    VolumeTest::SetUp();
    registry_.Push("models/c", "v1",
                   sim::ModelBuilder("nested")
                       .AddTarLayer("a", {sim::TarEntry::Directory("a"),
                                          sim::TarEntry::Directory("a/b"),
                                          sim::TarEntry::File("a/b/f.txt", "deep file", 0644),
                                          sim::TarEntry::Symlink("latest", "a/b")})
                       .AddRawFile("w.bin", std::string(2048, 'n'))
                       .Build());
    options_.remove_retry_interval_ms = 5;
    MakeManager();
  }

  std::vector<std::string> refs_{"models/a:v1", "models/b:v1", "models/empty:v1", "models/c:v1"};
};

TEST_F(Stress, SixteenThreadsKeepI1AndI3) {
  const auto golden = Golden();
  constexpr int kThreads = 16;
  constexpr int kOpsPerThread = 40;
  Figures fig;
  std::vector<std::thread> threads;
  std::mutex failures_mu;
  std::vector<std::string> failures;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t * 7919 + 1));
      auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
      for (int i = 0; i < kOpsPerThread; ++i) {
        const bool dynamic = pick(2) == 1;
        const std::string volume = (dynamic ? "d" : "s") + std::to_string(pick(4));
        const std::string mount = dynamic ? "m" + std::to_string(pick(3)) : "";
        const int op = pick(10);
        if (op < 6) {
          ++fig.pulls;
          // Each mount mostly keeps one reference (as kubelet would); one
          // pull in ten asks for another and must meet a conflict.
          const size_t home = std::hash<std::string>{}(volume + "/" + mount) % refs_.size();
          const size_t ref = pick(10) == 0 ? static_cast<size_t>(pick(4)) : home;
          auto r = manager_->PullModel(PullRequest{volume, mount, refs_[ref], false, {}, 0});
          if (r.ok()) {
            ++fig.pulls_ok;
          } else if (r.code() == Code::kConflict || r.code() == Code::kCanceled ||
                     r.code() == Code::kNotFound) {
            ++fig.refused;  // another reference holds the mount, or a release raced
          } else {
            std::lock_guard<std::mutex> lock(failures_mu);
            failures.push_back("pull " + volume + "/" + mount + ": " + r.status().ToString());
          }
        } else if (op < 8) {
          ++fig.deletes;
          Status st = manager_->DeleteModel(volume, mount);
          if (!st.ok()) {
            std::lock_guard<std::mutex> lock(failures_mu);
            failures.push_back("delete: " + st.ToString());
          }
        } else if (op < 9) {
          ++fig.releases;
          Status st = manager_->ReleaseVolume(volume);
          if (!st.ok()) {
            std::lock_guard<std::mutex> lock(failures_mu);
            failures.push_back("release: " + st.ToString());
          }
        } else {
          ++fig.sweeps;
          auto st = manager_->Sweep();
          if (!st.ok()) {
            std::lock_guard<std::mutex> lock(failures_mu);
            failures.push_back("sweep: " + st.status().ToString());
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, first: " << failures.front();

  // Quiescence: a final sweep, then the invariants.
  ASSERT_TRUE(manager_->Sweep().ok());
  std::set<std::string> referenced;
  int live_volumes = 0;
  for (const auto& [rel, e] : ReadTree(&posix_, root_ + "/volumes")) {
    if (rel.size() < 11 || rel.compare(rel.size() - 11, 11, "status.json") != 0) continue;
    const std::string record = root_ + "/volumes/" + rel.substr(0, rel.size() - 12);
    auto status = DecodeStatus(e.content, rel).value();
    if (status.state != VolumeState::kSucceeded) continue;
    ++live_volumes;
    referenced.insert(status.cache_key);
    // I1 no-referenced-loss: every file the volume was given, with the
    // registry's bytes.
    auto tree = ReadTree(&posix_, record + "/model");
    for (auto& [p, entry] : tree) entry.inode = 0;
    EXPECT_EQ(tree, golden.at(status.cache_key)) << "I1 no-referenced-loss: " << record;
  }
  // I3 footprint: one entry per referenced digest, nothing else, and the
  // bytes on disk (each inode once) equal the unique bytes of the layers
  // the referenced models list (a layer two models share, once).
  std::set<std::string> entries;
  for (const Digest& d : Entries()) entries.insert(d.ToString());
  EXPECT_EQ(entries, referenced) << "I3 footprint: entries vs referenced digests";
  const auto layer_bytes = LayerBytes();
  std::map<std::string, uint64_t> unique_layers;
  for (const std::string& key : referenced) {
    for (const auto& [layer, bytes] : layer_bytes.at(key)) unique_layers[layer] = bytes;
  }
  uint64_t want_bytes = 0;
  for (const auto& [layer, bytes] : unique_layers) want_bytes += bytes;
  EXPECT_EQ(PayloadBytes(&posix_, root_), want_bytes) << "I3 footprint: bytes";
  ExpectNoStaging();
  std::printf("[stress] threads=%d ops=%d pulls=%d ok=%d refused=%d deletes=%d releases=%d "
              "sweeps=%d live_volumes=%d unique_digests=%zu payload_bytes=%llu\n",
              kThreads, kThreads * kOpsPerThread, fig.pulls.load(), fig.pulls_ok.load(),
              fig.refused.load(), fig.deletes.load(), fig.releases.load(), fig.sweeps.load(),
              live_volumes, referenced.size(), static_cast<unsigned long long>(want_bytes));
  EXPECT_GT(fig.pulls_ok.load(), kThreads) << "the workload must mostly succeed to mean anything";
}

}  // namespace
}  // namespace ms::testing
