// FNV-1a 64: the simulator's hash for traces and labels (not std::hash,
// whose values differ across standard libraries).
#pragma once

#include <cstdint>
#include <string_view>

namespace ms::sim {

inline constexpr uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ULL;
inline constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

// Folds bytes into hash, byte by byte (start from kFnvOffsetBasis).
inline uint64_t Fnv1a64(uint64_t hash, std::string_view bytes) {
  for (unsigned char c : bytes) hash = (hash ^ c) * kFnvPrime;
  return hash;
}

}  // namespace ms::sim
