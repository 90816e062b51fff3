// pipeline's plan from configs alone: every bad option refused with the
// option named, the even and the byte-balanced splits (the latter against a
// brute-force optimum), the tied head's copy on the last stage, each stage's
// bytes recomputed here from the shapes, and a stage too small reported as
// not fitting.
#include "planner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <limits>

namespace compass::pipeline {
namespace {

// A small Llama-shaped config written by hand: 4 heads of 4, 2 KV heads.
model::ModelConfig Config(int64_t layers, bool tied = false, int64_t vocab = 100) {
  model::ModelConfig c;
  c.source = "test";
  c.architecture = model::Architecture::kLlama;
  c.vocab_size = vocab;
  c.hidden_size = 16;
  c.intermediate_size = 40;
  c.num_hidden_layers = layers;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 4;
  c.max_position_embeddings = 4096;
  c.tie_word_embeddings = tied;
  c.layer_sliding_window.assign(layers, 0);
  return c;
}

std::vector<DeviceInfo> Cpus(int n, uint64_t bytes = 16ull << 30) {
  std::vector<DeviceInfo> d;
  for (int i = 0; i < n; ++i) d.push_back({"cpu:" + std::to_string(i), bytes});
  return d;
}

void ExpectRefused(const PipelineOptions& o, const model::ModelConfig& c,
                   const std::vector<DeviceInfo>& devices, const std::string& option,
                   const std::string& fragment, int64_t max_length = 128) {
  const Status check = CheckOptions(o, c, devices);
  const auto plan = PlanPipeline(o, c, model::DType::kF32, devices, max_length, 0);
  ASSERT_FALSE(plan.ok()) << fragment;
  EXPECT_EQ(plan.status().code(), COMPASS_INVALID_ARGUMENT);
  const std::string& m = plan.status().message();
  EXPECT_EQ(m.rfind("pipeline: ", 0), 0u) << m;
  EXPECT_NE(m.find(option), std::string::npos) << "option " << option << ": " << m;
  EXPECT_NE(m.find(fragment), std::string::npos) << m;
  if (option != "max_length") {  // checked by PlanPipeline only
    EXPECT_FALSE(check.ok()) << fragment;
    EXPECT_EQ(check.message(), m);
  }
}

TEST(PipelinePlanner, RefusesBadStagesAndDevices) {
  const model::ModelConfig c = Config(6);
  PipelineOptions o;
  o.stages = -1;
  ExpectRefused(o, c, Cpus(2), "stages", "stages must be at least 1");
  o.stages = 4;
  ExpectRefused(o, c, Cpus(2), "stages",
                "stages = 4 needs 4 devices, one per stage, but backend.devices lists 2");
  o.stages = 0;
  ExpectRefused(o, c, {}, "stages", "backend.devices lists none");
  o.stages = 7;
  ExpectRefused(o, c, Cpus(8), "stages", "stages = 7 is more than the model's 6 decoder layers");
  o.stages = 0;  // one per device: 8 devices, 6 layers
  ExpectRefused(o, c, Cpus(8), "stages",
                "stages (0: one per device of backend.devices, here 8) is more than the model's 6 "
                "decoder layers");
  o.stages = 3;
  ExpectRefused(o, c, {{"cpu:0", 1}, {"cpu:1", 1}, {"cpu:0", 1}}, "stages",
                "places two stages on cpu:0");
  // A device listed twice beyond the stages used is not in the plan.
  o.stages = 2;
  EXPECT_TRUE(CheckOptions(o, c, {{"cpu:0", 1}, {"cpu:1", 1}, {"cpu:0", 1}}).ok());
  o = PipelineOptions();
  o.micro_batch_size = -1;
  ExpectRefused(o, c, Cpus(2), "micro_batch_size",
                "micro_batch_size must be between 0 and 65536 (0: the run's batch size, else 8), "
                "got -1");
  o.micro_batch_size = int64_t{1} << 40;
  ExpectRefused(o, c, Cpus(2), "micro_batch_size", "micro_batch_size must be between 0 and 65536");
  o = PipelineOptions();
  o.micro_batches = -2;
  ExpectRefused(o, c, Cpus(2), "micro_batches",
                "micro_batches must be between 0 and 65536 (0: 2 x stages), got -2");
  o.micro_batches = 65537;
  ExpectRefused(o, c, Cpus(2), "micro_batches", "got 65537");
  o = PipelineOptions();
  ExpectRefused(o, c, Cpus(2), "max_length", "max_length must be at least 1", 0);
}

TEST(PipelinePlanner, RefusesBadStageLayers) {
  const model::ModelConfig c = Config(10);
  PipelineOptions o;
  o.split = SplitRule::kExplicit;
  ExpectRefused(o, c, Cpus(3), "stage_layers", "stage_layers is empty");
  o.explicit_layers = {{0, 5}, {5, 10}};
  o.stages = 3;
  ExpectRefused(o, c, Cpus(3), "stage_layers", "stage_layers gives 2 ranges but stages = 3");
  o.stages = 0;
  o.explicit_layers = {{0, 5}, {5, 5}, {5, 10}};
  ExpectRefused(o, c, Cpus(3), "stage_layers", "stage 1's range [5, 5) holds no layer");
  o.explicit_layers = {{0, 5}, {5, 11}};
  ExpectRefused(o, c, Cpus(3), "stage_layers",
                "stage 1's range 5-10 is outside the model's layers 0-9");
  o.explicit_layers = {{-1, 5}, {5, 10}};
  ExpectRefused(o, c, Cpus(3), "stage_layers", "is outside the model's layers 0-9");
  o.explicit_layers = {{0, 6}, {5, 10}};
  ExpectRefused(o, c, Cpus(3), "stage_layers", "stage 1's range 5-9 overlaps");
  o.explicit_layers = {{5, 10}, {0, 5}};  // not in stage order
  ExpectRefused(o, c, Cpus(3), "stage_layers", "leaves a gap: layers 0-4 are in no stage");
  o.explicit_layers = {{0, 4}, {5, 10}};
  ExpectRefused(o, c, Cpus(3), "stage_layers", "leaves a gap: layer 4 is in no stage");
  o.explicit_layers = {{0, 4}, {4, 8}};
  ExpectRefused(o, c, Cpus(3), "stage_layers",
                "does not cover every layer: layers 8-9 are in no stage (the model has 10)");
  // One stage per range: three ranges on two devices.
  o.explicit_layers = {{0, 3}, {3, 6}, {6, 10}};
  ExpectRefused(o, c, Cpus(2), "stage_layers",
                "stages (3, one per range of stage_layers) needs 3 devices");
  // Valid ranges give the stages.
  const auto plan = PlanPipeline(o, c, model::DType::kF32, Cpus(3), 64, 0);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->options.stages, 3);
  ASSERT_EQ(plan->stages.size(), 3u);
  EXPECT_EQ(plan->stages[1].begin, 3);
  EXPECT_EQ(plan->stages[1].end, 6);
  EXPECT_EQ(plan->stages[2].end, 10);
}

TEST(PipelinePlanner, EvenSplitGivesEarlierStagesTheExtraLayer) {
  const model::ModelConfig c = Config(30);
  const auto acc = model::AccountParameters(c, model::DType::kF32);
  PipelineOptions o;
  o.split = SplitRule::kEvenLayers;
  const std::vector<std::pair<int64_t, int64_t>> want = {{0, 8}, {8, 16}, {16, 23}, {23, 30}};
  EXPECT_EQ(SplitLayers(o, acc, 4), want);
  o.stages = 4;
  const auto plan = PlanPipeline(o, c, model::DType::kF32, Cpus(4), 64, 0);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  ASSERT_EQ(plan->stages.size(), 4u);
  for (size_t s = 0; s < 4; ++s) {
    EXPECT_EQ(plan->stages[s].begin, want[s].first);
    EXPECT_EQ(plan->stages[s].end, want[s].second);
    EXPECT_EQ(plan->stages[s].device, "cpu:" + std::to_string(s));
  }
  EXPECT_EQ(FormatStageLayers(want), "0-7,8-15,16-22,23-29");
  const std::vector<std::pair<int64_t, int64_t>> one = {{0, 30}};
  EXPECT_EQ(SplitLayers(o, acc, 1), one);
}

// The least largest stage over every split of the layers into `stages`
// contiguous non-empty ranges, by enumeration.
uint64_t BruteForceBest(const model::ParameterAccounting& acc, int64_t stages) {
  const int64_t layers = static_cast<int64_t>(acc.layers.size());
  uint64_t best = std::numeric_limits<uint64_t>::max();
  std::vector<int64_t> cuts;  // stage s is [cuts[s-1] or 0, cuts[s] or layers)
  std::function<void(int64_t)> go = [&](int64_t from) {
    if (static_cast<int64_t>(cuts.size()) == stages - 1) {
      uint64_t worst = 0;
      for (int64_t s = 0; s < stages; ++s) {
        const int64_t b = s == 0 ? 0 : cuts[s - 1];
        const int64_t e = s == stages - 1 ? layers : cuts[s];
        worst = std::max(worst, StageWeightBytes(acc, b, e, s == 0, s == stages - 1));
      }
      best = std::min(best, worst);
      return;
    }
    for (int64_t cut = from; cut < layers; ++cut) {
      cuts.push_back(cut);
      go(cut + 1);
      cuts.pop_back();
    }
  };
  go(1);
  return best;
}

TEST(PipelinePlanner, ByteSplitMatchesTheBruteForceOptimum) {
  PipelineOptions o;
  o.split = SplitRule::kParameterBytes;
  uint32_t seed = 12345;
  const auto next = [&] {
    seed = seed * 1664525u + 1013904223u;
    return seed >> 8;
  };
  for (int trial = 0; trial < 60; ++trial) {
    // Layers of uneven size (a hand-made accounting), a small or a large
    // embedding, tied or not.
    model::ParameterAccounting acc;
    acc.dtype = trial % 3 == 0 ? model::DType::kF16 : model::DType::kF32;
    const int64_t layers = 2 + static_cast<int64_t>(next() % 11);  // 2..12
    acc.layers.resize(layers);
    for (auto& l : acc.layers) {
      l.attention_params = 100 + next() % 900;
      l.mlp_params = next() % 2000;
      l.norm_params = 8;
    }
    acc.embed_tokens_params = trial % 2 == 0 ? 50 + next() % 200 : 2000 + next() % 6000;
    acc.norm_params = 8;
    acc.lm_head_params = trial % 4 < 2 ? 0 : acc.embed_tokens_params;
    for (int64_t stages = 1; stages <= std::min<int64_t>(layers, 5); ++stages) {
      const auto ranges = SplitLayers(o, acc, stages);
      ASSERT_EQ(static_cast<int64_t>(ranges.size()), stages);
      uint64_t worst = 0;
      int64_t expect = 0;
      for (int64_t s = 0; s < stages; ++s) {
        EXPECT_EQ(ranges[s].first, expect);
        EXPECT_LT(ranges[s].first, ranges[s].second);
        expect = ranges[s].second;
        worst = std::max(worst, StageWeightBytes(acc, ranges[s].first, ranges[s].second, s == 0,
                                                 s == stages - 1));
      }
      EXPECT_EQ(expect, layers);
      EXPECT_EQ(worst, BruteForceBest(acc, stages))
          << "trial " << trial << ", " << stages << " stages: " << FormatStageLayers(ranges);
    }
  }
}

TEST(PipelinePlanner, ByteSplitMovesLayersOffTheEmbeddingAndHeadStages) {
  // Layers of 2,720 parameters, an embedding and a head of 1000 x 16 =
  // 16,000 (about 6 layers' worth each): 6, 12 and 6 layers (32,320, 32,640
  // and 32,336 parameters) is the only split whose largest stage is 32,640.
  const model::ModelConfig c = Config(24, /*tied=*/false, /*vocab=*/1000);
  const auto acc = model::AccountParameters(c, model::DType::kF32);
  ASSERT_EQ(acc.layers[0].params(), 2720u);
  const std::vector<std::pair<int64_t, int64_t>> want = {{0, 6}, {6, 18}, {18, 24}};
  PipelineOptions bytes;
  bytes.split = SplitRule::kParameterBytes;
  EXPECT_EQ(SplitLayers(bytes, acc, 3), want);
  EXPECT_EQ(BruteForceBest(acc, 3), 32640u * 4);
  PipelineOptions o = bytes;
  o.stages = 3;
  const auto plan = PlanPipeline(o, c, model::DType::kF32, Cpus(3), 16, 0);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->stages[0].weights, 32320u * 4);
  EXPECT_EQ(plan->stages[1].weights, 32640u * 4);
  EXPECT_EQ(plan->stages[2].weights, 32336u * 4);
}

