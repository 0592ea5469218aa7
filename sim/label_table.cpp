#include "sim/label_table.h"

#include <cstring>

#include "sim/fnv1a.h"

namespace ms::sim {

namespace {

size_t SlotOf(const char* data, size_t size, size_t slots) {
  // Fibonacci hashing of the address; the size separates a literal from its
  // own prefix views.
  const uint64_t key = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(data)) ^ (size << 48);
  return static_cast<size_t>((key * 0x9E3779B97F4A7C15ULL) >> 58) % slots;
}

}  // namespace

LabelTable::Id LabelTable::Intern(std::string_view label) {
  CacheSlot& slot = cache_[SlotOf(label.data(), label.size(), kCacheSlots)];
  if (slot.id != kEmptySlot && slot.data == label.data() && slot.size == label.size()) {
    const std::string& known = labels_[slot.id];
    if (label.empty() || std::memcmp(known.data(), label.data(), label.size()) == 0) return slot.id;
  }
  const Id id = InternSlow(label);
  slot = CacheSlot{label.data(), label.size(), id};
  return id;
}

LabelTable::Id LabelTable::InternSlow(std::string_view label) {
  if (auto it = ids_.find(label); it != ids_.end()) return it->second;
  const Id id = static_cast<Id>(labels_.size());
  labels_.emplace_back(label);
  hashes_.push_back(Fnv1a64(kFnvOffsetBasis, label));
  ids_.emplace(labels_.back(), id);
  return id;
}

}  // namespace ms::sim
