#include "bench/bench_support.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <utility>

extern char** environ;

namespace ms::bench {
namespace {

Status Errno(std::string_view op, const std::string& path) {
  return Status(Code::kIo, std::string(op) + " " + path + ": " + std::strerror(errno));
}

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string DirName(int index) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "d%04d", index);
  return buf;
}

std::string FileName(int index) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "f%05d", index);
  return buf;
}

// The names in a directory without "." and ".."; false if it cannot be read.
bool ListNames(const std::string& path, std::vector<std::string>* names) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return false;
  while (struct dirent* ent = ::readdir(dir)) {
    const std::string_view name(ent->d_name);
    if (name != "." && name != "..") names->emplace_back(name);
  }
  ::closedir(dir);
  return true;
}

// Depth-first removal with lstat/unlink/rmdir; returns false on the first
// error other than "already gone".
bool RemoveTree(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return errno == ENOENT;
  if (!S_ISDIR(st.st_mode)) return ::unlink(path.c_str()) == 0 || errno == ENOENT;
  std::vector<std::string> names;
  if (!ListNames(path, &names)) return false;
  for (const std::string& name : names) {
    if (!RemoveTree(path + "/" + name)) return false;
  }
  return ::rmdir(path.c_str()) == 0 || errno == ENOENT;
}

// Whether path is a model entry of a store, <root>/store/<algo>/<hex>
// (its file "layers" lists the model's layers: bookkeeping).
bool IsModelEntry(const std::string& path) {
  const size_t hex = path.rfind('/');
  const size_t algo = hex == std::string::npos || hex == 0 ? std::string::npos : path.rfind('/', hex - 1);
  return algo != std::string::npos && algo >= 6 && path.compare(algo - 6, 6, "/store") == 0;
}

// Adds the regular files below path to usage, each (device, inode) once;
// bookkeeping says whether path lies under a refs/ directory.
void Walk(const std::string& path, bool bookkeeping, std::set<std::pair<uint64_t, uint64_t>>* seen,
          DiskUsage* usage) {
  std::vector<std::string> names;
  if (!ListNames(path, &names)) {
    std::fprintf(stderr, "bench: opendir %s: %s\n", path.c_str(), std::strerror(errno));
    std::abort();
  }
  for (const std::string& name : names) {
    const std::string child = path + "/" + name;
    struct stat st {};
    if (::lstat(child.c_str(), &st) != 0) {
      std::fprintf(stderr, "bench: lstat %s: %s\n", child.c_str(), std::strerror(errno));
      std::abort();
    }
    if (S_ISDIR(st.st_mode)) {
      Walk(child, bookkeeping || name == "refs", seen, usage);
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    ++usage->links_seen;
    const bool is_bookkeeping = bookkeeping || name == "status.json" || name == ".lock" ||
                                (name == "layers" && IsModelEntry(path));
    if (!seen->insert({st.st_dev, st.st_ino}).second) continue;
    const auto size = static_cast<uint64_t>(st.st_size);
    if (is_bookkeeping) {
      usage->bookkeeping_bytes += size;
    } else {
      usage->payload_bytes += size;
      ++usage->payload_inodes;
    }
  }
}

}  // namespace

Profile ParseProfile(int* argc, char** argv) {
  std::string name;
  if (const char* env = std::getenv("MS_BENCH_PROFILE"); env != nullptr) name = env;
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg.rfind("--profile=", 0) == 0) {
      name = std::string(arg.substr(10));
    } else {
      argv[out++] = argv[i];
    }
  }
  *argc = out;
  argv[out] = nullptr;
  if (name.empty() || name == "full") return Profile::kFull;
  if (name == "quick") return Profile::kQuick;
  if (name == "smoke") return Profile::kSmoke;
  std::fprintf(stderr, "unknown profile \"%s\": use --profile=full|quick|smoke\n", name.c_str());
  std::exit(2);
}

std::string_view ProfileName(Profile profile) {
  switch (profile) {
    case Profile::kFull: return "full";
    case Profile::kQuick: return "quick";
    case Profile::kSmoke: return "smoke";
  }
  return "?";
}

