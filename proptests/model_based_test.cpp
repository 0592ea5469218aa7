// Model-based test (rc::state): random sequences of the store's commands —
// full and partial pulls, deletes (a static delete over a volume that also
// holds mounts included), releases, statuses, sweeps and tag moves — run
// against a simple reference model of volumes and entries, on two stores at
// once:
//   sim    SimFilesystem + SimRuntime on an InlineExecutor, FakeRegistry
//   posix  PosixFilesystem in a temp dir + ThreadRuntime, FakeRegistry
// After every command both must agree with the model on every observable:
//   - what the command returned (ok, conflict, or an error)
//   - what each record's status says (reference, manifest, cache key,
//     partial, state), and which records exist
//   - which files each volume sees: types, bytes, symlink targets, modes
//   - which files share an inode: a full pull's files are the store's own
//     inodes (same digest -> same inode, across volumes); a partial pull's
//     are its own; different digests never share (manifest-level dedup)
//   - which entries the store holds (every command, and after a sweep),
//     each entry's payload, and no staging left
//   - how many times each manifest was fetched (a full pull of a cached
//     digest fetches nothing: I2 dedup)
// The model knows nothing of the store's layout beyond the documented one
// (volumes/<v>/[models/<m>/]status.json and model/, store/<algo>/<hex>/data).
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>
#include <unistd.h>
#include <rapidcheck/state.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

#include "core/fs_util.h"
#include "core/manifest.h"
#include "core/posix_filesystem.h"
#include "core/tests/test_support.h"
#include "core/thread_runtime.h"
#include "core/volume_manager.h"
#include "sim/scheduling/executor.h"
#include "sim/registry/fake_registry.h"
#include "sim/registry/model_builder.h"
#include "sim/filesystem/sim_filesystem.h"
#include "sim/scheduling/sim_runtime.h"

