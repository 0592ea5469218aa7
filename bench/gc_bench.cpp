// gc_bench: what collecting an entry costs, and what deciding not to costs.
//
//   gc/collect/files:N
//       ModelStore::MaybeGc of a model no volume references any more (its
//       ref's record says "not mine"), made as a pull through the store's
//       layers makes one: a tar layer entry holding the N-file tree and the
//       model entry hardlinking each of its files (2N names, N inodes). The
//       collection removes both entries. Against `rm -rf` of exactly the
//       same two directories, copied fresh with `cp -a` (one invocation, so
//       the copies share inodes the way the entries do; the .lock files,
//       refs/ and the model's layers list come along). Both are made anew
//       before every iteration (not measured), so both free their blocks.
//       The two run in an order that alternates per iteration, timed apart.
//       Measured time: MaybeGc. Counters: gc_ms, rm_rf_ms, gc_vs_rm_rf.
//   gc/liveness/files:N
//       MaybeGc of a referenced entry of N files, which must keep it. The
//       store decides liveness from refs/ (one ref here), never by walking
//       the payload, so this must not grow with N. Each iteration also
//       checks a 10-file entry in the same store, timed apart: counter
//       liveness_vs_smallest = time(N files) / time(10 files), about 1.
//   gc/liveness/refs:R
//       The same check on a 10-file entry that R volumes reference, paired
//       with a 1-ref entry: counter liveness_vs_one_ref. Every ref is read
//       and confirmed with the referrer check (here a constant answer; in
//       the VolumeManager a read of the volume's status.json), so this one
//       grows with R.
//
// Trees: N files of 1 KiB in directories of 100 files. StoreOptions::durable
// is off: collection does no fsync either way, and it makes set-up faster.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "bench/bench_support.h"
#include "core/manifest.h"

