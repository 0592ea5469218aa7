// Bytes -> RunSpec, for the libFuzzer target: the input chooses the world,
// the schedule, every client operation, fault and crash. Total: any byte
// string decodes to a valid, bounded run (truncated records are dropped).
//
// Layout (little-endian):
//   byte 0   bits 0-2 strategy (rr, pct:1, pct:2, pct:3, random; mod 5)
//            bit 3    two driver processes
//            bits 4-5 GC rounds per process (0..3)
//            bits 6-7 tag moves (0..3)
//   byte 1-2 seed - 1
//   byte 3   bits 0-1 tenant writes, bits 2-3 status corruptions,
//            bit 4 corrupt at the final sweep, bits 5-6 link limit
//            (none, none, 2, 3), bit 7 tag moves spread between pulls
//   byte 4   bit 0 two calls in flight per kubelet stream (client lanes)
//   then records, each led by one byte r:
//   r < 0x80   a client op, plus one byte b:
//              actor r & 3, kind (r >> 2) & 7 mod 5 (pull, partial pull,
//              delete, release, status), a hostile name if r & 0x20,
//              the next actor's slot if r & 0x40; slot b % 5, reference
//              offset (b / 5) % 6, hostile name 1 + (b / 30) % 8. Kinds 5
//              and 6 are a pull and a partial pull of the hostile
//              registry's artifact of class (b / 5) mod the class count
//              (no reference offset, no hostile name)
//   0x80..0x9f a node crash (power loss), plus two bytes: step - 1
//   0xa0..0xbf a process kill of process r & 1, plus two bytes: step - 1
//   0xc0..0xff a filesystem fault, plus two bytes: call index; code
//              r & 7 mod 5 (EIO, ENOSPC, EACCES, EMLINK, EXDEV)
// Bounds: 4 actors, 32 ops, 3 crashes, 3 kills, 8 faults; records past a bound are
// skipped. EncodeRunSpec is the inverse on specs within these bounds (the
// seed corpus is written with it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "proptests/run_spec.h"

namespace ms::prop {

inline constexpr size_t kFuzzActorsMax = 4;
inline constexpr size_t kFuzzOpsMax = 32;
inline constexpr size_t kFuzzCrashesMax = 3;
inline constexpr size_t kFuzzKillsMax = 3;
inline constexpr size_t kFuzzFaultsMax = 8;

RunSpec DecodeRunSpec(const uint8_t* data, size_t size);

// The bytes DecodeRunSpec turns back into spec, for a spec within the
// bounds above (and with seed <= 65536, crash and kill steps <= 65536, fault calls
// < 65536, fields in their ranges); anything beyond is clamped or dropped.
std::string EncodeRunSpec(const RunSpec& spec);

}  // namespace ms::prop