int RunSuite(std::string_view suite, Profile profile, int* argc, char** argv) {
  const std::string base = ScratchBase();
  benchmark::AddCustomContext("suite", std::string(suite));
  benchmark::AddCustomContext("profile", std::string(ProfileName(profile)));
  benchmark::AddCustomContext("scratch_dir", base);
  benchmark::AddCustomContext("scratch_fs", FilesystemTypeName(base));
  benchmark::Initialize(argc, argv);
  if (benchmark::ReportUnrecognizedArguments(*argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

std::vector<int> TreeSizes(Profile profile) {
  switch (profile) {
    case Profile::kSmoke: return {10};
    case Profile::kQuick: return {10, 100, 1000};
    case Profile::kFull: return {10, 100, 1000, 10000};
  }
  return {};
}

std::string ScratchBase() {
  for (const char* var : {"MS_BENCH_DIR", "TMPDIR"}) {
    const char* value = std::getenv(var);
    if (value == nullptr || value[0] != '/') continue;
    // The store wants a normalized root: no trailing slash.
    std::string base(value);
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    return base;
  }
  return "/tmp";
}

std::string FilesystemTypeName(const std::string& path) {
  struct statfs st {};
  if (::statfs(path.c_str(), &st) != 0) return "unknown";
  switch (static_cast<unsigned long>(st.f_type)) {  // NOLINT: f_type's type varies
    case EXT4_SUPER_MAGIC: return "ext4";  // also ext2/ext3
    case TMPFS_MAGIC: return "tmpfs";
    case XFS_SUPER_MAGIC: return "xfs";
    case BTRFS_SUPER_MAGIC: return "btrfs";
    case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "0x%lx", static_cast<unsigned long>(st.f_type));
      return buf;
    }
  }
}

ScratchDir::ScratchDir(std::string_view tag) {
  std::string templ = ScratchBase() + "/ms-bench-" + std::string(tag) + "-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    std::fprintf(stderr, "bench: mkdtemp %s: %s\n", templ.c_str(), std::strerror(errno));
    std::abort();
  }
  path_ = templ;
}

ScratchDir::~ScratchDir() { RemoveTreeOrDie(path_); }

TreeListing ListingOf(const TreeSpec& spec) {
  TreeListing out;
  const int per_dir = spec.files_per_dir > 0 ? spec.files_per_dir : 1;
  for (int i = 0; i < spec.files; ++i) {
    const int dir = i / per_dir;
    if (i % per_dir == 0) out.dirs.push_back(DirName(dir));
    out.files.push_back(DirName(dir) + "/" + FileName(i));
  }
  return out;
}

std::string FillerBytes(uint64_t seed, uint64_t index, size_t size_bytes) {
  std::string out(size_bytes, '\0');
  uint64_t state = seed * 0x100000001b3ULL ^ (index + 1) * 0x9e3779b97f4a7c15ULL;
  for (size_t pos = 0; pos < size_bytes; pos += 8) {
    const uint64_t word = SplitMix64(&state);
    std::memcpy(out.data() + pos, &word, std::min<size_t>(8, size_bytes - pos));
  }
  return out;
}

Status WriteFileBytes(const std::string& path, std::string_view bytes, uint32_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Errno("create", path);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const Status st = Errno("write", path);
      ::close(fd);
      return st;
    }
    done += static_cast<size_t>(n);
  }
  // open() applies the umask; set exactly the requested mode.
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) {
    const Status st = Errno("fchmod", path);
    ::close(fd);
    return st;
  }
  if (::close(fd) != 0) return Errno("close", path);
  return Status::Ok();
}

Status WriteTree(const std::string& dir, const TreeSpec& spec) {
  const TreeListing listing = ListingOf(spec);
  for (const std::string& rel : listing.dirs) {
    const std::string path = dir + "/" + rel;
    if (::mkdir(path.c_str(), 0755) != 0) return Errno("mkdir", path);
  }
  for (size_t i = 0; i < listing.files.size(); ++i) {
    MS_RETURN_IF_ERROR(WriteFileBytes(dir + "/" + listing.files[i],
                                      FillerBytes(spec.seed, i, spec.file_bytes), spec.file_mode));
  }
  return Status::Ok();
}

