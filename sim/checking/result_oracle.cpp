#include "sim/checking/result_oracle.h"

#include <algorithm>
#include <limits>

namespace ms::sim {
namespace {

constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

// A call's progress in the search: not yet taken, begun (a publish between
// its two steps), done.
enum : uint8_t { kTodo = 0, kBegun = 1, kDone = 2 };

VolumeState StateFor(Code code) {
  switch (code) {
    case Code::kCanceled: return VolumeState::kCanceled;
    case Code::kDeadlineExceeded: return VolumeState::kTimeout;
    default: return VolumeState::kFailed;
  }
}

std::string Describe(const SlotRecord& r) {
  switch (r.kind) {
    case SlotRecord::Kind::kNone: return "no record";
    case SlotRecord::Kind::kGarbled: return "a garbled record";
    case SlotRecord::Kind::kRecord: break;
  }
  return std::string(StateName(r.state)) + " " + r.reference + (r.partial ? " (partial)" : "") +
         (r.manifest.empty() ? "" : " " + r.manifest.substr(0, 19));
}

std::string DescribeAnswer(const SlotCall& c) {
  if (c.kind == SlotCallKind::kGarble) return "garbled";
  if (c.cut) return "cut short by a crash";
  if (c.answer.code != Code::kOk) {
    return std::string(CodeName(c.answer.code)) + " (" + c.answer.message.substr(0, 100) + ")";
  }
  if (!c.answer.status) return "OK";
  const VolumeStatus& s = *c.answer.status;
  return "OK: " + std::string(StateName(s.state)) + " " + s.reference + (s.partial ? " (partial)" : "") +
         (s.manifest.empty() ? "" : " " + s.manifest.substr(0, 19));
}

// Two publishes one execution may answer: same reference and options,
// same answer, neither cut short.
bool Identical(const SlotCall& a, const SlotCall& b) {
  return a.kind == SlotCallKind::kPublish && b.kind == SlotCallKind::kPublish && !a.cut && !b.cut &&
         a.reference == b.reference && a.partial == b.partial && a.answer == b.answer;
}

// The search over one history (Wing & Gong / Lowe): which call takes its
// next step, depth first, never revisiting a (progress, state) pair.
class Search {
 public:
  Search(const std::vector<SlotCall>& calls, const OracleOptions& options) : calls_(calls), options_(options) {
    const size_t n = calls_.size();
    excused_cancel_.assign(n, false);
    may_follow_.assign(n, false);
    for (size_t i = 0; i < n; ++i) {
      const SlotCall& c = calls_[i];
      if (c.kind != SlotCallKind::kPublish) continue;
      for (size_t j = 0; j < n; ++j) {
        const SlotCall& o = calls_[j];
        if (j == i || !Overlap(c, o)) continue;
        if (o.kind == SlotCallKind::kUnpublish) excused_cancel_[i] = true;
        // A follower joins the flight of an identical call and answers what
        // it answered. Which of two overlapping calls leads is not their
        // order of issue: the first to register its flight does.
        if (Identical(c, o)) may_follow_[i] = true;
      }
    }
  }

  // Whether some order explains every answer; nodes() says how hard it was.
  // nullopt: the node bound was reached first.
  std::optional<bool> Run(const SlotRecord& initial) {
    std::vector<uint8_t> progress(calls_.size(), kTodo);
    return Explore(progress, initial);
  }
  uint64_t nodes() const { return nodes_; }

 private:
  static bool Overlap(const SlotCall& a, const SlotCall& b) {
    return a.issued < b.returned && b.issued < a.returned;
  }

  // An error the call may answer without being wrong.
  bool Excused(size_t i, Code code) const {
    const SlotCall& c = calls_[i];
    if (c.faulted || c.hostile) return true;
    if (code == Code::kCanceled && c.kind == SlotCallKind::kPublish && excused_cancel_[i]) return true;
    if (code == Code::kTooManyLinks && options_.link_limit) return true;
    return false;
  }

