// The hostile registry's generator: every class is produced, for many
// seeds, with the hostile shape its name promises (judged here from the
// bytes, by a reader of this test's own, not the core's), deterministically,
// and PushHostile serves it with the inconsistencies it needs. Whether the
// core refuses each one is core/tests/bad_input_test.cpp's question.
#include "sim/registry/hostile_models.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sim/registry/fake_registry.h"
#include "sim/registry/model_builder.h"
#include "sim/registry/tar_writer.h"

namespace ms::sim {
namespace {

using Json = nlohmann::json;
constexpr uint64_t kSeeds = 40;

// One member of an archive, as its header says.
struct Member {
  std::string name;
  char type = '0';
  std::string link;
};

// Walks ustar headers; nullopt if the archive is not well formed (a size
// running past the end, a bad octal field, no end-of-archive marker).
std::optional<std::vector<Member>> Members(const std::string& archive) {
  std::vector<Member> out;
  size_t pos = 0;
  auto field = [&](size_t off, size_t len) {
    std::string f = archive.substr(pos + off, len);
    return f.substr(0, f.find('\0'));
  };
  while (pos + 512 <= archive.size()) {
    if (archive.find_first_not_of('\0', pos) >= pos + 512) return out;  // end marker
    Member m;
    const std::string prefix = field(345, 155);
    m.name = (prefix.empty() ? "" : prefix + "/") + field(0, 100);
    m.type = archive[pos + 156];
    m.link = field(157, 100);
    uint64_t size = 0;
    for (char c : field(124, 12)) {
      if (c < '0' || c > '7') return std::nullopt;
      size = size * 8 + static_cast<uint64_t>(c - '0');
    }
    pos += 512;
    if (size > archive.size() - pos) return std::nullopt;
    pos += (size + 511) / 512 * 512;
    out.push_back(std::move(m));
  }
  return std::nullopt;
}

std::vector<std::string> Components(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t slash = path.find('/', start);
    out.push_back(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) return out;
    start = slash + 1;
  }
}

bool HasDotDot(const std::string& path) {
  for (const std::string& c : Components(path)) {
    if (c == "..") return true;
  }
  return false;
}

// The layers of the served manifest, and what the registry holds for them.
struct Seen {
  std::optional<Json> doc;  // nullopt: not JSON
  struct Layer {
    std::string media_type;
    std::string digest;
    int64_t size = 0;
    std::optional<std::string> path;
    std::optional<std::string> blob;                 // served bytes
    std::optional<std::vector<Member>> members;      // tar layers that read
  };
  std::vector<Layer> layers;
  std::string config_type;
  std::string config_digest;
};

Seen Look(const HostileArtifact& a) {
  Seen s;
  const auto tag = a.tags.find("v1");
  if (tag == a.tags.end()) return s;
  const auto bytes = a.manifests.find(tag->second);
  if (bytes == a.manifests.end()) return s;
  Json doc = Json::parse(bytes->second, nullptr, false);
  if (doc.is_discarded()) return s;
  s.doc = doc;
  if (!doc.is_object()) return s;
  if (doc.contains("config") && doc["config"].is_object()) {
    s.config_type = doc["config"].value("mediaType", "");
    s.config_digest = doc["config"].value("digest", "");
  }
  if (!doc.contains("layers") || !doc["layers"].is_array()) return s;
  for (const Json& l : doc["layers"]) {
    Seen::Layer layer;
    layer.media_type = l.value("mediaType", "");
    layer.digest = l.value("digest", "");
    layer.size = l.value("size", int64_t{0});
    if (l.contains("annotations") && l["annotations"].contains(std::string(kFilepathAnnotation))) {
      layer.path = l["annotations"][std::string(kFilepathAnnotation)].get<std::string>();
    }
    if (auto blob = a.blobs.find(layer.digest); blob != a.blobs.end()) {
      layer.blob = blob->second;
      if (layer.media_type.ends_with(".tar")) layer.members = Members(blob->second);
    }
    s.layers.push_back(std::move(layer));
  }
  return s;
}

// Whether the served artifact has the shape its class names.
bool HasItsShape(const HostileArtifact& a, const Seen& s) {
  auto any_layer = [&](auto pred) {
    for (const Seen::Layer& l : s.layers) {
      if (pred(l)) return true;
    }
    return false;
  };
  auto any_member = [&](auto pred) {
    return any_layer([&](const Seen::Layer& l) {
      if (!l.members) return false;
      for (const Member& m : *l.members) {
        if (pred(m)) return true;
      }
      return false;
    });
  };
  // Paths of raw layers, of tar symlinks, of tar directories, of tar files.
  std::vector<std::string> raws;
  std::set<std::string> links, dirs, files;
  for (const Seen::Layer& l : s.layers) {
    if (l.media_type.ends_with(".raw") && l.path) raws.push_back(*l.path);
    if (!l.members) continue;
    for (const Member& m : *l.members) {
      std::string name = m.name;
      while (!name.empty() && name.back() == '/') name.pop_back();
      (m.type == '2' ? links : m.type == '5' ? dirs : files).insert(name);
    }
  }
  auto starts_below = [](const std::string& path, const std::set<std::string>& tops) {
    for (const std::string& t : tops) {
      if (path.rfind(t + "/", 0) == 0) return true;
    }
    return false;
  };
  switch (a.cls) {
    case HostileClass::kPathAbsolute:
      return any_layer([](const Seen::Layer& l) { return l.path && !l.path->empty() && l.path->front() == '/'; });
    case HostileClass::kPathDotDot:
      return any_layer([](const Seen::Layer& l) { return l.path && HasDotDot(*l.path); });
    case HostileClass::kPathCollision:
      return std::set<std::string>(raws.begin(), raws.end()).size() < raws.size();
    case HostileClass::kPathBelowFile:
      return std::any_of(raws.begin(), raws.end(), [&](const std::string& p) {
        return starts_below(p, std::set<std::string>(raws.begin(), raws.end()));
      });
    case HostileClass::kPathNul:
      return any_layer([](const Seen::Layer& l) { return l.path && l.path->find('\0') != std::string::npos; });
    case HostileClass::kPathLong:
      return any_layer([](const Seen::Layer& l) {
        if (!l.path) return false;
        if (l.path->size() > 4096) return true;
        for (const std::string& c : Components(*l.path)) {
          if (c.size() > 255) return true;
        }
        return false;
      });
    case HostileClass::kPathDeep:
      return any_layer([](const Seen::Layer& l) { return l.path && Components(*l.path).size() > 64; });
    case HostileClass::kTarEscape:
      return any_member([](const Member& m) { return m.name.front() == '/' || HasDotDot(m.name); });
    case HostileClass::kTarSymlinkEscape:
      return any_member([](const Member& m) {
        if (m.type != '2') return false;
        if (m.link.empty() || m.link.front() == '/') return true;
        int depth = static_cast<int>(Components(m.name).size()) - 1;
        for (const std::string& c : Components(m.link)) {
          if (c == "..") depth -= 1;
          else if (!c.empty() && c != ".") depth += 1;
          if (depth < 0) return true;
        }
        return false;
      });
    case HostileClass::kTarSymlinkChain:
      // Inside by name count, but a ".." after a name.
      return any_member([](const Member& m) {
        if (m.type != '2') return false;
        bool named = false;
        for (const std::string& c : Components(m.link)) {
          if (c == ".." && named) return true;
          if (!c.empty() && c != "." && c != "..") named = true;
        }
        return false;
      });
    case HostileClass::kTarHardlink:
      return any_member([](const Member& m) { return m.type == '1'; });
    case HostileClass::kTarDevice:
      return any_member([](const Member& m) { return m.type == '3' || m.type == '4'; });
    case HostileClass::kTarFifo:
      return any_member([](const Member& m) { return m.type == '6'; });
    case HostileClass::kTarLongName:
      return any_member([](const Member& m) { return m.type == 'L' || m.type == 'x'; });
    case HostileClass::kTarDeep:
      return any_member([](const Member& m) { return Components(m.name).size() > 64; });
    case HostileClass::kTarSizeLie:
      return any_layer([](const Seen::Layer& l) { return l.media_type.ends_with(".tar") && l.blob && !l.members; });
    case HostileClass::kSizeLieShort:
      return any_layer([](const Seen::Layer& l) { return l.blob && static_cast<int64_t>(l.blob->size()) > l.size; });
    case HostileClass::kSizeLieLong:
      return any_layer([](const Seen::Layer& l) { return l.blob && static_cast<int64_t>(l.blob->size()) < l.size; });
    case HostileClass::kDigestLie:
      return any_layer([](const Seen::Layer& l) { return l.blob && Digest::Sha256Of(*l.blob).ToString() != l.digest; });
    case HostileClass::kDigestMalformed:
      return any_layer([](const Seen::Layer& l) { return !Digest::Parse(l.digest).ok(); });
    case HostileClass::kBlobMissing:
      return any_layer([](const Seen::Layer& l) { return !l.blob; });
    case HostileClass::kConfigMissing:
      return !s.config_digest.empty() && !a.blobs.contains(s.config_digest);
    case HostileClass::kLayersSymlinkThenFile:
      return std::any_of(raws.begin(), raws.end(), [&](const std::string& p) { return starts_below(p, links); }) ||
             std::any_of(files.begin(), files.end(), [&](const std::string& p) { return starts_below(p, links); });
    case HostileClass::kLayersSymlinkThenDir:
      return std::any_of(dirs.begin(), dirs.end(), [&](const std::string& d) { return links.contains(d); });
    case HostileClass::kLayersDirThenFile:
      return std::any_of(raws.begin(), raws.end(), [&](const std::string& p) { return dirs.contains(p); });
    case HostileClass::kLayersTarRawSamePath:
      return std::any_of(raws.begin(), raws.end(),
                         [&](const std::string& p) { return files.contains(p) || links.contains(p); });
    case HostileClass::kMediaTypeUnknown:
      return any_layer([](const Seen::Layer& l) {
        return !l.media_type.starts_with("application/vnd.cncf.model.") ||
               !(l.media_type.ends_with(".raw") || l.media_type.ends_with(".tar"));
      });
    case HostileClass::kConfigMediaTypeUnknown:
      return !s.config_type.empty() && s.config_type != media_type::kModelConfig;
    case HostileClass::kIndexNotManifest:
      return s.doc && s.doc->is_object() && s.doc->contains("manifests");
    case HostileClass::kManifestGarbage:
      return !s.doc || !s.doc->is_object() || s.doc->value("schemaVersion", 0) != 2 || !s.doc->contains("config") ||
             !(*s.doc)["layers"].is_array() || any_layer([](const Seen::Layer& l) { return !l.path || l.size < 0; });
    case HostileClass::kManifestDigestLie: {
      const std::string& digest = a.tags.at("v1");
      return a.manifests.contains(digest) && Digest::Sha256Of(a.manifests.at(digest)).ToString() != digest;
    }
    case HostileClass::kTagDangling:
      return !a.manifests.contains(a.tags.at("v1"));
    case HostileClass::kCount:
      break;
  }
  return false;
}

class EveryClass : public ::testing::TestWithParam<HostileClass> {};

TEST_P(EveryClass, IsProducedWithItsShapeForEverySeed) {
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    const HostileArtifact a = MakeHostileArtifact(GetParam(), seed);
    SCOPED_TRACE(a.class_name + " seed " + std::to_string(seed));
    EXPECT_EQ(a.cls, GetParam());
    EXPECT_EQ(a.class_name, HostileClassName(GetParam()));
    EXPECT_EQ(a.repository, "hostile/" + a.class_name);
    EXPECT_EQ(a.reference, HostileReference(GetParam()));
    EXPECT_EQ(a.tags.at("v1"), a.manifest_digest.ToString()) << "the reference resolves to the cache key";
    EXPECT_FALSE(a.culprits.empty()) << "a refusal names its culprit";
    for (const std::string& c : a.culprits) EXPECT_FALSE(c.empty());
    EXPECT_TRUE(HasItsShape(a, Look(a)));
  }
}