namespace ms::prop {
namespace {

using sim::ModelBuilder;
using sim::TarEntry;
namespace media = sim::media_type;

// ---------------------------------------------------------------------------
// The registry's content, and what each manifest must look like on disk.

struct Node {
  FileType type = FileType::kOther;
  std::string content;  // bytes or symlink target
  uint32_t mode = 0;    // regular files only (dirs and symlinks: 0)
  bool weight = false;  // from a weight layer (left out of a partial pull)
  bool operator==(const Node&) const = default;
};
using Tree = std::map<std::string, Node>;

struct Manifest {
  sim::BuiltModel built;
  Tree files;  // the full tree as built, before modes
};

// A raw layer at path: the file, its parent directories.
void AddRaw(Tree* t, const std::string& path, const std::string& bytes, bool weight) {
  for (size_t slash = path.find('/'); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    (*t)[path.substr(0, slash)] = Node{FileType::kDirectory, "", 0, weight};
  }
  (*t)[path] = Node{FileType::kRegular, bytes, 0644, weight};
}

struct Catalog {
  std::map<std::string, Manifest> by_name;          // a1, a2, b1, empty, nested
  std::map<std::string, std::string> name_of;       // digest text -> name
  // The references clients pull, and the tags that start pointed.
  std::vector<std::string> references{"models/a:v1", "models/a:latest", "models/a:v2",
                                      "models/b:v1", "models/empty:v1", "models/nested:v1"};
};

const Catalog& TheCatalog() {
  static const Catalog catalog = [] {
    Catalog c;
    const std::string weight(96, 'w');
    auto add = [&](const std::string& name, const ModelBuilder& b, Tree files) {
      Manifest m{b.Build(), std::move(files)};
      c.name_of[m.built.manifest_digest.ToString()] = name;
      c.by_name[name] = std::move(m);
    };
    {
      Tree t;
      AddRaw(&t, "weights/model.bin", weight, true);
      AddRaw(&t, "config.json", "{\"v\":1}", false);
      AddRaw(&t, "README.md", "# a\n", false);
      add("a1", ModelBuilder("a", "1")
                    .AddRawFile("weights/model.bin", weight)
                    .AddRawFile("config.json", "{\"v\":1}", std::string(media::kWeightConfigRaw))
                    .AddRawFile("README.md", "# a\n", std::string(media::kDocRaw)),
          t);
    }
    {
      // Shares its weight blob with a1 (stored twice: manifest-level dedup).
      Tree t;
      AddRaw(&t, "weights/model.bin", weight, true);
      AddRaw(&t, "config.json", "{\"v\":2}", false);
      add("a2", ModelBuilder("a", "2")
                    .AddRawFile("weights/model.bin", weight)
                    .AddRawFile("config.json", "{\"v\":2}", std::string(media::kWeightConfigRaw)),
          t);
    }
    {
      Tree t;
      AddRaw(&t, "w.bin", std::string(40, 'b'), true);
      AddRaw(&t, "tokenizer.json", "{\"t\":0}", false);
      add("b1", ModelBuilder("b", "1")
                    .AddRawFile("w.bin", std::string(40, 'b'))
                    .AddRawFile("tokenizer.json", "{\"t\":0}", std::string(media::kWeightConfigRaw)),
          t);
    }
    {
      // No regular file at all (§2.3).
      Tree t;
      t["assets"] = Node{FileType::kDirectory, "", 0, false};
      t["assets/sub"] = Node{FileType::kDirectory, "", 0, false};
      t["assets/current"] = Node{FileType::kSymlink, "sub", 0, false};
      add("empty", ModelBuilder("empty", "1")
                       .AddTarLayer("assets", {TarEntry::Directory("assets"), TarEntry::Directory("assets/sub"),
                                               TarEntry::Symlink("assets/current", "sub")}),
          t);
    }
    {
      Tree t;
      t["code"] = Node{FileType::kDirectory, "", 0, false};
      t["code/lib"] = Node{FileType::kDirectory, "", 0, false};
      t["code/lib/run.py"] = Node{FileType::kRegular, "print(1)\n", 0755, false};
      t["code/latest"] = Node{FileType::kSymlink, "lib", 0, false};
      AddRaw(&t, "weights/w.bin", std::string(50, 'n'), true);
      add("nested", ModelBuilder("nested", "1")
                        .AddTarLayer("code",
                                     {TarEntry::Directory("code"), TarEntry::Directory("code/lib"),
                                      TarEntry::File("code/lib/run.py", "print(1)\n", 0755),
                                      TarEntry::Symlink("code/latest", "lib")},
                                     std::string(media::kCodeTar))
                        .AddRawFile("weights/w.bin", std::string(50, 'n')),
          t);
    }
    return c;
  }();
  return catalog;
}

std::string DigestOf(const std::string& name) {
  return TheCatalog().by_name.at(name).built.manifest_digest.ToString();
}

// The tree a volume must see: full pulls are read-only (0444, tar files keep
// their x bits), partial pulls writable (0644 / 0755), weights left out.
Tree Expected(const std::string& digest, bool partial) {
  const Catalog& c = TheCatalog();
  Tree out;
  for (const auto& [path, node] : c.by_name.at(c.name_of.at(digest)).files) {
    if (partial && node.weight) continue;
    Node n = node;
    n.weight = false;
    if (n.type == FileType::kRegular) n.mode = partial ? ((n.mode & 0755) | 0600) : ((n.mode & 0555) | 0444);
    if (n.type == FileType::kDirectory) n.mode = 0;
    out[path] = n;
  }
  return out;
}

void Publish(sim::FakeRegistry* r) {
  const Catalog& c = TheCatalog();
  r->Push("models/a", "v1", c.by_name.at("a1").built);
  r->Push("models/a", "latest", c.by_name.at("a1").built);
  r->Push("models/a", "v2", c.by_name.at("a2").built);
  r->Push("models/b", "v1", c.by_name.at("b1").built);
  r->Push("models/empty", "v1", c.by_name.at("empty").built);
  r->Push("models/nested", "v1", c.by_name.at("nested").built);
}

// ---------------------------------------------------------------------------
// The reference model.

struct Slot {
  std::string volume;
  std::string mount;  // "" : the static record of the volume
  auto operator<=>(const Slot&) const = default;
};

const std::vector<Slot>& Slots() {
  static const std::vector<Slot> slots{{"v0", ""}, {"v0", "m0"}, {"v0", "m1"},
                                       {"v1", ""}, {"v1", "m0"}, {"v1", "m1"}};
  return slots;
}

struct Record {
  std::string reference;
  std::string manifest;   // "" when the reference did not resolve
  bool partial = false;
  bool succeeded = false;  // else failed
  std::string CacheKey() const { return succeeded && !partial ? manifest : ""; }
};

struct Model {
  std::map<std::string, std::string> tags;  // reference -> digest (absent: untagged)
  std::map<Slot, Record> records;
  std::map<std::string, uint64_t> manifest_fetches;  // digest -> fetches
  std::map<std::string, uint64_t> layer_fetches;     // layer digest -> fetches

