// The fuzz decoder: total over arbitrary bytes, bounded, and the inverse of
// the encoder that writes the seed corpus.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "proptests/fuzz/fuzz_decode.h"
#include "proptests/run_gen.h"

namespace ms::prop {
namespace {

RC_GTEST_PROP(FuzzDecode, AnyBytesDecodeToABoundedRun, (const std::vector<uint8_t>& bytes)) {
  const RunSpec spec = DecodeRunSpec(bytes.data(), bytes.size());
  RC_ASSERT(spec.actors.size() <= kFuzzActorsMax);
  RC_ASSERT(OpCount(spec) <= kFuzzOpsMax);
  RC_ASSERT(spec.crash_steps.size() <= kFuzzCrashesMax);
  RC_ASSERT(spec.kills.size() <= kFuzzKillsMax);
  RC_ASSERT(spec.faults.size() <= kFuzzFaultsMax);
  RC_ASSERT(spec.processes >= 1 && spec.processes <= 2);
  for (const auto& script : spec.actors) {
    for (const SpecOp& op : script) {
      RC_ASSERT(op.slot >= 0 && op.slot <= kWholeDynamicVolume);
      RC_ASSERT(op.hostile >= 0 && op.hostile < kHostileNames);
      RC_ASSERT(op.artifact >= 0 && op.artifact <= static_cast<int>(sim::kHostileClassCount));
    }
  }
}

RC_GTEST_PROP(FuzzDecode, EncodeThenDecodeIsTheIdentity, ()) {
  GenLimits limits = StormLimits();
  limits.hostile = true;
  limits.hostile_artifacts = true;
  limits.crash_step_max = 60000;
  limits.fault_call_max = 60000;
  RunSpec spec = *GenRun(limits);
  spec.seed = (spec.seed - 1) % 65536 + 1;
  spec.actors.resize(std::min(spec.actors.size(), kFuzzActorsMax));
  size_t ops = 0;
  for (auto& script : spec.actors) {
    if (ops + script.size() > kFuzzOpsMax) script.resize(kFuzzOpsMax - ops);
    ops += script.size();
  }
  while (!spec.actors.empty() && spec.actors.back().empty()) spec.actors.pop_back();
  // An artifact is a pull's only: it replaces the reference and the name.
  for (auto& script : spec.actors) {
    for (SpecOp& op : script) {
      const bool pull = op.kind == sim::OpKind::kPull || op.kind == sim::OpKind::kPullPartial;
      if (!pull) op.artifact = 0;
      if (op.artifact > 0) op.ref = op.hostile = 0;
    }
  }
  spec.crash_steps.resize(std::min(spec.crash_steps.size(), kFuzzCrashesMax));
  spec.kills.resize(std::min(spec.kills.size(), kFuzzKillsMax));
  for (sim::KillAt& k : spec.kills) k.process &= 1;
  spec.faults.resize(std::min(spec.faults.size(), kFuzzFaultsMax));
  const std::string bytes = EncodeRunSpec(spec);
  const RunSpec back = DecodeRunSpec(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  RC_ASSERT(back == spec);
}

}  // namespace
}  // namespace ms::prop