TEST(PipelinePlanner, TiedHeadIsCopiedToTheLastStageOnlyWithTwoStagesOrMore) {
  const model::ModelConfig tied = Config(8, /*tied=*/true);
  const auto acc = model::AccountParameters(tied, model::DType::kF32);
  ASSERT_EQ(acc.lm_head_params, 0u);
  const uint64_t embed = acc.embed_tokens_bytes();

  PipelineOptions o;
  o.stages = 1;
  auto one = PlanPipeline(o, tied, model::DType::kF32, Cpus(1), 64, 0);
  ASSERT_TRUE(one.ok()) << one.status().message();
  ASSERT_EQ(one->stages.size(), 1u);
  EXPECT_TRUE(one->stages[0].embedding);
  EXPECT_TRUE(one->stages[0].head);
  EXPECT_FALSE(one->stages[0].tied_head_copy);
  EXPECT_EQ(one->stages[0].weights, acc.total_bytes());  // the embedding once
  EXPECT_TRUE(one->notes.empty());

  for (int64_t stages : {2, 3, 4}) {
    o.stages = stages;
    for (SplitRule rule : {SplitRule::kParameterBytes, SplitRule::kEvenLayers}) {
      o.split = rule;
      const auto plan = PlanPipeline(o, tied, model::DType::kF32, Cpus(4), 64, 0);
      ASSERT_TRUE(plan.ok()) << plan.status().message();
      uint64_t sum = 0;
      for (int64_t s = 0; s < stages; ++s) {
        const StagePlan& st = plan->stages[s];
        EXPECT_EQ(st.embedding, s == 0);
        EXPECT_EQ(st.head, s == stages - 1);
        EXPECT_EQ(st.tied_head_copy, s == stages - 1) << "stage " << s;
        uint64_t layers = 0;
        for (int64_t l = st.begin; l < st.end; ++l) layers += acc.layer_bytes(l);
        const uint64_t extra = s == 0 ? embed : s == stages - 1 ? acc.norm_bytes() + embed : 0;
        EXPECT_EQ(st.weights, layers + extra) << "stage " << s;
        sum += st.weights;
      }
      EXPECT_EQ(sum, acc.total_bytes() + embed);  // the copy counted once more
      ASSERT_EQ(plan->notes.size(), 1u);
      EXPECT_NE(plan->notes[0].find("holds its own copy"), std::string::npos) << plan->notes[0];
    }
  }

  // Untied: a head of its own on the last stage, no copy.
  const model::ModelConfig untied = Config(8);
  const auto uacc = model::AccountParameters(untied, model::DType::kF32);
  o.stages = 2;
  o.split = SplitRule::kEvenLayers;
  const auto plan = PlanPipeline(o, untied, model::DType::kF32, Cpus(2), 64, 0);
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->stages[1].tied_head_copy);
  EXPECT_EQ(plan->stages[0].weights + plan->stages[1].weights, uacc.total_bytes());
  EXPECT_TRUE(plan->notes.empty());
}

