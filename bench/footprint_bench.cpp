// footprint_bench: N volumes over K unique models, pulled through the
// VolumeManager from the in-memory FakeRegistry onto a real disk by T threads
// at once (volume i gets model i mod K).
//
//   footprint/volumes:N/digests:K/pullers:T
//       Measured time: all N pulls, from a start barrier to the last join.
//       Then, not measured:
//         disk_bytes            regular files under the root, each inode once,
//                               without status.json, refs/ and .lock
//         unique_payload_bytes  sum of the payload sizes of the K models
//         no_dedup_bytes        what N private copies would take
//         footprint_ratio       disk_bytes / unique_payload_bytes: must be 1
//                               exactly (I3 footprint)
//         manifest_fetches_per_digest  the most any manifest was fetched:
//                               must be 1 however many threads (I2 dedup)
//         blob_fetches_per_blob the most any blob was fetched: 1
//         entries_after_delete  store entries left once every volume is
//                               deleted: must be 0
//         delete_ms             time to delete the N volumes (one thread)
//       (the last two only up to 100 volumes per digest, see DeletePhase)
//
// Every model has unique bytes (no layer shared between models), so manifest-
// level dedup is all the dedup there is to find. StoreOptions::durable is off
// to keep 1,000 pulls affordable; status.json writes are fsynced anyway (the
// core always writes them with WriteFileAtomic).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <latch>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_support.h"
#include "core/volume_manager.h"
#include "sim/registry/fake_registry.h"
#include "sim/registry/model_builder.h"

