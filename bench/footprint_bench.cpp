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
//   footprint/sharing/models:K/shared_pct:S/volumes_per_model:V
//       K models of kSharingUnits equal units of payload (one tar layer of
//       two files, the rest raw weight shards), of which the first S % are
//       the same layers in every model (a base's shards that fine-tunes
//       share) and the rest are each model's own; every model pulled into V
//       volumes by kSharingPullers threads. Measured time: all K * V pulls.
//       Counters, not measured:
//         disk_bytes            as above (each inode once, payload only)
//         unique_blob_bytes     the payload of each distinct layer once: what
//                               a store with one copy per layer must keep
//         manifest_level_bytes  each model's payload once: what one copy per
//                               manifest digest keeps
//         no_dedup_bytes        one copy per volume
//         footprint_ratio       disk_bytes / unique_blob_bytes: must be 1
//         manifest_level_ratio  manifest_level_bytes / unique_blob_bytes
//         no_dedup_ratio        no_dedup_bytes / unique_blob_bytes
//         blob_fetches_per_blob the most any layer was fetched: 1
//
//   footprint/blob_fetches/pullers:P
//       P threads, released by one barrier, each pulling a different model
//       into its own volume; the P models share kFetchSharedLayers layers
//       (raw shards and a tar layer) and have two raw shards of their own.
//       Each round starts on a fresh root; rounds are the iterations.
//       Measured time: the P pulls of a round. Counters, over every round:
//         fetches_per_blob      the layers' blob fetches / (unique layers *
//                               rounds): must be 1 (one fetch per layer, not
//                               one per puller)
//         blob_fetches_per_blob the most any layer was fetched in a round: 1
//         footprint_ratio       disk_bytes / unique_blob_bytes: 1
//         unique_layers, shared_layers, rounds
//
// In the first family every model has unique bytes (no layer shared between
// models), so manifest-level dedup is all the dedup there is to find; the
// two others share layers between models. StoreOptions::durable is off to
// keep 1,000 pulls affordable; status.json writes are fsynced anyway (the
// core always writes them with WriteFileAtomic).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <latch>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_support.h"
#include "core/volume_manager.h"
#include "sim/registry/fake_registry.h"
#include "sim/registry/model_builder.h"
#include "sim/registry/tar_writer.h"

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

// Pulls each (volume, reference) through manager with threads threads
// released at once; the seconds from the release to the last join, and the
// first error (empty if none).
struct PullOutcome {
  double seconds = 0;
  std::string error;
};

PullOutcome PullAll(ms::VolumeManager* manager, const std::vector<std::pair<std::string, std::string>>& pulls,
                    int threads) {
  std::atomic<size_t> next{0};
  std::mutex error_mu;
  PullOutcome outcome;
  std::latch start(threads + 1);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      start.arrive_and_wait();
      for (size_t i = next++; i < pulls.size(); i = next++) {
        ms::PullRequest request;
        request.volume = pulls[i].first;
        request.reference = pulls[i].second;
        auto result = manager->PullModel(request);
        if (!result.ok()) {
          const std::lock_guard<std::mutex> lock(error_mu);
          if (outcome.error.empty()) outcome.error = request.volume + ": " + result.status().ToString();
        }
      }
    });
  }
  start.arrive_and_wait();
  const Stopwatch watch;
  for (std::thread& t : workers) t.join();
  outcome.seconds = watch.Seconds();
  return outcome;
}

// One iteration's store: a VolumeManager on a fresh root on the real disk
// (durable off), with the registry's counters reset.
ms::VolumeOptions FreshOptions(const std::string& scratch) {
  ms::VolumeOptions options;
  options.store.root = scratch + "/root";
  options.store.durable = false;
  return options;
}

struct FreshStore {
  FreshStore(ms::Filesystem* fs, ms::Runtime* runtime, ms::sim::FakeRegistry* registry, std::string_view tag)
      : scratch(tag), options(FreshOptions(scratch.path())), manager(fs, runtime, registry, options) {
    ms::bench::CheckOk(manager.Init(), "volume manager init");
    registry->ResetCounters();
  }
  const std::string& root() const { return options.store.root; }

  ms::bench::ScratchDir scratch;
  ms::VolumeOptions options;
  ms::VolumeManager manager;
};

