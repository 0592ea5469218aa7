// Trace: the record of one scheduled run, enough to replay it exactly.
//
// A run is a sequence of decisions. At each scheduling point the strategy
// picks a runnable actor; the decision records that actor (by its stable
// ActorId) and the label of the point it resumes from ("fs.link": it is about
// to make that call; "start": its first step).
//
// The trace hash names the interleaving (I6 determinism: same seed, same
// build, same hash). It is FNV-1a 64 folded a word at a time: start from the
// FNV offset basis; for each decision in order, h = (h ^ actor) * prime, then
// h = (h ^ L) * prime, where L is the byte-wise FNV-1a 64 of the decision's
// label. (Word-wise, so hashing a million-step trace costs ~2 ns a step;
// labels by content, so ids assigned in another order hash the same.)
//
// Text form (one file replays a run; written by ToText, read by Parse):
//
//   ms-trace 1
//   strategy pct:3
//   seed 42
//   actors 2
//   actor 0 0 writer            <id> <process> <name>
//   actor 1 0 reader
//   labels 2
//   label 0 start               <id> <label>
//   label 1 fs.link
//   steps 5
//   d 0.0 1.0 0.1*2 1.1         <actor>.<label>[*<repeat>], ≤ 16 per line
//   hash 8c7d2f5e1a0b3c4d       16 lower-case hex digits
//   end
//
// Names and labels are percent-escaped: '%', space and every byte outside
// 0x21..0x7e become %XX. Parse rejects anything else, and a hash that does
// not match the decisions, with Code::kCorrupt naming the line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "sim/scheduling/actor_id.h"
#include "sim/common/fnv1a.h"
#include "sim/scheduling/label_table.h"

namespace ms::sim {

struct TraceDecision {
  ActorId actor = kNoActor;
  LabelTable::Id label = 0;
  friend bool operator==(const TraceDecision&, const TraceDecision&) = default;
};

struct TraceActor {
  std::string name;
  int process = 0;
  friend bool operator==(const TraceActor&, const TraceActor&) = default;
};

class Trace {
 public:
  static constexpr size_t kDecisionsPerLine = 16;

  std::string strategy;              // the spec the run used: "random", "pct:3", "rr", "replay"
  uint64_t seed = 0;                 // the run's seed
  std::vector<TraceActor> actors;    // indexed by ActorId, in spawn order
  std::vector<TraceDecision> decisions;
  LabelTable labels;

  std::string_view LabelOf(const TraceDecision& d) const { return labels.Get(d.label); }

  // The word-wise FNV-1a 64 fold the header comment defines.
  uint64_t Hash() const;

  // "step 12: #1 writer @ fs.link" — for error messages and reports.
  std::string DescribeStep(size_t step) const;

  std::string ToText() const;
  // first_line: the line number of text's first line in its file (errors
  // name the file's line when the trace follows a header).
  static Result<Trace> Parse(std::string_view text, size_t first_line = 1);

  Status WriteFile(const std::string& path) const;
  static Result<Trace> ReadFile(const std::string& path);
};

// "0123456789abcdef": a hash as the text form writes it.
std::string HashToHex(uint64_t hash);

}  // namespace ms::sim