  std::set<std::string> Entries() const {
    std::set<std::string> out;
    for (const auto& [slot, rec] : records) {
      if (!rec.CacheKey().empty()) out.insert(rec.CacheKey());
    }
    return out;
  }
};

Model InitialModel() {
  Model m;
  m.tags = {{"models/a:v1", DigestOf("a1")},       {"models/a:latest", DigestOf("a1")},
            {"models/a:v2", DigestOf("a2")},       {"models/b:v1", DigestOf("b1")},
            {"models/empty:v1", DigestOf("empty")}, {"models/nested:v1", DigestOf("nested")}};
  return m;
}

// ---------------------------------------------------------------------------
// The two systems under test.

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  virtual Filesystem* fs() = 0;
  sim::FakeRegistry& registry() { return registry_; }
  VolumeManager& manager() { return *manager_; }
  const std::string& root() const { return root_; }

 protected:
  void Start(Filesystem* fs, Runtime* runtime, std::string root) {
    root_ = std::move(root);
    Publish(&registry_);
    VolumeOptions options;
    options.store.root = root_;
    options.remove_attempts_max = 3;
    options.remove_retry_interval_ms = 1;
    manager_ = std::make_unique<VolumeManager>(fs, runtime, &registry_, options);
    const Status st = manager_->Init();
    if (!st.ok()) throw std::runtime_error(name() + " init: " + st.ToString());
  }

  sim::FakeRegistry registry_{nullptr};
  std::unique_ptr<VolumeManager> manager_;
  std::string root_;
};

class SimBackend final : public Backend {
 public:
  SimBackend() {
    if (!fs_.MakeDirsForTest("/node/root").ok()) throw std::runtime_error("sim root");
    Start(&fs_, &runtime_, "/node/root");
  }
  std::string name() const override { return "sim"; }
  Filesystem* fs() override { return &fs_; }

