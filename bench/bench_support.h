// Shared arrangement for the store benchmark suites (materialize, gc,
// footprint, pull): size profiles, scratch directories on a real disk, file
// trees, the hand-made baselines (cp -al, rm -rf, a bare linkat loop, plain
// write calls) and the on-disk byte count the footprint figure is built on.
//
// Everything here runs on the real disk through POSIX calls: the baselines
// are what a user would do by hand, so they must not go through the store's
// ports.
#pragma once

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel_token.h"
#include "core/digest.h"
#include "core/layer_source.h"
#include "core/manifest.h"
#include "core/model_store.h"
#include "core/posix_filesystem.h"
#include "core/status.h"
#include "core/thread_runtime.h"

namespace ms::bench {

// How much a suite runs. full: every size (./run bench); quick: small sizes,
// short minimum times (./run bench --quick, well under a minute for all
// suites); smoke: the smallest size, one or two iterations (the ctest smoke
// tests, which check names and counters, never times).
enum class Profile { kFull, kQuick, kSmoke };

// Reads --profile=full|quick|smoke (removed from argv, so Google Benchmark
// never sees it), else $MS_BENCH_PROFILE, else full. Exits with a usage
// message on an unknown profile.
Profile ParseProfile(int* argc, char** argv);
std::string_view ProfileName(Profile profile);

// Initializes Google Benchmark, records the suite's context (profile, where
// the scratch dirs live and on which filesystem), runs the benchmarks.
// Returns main's exit code.
int RunSuite(std::string_view suite, Profile profile, int* argc, char** argv);

// The tree sizes (file counts) the materialize and gc suites sweep.
std::vector<int> TreeSizes(Profile profile);

// Where scratch directories go: $MS_BENCH_DIR, else $TMPDIR, else /tmp.
std::string ScratchBase();
// The filesystem type of path ("ext4", "tmpfs", "xfs", "btrfs", ...).
std::string FilesystemTypeName(const std::string& path);

// A fresh directory under ScratchBase(), removed with everything in it.
class ScratchDir {
 public:
  explicit ScratchDir(std::string_view tag);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The shape of a synthetic model tree: files spread over subdirectories of
// at most files_per_dir each ("d0000/f00000"), every file file_bytes long
// with content unique to (seed, index), so no two trees share bytes.
struct TreeSpec {
  int files = 10;
  int files_per_dir = 100;
  size_t file_bytes = 1024;
  uint32_t file_mode = 0444;  // store payloads are read-only
  uint64_t seed = 0;
};

// The relative paths of a tree, directories in creation order (parents
// first), files in order.
struct TreeListing {
  std::vector<std::string> dirs;
  std::vector<std::string> files;
};
TreeListing ListingOf(const TreeSpec& spec);

// Creates path (O_EXCL) with bytes and exactly mode; plain POSIX, no fsync.
Status WriteFileBytes(const std::string& path, std::string_view bytes, uint32_t mode);

// Writes the tree into dir, which must exist. Plain POSIX calls, no fsync.
Status WriteTree(const std::string& dir, const TreeSpec& spec);

// The floor of any hardlinked mirror: mkdir each directory of listing under
// dst (dst itself included, which must not exist), then one linkat per file
// from src. No stat, no readdir, no fsync.
Status LinkTreeFloor(const TreeListing& listing, const std::string& src, const std::string& dst);

// Runs argv[0] (an absolute path) with posix_spawn and waits; an error
// unless it exits 0. This is the fork/exec a shell would do.
Status RunCommand(const std::vector<std::string>& argv);
// Absolute path of a coreutils tool: /bin/<name> or /usr/bin/<name>.
std::string ToolPath(std::string_view name);

// Removes path and everything below it (missing is fine); aborts the
// process with a message on failure, since a benchmark cannot go on.
void RemoveTreeOrDie(const std::string& path);
void MakeDirOrDie(const std::string& path);

// Bytes on disk under root as the footprint invariant counts them: regular
// files, each inode once, leaving out bookkeeping (files named status.json,
// anything under a directory named refs, the entries' .lock files).
struct DiskUsage {
  uint64_t payload_bytes = 0;      // the counted figure
  uint64_t payload_inodes = 0;
  uint64_t bookkeeping_bytes = 0;  // what was left out
  uint64_t links_seen = 0;         // regular-file names walked
};
DiskUsage MeasureDisk(const std::string& root);

// Aborts with the status when it is not OK (set-up code, not measured).
void CheckOk(const Status& status, std::string_view what);

// Seconds elapsed on the steady clock.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// Deterministic filler bytes for (seed, index).
std::string FillerBytes(uint64_t seed, uint64_t index, size_t size_bytes);

// Paired measurement, the way every suite compares with its baselines on a
// shared, noisy machine: each iteration runs the subject and each baseline
// once, in an order that rotates per iteration, timed apart; the
// iteration's (manual) time is the subject's. prepare runs before each
// iteration and cleanup after it, neither timed. The first error skips the
// benchmark with that error (Run returns false).
//
// The figures it hands back are medians over the iterations, so that one
// iteration preempted by a neighbour's build does not move a ratio.
class Paired {
 public:
  Paired(std::function<Status()> subject, std::vector<std::function<Status()>> baselines);
  Paired& Prepare(std::function<Status()> prepare);
  Paired& Cleanup(std::function<Status()> cleanup);
  // Runs the state's iterations. False if a step failed (already skipped).
  bool Run(benchmark::State& state);