TEST(PipelinePlanner, StageBytesComputedFromTheShapes) {
  const model::ModelConfig c = Config(6);  // vocab 100, hidden 16, inter 40, 4x4 q, 2x4 kv
  PipelineOptions o;
  o.split = SplitRule::kEvenLayers;
  o.micro_batches = 3;
  o.cuda_reserve = 1000;
  const std::vector<DeviceInfo> devices = {{"cuda:0", 1ull << 30}, {"cpu:1", 1ull << 30}};
  const int64_t max_length = 64;
  const auto plan = PlanPipeline(o, c, model::DType::kF16, devices, max_length, 5);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  // Resolved: one stage per device, the run's batch size per micro-batch.
  EXPECT_EQ(plan->options.stages, 2);
  EXPECT_EQ(plan->options.micro_batch_size, 5);
  EXPECT_EQ(plan->options.micro_batches, 3);
  EXPECT_EQ(plan->max_length, 64);
  EXPECT_EQ(plan->dtype, model::DType::kF16);
  EXPECT_DOUBLE_EQ(plan->ideal_bubble, 1.0 / 4.0);  // (2 - 1) / (3 + 2 - 1)
  ASSERT_EQ(plan->stages.size(), 2u);

  const uint64_t ds = 2, h = 16, q = 16, kv = 8, inter = 40, vocab = 100;
  const uint64_t tokens = 5 * 64;
  // Per layer: two norms, q, k, v, o, gate, up, down.
  const uint64_t layer = 2 * h + q * h + 2 * kv * h + h * q + 3 * inter * h;
  const uint64_t act = tokens * ds * (4 * h + 2 * (q + 2 * kv) + 2 * q + 4 * inter) +
                       tokens * h * 4 + 2 * tokens * h * ds;
  const uint64_t kv_bytes = 3 * tokens * 3 * 2 * kv * ds;  // 3 micro-batches, 3 layers
  const StagePlan& a = plan->stages[0];
  EXPECT_EQ(a.device, "cuda:0");
  EXPECT_EQ(a.begin, 0);
  EXPECT_EQ(a.end, 3);
  EXPECT_EQ(a.weights, (3 * layer + vocab * h) * ds);
  EXPECT_EQ(a.kv_bytes, kv_bytes);
  EXPECT_EQ(a.activations, act);
  EXPECT_EQ(a.reserve, 1000u);
  EXPECT_EQ(a.capacity, 1ull << 30);
  EXPECT_TRUE(a.fits);
  const StagePlan& b = plan->stages[1];
  EXPECT_EQ(b.device, "cpu:1");
  EXPECT_EQ(b.weights, (3 * layer + h + vocab * h) * ds);  // norm and lm_head
  EXPECT_EQ(b.kv_bytes, kv_bytes);
  EXPECT_EQ(b.activations, act + tokens * vocab * 4);  // float32 logits
  EXPECT_EQ(b.reserve, 0u);
  EXPECT_TRUE(b.fits);
  EXPECT_TRUE(plan->fits);
  EXPECT_TRUE(plan->message.empty());

  // Defaults: 8 rows without a run batch size where they fit, 2 x stages
  // micro-batches.
  const std::vector<DeviceInfo> roomy = {{"cuda:0", 1ull << 40}, {"cpu:1", 1ull << 40}};
  const auto defaults = PlanPipeline(PipelineOptions(), c, model::DType::kF16, roomy, 64, 0);
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->options.micro_batch_size, 8);
  // Where 8 rows do not fit, the largest of 4, 2, 1 that does, with a note.
  const auto tight = PlanPipeline(PipelineOptions(), c, model::DType::kF16, devices, 64, 0);
  ASSERT_TRUE(tight.ok());
  EXPECT_LT(tight->options.micro_batch_size, 8);
  if (tight->fits) {
    bool noted = false;
    for (const std::string& n : tight->notes) noted |= n.find("automatic") != std::string::npos;
    EXPECT_TRUE(noted);
  }
  EXPECT_EQ(defaults->options.micro_batches, 4);
  EXPECT_EQ(defaults->options.split, SplitRule::kEvenLayers);
}