  static bool Conflicts(const SlotRecord& s, const std::string& reference) {
    return s.kind == SlotRecord::Kind::kRecord && s.reference != reference;
  }

  // Every (state, progress) call i's next step may leave from s; none: it
  // cannot go next.
  void Steps(size_t i, uint8_t progress, const SlotRecord& s, std::vector<std::pair<SlotRecord, uint8_t>>* out) const {
    const SlotCall& c = calls_[i];
    auto emit = [&](SlotRecord r, uint8_t p) { out->emplace_back(std::move(r), p); };
    const bool unknown = c.cut;
    if (c.invalid) {
      // Refused for its own input, whatever the slot holds.
      if (unknown || c.answer.code == Code::kInvalidArgument) emit(s, kDone);
      return;
    }
    switch (c.kind) {
      case SlotCallKind::kGarble:
        if (s.kind != SlotRecord::Kind::kNone) emit(SlotRecord{SlotRecord::Kind::kGarbled, "", false, VolumeState::kRunning, ""}, kDone);
        return;
      case SlotCallKind::kStatus: {
        if (unknown) return emit(s, kDone);
        const Code code = c.answer.code;
        if (code == Code::kNotFound) {
          if (s.kind == SlotRecord::Kind::kNone) emit(s, kDone);
        } else if (code == Code::kCorrupt && s.kind == SlotRecord::Kind::kGarbled) {
          emit(s, kDone);
        } else if (code == Code::kOk && c.answer.status && s.kind == SlotRecord::Kind::kRecord) {
          const VolumeStatus& got = *c.answer.status;
          if (got.reference != s.reference || got.partial != s.partial || got.state != s.state) return;
          if (s.state != VolumeState::kSucceeded) return emit(s, kDone);
          if (!s.manifest.empty() && got.manifest != s.manifest) return;
          SlotRecord bound = s;
          bound.manifest = got.manifest;  // learnt from the answer
          emit(std::move(bound), kDone);
        } else if (code != Code::kOk && Excused(i, code)) {
          emit(s, kDone);  // a read an injected fault failed
        }
        return;
      }
      case SlotCallKind::kUnpublish: {
        const SlotRecord none{};
        if (unknown || (c.answer.code != Code::kOk && Excused(i, c.answer.code))) {
          emit(s, kDone);
          if (!(s == none)) emit(none, kDone);
        } else if (c.answer.code == Code::kOk) {
          emit(none, kDone);
        }
        return;
      }
      case SlotCallKind::kPublish:
        break;
    }
    // A publish.
    const Code code = c.answer.code;
    const bool ok = !unknown && code == Code::kOk;
    if (progress == kTodo) {
      if (may_follow_[i]) emit(s, kDone);
      if (!unknown && code == Code::kConflict) {
        if (Conflicts(s, c.reference)) emit(s, kDone);
        return;
      }
      // Refused before it began: no effect.
      if (unknown || (!ok && Excused(i, code))) emit(s, kDone);
      if (Conflicts(s, c.reference)) return;
      SlotRecord running{SlotRecord::Kind::kRecord, c.reference, c.partial, VolumeState::kRunning, ""};
      emit(running, kBegun);
      return;
    }
    // A begun publish writes its running record again once it has resolved
    // the reference (the key joins it): over a record a mishap garbled
    // meanwhile, that write is seen.
    if (s.kind == SlotRecord::Kind::kGarbled) {
      emit(SlotRecord{SlotRecord::Kind::kRecord, c.reference, c.partial, VolumeState::kRunning, ""}, kBegun);
    }
    // The end of a begun publish.
    SlotRecord end{SlotRecord::Kind::kRecord, c.reference, c.partial, VolumeState::kSucceeded, ""};
    if (ok) {
      end.manifest = c.answer.status ? c.answer.status->manifest : "";
      return emit(end, kDone);
    }
    if (!unknown && !Excused(i, code)) return;
    if (unknown || c.faulted) {
      // The failure's own record write may have failed (running stays), or
      // the success write landed but reported an error (succeeded).
      emit(s, kDone);
      emit(end, kDone);
      if (unknown) {
        for (VolumeState st : {VolumeState::kFailed, VolumeState::kCanceled, VolumeState::kTimeout}) {
          end.state = st;
          emit(end, kDone);
        }
        return;
      }
    }
    end.state = StateFor(code);
    emit(end, kDone);
  }

