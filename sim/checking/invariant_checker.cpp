#include "sim/checking/invariant_checker.h"

#include <algorithm>

#include "core/digest.h"
#include "core/fetch_slots.h"
#include "core/fs_util.h"
#include "core/volume_status.h"
#include "sim/common/fnv1a.h"

namespace ms::sim {
namespace {

bool Mutates(FsOp op) {
  switch (op) {
    case FsOp::kMakeDir: case FsOp::kRemoveDir: case FsOp::kUnlink: case FsOp::kLink:
    case FsOp::kSymlink: case FsOp::kRename: case FsOp::kNewWritableFile: case FsOp::kAppend:
    case FsOp::kChmod: case FsOp::kLockFile: case FsOp::kOverwriteFile:
    case FsOp::kAppendToExisting:
      return true;
    default:
      return false;
  }
}

// Whether a path holds a "." or ".." component. The simulated disk refuses
// such a path (a kernel would resolve it, out of the root as like as not),
// so one reaching it is the store joining a name it did not validate.
bool HasDotComponent(std::string_view path) {
  for (size_t at = path.find("/."); at != std::string_view::npos; at = path.find("/.", at + 1)) {
    const size_t end = at + (at + 2 < path.size() && path[at + 2] == '.' ? 3 : 2);
    if (end == path.size() || path[end] == '/') return true;
  }
  return false;
}

// Whether s starts with prefix, compared from the prefix's end: record dirs
// share their beginning (root/volumes/) and differ at the end.
bool StartsWithBackward(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = prefix.size(); i-- > 0;) {
    if (s[i] != prefix[i]) return false;
  }
  return true;
}

std::string FirstDifference(const Tree& want, const Tree& got) {
  for (const auto& [path, node] : want) {
    auto it = got.find(path);
    if (it == got.end()) return "missing " + path;
    if (!(it->second == node)) return "differs " + path;
  }
  for (const auto& [path, node] : got) {
    if (want.count(path) == 0) return "unexpected " + path;
  }
  return "";
}

}  // namespace

InvariantChecker::InvariantChecker(SimFilesystem* fs, std::string root,
                                   std::vector<std::string> record_dirs)
    : fs_(fs),
      root_(std::move(root)),
      root_slash_(root_ + "/"),
      store_prefix_(root_slash_ + "store/"),
      records_(std::move(record_dirs)),
      status_paths_(records_.size()),
      dirty_(records_.size(), 0),
      view_targets_(records_.size()),
      status_bytes_(records_.size()),
      status_parsed_(records_.size()) {
  for (size_t i = 0; i < records_.size(); ++i) status_paths_[i] = records_[i] + "/status.json";
}

const VolumeStatus* InvariantChecker::CachedStatus(size_t index, const std::string& bytes) {
  if (bytes != status_bytes_[index] || (!status_parsed_[index] && bytes.empty())) {
    status_bytes_[index] = bytes;
    auto parsed = DecodeStatus(bytes, records_[index]);
    status_parsed_[index] = parsed.ok() ? std::optional<VolumeStatus>(std::move(parsed).value()) : std::nullopt;
  }
  return status_parsed_[index] ? &*status_parsed_[index] : nullptr;
}

void InvariantChecker::AddExpected(const std::string& manifest_digest, ExpectedModel expected) {
  for (const Tree* tree : {&expected.full, &expected.partial}) {
    for (const auto& [path, node] : *tree) {
      if (node.type == FileType::kRegular && !node.content.empty()) payload_contents_.insert(node.content);
    }
  }
  expected_[manifest_digest] = std::move(expected);
}

void InvariantChecker::AddHostile(const std::string& manifest_digest, std::string what) {
  hostile_[manifest_digest] = std::move(what);
}

uint64_t InvariantChecker::OutsideHash() const {
  // Every entry not below the root: its path, type, mode, bytes or target.
  uint64_t hash = kFnvOffsetBasis;
  fs_->Walk("/", [&](const WalkEntry& e) {
    if (e.path == root_ || StartsWithBackward(e.path, root_slash_)) return;
    hash = Fnv1a64(hash, e.path);
    hash = Fnv1a64(hash, std::string_view("\0", 1));
    const uint64_t meta[] = {static_cast<uint64_t>(e.info.type), e.info.mode, e.info.size_bytes};
    hash = Fnv1a64(hash, std::string_view(reinterpret_cast<const char*>(meta), sizeof(meta)));
    hash = Fnv1a64(hash, e.bytes);
    hash = Fnv1a64(hash, e.target);
  });
  return hash;
}

