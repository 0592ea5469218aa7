#include "sim/registry/hostile_models.h"

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "sim/common/prng.h"
#include "sim/registry/fake_registry.h"
#include "sim/registry/model_builder.h"

namespace ms::sim {
namespace {

using Json = nlohmann::ordered_json;

constexpr uint64_t kHostileArtifactStream = 0x686f7374696c65ULL;  // "hostile"

constexpr std::string_view kNames[kHostileClassCount] = {
    "path-absolute",
    "path-dotdot",
    "path-collision",
    "path-below-file",
    "path-nul",
    "path-long",
    "path-deep",
    "tar-escape",
    "tar-symlink-escape",
    "tar-symlink-chain",
    "tar-hardlink",
    "tar-device",
    "tar-fifo",
    "tar-long-name",
    "tar-deep",
    "tar-size-lie",
    "size-lie-short",
    "size-lie-long",
    "digest-lie",
    "digest-malformed",
    "blob-missing",
    "config-missing",
    "layers-symlink-then-file",
    "layers-symlink-then-dir",
    "layers-dir-then-file",
    "layers-tar-raw-same-path",
    "media-type-unknown",
    "config-media-type-unknown",
    "index-not-manifest",
    "manifest-garbage",
    "manifest-digest-lie",
    "tag-dangling",
};

[[noreturn]] void Die(std::string_view why) {
  std::fprintf(stderr, "hostile_models: %.*s\n", static_cast<int>(why.size()), why.data());
  std::abort();
}

std::string Dump(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

// Draws for one artifact, and the model it builds. Every hostile name
// starts with 'h' and every honest filler path with "ok-", so the two
// never meet by chance.
class Draw {
 public:
  Draw(HostileClass cls, uint64_t seed)
      : rng_(seed ^ kHostileArtifactStream ^ ((static_cast<uint64_t>(cls) + 1) * 0x9E3779B97F4A7C15ULL)),
        builder_("hostile-" + std::string(kNames[static_cast<size_t>(cls)]), "s" + std::to_string(seed)) {}

  uint64_t Below(uint64_t bound) { return rng_.Below(bound); }
  bool OneIn(uint64_t n) { return rng_.Below(n) == 0; }
  template <typename T>
  const T& Pick(const std::vector<T>& options) {
    return options[static_cast<size_t>(rng_.Below(options.size()))];
  }

  // "h" and 2..7 lower-case letters.
  std::string Name() {
    std::string out = "h";
    const uint64_t n = 2 + rng_.Below(6);
    for (uint64_t i = 0; i < n; ++i) out += static_cast<char>('a' + rng_.Below(26));
    return out;
  }
  std::string Bytes(size_t n) {
    std::string out(n, '\0');
    for (char& c : out) c = static_cast<char>('a' + rng_.Below(26));
    return out;
  }
  std::string Content() { return Bytes(8 + static_cast<size_t>(rng_.Below(120))); }
  // "../" count times.
  static std::string Ups(uint64_t count) {
    std::string out;
    for (uint64_t i = 0; i < count; ++i) out += "../";
    return out;
  }
  // A non-weight raw media type: a partial pull (weights excluded) must
  // meet the layer too.
  std::string RawType() {
    return std::string(OneIn(2) ? media_type::kDocRaw : media_type::kWeightConfigRaw);
  }
  std::string TarType() { return std::string(OneIn(2) ? media_type::kDocTar : media_type::kCodeTar); }

  // 0..2 honest layers, of every shape a model has.
  void Filler() {
    const uint64_t n = rng_.Below(3);
    for (uint64_t i = 0; i < n; ++i) {
      const std::string dir = "ok-" + std::to_string(filler_++);
      switch (rng_.Below(3)) {
        case 0:
          builder_.AddRawFile(dir + "/model.bin", Content());  // a weight
          break;
        case 1:
          builder_.AddRawFile(dir + ".md", Content(), std::string(media_type::kDocRaw));
          break;
        default:
          builder_.AddTarLayer(dir, {TarEntry::Directory(dir), TarEntry::File(dir + "/run.py", Content(), 0755),
                                     TarEntry::Symlink(dir + "/latest", "run.py")},
                               std::string(media_type::kCodeTar));
          break;
      }
      ++layers_;
    }
  }
  // Layers added so far: the index of the next one.
  size_t layers() const { return layers_; }
  ModelBuilder& Raw(std::string path, std::string bytes) {
    ++layers_;
    return builder_.AddRawFile(std::move(path), std::move(bytes), RawType());
  }
  ModelBuilder& Tar(std::string annotation, std::vector<TarEntry> entries) {
    ++layers_;
    return builder_.AddTarLayer(std::move(annotation), std::move(entries), TarType());
  }
  ModelBuilder& builder() { return builder_; }

 private:
  Prng rng_;
  ModelBuilder builder_;
  int filler_ = 0;
  size_t layers_ = 0;
};

// The artifact's registry content from a built model: the manifest under
// its digest, every blob, tag v1.
void Serve(HostileArtifact* a, const BuiltModel& model) {
  a->manifest_digest = model.manifest_digest;
  a->manifests[model.manifest_digest.ToString()] = model.manifest_bytes;
  for (const auto& [digest, bytes] : model.blobs) a->blobs[digest] = bytes;
  a->tags["v1"] = model.manifest_digest.ToString();
}

// A hand-made manifest document, served consistently.
void ServeDocument(HostileArtifact* a, std::string bytes) {
  const Digest digest = Digest::Sha256Of(bytes);
  a->manifest_digest = digest;
  a->manifests[digest.ToString()] = std::move(bytes);
  a->tags["v1"] = digest.ToString();
}

// An honest model of one or two small layers, for the registry answers
// that lie about a manifest which is itself fine.
BuiltModel HonestModel(Draw& d) {
  ModelBuilder b("honest-" + d.Name(), "1");
  b.AddRawFile("ok-w.bin", d.Content());
  if (d.OneIn(2)) b.AddRawFile("ok-readme.md", d.Content(), std::string(media_type::kDocRaw));
  return b.Build();
}

// Builds the model of a layer-level class: filler, the hostile layers
// (set_up returns the index of the layer at fault, or -1 if the culprit
// is no layer's digest), filler; then the culprit digest if asked.
template <typename SetUp>
BuiltModel BuildAround(Draw& d, SetUp set_up, HostileArtifact* a, bool digest_is_culprit) {
  d.Filler();
  const size_t at = d.layers();
  set_up();
  d.Filler();
  BuiltModel model = d.builder().Build();
  if (digest_is_culprit) a->culprits.push_back(model.layers[at].digest);
  return model;
}

void MakePathClass(HostileArtifact* a, Draw& d) {
  std::string path;
  switch (a->cls) {
    case HostileClass::kPathAbsolute:
      path = d.Pick<std::string>({"/node/sibling/" + d.Name(), "/etc/" + d.Name(), "/" + d.Name() + "/" + d.Name(),
                                  "/node/root/store/" + d.Name()});
      break;
    case HostileClass::kPathDotDot:
      path = d.Pick<std::string>({Draw::Ups(1 + d.Below(6)) + "sibling/" + d.Name(),
                                  d.Name() + "/" + Draw::Ups(2 + d.Below(5)) + d.Name(), d.Name() + "/..",
                                  d.Name() + "/../" + d.Name()});
      break;
    case HostileClass::kPathNul:
      path = d.Name() + std::string(1, '\0') + d.Pick<std::string>({"", "/" + d.Name(), "/../../etc/passwd"});
      break;
    case HostileClass::kPathLong:
      if (d.OneIn(2)) {
        // Over 4096 bytes in all, of 200-byte components.
        path = d.Name();
        while (path.size() <= 4096) path += "/" + d.Bytes(200);
      } else {
        // One component over NAME_MAX (255).
        path = d.Name() + "/" + d.Bytes(256 + d.Below(100));
      }
      break;
    case HostileClass::kPathDeep: {
      path = d.Name();
      const uint64_t levels = 65 + d.Below(30);
      for (uint64_t i = 1; i < levels; ++i) path += "/" + d.Bytes(1 + d.Below(2));
      break;
    }
    default:
      Die("not a path class");
  }
  // The message quotes at most 512 bytes of the path: name its beginning.
  a->culprits.push_back(MessageForm(std::string_view(path).substr(0, 64)));
  BuiltModel model = BuildAround(d, [&] { d.Raw(path, d.Content()); }, a, false);
  Serve(a, model);
}

void MakeTwoRawPaths(HostileArtifact* a, Draw& d) {
  std::string first;
  std::string second;
  if (a->cls == HostileClass::kPathCollision) {
    first = d.Name() + (d.OneIn(2) ? "/" + d.Name() : "");
    second = first;
    a->culprits.push_back(first);
  } else {
    first = d.Name();
    second = first + "/" + d.Name() + (d.OneIn(2) ? "/" + d.Name() : "");
    a->culprits.push_back(second);  // the path below the file
    if (d.OneIn(2)) std::swap(first, second);
  }
  BuiltModel model = BuildAround(
      d,
      [&] {
        d.Raw(first, d.Content());
        d.Filler();
        d.Raw(second, d.Content());
      },
      a, false);
  Serve(a, model);
}

// A tar layer whose entries are honest around one (or a few) hostile ones.
void MakeTarClass(HostileArtifact* a, Draw& d) {
  const std::string top = d.Name();
  std::vector<TarEntry> entries;
  std::vector<TarEntry> second;  // a later tar layer, if any
  if (d.OneIn(2)) {
    entries.push_back(TarEntry::Directory(top));
    entries.push_back(TarEntry::File(top + "/" + d.Name(), d.Content()));
  }
  switch (a->cls) {
    case HostileClass::kTarEscape: {
      const std::string path =
          d.Pick<std::string>({Draw::Ups(1 + d.Below(6)) + d.Name(), "/" + d.Name() + "/" + d.Name(),
                               top + "/" + Draw::Ups(2 + d.Below(5)) + "sibling/" + d.Name(), "/node/sibling/keep.txt"});
      entries.push_back(d.OneIn(3) ? TarEntry::Directory(path) : TarEntry::File(path, d.Content()));
      a->culprits.push_back(path);
      break;
    }
    case HostileClass::kTarSymlinkEscape: {
      // A link at depth `depth` climbing past the model root.
      const bool nested = d.OneIn(2);
      if (nested && entries.empty()) entries.push_back(TarEntry::Directory(top));
      const std::string link = nested ? top + "/" + d.Name() : d.Name();
      const uint64_t depth = nested ? 1 : 0;
      const std::string target = d.Pick<std::string>(
          {"/node/sibling", "/", "/etc/passwd", Draw::Ups(depth + 1 + d.Below(5)) + "sibling/keep.txt",
           d.Name() + "/" + Draw::Ups(depth + 2 + d.Below(3))});
      entries.push_back(TarEntry::Symlink(link, target));
      a->culprits.push_back(MessageForm(target));
      break;
    }
    case HostileClass::kTarSymlinkChain: {
      // Each target stays inside when read alone (it never climbs above
      // the root, counted by name); followed through the other link, ".."
      // climbs out of the model's root. The two may sit in two layers.
      const std::string hop = d.Name() + "x";
      const std::string out = d.Name() + "y";
      std::string bad;
      if (d.OneIn(2)) {
        entries.push_back(TarEntry::Symlink(hop, "."));
        bad = hop + "/.." + d.Pick<std::string>({"", "/sibling/keep.txt", "/" + d.Name()});
      } else {
        // A real directory holding a link to its parent.
        if (entries.empty()) entries.push_back(TarEntry::Directory(top));
        entries.push_back(TarEntry::Symlink(top + "/" + hop, ".."));
        bad = top + "/" + hop + "/.." + d.Pick<std::string>({"", "/" + d.Name()});
      }
      (d.OneIn(2) ? second : entries).push_back(TarEntry::Symlink(out, bad));
      a->culprits.push_back(MessageForm(bad));
      break;
    }
    case HostileClass::kTarHardlink: {
      const std::string file = top + "-" + d.Name();
      entries.push_back(TarEntry::File(file, d.Content()));
      const std::string link = d.Name();
      entries.push_back(TarEntry::Hardlink(link, d.Pick<std::string>({file, "/etc/passwd", "../../sibling/keep.txt"})));
      a->culprits.push_back(link);
      break;
    }
    case HostileClass::kTarDevice:
    case HostileClass::kTarFifo: {
      const std::string name = d.Name();
      const TarEntry::Type type = a->cls == HostileClass::kTarFifo
                                      ? TarEntry::Type::kFifo
                                      : (d.OneIn(2) ? TarEntry::Type::kCharDevice : TarEntry::Type::kBlockDevice);
      entries.push_back(TarEntry::Special(name, type));
      a->culprits.push_back(name);
      break;
    }
    case HostileClass::kTarLongName: {
      std::string long_name = d.Name();
      while (long_name.size() < 300) long_name += "/" + d.Bytes(40);
      if (d.OneIn(2)) {
        // GNU: a "././@LongLink" entry carries the next entry's name.
        TarEntry gnu = TarEntry::File("././@LongLink", long_name + std::string(1, '\0'));
        gnu.typeflag_override = 'L';
        entries.push_back(std::move(gnu));
        a->culprits.push_back("@LongLink");
      } else {
        // PAX: an extended header with a path record.
        const std::string name = d.Name() + "/PaxHeaders/" + d.Name();
        const std::string record = "path=" + long_name + "\n";
        TarEntry pax = TarEntry::File(name, std::to_string(record.size() + 4) + " " + record);
        pax.typeflag_override = 'x';
        entries.push_back(std::move(pax));
        a->culprits.push_back(name);
      }
      entries.push_back(TarEntry::File(long_name.substr(0, 90), d.Content()));
      break;
    }
    case HostileClass::kTarDeep: {
      std::string path = d.Name();
      const uint64_t levels = 65 + d.Below(15);
      for (uint64_t i = 1; i < levels; ++i) path += "/" + std::string(1, static_cast<char>('a' + d.Below(26)));
      entries.push_back(d.OneIn(2) ? TarEntry::Directory(path) : TarEntry::File(path, d.Content()));
      a->culprits.push_back(path.substr(0, 64));
      break;
    }
    default:
      Die("not a tar class");
  }
  if (d.OneIn(2)) entries.push_back(TarEntry::File(d.Name(), d.Content()));
  BuiltModel model = BuildAround(
      d,
      [&] {
        d.Tar(top, entries);
        if (!second.empty()) {
          d.Filler();
          d.Tar(second.front().path, second);
        }
      },
      a, false);
  Serve(a, model);
}

void MakeTarSizeLie(HostileArtifact* a, Draw& d) {
  const std::string top = d.Name();
  std::string archive;
  switch (d.Below(3)) {
    case 0: {
      // The header claims more than the archive holds.
      TarEntry e = TarEntry::File(top, d.Content());
      e.declared_size = e.content.size() + 1024 + d.Below(uint64_t{1} << 30);
      archive = WriteTar({e}).value();
      break;
    }
    case 1: {
      // The header claims less: the rest of the content is read as headers.
      const size_t size = 1600 + static_cast<size_t>(d.Below(1000));
      TarEntry e = TarEntry::File(top, d.Bytes(size));
      e.declared_size = d.Below(size - 1100);
      archive = WriteTar({e}).value();
      break;
    }
    default: {
      // Cut mid-entry, no end-of-archive marker.
      const std::string whole = WriteTar({TarEntry::File(top, d.Bytes(700))}).value();
      archive = whole.substr(0, 512 + static_cast<size_t>(d.Below(600)));
      break;
    }
  }
  // The descriptor is honest about these bytes: only the archive lies.
  BuiltModel model = BuildAround(
      d,
      [&] {
        d.Raw(top, archive);
        d.builder().OverrideMediaType(d.TarType());
      },
      a, true);
  Serve(a, model);
}

void MakeBlobClass(HostileArtifact* a, Draw& d) {
  const std::string path = d.Name();
  const std::string content = d.Content();
  const bool tar = d.OneIn(3);
  auto add = [&] {
    if (tar) {
      d.Tar(path, {TarEntry::File(path, content)});
    } else {
      d.Raw(path, content);
    }
  };
  const auto real = static_cast<int64_t>(tar ? WriteTar({TarEntry::File(path, content)}).value().size() : content.size());
  bool digest_is_culprit = true;
  std::string malformed;
  BuiltModel model = BuildAround(
      d,
      [&] {
        add();
        ModelBuilder& b = d.builder();
        switch (a->cls) {
          case HostileClass::kSizeLieShort:
            b.OverrideSize(d.OneIn(4) ? 0 : real - 1 - static_cast<int64_t>(d.Below(static_cast<uint64_t>(real))));
            break;
          case HostileClass::kSizeLieLong:
            b.OverrideSize(d.OneIn(4) ? INT64_MAX : real + 1 + static_cast<int64_t>(d.Below(4096)));
            break;
          case HostileClass::kDigestLie: {
            std::string served = tar ? WriteTar({TarEntry::File(path, content)}).value() : content;
            switch (d.Below(3)) {
              case 0: {  // one byte changed, same size
                const size_t at = static_cast<size_t>(d.Below(served.size()));
                served[at] = static_cast<char>(served[at] ^ 0x20);
                break;
              }
              case 1:  // cut short
                served.resize(static_cast<size_t>(d.Below(served.size())));
                break;
              default:  // grown
                served += d.Bytes(1 + static_cast<size_t>(d.Below(64)));
                break;
            }
            b.ServeBytes(std::move(served));
            break;
          }
          case HostileClass::kDigestMalformed: {
            std::string hex = Digest::Sha256Of(content).hex();
            std::string upper = hex;
            for (char& c : upper) {
              if (c >= 'a' && c <= 'f') c = static_cast<char>(c - 'a' + 'A');
            }
            malformed = d.Pick<std::string>({"sha256:" + upper, "sha256:" + hex.substr(1), "md5:" + hex.substr(0, 32),
                                             "sha256:../../../node/sibling/keep.txt", "sha256:" + hex + "/x",
                                             "sha1:" + hex.substr(0, 40), "SHA256:" + hex, hex});
            b.OverrideDigest(malformed);
            digest_is_culprit = false;
            break;
          }
          default:
            break;  // kBlobMissing: the descriptor is honest, the blob absent
        }
      },
      a, false);
  const size_t at = [&] {
    for (size_t i = 0; i < model.layers.size(); ++i) {
      if (model.layers[i].filepath == path) return i;
    }
    Die("hostile layer lost");
  }();
  if (!malformed.empty()) a->culprits.push_back(MessageForm(malformed));
  if (digest_is_culprit) a->culprits.push_back(model.layers[at].digest);
  Serve(a, model);
  if (a->cls == HostileClass::kBlobMissing) a->blobs.erase(model.layers[at].digest);
  if (!malformed.empty()) a->blobs.erase(malformed);
}

void MakeConfigClass(HostileArtifact* a, Draw& d) {
  if (a->cls == HostileClass::kConfigMediaTypeUnknown) {
    const std::string type = d.Pick<std::string>(
        {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json",
         "application/vnd.cncf.model.config.v2+json", "application/json"});
    d.builder().SetConfigMediaType(type);
    a->culprits.push_back(type);
  }
  BuiltModel model = BuildAround(d, [&] { d.Raw(d.Name(), d.Content()); }, a, false);
  Serve(a, model);
  if (a->cls == HostileClass::kConfigMissing) {
    a->blobs.erase(model.config_digest.ToString());
    a->culprits.push_back(model.config_digest.ToString());
  }
}

void MakeComposition(HostileArtifact* a, Draw& d) {
  const std::string top = d.Name();
  BuiltModel model = BuildAround(
      d,
      [&] {
        switch (a->cls) {
          case HostileClass::kLayersSymlinkThenFile: {
            // A link to a real directory (or to the root), then a file
            // through it in a later layer, raw or tar.
            const std::string link = d.Name() + "l";
            std::vector<TarEntry> first{TarEntry::Directory(top)};
            first.push_back(TarEntry::Symlink(link, d.OneIn(2) ? top : "."));
            d.Tar(top, first);
            d.Filler();
            const std::string through = link + "/" + d.Name();
            if (d.OneIn(2)) {
              d.Raw(through, d.Content());
            } else {
              d.Tar(link, {TarEntry::File(through, d.Content())});
            }
            a->culprits.push_back(through);
            break;
          }
          case HostileClass::kLayersSymlinkThenDir: {
            const std::string link = d.Name() + "l";
            d.Tar(link, {TarEntry::Directory(top), TarEntry::Symlink(link, d.OneIn(2) ? top : ".")});
            d.Filler();
            std::vector<TarEntry> second{TarEntry::Directory(link)};
            if (d.OneIn(2)) second.push_back(TarEntry::File(link + "/" + d.Name(), d.Content()));
            d.Tar(link, second);
            a->culprits.push_back(link);
            break;
          }
          case HostileClass::kLayersDirThenFile: {
            // Either order: the directory first, or the file first.
            std::vector<TarEntry> dir{TarEntry::Directory(top)};
            if (d.OneIn(2)) dir.push_back(TarEntry::File(top + "/" + d.Name(), d.Content()));
            if (d.OneIn(2)) {
              d.Tar(top, dir);
              d.Filler();
              d.Raw(top, d.Content());
            } else {
              d.Raw(top, d.Content());
              d.Filler();
              d.Tar(top, dir);
            }
            a->culprits.push_back(top);
            break;
          }
          case HostileClass::kLayersTarRawSamePath: {
            const std::string path = d.OneIn(2) ? top : top + "/" + d.Name();
            std::vector<TarEntry> tar;
            if (path != top) tar.push_back(TarEntry::Directory(top));
            tar.push_back(d.OneIn(3) ? TarEntry::Symlink(path, d.Name()) : TarEntry::File(path, d.Content()));
            if (d.OneIn(2)) {
              d.Tar(top, tar);
              d.Filler();
              d.Raw(path, d.Content());
            } else {
              d.Raw(path, d.Content());
              d.Filler();
              d.Tar(top, tar);
            }
            a->culprits.push_back(path);
            break;
          }
          default:
            Die("not a composition class");
        }
      },
      a, false);
  Serve(a, model);
}

void MakeMediaTypeUnknown(HostileArtifact* a, Draw& d) {
  const std::string type = d.Pick<std::string>(
      {"application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.cncf.model.weight.v1.tar+gzip",
       "application/vnd.cncf.model.doc.v1.zip", "application/octet-stream", "text/plain",
       "application/vnd.cncf.model.weight.v1.raw+zstd"});
  BuiltModel model = BuildAround(
      d,
      [&] {
        d.Raw(d.Name(), d.Content());
        d.builder().OverrideMediaType(type);
      },
      a, false);
  a->culprits.push_back(type);
  Serve(a, model);
}

void MakeIndex(HostileArtifact* a, Draw& d) {
  // The index names an honest model manifest the registry also serves: a
  // client that followed it would find a model, but a tag of a model
  // store must name a manifest.
  const BuiltModel inner = HonestModel(d);
  for (const auto& [digest, bytes] : inner.blobs) a->blobs[digest] = bytes;
  a->manifests[inner.manifest_digest.ToString()] = inner.manifest_bytes;
  Json entry = Json::object();
  entry["mediaType"] = media_type::kOciManifest;
  entry["digest"] = inner.manifest_digest.ToString();
  entry["size"] = inner.manifest_bytes.size();
  entry["artifactType"] = media_type::kModelManifest;
  Json index = Json::object();
  index["schemaVersion"] = 2;
  if (!d.OneIn(3)) index["mediaType"] = media_type::kOciIndex;  // else known by its "manifests"
  index["manifests"] = Json::array({entry});
  ServeDocument(a, Dump(index));
  a->culprits.push_back(a->manifest_digest.ToString());
  a->culprits.push_back("index");
}

void MakeManifestGarbage(HostileArtifact* a, Draw& d) {
  const BuiltModel honest = HonestModel(d);
  for (const auto& [digest, bytes] : honest.blobs) a->blobs[digest] = bytes;
  Json doc = Json::parse(honest.manifest_bytes);
  std::string bytes;
  switch (d.Below(7)) {
    case 0: bytes = honest.manifest_bytes.substr(0, honest.manifest_bytes.size() / 2); break;  // cut JSON
    case 1: bytes = "[" + honest.manifest_bytes + "]"; break;
    case 2: doc["schemaVersion"] = 1; break;
    case 3: doc.erase("config"); break;
    case 4: doc["layers"] = Json::object(); break;
    case 5: doc["layers"][0].erase("annotations"); break;
    default: doc["layers"][0]["size"] = -1 - static_cast<int64_t>(d.Below(100)); break;
  }
  if (bytes.empty()) bytes = Dump(doc);
  ServeDocument(a, std::move(bytes));
  a->culprits.push_back(a->manifest_digest.ToString());
}

void MakeManifestDigestLie(HostileArtifact* a, Draw& d) {
  // The registry resolves the tag to the digest of one manifest and serves
  // other bytes under it: a tampered copy (one layer moved, its blobs all
  // valid) or another model's manifest.
  const BuiltModel honest = HonestModel(d);
  const BuiltModel other = HonestModel(d);
  for (const auto& m : {&honest, &other}) {
    for (const auto& [digest, bytes] : m->blobs) a->blobs[digest] = bytes;
  }
  std::string served;
  if (d.OneIn(2)) {
    Json doc = Json::parse(honest.manifest_bytes);
    doc["layers"][0]["annotations"][std::string(kFilepathAnnotation)] = "ok-moved-" + d.Name();
    served = Dump(doc);
  } else {
    served = other.manifest_bytes;
  }
  a->manifest_digest = honest.manifest_digest;
  a->manifests[honest.manifest_digest.ToString()] = std::move(served);
  a->tags["v1"] = honest.manifest_digest.ToString();
  a->culprits.push_back(honest.manifest_digest.ToString());
}

void MakeTagDangling(HostileArtifact* a, Draw& d) {
  // The tag names a manifest this repository never had: another model's
  // (served elsewhere, not here), or a digest of nothing at all.
  const BuiltModel elsewhere = HonestModel(d);
  const Digest digest = d.OneIn(2) ? elsewhere.manifest_digest : Digest::Sha256Of(d.Bytes(32));
  if (d.OneIn(2)) {
    for (const auto& [blob, bytes] : elsewhere.blobs) a->blobs[blob] = bytes;
  }
  a->manifest_digest = digest;
  a->tags["v1"] = digest.ToString();
  a->culprits.push_back(digest.ToString());
}

}  // namespace

std::string_view HostileClassName(HostileClass cls) {
  const auto i = static_cast<size_t>(cls);
  return i < kHostileClassCount ? kNames[i] : "?";
}

Result<HostileClass> ParseHostileClass(std::string_view name) {
  for (size_t i = 0; i < kHostileClassCount; ++i) {
    if (kNames[i] == name) return static_cast<HostileClass>(i);
  }
  return Status(Code::kInvalidArgument, "unknown hostile class \"" + MessageForm(name.substr(0, 100)) + "\"");
}

std::vector<HostileClass> AllHostileClasses() {
  std::vector<HostileClass> out;
  for (size_t i = 0; i < kHostileClassCount; ++i) out.push_back(static_cast<HostileClass>(i));
  return out;
}

std::string HostileReference(HostileClass cls) {
  return "hostile/" + std::string(HostileClassName(cls)) + ":v1";
}

std::optional<HostileClass> HostileClassOf(std::string_view reference) {
  constexpr std::string_view kPrefix = "hostile/";
  if (reference.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  reference.remove_prefix(kPrefix.size());
  auto parsed = ParseHostileClass(reference.substr(0, reference.find_first_of(":@")));
  if (!parsed.ok()) return std::nullopt;
  return *parsed;
}

std::string MessageForm(std::string_view text) {
  // The core's quoting without its quotes: what a culprit looks like in a
  // message. (Messages staying one line is core/tests' to pin.)
  const std::string quoted = QuoteInput(text, text.size());
  return quoted.substr(1, quoted.size() - 2);
}

HostileArtifact MakeHostileArtifact(HostileClass cls, uint64_t seed) {
  if (static_cast<size_t>(cls) >= kHostileClassCount) Die("not a hostile class");
  HostileArtifact a;
  a.cls = cls;
  a.class_name = std::string(HostileClassName(cls));
  a.repository = "hostile/" + a.class_name;
  a.reference = HostileReference(cls);
  Draw d(cls, seed);
  switch (cls) {
    case HostileClass::kPathAbsolute:
    case HostileClass::kPathDotDot:
    case HostileClass::kPathNul:
    case HostileClass::kPathLong:
    case HostileClass::kPathDeep:
      MakePathClass(&a, d);
      break;
    case HostileClass::kPathCollision:
    case HostileClass::kPathBelowFile:
      MakeTwoRawPaths(&a, d);
      break;
    case HostileClass::kTarEscape:
    case HostileClass::kTarSymlinkEscape:
    case HostileClass::kTarSymlinkChain:
    case HostileClass::kTarHardlink:
    case HostileClass::kTarDevice:
    case HostileClass::kTarFifo:
    case HostileClass::kTarLongName:
    case HostileClass::kTarDeep:
      MakeTarClass(&a, d);
      break;
    case HostileClass::kTarSizeLie:
      MakeTarSizeLie(&a, d);
      break;
    case HostileClass::kSizeLieShort:
    case HostileClass::kSizeLieLong:
    case HostileClass::kDigestLie:
    case HostileClass::kDigestMalformed:
    case HostileClass::kBlobMissing:
      MakeBlobClass(&a, d);
      break;
    case HostileClass::kConfigMissing:
    case HostileClass::kConfigMediaTypeUnknown:
      MakeConfigClass(&a, d);
      break;
    case HostileClass::kLayersSymlinkThenFile:
    case HostileClass::kLayersSymlinkThenDir:
    case HostileClass::kLayersDirThenFile:
    case HostileClass::kLayersTarRawSamePath:
      MakeComposition(&a, d);
      break;
    case HostileClass::kMediaTypeUnknown:
      MakeMediaTypeUnknown(&a, d);
      break;
    case HostileClass::kIndexNotManifest:
      MakeIndex(&a, d);
      break;
    case HostileClass::kManifestGarbage:
      MakeManifestGarbage(&a, d);
      break;
    case HostileClass::kManifestDigestLie:
      MakeManifestDigestLie(&a, d);
      break;
    case HostileClass::kTagDangling:
      MakeTagDangling(&a, d);
      break;
    case HostileClass::kCount:
      Die("not a hostile class");
  }
  return a;
}

std::vector<HostileArtifact> MakeHostileArtifacts(uint64_t seed) {
  std::vector<HostileArtifact> out;
  for (HostileClass cls : AllHostileClasses()) out.push_back(MakeHostileArtifact(cls, seed));
  return out;
}

void PushHostile(const HostileArtifact& artifact, FakeRegistry* registry) {
  for (const auto& [digest, bytes] : artifact.blobs) (void)registry->PutBlobAs(artifact.repository, digest, bytes);
  for (const auto& [digest, bytes] : artifact.manifests) {
    (void)registry->PutManifestAs(artifact.repository, digest, bytes);
  }
  for (const auto& [tag, digest] : artifact.tags) {
    registry->TagDangling(artifact.repository, tag, Digest::Parse(digest).value());
  }
}

}  // namespace ms::sim