  std::optional<bool> Explore(std::vector<uint8_t>& progress, const SlotRecord& s) {
    if (++nodes_ > options_.search_nodes_max) return std::nullopt;
    // Every call done?
    size_t open = 0;
    uint64_t first_return = kNever, second_return = kNever;
    size_t first_index = 0;
    for (size_t i = 0; i < calls_.size(); ++i) {
      if (progress[i] == kDone) continue;
      ++open;
      const uint64_t r = calls_[i].returned;
      if (r < first_return) {
        second_return = first_return;
        first_return = r;
        first_index = i;
      } else if (r < second_return) {
        second_return = r;
      }
    }
    if (open == 0) return true;
    std::string key(progress.begin(), progress.end());
    key.push_back('\x1f');
    key += static_cast<char>(s.kind);
    key += s.reference;
    key.push_back('\x1f');
    key += static_cast<char>('0' + (s.partial ? 1 : 0));
    key += static_cast<char>('0' + static_cast<int>(s.state));
    key += s.manifest;
    if (!failed_.insert(key).second) return false;
    std::vector<std::pair<SlotRecord, uint8_t>> next;
    for (size_t i = 0; i < calls_.size(); ++i) {
      if (progress[i] == kDone) continue;
      // Real time: no open call may have returned before i was issued.
      const uint64_t bound = i == first_index ? second_return : first_return;
      if (calls_[i].issued > bound) continue;
      next.clear();
      Steps(i, progress[i], s, &next);
      const uint8_t before = progress[i];
      for (const auto& [state, p] : next) {
        progress[i] = p;
        const std::optional<bool> found = Explore(progress, state);
        progress[i] = before;
        if (!found || *found) return found;
      }
    }
    return false;
  }

