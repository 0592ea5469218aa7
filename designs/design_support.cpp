#include "designs/design_support.h"

#include <vector>

#include "core/fs_util.h"
#include "core/puller.h"
#include "core/tar_reader.h"

namespace ms::designs {
namespace {

constexpr uint32_t kDirMode = 0755;
constexpr uint32_t kFileMode = 0644;
constexpr uint64_t kTreeEntriesMax = 1'000'000;

Status WriteOneFile(const CacheEnv& env, const std::string& path, std::string_view bytes, uint32_t mode) {
  MS_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env.fs->NewWritableFile(path, mode));
  Status st = file->Append(bytes);
  if (st.ok() && env.durable) st = file->Sync();
  Status close_st = file->Close();
  return st.ok() ? close_st : st;
}

}  // namespace

Result<ModelManifest> FetchModelManifest(const CacheEnv& env, const Reference& reference, const Digest& digest,
                                         const CancelToken& token) {
  MS_RETURN_IF_ERROR(token.Check(env.runtime->NowMs()));
  auto bytes = env.registry->FetchManifest(token, reference, digest);
  if (!bytes.ok()) return bytes.status().Annotate("fetch manifest " + digest.ToString());
  const Digest got = digest.SameAlgorithmOf(*bytes);
  if (got != digest) {
    return Status(Code::kCorrupt, "manifest " + digest.ToString() + ": content hashes to " + got.ToString());
  }
  return ParseModelManifest(*bytes, digest);
}

Status PullInto(const CacheEnv& env, const Reference& reference, const Digest& manifest, const std::string& dir,
                const CancelToken& token) {
  MS_RETURN_IF_ERROR(env.fs->MakeDir(dir, kDirMode));
  PullOptions options;
  options.read_only = false;
  options.durable = env.durable;
  return PullPayload(env.fs, env.runtime, env.registry, token, reference, manifest, dir, options, nullptr);
}