TEST(PipelinePlanner, AStageThatDoesNotFitNamesItsDevice) {
  const model::ModelConfig c = Config(6);
  PipelineOptions o;
  o.split = SplitRule::kEvenLayers;
  o.micro_batches = 2;
  o.micro_batch_size = 4;
  o.cuda_reserve = 0;
  std::vector<DeviceInfo> devices = {{"cuda:0", 1ull << 30}, {"cuda:1", 1ull << 30}};
  const auto roomy = PlanPipeline(o, c, model::DType::kF32, devices, 256, 0);
  ASSERT_TRUE(roomy.ok());
  ASSERT_TRUE(roomy->fits);
  const uint64_t need = roomy->stages[1].total();
  // cuda:1 one byte short.
  devices[1].memory_bytes = need - 1;
  const auto plan = PlanPipeline(o, c, model::DType::kF32, devices, 256, 0);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_FALSE(plan->fits);
  EXPECT_TRUE(plan->stages[0].fits);
  EXPECT_FALSE(plan->stages[1].fits);
  const std::string& m = plan->message;
  EXPECT_EQ(m.rfind("pipeline: stage 1 on cuda:1 (layers 3-5) needs", 0), 0u) << m;
  EXPECT_EQ(m.find("cuda:0"), std::string::npos) << m;
  EXPECT_NE(m.find("lower micro_batches"), std::string::npos) << m;
  // Exactly enough fits.
  devices[1].memory_bytes = need;
  EXPECT_TRUE(PlanPipeline(o, c, model::DType::kF32, devices, 256, 0)->fits);
  // Weights alone too big for both devices; the reserve counts.
  devices = {{"cuda:0", 4096}, {"cuda:1", 4096}};
  const auto tiny = PlanPipeline(o, c, model::DType::kF32, devices, 256, 0);
  ASSERT_TRUE(tiny.ok());
  EXPECT_FALSE(tiny->fits);
  EXPECT_NE(tiny->message.find("stage 0 on cuda:0"), std::string::npos) << tiny->message;
  EXPECT_NE(tiny->message.find("its weights alone do not fit"), std::string::npos);
  EXPECT_NE(tiny->message.find("1 more stage does not fit: 1 on cuda:1"), std::string::npos)
      << tiny->message;
  o.cuda_reserve = 1ull << 30;
  devices = {{"cuda:0", 1ull << 30}, {"cpu:1", 1ull << 30}};
  const auto reserved = PlanPipeline(o, c, model::DType::kF32, devices, 256, 0);
  ASSERT_TRUE(reserved.ok());
  EXPECT_FALSE(reserved->stages[0].fits);  // the reserve takes all of cuda:0
  EXPECT_TRUE(reserved->stages[1].fits);   // no reserve on CPU
}

