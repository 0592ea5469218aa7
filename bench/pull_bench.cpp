// pull_bench: moving a model from the in-memory FakeRegistry onto a real
// disk, against writing the same bytes by hand.
//
//   pull/files:F/kib_per_file:S/durable:D
//       ms::PullPayload (fetch the manifest, verify its digest, fetch every
//       blob, verify size and sha256, write each file read-only; with
//       durable:1 also fdatasync each file and fsync each directory) into a
//       fresh directory. Every iteration also writes the same files (same
//       paths, same bytes) with open/write/close and no fsync, timed apart,
//       in an order that alternates per iteration. Measured time: the pull.
//       Counters: pull_ms, write_ms, pull_vs_write, and bytes_per_second.
//
//   pull/durability/files:F/kib_per_file:S
//       the cost of durability: PullPayload durable against the same pull
//       durable off and against the plain writes followed by `sync -f` on
//       the written tree (the fair floor: the same bytes, made durable by
//       hand), same iterations. Counters: durable_ms, fast_ms,
//       write_sync_ms, durable_vs_fast, durable_vs_write_sync.
//
//   pull/stream_blob/mib:M
//       ms::StreamBlobToFile (durable off) of one M MiB blob from an
//       in-memory registry that streams (each Read a fresh chunk of at most
//       what is asked, as a network reader would hand out) into a new file,
//       in chunks of kBlobChunkBytes (1 MiB), verifying size and sha256 as
//       it writes. Floor, same iterations: open(O_EXCL) + write() of the
//       same bytes in the same chunk size + SHA-256 (EVP) of them + close.
//       Counters: stream_ms, floor_ms, stream_vs_floor (target <= 1.2),
//       largest_chunk_bytes (the most the registry handed out at once: what
//       the stream holds, flat against M), rss_growth_kib (ru_maxrss growth
//       over one untimed stream run after the blob was built: a high-water
//       mark, so a lower bound, but a whole-blob fetch would show ~M MiB).
//
// Shapes: a few large weight files (hashing and copying dominate) and many
// small files (per-file system calls dominate).
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "bench/bench_support.h"
#include "core/blob_stream.h"
#include "core/puller.h"
#include "core/reference.h"
#include "sim/registry/fake_registry.h"
#include "sim/registry/model_builder.h"

namespace {

using ms::bench::Profile;

struct Shape {
  int files;
  int kib_per_file;
};

constexpr char kRepository[] = "bench/pull";

// The files of a model as (relative path, bytes): what a pull writes.
struct ModelFiles {
  std::vector<std::string> dirs;  // parents first
  std::vector<std::pair<std::string, std::string>> files;
  uint64_t bytes = 0;
};

ms::sim::BuiltModel MakeModel(const Shape& shape, ModelFiles* files) {
  ms::sim::ModelBuilder builder("bench-pull");
  std::set<std::string> dirs;
  for (int i = 0; i < shape.files; ++i) {
    const std::string dir = "weights/part-" + std::to_string(i / 100);
    const std::string path = dir + "/shard-" + std::to_string(i) + ".bin";
    std::string bytes = ms::bench::FillerBytes(7, static_cast<uint64_t>(i),
                                               static_cast<size_t>(shape.kib_per_file) * 1024);
    if (dirs.insert(dir).second) {
      if (dirs.size() == 1) files->dirs.push_back("weights");
      files->dirs.push_back(dir);
    }
    files->bytes += bytes.size();
    files->files.emplace_back(path, bytes);
    builder.AddRawFile(path, std::move(bytes));
  }
  return builder.Build();
}

ms::Status WritePlain(const ModelFiles& files, const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) != 0) {
    return ms::Status(ms::Code::kIo, "mkdir " + dir + ": " + std::strerror(errno));
  }
  for (const std::string& rel : files.dirs) {
    const std::string path = dir + "/" + rel;
    if (::mkdir(path.c_str(), 0755) != 0) {
      return ms::Status(ms::Code::kIo, "mkdir " + path + ": " + std::strerror(errno));
    }
  }
  for (const auto& [rel, bytes] : files.files) {
    MS_RETURN_IF_ERROR(ms::bench::WriteFileBytes(dir + "/" + rel, bytes, 0444));
  }
  return ms::Status::Ok();
}

