// The layout rules of a cluster plan: tp a power of two within a node that
// the heads allow, stages only when a node cannot hold a replica, replicas
// on the GPUs left, and every given factor that cannot be laid refused with
// the rule and a fix.
#include "planning/cluster_layout.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "models/model_config.h"

namespace compass::planning {
namespace {

model::ModelConfig Model(int64_t heads, int64_t kv_heads, int64_t layers,
                         int64_t intermediate = 1024) {
  model::ModelConfig c;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.num_hidden_layers = layers;
  c.intermediate_size = intermediate;
  c.hidden_size = 128 * heads;
  c.head_dim = 128;
  return c;
}

std::vector<std::vector<int64_t>> Triples(const std::vector<Layout>& layouts) {
  std::vector<std::vector<int64_t>> out;
  for (const Layout& l : layouts) out.push_back({l.tp, l.stages, l.replicas});
  return out;
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(ClusterLayout, ShapeOfSimulatedClusters) {
  auto devs = ParseSimulatedDevices("2x8xH100");
  ASSERT_TRUE(devs.ok());
  const ClusterShape s = ShapeOf(*devs);
  EXPECT_EQ(s.nodes, 2);
  EXPECT_EQ(s.gpus_per_node, 8);
  EXPECT_EQ(s.gpus(), 16);
  devs = ParseSimulatedDevices("4xA40");
  ASSERT_TRUE(devs.ok());
  EXPECT_EQ(ShapeOf(*devs).nodes, 1);
  EXPECT_EQ(ShapeOf(*devs).gpus_per_node, 4);
}

TEST(ClusterLayout, TensorParallelSizesArePowersOfTwoTheNodeAndHeadsAllow) {
  // Llama-3.1-405B: 128 heads, 8 KV heads.
  const auto big = Model(128, 8, 126, 53248);
  EXPECT_EQ(NodeTensorParallelSizes(big, {2, 8}), (std::vector<int64_t>{1, 2, 4, 8}));
  // 6 GPUs a node: only 1 and 2 divide it.
  EXPECT_EQ(NodeTensorParallelSizes(big, {1, 6}), (std::vector<int64_t>{1, 2}));
  // 20 heads: 8 does not divide them.
  EXPECT_EQ(NodeTensorParallelSizes(Model(20, 20, 40, 13824), {1, 8}),
            (std::vector<int64_t>{1, 2, 4}));
  // 12 heads, 3 KV heads: 2 and 3 do not divide one another.
  EXPECT_EQ(NodeTensorParallelSizes(Model(12, 3, 24), {1, 8}), (std::vector<int64_t>{1}));
}

TEST(ClusterLayout, OneStageFirstSmallestTpThenStagesWithTheLargestTp) {
  const auto big = Model(128, 8, 126, 53248);
  // Two nodes of 8: tp 1, 2, 4, 8 on one node (replicas on the rest), then
  // tp 8 with 2 stages: one replica across both nodes.
  EXPECT_EQ(
      Triples(CandidateLayouts({}, big, {2, 8})),
      (std::vector<std::vector<int64_t>>{{1, 1, 16}, {2, 1, 8}, {4, 1, 4}, {8, 1, 2}, {8, 2, 1}}));
  // One node: no stage crosses a node that is not there.
  EXPECT_EQ(Triples(CandidateLayouts({}, big, {1, 8})),
            (std::vector<std::vector<int64_t>>{{1, 1, 8}, {2, 1, 4}, {4, 1, 2}, {8, 1, 1}}));
  // Three nodes: 3 stages of 8, and 2 stages leave a node idle (1 replica).
  const auto three = Triples(CandidateLayouts({}, big, {3, 8}));
  ASSERT_EQ(three.size(), 6u);
  EXPECT_EQ(three[4], (std::vector<int64_t>{8, 2, 1}));
  EXPECT_EQ(three[5], (std::vector<int64_t>{8, 3, 1}));
  // Stages never exceed the layers.
  EXPECT_EQ(CandidateLayouts({}, Model(8, 8, 2), {4, 1}).back().stages, 2);
}

TEST(ClusterLayout, GivenFactorsAreFixed) {
  const auto big = Model(128, 8, 126, 53248);
  EXPECT_EQ(Triples(CandidateLayouts({8, 0}, big, {2, 8})),
            (std::vector<std::vector<int64_t>>{{8, 1, 2}, {8, 2, 1}}));
  EXPECT_EQ(Triples(CandidateLayouts({0, 2}, big, {2, 8})),
            (std::vector<std::vector<int64_t>>{{1, 2, 8}, {2, 2, 4}, {4, 2, 2}, {8, 2, 1}}));
  EXPECT_EQ(Triples(CandidateLayouts({4, 2}, big, {2, 8})),
            (std::vector<std::vector<int64_t>>{{4, 2, 2}}));
}

TEST(ClusterLayout, GivenFactorsThatCannotBeLaidAreRefusedWithTheFix) {
  const auto big = Model(128, 8, 126, 53248);
  const ClusterShape two{2, 8};
  EXPECT_TRUE(CheckGivenLayout({8, 2}, big, two).ok());
  const struct {
    GivenLayout given;
    std::vector<std::string> parts;
  } cases[] = {
      {{16, 0}, {"tp = 16 would span 2 nodes", "a node has 8 GPUs", "use tp = 8 with stages = 2"}},
      {{3, 0}, {"tp = 3 does not divide the 8 GPUs of a node", "use tp = 1, 2, 4 or 8"}},
      {{0, 0}, {}},
      {{-1, 0}, {"tp must be at least 1, got -1"}},
      {{8, 3}, {"stages = 3 x tp = 8 needs 24 GPUs", "2 node(s) x 8 = 16"}},
      {{0, 127}, {"stages = 127 is more than the model's 126 decoder layers"}},
      {{0, -2}, {"stages must be at least 1, got -2"}},
  };
  for (const auto& c : cases) {
    const Status s = CheckGivenLayout(c.given, big, two);
    if (c.parts.empty()) {
      EXPECT_TRUE(s.ok()) << s.message();
      continue;
    }
    ASSERT_FALSE(s.ok()) << c.given.tp << " " << c.given.stages;
    EXPECT_EQ(s.code(), COMPASS_INVALID_ARGUMENT);
    EXPECT_EQ(s.message().rfind("paged_tp: ", 0), 0u) << s.message();
    for (const auto& part : c.parts) EXPECT_TRUE(Has(s.message(), part)) << s.message();
  }
  // The heads' rule is models::TensorParallelRefusal's, with this cluster's choices.
  const Status s = CheckGivenLayout({8, 0}, Model(20, 20, 40, 13824), {1, 8});
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(Has(s.message(), "tp = 8 does not divide the model's 20 attention heads"))
      << s.message();
  EXPECT_TRUE(Has(s.message(), "on this cluster use tp = 1, 2 or 4")) << s.message();
}

TEST(ClusterLayout, LargerClustersForWhatWouldFit) {
  const auto big = Model(128, 8, 126, 53248);
  const auto larger = LargerClusterLayouts({}, big, {1, 8}, 32);
  // tp 8, stages 2..4 (32 GPUs at most); 1 stage is the cluster itself.
  EXPECT_EQ(Triples(larger), (std::vector<std::vector<int64_t>>{{8, 2, 1}, {8, 3, 1}, {8, 4, 1}}));
  EXPECT_EQ(NodesFor(larger[0], {1, 8}), 2);
  EXPECT_EQ(NodesFor({4, 3, 1}, {1, 8}), 2);  // 12 GPUs: two nodes
}

TEST(ClusterLayout, StageDevicesNameTheNode) {
  auto devs = ParseSimulatedDevices("2x8xH100");
  ASSERT_TRUE(devs.ok());
  EXPECT_EQ(StageDevices({8, 2, 1}, 0, *devs), "node 0: cuda:0-cuda:7");
  EXPECT_EQ(StageDevices({8, 2, 1}, 1, *devs), "node 1: cuda:8-cuda:15");
  EXPECT_EQ(StageDevices({1, 2, 8}, 1, *devs), "node 0: cuda:1");
  EXPECT_EQ(LayoutText({8, 2, 1}), "tp = 8 x stages = 2 x replicas = 1");
}

}  // namespace
}  // namespace compass::planning