Status LinkTreeFloor(const TreeListing& listing, const std::string& src, const std::string& dst) {
  if (::mkdir(dst.c_str(), 0755) != 0) return Errno("mkdir", dst);
  for (const std::string& rel : listing.dirs) {
    const std::string path = dst + "/" + rel;
    if (::mkdir(path.c_str(), 0755) != 0) return Errno("mkdir", path);
  }
  for (const std::string& rel : listing.files) {
    const std::string from = src + "/" + rel;
    const std::string to = dst + "/" + rel;
    if (::linkat(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), 0) != 0) return Errno("link", to);
  }
  return Status::Ok();
}

Status RunCommand(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (rc != 0) return Status(Code::kIo, "spawn " + argv[0] + ": " + std::strerror(rc));
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) return Errno("waitpid", argv[0]);
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    std::string cmd;
    for (const std::string& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    return Status(Code::kIo, "command failed (status " + std::to_string(wstatus) + "): " + cmd);
  }
  return Status::Ok();
}

std::string ToolPath(std::string_view name) {
  for (const char* dir : {"/bin/", "/usr/bin/"}) {
    std::string path = dir + std::string(name);
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  std::fprintf(stderr, "bench: %.*s not found in /bin or /usr/bin\n", static_cast<int>(name.size()),
               name.data());
  std::abort();
}

void RemoveTreeOrDie(const std::string& path) {
  if (!RemoveTree(path)) {
    std::fprintf(stderr, "bench: cannot remove %s: %s\n", path.c_str(), std::strerror(errno));
    std::abort();
  }
}

void MakeDirOrDie(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0) {
    std::fprintf(stderr, "bench: mkdir %s: %s\n", path.c_str(), std::strerror(errno));
    std::abort();
  }
}

DiskUsage MeasureDisk(const std::string& root) {
  DiskUsage usage;
  std::set<std::pair<uint64_t, uint64_t>> seen;
  Walk(root, false, &seen, &usage);
  return usage;
}

void CheckOk(const Status& status, std::string_view what) {
  if (status.ok()) return;
  std::fprintf(stderr, "bench: %.*s: %s\n", static_cast<int>(what.size()), what.data(),
               status.ToString().c_str());
  std::abort();
}

Paired::Paired(std::function<Status()> subject, std::vector<std::function<Status()>> baselines)
    : subject_(std::move(subject)), baselines_(std::move(baselines)), baseline_s_(baselines_.size()) {}

Paired& Paired::Prepare(std::function<Status()> prepare) {
  prepare_ = std::move(prepare);
  return *this;
}

Paired& Paired::Cleanup(std::function<Status()> cleanup) {
  cleanup_ = std::move(cleanup);
  return *this;
}

bool Paired::Run(benchmark::State& state) {
  const size_t steps = baselines_.size() + 1;
  auto step_ok = [&state](const Status& st) {
    if (!st.ok()) state.SkipWithError(st.ToString().c_str());
    return st.ok();
  };
  for (auto _ : state) {
    if (prepare_ && !step_ok(prepare_())) return false;
    const size_t rotation = subject_s_.size();
    for (size_t step = 0; step < steps; ++step) {
      const size_t which = (rotation + step) % steps;
      const Stopwatch watch;
      const Status st = which == 0 ? subject_() : baselines_[which - 1]();
      const double s = watch.Seconds();
      if (!step_ok(st)) return false;
      if (which == 0) {
        subject_s_.push_back(s);
        state.SetIterationTime(s);
      } else {
        baseline_s_[which - 1].push_back(s);
      }
    }
    if (cleanup_ && !step_ok(cleanup_())) return false;
  }
  return !subject_s_.empty();
}

namespace {
double Median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  if (v.size() % 2 == 1) return v[mid];
  const double upper = v[mid];
  return (*std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid)) + upper) / 2;
}
}  // namespace