void InvariantChecker::SnapshotOutside() { outside_hash_ = OutsideHash(); }

void InvariantChecker::CheckOutside(uint64_t step, std::string_view when) {
  if (OutsideHash() != outside_hash_) {
    AddViolation("I5 confinement", step,
                 "something outside the root changed (created, changed or removed), seen " + std::string(when));
  }
}

bool InvariantChecker::Failed(std::string_view invariant) const {
  for (const Violation& v : violations_) {
    if (v.invariant == invariant) return true;
  }
  return false;
}

void InvariantChecker::AddViolation(std::string invariant, uint64_t step, std::string detail) {
  // The first violation of each invariant is the one worth reading.
  if (Failed(invariant)) return;
  violations_.push_back({std::move(invariant), step, std::move(detail)});
}

void InvariantChecker::CheckFetchesInFlight(uint64_t step, uint64_t in_flight, uint64_t fetches_max) {
  if (!store_checks_ || in_flight <= fetches_max) return;
  AddViolation("I2 dedup", step,
               std::to_string(in_flight) + " blob fetches in flight at once, above the node-wide bound fetches_max=" +
                   std::to_string(fetches_max));
}

void InvariantChecker::OnCall(const CallInfo& call) {
  if (!Mutates(call.op)) return;
  // At every mutating call: views only, no allocation.
  auto inside = [&](std::string_view p) {
    return p == root_ || p.substr(0, root_slash_.size()) == root_slash_;
  };
  const bool second_is_path = call.op == FsOp::kLink || call.op == FsOp::kRename;
  if (!inside(call.path) || (second_is_path && !inside(call.path2))) {
    AddViolation("I5 confinement", 0,
                 std::string(call.name) + " outside the root: " + std::string(call.path) + " " +
                     std::string(second_is_path ? call.path2 : ""));
  }
  if (HasDotComponent(call.path) || (second_is_path && HasDotComponent(call.path2))) {
    AddViolation("I5 confinement", 0,
                 std::string(call.name) + " of a path with a dot component (a kernel would resolve it, maybe out of "
                 "the root): " + std::string(call.path) + " " + std::string(second_is_path ? call.path2 : ""));
  }
  // An entry's data/ moved away (a collection's commit point) or removed
  // in place: judged after the step, once the call has acted.
  const std::string_view store = store_prefix_;
  if (store_checks_ && (call.op == FsOp::kRename || call.op == FsOp::kRemoveDir) && call.path.size() > store.size() + 5 &&
      call.path.substr(0, store.size()) == store && call.path.substr(call.path.size() - 5) == "/data") {
    const std::string_view rest = call.path.substr(store.size(), call.path.size() - 5 - store.size());
    const size_t slash = rest.find('/');
    if (slash != std::string_view::npos) {
      collected_.insert(std::string(rest.substr(0, slash)) + ":" + std::string(rest.substr(slash + 1)));
    }
  }
  // Bytes appended to a file other names link: a volume may see them (a
  // store file written on after it was linked). A tenant's writes through
  // a volume (OverwriteFile, AppendToExisting) mark every record already.
  if (call.op == FsOp::kAppend && call.link_count > 1) shared_inode_changed_ = true;
  for (size_t i = 0; i < records_.size(); ++i) {
    const std::string_view r = records_[i];
    const std::string_view t = view_targets_[i];
    auto under = [&](std::string_view p) {
      return (StartsWithBackward(p, r) && (p.size() == r.size() || p[r.size()] == '/')) ||
             (!t.empty() && StartsWithBackward(p, t) && (p.size() == t.size() || p[t.size()] == '/'));
    };
    // A release removes a whole volume, above its mounts' records.
    auto above = [&](std::string_view p) {
      return StartsWithBackward(r, p) && (r.size() == p.size() || r[p.size()] == '/');
    };
    if (under(call.path) || above(call.path) || (second_is_path && (under(call.path2) || above(call.path2)))) {
      dirty_[i] = 1;
      any_dirty_ = true;
    }
  }
}