// One model of a shape in the fake registry, and what pulls it.
struct PullSetup {
  explicit PullSetup(const Shape& shape) : model(MakeModel(shape, &files)) {
    registry.Push(kRepository, "v1", model);
    // Each stream Read hands out what the puller asks (a chunk of
    // kBlobChunkBytes), as a network reader with data waiting would; the
    // registry's default of 32 bytes, meant to interleave simulated
    // readers, made a 4 MiB file 131,072 reads and the pull 17x slower.
    registry.set_stream_chunk_bytes(ms::kBlobChunkBytes);
  }
  ms::Status PullInto(const std::string& dir, bool durable, bool bounded = false) {
    ms::PullOptions options;
    options.durable = durable;
    if (bounded) options.fetch_slots = &fetch_slots;
    return ms::PullPayload(&fs, &runtime, &registry, token, reference, model.manifest_digest, dir, options, nullptr);
  }

  ModelFiles files;
  const ms::sim::BuiltModel model;
  ms::sim::FakeRegistry registry;
  const ms::Reference reference = ms::Reference::Parse(std::string(kRepository) + ":v1").value();
  ms::PosixFilesystem fs;
  ms::ThreadRuntime runtime;
  const ms::CancelToken token;
  // The node-wide fetch bound as VolumeManager sets it up (8 slots).
  const ms::bench::ScratchDir slot_dir{"pull-fetch-slots"};
  ms::FetchSlots fetch_slots{&fs, &runtime, slot_dir.path() + "/locks", 8, 10};
};

void Pull(benchmark::State& state, Shape shape, bool durable) {
  PullSetup setup(shape);
  const ModelFiles& files = setup.files;
  const ms::bench::ScratchDir scratch("pull");
  const std::string pulled = scratch.path() + "/pulled";
  const std::string plain = scratch.path() + "/plain";

  ms::bench::Paired paired([&] { return setup.PullInto(pulled, durable); },
                           {[&] { return WritePlain(files, plain); }});
  paired.Prepare([&] {
    ms::bench::MakeDirOrDie(pulled);  // PullPayload fills an existing dir
    return ms::Status::Ok();
  });
  paired.Cleanup([&] {
    ms::bench::RemoveTreeOrDie(pulled);
    ms::bench::RemoveTreeOrDie(plain);
    return ms::Status::Ok();
  });
  if (!paired.Run(state)) return;
  state.counters["files"] = shape.files;
  state.counters["payload_bytes"] = static_cast<double>(files.bytes);
  state.counters["pull_ms"] = paired.subject_median_s() * 1e3;
  state.counters["write_ms"] = paired.baseline_median_s(0) * 1e3;
  state.counters["pull_vs_write"] = paired.ratio(0);
  state.counters["write_bytes_per_second"] = static_cast<double>(files.bytes) / paired.baseline_median_s(0);
  state.SetBytesProcessed(paired.iterations() * static_cast<int64_t>(files.bytes));
}

void PullDurability(benchmark::State& state, Shape shape) {
  PullSetup setup(shape);
  const ModelFiles& files = setup.files;
  const ms::bench::ScratchDir scratch("pull-durability");
  const std::string durable_dir = scratch.path() + "/durable";
  const std::string fast_dir = scratch.path() + "/fast";
  const std::string plain = scratch.path() + "/plain";
  const std::string sync = ms::bench::ToolPath("sync");
  ms::bench::Paired paired([&] { return setup.PullInto(durable_dir, true); },
                           {[&] { return setup.PullInto(fast_dir, false); },
                            [&] {
                              MS_RETURN_IF_ERROR(WritePlain(files, plain));
                              return ms::bench::RunCommand({sync, "-f", plain});
                            }});
  paired.Prepare([&] {
    ms::bench::MakeDirOrDie(durable_dir);
    ms::bench::MakeDirOrDie(fast_dir);
    return ms::Status::Ok();
  });
  paired.Cleanup([&] {
    for (const std::string* dir : {&durable_dir, &fast_dir, &plain}) ms::bench::RemoveTreeOrDie(*dir);
    return ms::Status::Ok();
  });
  if (!paired.Run(state)) return;
  state.counters["files"] = shape.files;
  state.counters["payload_bytes"] = static_cast<double>(files.bytes);
  state.counters["durable_ms"] = paired.subject_median_s() * 1e3;
  state.counters["fast_ms"] = paired.baseline_median_s(0) * 1e3;
  state.counters["write_sync_ms"] = paired.baseline_median_s(1) * 1e3;
  state.counters["durable_vs_fast"] = paired.ratio(0);
  state.counters["durable_vs_write_sync"] = paired.ratio(1);
  state.SetBytesProcessed(paired.iterations() * static_cast<int64_t>(files.bytes));
}

