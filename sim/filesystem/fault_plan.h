// Fault injection for SimFilesystem: which calls may fail, how often, and
// with which codes. The simulator decides; the core never knows (the
// FoundationDB BUGGIFY lesson in STYLE.md, with the branch in the port).
//
// The plan is seeded and draws from its own PRNG (FaultRng, splitmix64), not
// from <random>: std distributions differ across standard library versions,
// and a seed must replay the same faults on every build of the same code.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string_view>

#include "core/status.h"

namespace ms::sim {

// Every call SimFilesystem counts as a scheduling point and may fail: the
// Filesystem port's calls, WritableFile's, and the non-port writes that model
// a container writing through a path.
enum class FsOp : uint8_t {
  kMakeDir,
  kRemoveDir,
  kUnlink,
  kLink,
  kSymlink,
  kReadLink,
  kRename,
  kStat,
  kReadDir,
  kNewWritableFile,
  kAppend,
  kSync,
  kClose,
  kReadFile,
  kChmod,
  kSyncDir,
  kLockFile,
  kOverwriteFile,
  kAppendToExisting,
  kCount,  // not an op: the number of ops
};
inline constexpr size_t kFsOpCount = static_cast<size_t>(FsOp::kCount);

// "fs.mkdir", "fs.create", ...: the name given to Executor::Yield, to the
// call hook, and (without "fs.") to error messages.
std::string_view FsOpName(FsOp op);

// Sets of codes as bit masks, one bit per ms::Code.
constexpr uint32_t CodeBit(Code code) { return uint32_t{1} << static_cast<uint32_t>(code); }
constexpr uint32_t CodeMask(std::initializer_list<Code> codes) {
  uint32_t mask = 0;
  for (Code code : codes) mask |= CodeBit(code);
  return mask;
}
static_assert(static_cast<uint32_t>(Code::kInternal) < 32, "Code no longer fits a 32-bit mask");

// The codes each op may fail with by default, chosen to be what the real
// call can return before it acts:
//   ENOSPC  kNoSpace       MakeDir, NewWritableFile, Append, Link, Symlink, LockFile
//   EIO     kIo            every call, including Sync, SyncDir and Close
//   EXDEV   kCrossDevice   Link, Rename
//   EMLINK  kTooManyLinks  Link
//   EACCES  kPermission    the calls that create, remove or change an entry
// OverwriteFile and AppendToExisting (a container's writes, not the store's)
// fail with nothing by default.
std::array<uint32_t, kFsOpCount> DefaultFaultCodes();

struct FaultPlan {
  // Same seed, same sequence of calls: same faults.
  uint64_t seed = 0;
  // Probability, in [0, 1], that one call whose op allows at least one code
  // fails. <= 0 disables the plan; >= 1 fails every such call.
  double rate = 0.0;
  // Per op (indexed by FsOp), the codes it may fail with; 0 = never fails.
  // A failing call picks one of its allowed codes uniformly.
  std::array<uint32_t, kFsOpCount> allowed_codes = DefaultFaultCodes();

  // Restricts or widens one op: plan.Allow(FsOp::kLink, {Code::kTooManyLinks}).
  FaultPlan& Allow(FsOp op, std::initializer_list<Code> codes) {
    allowed_codes[static_cast<size_t>(op)] = CodeMask(codes);
    return *this;
  }
  // Only op may fail (every other op's set is cleared), with codes.
  FaultPlan& Only(FsOp op, std::initializer_list<Code> codes) {
    allowed_codes.fill(0);
    return Allow(op, codes);
  }
};

// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, full period 2^64, and the
// same numbers on every platform.
class FaultRng {
 public:
  explicit FaultRng(uint64_t seed = 0) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

}  // namespace ms::sim
