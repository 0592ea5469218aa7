// materialize_bench: linking a cached model into a volume, on a real disk.
//
//   materialize/store/files:N/durable:D
//       ModelStore::Materialize of an entry that is already cached (the
//       store path: lock, ref, mirror by hardlinks). The measured time is the
//       call alone. Every iteration also runs `cp -al` and the linkat floor on
//       the same tree, in an order that rotates per iteration, timed apart:
//       the baselines share the iterations, the page cache and the noise of
//       the subject. Counters: store_ms, cp_al_ms, linkat_ms (medians over
//       the iterations), store_vs_cp_al, store_vs_linkat (ratios of the
//       medians). The benchmark's time is Google Benchmark's mean.
//       durable:1 is the production setting (fsync of every directory made
//       and of the ref); durable:0 does the same work as cp -al, and is the
//       headline comparison.
//   materialize/cp_al/files:N
//       posix_spawn + wait of `/bin/cp -al data/ dst`, per iteration: what an
//       operator would type.
//   materialize/linkat/files:N
//       the floor: mkdir of each directory and one linkat per file from a
//       precomputed list; no stat, no readdir, no fsync.
//   materialize/durability/files:N
//       the cost of durability: Materialize with durable on (every name it
//       creates synced in its parent, the ref synced) against the same call
//       durable off and against `cp -al` followed by `sync -f` on the copy
//       (the fair floor: the same tree, made durable by hand; sync -f
//       flushes the whole filesystem, so it pays for whatever else is
//       dirty there too), all in the same iterations. Counters:
//       durable_ms, fast_ms, cp_al_sync_ms, durable_vs_fast,
//       durable_vs_cp_al_sync.
//
// Trees: N files of 1 KiB in directories of 100 files.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_support.h"

