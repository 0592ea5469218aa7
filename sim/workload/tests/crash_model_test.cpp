// The simulator's crash models end to end: the config keys, the mix per
// seed, explicit post-crash states, I8 recovery, and the power-loss
// finding of docs/findings.md under every model.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "sim/checking/invariant_checker.h"
#include "sim/workload/simulator.h"

namespace ms::sim {
namespace {

std::string SourceFile(const std::string& rel) {
  const char* dir = std::getenv("MS_SOURCE_DIR");
  std::ifstream in((dir != nullptr ? std::string(dir) + "/" : std::string()) + rel, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

TEST(CrashModelConfig, OldTracesMetadataDurableReadsAsJournaled) {
  auto parsed = SimConfig::Parse("seed=3\nmetadata_durable=1\n");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->crash_model, "journaled");
  EXPECT_NE(parsed->ToText().find("crash_model=journaled\n"), std::string::npos);
  EXPECT_EQ(SimConfig::Parse("metadata_durable=0\n")->crash_model, "adversarial");
}

TEST(CrashModelConfig, BadValuesAreErrorsNamingThem) {
  auto model = SimConfig::Parse("crash_model=ext4\n");
  EXPECT_EQ(model.code(), Code::kCorrupt);
  EXPECT_NE(model.status().message().find("ext4"), std::string::npos);
  EXPECT_EQ(SimConfig::Parse("crash_pick=12\n").code(), Code::kCorrupt);
  EXPECT_EQ(SimConfig::Parse("crash_pick=12:o2/f\n").code(), Code::kCorrupt);
  auto pick = SimConfig::Parse("crash_pick=12:o01/f3\ncrash_states_max=9\n");
  ASSERT_TRUE(pick.ok());
  EXPECT_EQ(pick->crash_picks, (std::vector<CrashPick>{{12, "o01/f3"}}));
  EXPECT_EQ(pick->crash_states_max, 9u);
}

TEST(CrashModelConfig, MixedPicksOneModelPerSeedAndTheTraceRecordsIt) {
  std::set<std::string> seen;
  for (uint64_t seed = 1; seed <= 24; ++seed) {
    SimConfig c;
    c.seed = seed;
    c.actors = 1;
    c.ops = 2;
    c.crash_model = kMixedCrashModel;
    const SimReport r = RunSimulation(c);
    ASSERT_NE(r.config.crash_model, kMixedCrashModel);
    seen.insert(r.config.crash_model);
    auto parsed = ParseTraceFile(r.trace_file);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->first.crash_model, r.config.crash_model) << "a replay must use the model the run used";
  }
  EXPECT_EQ(seen, (std::set<std::string>{"adversarial", "ordered-metadata", "journaled"}));
}

SimConfig OnePublish(const std::string& model) {
  SimConfig c;
  c.seed = 1;
  c.strategy = "rr";
  c.processes = 1;
  c.gc_rounds = 0;
  c.tag_moves = 0;
  c.crash_model = model;
  c.scripts = {{{OpKind::kPull, "s0", "", "models/a:v1"}, {OpKind::kPull, "d0", "m0", "models/a:v1"}}};
  return c;
}

TEST(CrashModelRun, AnExplicitStateIsWhatTheCrashKeepsAndReplays) {
  SimConfig c = OnePublish("adversarial");
  c.crash_steps = {40};
  c.crash_states_max = 50;
  const SimReport listing = RunSimulation(c);
  ASSERT_EQ(listing.crashes, 1u);
  ASSERT_GE(listing.crash_states.size(), 2u) << "nothing pending at step 40";
  EXPECT_EQ(listing.crash_states.front().find('1'), std::string::npos) << "the first state keeps nothing";
  for (const std::string& state : listing.crash_states) {
    SimConfig at = c;
    at.crash_states_max = 0;
    at.crash_picks = {{40, state}};
    const SimReport r = RunSimulation(at);
    EXPECT_TRUE(r.ok()) << state << ": " << r.violations.front().detail;
    auto parsed = ParseTraceFile(r.trace_file);
    ASSERT_TRUE(parsed.ok());
    const SimReport again = RunSimulation(parsed->first, std::make_shared<const Trace>(std::move(parsed->second)));
    EXPECT_EQ(again.trace_hash, r.trace_hash) << state;
    EXPECT_EQ(again.state_hash, r.state_hash) << state;
  }
}

// docs/findings/core-power-loss-forgets-everything.conf: a power loss
// after a publish returned. Before the parent fsyncs it downloaded the
// model twice (the record, the volume and the entry all lost); now every
// legal post-crash state of every model keeps them: one fetch.
TEST(CrashModelRun, ThePowerLossFindingFetchesOnceInEveryLegalStateOfEveryModel) {
  auto conf = SimConfig::Parse(SourceFile("docs/findings/core-power-loss-forgets-everything.conf"));
  ASSERT_TRUE(conf.ok()) << conf.status().ToString();
  ASSERT_EQ(conf->crash_steps.size(), 1u);
  const uint64_t step = conf->crash_steps.front();
  size_t states = 0;
  for (PersistenceModel model : kPersistenceModels) {
    SimConfig c = *conf;
    c.crash_model = std::string(PersistenceModelName(model));
    c.crash_states_max = 1000;
    const SimReport listing = RunSimulation(c);
    ASSERT_EQ(listing.crashes, 1u) << c.crash_model;
    EXPECT_FALSE(listing.crash_states_bounded);
    states += listing.crash_states.size();
    for (const std::string& state : listing.crash_states) {
      SimConfig at = c;
      at.crash_states_max = 0;
      at.crash_picks = {{step, state}};
      const SimReport r = RunSimulation(at);
      EXPECT_TRUE(r.ok()) << c.crash_model << " " << state << ": " << r.violations.front().detail;
      for (const auto& [digest, fetches] : r.manifest_fetches) {
        EXPECT_EQ(fetches, 1u) << c.crash_model << " keeping " << state << ": " << digest << " fetched again";
      }
    }
  }
  // With the core durable, little is left pending at that point (a volume
  // lock file's name, which nothing relies on): a state or two per model.
  // Without the parent fsyncs (mutant 27) there are dozens, and some lose
  // the record: two fetches.
  EXPECT_LE(states, 6u);
}

// I8 recovery against a disk, directly: what a promise needs.
class PromiseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_.MakeDirsForTest("/r/volumes/s0").ok());
    checker_.AddExpected("sha256:aa", ExpectedModel{});
  }
  InlineExecutor exec_;
  SimFilesystem fs_{&exec_};
  InvariantChecker checker_{&fs_, "/r", {"/r/volumes/s0"}};
};