  int64_t iterations() const { return static_cast<int64_t>(subject_s_.size()); }
  // Median seconds per iteration of the subject / of baseline i.
  double subject_median_s() const;
  double baseline_median_s(size_t i) const;
  // subject_median_s() / baseline_median_s(i).
  double ratio(size_t i) const;

 private:
  std::function<Status()> subject_;
  std::vector<std::function<Status()>> baselines_;
  std::function<Status()> prepare_, cleanup_;
  std::vector<double> subject_s_;
  std::vector<std::vector<double>> baseline_s_;
};

// Every suite runs fixed iteration counts rather than a minimum measured
// time: most iterations also run baselines (paired measurement) or an
// unmeasured teardown that costs more than the measured call, which a
// minimum time would multiply. Exactly full_iterations (full), a quarter of
// it but at least 3 (quick), or smoke_iterations (smoke).
void ApplyIterations(benchmark::internal::Benchmark* b, Profile profile, int64_t full_iterations,
                     int smoke_iterations = 2);

// A cache on a scratch root on the real disk (PosixFilesystem,
// ThreadRuntime), seen through two ModelStores that differ only in
// StoreOptions::durable, and whose referrer check answers what the benchmark
// says: every ref is live, or none is.
class BenchStore {
 public:
  explicit BenchStore(std::string_view tag);
  BenchStore(const BenchStore&) = delete;
  BenchStore& operator=(const BenchStore&) = delete;

  // Caches the tree of spec as an entry (Materialize with a pull that
  // writes it, into a throwaway volume that is then removed, so every
  // payload file has link count 1 again) and records referrer. Returns the
  // entry's digest, a function of spec.
  Digest AddEntry(const TreeSpec& spec, const std::string& referrer);
  // A model as a pull through the store's layers makes it: one tar layer
  // whose payload is the tree of spec (blobs/tar/<algo>/<hex>/data/), and
  // the model entry whose data/tree/ hardlinks every file of it; referrer
  // recorded as the model's ref, the model as the layer's. The throwaway
  // volume is removed, so every payload inode has two links (the model's
  // and the layer's). Digests are functions of spec.
  struct LayeredEntry {
    Digest model;
    Digest layer;
  };
  LayeredEntry AddLayeredEntry(const TreeSpec& spec, const std::string& referrer);
  // Whether the entry's data/ directory exists.
  bool HasData(const Digest& digest);
  // Whether the tar layer's entry directory exists.
  bool HasTarLayer(const Digest& layer);

  void set_live(bool live) { live_.store(live); }
  // The store with StoreOptions::durable = durable.
  ModelStore& store(bool durable) { return durable ? durable_store_ : fast_store_; }
  const std::string& root() const { return root_; }
  // root/volumes: an existing directory for link trees.
  std::string volumes_dir() const { return root_ + "/volumes"; }
  // A pull that must never run (the entry is cached): kInternal.
  static ModelStore::PullFn NoPull();
  const CancelToken& token() const { return token_; }

 private:
  ScratchDir scratch_;
  std::string root_;
  PosixFilesystem fs_;
  ThreadRuntime runtime_;
  std::atomic<bool> live_{true};
  CancelToken token_;
  ModelStore fast_store_;
  ModelStore durable_store_;
};

}  // namespace ms::bench
