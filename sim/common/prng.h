// Prng: the simulator's only source of randomness. xoshiro256** seeded
// through splitmix64, with its own bounded draw, so a seed gives the same
// sequence on every platform and standard library (the standard
// distributions and the hardware entropy device do not, and are not used
// anywhere in sim/).
#pragma once

#include <cstdint>

namespace ms::sim {

// One splitmix64 step: advances *state and returns a well-mixed value.
// Also the seed expander for Prng.
inline uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

class Prng {
 public:
  // Every seed, 0 included, gives a valid non-zero state.
  explicit Prng(uint64_t seed) {
    uint64_t sm = seed;
    for (uint64_t& word : s_) word = SplitMix64(&sm);
  }

  // xoshiro256** (Blackman and Vigna).
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, bound); bound must be > 0. Lemire's multiply-and-reject:
  // unbiased, and usually one multiplication, no division.
  uint64_t Below(uint64_t bound) {
    __extension__ typedef unsigned __int128 U128;
    U128 m = static_cast<U128>(Next()) * bound;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < bound) {
      const uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {  // expected iterations < 2 for any bound
        m = static_cast<U128>(Next()) * bound;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  // Uniform in [lo, hi] (inclusive); requires lo <= hi.
  uint64_t InRange(uint64_t lo, uint64_t hi) {
    const uint64_t span = hi - lo;
    if (span == UINT64_MAX) return Next();
    return lo + Below(span + 1);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  uint64_t s_[4];
};

}  // namespace ms::sim
