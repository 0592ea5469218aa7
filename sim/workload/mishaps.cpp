#include "sim/workload/world.h"


namespace ms::sim {

void World::SpawnRegistryMutator() {
  sched_->Spawn("registry-mutator", kRegistryProcess, [this] {
    Prng rng(config_.seed ^ 0x746167ULL);
    Prng spread(config_.seed ^ 0x737072656164ULL);  // "spread"
    while (tag_moves_left_ > 0) {
      // Spread over the run, a move lands between a volume's pulls (§2.1);
      // else the moves all happen while the drivers boot.
      if (config_.tag_moves_spread) WaitForOps(spread.Below(ops_total_ + 1), "registry.wait");
      sched_->Yield("registry.move-tag");
      const auto& [repo, tag, candidates] = pool_.moving[rng.Below(pool_.moving.size())];
      const BuiltModel& target = pool_.models[candidates[rng.Below(candidates.size())]].second;
      if (registry_->Tag(repo, tag, target.manifest_digest).ok()) {
        calls_.Named(repo + ":" + tag, target.manifest_digest.ToString());
      }
      Note("registry tag " + repo + ":" + tag + " -> " + target.manifest_digest.ToString().substr(0, 19));
      --tag_moves_left_;
    }
  });
}

void World::SpawnTenant() {
  sched_->Spawn("tenant", kTenantProcess, [this] {
    Prng rng(config_.seed ^ kTenantStream);
    for (int n = 0; tenant_writes_left_ > 0; ++n) {
      WaitForOps(rng.Below(ops_total_ + 1), "tenant.wait");
      TenantWrite(rng, n);
      --tenant_writes_left_;
    }
  });
}

void World::TenantWrite(Prng& rng, int n) {
  // A container of a full (store-backed) volume opens one of its model
  // files for writing, as a training job writing "its" weights would.
  sched_->Yield("tenant.pick");
  std::vector<std::string> candidates;
  for (const std::string& record : record_dirs_) {
    const auto status = ReadRecord(record);
    if (status && status->state == VolumeState::kSucceeded && !status->partial) candidates.push_back(record);
  }
  if (candidates.empty()) {
    Note("tenant: no succeeded full volume to write into");
    return;
  }
  const std::string record = candidates[rng.Below(candidates.size())];
  std::vector<std::string> files;
  fs_->Walk(checker_->ModelView(record), [&](const WalkEntry& e) {
    if (e.info.type == FileType::kRegular) files.emplace_back(e.path);
  });
  if (files.empty()) {
    Note("tenant: " + record.substr(sizeof(kRoot)) + " has no regular file");
    return;
  }
  const std::string path = files[rng.Below(files.size())];
  ++report_.ops["tenant-write"];
  const Status st = fs_->OverwriteFile(path, "tenant write " + std::to_string(n) + "\n");
  if (st.ok()) {
    // Its own volume changed by its own hand; every other volume sharing
    // the inode must be checked now.
    checker_->ExemptTenantWritten(record);
    VoidPromise(record);
    checker_->MarkAllDirty();
  } else {
    ++report_.op_errors["tenant-write: " + std::string(CodeName(st.code()))];
  }
  Note("tenant overwrite " + path.substr(sizeof(kRoot)) + " -> " + st.ToString().substr(0, 120));
}

void World::SpawnCorruptor() {
  sched_->Spawn("corruptor", kCorruptorProcess, [this] {
    Prng rng(config_.seed ^ kCorruptorStream);
    while (corruptions_left_ > 0) {
      WaitForOps(rng.Below(ops_total_ + 1), "corruptor.wait");
      sched_->Yield("corruptor.corrupt");
      if (!CorruptStatus(rng, false).empty()) ++corruptions_done_;
      --corruptions_left_;
    }
  });
}

std::string World::CorruptStatus(Prng& rng, bool at_sweep) {
  // A mishap on any record, a call in flight on it or not (a record
  // garbled under a running publish must not cost it its entry:
  // docs/findings.md, "was still wrong" 2).
  std::vector<std::string> candidates;
  std::vector<std::string> preferred;
  for (const std::string& record : record_dirs_) {
    auto view = fs_->Inspect(record + "/status.json");
    if (!view || view->info.type != FileType::kRegular) continue;
    candidates.push_back(record);
    auto status = DecodeStatus(view->bytes, record);
    if (status.ok() && status->state == VolumeState::kSucceeded && !status->partial) preferred.push_back(record);
  }
  if (at_sweep && !preferred.empty()) candidates = preferred;
  if (candidates.empty()) {
    Note("corruptor: no status.json to corrupt");
    return "";
  }
  const std::string record = candidates[rng.Below(candidates.size())];
  const std::string path = record + "/status.json";
  const auto view = fs_->Inspect(path);
  const bool truncate = rng.Below(2) == 0;
  // A torn write (cut mid-JSON) or a garbled block: neither parses.
  const std::string bytes = truncate ? view->bytes.substr(0, view->bytes.size() / 2) : std::string("\x00\x17garbled\n", 10);
  (void)fs_->WriteFileForTest(path, bytes, view->info.mode);
  VoidPromise(record);
  ++garbles_[record];
  calls_.Garble(SlotOfRecord(record), sched_->steps());
  ++report_.ops["corrupt-status"];
  Note(std::string("corruptor: ") + (truncate ? "truncated " : "garbled ") + path.substr(sizeof(kRoot)));
  return record;
}

}  // namespace ms::sim