TEST_P(EveryClass, IsTheSameForTheSameSeedAndVariesAcrossSeeds) {
  std::set<std::string> manifests;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    const HostileArtifact a = MakeHostileArtifact(GetParam(), seed);
    const HostileArtifact again = MakeHostileArtifact(GetParam(), seed);
    EXPECT_EQ(a.manifests, again.manifests);
    EXPECT_EQ(a.blobs, again.blobs);
    EXPECT_EQ(a.tags, again.tags);
    EXPECT_EQ(a.culprits, again.culprits);
    manifests.insert(a.manifest_digest.ToString());
  }
  EXPECT_GT(manifests.size(), kSeeds / 2) << "seeds draw different artifacts";
}

TEST_P(EveryClass, IsServedByTheRegistryAsBuilt) {
  const HostileArtifact a = MakeHostileArtifact(GetParam(), 7);
  FakeRegistry registry;
  PushHostile(a, &registry);
  const CancelToken token;
  const Reference ref = Reference::Parse(a.reference).value();
  auto resolved = registry.Resolve(token, ref);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_EQ(*resolved, a.manifest_digest);
  auto manifest = registry.FetchManifest(token, ref, a.manifest_digest);
  if (a.cls == HostileClass::kTagDangling) {
    EXPECT_EQ(manifest.code(), Code::kNotFound);
  } else {
    ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
    EXPECT_EQ(*manifest, a.manifests.at(a.manifest_digest.ToString()));
  }
  for (const auto& [digest, bytes] : a.blobs) {
    auto blob = registry.FetchBlob(token, ref, Digest::Parse(digest).value());
    ASSERT_TRUE(blob.ok()) << digest;
    EXPECT_EQ(*blob, bytes);
  }
}

