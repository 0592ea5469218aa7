// The hostile registry's content: artifacts that a correct store must
// refuse, one per class of DESIGN §5 and §8, drawn from a seed.
//
// Every artifact lives in its own repository, "hostile/<class>", and is
// addressed by one reference (a tag, or for some draws a digest). What it
// serves is built with ModelBuilder and the ustar writer (their escape
// hatches) or by hand where no builder can express it (an index, garbage
// JSON), and may need registry answers that disagree with each other (a
// tag resolved to a digest the registry then does not serve, manifest bytes
// that do not hash to their digest): PushHostile stores those through
// FakeRegistry's TagDangling and PutManifestAs.
//
// The hostile part of an artifact is never a weight layer, so a partial
// pull (weights excluded) meets it too. Honest layers may surround it.
//
// Each artifact carries its class name, the digest the reference resolves
// to (the store's cache key), and the fragments a refusal's message must
// contain besides the reference (the path, entry, media type or digest at
// fault), which is how the simulator's oracle ("I7 results") judges that a
// refusal names its input.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/digest.h"
#include "core/status.h"

namespace ms::sim {

class FakeRegistry;

enum class HostileClass {
  // A layer's file path (org.cncf.model.filepath) in the manifest:
  kPathAbsolute,   // "/node/sibling/x"
  kPathDotDot,     // a ".." component
  kPathCollision,  // two raw layers at one path
  kPathBelowFile,  // a raw layer at "a" and another at "a/b"
  kPathNul,        // a NUL byte in the path
  kPathLong,       // longer than 4096 bytes, or a component over 255
  kPathDeep,       // more than 64 levels
  // Tar layers:
  kTarEscape,         // an entry at "../x", "/x" or "a/../../x"
  kTarSymlinkEscape,  // a symlink whose target leaves the model
  kTarSymlinkChain,   // symlinks each inside on their own, outside together
  kTarHardlink,       // a hard link entry
  kTarDevice,         // a character or block device
  kTarFifo,           // a FIFO
  kTarLongName,       // a GNU long-name or PAX extended header
  kTarDeep,           // an entry more than 64 levels deep
  kTarSizeLie,        // a header size beyond the archive, or short of its content
  // Blobs against their descriptors:
  kSizeLieShort,      // the descriptor's size below the blob's
  kSizeLieLong,       // ... above it
  kDigestLie,         // the registry serves other bytes (flipped, cut, grown)
  kDigestMalformed,   // a descriptor digest that does not parse
  kBlobMissing,       // a layer blob the registry does not have
  kConfigMissing,     // the config blob the registry does not have
  // Compositions across the layers of one manifest:
  kLayersSymlinkThenFile,  // a symlink in one layer, a file through it in another
  kLayersSymlinkThenDir,   // a symlink in one layer, a directory through it in another
  kLayersDirThenFile,      // a directory in one layer, a file at its path in another
  kLayersTarRawSamePath,   // a tar entry and a raw layer at one path
  // Media types and documents:
  kMediaTypeUnknown,        // a layer media type the store does not know
  kConfigMediaTypeUnknown,  // a config that is not a model config
  kIndexNotManifest,        // an OCI image index where a manifest was expected
  kManifestGarbage,         // not JSON, wrong schemaVersion, missing fields
  // A registry whose answers disagree between calls:
  kManifestDigestLie,  // manifest bytes that do not hash to the resolved digest
  kTagDangling,        // a tag resolved to a digest the registry does not serve
  kCount,              // not a class
};

inline constexpr size_t kHostileClassCount = static_cast<size_t>(HostileClass::kCount);

// "path-absolute", "tar-symlink-chain", ...: the class names used in trace
// files (hostile_classes=), reports and repositories.
std::string_view HostileClassName(HostileClass cls);
// kInvalidArgument naming the text if it is no class name.
Result<HostileClass> ParseHostileClass(std::string_view name);
// Every class, in declaration order.
std::vector<HostileClass> AllHostileClasses();

struct HostileArtifact {
  HostileClass cls = HostileClass::kPathAbsolute;
  std::string class_name;  // HostileClassName(cls)
  std::string repository;  // "hostile/<class_name>"
  std::string reference;   // what a client pulls
  Digest manifest_digest;  // what the reference resolves to: the cache key
  // Fragments a refusal's message must contain besides the reference
  // (empty when it must not be refused).
  std::vector<std::string> culprits;
  // What the registry serves, stored as is (digest text -> bytes; a
  // digest that does not parse is never stored: nobody could ask for it).
  std::map<std::string, std::string> manifests;
  std::map<std::string, std::string> blobs;
  std::map<std::string, std::string> tags;  // tag -> digest text (may dangle)
};

// The reference that addresses the artifact of cls: "hostile/<class>:v1".
std::string HostileReference(HostileClass cls);
// The class a reference addresses, if it is a hostile one.
std::optional<HostileClass> HostileClassOf(std::string_view reference);

// The artifact of cls for seed: same seed, same bytes.
HostileArtifact MakeHostileArtifact(HostileClass cls, uint64_t seed);
// One artifact per class, in class order.
std::vector<HostileArtifact> MakeHostileArtifacts(uint64_t seed);

// Stores the artifact in registry, its inconsistencies included.
void PushHostile(const HostileArtifact& artifact, FakeRegistry* registry);

// The form in which the core's messages quote an input text (QuoteInput,
// core/status.h, without the quotes): printable bytes as they are, '"' and
// '\' escaped with '\', other control bytes as \xNN. A culprit holding
// such bytes is written in this form.
std::string MessageForm(std::string_view text);

}  // namespace ms::sim