TEST(PipelinePlanner, IdealBubble) {
  EXPECT_DOUBLE_EQ(IdealBubble(2, 8), 1.0 / 9.0);
  EXPECT_DOUBLE_EQ(IdealBubble(4, 4), 3.0 / 7.0);
  EXPECT_DOUBLE_EQ(IdealBubble(1, 8), 0.0);
  EXPECT_DOUBLE_EQ(IdealBubble(4, 0), 0.0);
  // Few micro-batches: a note.
  PipelineOptions o;
  o.micro_batches = 1;
  const auto plan = PlanPipeline(o, Config(4), model::DType::kF32, Cpus(2), 16, 0);
  ASSERT_TRUE(plan.ok());
  EXPECT_DOUBLE_EQ(plan->ideal_bubble, 0.5);
  ASSERT_EQ(plan->notes.size(), 1u);
  EXPECT_NE(plan->notes[0].find("micro_batches = 1 is below the 2 stages"), std::string::npos);
}

TEST(PipelinePlanner, ParsesStageLayers) {
  using Ranges = std::vector<std::pair<int64_t, int64_t>>;
  auto r = ParseStageLayers("0-11,12-23,24-29");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, (Ranges{{0, 12}, {12, 24}, {24, 30}}));
  r = ParseStageLayers(" 0-3 , 4 ,5 - 9");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, (Ranges{{0, 4}, {4, 5}, {5, 10}}));
  EXPECT_EQ(FormatStageLayers(*r), "0-3,4,5-9");
  r = ParseStageLayers("0-29");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (Ranges{{0, 30}}));

  for (const std::string bad :
       {"0-11,", "a-3", "-1-4", "0-11-12", "1.5", "0-", "3,,4", "0-99999999999999999999"}) {
    const auto p = ParseStageLayers(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.status().code(), COMPASS_INVALID_ARGUMENT);
    EXPECT_EQ(p.status().message().rfind("pipeline: stage_layers part \"", 0), 0u)
        << p.status().message();
    EXPECT_NE(p.status().message().find("is not a range of layers"), std::string::npos)
        << p.status().message();
  }
  auto p = ParseStageLayers("5-3");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("part \"5-3\" of \"5-3\" ends before it begins"),
            std::string::npos)
      << p.status().message();
  p = ParseStageLayers("0-3,a,4-5");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("part \"a\""), std::string::npos);
  p = ParseStageLayers("  ");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message().rfind("pipeline: stage_layers is empty", 0), 0u);
}

TEST(PipelinePlanner, ParsesSplitRule) {
  EXPECT_EQ(*ParseSplitRule("bytes"), SplitRule::kParameterBytes);
  EXPECT_EQ(*ParseSplitRule("layers"), SplitRule::kEvenLayers);
  for (const std::string bad : {"", "Bytes", "explicit", "even"}) {
    const auto r = ParseSplitRule(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), COMPASS_INVALID_ARGUMENT);
    EXPECT_EQ(r.status().message().rfind("pipeline: split must be \"bytes\"", 0), 0u)
        << r.status().message();
  }
  EXPECT_STREQ(SplitRuleName(SplitRule::kParameterBytes), "bytes");
  EXPECT_STREQ(SplitRuleName(SplitRule::kEvenLayers), "layers");
  EXPECT_STREQ(SplitRuleName(SplitRule::kExplicit), "explicit");
}

}  // namespace
}  // namespace compass::pipeline
