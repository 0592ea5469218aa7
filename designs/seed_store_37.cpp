#include "designs/seed_store_37.h"

#include <vector>

#include "core/fs_util.h"
#include "designs/design_support.h"

namespace ms::designs {
namespace {

constexpr uint32_t kDirMode = 0755;
constexpr uint64_t kWalkEntriesMax = 1'000'000;

class SeedStore final : public PayloadCache {
 public:
  explicit SeedStore(CacheEnv env) : env_(std::move(env)) {}

  Status Start() override { return Status::Ok(); }

  Status Materialize(const Slot& slot, const Reference& reference, const Digest& manifest,
                     const CancelToken& token) override {
    ScopedLock mutex(env_.runtime, "seed:" + manifest.ToString());
    const std::string entry = EntryDir(manifest);
    if (!DirExists(JoinPath(entry, "data"))) MS_RETURN_IF_ERROR(PullLocked(entry, reference, manifest, token));
    // A failure here leaves what was linked; the volume layer removes it.
    Status st = LinkTree(env_, JoinPath(entry, "data"), slot.model_dir, token);
    return st.ok() ? st : st.Annotate("link cached data into " + slot.model_dir);
  }

  void Released(const Slot&, const std::string& key, ReleaseWhy why) override {
    // The seed collects after a delete and after a failed pull (its worker
    // deletes the model), never the old key of a re-pull.
    if (why == ReleaseWhy::kReplaced || key.empty()) return;
    auto digest = Digest::Parse(key);
    if (!digest.ok()) return;
    Status st = MaybeGc(*digest);
    if (!st.ok()) env_.runtime->Log(LogLevel::kWarning, st.Annotate("maybe gc " + key).ToString());
  }

  Status CollectDigest(const Digest& manifest) override { return MaybeGc(manifest); }

 private:
  std::string EntryDir(const Digest& d) const {
    return JoinPath(env_.root, "store/" + std::string(d.algorithm_name()) + "/" + d.hex());
  }

  bool DirExists(const std::string& path) {
    auto info = env_.fs->Stat(path);
    return info.ok() && info->type == FileType::kDirectory;
  }

  Status PullLocked(const std::string& entry, const Reference& reference, const Digest& manifest,
                    const CancelToken& token) {
    const std::string tmp = JoinPath(entry, "data.tmp");
    MS_RETURN_IF_ERROR(RemoveAll(env_.fs, tmp).Annotate("cleanup staging dir"));
    MS_RETURN_IF_ERROR(MakeDirs(env_.fs, entry, kDirMode));
    Status st = PullInto(env_, reference, manifest, tmp, token);
    if (st.ok()) st = env_.fs->Rename(tmp, JoinPath(entry, "data"));  // no fsync of the entry
    if (!st.ok()) (void)RemoveAll(env_.fs, tmp);
    return st;
  }

  // Some regular file under data/ has a link count above 1.
  Result<bool> HasLiveLinks(const std::string& data) {
    std::vector<std::string> stack{data};
    uint64_t visited = 0;
    while (!stack.empty()) {
      const std::string dir = std::move(stack.back());
      stack.pop_back();
      MS_ASSIGN_OR_RETURN(const std::vector<std::string> names, env_.fs->ReadDir(dir));
      for (const std::string& name : names) {
        if (++visited > kWalkEntriesMax) return Status(Code::kInternal, "walk " + data + ": too many entries");
        const std::string path = JoinPath(dir, name);
        MS_ASSIGN_OR_RETURN(const FileInfo info, env_.fs->Stat(path));
        if (info.type == FileType::kDirectory) stack.push_back(path);
        if (info.type == FileType::kRegular && info.link_count > 1) return true;
      }
    }
    return false;
  }

  Status MaybeGc(const Digest& manifest) {
    ScopedLock mutex(env_.runtime, "seed:" + manifest.ToString());
    const std::string entry = EntryDir(manifest);
    const std::string data = JoinPath(entry, "data");
    if (!DirExists(data)) return RemoveAll(env_.fs, entry).Annotate("remove leftover store dir");
    MS_ASSIGN_OR_RETURN(const bool live, HasLiveLinks(data));
    if (live) return Status::Ok();
    return RemoveAll(env_.fs, entry).Annotate("remove store dir");
  }

  CacheEnv env_;
};

}  // namespace

std::unique_ptr<PayloadCache> MakeSeedStore(const CacheEnv& env) { return std::make_unique<SeedStore>(env); }

}  // namespace ms::designs