void InvariantChecker::MarkAllDirty() {
  dirty_.assign(records_.size(), 1);
  any_dirty_ = true;
}

void InvariantChecker::AfterStep(uint64_t step) {
  if (shared_inode_changed_) {
    shared_inode_changed_ = false;
    MarkAllDirty();
  }
  if (any_dirty_) {
    any_dirty_ = false;
    for (size_t i = 0; i < dirty_.size(); ++i) {
      if (dirty_[i] == 0) continue;
      dirty_[i] = 0;
      CheckRecord(i, step);
    }
  }
  for (const std::string& digest : collected_) CheckCollected(digest, step);
  collected_.clear();
}

void InvariantChecker::ExemptTenantWritten(const std::string& record) {
  const auto view = fs_->Inspect(record + "/status.json");
  tenant_written_[record] = view ? view->info.inode : 0;
  tenant_wrote_ = true;
}

bool InvariantChecker::TenantExempt(const std::string& record) {
  const auto it = tenant_written_.find(record);
  if (it == tenant_written_.end()) return false;
  // Until its record is replaced (a re-pull's rename) or removed: a call
  // that only tried (a fault) changes nothing.
  const auto view = fs_->Inspect(record + "/status.json");
  if (view && view->info.inode == it->second) return true;
  tenant_written_.erase(it);
  return false;
}

void InvariantChecker::ExemptCorruptedAtSweep(const std::string& record) {
  corrupted_at_sweep_.insert(record);
}

void InvariantChecker::CheckCollected(const std::string& manifest_digest, uint64_t step) {
  const std::string data = EntryData(manifest_digest);
  if (data.empty() || fs_->Exists(data)) return;  // the call failed
  for (size_t i = 0; i < records_.size(); ++i) {
    const std::string* bytes = fs_->RegularFileBytes(status_paths_[i]);
    if (bytes == nullptr) continue;
    const VolumeStatus* status = CachedStatus(i, *bytes);
    if (status == nullptr || status->state != VolumeState::kSucceeded || status->partial ||
        status->cache_key != manifest_digest) {
      continue;
    }
    AddViolation("I1 no-referenced-loss", step,
                 "store entry " + manifest_digest + " collected (data/ moved away or removed) while " +
                     records_[i] + " is recorded succeeded on it");
    return;
  }
}

std::string InvariantChecker::ModelView(const std::string& record_dir) const {
  const std::string model = record_dir + "/model";
  const auto view = fs_->Inspect(model);
  if (!view || view->info.type != FileType::kSymlink) return model;
  return view->target.starts_with("/") ? view->target : record_dir + "/" + view->target;
}

Tree InvariantChecker::ReadTree(const std::string& dir) const {
  Tree tree;
  const std::string prefix = dir + "/";
  fs_->Walk(dir, [&](const WalkEntry& e) {
    if (e.path.size() <= prefix.size()) return;  // the top itself
    TreeNode node;
    node.type = e.info.type;
    if (e.info.type == FileType::kRegular) node.content = std::string(e.bytes);
    if (e.info.type == FileType::kSymlink) node.content = std::string(e.target);
    tree.emplace(std::string(e.path.substr(prefix.size())), std::move(node));
  });
  return tree;
}