  const std::vector<SlotCall>& calls_;
  const OracleOptions& options_;
  std::vector<bool> excused_cancel_;
  std::vector<bool> may_follow_;
  std::set<std::string> failed_;
  uint64_t nodes_ = 0;
};

// The digests a successful publish may answer: those its reference named
// while it ran, and, since a follower answers its leader's result, those it
// named while an identical publish ran that was issued before it and still
// running when it was issued (a leader registers its flight before its
// followers can join it, so it was issued first).
std::set<std::string> MayAnswer(const std::vector<SlotCall>& calls, const SlotCall& c) {
  std::set<std::string> out = c.named;
  for (const SlotCall& o : calls) {
    if (&o == &c || !Identical(o, c) || o.issued >= c.issued || o.returned <= c.issued) continue;
    out.insert(o.named.begin(), o.named.end());
  }
  return out;
}

// Answers wrong in any order: a refusal of invalid input that is not
// InvalidArgument, and what a successful publish reports.
std::string WrongInAnyOrder(const std::vector<SlotCall>& calls, const SlotCall& c) {
  if (c.cut || c.kind == SlotCallKind::kGarble) return "";
  if (c.invalid && c.answer.code != Code::kInvalidArgument) {
    return "answered " + std::string(CodeName(c.answer.code)) + " to invalid input (only InvalidArgument is right)";
  }
  if (c.kind != SlotCallKind::kPublish || c.answer.code != Code::kOk) return "";
  if (c.hostile) return "accepted a hostile artifact (it must be refused)";
  if (!c.answer.status) return "answered OK without a record";
  const VolumeStatus& s = *c.answer.status;
  if (s.state != VolumeState::kSucceeded) return "answered OK with a record in state " + std::string(StateName(s.state));
  if (s.reference != c.reference) return "answered OK with a record of another reference, " + s.reference;
  if (s.partial != c.partial) return "answered OK with a record whose partial flag is wrong";
  if (!c.partial && s.cache_key != s.manifest) {
    return "answered OK with cache key \"" + s.cache_key + "\" for manifest " + s.manifest;
  }
  if (const std::set<std::string> may = MayAnswer(calls, c); may.count(s.manifest) == 0) {
    std::string named;
    for (const std::string& d : may) named += (named.empty() ? "" : ", ") + d.substr(0, 19);
    return "answered OK with manifest " + s.manifest.substr(0, 19) + ", a digest " + c.reference +
           " did not name while the call ran (it named " + (named.empty() ? "nothing" : named) + ")";
  }
  return "";
}

std::string Lines(const std::vector<SlotCall>& calls, size_t upto) {
  std::string out;
  for (size_t i = 0; i < calls.size() && i < upto; ++i) {
    const SlotCall& c = calls[i];
    out += "\n      [" + std::to_string(c.issued) + ".." + std::to_string(c.returned) + "] " + c.label + " -> " +
           DescribeAnswer(c) + (c.faulted ? " [fault injected]" : "");
  }
  return out;
}

// The history as it stood when event `until` happened: later calls not yet
// issued, calls still running without an answer.
std::vector<SlotCall> Prefix(const std::vector<SlotCall>& calls, uint64_t until) {
  std::vector<SlotCall> out;
  for (const SlotCall& c : calls) {
    if (c.issued > until) continue;
    out.push_back(c);
    if (c.returned > until) {
      out.back().cut = true;  // in flight: any outcome, or none yet
      out.back().returned = kNever;
    }
  }
  return out;
}

}  // namespace

SlotVerdict CheckSlotHistory(const SlotHistory& history, const OracleOptions& options) {
  SlotVerdict verdict;
  for (const SlotCall& c : history.calls) {
    const std::string wrong = WrongInAnyOrder(history.calls, c);
    if (wrong.empty()) continue;
    verdict.kind = SlotVerdict::Kind::kUnexplained;
    verdict.step = c.return_step;
    verdict.detail = "slot " + history.slot + ": " + c.label + " " + wrong;
    return verdict;
  }
  Search whole(history.calls, options);
  const std::optional<bool> explained = whole.Run(history.initial);
  verdict.nodes = whole.nodes();
  if (!explained) {
    verdict.kind = SlotVerdict::Kind::kInconclusive;
    return verdict;
  }
  if (*explained) return verdict;
  // The shortest prefix no order explains: a history that has an
  // explanation keeps one for every prefix, so bisect over the returns.
  std::vector<const SlotCall*> by_return;
  for (const SlotCall& c : history.calls) by_return.push_back(&c);
  std::sort(by_return.begin(), by_return.end(),
            [](const SlotCall* a, const SlotCall* b) { return a->returned < b->returned; });
  size_t lo = 0, hi = by_return.size() - 1;  // prefix up to by_return[hi] fails
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    const std::vector<SlotCall> prefix = Prefix(history.calls, by_return[mid]->returned);
    Search search(prefix, options);
    const std::optional<bool> ok = search.Run(history.initial);
    verdict.nodes += search.nodes();
    if (ok && !*ok) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  const SlotCall& culprit = *by_return[hi];
  size_t shown = 0;
  while (shown < history.calls.size() && history.calls[shown].issued <= culprit.returned) ++shown;
  verdict.kind = SlotVerdict::Kind::kUnexplained;
  verdict.step = culprit.return_step;
  verdict.detail = "slot " + history.slot + ": no order of its calls explains " + culprit.label + " -> " +
                   DescribeAnswer(culprit) + " (starting from " + Describe(history.initial) +
                   "); the calls so far:" + Lines(history.calls, shown);
  return verdict;
}

uint64_t CallLog::Issue(SlotCallKind kind, std::vector<std::string> slots, std::string reference, bool partial,
                        std::string label, CallFlags flags) {
  Entry e;
  e.call.hostile = flags.hostile;
  e.call.invalid = flags.invalid;
  e.call.kind = kind;
  e.call.reference = std::move(reference);
  e.call.partial = partial;
  e.call.label = std::move(label);
  e.call.issued = ++seq_;
  e.call.returned = kNever;
  e.slots = std::move(slots);
  e.epoch = epoch_;
  calls_.push_back(std::move(e));
  return calls_.size() - 1;
}

void CallLog::Return(uint64_t id, CallAnswer answer, bool faulted, uint64_t step) {
  Entry& e = calls_[id];
  if (!e.open) return;
  e.open = false;
  e.call.returned = ++seq_;
  e.call.return_step = step;
  e.call.answer = std::move(answer);
  e.call.faulted = faulted;
}

void CallLog::Cut(uint64_t id, uint64_t step) {
  Entry& e = calls_[id];
  if (!e.open) return;
  e.open = false;
  e.call.returned = ++seq_;
  e.call.return_step = step;
  e.call.cut = true;
}

void CallLog::Garble(const std::string& slot, uint64_t step) {
  const uint64_t id = Issue(SlotCallKind::kGarble, {slot}, "", false, "mishap garbles " + slot + "/status.json");
  Entry& e = calls_[id];
  e.open = false;
  e.call.returned = e.call.issued;
  e.call.return_step = step;
}

void CallLog::PowerLoss(const std::map<std::string, SlotRecord>& records) {
  // Calls in flight die with their processes; what they did is on the disk.
  for (Entry& e : calls_) {
    if (e.open && e.epoch == epoch_) {
      e.open = false;
      e.epoch = kNever;  // dropped
    }
  }
  ++epoch_;
  epochs_.emplace_back(++seq_, records);
}

void CallLog::Named(const std::string& reference, const std::string& digest) {
  names_[reference].emplace_back(++seq_, digest);
}

std::set<std::string> CallLog::NamedBetween(const std::string& reference, uint64_t from, uint64_t to) const {
  std::set<std::string> out;
  const auto it = names_.find(reference);
  if (it == names_.end()) return out;
  std::string before;
  for (const auto& [seq, digest] : it->second) {
    if (seq <= from) {
      before = digest;
    } else if (seq <= to) {
      out.insert(digest);
    }
  }
  if (!before.empty()) out.insert(before);
  return out;
}

std::vector<SlotHistory> CallLog::Histories() const {
  std::map<std::pair<std::string, uint64_t>, SlotHistory> by_slot;
  for (const Entry& e : calls_) {
    if (e.epoch == kNever || e.open) continue;
    for (const std::string& slot : e.slots) {
      SlotHistory& h = by_slot[{slot, e.epoch}];
      if (h.calls.empty()) {
        h.slot = slot;
        if (e.epoch > 0) {
          const auto& records = epochs_[e.epoch - 1].second;
          const auto r = records.find(slot);
          if (r != records.end()) h.initial = r->second;
        }
      }
      h.calls.push_back(e.call);
      SlotCall& c = h.calls.back();
      if (e.slots.size() > 1) c.label += " [" + slot + "]";
      if (c.kind == SlotCallKind::kPublish) c.named = NamedBetween(c.reference, c.issued, c.returned);
    }
  }
  std::vector<SlotHistory> out;
  for (auto& [key, h] : by_slot) {
    std::sort(h.calls.begin(), h.calls.end(), [](const SlotCall& a, const SlotCall& b) { return a.issued < b.issued; });
    out.push_back(std::move(h));
  }
  return out;
}

SlotRecord RecordFromBytes(const std::string* bytes, const std::string& where) {
  SlotRecord r;
  if (bytes == nullptr) return r;
  auto status = DecodeStatus(*bytes, where);
  if (!status.ok()) {
    r.kind = SlotRecord::Kind::kGarbled;
    return r;
  }
  r.kind = SlotRecord::Kind::kRecord;
  r.reference = status->reference;
  r.partial = status->partial;
  r.state = status->state;
  if (r.state == VolumeState::kSucceeded) r.manifest = status->manifest;
  return r;
}

}  // namespace ms::sim