INSTANTIATE_TEST_SUITE_P(Hostile, EveryClass, ::testing::ValuesIn(AllHostileClasses()),
                         [](const ::testing::TestParamInfo<HostileClass>& param_info) {
                           std::string name(HostileClassName(param_info.param));
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

TEST(HostileClasses, NamesParseBackAndReferencesNameTheirClass) {
  const std::vector<HostileClass> all = AllHostileClasses();
  EXPECT_EQ(all.size(), kHostileClassCount);
  std::set<std::string> names;
  for (HostileClass cls : all) {
    const std::string name(HostileClassName(cls));
    names.insert(name);
    EXPECT_EQ(ParseHostileClass(name).value(), cls);
    EXPECT_EQ(HostileClassOf(HostileReference(cls)), cls);
  }
  EXPECT_EQ(names.size(), all.size());
  EXPECT_EQ(ParseHostileClass("path-nowhere").code(), Code::kInvalidArgument);
  EXPECT_EQ(HostileClassOf("models/a:v1"), std::nullopt);
  EXPECT_EQ(HostileClassOf("hostile/not-a-class:v1"), std::nullopt);
}

TEST(HostileClasses, MessageFormEscapesWhatWouldBreakALine) {
  EXPECT_EQ(MessageForm("a/b.c"), "a/b.c");
  EXPECT_EQ(MessageForm(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(MessageForm("a\nb\"c\\"), "a\\x0ab\\\"c\\\\");
}

TEST(HostileTar, SpecialEntriesCarryTheirTypeflagsAndSizesMayLie) {
  TarEntry lie = TarEntry::File("f", "abc");
  lie.declared_size = 4096;
  TarEntry gnu = TarEntry::File("././@LongLink", "long");
  gnu.typeflag_override = 'L';
  const std::string archive =
      WriteTar({TarEntry::Hardlink("h", "f"), TarEntry::Special("c", TarEntry::Type::kCharDevice),
                TarEntry::Special("b", TarEntry::Type::kBlockDevice), TarEntry::Special("p", TarEntry::Type::kFifo), gnu})
          .value();
  const auto members = Members(archive);
  ASSERT_TRUE(members.has_value());
  std::string types;
  for (const Member& m : *members) types += m.type;
  EXPECT_EQ(types, "1346L");
  EXPECT_EQ((*members)[0].link, "f");
  EXPECT_FALSE(Members(WriteTar({lie}).value()).has_value()) << "the size runs past the end";
  EXPECT_EQ(WriteTar({TarEntry::Special("c", TarEntry::Type::kFifo)}).value().size(), 3u * kTarBlockBytes);
}

}  // namespace
}  // namespace ms::sim