void InvariantChecker::CheckRecord(size_t index, uint64_t step) {
  const std::string& record = records_[index];
  if (TenantExempt(record)) return;
  const std::string* bytes = fs_->RegularFileBytes(status_paths_[index]);
  if (bytes == nullptr) return;
  const VolumeStatus* status = CachedStatus(index, *bytes);
  if (status == nullptr || status->state != VolumeState::kSucceeded) return;
  if (!hostile_.empty()) {
    if (auto h = hostile_.find(status->manifest); h != hostile_.end()) {
      AddViolation("I7 results", step,
                   record + " is recorded succeeded on hostile artifact " + h->second + " = " + status->manifest +
                       ": the store accepted what it must refuse");
      return;
    }
  }
  auto it = expected_.find(status->manifest);
  if (it == expected_.end()) {
    AddViolation("I1 no-referenced-loss", step,
                 record + " succeeded with unknown manifest \"" + status->manifest + "\"");
    return;
  }
  const Tree& want = status->partial ? it->second.partial : it->second.full;
  const std::string view = ModelView(record);
  view_targets_[index] = view == record + "/model" ? std::string() : view;
  const std::string diff = FirstDifference(want, ReadTree(view));
  if (!diff.empty()) {
    AddViolation("I1 no-referenced-loss", step,
                 record + " is recorded succeeded (" + status->reference + " = " + status->manifest +
                     ") but its model " + diff);
    return;
  }
  // Our core's layout: a full volume is the store's: recorded succeeded,
  // its entry holds the payload (else it was collected under it, or never
  // kept).
  if (!store_checks_) return;
  const std::string data = status->partial ? std::string() : EntryData(status->cache_key);
  if (!status->partial && (data.empty() || !fs_->Exists(data))) {
    AddViolation("I1 no-referenced-loss", step,
                 record + " is recorded succeeded on " + status->cache_key +
                     " but the store holds no payload of it (no " + data + ")");
  }
}

std::string InvariantChecker::BrokenPromise(const std::string& record, const Promise& promise) const {
  auto view = fs_->Inspect(record + "/status.json");
  if (!promise.published) return view ? "its status.json is back" : "";
  if (!view || view->info.type != FileType::kRegular) return "its status.json is gone";
  auto status = DecodeStatus(view->bytes, record);
  if (!status.ok() || status->state != VolumeState::kSucceeded || status->reference != promise.reference ||
      status->manifest != promise.manifest || status->partial != promise.partial) {
    return "its record no longer says succeeded on " + promise.manifest + " (" +
           (status.ok() ? std::string(StateName(status->state)) + " " + status->manifest
                        : status.status().message().substr(0, 80)) +
           ")";
  }
  auto it = expected_.find(promise.manifest);
  if (it == expected_.end()) return "";  // I1 reports an unknown manifest
  const std::string diff =
      FirstDifference(promise.partial ? it->second.partial : it->second.full, ReadTree(ModelView(record)));
  if (!diff.empty()) return "its model " + diff;
  if (!store_checks_) return "";  // our core's layout: the entry holds the payload
  const std::string data = promise.partial ? std::string() : EntryData(promise.manifest);
  if (!data.empty() && !fs_->Exists(data)) return "the store lost its payload (no " + data + ")";
  return "";
}

std::set<std::string> InvariantChecker::KeptPromises(const std::map<std::string, Promise>& promises) const {
  std::set<std::string> kept;
  for (const auto& [record, promise] : promises) {
    if (BrokenPromise(record, promise).empty()) kept.insert(record);
  }
  return kept;
}

void InvariantChecker::CheckPromises(uint64_t step, const std::map<std::string, Promise>& promises,
                                     const std::set<std::string>& kept, std::string_view model) {
  for (const auto& [record, promise] : promises) {
    if (kept.count(record) == 0) continue;
    const std::string broken = BrokenPromise(record, promise);
    if (broken.empty()) continue;
    const std::string rel = record.substr(std::min(record.size(), root_slash_.size()));
    AddViolation("I8 recovery", step,
                 "a power loss (" + std::string(model) + ") after " +
                     (promise.published ? "a publish of " + promise.reference + " into " : "an unpublish of ") + rel +
                     " returned success: " + broken);
  }
}

std::string InvariantChecker::EntryData(const std::string& manifest_digest) const {
  auto digest = Digest::Parse(manifest_digest);
  if (!digest.ok()) return "";
  return root_ + "/store/" + std::string(digest->algorithm_name()) + "/" + digest->hex() + "/data";
}

std::string InvariantChecker::LayerData(std::string_view format, const std::string& layer_digest) const {
  auto digest = Digest::Parse(layer_digest);
  if (!digest.ok()) return "";
  return root_ + "/blobs/" + std::string(format) + "/" + std::string(digest->algorithm_name()) + "/" +
         digest->hex() + "/data";
}

void InvariantChecker::OnFullPullFetch(uint64_t actor, const std::string& manifest_digest, uint64_t step) {
  fetching_manifest_[actor] = manifest_digest;
  if (!store_checks_) return;
  const std::string data = EntryData(manifest_digest);
  if (!data.empty() && fs_->Exists(data)) {
    AddViolation("I2 dedup", step,
                 "payload of " + manifest_digest + " fetched again while " + data + " holds it");
  }
}

