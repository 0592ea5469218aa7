// RapidCheck generators for whole simulated runs (RunSpec).
//
// Every part shrinks toward the simplest run that still fails:
//   actors     the list of scripts loses whole actors, then each script
//              loses operations, then each op shrinks (kind toward pull,
//              slot toward 0, reference toward the first, hostile name and
//              hostile artifact toward none, another actor's slot toward
//              its own)
//   faults     removed, then their call index lowered, code toward EIO
//   crashes    node crashes and process kills removed, then their step
//              lowered
//   schedule   strategy toward "rr" (no randomness at all), then pct:1..3,
//              then random; seed toward 1
//   world      processes toward 1, GC rounds and tag moves toward 0,
//              tenant writes and status corruptions toward 0, no
//              corruption at the sweep, no link limit, one call in
//              flight per kubelet stream, tag moves at the start
//
// Sizes follow RapidCheck's size parameter (RC_PARAMS max_size, default
// 100): at size 100 a run has 1..`actors_max` actors of 1..`ops_max` ops
// each, at size 0 half as many at most; RC_PARAMS="max_size=200" makes
// them 1.5 times larger.
#pragma once

#include <rapidcheck.h>

#include "proptests/run_spec.h"

namespace ms::prop {

struct GenLimits {
  int actors_max = 3;           // client actors at size 100
  int ops_max = 8;              // operations per actor at size 100
  int processes_max = 2;        // driver processes sharing the root
  int gc_rounds_max = 3;        // sweeps / maybe-GCs per GC actor
  int tag_moves_max = 3;        // registry tag moves
  int crashes_max = 0;          // node crash points (and process kills) at size 100
  uint64_t crash_step_max = 1500;
  int faults_max = 0;           // filesystem faults at size 100
  uint64_t fault_call_max = 800;
  // Tenant writes, corrupted status files, a small link limit, impatient
  // kubelets (two calls in flight), tag moves between pulls.
  bool mishaps = false;
  bool hostile = false;         // ops may carry names that try to escape the root
  bool hostile_artifacts = false;  // pulls may address the hostile registry's artifacts
  bool conflicts = false;       // ops may name other actors' slots (SpecOp::other)
  // RunSpec::refs: pulls name only the pool's first refs_max references (0:
  // all); few references make concurrent pulls of one digest likely (I2).
  int refs_max = 0;
};

// A fault-free, crash-free workload with GC and tag moves.
GenLimits QuietLimits();
// QuietLimits plus filesystem faults, node crashes and mishaps.
GenLimits StormLimits();

rc::Gen<SpecOp> GenOp(const GenLimits& limits);
rc::Gen<sim::FaultAt> GenFault(const GenLimits& limits);
rc::Gen<std::string> GenStrategy();
rc::Gen<RunSpec> GenRun(const GenLimits& limits);

}  // namespace ms::prop