// What the fetch bound costs one pull with no contention: a slot's lock
// file taken and released around every blob fetch (durable off, so the
// lock's open + flock is not hidden under fsyncs).
void PullFetchBound(benchmark::State& state, Shape shape) {
  PullSetup setup(shape);
  const ms::bench::ScratchDir scratch("pull-fetch-bound");
  const std::string bounded = scratch.path() + "/bounded";
  const std::string unbounded = scratch.path() + "/unbounded";
  ms::bench::Paired paired([&] { return setup.PullInto(bounded, false, true); },
                           {[&] { return setup.PullInto(unbounded, false, false); }});
  paired.Prepare([&] {
    ms::bench::MakeDirOrDie(bounded);
    ms::bench::MakeDirOrDie(unbounded);
    return ms::Status::Ok();
  });
  paired.Cleanup([&] {
    for (const std::string* dir : {&bounded, &unbounded}) ms::bench::RemoveTreeOrDie(*dir);
    return ms::Status::Ok();
  });
  if (!paired.Run(state)) return;
  state.counters["files"] = shape.files;
  state.counters["bounded_ms"] = paired.subject_median_s() * 1e3;
  state.counters["unbounded_ms"] = paired.baseline_median_s(0) * 1e3;
  state.counters["bounded_vs_unbounded"] = paired.ratio(0);
}

// Serves one blob for any digest; OpenBlob streams it, each Read a new
// string of at most max_bytes. Remembers the largest chunk handed out.
class StreamingBlobRegistry final : public ms::Registry {
 public:
  explicit StreamingBlobRegistry(const std::string* blob) : blob_(blob) {}
  ms::Result<ms::Digest> Resolve(const ms::CancelToken&, const ms::Reference&) override {
    return ms::Status(ms::Code::kUnsupported, "blob-only registry");
  }
  ms::Result<std::string> FetchManifest(const ms::CancelToken&, const ms::Reference&,
                                        const ms::Digest&) override {
    return ms::Status(ms::Code::kUnsupported, "blob-only registry");
  }
  ms::Result<std::string> FetchBlob(const ms::CancelToken&, const ms::Reference&,
                                    const ms::Digest&) override {
    return *blob_;
  }
  ms::Result<std::unique_ptr<ms::BlobReader>> OpenBlob(const ms::CancelToken&, const ms::Reference&,
                                                       const ms::Digest&) override {
    return std::unique_ptr<ms::BlobReader>(std::make_unique<Reader>(this));
  }
  size_t largest_chunk_bytes() const { return largest_chunk_bytes_; }

 private:
  class Reader final : public ms::BlobReader {
   public:
    explicit Reader(StreamingBlobRegistry* registry) : registry_(registry) {}
    ms::Result<std::string> Read(const ms::CancelToken&, size_t max_bytes) override {
      const std::string& blob = *registry_->blob_;
      const size_t n = std::min(max_bytes, blob.size() - position_);
      std::string chunk = blob.substr(position_, n);
      position_ += n;
      registry_->largest_chunk_bytes_ = std::max(registry_->largest_chunk_bytes_, n);
      return chunk;
    }

   private:
    StreamingBlobRegistry* registry_;
    size_t position_ = 0;
  };

  const std::string* blob_;
  size_t largest_chunk_bytes_ = 0;
};

// The floor of a verified streaming download: write() the bytes in chunks
// into a new file and SHA-256 them, then close. No fsync.
ms::Status WriteAndHashFloor(const std::string& path, const std::string& bytes, size_t chunk_bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) return ms::Status(ms::Code::kIo, "open " + path + ": " + std::strerror(errno));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) std::abort();
  ms::Status status;
  for (size_t at = 0; at < bytes.size() && status.ok(); at += chunk_bytes) {
    const size_t n = std::min(chunk_bytes, bytes.size() - at);
    if (EVP_DigestUpdate(ctx, bytes.data() + at, n) != 1) std::abort();
    size_t done = 0;
    while (done < n) {
      const ssize_t w = ::write(fd, bytes.data() + at + done, n - done);
      if (w < 0) {
        status = ms::Status(ms::Code::kIo, "write " + path + ": " + std::strerror(errno));
        break;
      }
      done += static_cast<size_t>(w);
    }
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_DigestFinal_ex(ctx, md, &md_len) != 1) std::abort();
  EVP_MD_CTX_free(ctx);
  benchmark::DoNotOptimize(md);
  if (::close(fd) != 0 && status.ok()) status = ms::Status(ms::Code::kIo, "close " + path);
  return status;
}

int64_t MaxRssKib() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;  // KiB on Linux
}

