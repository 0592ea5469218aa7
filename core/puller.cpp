#include "core/puller.h"

#include <fnmatch.h>

#include <functional>
#include <set>

#include "core/blob_stream.h"
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
    return CreateFile(rel, [&](const std::string& path) {
      MS_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, fs_->NewWritableFile(path, mode));
      Status st = file->Append(bytes);
      if (st.ok() && durable_) st = file->Sync();
      Status close_st = file->Close();
      return st.ok() ? close_st : st;
    });
  }

  // A new file at rel that write (given its path) creates and fills.
  Status CreateFile(const std::string& rel, const std::function<Status(const std::string& path)>& write) {
    MS_RETURN_IF_ERROR(Claim(rel));
    MS_RETURN_IF_ERROR(EnsureParents(rel));
    MS_RETURN_IF_ERROR(write(JoinPath(root_, rel)));
    files_.insert(rel);
    return Status::Ok();
  }

  // A hardlink to src (a layer payload's file) at rel.
  Status LinkFile(const std::string& rel, const std::string& src) {
    return CreateFile(rel, [&](const std::string& path) { return fs_->Link(src, path); });
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

bool Skipped(const Layer& layer, const PullOptions& options) {
  if (options.exclude_weights && layer.is_weight) return true;
  return MatchesAnyPattern(layer.filepath, options.exclude_patterns);
}

// Fetches one layer, verifies it, and writes its payload through writer: a
// raw layer as one file at its filepath, a tar layer as its tree.
Status WriteLayer(Filesystem* fs, Runtime* runtime, Registry* registry, const CancelToken& token,
                  const Reference& reference, const Layer& layer, const PullOptions& options,
                  const std::string& where, TreeWriter* writer, uint32_t file_mode, PullStats* stats) {
  if (layer.format == LayerFormat::kRaw) {
    // Streamed into its file, verified as it arrives: memory does not grow
    // with the blob.
    bool streamed = false;  // its errors name where already
    Status st = writer->CreateFile(layer.filepath, [&](const std::string& path) {
      streamed = true;
      return StreamBlobToFile(fs, runtime, registry, token, reference, layer.digest, layer.size_bytes, path,
                              file_mode, options.durable, options.fetch_slots, where);
    });
    if (!st.ok()) return streamed ? st : st.Annotate(where);
    ++stats->files;
    stats->bytes += layer.size_bytes;
    return Status::Ok();
  }
  // A tar layer is parsed whole: read up to its descriptor's size, verified.
  auto blob = ReadBlobVerified(runtime, registry, token, reference, layer.digest, layer.size_bytes,
                               options.fetch_slots, where);
  if (!blob.ok()) return blob.status();
  MS_RETURN_IF_ERROR(token.Check(runtime->NowMs()));
  auto entries = ReadTar(*blob, where);
  if (!entries.ok()) return entries.status();
  for (const TarEntry& entry : *entries) {
    Status st;
    switch (entry.type) {
      case TarEntry::Type::kDirectory:
        st = writer->EnsureDir(entry.path, kDirMode);
        break;
      case TarEntry::Type::kSymlink:
        st = writer->WriteSymlink(entry.path, entry.link_target);
        break;
      case TarEntry::Type::kFile: {
        const uint32_t mode =
            options.read_only ? ((entry.mode & 0555) | 0444) : ((entry.mode & 0755) | 0600);
        st = writer->WriteFile(entry.path, entry.content, mode);
        ++stats->files;
        stats->bytes += entry.content.size();
        break;
      }
    }
    if (!st.ok()) return st.Annotate(where);
  }
  return Status::Ok();
}

// A raw layer's payload is one file of a fixed name; a tar layer's, its tree.
Layer RawAsPayload(const Layer& layer) {
  Layer out = layer;
  if (out.format == LayerFormat::kRaw) out.filepath = kRawPayloadName;
  return out;
}

// Places a layer's payload (a blob entry's data dir) in the model: a raw
// layer's file linked at its filepath, a tar layer's tree recreated with
// its files linked. Every entry is read and checked before the first link,
// so a tampered payload (a writable file, a stranger) is kCorrupt with the
// model untouched.
Status LinkPayload(Filesystem* fs, Runtime* runtime, const CancelToken& token, const Layer& layer,
                   const std::string& payload, const std::string& where, TreeWriter* writer,
                   PullStats* stats) {
  struct Item {
    std::string rel;  // in the model
    std::string src;
    FileInfo info;
    std::string target;  // symlinks
  };
  std::vector<Item> items;
  auto check_file = [&](const std::string& src, const FileInfo& info) {
    if (info.type == FileType::kRegular && (info.mode & 0222) == 0) return Status::Ok();
    return Status(Code::kCorrupt, "store file " + src + " is writable or not a file (mode " +
                                      std::to_string(info.mode) + "): payload tampered");
  };
  if (layer.format == LayerFormat::kRaw) {
    const std::string src = JoinPath(payload, kRawPayloadName);
    MS_ASSIGN_OR_RETURN(const FileInfo info, fs->Stat(src));
    MS_RETURN_IF_ERROR(check_file(src, info));
    items.push_back({layer.filepath, src, info, ""});
  } else {
    // Depth first, names in order.
    std::vector<std::string> stack{""};
    uint64_t visited = 0;
    while (!stack.empty()) {
      const std::string rel = std::move(stack.back());
      stack.pop_back();
      if ((++visited & 63) == 0) MS_RETURN_IF_ERROR(token.Check(runtime->NowMs()));
      const std::string src = rel.empty() ? payload : JoinPath(payload, rel);
      MS_ASSIGN_OR_RETURN(const FileInfo info, fs->Stat(src));
      switch (info.type) {
        case FileType::kDirectory: {
          MS_ASSIGN_OR_RETURN(const std::vector<std::string> names, fs->ReadDir(src));
          // A directory that holds something is made as the parent of what
          // it holds (so a clash names the deepest path, as extraction
          // does); an empty one on its own.
          if (!rel.empty() && names.empty()) items.push_back({rel, src, info, ""});
          for (auto it = names.rbegin(); it != names.rend(); ++it) {
            stack.push_back(rel.empty() ? *it : rel + "/" + *it);
          }
          break;
        }
        case FileType::kSymlink: {
          MS_ASSIGN_OR_RETURN(std::string target, fs->ReadLink(src));
          items.push_back({rel, src, info, std::move(target)});
          break;
        }
        case FileType::kRegular:
          MS_RETURN_IF_ERROR(check_file(src, info));
          items.push_back({rel, src, info, ""});
          break;
        case FileType::kOther:
          return Status(Code::kCorrupt, "store entry " + src + " is not a file, dir or symlink");
      }
    }
  }
  for (const Item& item : items) {
    Status st;
    switch (item.info.type) {
      case FileType::kDirectory:
        st = writer->EnsureDir(item.rel, item.info.mode);
        break;
      case FileType::kSymlink:
        st = writer->WriteSymlink(item.rel, item.target);
        break;
      default:
        st = writer->LinkFile(item.rel, item.src);
        ++stats->files;
        stats->bytes += item.info.size_bytes;
        break;
    }
    if (!st.ok()) return st.Annotate(where);
  }
  return Status::Ok();
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
    auto config = ReadBlobVerified(runtime, registry, token, reference, manifest.config_digest,
                                   manifest.config_size_bytes, options.fetch_slots, where);
    if (!config.ok()) return config.status();
  }
  TreeWriter writer(fs, dir, options.durable);
  const uint32_t file_mode = options.read_only ? 0444 : 0644;
  if (options.layers != nullptr) MS_RETURN_IF_ERROR(options.layers->BeginManifest(manifest));
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    const Layer& layer = manifest.layers[i];
    const std::string where = "manifest " + manifest_digest.ToString() + ": layer " +
                              std::to_string(i) + " (" + layer.digest.ToString() + ", " +
                              QuoteInput(layer.filepath) + ")";
    if (options.layers == nullptr && Skipped(layer, options)) {
      ++stats->layers_skipped;
      continue;
    }
    MS_RETURN_IF_ERROR(token.Check(runtime->NowMs()));
    if (options.layers == nullptr) {
      // A private copy: the layer's bytes go straight into the model.
      Status st = WriteLayer(fs, runtime, registry, token, reference, layer, options, where, &writer,
                             file_mode, stats);
      if (!st.ok()) return st;
      continue;
    }
    Status st = options.layers->WithLayer(
        layer,
        [&](const std::string& staging) {
          // The payload alone, stats untouched: they count the model.
          TreeWriter payload(fs, staging, options.durable);
          PullStats ignored;
          const Layer as_payload = RawAsPayload(layer);
          MS_RETURN_IF_ERROR(WriteLayer(fs, runtime, registry, token, reference, as_payload, options,
                                        where, &payload, file_mode, &ignored));
          return payload.SyncAll();
        },
        [&](const std::string& payload) {
          return LinkPayload(fs, runtime, token, layer, payload, where, &writer, stats);
        });
    if (!st.ok()) return st;
  }
  return writer.SyncAll();
}

}  // namespace ms
