// LabelTable: interns the 'what' labels of scheduling points ("fs.link",
// "rt.lock") so a trace stores a small id per decision instead of a string.
//
// Built for the scheduler's hot path: callers pass string_views, almost
// always to string literals, so a small pointer-keyed cache answers most
// lookups with one compare of the bytes (the bytes are always compared, so a
// reused buffer holding a different label can never be confused with the old
// one). Only a label never seen before allocates.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ms::sim {

class LabelTable {
 public:
  using Id = uint32_t;

  // The id of label, adding it if new. Ids are 0, 1, 2, ... in order of
  // first appearance, so equal runs intern equal ids.
  Id Intern(std::string_view label);

  // The label with this id; valid for the table's lifetime (storage is
  // stable: interning more labels never moves an earlier one).
  std::string_view Get(Id id) const { return labels_[id]; }
  // FNV-1a 64 of the label's bytes, computed once when it was interned.
  uint64_t HashOf(Id id) const { return hashes_[id]; }
  size_t size() const { return labels_.size(); }

 private:
  static constexpr size_t kCacheSlots = 64;
  static constexpr Id kEmptySlot = UINT32_MAX;
  struct CacheSlot {
    const char* data = nullptr;      // the caller's bytes last seen here
    size_t size = 0;
    const char* interned = nullptr;  // our copy of the label (stable)
    Id id = kEmptySlot;
  };

  Id InternSlow(std::string_view label);

  std::array<CacheSlot, kCacheSlots> cache_{};
  std::deque<std::string> labels_;  // deque: elements never move
  std::vector<uint64_t> hashes_;    // by id
  std::map<std::string, Id, std::less<>> ids_;
};

}  // namespace ms::sim