TEST_F(PromiseTest, AnUnpublishedRecordThatCameBackIsAViolation) {
  const std::map<std::string, Promise> promises{{"/r/volumes/s0", Promise{}}};
  const std::set<std::string> kept = checker_.KeptPromises(promises);  // no record before the crash
  ASSERT_TRUE(fs_.WriteFileForTest("/r/volumes/s0/status.json", "{}").ok());
  checker_.CheckPromises(7, promises, kept, "adversarial");
  ASSERT_TRUE(checker_.Failed("I8 recovery"));
  EXPECT_NE(checker_.violations().front().detail.find("status.json is back"), std::string::npos);
}

TEST_F(PromiseTest, APublishedRecordThatIsGoneIsAViolation) {
  Promise published{true, true, "models/a:v1", "sha256:aa"};
  checker_.CheckPromises(7, {{"/r/volumes/s0", published}}, {"/r/volumes/s0"}, "journaled");
  ASSERT_TRUE(checker_.Failed("I8 recovery"));
  EXPECT_NE(checker_.violations().front().detail.find("status.json is gone"), std::string::npos);
}

TEST_F(PromiseTest, APromiseKeptIsNoViolation) {
  VolumeStatus status;
  status.volume = "s0";
  status.reference = "models/a:v1";
  status.manifest = "sha256:aa";
  status.state = VolumeState::kSucceeded;
  status.partial = true;  // the store's payload is not part of a partial publish's promise
  ASSERT_TRUE(fs_.WriteFileForTest("/r/volumes/s0/status.json", EncodeStatus(status)).ok());
  ASSERT_TRUE(fs_.MakeDirsForTest("/r/volumes/s0/model").ok());
  const std::map<std::string, Promise> promises{{"/r/volumes/s0", Promise{true, true, "models/a:v1", "sha256:aa"}}};
  EXPECT_EQ(checker_.KeptPromises(promises), std::set<std::string>{"/r/volumes/s0"});
  checker_.CheckPromises(7, promises, {"/r/volumes/s0"}, "adversarial");
  EXPECT_FALSE(checker_.Failed("I8 recovery")) << checker_.violations().front().detail;
}

TEST_F(PromiseTest, APromiseBrokenBeforeThePowerLossIsNotItsDoing) {
  // A published record whose model was already damaged (I1's business)
  // before the crash: I8 judges what the power loss took, not that.
  const std::map<std::string, Promise> promises{{"/r/volumes/s0", Promise{true, true, "models/a:v1", "sha256:aa"}}};
  const std::set<std::string> kept = checker_.KeptPromises(promises);  // no status.json: broken already
  EXPECT_TRUE(kept.empty());
  checker_.CheckPromises(7, promises, kept, "adversarial");
  EXPECT_FALSE(checker_.Failed("I8 recovery"));
}

}  // namespace
}  // namespace ms::sim
