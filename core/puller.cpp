#include "core/puller.h"

#include <fnmatch.h>

#include <set>

#include "core/fs_util.h"
#include "core/manifest.h"
#include "core/tar_reader.h"

namespace ms {
namespace {

constexpr uint32_t kDirMode = 0755;

// Writes one model tree: tracks what exists so no entry is ever placed
// below a symlink (the OS would follow it, out of the model), and the
// directories to fsync at the end.
class TreeWriter {
 public:
  TreeWriter(Filesystem* fs, std::string root, bool durable)
      : fs_(fs), root_(std::move(root)), durable_(durable) {
    dirs_.insert("");
  }

  Status EnsureParents(const std::string& rel) {
    std::string prefix;
    for (size_t slash = rel.find('/'); slash != std::string::npos;
         slash = rel.find('/', slash + 1)) {
      prefix = rel.substr(0, slash);
      MS_RETURN_IF_ERROR(EnsureDir(prefix, kDirMode));
    }
    return Status::Ok();
  }

  Status EnsureDir(const std::string& rel, uint32_t mode) {
    if (symlinks_.count(rel) != 0) {
      return Status(Code::kInvalidArgument, "path " + QuoteInput(rel) + " is a symlink, not a directory");
    }
    if (files_.count(rel) != 0) {
      return Status(Code::kInvalidArgument, "path " + QuoteInput(rel) + " is a file, not a directory");
    }
    if (dirs_.count(rel) != 0) return Status::Ok();
    MS_RETURN_IF_ERROR(EnsureParents(rel));
    MS_RETURN_IF_ERROR(fs_->MakeDir(JoinPath(root_, rel), mode));
    dirs_.insert(rel);
    return Status::Ok();
  }

  Status WriteFile(const std::string& rel, std::string_view bytes, uint32_t mode) {
    MS_RETURN_IF_ERROR(Claim(rel));
    MS_RETURN_IF_ERROR(EnsureParents(rel));
    const std::string path = JoinPath(root_, rel);
    MS_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, fs_->NewWritableFile(path, mode));
    Status st = file->Append(bytes);
    if (st.ok() && durable_) st = file->Sync();
    Status close_st = file->Close();
    if (st.ok()) st = close_st;
    if (st.ok()) files_.insert(rel);
    return st;
  }

  Status WriteSymlink(const std::string& rel, const std::string& target) {
    MS_RETURN_IF_ERROR(Claim(rel));
    MS_RETURN_IF_ERROR(EnsureParents(rel));
    MS_RETURN_IF_ERROR(fs_->Symlink(target, JoinPath(root_, rel)));
    symlinks_.insert(rel);
    return Status::Ok();
  }

  Status SyncAll() {
    if (!durable_) return Status::Ok();
    // Deepest first, so each directory's entry in its parent is synced after.
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      MS_RETURN_IF_ERROR(fs_->SyncDir(it->empty() ? root_ : JoinPath(root_, *it)));
    }
    return Status::Ok();
  }

 private:
  // No two entries at one path, and nothing below a symlink or a file.
  Status Claim(const std::string& rel) {
    if (files_.count(rel) != 0 || symlinks_.count(rel) != 0 || dirs_.count(rel) != 0) {
      return Status(Code::kInvalidArgument, "path " + QuoteInput(rel) + " is written by two entries");
    }
    for (size_t slash = rel.find('/'); slash != std::string::npos;
         slash = rel.find('/', slash + 1)) {
      const std::string prefix = rel.substr(0, slash);
      if (symlinks_.count(prefix) != 0 || files_.count(prefix) != 0) {
        return Status(Code::kInvalidArgument,
                      "path " + QuoteInput(rel) + " lies below non-directory " + QuoteInput(prefix));
      }
    }
    return Status::Ok();
  }

  Filesystem* fs_;
  std::string root_;
  bool durable_;
  std::set<std::string> dirs_;
  std::set<std::string> files_;
  std::set<std::string> symlinks_;
};

// A blob against its descriptor: size first (cheap, and names the lie),
// then digest.
Status VerifyBlob(std::string_view blob, uint64_t size_bytes, const Digest& digest, const std::string& where) {
  if (blob.size() != size_bytes) {
    return Status(Code::kCorrupt, where + ": blob is " + std::to_string(blob.size()) + " bytes, descriptor says " +
                                      std::to_string(size_bytes));
  }
  const Digest got = digest.SameAlgorithmOf(blob);
  if (got != digest) return Status(Code::kCorrupt, where + ": blob content hashes to " + got.ToString());
  return Status::Ok();
}