void InvariantChecker::OnFullPullBlobFetch(uint64_t actor, const std::string& blob, uint64_t step) {
  const auto it = fetching_manifest_.find(actor);
  if (it == fetching_manifest_.end()) return;
  const std::string& manifest = it->second;
  // Only a layer is payload: the config blob is read at every pull by the
  // designs that must read it, and never written.
  if (const auto e = expected_.find(manifest); e == expected_.end() || e->second.layer_digests.count(blob) == 0) return;
  // One copy per layer (DESIGN §4 I2, at blob level): a layer any
  // succeeded full volume's manifest lists is on the node already,
  // whichever manifest this pull is for.
  for (size_t i = 0; i < records_.size(); ++i) {
    if (TenantExempt(records_[i])) continue;
    const std::string* bytes = fs_->RegularFileBytes(status_paths_[i]);
    if (bytes == nullptr) continue;
    const VolumeStatus* status = CachedStatus(i, *bytes);
    if (status == nullptr || status->state != VolumeState::kSucceeded || status->partial) continue;
    const auto held = expected_.find(status->manifest);
    if (held == expected_.end() || held->second.layer_digests.count(blob) == 0) continue;
    AddViolation("I2 dedup", step,
                 "layer " + blob + " fetched by a full pull of " + manifest + " while " + records_[i] +
                     " is recorded succeeded on " + status->manifest + ", which lists it (the node holds it)");
    break;
  }
  if (store_checks_) {
    // Our core: no layer entry holds the layer complete.
    for (const char* format : {"raw", "tar"}) {
      const std::string data = LayerData(format, blob);
      if (!data.empty() && fs_->Exists(data)) {
        AddViolation("I2 dedup", step,
                     "layer " + blob + " of " + manifest + " fetched again while " + data + " holds it");
      }
    }
  }
  PullFetches& mine = in_flight_[actor];
  for (const auto& [other, theirs] : in_flight_) {
    if (other == actor) continue;
    const auto fetched = std::find_if(theirs.fetched.begin(), theirs.fetched.end(),
                                      [&](const auto& pair) { return pair.second == blob; });
    if (fetched == theirs.fetched.end()) continue;
    // Only while its record says running is the other pull's download in
    // flight: once it says succeeded the node holds it (judged above), once
    // it says failed or is gone the download was dropped.
    const std::string* bytes = fs_->RegularFileBytes(theirs.record_dir + "/status.json");
    if (bytes == nullptr) continue;
    auto status = DecodeStatus(*bytes, theirs.record_dir);
    if (!status.ok() || status->state != VolumeState::kRunning) continue;
    double_fetches_.push_back({theirs.call, mine.call, false, false, fetched->first, blob, step});
  }
  mine.fetched.insert({manifest, blob});
}

void InvariantChecker::CallBegan(uint64_t actor, const std::string& record_dir) {
  fetching_manifest_.erase(actor);
  in_flight_[actor] = PullFetches{++calls_, record_dir, {}};
}

void InvariantChecker::CallEnded(uint64_t actor, bool succeeded, uint64_t step) {
  fetching_manifest_.erase(actor);
  auto it = in_flight_.find(actor);
  if (it == in_flight_.end()) return;
  const uint64_t call = it->second.call;
  in_flight_.erase(it);
  for (auto d = double_fetches_.begin(); d != double_fetches_.end();) {
    const bool first = d->first_call == call, second = d->second_call == call;
    if (!first && !second) {
      ++d;
      continue;
    }
    if (!succeeded) {
      d = double_fetches_.erase(d);  // a failed pull's download was not kept
      continue;
    }
    d->first_done = d->first_done || first;
    d->second_done = d->second_done || second;
    if (d->first_done && d->second_done) {
      AddViolation("I2 dedup", step,
                   "layer " + d->blob + " downloaded twice: at step " + std::to_string(d->step) +
                       " a full pull fetched it while another pull in flight (of " + d->manifest +
                       ") had fetched it already, and both pulls succeeded");
      d = double_fetches_.erase(d);
      continue;
    }
    ++d;
  }
}

