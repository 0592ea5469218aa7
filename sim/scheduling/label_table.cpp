#include "sim/scheduling/label_table.h"

#include <cstring>

#include "sim/common/fnv1a.h"

namespace ms::sim {

namespace {

size_t SlotOf(const char* data, size_t size, size_t slots) {
  // Fibonacci hashing of the address; the size separates a literal from its
  // own prefix views.
  const uint64_t key = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(data)) ^ (size << 48);
  return static_cast<size_t>((key * 0x9E3779B97F4A7C15ULL) >> 58) % slots;
}

uint64_t Load8(const char* p) {
  uint64_t word;
  std::memcpy(&word, p, sizeof word);
  return word;
}

// Labels are short: for 8..16 bytes, two overlapping word compares beat a
// call to memcmp (this runs once per scheduling decision).
bool SameBytes(const char* a, const char* b, size_t size) {
  if (size >= 8 && size <= 16) {
    return Load8(a) == Load8(b) && Load8(a + size - 8) == Load8(b + size - 8);
  }
  if (size < 8) {
    for (size_t i = 0; i < size; ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  }
  return std::memcmp(a, b, size) == 0;
}

}  // namespace

LabelTable::Id LabelTable::Intern(std::string_view label) {
  CacheSlot& slot = cache_[SlotOf(label.data(), label.size(), kCacheSlots)];
  if (slot.id != kEmptySlot && slot.data == label.data() && slot.size == label.size() &&
      SameBytes(slot.interned, label.data(), label.size())) {
    return slot.id;
  }
  const Id id = InternSlow(label);
  slot = CacheSlot{label.data(), label.size(), labels_[id].data(), id};
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