// One blob fetch, under a fetch slot if the options bound them: the slot
// is taken before FetchBlob and released when this returns, on every path.
Result<std::string> FetchBlobBounded(Registry* registry, const CancelToken& token, const Reference& reference,
                                     const Digest& digest, const PullOptions& options) {
  std::unique_ptr<FetchSlot> slot;
  if (options.fetch_slots != nullptr) {
    MS_ASSIGN_OR_RETURN(slot, options.fetch_slots->Acquire(token));
  }
  return registry->FetchBlob(token, reference, digest);
}

bool Skipped(const Layer& layer, const PullOptions& options) {
  if (options.exclude_weights && layer.is_weight) return true;
  return MatchesAnyPattern(layer.filepath, options.exclude_patterns);
}

}  // namespace

bool MatchesAnyPattern(const std::string& path, const std::vector<std::string>& patterns) {
  for (const std::string& p : patterns) {
    if (::fnmatch(p.c_str(), path.c_str(), FNM_PATHNAME) == 0) return true;
  }
  return false;
}

Status PullPayload(Filesystem* fs, Runtime* runtime, Registry* registry, const CancelToken& token,
                   const Reference& reference, const Digest& manifest_digest,
                   const std::string& dir, const PullOptions& options, PullStats* stats) {
  PullStats local;
  if (stats == nullptr) stats = &local;
  MS_RETURN_IF_ERROR(token.Check(runtime->NowMs()));
  auto manifest_bytes = registry->FetchManifest(token, reference, manifest_digest);
  if (!manifest_bytes.ok()) {
    return manifest_bytes.status().Annotate("fetch manifest " + manifest_digest.ToString());
  }
  const Digest got = manifest_digest.SameAlgorithmOf(*manifest_bytes);
  if (got != manifest_digest) {
    return Status(Code::kCorrupt, "manifest " + manifest_digest.ToString() +
                                      ": content hashes to " + got.ToString());
  }
  MS_ASSIGN_OR_RETURN(const ModelManifest manifest,
                      ParseModelManifest(*manifest_bytes, manifest_digest));
  // The config is part of the artifact (model-spec clients read it): one
  // the registry does not serve, or serves with other bytes, makes the
  // artifact broken, whatever its layers. Verified, and nothing of it
  // written.
  {
    const std::string where = "manifest " + manifest_digest.ToString() + ": config " + manifest.config_digest.ToString();
    MS_RETURN_IF_ERROR(token.Check(runtime->NowMs()));
    auto config = FetchBlobBounded(registry, token, reference, manifest.config_digest, options);
    if (!config.ok()) return config.status().Annotate(where);
    MS_RETURN_IF_ERROR(VerifyBlob(*config, manifest.config_size_bytes, manifest.config_digest, where));
  }
  TreeWriter writer(fs, dir, options.durable);
  const uint32_t file_mode = options.read_only ? 0444 : 0644;
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    const Layer& layer = manifest.layers[i];
    const std::string where = "manifest " + manifest_digest.ToString() + ": layer " +
                              std::to_string(i) + " (" + layer.digest.ToString() + ", " +
                              QuoteInput(layer.filepath) + ")";
    if (Skipped(layer, options)) {
      ++stats->layers_skipped;
      continue;
    }
    MS_RETURN_IF_ERROR(token.Check(runtime->NowMs()));
    auto blob = FetchBlobBounded(registry, token, reference, layer.digest, options);
    if (!blob.ok()) return blob.status().Annotate(where);
    MS_RETURN_IF_ERROR(VerifyBlob(*blob, layer.size_bytes, layer.digest, where));
    MS_RETURN_IF_ERROR(token.Check(runtime->NowMs()));
    if (layer.format == LayerFormat::kRaw) {
      Status st = writer.WriteFile(layer.filepath, *blob, file_mode);
      if (!st.ok()) return st.Annotate(where);
      ++stats->files;
      stats->bytes += blob->size();
      continue;
    }
    auto entries = ReadTar(*blob, where);
    if (!entries.ok()) return entries.status();
    for (const TarEntry& entry : *entries) {
      Status st;
      switch (entry.type) {
        case TarEntry::Type::kDirectory:
          st = writer.EnsureDir(entry.path, kDirMode);
          break;
        case TarEntry::Type::kSymlink:
          st = writer.WriteSymlink(entry.path, entry.link_target);
          break;
        case TarEntry::Type::kFile: {
          const uint32_t mode =
              options.read_only ? ((entry.mode & 0555) | 0444) : ((entry.mode & 0755) | 0600);
          st = writer.WriteFile(entry.path, entry.content, mode);
          ++stats->files;
          stats->bytes += entry.content.size();
          break;
        }
      }
      if (!st.ok()) return st.Annotate(where);
    }
  }
  return writer.SyncAll();
}

}  // namespace ms