void StreamBlob(benchmark::State& state, int mib) {
  const std::string blob = ms::bench::FillerBytes(11, static_cast<uint64_t>(mib), static_cast<size_t>(mib) << 20);
  const ms::Digest digest = ms::Digest::Sha256Of(blob);
  StreamingBlobRegistry registry(&blob);
  ms::PosixFilesystem fs;
  ms::ThreadRuntime runtime;
  const ms::CancelToken token;
  const ms::Reference reference = ms::Reference::Parse(std::string(kRepository) + ":v1").value();
  const ms::bench::ScratchDir scratch("pull-stream-blob");
  const std::string streamed = scratch.path() + "/streamed";
  const std::string floor = scratch.path() + "/floor";
  auto stream = [&] {
    return ms::StreamBlobToFile(&fs, &runtime, &registry, token, reference, digest, blob.size(), streamed, 0444,
                                false, nullptr, "bench blob");
  };
  // One untimed run first: the memory a stream adds, as the high-water mark sees it.
  const int64_t rss_before_kib = MaxRssKib();
  ms::bench::CheckOk(stream(), "stream_blob warm-up");
  const int64_t rss_growth_kib = MaxRssKib() - rss_before_kib;
  ms::bench::CheckOk(fs.Unlink(streamed), "unlink warm-up");

  ms::bench::Paired paired(stream, {[&] { return WriteAndHashFloor(floor, blob, ms::kBlobChunkBytes); }});
  paired.Cleanup([&] {
    for (const std::string* path : {&streamed, &floor}) {
      if (::unlink(path->c_str()) != 0 && errno != ENOENT) {
        return ms::Status(ms::Code::kIo, "unlink " + *path + ": " + std::strerror(errno));
      }
    }
    return ms::Status::Ok();
  });
  if (!paired.Run(state)) return;
  state.counters["blob_mib"] = mib;
  state.counters["stream_ms"] = paired.subject_median_s() * 1e3;
  state.counters["floor_ms"] = paired.baseline_median_s(0) * 1e3;
  state.counters["stream_vs_floor"] = paired.ratio(0);
  state.counters["largest_chunk_bytes"] = static_cast<double>(registry.largest_chunk_bytes());
  state.counters["rss_growth_kib"] = static_cast<double>(rss_growth_kib);
  state.SetBytesProcessed(paired.iterations() * static_cast<int64_t>(blob.size()));
}

std::vector<int> StreamBlobMib(Profile profile) {
  switch (profile) {
    case Profile::kSmoke: return {4};
    case Profile::kQuick:
    case Profile::kFull: return {16, 64};
  }
  return {};
}

std::vector<Shape> Shapes(Profile profile) {
  switch (profile) {
    case Profile::kSmoke: return {{4, 64}};
    case Profile::kQuick:  // the full shapes, fewer iterations (ApplyIterations)
    case Profile::kFull: return {{4, 4096}, {128, 32}};
  }
  return {};
}

int64_t Iterations(const Shape& shape) { return shape.files >= 100 ? 5 : 10; }

}  // namespace

int main(int argc, char** argv) {
  const Profile profile = ms::bench::ParseProfile(&argc, argv);
  for (const Shape& shape : Shapes(profile)) {
    for (int durable : {0, 1}) {
      const std::string name = "pull/files:" + std::to_string(shape.files) +
                               "/kib_per_file:" + std::to_string(shape.kib_per_file) +
                               "/durable:" + std::to_string(durable);
      auto* b = benchmark::RegisterBenchmark(name.c_str(), Pull, shape, durable != 0);
      b->UseManualTime()->Unit(benchmark::kMillisecond);
      ms::bench::ApplyIterations(b, profile, Iterations(shape));
    }
    const std::string name = "pull/durability/files:" + std::to_string(shape.files) +
                             "/kib_per_file:" + std::to_string(shape.kib_per_file);
    auto* b = benchmark::RegisterBenchmark(name.c_str(), PullDurability, shape);
    b->UseManualTime()->Unit(benchmark::kMillisecond);
    ms::bench::ApplyIterations(b, profile, Iterations(shape));
    const std::string bound_name = "pull/fetch_bound/files:" + std::to_string(shape.files) +
                                   "/kib_per_file:" + std::to_string(shape.kib_per_file);
    auto* fb = benchmark::RegisterBenchmark(bound_name.c_str(), PullFetchBound, shape);
    fb->UseManualTime()->Unit(benchmark::kMillisecond);
    ms::bench::ApplyIterations(fb, profile, Iterations(shape));
  }
  for (int mib : StreamBlobMib(profile)) {
    const std::string name = "pull/stream_blob/mib:" + std::to_string(mib);
    auto* b = benchmark::RegisterBenchmark(name.c_str(), StreamBlob, mib);
    b->UseManualTime()->Unit(benchmark::kMillisecond);
    ms::bench::ApplyIterations(b, profile, 10);
  }
  return ms::bench::RunSuite("pull", profile, &argc, argv);
}