void InvariantChecker::ForgetFetches() {
  fetching_manifest_.clear();
  in_flight_.clear();
  double_fetches_.clear();
}

std::set<std::string> InvariantChecker::ReferencedKeys(std::vector<std::string>* full_models) const {
  std::set<std::string> referenced;
  for (const std::string& record : records_) {
    auto view = fs_->Inspect(record + "/status.json");
    if (!view || view->info.type != FileType::kRegular) continue;
    auto status = DecodeStatus(view->bytes, record);
    if (!status.ok()) continue;
    const bool active = status->state == VolumeState::kRunning || status->state == VolumeState::kSucceeded;
    if (active && !status->partial && !status->cache_key.empty()) {
      referenced.insert(status->cache_key);
      if (full_models != nullptr) full_models->push_back(record + "/model");
    }
  }
  return referenced;
}

std::set<std::string> InvariantChecker::EntryKeys() const {
  std::set<std::string> entries;
  for (const std::string& algo : fs_->ListDir(root_ + "/store")) {
    for (const std::string& hex : fs_->ListDir(root_ + "/store/" + algo)) entries.insert(algo + ":" + hex);
  }
  return entries;
}

void InvariantChecker::CheckNothingToSweep(uint64_t step) {
  if (store_checks_) {
    const std::set<std::string> referenced = ReferencedKeys(nullptr);
    for (const std::string& e : EntryKeys()) {
      const size_t colon = e.find(':');
      const std::string entry = root_ + "/store/" + e.substr(0, colon) + "/" + e.substr(colon + 1);
      std::string why;
      // An entry dir holding neither payload nor staging (say, a lock file a
      // waiter re-created while a collection removed the entry) costs an
      // inode, not a payload: only the final check wants it gone.
      if (referenced.count(e) == 0 && fs_->Exists(entry + "/data")) why = "unreferenced entry " + e;
      if (fs_->Exists(entry + "/data.tmp")) why = "staging left: " + entry + "/data.tmp";
      if (!why.empty()) {
        AddViolation("I3 footprint", step,
                     "before the final sweep, in a run with no crash, fault or corrupted record: " + why +
                         " (only a sweep would reclaim it)");
        return;
      }
    }
  }
  Footprint fp;
  if (const auto why = PayloadBytesMismatch(&fp)) {
    AddViolation("I3 footprint", step,
                 "before the final sweep, in a run with no crash, fault or corrupted record: " + *why +
                     " (only a sweep would reclaim it)");
  }
}

std::map<std::string, VolumeStatus> InvariantChecker::ActiveRecords() const {
  std::map<std::string, VolumeStatus> out;
  for (const std::string& record : records_) {
    const std::string* bytes = fs_->RegularFileBytes(record + "/status.json");
    if (bytes == nullptr) continue;
    auto status = DecodeStatus(*bytes, record);
    if (!status.ok()) continue;
    if (status->state == VolumeState::kRunning || status->state == VolumeState::kSucceeded) {
      out.emplace(record, std::move(status).value());
    }
  }
  return out;
}