namespace {

Result<std::string> FetchChecked(const CacheEnv& env, const Reference& reference, const Digest& digest,
                                 uint64_t size_bytes, const std::string& where, const CancelToken& token,
                                 bool verify_digest) {
  MS_RETURN_IF_ERROR(token.Check(env.runtime->NowMs()));
  auto blob = env.registry->FetchBlob(token, reference, digest);
  if (!blob.ok()) return blob.status().Annotate(where);
  if (blob->size() != size_bytes) {
    return Status(Code::kCorrupt, where + ": blob is " + std::to_string(blob->size()) + " bytes, descriptor says " +
                                      std::to_string(size_bytes));
  }
  if (verify_digest) {
    const Digest got = digest.SameAlgorithmOf(*blob);
    if (got != digest) return Status(Code::kCorrupt, where + ": blob content hashes to " + got.ToString());
  }
  return blob;
}

// No existing component of rel's parent below dir is a symlink.
Status CheckNoSymlinkAbove(Filesystem* fs, const std::string& dir, const std::string& rel) {
  for (size_t slash = rel.find('/'); slash != std::string::npos; slash = rel.find('/', slash + 1)) {
    auto info = fs->Stat(JoinPath(dir, rel.substr(0, slash)));
    if (!info.ok()) return info.code() == Code::kNotFound ? Status::Ok() : info.status();
    if (info->type == FileType::kSymlink) {
      return Status(Code::kInvalidArgument,
                    "path " + QuoteInput(rel) + " lies below symlink " + QuoteInput(rel.substr(0, slash)));
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> FetchLayer(const CacheEnv& env, const Reference& reference, const Layer& layer,
                               const CancelToken& token, bool verify_digest) {
  return FetchChecked(env, reference, layer.digest, layer.size_bytes,
                      "layer " + layer.digest.ToString() + " (" + QuoteInput(layer.filepath) + ")", token,
                      verify_digest);
}

Status FetchConfig(const CacheEnv& env, const Reference& reference, const Digest& manifest_digest,
                   const ModelManifest& manifest, const CancelToken& token) {
  const std::string where = "manifest " + manifest_digest.ToString() + ": config " + manifest.config_digest.ToString();
  return FetchChecked(env, reference, manifest.config_digest, manifest.config_size_bytes, where, token, true).status();
}

Status WriteLayer(const CacheEnv& env, const Layer& layer, std::string_view blob, const std::string& dir) {
  MS_RETURN_IF_ERROR(MakeDirs(env.fs, dir, kDirMode));
  std::vector<std::string> synced_dirs{dir};
  auto parents = [&](const std::string& rel) -> Status {
    MS_RETURN_IF_ERROR(CheckNoSymlinkAbove(env.fs, dir, rel));
    const size_t slash = rel.rfind('/');
    if (slash == std::string::npos) return Status::Ok();
    const std::string parent = JoinPath(dir, rel.substr(0, slash));
    MS_RETURN_IF_ERROR(MakeDirs(env.fs, parent, kDirMode));
    synced_dirs.push_back(parent);
    return Status::Ok();
  };
  if (layer.format == LayerFormat::kRaw) {
    MS_RETURN_IF_ERROR(parents(layer.filepath));
    MS_RETURN_IF_ERROR(WriteOneFile(env, JoinPath(dir, layer.filepath), blob, kFileMode));
  } else {
    MS_ASSIGN_OR_RETURN(const std::vector<TarEntry> entries, ReadTar(blob, "layer " + layer.digest.ToString()));
    for (const TarEntry& entry : entries) {
      MS_RETURN_IF_ERROR(parents(entry.path));
      const std::string path = JoinPath(dir, entry.path);
      switch (entry.type) {
        case TarEntry::Type::kDirectory:
          MS_RETURN_IF_ERROR(MakeDirs(env.fs, path, kDirMode));
          synced_dirs.push_back(path);
          break;
        case TarEntry::Type::kSymlink:
          MS_RETURN_IF_ERROR(env.fs->Symlink(entry.link_target, path));
          break;
        case TarEntry::Type::kFile:
          MS_RETURN_IF_ERROR(WriteOneFile(env, path, entry.content, (entry.mode & 0755) | 0600));
          break;
      }
    }
  }
  if (!env.durable) return Status::Ok();
  for (auto it = synced_dirs.rbegin(); it != synced_dirs.rend(); ++it) MS_RETURN_IF_ERROR(env.fs->SyncDir(*it));
  return Status::Ok();
}

Status LinkTree(const CacheEnv& env, const std::string& src, const std::string& dst, const CancelToken& token) {
  struct Item {
    std::string src, dst;
  };
  MS_ASSIGN_OR_RETURN(const FileInfo top, env.fs->Stat(src));
  if (top.type != FileType::kDirectory) return Status(Code::kNotDirectory, "link tree: " + src + " is not a directory");
  MS_RETURN_IF_ERROR(MakeDirs(env.fs, dst, kDirMode));
  std::vector<std::string> made{dst};
  std::vector<Item> stack{{src, dst}};
  uint64_t visited = 0;
  while (!stack.empty()) {
    const Item dir = std::move(stack.back());
    stack.pop_back();
    MS_RETURN_IF_ERROR(token.Check(env.runtime->NowMs()));
    MS_ASSIGN_OR_RETURN(const std::vector<std::string> names, env.fs->ReadDir(dir.src));
    for (const std::string& name : names) {
      if (++visited > kTreeEntriesMax) return Status(Code::kInternal, "link tree " + src + ": too many entries");
      const std::string from = JoinPath(dir.src, name);
      const std::string to = JoinPath(dir.dst, name);
      MS_ASSIGN_OR_RETURN(const FileInfo info, env.fs->Stat(from));
      switch (info.type) {
        case FileType::kDirectory:
          MS_RETURN_IF_ERROR(env.fs->MakeDir(to, info.mode));
          made.push_back(to);
          stack.push_back({from, to});
          break;
        case FileType::kSymlink: {
          MS_ASSIGN_OR_RETURN(const std::string target, env.fs->ReadLink(from));
          MS_RETURN_IF_ERROR(env.fs->Symlink(target, to));
          break;
        }
        case FileType::kRegular:
          MS_RETURN_IF_ERROR(env.fs->Link(from, to));
          break;
        case FileType::kOther:
          return Status(Code::kCorrupt, "link tree: " + from + " is not a file, directory or symlink");
      }
    }
  }
  if (!env.durable) return Status::Ok();
  for (auto it = made.rbegin(); it != made.rend(); ++it) MS_RETURN_IF_ERROR(env.fs->SyncDir(*it));
  return env.fs->SyncDir(ParentPath(dst));
}

void ForEachRecordDir(Filesystem* fs, const std::string& root, const std::function<bool(const std::string&)>& visit) {
  const std::string volumes = JoinPath(root, "volumes");
  auto names = fs->ReadDir(volumes);
  if (!names.ok()) return;
  for (const std::string& v : *names) {
    const std::string dir = JoinPath(volumes, v);
    if (!visit(dir)) return;
    auto mounts = fs->ReadDir(JoinPath(dir, "models"));
    if (!mounts.ok()) continue;
    for (const std::string& m : *mounts) {
      if (!visit(JoinPath(JoinPath(dir, "models"), m))) return;
    }
  }
}

std::string CleanPath(std::string_view path) {
  const bool absolute = !path.empty() && path.front() == '/';
  std::vector<std::string_view> parts;
  for (size_t start = 0; start <= path.size();) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    const std::string_view part = path.substr(start, slash - start);
    start = slash + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!absolute) {
        parts.push_back(part);
      }
      continue;
    }
    parts.push_back(part);
  }
  std::string out = absolute ? "/" : "";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  return out.empty() ? "." : out;
}

Status WriteSmallFile(Filesystem* fs, const std::string& path, std::string_view bytes) {
  Status st = fs->Unlink(path);
  if (!st.ok() && st.code() != Code::kNotFound) return st;
  MS_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, fs->NewWritableFile(path, kFileMode));
  st = file->Append(bytes);
  Status close_st = file->Close();
  return st.ok() ? close_st : st;
}

Status WriteSmallFileRenamed(Filesystem* fs, const std::string& path, std::string_view bytes) {
  const std::string tmp = path + ".tmp";
  MS_RETURN_IF_ERROR(WriteSmallFile(fs, tmp, bytes));
  Status st = fs->Rename(tmp, path);
  if (!st.ok()) (void)fs->Unlink(tmp);
  return st;
}

}  // namespace ms::designs