namespace {

using ms::bench::BenchStore;
using ms::bench::Profile;
using ms::bench::TreeSpec;

constexpr char kReferrer[] = "volumes/bench";

TreeSpec SpecFor(int files, uint64_t seed) {
  TreeSpec spec;
  spec.files = files;
  spec.seed = seed;
  return spec;
}

void Collect(benchmark::State& state, int files) {
  BenchStore bs("gc");
  bs.set_live(false);  // every ref names a volume that no longer holds the key
  const std::string rm = ms::bench::ToolPath("rm");
  const std::string cp = ms::bench::ToolPath("cp");
  const std::string plain = bs.volumes_dir() + "/plain";
  ms::bench::MakeDirOrDie(plain);
  BenchStore::LayeredEntry entry;
  std::vector<std::string> copies;  // plain's copies of the two entry dirs
  uint64_t seed = 10;
  ms::bench::Paired paired(
      [&] {
        MS_RETURN_IF_ERROR(bs.store(false).MaybeGc(entry.model));
        if (bs.HasData(entry.model)) return ms::Status(ms::Code::kInternal, "model was not collected");
        if (bs.HasTarLayer(entry.layer)) return ms::Status(ms::Code::kInternal, "layer was not collected");
        return ms::Status::Ok();
      },
      {[&] {
        std::vector<std::string> argv = {rm, "-rf"};
        argv.insert(argv.end(), copies.begin(), copies.end());
        return ms::bench::RunCommand(argv);
      }});
  paired.Prepare([&] {
    ++seed;
    entry = bs.AddLayeredEntry(SpecFor(files, seed), kReferrer);
    const std::string model_dir = bs.store(false).EntryDir(entry.model);
    const std::string layer_dir = bs.store(false).LayerEntryDir(ms::LayerFormat::kTar, entry.layer);
    // One cp, so that the copies share inodes as the entries do; they land
    // under their own names (the digests' hex, which differ).
    copies = {plain + "/" + entry.model.hex(), plain + "/" + entry.layer.hex()};
    return ms::bench::RunCommand({cp, "-a", model_dir, layer_dir, plain});
  });
  if (!paired.Run(state)) return;
  state.counters["files"] = files;
  state.counters["gc_ms"] = paired.subject_median_s() * 1e3;
  state.counters["rm_rf_ms"] = paired.baseline_median_s(0) * 1e3;
  state.counters["gc_vs_rm_rf"] = paired.ratio(0);
  state.SetItemsProcessed(paired.iterations() * files);
}

// MaybeGc of `subject` paired with MaybeGc of `reference`, both live: the
// entries must survive every check.
bool PairedLiveness(benchmark::State& state, BenchStore& bs, const ms::Digest& subject,
                    const ms::Digest& reference, ms::bench::Paired* out) {
  *out = ms::bench::Paired([&] { return bs.store(false).MaybeGc(subject); },
                           {[&] { return bs.store(false).MaybeGc(reference); }});
  if (!out->Run(state)) return false;
  if (!bs.HasData(subject) || !bs.HasData(reference)) {
    state.SkipWithError("a referenced entry was collected");
    return false;
  }
  return true;
}

void Liveness(benchmark::State& state, int files) {
  BenchStore bs("gc-live");
  bs.set_live(true);
  const ms::Digest big = bs.AddEntry(SpecFor(files, 2), kReferrer);
  const ms::Digest small = bs.AddEntry(SpecFor(10, 3), kReferrer);
  ms::bench::Paired paired({}, {});
  if (!PairedLiveness(state, bs, big, small, &paired)) return;
  state.counters["files"] = files;
  state.counters["liveness_us"] = paired.subject_median_s() * 1e6;
  state.counters["smallest_us"] = paired.baseline_median_s(0) * 1e6;
  state.counters["liveness_vs_smallest"] = paired.ratio(0);
}

// The same check against the number of refs the entry holds (volumes that
// link it): liveness reads refs/, so this is where its cost lives.
void LivenessRefs(benchmark::State& state, int refs) {
  BenchStore bs("gc-refs");
  bs.set_live(true);
  const ms::Digest many = bs.AddEntry(SpecFor(10, 4), "volumes/r0");
  const ms::Digest one = bs.AddEntry(SpecFor(10, 5), kReferrer);
  const std::string dst = bs.volumes_dir() + "/ref";
  for (int r = 1; r < refs; ++r) {
    ms::bench::CheckOk(bs.store(false).Materialize(many, dst, "volumes/r" + std::to_string(r),
                                                   BenchStore::NoPull(), bs.token()),
                       "add ref");
    ms::bench::RemoveTreeOrDie(dst);
  }
  ms::bench::Paired paired({}, {});
  if (!PairedLiveness(state, bs, many, one, &paired)) return;
  state.counters["refs"] = refs;
  state.counters["liveness_us"] = paired.subject_median_s() * 1e6;
  state.counters["one_ref_us"] = paired.baseline_median_s(0) * 1e6;
  state.counters["liveness_vs_one_ref"] = paired.ratio(0);
}

int64_t CollectIterations(int files) {
  if (files <= 100) return 15;
  return files <= 1000 ? 8 : 5;
}

}  // namespace

int main(int argc, char** argv) {
  const Profile profile = ms::bench::ParseProfile(&argc, argv);
  for (int files : ms::bench::TreeSizes(profile)) {
    const std::string size = "/files:" + std::to_string(files);
    auto* collect = benchmark::RegisterBenchmark(("gc/collect" + size).c_str(), Collect, files);
    collect->UseManualTime()->Unit(benchmark::kMillisecond);
    ms::bench::ApplyIterations(collect, profile, CollectIterations(files));
  }
  for (int files : ms::bench::TreeSizes(profile)) {
    const std::string size = "/files:" + std::to_string(files);
    auto* live = benchmark::RegisterBenchmark(("gc/liveness" + size).c_str(), Liveness, files);
    live->UseManualTime()->Unit(benchmark::kMicrosecond);
    ms::bench::ApplyIterations(live, profile, 1000);
  }
  const std::vector<int> refs = profile == Profile::kSmoke   ? std::vector<int>{1, 10}
                                : profile == Profile::kQuick ? std::vector<int>{1, 10, 100}
                                                             : std::vector<int>{1, 10, 100, 1000};
  for (int r : refs) {
    auto* b = benchmark::RegisterBenchmark(("gc/liveness/refs:" + std::to_string(r)).c_str(),
                                           LivenessRefs, r);
    b->UseManualTime()->Unit(benchmark::kMicrosecond);
    ms::bench::ApplyIterations(b, profile, r <= 10 ? 1000 : r <= 100 ? 200 : 40);
  }
  return ms::bench::RunSuite("gc", profile, &argc, argv);
}