namespace {

using ms::bench::Profile;
using ms::bench::Stopwatch;

struct Config {
  int volumes;
  int digests;
  int threads;
};

struct Model {
  std::string reference;
  ms::sim::BuiltModel built;
  uint64_t payload_bytes = 0;
};

Model MakeModel(int k) {
  const auto seed = static_cast<uint64_t>(k) + 1;
  ms::sim::ModelBuilder builder("bench-model-" + std::to_string(k));
  builder.AddRawFile("config.json", ms::bench::FillerBytes(seed, 0, 256),
                     std::string(ms::sim::media_type::kWeightConfigRaw));
  builder.AddRawFile("tokenizer.json", ms::bench::FillerBytes(seed, 1, 2048),
                     std::string(ms::sim::media_type::kWeightConfigRaw));
  builder.AddRawFile("weights/model-00001.safetensors", ms::bench::FillerBytes(seed, 2, 24 * 1024));
  builder.AddRawFile("weights/model-00002.safetensors", ms::bench::FillerBytes(seed, 3, 8 * 1024 + 17));
  Model model;
  model.reference = "bench/model-" + std::to_string(k) + ":v1";
  model.built = builder.Build();
  for (const ms::sim::BuiltLayer& layer : model.built.layers) model.payload_bytes += layer.content.size();
  return model;
}

// Deleting is quadratic in the volumes per digest (every delete's GC reads
// every remaining ref and its volume's status.json), so 1,000 volumes over
// one digest take half a minute: the delete phase runs only up to 100
// volumes per digest.
bool DeletePhase(const Config& config) { return config.volumes <= 100 * config.digests; }

void Footprint(benchmark::State& state, Config config) {
  std::vector<Model> models;
  ms::sim::FakeRegistry registry;
  for (int k = 0; k < config.digests; ++k) {
    models.push_back(MakeModel(k));
    registry.Push("bench/model-" + std::to_string(k), "v1", models.back().built);
  }
  std::atomic<uint64_t> warnings{0};
  ms::ThreadRuntime runtime([&warnings](ms::LogLevel level, std::string_view message) {
    if (level >= ms::LogLevel::kWarning) {
      ++warnings;
      std::fprintf(stderr, "footprint: %.*s\n", static_cast<int>(message.size()), message.data());
    }
  });
  ms::PosixFilesystem fs;

  ms::bench::DiskUsage usage;
  uint64_t unique_bytes = 0, no_dedup_bytes = 0, manifest_max = 0, blob_max = 0;
  uint64_t entries_left = 0;
  double delete_s = 0;
  int64_t iterations = 0;
  for (auto _ : state) {
    const ms::bench::ScratchDir scratch("footprint");
    ms::VolumeOptions options;
    options.store.root = scratch.path() + "/root";
    options.store.durable = false;
    ms::VolumeManager manager(&fs, &runtime, &registry, options);
    ms::bench::CheckOk(manager.Init(), "volume manager init");
    registry.ResetCounters();

    std::atomic<int> next{0};
    std::mutex error_mu;
    std::string error;
    std::latch start(config.threads + 1);
    std::vector<std::thread> threads;
    for (int t = 0; t < config.threads; ++t) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        for (int i = next++; i < config.volumes; i = next++) {
          ms::PullRequest request;
          request.volume = "vol-" + std::to_string(i);
          request.reference = models[static_cast<size_t>(i % config.digests)].reference;
          auto result = manager.PullModel(request);
          if (!result.ok()) {
            const std::lock_guard<std::mutex> lock(error_mu);
            if (error.empty()) error = request.volume + ": " + result.status().ToString();
          }
        }
      });
    }
    start.arrive_and_wait();
    const Stopwatch watch;
    for (std::thread& t : threads) t.join();
    state.SetIterationTime(watch.Seconds());
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      return;
    }

    usage = ms::bench::MeasureDisk(options.store.root);
    unique_bytes = 0;
    no_dedup_bytes = 0;
    for (int k = 0; k < std::min(config.digests, config.volumes); ++k) {
      unique_bytes += models[static_cast<size_t>(k)].payload_bytes;
    }
    for (int i = 0; i < config.volumes; ++i) {
      no_dedup_bytes += models[static_cast<size_t>(i % config.digests)].payload_bytes;
    }
    manifest_max = 0;
    blob_max = 0;
    for (const Model& model : models) {
      manifest_max = std::max(manifest_max, registry.ManifestFetches(model.built.manifest_digest));
      for (const ms::sim::BuiltLayer& layer : model.built.layers) {
        blob_max = std::max(blob_max, registry.BlobFetches(ms::Digest::Parse(layer.digest).value()));
      }
    }

    if (DeletePhase(config)) {
      const Stopwatch delete_watch;
      for (int i = 0; i < config.volumes; ++i) {
        ms::bench::CheckOk(manager.DeleteModel("vol-" + std::to_string(i), ""), "delete volume");
      }
      delete_s += delete_watch.Seconds();
      auto entries = manager.store().ListEntries();
      ms::bench::CheckOk(entries.status(), "list entries");
      entries_left = entries->size();
    }
    ++iterations;
  }
  if (iterations == 0) return;
  state.counters["volumes"] = config.volumes;
  state.counters["digests"] = config.digests;
  state.counters["pullers"] = config.threads;
  state.counters["disk_bytes"] = static_cast<double>(usage.payload_bytes);
  state.counters["bookkeeping_bytes"] = static_cast<double>(usage.bookkeeping_bytes);
  state.counters["unique_payload_bytes"] = static_cast<double>(unique_bytes);
  state.counters["no_dedup_bytes"] = static_cast<double>(no_dedup_bytes);
  state.counters["footprint_ratio"] =
      unique_bytes == 0 ? 0.0 : static_cast<double>(usage.payload_bytes) / static_cast<double>(unique_bytes);
  state.counters["manifest_fetches_per_digest"] = static_cast<double>(manifest_max);
  state.counters["blob_fetches_per_blob"] = static_cast<double>(blob_max);
  if (DeletePhase(config)) {
    state.counters["entries_after_delete"] = static_cast<double>(entries_left);
    state.counters["delete_ms"] = delete_s / static_cast<double>(iterations) * 1e3;
    state.counters["delete_ms_per_volume"] = delete_s / static_cast<double>(iterations) / config.volumes * 1e3;
  }
  state.counters["warnings"] = static_cast<double>(warnings.load());
  state.SetItemsProcessed(iterations * config.volumes);
}

// Three series: footprint against N (K fixed), against K (N fixed), and the
// dedup check against the number of threads pulling one digest at once.
std::vector<Config> Configs(Profile profile) {
  switch (profile) {
    case Profile::kSmoke: return {{10, 2, 4}};
    case Profile::kQuick:
      // A subset of the full configurations, so a quick run compares with
      // the full baseline figure by figure.
      return {{10, 10, 8}, {100, 10, 8}, {100, 1, 8}};
    case Profile::kFull:
      // Against N at K = 10; against K at N = 100; pullers at N = 100, K = 1.
      // Every pull fsyncs status.json three times, so N = 1,000 once only.
      return {{10, 10, 8},   {100, 10, 8}, {1000, 10, 8}, {100, 1, 8},
              {100, 100, 8}, {100, 1, 1},  {100, 1, 32}};
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  const Profile profile = ms::bench::ParseProfile(&argc, argv);
  for (const Config& c : Configs(profile)) {
    const std::string name = "footprint/volumes:" + std::to_string(c.volumes) +
                             "/digests:" + std::to_string(c.digests) +
                             "/pullers:" + std::to_string(c.threads);
    auto* b = benchmark::RegisterBenchmark(name.c_str(), Footprint, c);
    b->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);
  }
  return ms::bench::RunSuite("footprint", profile, &argc, argv);
}
