// The result oracle (I7) on hand-written histories: ones it must explain,
// including ones only a reordering or a publish's two steps explain, and
// ones no order explains.
#include "sim/checking/result_oracle.h"

#include <gtest/gtest.h>

namespace ms::sim {
namespace {

constexpr char kA[] = "models/a:v1";
constexpr char kB[] = "models/b:v1";
constexpr char kDigestA[] = "sha256:aaaa";
constexpr char kDigestA2[] = "sha256:aaa2";

VolumeStatus Record(const std::string& reference, VolumeState state, const std::string& manifest = kDigestA) {
  VolumeStatus s;
  s.volume = "s0";
  s.reference = reference;
  s.state = state;
  s.manifest = manifest;
  s.cache_key = manifest;
  return s;
}

// A history built call by call; times are the issue and return events.
class History {
 public:
  History& Publish(uint64_t issued, uint64_t returned, const std::string& reference, Code code,
                   const std::string& manifest = kDigestA) {
    SlotCall c = Make(SlotCallKind::kPublish, issued, returned, "publish " + reference);
    c.reference = reference;
    c.answer.code = code;
    if (code == Code::kOk) c.answer.status = Record(reference, VolumeState::kSucceeded, manifest);
    c.named = {kDigestA};
    return Add(std::move(c));
  }
  History& Unpublish(uint64_t issued, uint64_t returned, Code code = Code::kOk) {
    SlotCall c = Make(SlotCallKind::kUnpublish, issued, returned, "unpublish");
    c.answer.code = code;
    return Add(std::move(c));
  }
  History& StatusSees(uint64_t issued, uint64_t returned, const std::string& reference, VolumeState state) {
    SlotCall c = Make(SlotCallKind::kStatus, issued, returned, "status");
    c.answer.status = Record(reference, state);
    return Add(std::move(c));
  }
  History& StatusFinds(uint64_t issued, uint64_t returned, Code code) {
    SlotCall c = Make(SlotCallKind::kStatus, issued, returned, "status");
    c.answer.code = code;
    return Add(std::move(c));
  }
  History& Garble(uint64_t at) { return Add(Make(SlotCallKind::kGarble, at, at, "garble")); }
  // Modifiers of the call added last.
  History& Faulted() { return Last([](SlotCall& c) { c.faulted = true; }); }
  History& Cut() { return Last([](SlotCall& c) { c.cut = true; c.answer = {}; }); }
  History& Hostile() { return Last([](SlotCall& c) { c.hostile = true; }); }
  History& Named(std::set<std::string> digests) {
    return Last([&](SlotCall& c) { c.named = std::move(digests); });
  }
  History& Initially(SlotRecord r) {
    h_.initial = std::move(r);
    return *this;
  }

  SlotVerdict Check(uint64_t nodes_max = 1'000'000) const {
    OracleOptions options;
    options.search_nodes_max = nodes_max;
    return CheckSlotHistory(h_, options);
  }
  bool Explained() const { return Check().kind == SlotVerdict::Kind::kExplained; }

