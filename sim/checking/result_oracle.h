// I7 results: the answers the volume service gave, judged against a
// sequential specification of it.
//
// The invariant checker (I1-I6) reads the disk; this oracle reads what each
// CSI call *returned*. A run's answers must be explainable by some order of
// its calls that respects real time (a call that returned before another
// was issued comes first) in which every call does what the specification
// below says: linearizability, checked per slot (one record: a static
// volume, or one mount of a dynamic volume) as Knossos and Porcupine do,
// with the search of Wing & Gong and Lowe (depth first over the calls that
// may go next, memoizing visited (progress, state) pairs).
//
// The specification of one slot. Its state is its record: none, garbled
// (a status.json that does not decode), or {reference, partial, state,
// manifest}.
//   publish(R, partial)   a record holding another reference: Conflict, no
//                         change. Else the call has two steps, each at a
//                         point of its own within the call: "begin" (the
//                         record becomes {R, partial, running}: what a
//                         status call sees meanwhile, and what makes a
//                         concurrent publish of another reference a
//                         Conflict; while begun, it may write that
//                         record again over one a mishap garbled), then
//                         "end": succeeded (the answer is
//                         OK with the record, whose manifest is a digest R
//                         named while the call ran), or an error recorded as
//                         failed / canceled / timeout. A call refused before
//                         it began changes nothing.
//   unpublish             the record is gone (a release: every record of
//                         the volume, each at a point of its own).
//   status                the record as it is: NotFound, Corrupt, or it.
// Identical concurrent publishes share one execution (DESIGN §1): a
// publish may answer exactly what an identical publish overlapping it
// answered, with no effect of its own; its OK may then name a digest the
// reference named while that leader ran (issued before it, still running
// when it was issued), though not while the follower itself ran.
//
// Which errors are answers, not wrong answers: any error of a call an
// injected fault hit (and then a publish's record may say running, the
// error's state or succeeded, an unpublish may or may not have removed it);
// Canceled for a publish that an unpublish or release of its slot
// overlapped; TooManyLinks under a link limit (the disk's shape); any error
// of a publish of a hostile reference (whose OK is wrong). A call whose own
// input is invalid must answer InvalidArgument and change nothing. Any other
// error is a wrong answer. A call cut short by a process crash may or may
// not have taken effect, with any outcome; a power loss ends an epoch, and
// the next starts from the records on the disk the crash left (what a power
// loss may take from a call that returned is I8's business, not this one's).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/volume_status.h"

namespace ms::sim {

inline constexpr char kResultsInvariant[] = "I7 results";

// What a call returned, as far as the oracle cares.
struct CallAnswer {
  Code code = Code::kOk;
  std::string message;
  // A publish's record (OK) or the record a status call read (OK).
  std::optional<VolumeStatus> status;
  bool operator==(const CallAnswer&) const = default;
};

enum class SlotCallKind : uint8_t {
  kPublish,
  kUnpublish,  // also one slot's share of a release
  kStatus,
  kGarble,     // not a call: a mishap garbled the record at that instant
};

// One call as one slot saw it. Times are sequence numbers of the run's
// call events (issued, returned), strictly increasing.
struct SlotCall {
  SlotCallKind kind = SlotCallKind::kStatus;
  std::string reference;  // publishes
  bool partial = false;   // publishes
  std::string label;      // "client-2 publish d0/m1 models/a:v1", for reports
  uint64_t issued = 0;
  uint64_t returned = 0;  // a garble: == issued
  uint64_t return_step = 0;
  // Cut short by a process crash: no answer; it may or may not have acted.
  bool cut = false;
  CallAnswer answer;
  // An injected fault hit one of the call's own port calls.
  bool faulted = false;
  // Publishes: the manifest digests the reference named while the call ran.
  std::set<std::string> named;
  // Publishes: the reference serves a hostile or broken artifact, which no
  // publish may accept (any error is its right answer).
  bool hostile = false;
  // The call's own input is invalid (a volume name, mount id or reference
  // that does not parse): its one right answer is InvalidArgument, with no
  // effect.
  bool invalid = false;
};

// The record as the specification sees it.
struct SlotRecord {
  enum class Kind : uint8_t { kNone, kGarbled, kRecord };
  Kind kind = Kind::kNone;
  std::string reference;
  bool partial = false;
  VolumeState state = VolumeState::kRunning;
  std::string manifest;  // succeeded records; "" while not known
  bool operator==(const SlotRecord&) const = default;
};

// The calls on one slot between two power losses (or the run's ends).
struct SlotHistory {
  std::string slot;
  SlotRecord initial;
  std::vector<SlotCall> calls;
};

struct OracleOptions {
  bool link_limit = false;             // TooManyLinks is the disk's shape
  uint64_t search_nodes_max = 2'000'000;  // per history
};

struct SlotVerdict {
  enum class Kind : uint8_t { kExplained, kUnexplained, kInconclusive };
  Kind kind = Kind::kExplained;
  // Unexplained: the call whose answer first made the history
  // unexplainable, why, and the calls up to it.
  std::string detail;
  uint64_t step = 0;
  uint64_t nodes = 0;  // search nodes visited
};

// Judges one history. Answers that are wrong whatever the order (a
// publish's OK for a digest its reference never named) are reported as
// such; otherwise, if no order explains the history, the shortest prefix
// (by return) that no order explains names the culprit.
SlotVerdict CheckSlotHistory(const SlotHistory& history, const OracleOptions& options);

// What the World knows of a call's input when it issues it.
struct CallFlags {
  bool hostile = false;  // SlotCall::hostile
  bool invalid = false;  // SlotCall::invalid
};

// The World's log of calls, cut into per-slot histories.
class CallLog {
 public:
  // A call on `slots` (one, or a release's every slot of its volume).
  uint64_t Issue(SlotCallKind kind, std::vector<std::string> slots, std::string reference, bool partial,
                 std::string label, CallFlags flags = {});
  void Return(uint64_t id, CallAnswer answer, bool faulted, uint64_t step);
  // A process crash ended the call.
  void Cut(uint64_t id, uint64_t step);
  void Garble(const std::string& slot, uint64_t step);
  // A power loss: every call in flight ends with it, and each slot starts
  // over from the record the crash left (absent slots: none).
  void PowerLoss(const std::map<std::string, SlotRecord>& records);
  // The reference names digest from now on (a tag move, or its first tag).
  void Named(const std::string& reference, const std::string& digest);

  // Every slot's histories, in slot order, then time.
  std::vector<SlotHistory> Histories() const;
  uint64_t calls() const { return calls_.size(); }

 private:
  struct Entry {
    SlotCall call;
    std::vector<std::string> slots;
    uint64_t epoch = 0;
    bool open = true;
  };
  std::set<std::string> NamedBetween(const std::string& reference, uint64_t from, uint64_t to) const;

  uint64_t seq_ = 0;
  uint64_t epoch_ = 0;
  std::vector<Entry> calls_;
  std::vector<std::pair<uint64_t, std::map<std::string, SlotRecord>>> epochs_;  // start seq, records
  std::map<std::string, std::vector<std::pair<uint64_t, std::string>>> names_;  // reference -> (seq, digest)
};

// A record read from the disk, as the specification sees it (nullopt
// bytes: no status.json).
SlotRecord RecordFromBytes(const std::string* bytes, const std::string& where);

}  // namespace ms::sim
