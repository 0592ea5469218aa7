// fuzz_make_corpus DIR: writes the seed corpus of fuzz_sim (one file per
// seed, EncodeRunSpec bytes) into DIR. The committed corpus is
// fixtures/fuzz-corpus/; regenerate it with
//   <build>/proptests/fuzz_make_corpus fixtures/fuzz-corpus
// Each seed is a small run that reaches one corner of the store: libFuzzer
// mutates from there.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "proptests/fuzz/fuzz_decode.h"

namespace {

using ms::prop::RunSpec;
using ms::prop::SpecOp;
using ms::sim::OpKind;

SpecOp Op(OpKind kind, int slot, int ref = 0, int hostile = 0) { return SpecOp{kind, slot, ref, hostile}; }

std::vector<std::pair<std::string, RunSpec>> Seeds() {
  std::vector<std::pair<std::string, RunSpec>> seeds;
  auto add = [&](std::string name, RunSpec s) { seeds.emplace_back(std::move(name), std::move(s)); };
  {
    RunSpec s;  // two volumes of one digest, a delete, a release over mounts
    s.strategy = "random";
    s.actors = {{Op(OpKind::kPull, 0), Op(OpKind::kDelete, 0)},
                {Op(OpKind::kPull, 1), Op(OpKind::kPull, 2), Op(OpKind::kRelease, 1)}};
    add("share-delete-release", s);
  }
  {
    RunSpec s;  // re-pulls while the tag moves
    s.strategy = "pct:2";
    s.tag_moves = 3;
    s.actors = {{Op(OpKind::kPull, 1, 1), Op(OpKind::kPull, 1, 1), Op(OpKind::kPull, 1, 1), Op(OpKind::kDelete, 1)}};
    add("tag-move-repull", s);
  }
  {
    RunSpec s;  // partial pulls beside full ones
    s.actors = {{Op(OpKind::kPull, 0), Op(OpKind::kPullPartial, 2), Op(OpKind::kDelete, 2)},
                {Op(OpKind::kPullPartial, 0), Op(OpKind::kPull, 0), Op(OpKind::kStatus, 0)}};
    add("partial-and-full", s);
  }
  {
    RunSpec s;  // two driver processes on one root, with GC
    s.strategy = "random";
    s.processes = 2;
    s.gc_rounds = 2;
    s.actors = {{Op(OpKind::kPull, 0)}, {Op(OpKind::kPull, 0), Op(OpKind::kDelete, 0)}};
    add("two-processes", s);
  }
  {
    RunSpec s;  // a static delete over a volume holding mounts
    s.actors = {{Op(OpKind::kPull, 1), Op(OpKind::kPull, 2, 2), Op(OpKind::kDelete, 4)}};
    add("static-delete-over-mounts", s);
  }
  {
    RunSpec s;  // node crashes mid-pull and mid-delete
    s.actors = {{Op(OpKind::kPull, 0), Op(OpKind::kPull, 1), Op(OpKind::kDelete, 0)}};
    s.crash_steps = {60, 400};
    add("crashes", s);
  }
  {
    RunSpec s;  // a driver process killed mid-pull, the other carries on
    s.strategy = "random";
    s.processes = 2;
    s.actors = {{Op(OpKind::kPull, 0), Op(OpKind::kDelete, 0)}, {Op(OpKind::kPull, 0), Op(OpKind::kPull, 1)}};
    s.kills = {{80, 0}, {300, 1}};
    add("process-kills", s);
  }
  {
    RunSpec s;  // a static unpublish over its own publish (an impatient kubelet)
    s.strategy = "random";
    s.client_lanes = 2;
    s.overlap_release = true;
    s.actors = {{Op(OpKind::kPull, 0), Op(OpKind::kDelete, 0), Op(OpKind::kPull, 0), Op(OpKind::kRelease, 0)}};
    add("release-over-pull", s);
  }
  {
    RunSpec s;  // filesystem faults
    s.actors = {{Op(OpKind::kPull, 0), Op(OpKind::kPull, 1), Op(OpKind::kRelease, 1)}};
    s.faults = {{40, ms::Code::kIo}, {95, ms::Code::kNoSpace}, {150, ms::Code::kTooManyLinks}};
    add("faults", s);
  }
  {
    RunSpec s;  // names and references that try to leave the root
    s.actors = {{Op(OpKind::kPull, 0, 0, 1), Op(OpKind::kPull, 1, 0, 4), Op(OpKind::kPull, 0, 0, 5),
                 Op(OpKind::kDelete, 0, 0, 2), Op(OpKind::kRelease, 0, 0, 8)}};
    add("hostile-names", s);
  }
  {
    RunSpec s;  // tenants, corrupted records, a tiny link limit
    s.strategy = "random";
    s.tenant_writes = 2;
    s.status_corruptions = 1;
    s.corrupt_at_sweep = true;
    s.link_max = 2;
    s.client_lanes = 2;
    s.tag_moves = 2;
    s.tag_moves_spread = true;
    s.actors = {{Op(OpKind::kPull, 0), Op(OpKind::kPull, 1)}, {Op(OpKind::kPull, 0), Op(OpKind::kPull, 2)}};
    add("mishaps", s);
  }
  {
    RunSpec s;  // many concurrent first pulls of one digest
    s.strategy = "pct:3";
    s.processes = 2;
    s.actors = {{Op(OpKind::kPull, 0, 0), Op(OpKind::kPull, 1, 5)},
                {Op(OpKind::kPull, 0, 5), Op(OpKind::kPull, 1, 4)},
                {Op(OpKind::kPull, 0, 4), Op(OpKind::kPull, 1, 3)}};
    add("concurrent-first-pulls", s);
  }
  {
    RunSpec s;  // the hostile registry: refused artifacts beside honest pulls, a crash
    s.strategy = "random";
    s.client_lanes = 2;
    auto artifact = [](OpKind kind, int slot, ms::sim::HostileClass cls) {
      SpecOp op = Op(kind, slot);
      op.artifact = 1 + static_cast<int>(cls);
      return op;
    };
    using ms::sim::HostileClass;
    s.actors = {{artifact(OpKind::kPull, 0, HostileClass::kPathDotDot), Op(OpKind::kDelete, 0),
                 artifact(OpKind::kPullPartial, 1, HostileClass::kTarSymlinkChain), Op(OpKind::kPull, 2)},
                {artifact(OpKind::kPull, 1, HostileClass::kLayersSymlinkThenFile), Op(OpKind::kPull, 0),
                 artifact(OpKind::kPull, 2, HostileClass::kTagDangling)}};
    s.crash_steps = {300};
    add("hostile-artifacts", s);
  }
  return seeds;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_corpus DIR\n");
    return 2;
  }
  std::filesystem::create_directories(argv[1]);
  for (const auto& [name, spec] : Seeds()) {
    const std::string path = std::string(argv[1]) + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << ms::prop::EncodeRunSpec(spec);
    if (!out) {
      std::fprintf(stderr, "error: cannot write %s\n", path.c_str());
      return 1;
    }
    std::printf("%s\n", path.c_str());
  }
  return 0;
}