 private:
  SlotCall Make(SlotCallKind kind, uint64_t issued, uint64_t returned, std::string label) {
    SlotCall c;
    c.kind = kind;
    c.issued = issued;
    c.returned = returned;
    c.return_step = returned * 10;  // a step per event, for the culprit's step
    c.label = std::move(label);
    return c;
  }
  History& Add(SlotCall c) {
    h_.slot = "s0";
    h_.calls.push_back(std::move(c));
    return *this;
  }
  template <typename F>
  History& Last(F f) {
    f(h_.calls.back());
    return *this;
  }
  SlotHistory h_;
};

TEST(ResultOracle, ExplainsASequentialPublishAndItsStatus) {
  EXPECT_TRUE(History().Publish(1, 2, kA, Code::kOk).StatusSees(3, 4, kA, VolumeState::kSucceeded).Explained());
}

TEST(ResultOracle, RejectsAStatusThatLostASucceededPublish) {
  const SlotVerdict v = History().Publish(1, 2, kA, Code::kOk).StatusFinds(3, 4, Code::kNotFound).Check();
  EXPECT_EQ(v.kind, SlotVerdict::Kind::kUnexplained);
  EXPECT_EQ(v.step, 40u) << "the status's return is the first answer no order explains";
  EXPECT_NE(v.detail.find("status -> NotFound"), std::string::npos) << v.detail;
}

TEST(ResultOracle, ExplainsStatusCallsThatSawAPublishRunningOnlyByItsTwoSteps) {
  // Not found, then running, then succeeded, all while one publish ran.
  EXPECT_TRUE(History()
                  .Publish(1, 10, kA, Code::kOk)
                  .StatusFinds(2, 3, Code::kNotFound)
                  .StatusSees(4, 5, kA, VolumeState::kRunning)
                  .StatusSees(6, 7, kA, VolumeState::kSucceeded)
                  .Explained());
}

TEST(ResultOracle, RejectsAStatusThatSawRunningBeforeAndNotFoundAfter) {
  EXPECT_FALSE(History()
                   .Publish(1, 10, kA, Code::kOk)
                   .StatusSees(2, 3, kA, VolumeState::kRunning)
                   .StatusFinds(4, 5, Code::kNotFound)
                   .Explained());
}

TEST(ResultOracle, ExplainsAConflictWithAPublishThatBeganFirst) {
  // B was refused while A (issued first, still running) held the slot.
  EXPECT_TRUE(History().Publish(1, 10, kA, Code::kOk).Publish(2, 5, kB, Code::kConflict).Explained());
}

TEST(ResultOracle, ExplainsAConflictOnlyByReorderingOverlappingPublishes) {
  // B was issued first, yet lost to A, issued later: A's begin went first.
  EXPECT_TRUE(History().Publish(1, 10, kB, Code::kConflict).Publish(2, 5, kA, Code::kOk).Explained());
}

TEST(ResultOracle, RejectsAConflictWhenNothingHeldTheSlot) {
  const SlotVerdict v = History().Publish(1, 2, kB, Code::kConflict).Publish(3, 10, kA, Code::kOk).Check();
  EXPECT_EQ(v.kind, SlotVerdict::Kind::kUnexplained);
  EXPECT_EQ(v.step, 20u);
}

TEST(ResultOracle, ExplainsAConflictWithAFailedRecordOfAnotherReference) {
  EXPECT_TRUE(History()
                  .Publish(1, 2, kA, Code::kIo)
                  .Faulted()
                  .Publish(3, 4, kB, Code::kConflict)
                  .Explained());
}

TEST(ResultOracle, RejectsAnErrorNoFaultExplains) {
  EXPECT_FALSE(History().Publish(1, 2, kA, Code::kIo).Explained());
  EXPECT_FALSE(History().Publish(1, 2, kA, Code::kOk).Unpublish(3, 4, Code::kIo).Explained());
  EXPECT_FALSE(History().StatusFinds(1, 2, Code::kIo).Explained());
}

TEST(ResultOracle, ExplainsErrorsOfCallsAFaultHit) {
  EXPECT_TRUE(History().Publish(1, 2, kA, Code::kIo).Faulted().StatusFinds(3, 4, Code::kNotFound).Explained());
  EXPECT_TRUE(History()
                  .Publish(1, 2, kA, Code::kIo)
                  .Faulted()
                  .StatusSees(3, 4, kA, VolumeState::kRunning)
                  .Explained())
      << "the failure's own record write may have failed";
  EXPECT_TRUE(History().Publish(1, 2, kA, Code::kOk).Unpublish(3, 4, Code::kIo).Faulted().StatusSees(
      5, 6, kA, VolumeState::kSucceeded).Explained());
}

TEST(ResultOracle, RecordsAFailureInTheStateItsCodeNames) {
  EXPECT_TRUE(History().Publish(1, 2, kA, Code::kIo).Faulted().StatusSees(3, 4, kA, VolumeState::kFailed).Explained());
  EXPECT_FALSE(History()
                   .Publish(1, 3, kA, Code::kCanceled)
                   .Unpublish(2, 4)
                   .StatusSees(5, 6, kA, VolumeState::kFailed)
                   .Explained())
      << "a canceled publish records canceled (or the unpublish removed it), never failed";
}

TEST(ResultOracle, ExcusesCanceledOnlyWhenAnUnpublishOverlapped) {
  EXPECT_TRUE(History().Publish(1, 4, kA, Code::kCanceled).Unpublish(2, 5).Explained());
  EXPECT_FALSE(History().Publish(1, 4, kA, Code::kCanceled).Unpublish(5, 6).Explained());
}

TEST(ResultOracle, ExcusesAFollowerOfAFlightThatAFaultHit) {
  // Two identical publishes share one execution; only the leader's calls
  // met the fault, the follower answers the same.
  EXPECT_TRUE(History().Publish(1, 5, kA, Code::kIo).Faulted().Publish(2, 6, kA, Code::kIo).Explained());
  EXPECT_TRUE(History().Publish(1, 5, kA, Code::kIo).Publish(2, 6, kA, Code::kIo).Faulted().Explained())
      << "the call issued second registered its flight first";
  EXPECT_FALSE(History().Publish(1, 5, kA, Code::kIo).Publish(2, 6, kB, Code::kIo).Faulted().Explained())
      << "different references never share a flight";
  EXPECT_FALSE(History().Publish(1, 5, kA, Code::kIo).Faulted().Publish(6, 7, kA, Code::kIo).Explained())
      << "not overlapping: no shared flight";
}

TEST(ResultOracle, RejectsAPublishOkForADigestItsReferenceNeverNamed) {
  const SlotVerdict v = History().Publish(1, 2, kA, Code::kOk, kDigestA2).Check();
  EXPECT_EQ(v.kind, SlotVerdict::Kind::kUnexplained);
  EXPECT_NE(v.detail.find("did not name"), std::string::npos) << v.detail;
  EXPECT_TRUE(History().Publish(1, 2, kA, Code::kOk, kDigestA2).Named({kDigestA, kDigestA2}).Explained())
      << "a tag move during the call";
}

TEST(ResultOracle, AFollowerMayAnswerWhatTheReferenceNamedWhileItsLeaderRan) {
  // The leader resolved kDigestA; the tag moved to kDigestA2 before the
  // follower was issued; the follower joined the flight and answers kDigestA.
  EXPECT_TRUE(History()
                  .Publish(1, 6, kA, Code::kOk, kDigestA)
                  .Named({kDigestA, kDigestA2})
                  .Publish(3, 7, kA, Code::kOk, kDigestA)
                  .Named({kDigestA2})
                  .Explained());
  EXPECT_FALSE(History()
                   .Publish(1, 2, kA, Code::kOk, kDigestA)
                   .Publish(3, 7, kA, Code::kOk, kDigestA)
                   .Named({kDigestA2})
                   .Explained())
      << "the earlier publish had returned: no flight to join";
  EXPECT_FALSE(History()
                   .Publish(3, 7, kA, Code::kOk, kDigestA)
                   .Named({kDigestA2})
                   .Publish(4, 8, kA, Code::kOk, kDigestA)
                   .Named({kDigestA, kDigestA2})
                   .Explained())
      << "a leader is issued before its follower (the named sets are made up to isolate the rule: a "
         "follower issued first saw the leader resolve while it ran)";
}

TEST(ResultOracle, ABegunPublishMayWriteItsRunningRecordAgainOverAGarbledOne) {
  // Default campaign seed 3457: the record garbled between the publish's
  // first running write and its second (with the resolved key).
  EXPECT_TRUE(History()
                  .Publish(12, 70, kA, Code::kOk)
                  .Garble(31)
                  .StatusSees(51, 52, kA, VolumeState::kRunning)
                  .Explained());
  EXPECT_FALSE(History()
                   .Publish(12, 30, kA, Code::kOk)
                   .Garble(31)
                   .StatusSees(51, 52, kA, VolumeState::kRunning)
                   .Explained())
      << "a publish that has returned writes nothing";
  EXPECT_FALSE(History()
                   .Publish(12, 70, kA, Code::kOk)
                   .Garble(31)
                   .StatusSees(51, 52, kB, VolumeState::kRunning)
                   .Explained())
      << "only its own running record";
}

TEST(ResultOracle, ASucceededRecordKeepsItsManifest) {
  EXPECT_FALSE(History()
                   .Publish(1, 2, kA, Code::kOk, kDigestA)
                   .Publish(3, 4, kA, Code::kOk, kDigestA2)
                   .Named({kDigestA2})
                   .StatusSees(5, 6, kA, VolumeState::kSucceeded)  // manifest kDigestA
                   .Explained());
}

TEST(ResultOracle, ACutPublishMayHaveBegunOrEndedOrNeither) {
  EXPECT_TRUE(History().Publish(1, 2, kA, Code::kOk).Cut().StatusSees(3, 4, kA, VolumeState::kRunning).Explained());
  EXPECT_TRUE(History().Publish(1, 2, kA, Code::kOk).Cut().StatusFinds(3, 4, Code::kNotFound).Explained());
  EXPECT_TRUE(History().Publish(1, 2, kA, Code::kOk).Cut().StatusSees(3, 4, kA, VolumeState::kSucceeded).Explained());
  EXPECT_FALSE(History().Publish(1, 2, kA, Code::kOk).Cut().StatusSees(3, 4, kB, VolumeState::kRunning).Explained());
}

TEST(ResultOracle, AGarbledRecordReadsCorruptAndBlocksNoPublish) {
  EXPECT_TRUE(History()
                  .Publish(1, 2, kA, Code::kOk)
                  .Garble(3)
                  .StatusFinds(4, 5, Code::kCorrupt)
                  .Publish(6, 7, kB, Code::kOk)
                  .Explained());
  EXPECT_FALSE(History().Publish(1, 2, kA, Code::kOk).Garble(3).StatusFinds(4, 5, Code::kNotFound).Explained());
}

TEST(ResultOracle, StartsAnEpochFromTheRecordACrashLeft) {
  SlotRecord left;
  left.kind = SlotRecord::Kind::kRecord;
  left.reference = kA;
  left.state = VolumeState::kRunning;
  EXPECT_TRUE(History().Initially(left).StatusSees(1, 2, kA, VolumeState::kRunning).Explained());
  EXPECT_TRUE(History().Initially(left).Publish(1, 2, kB, Code::kConflict).Explained());
  EXPECT_FALSE(History().Initially(left).StatusFinds(1, 2, Code::kNotFound).Explained());
}

TEST(ResultOracle, AHostileArtifactMustBeRefused) {
  EXPECT_TRUE(History().Publish(1, 2, kA, Code::kCorrupt).Hostile().Explained());
  const SlotVerdict v = History().Publish(1, 2, kA, Code::kOk).Hostile().Check();
  EXPECT_EQ(v.kind, SlotVerdict::Kind::kUnexplained);
  EXPECT_NE(v.detail.find("hostile"), std::string::npos) << v.detail;
}

TEST(ResultOracle, SaysInconclusiveWhenTheSearchBoundIsReached) {
  History h;
  for (uint64_t i = 0; i < 8; ++i) h.StatusFinds(1 + i, 100 + i, Code::kNotFound);
  h.Publish(50, 60, kA, Code::kOk);
  EXPECT_EQ(h.Check(/*nodes_max=*/3).kind, SlotVerdict::Kind::kInconclusive);
  EXPECT_EQ(h.Check().kind, SlotVerdict::Kind::kExplained);
}

TEST(CallLog, CutsTheLogIntoSlotsAndEpochs) {
  CallLog log;
  log.Named(kA, kDigestA);
  const uint64_t pub = log.Issue(SlotCallKind::kPublish, {"d0/m0"}, kA, false, "publish d0/m0");
  log.Named(kA, kDigestA2);  // a tag move while it runs
  CallAnswer ok;
  ok.status = Record(kA, VolumeState::kSucceeded, kDigestA2);
  log.Return(pub, ok, false, 7);
  const uint64_t rel = log.Issue(SlotCallKind::kUnpublish, {"d0/m0", "d0/m1"}, "", false, "release d0");
  log.Return(rel, CallAnswer{}, false, 9);
  const uint64_t lost = log.Issue(SlotCallKind::kStatus, {"d0/m1"}, "", false, "status d0/m1");
  SlotRecord after;
  after.kind = SlotRecord::Kind::kGarbled;
  log.PowerLoss({{"d0/m1", after}});
  const uint64_t st = log.Issue(SlotCallKind::kStatus, {"d0/m1"}, "", false, "status d0/m1");
  log.Return(st, CallAnswer{Code::kCorrupt, "garbled", std::nullopt}, false, 12);
  (void)lost;

  const std::vector<SlotHistory> hs = log.Histories();
  ASSERT_EQ(hs.size(), 3u);
  EXPECT_EQ(hs[0].slot, "d0/m0");
  ASSERT_EQ(hs[0].calls.size(), 2u);
  EXPECT_EQ(hs[0].calls[0].named, (std::set<std::string>{kDigestA, kDigestA2}));
  EXPECT_EQ(hs[1].slot, "d0/m1");
  ASSERT_EQ(hs[1].calls.size(), 1u) << "the status in flight at the power loss is dropped";
  EXPECT_EQ(hs[2].slot, "d0/m1");
  EXPECT_EQ(hs[2].initial.kind, SlotRecord::Kind::kGarbled);
  for (const SlotHistory& h : hs) {
    EXPECT_EQ(CheckSlotHistory(h, OracleOptions{}).kind, SlotVerdict::Kind::kExplained) << h.slot;
  }
}

}  // namespace
}  // namespace ms::sim