std::optional<std::string> InvariantChecker::PayloadBytesMismatch(Footprint* fp) const {
  // What the active records need: each full manifest once, each partial
  // volume's own files.
  std::set<std::string> manifests;
  std::set<std::string> contents;
  uint64_t partial_bytes = 0;
  for (const auto& [record, status] : ActiveRecords()) {
    if (!status.partial) {
      if (!status.cache_key.empty()) manifests.insert(status.cache_key);
      continue;
    }
    const auto it = expected_.find(status.manifest);
    if (it == expected_.end()) continue;
    for (const auto& [path, node] : it->second.partial) {
      if (node.type == FileType::kRegular) partial_bytes += node.content.size();
    }
  }
  fp->referenced_digests = manifests.size();
  fp->unique_referenced = partial_bytes;
  fp->unique_content_bytes = partial_bytes;
  fp->unique_blob_bytes = partial_bytes;
  std::set<std::string> blobs;  // layer digests counted, across the manifests
  for (const std::string& m : manifests) {
    const auto it = expected_.find(m);
    if (it == expected_.end()) continue;
    fp->unique_referenced += it->second.payload_bytes;
    if (it->second.layer_payload_bytes.empty()) fp->unique_blob_bytes += it->second.payload_bytes;
    for (const auto& [layer, bytes] : it->second.layer_payload_bytes) {
      if (blobs.insert(layer).second) fp->unique_blob_bytes += bytes;
    }
    for (const auto& [path, node] : it->second.full) {
      if (node.type == FileType::kRegular && contents.insert(node.content).second) {
        fp->unique_content_bytes += node.content.size();
      }
    }
  }
  // What the disk holds: every regular inode once. A payload inode linked
  // only below a record garbled right before the final sweep is left out:
  // its files await the kubelet.
  struct InodeUse {
    uint64_t size = 0;
    bool payload = false;
    bool counted = false;  // some link outside the exempt records
    std::string path;
  };
  std::map<uint64_t, InodeUse> inodes;
  std::vector<std::string> exempt;
  for (const std::string& r : corrupted_at_sweep_) exempt.push_back(r + "/");
  fs_->Walk(root_, [&](const WalkEntry& e) {
    if (e.info.type != FileType::kRegular) return;
    InodeUse& use = inodes[e.info.inode];
    if (use.path.empty()) {
      use.size = e.info.size_bytes;
      use.payload = payload_contents_.count(std::string(e.bytes)) != 0;
      use.path = std::string(e.path);
    }
    bool under_exempt = false;
    for (const std::string& x : exempt) under_exempt = under_exempt || e.path.starts_with(x);
    use.counted = use.counted || !under_exempt;
  });
  for (const auto& [inode, use] : inodes) {
    fp->all_bytes_on_disk += use.size;
    if (use.payload && use.counted) fp->bytes_on_disk += use.size;
  }
  if (tenant_wrote_) return std::nullopt;  // the bytes are the tenant's business
  // No payload kept that no active volume's view holds (a leak) ...
  std::set<uint64_t> viewed;
  for (const auto& [record, status] : ActiveRecords()) {
    fs_->Walk(ModelView(record), [&](const WalkEntry& e) {
      if (e.info.type == FileType::kRegular) viewed.insert(e.info.inode);
    });
  }
  for (const auto& [inode, use] : inodes) {
    if (use.payload && use.counted && viewed.count(inode) == 0) {
      return "payload held by no active volume: " + use.path + " (" + std::to_string(use.size) + " bytes)";
    }
  }
  // ... and no copy beyond one per layer (DESIGN §4 I3 at blob level: a
  // layer two manifests share is kept once; a design that shares equal
  // files across layers keeps less, which is fine; lost files are I1's).
  if (fp->bytes_on_disk > fp->unique_blob_bytes) {
    return "payload bytes on disk " + std::to_string(fp->bytes_on_disk) +
           " > the unique bytes of the layers the active records list " + std::to_string(fp->unique_blob_bytes) +
           " (a copy too many; one copy per manifest would be " + std::to_string(fp->unique_referenced) + ")";
  }
  return std::nullopt;
}

void InvariantChecker::CheckOrphans(uint64_t step) {
  // At quiescence every file under volumes/ belongs to a record: its
  // status.json, its model while the record is active, and (any design but
  // our core, which keeps nothing else there) the design's bookkeeping beside
  // them in the record dir while the record exists. Anything else (a failed
  // pull's half-linked model, a record left undeletable, a removed volume
  // re-created) is disk nobody will reclaim.
  std::map<std::string, bool> active;  // decodable records -> active
  for (const std::string& record : records_) {
    auto view = fs_->Inspect(record + "/status.json");
    if (!view || view->info.type != FileType::kRegular) continue;
    auto status = DecodeStatus(view->bytes, record);
    if (!status.ok()) continue;
    active[record] = status->state == VolumeState::kRunning || status->state == VolumeState::kSucceeded;
  }
  std::string orphan;
  fs_->Walk(root_ + "/volumes", [&](const WalkEntry& e) {
    if (!orphan.empty() || e.info.type == FileType::kDirectory) return;
    const std::string path(e.path);
    for (const std::string& record : records_) {
      if (path.compare(0, record.size() + 1, record + "/") != 0) continue;
      if (corrupted_at_sweep_.count(record) != 0) return;
      const auto it = active.find(record);
      if (it == active.end()) continue;
      if (path == record + "/status.json") return;
      const std::string model = record + "/model";
      if (it->second && (path == model || path.compare(0, model.size() + 1, model + "/") == 0)) return;
      if (!store_checks_ && ParentPath(path) == record) return;
    }
    orphan = path;
  });
  if (!orphan.empty()) {
    AddViolation("I3 footprint", step,
                 "orphan under volumes/ at quiescence: " + orphan + " belongs to no active record");
  }
}