double Paired::subject_median_s() const { return Median(subject_s_); }
double Paired::baseline_median_s(size_t i) const { return Median(baseline_s_.at(i)); }
double Paired::ratio(size_t i) const {
  const double base = baseline_median_s(i);
  return base <= 0 ? 0.0 : subject_median_s() / base;
}

void ApplyIterations(benchmark::internal::Benchmark* b, Profile profile, int64_t full_iterations,
                     int smoke_iterations) {
  switch (profile) {
    case Profile::kSmoke: b->Iterations(smoke_iterations); break;
    case Profile::kQuick: b->Iterations(std::max<int64_t>(3, full_iterations / 4)); break;
    case Profile::kFull: b->Iterations(full_iterations); break;
  }
}

namespace {
StoreOptions BenchStoreOptions(const std::string& root, bool durable) {
  StoreOptions options;
  options.root = root;
  options.durable = durable;
  return options;
}
}  // namespace

BenchStore::BenchStore(std::string_view tag)
    : scratch_(tag),
      root_(scratch_.path() + "/root"),
      fast_store_(&fs_, &runtime_, BenchStoreOptions(root_, false),
                  [this](const std::string&, const Digest&) -> Result<bool> { return live_.load(); }),
      durable_store_(&fs_, &runtime_, BenchStoreOptions(root_, true),
                     [this](const std::string&, const Digest&) -> Result<bool> { return live_.load(); }) {
  MakeDirOrDie(root_);
  MakeDirOrDie(volumes_dir());
  CheckOk(fast_store_.Init(), "store init");
}

namespace {

std::string SpecText(const TreeSpec& spec) {
  return "files=" + std::to_string(spec.files) + " per_dir=" + std::to_string(spec.files_per_dir) +
         " bytes=" + std::to_string(spec.file_bytes) + " seed=" + std::to_string(spec.seed);
}

bool IsDir(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

Digest BenchStore::AddEntry(const TreeSpec& spec, const std::string& referrer) {
  const Digest digest = Digest::Sha256Of("bench tree " + SpecText(spec));
  const std::string dst = volumes_dir() + "/add-entry";
  CheckOk(fast_store_.Materialize(
              digest, dst, referrer,
              [&spec](const std::string& staging) { return WriteTree(staging, spec); }, token_),
          "cache entry");
  RemoveTreeOrDie(dst);
  return digest;
}

BenchStore::LayeredEntry BenchStore::AddLayeredEntry(const TreeSpec& spec, const std::string& referrer) {
  LayeredEntry out;
  out.model = Digest::Sha256Of("bench layered model " + SpecText(spec));
  out.layer = Digest::Sha256Of("bench tar layer " + SpecText(spec));
  Layer layer;
  layer.media_type = "application/vnd.cncf.model.weight.v1.tar";
  layer.digest = out.layer;
  layer.filepath = "tree";
  layer.format = LayerFormat::kTar;
  ModelManifest manifest;
  manifest.layers.push_back(layer);
  const TreeListing listing = ListingOf(spec);
  const std::string dst = volumes_dir() + "/add-entry";
  CheckOk(fast_store_.Materialize(
              out.model, dst, referrer,
              [&](const std::string& staging) {
                const std::unique_ptr<LayerSource> layers = fast_store_.LayersOf(out.model);
                MS_RETURN_IF_ERROR(layers->BeginManifest(manifest));
                return layers->WithLayer(
                    layer, [&spec](const std::string& payload) { return WriteTree(payload, spec); },
                    [&](const std::string& payload) {
                      return LinkTreeFloor(listing, payload, staging + "/tree");
                    });
              },
              token_),
          "cache layered entry");
  RemoveTreeOrDie(dst);
  return out;
}

bool BenchStore::HasData(const Digest& digest) { return IsDir(fast_store_.DataDir(digest)); }

bool BenchStore::HasTarLayer(const Digest& layer) {
  return IsDir(fast_store_.LayerEntryDir(LayerFormat::kTar, layer));
}

ModelStore::PullFn BenchStore::NoPull() {
  return [](const std::string& staging) {
    return Status(Code::kInternal, "unexpected pull into " + staging + ": the entry was cached");
  };
}

}  // namespace ms::bench