// PullAll as one iteration: its time is the iteration's; false (the
// benchmark skipped with the error) if a pull failed.
bool PullRound(benchmark::State& state, ms::VolumeManager* manager,
               const std::vector<std::pair<std::string, std::string>>& pulls, int threads) {
  const PullOutcome outcome = PullAll(manager, pulls, threads);
  state.SetIterationTime(outcome.seconds);
  if (!outcome.error.empty()) state.SkipWithError(outcome.error.c_str());
  return outcome.error.empty();
}

// The runtime's log: warnings and errors to stderr, counted in *warnings.
auto WarningLog(std::atomic<uint64_t>* warnings) {
  return [warnings](ms::LogLevel level, std::string_view message) {
    if (level >= ms::LogLevel::kWarning) {
      ++*warnings;
      std::fprintf(stderr, "footprint: %.*s\n", static_cast<int>(message.size()), message.data());
    }
  };
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
  ms::ThreadRuntime runtime(WarningLog(&warnings));
  ms::PosixFilesystem fs;

  ms::bench::DiskUsage usage;
  uint64_t unique_bytes = 0, no_dedup_bytes = 0, manifest_max = 0, blob_max = 0;
  uint64_t entries_left = 0;
  double delete_s = 0;
  int64_t iterations = 0;
  for (auto _ : state) {
    FreshStore fresh(&fs, &runtime, &registry, "footprint");
    ms::VolumeManager& manager = fresh.manager;

    std::vector<std::pair<std::string, std::string>> pulls;
    for (int i = 0; i < config.volumes; ++i) {
      pulls.emplace_back("vol-" + std::to_string(i), models[static_cast<size_t>(i % config.digests)].reference);
    }
    if (!PullRound(state, &manager, pulls, config.threads)) return;

    usage = ms::bench::MeasureDisk(fresh.root());
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

// --- Sharing between models, and fetches per blob ------------------------

// Layer digest text -> payload bytes, over every model (each layer once).
std::map<std::string, uint64_t> UniqueLayers(const std::vector<Model>& models) {
  std::map<std::string, uint64_t> unique;
  for (const Model& model : models) {
    auto layers = ms::sim::LayerPayloadBytes(model.built);
    ms::bench::CheckOk(layers.status(), "layer payload bytes");
    unique.insert(layers->begin(), layers->end());
  }
  return unique;
}

uint64_t SumBytes(const std::map<std::string, uint64_t>& layers) {
  uint64_t total = 0;
  for (const auto& [digest, bytes] : layers) total += bytes;
  return total;
}

// A tar layer of two files of half a unit each, unique to seed.
std::vector<ms::sim::TarEntry> TokenizerTar(uint64_t seed, size_t unit_bytes) {
  std::vector<ms::sim::TarEntry> entries(3);
  entries[0].path = "tokenizer";
  entries[0].type = ms::sim::TarEntry::Type::kDirectory;
  entries[0].mode = 0755;
  entries[1].path = "tokenizer/vocab.json";
  entries[1].content = ms::bench::FillerBytes(seed, 1000, unit_bytes / 2);
  entries[2].path = "tokenizer/merges.txt";
  entries[2].content = ms::bench::FillerBytes(seed, 1001, unit_bytes - unit_bytes / 2);
  return entries;
}

std::string ShardPath(int unit) {
  char name[64];
  std::snprintf(name, sizeof name, "weights/model-%05d.safetensors", unit);
  return name;
}

constexpr int kSharingUnits = 20;                // 5 % steps
constexpr size_t kSharingUnitBytes = 8 * 1024;   // per unit of payload
constexpr int kSharingPullers = 4;

// Model k of the sharing family: unit 0 the tokenizer tar layer, units
// 1.. raw shards; units below shared_units have the same bytes in every
// model (seed 0), the others bytes of their own (seed k + 1).
Model MakeSharingModel(int k, int shared_units) {
  ms::sim::ModelBuilder builder("bench-shared-" + std::to_string(k));
  auto seed_of = [&](int unit) { return unit < shared_units ? uint64_t{0} : static_cast<uint64_t>(k) + 1; };
  builder.AddTarLayer("tokenizer", TokenizerTar(seed_of(0), kSharingUnitBytes));
  for (int unit = 1; unit < kSharingUnits; ++unit) {
    builder.AddRawFile(ShardPath(unit), ms::bench::FillerBytes(seed_of(unit), static_cast<uint64_t>(unit),
                                                              kSharingUnitBytes));
  }
  Model model;
  model.reference = "bench/shared-" + std::to_string(k) + ":v1";
  model.built = builder.Build();
  auto layers = ms::sim::LayerPayloadBytes(model.built);
  ms::bench::CheckOk(layers.status(), "layer payload bytes");
  model.payload_bytes = SumBytes(*layers);
  return model;
}

struct SharingConfig {
  int models;
  int shared_pct;
  int volumes_per_model;
};

// The largest BlobFetches over the given layer digests.
uint64_t MaxBlobFetches(const ms::sim::FakeRegistry& registry, const std::map<std::string, uint64_t>& layers,
                        uint64_t* total) {
  uint64_t most = 0;
  for (const auto& [digest, bytes] : layers) {
    const uint64_t n = registry.BlobFetches(ms::Digest::Parse(digest).value());
    most = std::max(most, n);
    if (total != nullptr) *total += n;
  }
  return most;
}

void Sharing(benchmark::State& state, SharingConfig config) {
  const int shared_units = kSharingUnits * config.shared_pct / 100;
  std::vector<Model> models;
  ms::sim::FakeRegistry registry;
  for (int k = 0; k < config.models; ++k) {
    models.push_back(MakeSharingModel(k, shared_units));
    registry.Push("bench/shared-" + std::to_string(k), "v1", models.back().built);
  }
  const std::map<std::string, uint64_t> unique = UniqueLayers(models);
  const uint64_t unique_bytes = SumBytes(unique);
  uint64_t manifest_level_bytes = 0;
  for (const Model& model : models) manifest_level_bytes += model.payload_bytes;
  const uint64_t no_dedup_bytes = manifest_level_bytes * static_cast<uint64_t>(config.volumes_per_model);
  std::vector<std::pair<std::string, std::string>> pulls;
  for (int v = 0; v < config.volumes_per_model; ++v) {
    for (int k = 0; k < config.models; ++k) {
      pulls.emplace_back("vol-" + std::to_string(k) + "-" + std::to_string(v),
                         models[static_cast<size_t>(k)].reference);
    }
  }

  std::atomic<uint64_t> warnings{0};
  ms::ThreadRuntime runtime(WarningLog(&warnings));
  ms::PosixFilesystem fs;
  ms::bench::DiskUsage usage;
  uint64_t blob_max = 0;
  int64_t iterations = 0;
  for (auto _ : state) {
    FreshStore fresh(&fs, &runtime, &registry, "footprint-sharing");
    ms::VolumeManager& manager = fresh.manager;
    if (!PullRound(state, &manager, pulls, kSharingPullers)) return;
    usage = ms::bench::MeasureDisk(fresh.root());
    blob_max = std::max(blob_max, MaxBlobFetches(registry, unique, nullptr));
    ++iterations;
  }
  if (iterations == 0) return;
  const auto ratio = [unique_bytes](uint64_t bytes) {
    return static_cast<double>(bytes) / static_cast<double>(unique_bytes);
  };
  state.counters["models"] = config.models;
  state.counters["shared_pct"] = config.shared_pct;
  state.counters["volumes_per_model"] = config.volumes_per_model;
  state.counters["unique_layers"] = static_cast<double>(unique.size());
  state.counters["disk_bytes"] = static_cast<double>(usage.payload_bytes);
  state.counters["bookkeeping_bytes"] = static_cast<double>(usage.bookkeeping_bytes);
  state.counters["unique_blob_bytes"] = static_cast<double>(unique_bytes);
  state.counters["manifest_level_bytes"] = static_cast<double>(manifest_level_bytes);
  state.counters["no_dedup_bytes"] = static_cast<double>(no_dedup_bytes);
  state.counters["footprint_ratio"] = ratio(usage.payload_bytes);
  state.counters["manifest_level_ratio"] = ratio(manifest_level_bytes);
  state.counters["no_dedup_ratio"] = ratio(no_dedup_bytes);
  state.counters["blob_fetches_per_blob"] = static_cast<double>(blob_max);
  state.counters["warnings"] = static_cast<double>(warnings.load());
  state.SetItemsProcessed(iterations * static_cast<int64_t>(pulls.size()));
}

constexpr int kFetchSharedLayers = 6;  // five raw shards and a tar layer
constexpr size_t kFetchShardBytes = 64 * 1024;

// Model p of the fetch family: the shared layers, then two shards of its own.
Model MakeFetchModel(int p) {
  ms::sim::ModelBuilder builder("bench-fetch-" + std::to_string(p));
  builder.AddTarLayer("tokenizer", TokenizerTar(0, kFetchShardBytes));
  for (int unit = 1; unit < kFetchSharedLayers; ++unit) {
    builder.AddRawFile(ShardPath(unit), ms::bench::FillerBytes(0, static_cast<uint64_t>(unit), kFetchShardBytes));
  }
  for (int unit = kFetchSharedLayers; unit < kFetchSharedLayers + 2; ++unit) {
    builder.AddRawFile(ShardPath(unit), ms::bench::FillerBytes(static_cast<uint64_t>(p) + 1,
                                                              static_cast<uint64_t>(unit), kFetchShardBytes));
  }
  Model model;
  model.reference = "bench/fetch-" + std::to_string(p) + ":v1";
  model.built = builder.Build();
  return model;
}

void BlobFetches(benchmark::State& state, int pullers) {
  std::vector<Model> models;
  ms::sim::FakeRegistry registry;
  std::vector<std::pair<std::string, std::string>> pulls;
  for (int p = 0; p < pullers; ++p) {
    models.push_back(MakeFetchModel(p));
    registry.Push("bench/fetch-" + std::to_string(p), "v1", models.back().built);
    pulls.emplace_back("vol-" + std::to_string(p), models.back().reference);
  }
  const std::map<std::string, uint64_t> unique = UniqueLayers(models);
  const uint64_t unique_bytes = SumBytes(unique);

  std::atomic<uint64_t> warnings{0};
  ms::ThreadRuntime runtime(WarningLog(&warnings));
  ms::PosixFilesystem fs;
  uint64_t fetches_total = 0, blob_max = 0, disk_max = 0;
  int64_t rounds = 0;
  for (auto _ : state) {
    FreshStore fresh(&fs, &runtime, &registry, "footprint-fetches");
    ms::VolumeManager& manager = fresh.manager;
    // One thread per model: every pull starts at the same barrier.
    if (!PullRound(state, &manager, pulls, pullers)) return;
    blob_max = std::max(blob_max, MaxBlobFetches(registry, unique, &fetches_total));
    disk_max = std::max(disk_max, ms::bench::MeasureDisk(fresh.root()).payload_bytes);
    ++rounds;
  }
  if (rounds == 0) return;
  state.counters["pullers"] = pullers;
  state.counters["rounds"] = static_cast<double>(rounds);
  state.counters["shared_layers"] = kFetchSharedLayers;
  state.counters["unique_layers"] = static_cast<double>(unique.size());
  state.counters["layer_fetches"] = static_cast<double>(fetches_total);
  state.counters["fetches_per_blob"] =
      static_cast<double>(fetches_total) / static_cast<double>(unique.size() * static_cast<uint64_t>(rounds));
  state.counters["blob_fetches_per_blob"] = static_cast<double>(blob_max);
  state.counters["unique_blob_bytes"] = static_cast<double>(unique_bytes);
  state.counters["footprint_ratio"] = static_cast<double>(disk_max) / static_cast<double>(unique_bytes);
  state.counters["warnings"] = static_cast<double>(warnings.load());
  state.SetItemsProcessed(rounds * pullers);
}

std::vector<SharingConfig> SharingConfigs(Profile profile) {
  if (profile == Profile::kSmoke) return {{4, 50, 2}};
  std::vector<SharingConfig> out;
  for (int pct : {0, 25, 50, 75, 90}) out.push_back({8, pct, 2});
  return out;
}

std::vector<int> FetchPullers(Profile profile) {
  if (profile == Profile::kSmoke) return {4};
  return {1, 2, 4, 8};
}

int64_t FetchRounds(Profile profile) {
  switch (profile) {
    case Profile::kSmoke: return 2;
    case Profile::kQuick: return 5;
    case Profile::kFull: return 20;
  }
  return 1;
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
  for (const SharingConfig& c : SharingConfigs(profile)) {
    const std::string name = "footprint/sharing/models:" + std::to_string(c.models) +
                             "/shared_pct:" + std::to_string(c.shared_pct) +
                             "/volumes_per_model:" + std::to_string(c.volumes_per_model);
    auto* b = benchmark::RegisterBenchmark(name.c_str(), Sharing, c);
    b->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);
  }
  for (int pullers : FetchPullers(profile)) {
    const std::string name = "footprint/blob_fetches/pullers:" + std::to_string(pullers);
    auto* b = benchmark::RegisterBenchmark(name.c_str(), BlobFetches, pullers);
    b->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(FetchRounds(profile));
  }
  return ms::bench::RunSuite("footprint", profile, &argc, argv);
}