namespace {

using ms::bench::BenchStore;
using ms::bench::Profile;
using ms::bench::Stopwatch;
using ms::bench::TreeSpec;

constexpr char kReferrer[] = "volumes/bench";

TreeSpec SpecFor(int files) {
  TreeSpec spec;
  spec.files = files;
  spec.seed = 1;
  return spec;
}

// One cached entry per size, shared by every benchmark of that size (writing
// 10,000 fresh files is the slowest part of the suite). Lives until exit.
struct Cached {
  BenchStore bs{"materialize"};
  ms::Digest digest;
  std::string data;
};

Cached& CachedTree(int files) {
  static std::map<int, std::unique_ptr<Cached>> cache;
  std::unique_ptr<Cached>& slot = cache[files];
  if (slot == nullptr) {
    slot = std::make_unique<Cached>();
    slot->digest = slot->bs.AddEntry(SpecFor(files), kReferrer);
    slot->data = slot->bs.store(false).DataDir(slot->digest);
  }
  return *slot;
}

void MaterializeStore(benchmark::State& state, int files, bool durable) {
  Cached& cached = CachedTree(files);
  BenchStore& bs = cached.bs;
  ms::ModelStore& store = bs.store(durable);
  const ms::bench::TreeListing listing = ms::bench::ListingOf(SpecFor(files));
  const std::string cp = ms::bench::ToolPath("cp");
  const std::string dst_store = bs.volumes_dir() + "/store";
  const std::string dst_cp = bs.volumes_dir() + "/cp";
  const std::string dst_floor = bs.volumes_dir() + "/floor";
  const ms::ModelStore::PullFn no_pull = BenchStore::NoPull();

  ms::bench::Paired paired(
      [&] { return store.Materialize(cached.digest, dst_store, kReferrer, no_pull, bs.token()); },
      {[&] { return ms::bench::RunCommand({cp, "-al", cached.data, dst_cp}); },
       [&] { return ms::bench::LinkTreeFloor(listing, cached.data, dst_floor); }});
  paired.Cleanup([&] {
    for (const std::string* dst : {&dst_store, &dst_cp, &dst_floor}) ms::bench::RemoveTreeOrDie(*dst);
    return ms::Status::Ok();
  });
  if (!paired.Run(state)) return;
  state.counters["files"] = files;
  state.counters["store_ms"] = paired.subject_median_s() * 1e3;
  state.counters["cp_al_ms"] = paired.baseline_median_s(0) * 1e3;
  state.counters["linkat_ms"] = paired.baseline_median_s(1) * 1e3;
  state.counters["store_vs_cp_al"] = paired.ratio(0);
  state.counters["store_vs_linkat"] = paired.ratio(1);
  state.counters["us_per_file"] = paired.subject_median_s() / files * 1e6;
  state.SetItemsProcessed(paired.iterations() * files);
}

void MaterializeDurability(benchmark::State& state, int files) {
  Cached& cached = CachedTree(files);
  BenchStore& bs = cached.bs;
  const std::string cp = ms::bench::ToolPath("cp");
  const std::string sync = ms::bench::ToolPath("sync");
  const std::string dst_durable = bs.volumes_dir() + "/durable";
  const std::string dst_fast = bs.volumes_dir() + "/fast";
  const std::string dst_cp = bs.volumes_dir() + "/cp-sync";
  const ms::ModelStore::PullFn no_pull = BenchStore::NoPull();
  ms::bench::Paired paired(
      [&] { return bs.store(true).Materialize(cached.digest, dst_durable, kReferrer, no_pull, bs.token()); },
      {[&] { return bs.store(false).Materialize(cached.digest, dst_fast, kReferrer, no_pull, bs.token()); },
       [&] {
         MS_RETURN_IF_ERROR(ms::bench::RunCommand({cp, "-al", cached.data, dst_cp}));
         return ms::bench::RunCommand({sync, "-f", dst_cp});
       }});
  paired.Cleanup([&] {
    for (const std::string* dst : {&dst_durable, &dst_fast, &dst_cp}) ms::bench::RemoveTreeOrDie(*dst);
    return ms::Status::Ok();
  });
  if (!paired.Run(state)) return;
  state.counters["files"] = files;
  state.counters["durable_ms"] = paired.subject_median_s() * 1e3;
  state.counters["fast_ms"] = paired.baseline_median_s(0) * 1e3;
  state.counters["cp_al_sync_ms"] = paired.baseline_median_s(1) * 1e3;
  state.counters["durable_vs_fast"] = paired.ratio(0);
  state.counters["durable_vs_cp_al_sync"] = paired.ratio(1);
  state.SetItemsProcessed(paired.iterations() * files);
}

// The two baselines alone, each with its own iterations, for the curves.
void Baseline(benchmark::State& state, int files, bool use_cp) {
  Cached& cached = CachedTree(files);
  const std::string& data = cached.data;
  BenchStore& bs = cached.bs;
  const ms::bench::TreeListing listing = ms::bench::ListingOf(SpecFor(files));
  const std::string cp = ms::bench::ToolPath("cp");
  const std::string dst = bs.volumes_dir() + "/dst";
  int64_t iteration = 0;
  for (auto _ : state) {
    const Stopwatch watch;
    const ms::Status st = use_cp ? ms::bench::RunCommand({cp, "-al", data, dst})
                                 : ms::bench::LinkTreeFloor(listing, data, dst);
    state.SetIterationTime(watch.Seconds());
    if (!st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
    ms::bench::RemoveTreeOrDie(dst);
    ++iteration;
  }
  state.counters["files"] = files;
  state.SetItemsProcessed(iteration * files);
}

// Each paired iteration also pays for cp -al (a fork/exec, several ms) and
// the floor, so the count is fixed per size: about 1-3 s each here.
int64_t PairedIterations(int files) {
  if (files <= 10) return 60;
  if (files <= 100) return 40;
  if (files <= 1000) return 15;
  return 5;
}

// Fixed counts here too: a minimum measured time would repeat the linkat
// floor (0.1 ms at 10 files) thousands of times, each followed by an
// unmeasured removal that costs more than the measured link.
int64_t BaselineIterations(int files) {
  if (files <= 100) return 30;
  if (files <= 1000) return 10;
  return 4;
}

}  // namespace

int main(int argc, char** argv) {
  const Profile profile = ms::bench::ParseProfile(&argc, argv);
  for (int files : ms::bench::TreeSizes(profile)) {
    const std::string size = "/files:" + std::to_string(files);
    for (int durable : {0, 1}) {
      const std::string name = "materialize/store" + size + "/durable:" + std::to_string(durable);
      auto* b = benchmark::RegisterBenchmark(name.c_str(), MaterializeStore, files, durable != 0);
      b->UseManualTime()->Unit(benchmark::kMillisecond);
      ms::bench::ApplyIterations(b, profile, PairedIterations(files));
    }
    {
      const std::string name = "materialize/durability" + size;
      auto* b = benchmark::RegisterBenchmark(name.c_str(), MaterializeDurability, files);
      b->UseManualTime()->Unit(benchmark::kMillisecond);
      ms::bench::ApplyIterations(b, profile, PairedIterations(files));
    }
    for (bool use_cp : {true, false}) {
      const std::string name = std::string("materialize/") + (use_cp ? "cp_al" : "linkat") + size;
      auto* b = benchmark::RegisterBenchmark(name.c_str(), Baseline, files, use_cp);
      b->UseManualTime()->Unit(benchmark::kMillisecond);
      ms::bench::ApplyIterations(b, profile, BaselineIterations(files));
    }
  }
  return ms::bench::RunSuite("materialize", profile, &argc, argv);
}
