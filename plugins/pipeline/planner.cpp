#include "planner.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <limits>
#include <set>

#include "models/parallel_accounting.h"

namespace compass::pipeline {
namespace {

Status Bad(const std::string& option, const std::string& what) {
  return InvalidArgument("pipeline: " + option + " " + what);
}

std::string Bytes(uint64_t b) {
  const double gib = static_cast<double>(b) / (1ull << 30);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", gib);
  return buf;
}

// Layers [begin, end) as the option writes them: "12-23", or "7" for one.
std::string Range(int64_t begin, int64_t end) {
  if (end - begin == 1) return std::to_string(begin);
  return std::to_string(begin) + "-" + std::to_string(end - 1);
}

// "layer 7 is" or "layers 8-9 are".
std::string LayersAre(int64_t begin, int64_t end) {
  return end - begin == 1 ? "layer " + Range(begin, end) + " is"
                          : "layers " + Range(begin, end) + " are";
}

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

// A non-negative decimal integer filling `s` entirely.
bool ParseLayer(const std::string& s, int64_t* out) {
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;
  const char* end = s.data() + s.size();
  const auto [ptr, ec] = std::from_chars(s.data(), end, *out);
  return ec == std::errc() && ptr == end;
}

bool IsCuda(const std::string& device) {
  return device.rfind("cuda", 0) == 0;
}

bool Tied(const model::ParameterAccounting& acc) {
  return acc.lm_head_params == 0;
}

Status CheckExplicit(const PipelineOptions& o, int64_t layers) {
  const auto& r = o.explicit_layers;
  const std::string hint =
      "; give inclusive ranges in stage order, each starting where the previous ends, from "
      "layer 0 to layer " +
      std::to_string(layers - 1) + " (as \"0-" + std::to_string(layers / 2 - 1) + "," +
      std::to_string(layers / 2) + "-" + std::to_string(layers - 1) + "\")";
  if (r.empty()) {
    return Bad("stage_layers",
               "is empty: the explicit split needs one range of layers per stage" + hint);
  }
  if (o.stages > 0 && static_cast<int64_t>(r.size()) != o.stages) {
    return Bad("stage_layers", "gives " + std::to_string(r.size()) +
                                   " ranges but stages = " + std::to_string(o.stages) +
                                   "; give one range per stage, or leave stages unset (0)");
  }
  int64_t expect = 0;  // where the next range must begin
  for (size_t s = 0; s < r.size(); ++s) {
    const auto [b, e] = r[s];
    const std::string stage = "stage " + std::to_string(s) + "'s range ";
    if (e <= b) {
      return Bad("stage_layers", stage + "[" + std::to_string(b) + ", " + std::to_string(e) +
                                     ") holds no layer; every stage needs at least one" + hint);
    }
    if (b < 0 || e > layers) {
      return Bad("stage_layers", stage + Range(b, e) + " is outside the model's layers 0-" +
                                     std::to_string(layers - 1) + hint);
    }
    if (b < expect) {
      return Bad("stage_layers", stage + Range(b, e) + " overlaps the previous stage's " +
                                     "layers (layers before " + std::to_string(expect) +
                                     " are taken)" + hint);
    }
    if (b > expect) {
      return Bad("stage_layers", "leaves a gap: " + LayersAre(expect, b) + " in no stage (" +
                                     stage + Range(b, e) + ")" + hint);
    }
    expect = e;
  }
  if (expect < layers) {
    return Bad("stage_layers", "does not cover every layer: " + LayersAre(expect, layers) +
                                   " in no stage (the model has " + std::to_string(layers) + ")" +
                                   hint);
  }
  return Status::Ok();
}

// Minimal largest stage cost over splits of `layers` layers into `stages`
// contiguous non-empty ranges; cost(s, b, e) is stage s holding [b, e).
// Returns the ranges minimising the maximum, then the sum of squares.
template <typename Cost>
std::vector<std::pair<int64_t, int64_t>> LinearPartition(int64_t layers, int64_t stages,
                                                         const Cost& cost) {
  constexpr uint64_t kInf = std::numeric_limits<uint64_t>::max();
  const size_t L = static_cast<size_t>(layers), S = static_cast<size_t>(stages);
  // Phase 1: best[k][e] = the least largest cost of stages 0..k-1 over [0, e).
  std::vector<std::vector<uint64_t>> best(S + 1, std::vector<uint64_t>(L + 1, kInf));
  best[0][0] = 0;
  for (size_t k = 1; k <= S; ++k) {
    for (size_t e = k; e + (S - k) <= L; ++e) {
      for (size_t b = k - 1; b < e; ++b) {
        if (best[k - 1][b] == kInf) continue;
        const uint64_t m = std::max(best[k - 1][b], cost(k - 1, b, e));
        best[k][e] = std::min(best[k][e], m);
      }
    }
  }
  const uint64_t limit = best[S][L];
  // Phase 2: among splits whose every stage costs at most `limit`, the one
  // with the least sum of squared costs (the most even spread).
  using Square = long double;
  const Square kNone = std::numeric_limits<Square>::infinity();
  std::vector<std::vector<Square>> sq(S + 1, std::vector<Square>(L + 1, kNone));
  std::vector<std::vector<size_t>> from(S + 1, std::vector<size_t>(L + 1, 0));
  sq[0][0] = 0;
  for (size_t k = 1; k <= S; ++k) {
    for (size_t e = k; e + (S - k) <= L; ++e) {
      for (size_t b = k - 1; b < e; ++b) {
        if (sq[k - 1][b] == kNone) continue;
        const uint64_t c = cost(k - 1, b, e);
        if (c > limit) continue;
        const Square v = sq[k - 1][b] + static_cast<Square>(c) * static_cast<Square>(c);
        if (v < sq[k][e]) {
          sq[k][e] = v;
          from[k][e] = b;
        }
      }
    }
  }
  std::vector<std::pair<int64_t, int64_t>> out(S);
  size_t e = L;
  for (size_t k = S; k >= 1; --k) {
    const size_t b = from[k][e];
    out[k - 1] = {static_cast<int64_t>(b), static_cast<int64_t>(e)};
    e = b;
  }
  return out;
}

}  // namespace

const char* SplitRuleName(SplitRule rule) {
  switch (rule) {
    case SplitRule::kParameterBytes: return "bytes";
    case SplitRule::kEvenLayers: return "layers";
    case SplitRule::kExplicit: return "explicit";
  }
  return "?";
}

double IdealBubble(int64_t stages, int64_t micro_batches) {
  if (stages < 1 || micro_batches < 1) return 0;
  return static_cast<double>(stages - 1) / static_cast<double>(micro_batches + stages - 1);
}

StatusOr<std::vector<std::pair<int64_t, int64_t>>> ParseStageLayers(const std::string& text) {
  const std::string example =
      "; give one inclusive range of layers per stage, in stage order, as \"0-11,12-23,24-29\"";
  if (Trim(text).empty()) return Bad("stage_layers", "is empty" + example);
  std::vector<std::pair<int64_t, int64_t>> out;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string part =
        Trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    const size_t dash = part.find('-');
    int64_t first = 0, last = 0;
    bool ok;
    if (dash == std::string::npos) {
      ok = ParseLayer(part, &first);
      last = first;
    } else {
      ok = ParseLayer(Trim(part.substr(0, dash)), &first) &&
           ParseLayer(Trim(part.substr(dash + 1)), &last);
    }
    if (!ok || last == std::numeric_limits<int64_t>::max()) {
      return Bad("stage_layers", "part \"" + part + "\" of \"" + text +
                                     "\" is not a range of layers such as \"12-23\"" + example);
    }
    if (last < first) {
      return Bad("stage_layers", "part \"" + part + "\" of \"" + text +
                                     "\" ends before it begins (ranges are first-last, "
                                     "inclusive)" +
                                     example);
    }
    out.emplace_back(first, last + 1);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string FormatStageLayers(const std::vector<std::pair<int64_t, int64_t>>& ranges) {
  std::string out;
  for (const auto& [b, e] : ranges) {
    if (!out.empty()) out += ",";
    out += Range(b, e);
  }
  return out;
}

StatusOr<SplitRule> ParseSplitRule(const std::string& text) {
  if (text == "bytes") return SplitRule::kParameterBytes;
  if (text == "layers") return SplitRule::kEvenLayers;
  return Bad("split",
             "must be \"bytes\" (balance the stages' parameter bytes) or \"layers\" "
             "(equal layer counts), got \"" +
                 text + "\"; to place layers by hand give stage_layers instead");
}

int64_t ResolvedStages(const PipelineOptions& o, const std::vector<DeviceInfo>& devices) {
  if (o.stages != 0) return o.stages;
  if (o.split == SplitRule::kExplicit && !o.explicit_layers.empty()) {
    return static_cast<int64_t>(o.explicit_layers.size());
  }
  return static_cast<int64_t>(devices.size());
}

Status CheckOptions(const PipelineOptions& o, const model::ModelConfig& c,
                    const std::vector<DeviceInfo>& devices) {
  const int64_t layers = c.num_hidden_layers;
  if (o.stages < 0) {
    return Bad("stages",
               "must be at least 1 (or 0: one stage per device of backend.devices), "
               "got " +
                   std::to_string(o.stages));
  }
  if (o.split == SplitRule::kExplicit) COMPASS_RETURN_IF_ERROR(CheckExplicit(o, layers));
  const int64_t stages = ResolvedStages(o, devices);
  // How the count came about, for messages.
  const std::string what =
      o.stages > 0 ? "stages = " + std::to_string(stages)
      : o.split == SplitRule::kExplicit
          ? "stages (" + std::to_string(stages) + ", one per range of stage_layers)"
          : "stages (0: one per device of backend.devices, here " + std::to_string(stages) + ")";
  if (stages < 1) {
    return Bad("stages",
               "has no device to run on: backend.devices lists none; list one device "
               "per stage (cpu:0, cpu:1, ... on CPU)");
  }
  if (stages > static_cast<int64_t>(devices.size())) {
    return InvalidArgument("pipeline: " + what + " needs " + std::to_string(stages) +
                           " devices, one per stage, but backend.devices lists " +
                           std::to_string(devices.size()) +
                           "; list more devices or use fewer stages");
  }
  if (stages > layers) {
    return InvalidArgument("pipeline: " + what + " is more than the model's " +
                           std::to_string(layers) +
                           " decoder layers (every stage holds at least one); set stages to at "
                           "most " +
                           std::to_string(layers));
  }
  std::set<std::string> seen;
  for (int64_t s = 0; s < stages; ++s) {
    if (!seen.insert(devices[s].name).second) {
      return Bad("stages", "places two stages on " + devices[s].name +
                               " (backend.devices lists it twice); each stage needs its own "
                               "device (use cpu:0, cpu:1, ... on CPU)");
    }
  }
  // The upper bounds keep every product of the plan (bytes per stage) in 64 bits.
  if (o.micro_batch_size < 0 || o.micro_batch_size > kMaxMicroBatchSize) {
    return Bad("micro_batch_size", "must be between 0 and " + std::to_string(kMaxMicroBatchSize) +
                                       " (0: the run's batch size, else " +
                                       std::to_string(kDefaultMicroBatchSize) + "), got " +
                                       std::to_string(o.micro_batch_size));
  }
  if (o.micro_batches < 0 || o.micro_batches > kMaxMicroBatches) {
    return Bad("micro_batches", "must be between 0 and " + std::to_string(kMaxMicroBatches) +
                                    " (0: 2 x stages), got " + std::to_string(o.micro_batches));
  }
  return Status::Ok();
}

std::vector<std::pair<int64_t, int64_t>> SplitLayers(const PipelineOptions& o,
                                                     const model::ParameterAccounting& acc,
                                                     int64_t stages) {
  const int64_t layers = static_cast<int64_t>(acc.layers.size());
  if (o.split == SplitRule::kExplicit) return o.explicit_layers;
  if (stages < 1 || stages > layers) return {};
  if (o.split == SplitRule::kEvenLayers) return model::EvenLayerSplit(layers, stages);
  std::vector<uint64_t> prefix(static_cast<size_t>(layers) + 1, 0);
  for (int64_t l = 0; l < layers; ++l) {
    prefix[l + 1] = prefix[l] + acc.layer_bytes(static_cast<size_t>(l));
  }
  const uint64_t head = StageWeightBytes(acc, 0, 0, false, true);
  const uint64_t embed = acc.embed_tokens_bytes();
  const size_t last = static_cast<size_t>(stages - 1);
  const auto cost = [&](size_t s, size_t b, size_t e) {
    uint64_t bytes = prefix[e] - prefix[b];
    if (s == 0) bytes += embed;
    if (s == last) bytes += stages == 1 ? acc.norm_bytes() + acc.lm_head_bytes() : head;
    return bytes;
  };
  return LinearPartition(layers, stages, cost);
}

StatusOr<PipelinePlan> PlanPipeline(const PipelineOptions& given, const model::ModelConfig& c,
                                    model::DType dtype, const std::vector<DeviceInfo>& devices,
                                    int64_t max_length, int64_t run_batch_size) {
  COMPASS_RETURN_IF_ERROR(CheckOptions(given, c, devices));
  if (max_length < 1) {
    return Bad("max_length",
               "must be at least 1, got " + std::to_string(max_length) + "; set model.max_length");
  }
  if (given.micro_batch_size == 0 && run_batch_size <= 0) {
    // No size given: the largest of 8, 4, 2, 1 rows that fits (a model
    // with a large vocabulary and a long context needs small micro-batches
    // for its float32 logits), as hf_native picks its automatic batch.
    PipelinePlan plan;
    for (int64_t rows = kDefaultMicroBatchSize; rows >= 1; rows /= 2) {
      PipelineOptions sized = given;
      sized.micro_batch_size = rows;
      COMPASS_ASSIGN_OR_RETURN(plan, PlanPipeline(sized, c, dtype, devices, max_length, 0));
      if (plan.fits) {
        if (rows < kDefaultMicroBatchSize) {
          plan.notes.push_back("micro_batch_size = " + std::to_string(rows) +
                               " (automatic: " + std::to_string(2 * rows) + " rows do not fit)");
        }
        break;
      }
    }
    return plan;
  }
  PipelinePlan plan;
  plan.options = given;
  PipelineOptions& o = plan.options;
  o.stages = ResolvedStages(given, devices);
  if (o.micro_batch_size == 0) o.micro_batch_size = run_batch_size;
  if (o.micro_batches == 0) o.micro_batches = 2 * o.stages;
  if (o.split == SplitRule::kExplicit) o.explicit_layers = given.explicit_layers;
  plan.dtype = dtype;
  plan.max_length = max_length;
  plan.ideal_bubble = IdealBubble(o.stages, o.micro_batches);

  const model::ParameterAccounting acc = model::AccountParameters(c, dtype);
  const bool tied = Tied(acc);
  const uint64_t ds = model::DTypeSize(dtype);
  const uint64_t tokens =
      static_cast<uint64_t>(o.micro_batch_size) * static_cast<uint64_t>(max_length);
  const uint64_t kv_per_layer = static_cast<uint64_t>(o.micro_batches) * tokens * 2 *
                                static_cast<uint64_t>(c.num_key_value_heads) *
                                static_cast<uint64_t>(c.head_dim) * ds;
  const uint64_t layer_activations = model::LayerActivationBytes(c, dtype, tokens);
  const uint64_t queued = model::StageBoundaryBytes(c, dtype, tokens);
  const uint64_t logits = tokens * static_cast<uint64_t>(c.vocab_size) * 4;

  const auto ranges = SplitLayers(o, acc, o.stages);
  plan.fits = true;
  for (int64_t s = 0; s < o.stages; ++s) {
    StagePlan st;
    st.device = devices[s].name;
    st.begin = ranges[s].first;
    st.end = ranges[s].second;
    st.embedding = s == 0;
    st.head = s == o.stages - 1;
    st.tied_head_copy = st.head && tied && o.stages >= 2;
    st.capacity = devices[s].memory_bytes;
    st.weights = StageWeightBytes(acc, st.begin, st.end, st.embedding, st.head);
    st.kv_bytes = kv_per_layer * static_cast<uint64_t>(st.end - st.begin);
    st.activations = layer_activations + queued + (st.head ? logits : 0);
    st.reserve = IsCuda(st.device) ? o.cuda_reserve : 0;
    st.fits = st.total() <= st.capacity;
    plan.fits = plan.fits && st.fits;
    plan.stages.push_back(st);
  }

  if (plan.stages.back().tied_head_copy) {
    plan.notes.push_back("the LM head is tied to the embedding: stage " +
                         std::to_string(o.stages - 1) + " (" + plan.stages.back().device +
                         ") holds its own copy of it (" + Bytes(acc.embed_tokens_bytes()) + ")");
  }
  if (o.micro_batches < o.stages) {
    plan.notes.push_back("micro_batches = " + std::to_string(o.micro_batches) + " is below the " +
                         std::to_string(o.stages) + " stages: at most " +
                         std::to_string(o.micro_batches) +
                         " stages work at once; 2 x stages keeps them all busy");
  }

  if (!plan.fits) {
    std::vector<const StagePlan*> over;
    std::vector<int64_t> index;
    for (int64_t s = 0; s < o.stages; ++s) {
      if (!plan.stages[s].fits) {
        over.push_back(&plan.stages[s]);
        index.push_back(s);
      }
    }
    const StagePlan& st = *over.front();
    std::string m = "pipeline: stage " + std::to_string(index.front()) + " on " + st.device +
                    " (layers " + Range(st.begin, st.end) + ") needs " + Bytes(st.total()) +
                    " (weights " + Bytes(st.weights) + ", activations " + Bytes(st.activations) +
                    ", KV cache " + Bytes(st.kv_bytes) + ", reserve " + Bytes(st.reserve) +
                    ") but " + st.device + " has " + Bytes(st.capacity) + "; ";
    if (st.weights + st.reserve > st.capacity) {
      m += "its weights alone do not fit: use more stages (list more devices in "
           "backend.devices), move layers off it with stage_layers, or use a smaller dtype";
    } else {
      m += "lower micro_batches (" + std::to_string(o.micro_batches) + ") or micro_batch_size (" +
           std::to_string(o.micro_batch_size) + "), set model.max_length lower (" +
           std::to_string(max_length) + "), or move layers off it with stage_layers";
    }
    if (over.size() > 1) {
      m += " (" + std::to_string(over.size() - 1) + " more stage" +
           (over.size() > 2 ? "s do" : " does") + " not fit:";
      for (size_t i = 1; i < over.size(); ++i) {
        m += " " + std::to_string(index[i]) + " on " + over[i]->device;
        if (i + 1 < over.size()) m += ",";
      }
      m += ")";
    }
    plan.message = m;
  }
  return plan;
}

}  // namespace compass::pipeline
