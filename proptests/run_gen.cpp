#include "proptests/run_gen.h"

#include <algorithm>
#include <cmath>

namespace ms::prop {
namespace {

// RapidCheck's inRange scales its range with the size parameter (at size
// 0 it only yields min), and the containers below run their elements at
// their own small size. Elements are drawn at the nominal size instead:
// uniform over the whole range, whatever the size of the run.
template <typename T>
rc::Gen<T> Range(T min, T max) {
  return rc::gen::resize(100, rc::gen::inRange<T>(min, max));
}

// RapidCheck's element/weightedElement never shrink; these do, toward the
// first element listed (the simplest).
template <typename T>
rc::Gen<T> Element(std::vector<T> elements) {
  const int n = static_cast<int>(elements.size());
  return rc::gen::map(Range(0, n), [elements = std::move(elements)](int i) { return elements[static_cast<size_t>(i)]; });
}

template <typename T>
rc::Gen<T> Weighted(std::vector<std::pair<int, T>> weighted) {
  int total = 0;
  for (const auto& [w, v] : weighted) total += w;
  return rc::gen::map(Range(0, total), [weighted = std::move(weighted)](int x) {
    for (const auto& [w, v] : weighted) {
      if (x < w) return v;
      x -= w;
    }
    return weighted.back().second;
  });
}

// limit at RapidCheck size 100, half of it at size 0, linear in between
// (and beyond: max_size=200 gives 1.5x).
int Scaled(int limit, int size) {
  if (limit <= 0) return 0;
  return std::clamp(static_cast<int>(std::ceil(limit * (0.5 + size / 200.0))), 1, 4 * limit);
}

constexpr int kArtifacts = static_cast<int>(sim::kHostileClassCount);

}  // namespace

GenLimits QuietLimits() { return GenLimits{}; }

GenLimits StormLimits() {
  GenLimits l;
  l.crashes_max = 2;
  l.faults_max = 4;
  l.mishaps = true;
  return l;
}

rc::Gen<SpecOp> GenOp(const GenLimits& limits) {
  using sim::OpKind;
  return rc::gen::build<SpecOp>(
      // Listed simplest first: shrinking moves toward the front.
      rc::gen::set(&SpecOp::kind, Weighted<OpKind>({{10, OpKind::kPull},
                                                   {6, OpKind::kDelete},
                                                   {2, OpKind::kPullPartial},
                                                   {2, OpKind::kRelease},
                                                   {1, OpKind::kStatus}})),
      rc::gen::set(&SpecOp::slot, Range(0, kWholeDynamicVolume + 1)),
      rc::gen::set(&SpecOp::ref, Weighted<int>({{10, 0}, {1, 1}, {1, 2}, {1, 3}, {1, 4}, {1, 5}})),
      rc::gen::set(&SpecOp::hostile, limits.hostile ? rc::gen::map(Range(0, 3 * kHostileNames),
                                                                  [](int x) { return x < 2 * kHostileNames ? 0 : x - 2 * kHostileNames; })
                                                  : rc::gen::just(0)),
      // One pull in four addresses a hostile artifact, of any class.
      rc::gen::set(&SpecOp::artifact,
                   limits.hostile_artifacts
                       ? rc::gen::map(Range(0, 4 * kArtifacts),
                                      [](int x) { return x < 3 * kArtifacts ? 0 : x - 3 * kArtifacts + 1; })
                       : rc::gen::just(0)),
      rc::gen::set(&SpecOp::other, limits.conflicts ? Weighted<int>({{4, 0}, {1, 1}, {1, 2}}) : rc::gen::just(0)));
}

// An explicit fault lands on whatever call has that index, so its code must
// be one any call may return before acting: plain errors. Never ENOENT,
// EEXIST or ENOTEMPTY, which the store rightly reads as facts about the
// disk (a status.json that reads ENOENT is gone: POSIX renames are atomic),
// so injecting them on a path that exists fakes a disk no kernel produces.
rc::Gen<sim::FaultAt> GenFault(const GenLimits& limits) {
  return rc::gen::build<sim::FaultAt>(
      rc::gen::set(&sim::FaultAt::call, Range<uint64_t>(0, limits.fault_call_max)),
      rc::gen::set(&sim::FaultAt::code, Element<Code>({Code::kIo, Code::kNoSpace, Code::kPermission,
                                                                      Code::kTooManyLinks, Code::kCrossDevice})));
}

rc::Gen<std::string> GenStrategy() {
  return Element<std::string>({"rr", "pct:1", "pct:2", "pct:3", "random", "random"});
}

rc::Gen<RunSpec> GenRun(const GenLimits& limits) {
  return rc::gen::withSize([limits](int size) {
    const int actors = std::max(1, Scaled(limits.actors_max, size));
    const int ops = Scaled(limits.ops_max, size);
    const int crashes = limits.crashes_max > 0 ? Scaled(limits.crashes_max, size) : 0;
    const int faults = limits.faults_max > 0 ? Scaled(limits.faults_max, size) : 0;
    // Neither an actor without ops nor a run without actors tests anything:
    // shrinking removes whole actors instead of emptying them.
    auto script = rc::gen::resize(ops, rc::gen::nonEmpty(rc::gen::container<std::vector<SpecOp>>(GenOp(limits))));
    return rc::gen::build<RunSpec>(
        rc::gen::set(&RunSpec::strategy, GenStrategy()),
        rc::gen::set(&RunSpec::seed, Range<uint64_t>(1, uint64_t{1} << 20)),
        rc::gen::set(&RunSpec::processes, Range(1, std::max(1, limits.processes_max) + 1)),
        rc::gen::set(&RunSpec::gc_rounds, Range(0, limits.gc_rounds_max + 1)),
        rc::gen::set(&RunSpec::tag_moves, Range(0, limits.tag_moves_max + 1)),
        rc::gen::set(&RunSpec::actors,
                     rc::gen::resize(actors, rc::gen::nonEmpty(
                                                 rc::gen::container<std::vector<std::vector<SpecOp>>>(script)))),
        rc::gen::set(&RunSpec::refs, rc::gen::just(limits.refs_max)),
        rc::gen::set(&RunSpec::crash_steps,
                     rc::gen::resize(crashes, rc::gen::container<std::vector<uint64_t>>(
                                                  Range<uint64_t>(1, limits.crash_step_max)))),
        rc::gen::set(&RunSpec::kills,
                     rc::gen::resize(crashes, rc::gen::container<std::vector<sim::KillAt>>(rc::gen::build<sim::KillAt>(
                                                  rc::gen::set(&sim::KillAt::step, Range<uint64_t>(1, limits.crash_step_max)),
                                                  rc::gen::set(&sim::KillAt::process, Range(0, 2)))))),
        rc::gen::set(&RunSpec::faults,
                     rc::gen::resize(faults, rc::gen::container<std::vector<sim::FaultAt>>(GenFault(limits)))),
        rc::gen::set(&RunSpec::tenant_writes, limits.mishaps ? Weighted<int>({{4, 0}, {1, 1}, {1, 2}}) : rc::gen::just(0)),
        rc::gen::set(&RunSpec::status_corruptions,
                     limits.mishaps ? Weighted<int>({{4, 0}, {1, 1}, {1, 2}}) : rc::gen::just(0)),
        rc::gen::set(&RunSpec::corrupt_at_sweep, limits.mishaps ? Weighted<bool>({{4, false}, {1, true}})
                                                                : rc::gen::just(false)),
        rc::gen::set(&RunSpec::link_max, limits.mishaps ? Weighted<uint64_t>({{6, 0}, {1, 2}, {1, 3}})
                                                        : rc::gen::just(uint64_t{0})),
        rc::gen::set(&RunSpec::client_lanes, limits.mishaps ? Weighted<int>({{3, 1}, {1, 2}}) : rc::gen::just(1)),
        rc::gen::set(&RunSpec::overlap_release,
                     limits.mishaps ? Weighted<bool>({{1, false}, {1, true}}) : rc::gen::just(false)),
        rc::gen::set(&RunSpec::tag_moves_spread,
                     limits.mishaps ? Weighted<bool>({{1, false}, {1, true}}) : rc::gen::just(false)));
  });
}

}  // namespace ms::prop
