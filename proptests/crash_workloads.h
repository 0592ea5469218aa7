// Fixed workloads for the crash explorations (crash_points_test,
// crash_states_test): explicit scripts on a round-robin schedule.
#pragma once

#include <string>
#include <utility>

#include "sim/workload/simulator.h"

namespace ms::prop {

struct Workload {
  std::string name;
  sim::SimConfig config;
};

// Seed 1, round-robin, no faults or crashes of its own.
inline sim::SimConfig FixedBase(int processes, int gc_rounds, int tag_moves) {
  sim::SimConfig c;
  c.seed = 1;
  c.strategy = "rr";
  c.processes = processes;
  c.gc_rounds = gc_rounds;
  c.tag_moves = tag_moves;
  c.max_steps = 200'000;
  return c;
}

inline sim::ClientOp Pull(std::string volume, std::string mount, std::string reference) {
  return {sim::OpKind::kPull, std::move(volume), std::move(mount), std::move(reference)};
}
inline sim::ClientOp Partial(std::string volume, std::string mount, std::string reference) {
  return {sim::OpKind::kPullPartial, std::move(volume), std::move(mount), std::move(reference)};
}
inline sim::ClientOp Delete(std::string volume, std::string mount) {
  return {sim::OpKind::kDelete, std::move(volume), std::move(mount), ""};
}
inline sim::ClientOp Release(std::string volume) { return {sim::OpKind::kRelease, std::move(volume), "", ""}; }

}  // namespace ms::prop