void InvariantChecker::CheckLayerEntries(const std::set<std::string>& referenced, uint64_t step) {
  // One layer entry per layer the referenced models list, whichever
  // format (a digest listed raw by one model and tar by another has two),
  // none else, and nothing staged.
  std::set<std::string> listed;
  for (const std::string& key : referenced) {
    if (const auto e = expected_.find(key); e != expected_.end()) {
      listed.insert(e->second.layer_digests.begin(), e->second.layer_digests.end());
    }
  }
  std::set<std::string> present;
  for (const char* format : {"raw", "tar"}) {
    const std::string dir = root_ + "/blobs/" + format;
    for (const std::string& algo : fs_->ListDir(dir)) {
      for (const std::string& hex : fs_->ListDir(dir + "/" + algo)) {
        const std::string digest = algo + ":" + hex;
        const std::string entry = dir + "/" + algo + "/" + hex;
        present.insert(digest);
        if (fs_->Exists(entry + "/data.tmp")) {
          AddViolation("I3 footprint", step, "layer staging left at quiescence: " + entry + "/data.tmp");
        }
        if (listed.count(digest) == 0) {
          AddViolation("I3 footprint", step, "layer entry " + entry + " remains, which no referenced model lists");
        }
      }
    }
  }
  for (const std::string& layer : listed) {
    if (present.count(layer) == 0) {
      AddViolation("I3 footprint", step, "layer " + layer + " of a referenced model has no layer entry");
    }
  }
}

Footprint InvariantChecker::CheckQuiescent(uint64_t step) {
  Footprint fp;
  if (store_checks_) {
    const std::set<std::string> referenced = ReferencedKeys(nullptr);
    const std::set<std::string> entries = EntryKeys();
    for (const std::string& e : entries) {
      if (auto h = hostile_.find(e); h != hostile_.end()) {
        AddViolation("I3 footprint", step, "an entry of hostile artifact " + h->second + " remains after the final sweep: " + e);
      }
    }
    for (const std::string& e : entries) {
      const size_t colon = e.find(':');
      const std::string entry = root_ + "/store/" + e.substr(0, colon) + "/" + e.substr(colon + 1);
      if (fs_->Exists(entry + "/data.tmp")) {
        AddViolation("I3 footprint", step, "staging left at quiescence: " + entry + "/data.tmp");
      }
    }
    for (const std::string& e : entries) {
      if (referenced.count(e) == 0) AddViolation("I3 footprint", step, "unreferenced entry " + e);
    }
    for (const std::string& r : referenced) {
      if (entries.count(r) == 0) AddViolation("I3 footprint", step, "referenced digest " + r + " has no entry");
    }
    fp.entries = entries.size();
    CheckLayerEntries(referenced, step);
    // A volume's (or mount's) lock file goes with it, or at the sweep.
    for (const std::string& name : fs_->ListDir(root_ + "/locks")) {
      if (FetchSlots::IsSlotFileName(name)) continue;  // permanent, at most fetches_max
      const size_t plus = name.find('+');
      const std::string base = name.size() > 5 ? name.substr(0, name.size() - 5) : name;
      const std::string tree = plus == std::string::npos
                                   ? root_ + "/volumes/" + base
                                   : root_ + "/volumes/" + base.substr(0, plus) + "/models/" + base.substr(plus + 1);
      if (!fs_->Exists(tree)) {
        AddViolation("I3 footprint", step, "lock file left at quiescence: " + root_ + "/locks/" + name +
                                               " guards " + tree + ", which is gone");
        break;
      }
    }
  }
  CheckOrphans(step);
  CheckOutside(step, "at quiescence");
  const size_t entries = fp.entries;
  if (const auto why = PayloadBytesMismatch(&fp)) AddViolation("I3 footprint", step, *why);
  fp.entries = entries;
  return fp;
}

}  // namespace ms::sim
