// The workload's model pool: generated families whose members share layers
// (DESIGN §2.8's case), with tags that move among them and references the
// clients' scripts pull.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "sim/registry/model_builder.h"
#include "sim/workload/workload.h"

namespace ms::sim {
namespace {

const BuiltModel& ModelNamed(const ModelPool& pool, const std::string& name) {
  for (const auto& [n, model] : pool.models) {
    if (n == name) return model;
  }
  ADD_FAILURE() << "no model " << name << " in the pool";
  return pool.models.front().second;
}

size_t IndexOf(const ModelPool& pool, const std::string& name) {
  for (size_t i = 0; i < pool.models.size(); ++i) {
    if (pool.models[i].first == name) return i;
  }
  ADD_FAILURE() << "no model " << name << " in the pool";
  return 0;
}

// filepath -> layer digest.
std::map<std::string, std::string> Layers(const BuiltModel& model) {
  std::map<std::string, std::string> out;
  for (const BuiltLayer& layer : model.layers) out[layer.filepath.value_or("")] = layer.digest;
  return out;
}

// The filepaths whose layers differ (or exist in one model only).
std::set<std::string> Differing(const BuiltModel& a, const BuiltModel& b) {
  const auto la = Layers(a), lb = Layers(b);
  std::set<std::string> out;
  for (const auto& [path, digest] : la) {
    if (!lb.contains(path) || lb.at(path) != digest) out.insert(path);
  }
  for (const auto& [path, digest] : lb) {
    if (!la.contains(path)) out.insert(path);
  }
  return out;
}

constexpr uint64_t kSeeds = 40;
const char* const kFamilies[] = {"fam", "lm"};

TEST(ModelPoolFamilies, AVersionDiffersFromItsBaseInConfigJsonOnly) {
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    const ModelPool pool = MakeModelPool(seed);
    for (const std::string f : kFamilies) {
      EXPECT_EQ(Differing(ModelNamed(pool, f + "-1"), ModelNamed(pool, f + "-2")), std::set<std::string>{"config.json"})
          << "seed " << seed << " family " << f;
    }
  }
}

TEST(ModelPoolFamilies, AFineTuneKeepsSomeOfItsBaseShardsAndReplacesTheRest) {
  std::set<size_t> kept_counts;
  for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
    const ModelPool pool = MakeModelPool(seed);
    for (const std::string f : kFamilies) {
      const auto base = Layers(ModelNamed(pool, f + "-1"));
      const auto tuned = Layers(ModelNamed(pool, f + "-ft-1"));
      size_t shards = 0, kept = 0;
      for (const auto& [path, digest] : base) {
        if (!path.starts_with("weights/shard-")) continue;
        ++shards;
        ASSERT_TRUE(tuned.contains(path)) << "seed " << seed << ": the fine-tune lacks " << path;
        if (tuned.at(path) == digest) ++kept;
      }
      EXPECT_GE(shards, 2u);
      EXPECT_LE(shards, 4u);
      EXPECT_GE(kept, 1u) << "seed " << seed << " family " << f;
      EXPECT_LT(kept, shards) << "seed " << seed << " family " << f;
      kept_counts.insert(kept);
    }
  }
  EXPECT_GT(kept_counts.size(), 1u) << "the fraction kept is drawn from the seed";
}

TEST(ModelPoolFamilies, TheFamMembersShareOneCodeTarLayerAndLmHasNone) {
  const ModelPool pool = MakeModelPool(7);
  std::set<std::string> code;
  for (const char* name : {"fam-1", "fam-2", "fam-ft-1"}) {
    for (const BuiltLayer& layer : ModelNamed(pool, name).layers) {
      if (layer.media_type == media_type::kCodeTar) code.insert(layer.digest);
    }
  }
  EXPECT_EQ(code.size(), 1u);
  for (const char* name : {"lm-1", "lm-2", "lm-ft-1"}) {
    for (const BuiltLayer& layer : ModelNamed(pool, name).layers) EXPECT_FALSE(layer.media_type.ends_with(".tar"));
  }
}

TEST(ModelPoolFamilies, EachFamilysLatestTagMovesAmongItsThreeMembers) {
  const ModelPool pool = MakeModelPool(3);
  for (const std::string f : kFamilies) {
    const std::vector<size_t> members = {IndexOf(pool, f + "-1"), IndexOf(pool, f + "-2"), IndexOf(pool, f + "-ft-1")};
    bool found = false;
    for (const auto& [repo, tag, candidates] : pool.moving) {
      if (repo == "models/" + f && tag == "latest") found = candidates == members;
    }
    EXPECT_TRUE(found) << "models/" << f << ":latest";
  }
}

TEST(ModelPoolFamilies, TheDefaultCampaignsScriptsPullEveryFamilyReference) {
  std::set<std::string> pulled;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    SimConfig config = SwarmConfig(DefaultCampaignConfig(), seed);
    const ModelPool pool = MakeModelPool(seed);
    for (int actor = 0; actor < config.actors; ++actor) {
      for (const ClientOp& op : MakeScript(config, pool, actor)) pulled.insert(op.reference);
    }
  }
  for (const std::string f : kFamilies) {
    for (const std::string& ref : {"models/" + f + ":v1", "models/" + f + ":latest", "models/" + f + "-ft:v1"}) {
      EXPECT_TRUE(pulled.contains(ref)) << ref;
    }
  }
}

TEST(ModelPoolFamilies, TheSameSeedGivesTheSamePool) {
  const ModelPool a = MakeModelPool(5), b = MakeModelPool(5);
  ASSERT_EQ(a.models.size(), b.models.size());
  for (size_t i = 0; i < a.models.size(); ++i) {
    EXPECT_EQ(a.models[i].first, b.models[i].first);
    EXPECT_EQ(a.models[i].second.manifest_bytes, b.models[i].second.manifest_bytes);
  }
  EXPECT_EQ(a.references, b.references);
}

}  // namespace
}  // namespace ms::sim
