#include "proptests/fuzz/fuzz_decode.h"

#include <algorithm>
#include <array>

namespace ms::prop {
namespace {

constexpr std::array<const char*, 5> kStrategies{"rr", "pct:1", "pct:2", "pct:3", "random"};
constexpr std::array<Code, 5> kCodes{Code::kIo, Code::kNoSpace, Code::kPermission, Code::kTooManyLinks,
                                     Code::kCrossDevice};
constexpr std::array<uint64_t, 4> kLinkMax{0, 0, 2, 3};
constexpr int kKinds = 5;  // OpKind kPull..kStatus

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool Has(size_t n) const { return size_ - pos_ >= n; }
  uint8_t Byte() { return Has(1) ? data_[pos_++] : 0; }
  uint16_t U16() {
    const uint16_t lo = Byte();
    const uint16_t hi = Byte();
    return static_cast<uint16_t>(lo | (hi << 8));
  }
  bool Done() const { return pos_ >= size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

void PutU16(std::string* out, uint64_t v) {
  const uint64_t c = std::min<uint64_t>(v, 0xffff);
  out->push_back(static_cast<char>(c & 0xff));
  out->push_back(static_cast<char>(c >> 8));
}

}  // namespace

RunSpec DecodeRunSpec(const uint8_t* data, size_t size) {
  Reader in(data, size);
  RunSpec spec;
  const uint8_t world = in.Byte();
  spec.strategy = kStrategies[(world & 7u) % kStrategies.size()];
  spec.processes = (world & 8u) != 0 ? 2 : 1;
  spec.gc_rounds = (world >> 4) & 3;
  spec.tag_moves = (world >> 6) & 3;
  spec.seed = uint64_t{in.U16()} + 1;
  const uint8_t mishaps = in.Byte();
  spec.tenant_writes = mishaps & 3;
  spec.status_corruptions = (mishaps >> 2) & 3;
  spec.corrupt_at_sweep = (mishaps & 0x10u) != 0;
  spec.link_max = kLinkMax[(mishaps >> 5) & 3];
  spec.tag_moves_spread = (mishaps & 0x80u) != 0;
  const uint8_t lanes = in.Byte();
  spec.client_lanes = (lanes & 1u) != 0 ? 2 : 1;
  spec.overlap_release = (lanes & 2u) != 0;
  size_t ops = 0;
  while (!in.Done()) {
    const uint8_t r = in.Byte();
    if (r < 0x80) {
      if (!in.Has(1)) break;
      const uint8_t b = in.Byte();
      if (ops >= kFuzzOpsMax) continue;
      SpecOp op;
      op.kind = static_cast<sim::OpKind>(((r >> 2) & 7) % kKinds);
      op.slot = b % 5;
      op.ref = (b / 5) % 6;
      op.hostile = (r & 0x20u) != 0 ? 1 + (b / 30) % 8 : 0;
      op.other = (r & 0x40u) != 0 ? 1 : 0;  // the next actor's slot
      // Kinds 5 and 6 (unused by the five kinds): a pull or partial pull
      // of the hostile registry's artifact of class b / 5.
      const uint8_t raw_kind = (r >> 2) & 7;
      if (raw_kind == 5 || raw_kind == 6) {
        op.kind = raw_kind == 5 ? sim::OpKind::kPull : sim::OpKind::kPullPartial;
        op.artifact = 1 + (b / 5) % static_cast<int>(sim::kHostileClassCount);
        op.ref = 0;
        op.hostile = 0;
      }
      const size_t actor = r & 3u;
      if (spec.actors.size() <= actor) spec.actors.resize(actor + 1);
      spec.actors[actor].push_back(op);
      ++ops;
    } else if (r < 0xa0) {
      if (!in.Has(2)) break;
      const uint64_t step = uint64_t{in.U16()} + 1;
      if (spec.crash_steps.size() < kFuzzCrashesMax) spec.crash_steps.push_back(step);
    } else if (r < 0xc0) {
      if (!in.Has(2)) break;
      const uint64_t step = uint64_t{in.U16()} + 1;
      if (spec.kills.size() < kFuzzKillsMax) spec.kills.push_back({step, r & 1});
    } else {
      if (!in.Has(2)) break;
      const uint64_t call = in.U16();
      if (spec.faults.size() < kFuzzFaultsMax) spec.faults.push_back({call, kCodes[(r & 7u) % kCodes.size()]});
    }
  }
  return spec;
}

std::string EncodeRunSpec(const RunSpec& spec) {
  std::string out;
  const auto strategy = std::find(kStrategies.begin(), kStrategies.end(), spec.strategy);
  const unsigned s = strategy == kStrategies.end() ? 4u : static_cast<unsigned>(strategy - kStrategies.begin());
  out.push_back(static_cast<char>(s | (spec.processes > 1 ? 8u : 0u) |
                                  (static_cast<unsigned>(std::clamp(spec.gc_rounds, 0, 3)) << 4) |
                                  (static_cast<unsigned>(std::clamp(spec.tag_moves, 0, 3)) << 6)));
  PutU16(&out, spec.seed > 0 ? spec.seed - 1 : 0);
  const unsigned link = spec.link_max == 2 ? 2u : spec.link_max == 3 ? 3u : 0u;
  out.push_back(static_cast<char>(static_cast<unsigned>(std::clamp(spec.tenant_writes, 0, 3)) |
                                  (static_cast<unsigned>(std::clamp(spec.status_corruptions, 0, 3)) << 2) |
                                  (spec.corrupt_at_sweep ? 0x10u : 0u) | (link << 5) |
                                  (spec.tag_moves_spread ? 0x80u : 0u)));
  out.push_back(static_cast<char>((spec.client_lanes > 1 ? 1u : 0u) | (spec.overlap_release ? 2u : 0u)));
  for (size_t a = 0; a < spec.actors.size() && a < kFuzzActorsMax; ++a) {
    for (const SpecOp& op : spec.actors[a]) {
      const unsigned kind = static_cast<unsigned>(op.kind);
      const bool hostile = op.hostile > 0 && op.hostile < kHostileNames;
      const bool pull = op.kind == sim::OpKind::kPull || op.kind == sim::OpKind::kPullPartial;
      const unsigned other = op.other > 0 ? 0x40u : 0u;
      if (pull && op.artifact > 0) {
        // Kind 5 or 6; the class takes the place of the reference offset
        // and the hostile name.
        out.push_back(static_cast<char>(a | ((kind + 5) << 2) | other));
        out.push_back(static_cast<char>(std::clamp(op.slot, 0, 4) +
                                        5 * ((op.artifact - 1) % static_cast<int>(sim::kHostileClassCount))));
        continue;
      }
      out.push_back(static_cast<char>(a | (kind << 2) | (hostile ? 0x20u : 0u) | other));
      const int b = std::clamp(op.slot, 0, 4) + 5 * std::clamp(op.ref, 0, 5) + (hostile ? 30 * (op.hostile - 1) : 0);
      out.push_back(static_cast<char>(b));
    }
  }
  for (uint64_t step : spec.crash_steps) {
    out.push_back(static_cast<char>(0x80));
    PutU16(&out, step > 0 ? step - 1 : 0);
  }
  for (const sim::KillAt& k : spec.kills) {
    out.push_back(static_cast<char>(0xa0u | (static_cast<unsigned>(k.process) & 1u)));
    PutU16(&out, k.step > 0 ? k.step - 1 : 0);
  }
  for (const sim::FaultAt& f : spec.faults) {
    const auto code = std::find(kCodes.begin(), kCodes.end(), f.code);
    const unsigned c = code == kCodes.end() ? 0u : static_cast<unsigned>(code - kCodes.begin());
    out.push_back(static_cast<char>(0xc0u | c));
    PutU16(&out, f.call);
  }
  return out;
}

}  // namespace ms::prop