 private:
  sim::InlineExecutor executor_;
  sim::SimFilesystem fs_{&executor_};
  sim::SimRuntime runtime_{&executor_};
};

// Where the POSIX store lives: $MS_MODEL_TMPDIR, else /dev/shm when it is
// there (tmpfs: fsync is free, the fast budget's 100 cases take seconds, not
// half a minute), else $TMPDIR or /tmp. The campaign runs on a real disk.
std::string TempBase() {
  if (const char* dir = std::getenv("MS_MODEL_TMPDIR"); dir != nullptr && *dir != '\0') return dir;
  if (::access("/dev/shm", W_OK | X_OK) == 0) return "/dev/shm";
  const char* tmp = std::getenv("TMPDIR");
  return tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
}

class ScratchDir {
 public:
  ScratchDir() {
    std::string templ = TempBase() + "/modelstore-model-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp under " + TempBase());
    path_ = templ;
  }
  ~ScratchDir() {
    PosixFilesystem fs;
    (void)RemoveAll(&fs, path_);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class PosixBackend final : public Backend {
 public:
  PosixBackend() : runtime_([](LogLevel, std::string_view) {}) {
    const std::string root = tmp_.path() + "/root";
    if (!fs_.MakeDir(root, 0755).ok()) throw std::runtime_error("posix root");
    Start(&fs_, &runtime_, root);
  }
  std::string name() const override { return "posix"; }
  Filesystem* fs() override { return &fs_; }

 private:
  ScratchDir tmp_;
  PosixFilesystem fs_;
  ThreadRuntime runtime_;
};

struct Sut {
  std::vector<std::unique_ptr<Backend>> backends;
  Sut() {
    backends.push_back(std::make_unique<SimBackend>());
    backends.push_back(std::make_unique<PosixBackend>());
  }
};

// ---------------------------------------------------------------------------
// Observables, compared with the model.

std::string RecordDir(const Backend& b, const Slot& s) {
  return s.mount.empty() ? b.root() + "/volumes/" + s.volume
                         : b.root() + "/volumes/" + s.volume + "/models/" + s.mount;
}

std::string SlotName(const Slot& s) { return s.mount.empty() ? s.volume : s.volume + "/" + s.mount; }

std::string DataDir(const Backend& b, const std::string& digest) {
  const size_t colon = digest.find(':');
  return b.root() + "/store/" + digest.substr(0, colon) + "/" + digest.substr(colon + 1) + "/data";
}

// The tree below dir as the model writes it, plus each regular file's inode.
Tree Observe(Backend& b, const std::string& dir, std::map<std::string, uint64_t>* inodes) {
  Tree out;
  for (const auto& [path, e] : testing::ReadTree(b.fs(), dir)) {
    Node n{e.type, e.content, e.type == FileType::kRegular ? (e.mode & 07777) : 0, false};
    out[path] = n;
    if (e.type == FileType::kRegular && inodes != nullptr) (*inodes)[path] = e.inode;
  }
  return out;
}

// Whether path exists (an error counts as "exists": the check then fails).
bool Present(Backend& b, const std::string& path) {
  auto r = Exists(b.fs(), path);
  return !r.ok() || *r;
}

std::string Diff(const Tree& want, const Tree& got) {
  for (const auto& [path, node] : want) {
    auto it = got.find(path);
    if (it == got.end()) return "missing " + path;
    if (it->second.type != node.type) return path + " has the wrong type";
    if (it->second.content != node.content) return path + " has the wrong bytes";
    if (it->second.mode != node.mode) {
      std::ostringstream m;
      m << path << " has mode " << std::oct << it->second.mode << ", want " << node.mode;
      return m.str();
    }
  }
  for (const auto& [path, node] : got) {
    if (!want.contains(path)) return "unexpected " + path;
  }
  return "";
}

#define MB_CHECK(cond, what)                                                    \
  do {                                                                          \
    if (!(cond)) RC_FAIL(b.name() + ": " + std::string(what));                  \
  } while (false)

// The layers a catalog model's manifest lists.
std::vector<Layer> LayersOf(const std::string& digest) {
  const Catalog& c = TheCatalog();
  const sim::BuiltModel& built = c.by_name.at(c.name_of.at(digest)).built;
  return ParseModelManifest(built.manifest_bytes, built.manifest_digest).value().layers;
}

// Who owns the inode of a full pull's file: the store keeps one copy per
// layer, so a raw layer's file is its layer's, whichever models list it; a
// file of a tar layer is its model's path (no two models of the catalog
// share a tar layer).
std::string FileOwner(const Catalog& c, const std::string& digest, const std::string& path) {
  for (const sim::BuiltLayer& layer : c.by_name.at(c.name_of.at(digest)).built.layers) {
    if (layer.filepath == path && layer.media_type.find("tar") == std::string::npos) {
      return "layer " + layer.digest;
    }
  }
  return digest + " " + path;
}

void CheckBackend(const Model& m, Backend& b) {
  const Catalog& c = TheCatalog();
  // Records and the files each volume sees.
  // inode -> the model's name for it: "<digest> <path>" for a full pull's
  // files (shared), "<slot> <path>" for a partial pull's (its own).
  std::map<uint64_t, std::string> owner;
  auto claim = [&](uint64_t inode, const std::string& who, const std::string& where) {
    auto [it, fresh] = owner.emplace(inode, who);
    MB_CHECK(fresh || it->second == who, where + " shares inode " + std::to_string(inode) + " with " + it->second +
                                             ", the model says it is " + who);
  };
  std::map<std::string, uint64_t> data_inode;  // "<digest> <path>" -> inode in the store
  for (const std::string& digest : m.Entries()) {
    std::map<std::string, uint64_t> inodes;
    const Tree got = Observe(b, DataDir(b, digest), &inodes);
    const std::string diff = Diff(Expected(digest, false), got);
    MB_CHECK(diff.empty(), "store entry " + c.name_of.at(digest) + " payload: " + diff);
    for (const auto& [path, inode] : inodes) {
      data_inode[digest + " " + path] = inode;
      claim(inode, FileOwner(c, digest, path), "store " + c.name_of.at(digest) + "/" + path);
    }
  }
  for (const Slot& s : Slots()) {
    auto status = b.manager().GetStatus(s.volume, s.mount);
    const auto it = m.records.find(s);
    const std::string model_dir = RecordDir(b, s) + "/model";
    if (it == m.records.end()) {
      MB_CHECK(status.code() == Code::kNotFound, SlotName(s) + " should have no record, GetStatus says " +
                                                     status.status().ToString());
      MB_CHECK(!Present(b, model_dir), SlotName(s) + " has no record but a model dir");
      continue;
    }
    const Record& r = it->second;
    MB_CHECK(status.ok(), SlotName(s) + " GetStatus: " + status.status().ToString());
    MB_CHECK(status->volume == s.volume && status->mount_id == s.mount, SlotName(s) + " status names another slot");
    MB_CHECK(status->reference == r.reference, SlotName(s) + " status reference " + status->reference + ", want " + r.reference);
    MB_CHECK(status->partial == r.partial, SlotName(s) + " status partial flag");
    MB_CHECK(status->state == (r.succeeded ? VolumeState::kSucceeded : VolumeState::kFailed),
             SlotName(s) + " status state " + std::string(StateName(status->state)));
    MB_CHECK(status->cache_key == r.CacheKey(), SlotName(s) + " cache key \"" + status->cache_key + "\", want \"" +
                                                    r.CacheKey() + "\"");
    if (r.succeeded) {
      MB_CHECK(status->manifest == r.manifest, SlotName(s) + " status manifest");
    }
    if (!r.succeeded) {
      MB_CHECK(!Present(b, model_dir), SlotName(s) + " failed, yet its model dir exists");
      continue;
    }
    std::map<std::string, uint64_t> inodes;
    const std::string diff = Diff(Expected(r.manifest, r.partial), Observe(b, model_dir, &inodes));
    MB_CHECK(diff.empty(), SlotName(s) + " (" + r.reference + (r.partial ? ", partial" : "") + "): " + diff);
    for (const auto& [path, inode] : inodes) {
      const std::string who = r.partial ? SlotName(s) + " " + path : r.manifest + " " + path;
      claim(inode, r.partial ? who : FileOwner(c, r.manifest, path), SlotName(s) + "/" + path);
      if (!r.partial) {
        MB_CHECK(data_inode.count(who) == 1 && data_inode[who] == inode,
                 SlotName(s) + "/" + path + " is not a hardlink of the store's file");
      }
    }
  }
  // Entries: exactly the live cache keys, nothing staged.
  auto listed = b.manager().store().ListEntries();
  MB_CHECK(listed.ok(), "ListEntries: " + listed.status().ToString());
  std::set<std::string> entries;
  for (const Digest& d : *listed) entries.insert(d.ToString());
  const std::set<std::string> want = m.Entries();
  for (const std::string& e : entries) {
    const std::string name = c.name_of.count(e) != 0 ? c.name_of.at(e) : e;
    MB_CHECK(want.contains(e), "store holds " + name + ", which no record references");
    MB_CHECK(!Present(b, DataDir(b, e) + ".tmp"), "staging left in entry " + e);
  }
  for (const std::string& e : want) MB_CHECK(entries.contains(e), "store lacks " + c.name_of.at(e) + ", referenced");
  // Fetches: what the model predicts (I2 dedup), per digest.
  for (const auto& [name, manifest] : c.by_name) {
    const std::string d = manifest.built.manifest_digest.ToString();
    const uint64_t want_fetches = m.manifest_fetches.count(d) ? m.manifest_fetches.at(d) : 0;
    const uint64_t got = b.registry().ManifestFetches(manifest.built.manifest_digest);
    MB_CHECK(got == want_fetches, name + " manifest fetched " + std::to_string(got) + " times, the model says " +
                                      std::to_string(want_fetches));
    // And per layer (I2 at blob level).
    for (const Layer& layer : LayersOf(d)) {
      const std::string l = layer.digest.ToString();
      const uint64_t want_layer = m.layer_fetches.count(l) ? m.layer_fetches.at(l) : 0;
      const uint64_t got_layer = b.registry().BlobFetches(layer.digest);
      MB_CHECK(got_layer == want_layer, name + "'s layer " + layer.filepath + " fetched " + std::to_string(got_layer) +
                                            " times, the model says " + std::to_string(want_layer));
    }
  }
}

void CheckAll(const Model& m, Sut& sut) {
  for (auto& b : sut.backends) CheckBackend(m, *b);
}

// ---------------------------------------------------------------------------
// Commands.

using Command = rc::state::Command<Model, Sut>;

rc::Gen<Slot> GenSlot() { return rc::gen::elementOf(Slots()); }

struct Pull : Command {
  Slot slot;
  std::string reference;
  bool partial = false;

  explicit Pull(const Model& m) {
    slot = *GenSlot();
    const auto it = m.records.find(slot);
    // Mostly what the slot holds (a re-pull), sometimes anything (a conflict).
    const bool same = it != m.records.end() && *rc::gen::inRange(0, 5) > 0;
    reference = same ? it->second.reference : *rc::gen::elementOf(TheCatalog().references);
    partial = *rc::gen::inRange(0, 4) == 0;
  }

  bool Conflicts(const Model& m) const {
    const auto it = m.records.find(slot);
    return it != m.records.end() && it->second.reference != reference;
  }

  void apply(Model& m) const override {
    if (Conflicts(m)) return;
    Record r;
    r.reference = reference;
    r.partial = partial;
    const auto tag = m.tags.find(reference);
    if (tag != m.tags.end()) {
      r.manifest = tag->second;
      r.succeeded = true;
      const std::set<std::string> cached = m.Entries();
      // A partial pull always fetches; a full one only what is not cached.
      if (partial || !cached.contains(tag->second)) ++m.manifest_fetches[tag->second];
      // Layers: a partial pull fetches each one it keeps; a full pull of a
      // model not cached each layer no cached model lists (one copy per
      // layer; the slot's old model goes only once the new one is in).
      std::set<std::string> held;
      for (const std::string& key : cached) {
        for (const Layer& layer : LayersOf(key)) held.insert(layer.digest.ToString());
      }
      if (partial || !cached.contains(tag->second)) {
        for (const Layer& layer : LayersOf(tag->second)) {
          const std::string d = layer.digest.ToString();
          if (partial ? !layer.is_weight : held.insert(d).second) ++m.layer_fetches[d];
        }
      }
    }
    m.records[slot] = r;
  }

  void run(const Model& m, Sut& sut) const override {
    const bool conflict = Conflicts(m);
    const bool resolves = m.tags.contains(reference);
    for (auto& bp : sut.backends) {
      Backend& b = *bp;
      PullRequest req{slot.volume, slot.mount, reference, partial, {}, 0};
      auto r = b.manager().PullModel(req);
      if (conflict) {
        MB_CHECK(r.code() == Code::kConflict, "pull " + SlotName(slot) + " " + reference + ": want conflict, got " +
                                                  r.status().ToString());
      } else if (!resolves) {
        MB_CHECK(r.code() == Code::kNotFound, "pull " + SlotName(slot) + " of an untagged " + reference + ": " +
                                                  r.status().ToString());
      } else {
        MB_CHECK(r.ok(), "pull " + SlotName(slot) + " " + reference + ": " + r.status().ToString());
      }
    }
    CheckAll(nextState(m), sut);
  }

  void show(std::ostream& os) const override {
    os << (partial ? "PullPartial(" : "Pull(") << SlotName(slot) << ", " << reference << ")";
  }
};

struct Delete : Command {
  Slot slot;
  explicit Delete(const Model&) : slot(*GenSlot()) {}

  void apply(Model& m) const override {
    // A static delete is a release of the whole volume, mounts included.
    std::erase_if(m.records, [&](const auto& kv) {
      return kv.first.volume == slot.volume && (slot.mount.empty() || kv.first.mount == slot.mount);
    });
  }
  void run(const Model& m, Sut& sut) const override {
    for (auto& bp : sut.backends) {
      Backend& b = *bp;
      const Status st = b.manager().DeleteModel(slot.volume, slot.mount);
      MB_CHECK(st.ok(), "delete " + SlotName(slot) + ": " + st.ToString());
    }
    CheckAll(nextState(m), sut);
  }
  void show(std::ostream& os) const override { os << "Delete(" << SlotName(slot) << ")"; }
};

struct Release : Command {
  std::string volume;
  explicit Release(const Model&) : volume(*rc::gen::element<std::string>("v0", "v1")) {}

  void apply(Model& m) const override {
    std::erase_if(m.records, [&](const auto& kv) { return kv.first.volume == volume; });
  }
  void run(const Model& m, Sut& sut) const override {
    for (auto& bp : sut.backends) {
      Backend& b = *bp;
      const Status st = b.manager().ReleaseVolume(volume);
      MB_CHECK(st.ok(), "release " + volume + ": " + st.ToString());
    }
    CheckAll(nextState(m), sut);
  }
  void show(std::ostream& os) const override { os << "Release(" << volume << ")"; }
};

struct GetStatus : Command {
  Slot slot;
  explicit GetStatus(const Model&) : slot(*GenSlot()) {}
  // The observation itself is CheckAll's: every status, every time.
  void run(const Model& m, Sut& sut) const override { CheckAll(m, sut); }
  void show(std::ostream& os) const override { os << "Status(" << SlotName(slot) << ")"; }
};

struct Sweep : Command {
  explicit Sweep(const Model&) {}
  void run(const Model& m, Sut& sut) const override {
    for (auto& bp : sut.backends) {
      Backend& b = *bp;
      auto r = b.manager().Sweep();
      MB_CHECK(r.ok(), "sweep: " + r.status().ToString());
      // Nothing to reclaim: every command already collected what it freed.
      MB_CHECK(r->entries_removed == 0 && r->staging_removed == 0,
               "sweep reclaimed " + std::to_string(r->entries_removed) + " entries and " +
                   std::to_string(r->staging_removed) + " staging dirs that commands left behind");
    }
    CheckAll(m, sut);
  }
  void show(std::ostream& os) const override { os << "Sweep()"; }
};

// models/a:latest moves between a1 and a2, or is deleted.
struct MoveTag : Command {
  std::string target;  // a1, a2, or "" (untagged)
  explicit MoveTag(const Model&) : target(*rc::gen::element<std::string>("a1", "a2", "")) {}

  void apply(Model& m) const override {
    if (target.empty()) {
      m.tags.erase("models/a:latest");
    } else {
      m.tags["models/a:latest"] = DigestOf(target);
    }
  }
  void run(const Model& m, Sut& sut) const override {
    for (auto& bp : sut.backends) {
      Backend& b = *bp;
      Status st = target.empty() ? b.registry().DeleteTag("models/a", "latest")
                                 : b.registry().Tag("models/a", "latest", TheCatalog().by_name.at(target).built.manifest_digest);
      if (target.empty() && st.code() == Code::kNotFound) st = Status::Ok();  // already untagged
      MB_CHECK(st.ok(), "tag: " + st.ToString());
    }
    CheckAll(nextState(m), sut);
  }
  void show(std::ostream& os) const override {
    os << "MoveTag(models/a:latest -> " << (target.empty() ? "untagged" : target) << ")";
  }
};

RC_GTEST_PROP(ModelBased, SimAndPosixStoresAgreeWithTheModel, ()) {
  Sut sut;
  rc::state::check(InitialModel(), sut,
                   rc::state::gen::execOneOfWithArgs<Pull, Pull, Pull, Delete, Release, GetStatus, Sweep, MoveTag>());
}

}  // namespace
}  // namespace ms::prop
