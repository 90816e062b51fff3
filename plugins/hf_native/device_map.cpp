#include "device_map.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <numeric>
#include <regex>
#include <set>

#include "models/parallel_accounting.h"
#include "util/strings.h"

namespace compass::hf_native {
namespace {

using model::DType;

constexpr char kHostDevice[] = "cpu";
constexpr uint32_t kMaxAutoBatch = 512;

std::string B(uint64_t bytes) {
  return FormatBytes(bytes);
}

std::string DTypeWord(DType d) {
  switch (d) {
    case DType::kF32: return "float32";
    case DType::kF16: return "float16";
    case DType::kBF16: return "bfloat16";
  }
  return "?";
}

// Fixed and per-layer costs for one batch shape.
struct Costs {
  uint64_t head_weights = 0;
  std::vector<uint64_t> layer_weights;
  uint64_t kv_per_layer = 0;  // for the whole batch
  uint64_t layer_activations = 0, head_activations = 0;
};

Costs ComputeCosts(const PlanRequest& r, DType dtype, uint32_t batch, int64_t tokens) {
  const auto acc = model::AccountParameters(r.config, dtype);
  Costs c;
  c.head_weights = acc.embed_tokens_bytes() + acc.norm_bytes() + acc.lm_head_bytes();
  for (size_t i = 0; i < acc.layers.size(); ++i) c.layer_weights.push_back(acc.layer_bytes(i));
  c.kv_per_layer = KvCacheBytes(r.config, dtype, uint64_t{batch} * tokens, 1);
  c.layer_activations = ActivationBytes(r.config, dtype, batch, tokens, false, true);
  c.head_activations = ActivationBytes(r.config, dtype, batch, tokens, true, false);
  return c;
}

// Fills every DeviceUse's weights/cache/activations from the layer map.
void Tally(const Costs& c, const std::string& head, const std::vector<std::string>& layer_device,
           std::vector<DeviceUse>& uses) {
  for (auto& u : uses) {
    u.weights = u.cache = u.activations = 0;
    u.layers.clear();
    u.head = u.device == head;
    if (u.head) {
      u.weights += c.head_weights;
      u.activations += c.head_activations;
    }
  }
  for (size_t i = 0; i < layer_device.size(); ++i) {
    for (auto& u : uses) {
      if (u.device != layer_device[i]) continue;
      u.weights += c.layer_weights[i];
      u.cache += c.kv_per_layer;
      u.layers.push_back(static_cast<int64_t>(i));
    }
  }
  for (auto& u : uses) {
    if (!u.layers.empty()) u.activations += c.layer_activations;
  }
}

bool AllFit(const std::vector<DeviceUse>& uses) {
  return std::all_of(uses.begin(), uses.end(),
                     [](const DeviceUse& u) { return u.used() <= u.capacity; });
}

// Places layers in order, each device taking as many as fit under its
// `limit` (bytes of weights + cache + activations, after the head's share).
// Returns the index of the first layer left unplaced.
size_t FillSequential(const Costs& c, const std::vector<size_t>& order,
                      const std::vector<uint64_t>& limit, std::vector<DeviceUse>& uses,
                      std::vector<std::string>& layer_device, size_t first_layer) {
  size_t next = first_layer;
  for (size_t d : order) {
    uint64_t used = uses[d].head ? c.head_weights + c.head_activations : 0;
    bool has_layers = false;
    for (size_t i = 0; i < layer_device.size(); ++i) {
      if (layer_device[i] == uses[d].device) {
        used += c.layer_weights[i] + c.kv_per_layer;
        has_layers = true;
      }
    }
    while (next < c.layer_weights.size()) {
      const uint64_t add =
          c.layer_weights[next] + c.kv_per_layer + (has_layers ? 0 : c.layer_activations);
      if (used + add > limit[d]) break;
      used += add;
      has_layers = true;
      layer_device[next++] = uses[d].device;
    }
  }
  return next;
}

std::string Suggestions(const PlanRequest& r, DType dtype) {
  std::vector<std::string> s = {"more or larger devices"};
  if (dtype == DType::kF32)
    s.push_back("model.dtype = \"bfloat16\" or \"float16\" (half the weight bytes)");
  if (!r.max_memory.empty()) s.push_back("a larger max_memory");
  if (!r.offload) s.push_back("offload = true (layers that do not fit run on the host)");
  s.push_back("a smaller max_length or batch size (less KV cache and activations)");
  return "try " + Join(s, ", ");
}

// A module key of an explicit map -> the layers it names, or -1 for a head
// module. Ranges "model.layers.A-B" are inclusive.
StatusOr<std::vector<int64_t>> ParseModuleKey(const std::string& key, int64_t num_layers,
                                              bool& is_head) {
  static const std::regex kLayer(R"(model\.layers\.(\d+)(?:-(\d+))?)");
  is_head = false;
  if (key == "model.embed_tokens" || key == "model.norm" || key == "lm_head") {
    is_head = true;
    return std::vector<int64_t>{};
  }
  std::smatch m;
  if (std::regex_match(key, m, kLayer)) {
    // Digits past any layer count are out of range, not an overflow.
    auto layer = [&](const std::string& digits) -> int64_t {
      int64_t v = 0;
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
      return ec == std::errc() && end == digits.data() + digits.size() ? v : INT64_MAX;
    };
    const int64_t a = layer(m[1].str());
    const int64_t b = m[2].matched ? layer(m[2].str()) : a;
    if (b < a || b >= num_layers) {
      return InvalidArgument("device_map: '" + key + "' is outside the model's layers (0.." +
                             std::to_string(num_layers - 1) + ")");
    }
    std::vector<int64_t> out;
    for (int64_t i = a; i <= b; ++i) out.push_back(i);
    return out;
  }
  return InvalidArgument(
      "device_map: unknown module '" + key + "'" +
      DidYouMean(key, {"model.embed_tokens", "model.norm", "lm_head", "model.layers.0"}) +
      "; modules are model.embed_tokens, model.norm, lm_head, model.layers.N "
      "and ranges model.layers.A-B");
}

}  // namespace

uint64_t KvCacheBytes(const model::ModelConfig& config, DType dtype, uint64_t tokens,
                      size_t layers) {
  return tokens * layers * 2 * static_cast<uint64_t>(config.kv_size()) * model::DTypeSize(dtype);
}

uint64_t ActivationBytes(const model::ModelConfig& config, DType dtype, uint64_t batch,
                         uint64_t tokens, bool head, bool has_layers) {
  const uint64_t bt = batch * tokens, ds = model::DTypeSize(dtype);
  uint64_t bytes = 0;
  if (has_layers) {
    // One layer at a time (model::LayerActivationBytes), and the boolean
    // [B, 1, T, T] mask with one temporary (2 bytes per query-key pair) for
    // batches that need one (padding).
    bytes += model::LayerActivationBytes(config, dtype, bt);
    bytes += batch * tokens * tokens * 2;
  }
  // The float32 logits, their log-softmax and the run-dtype logits for every
  // position (a rolling window's continuation is the whole window).
  if (head) bytes += bt * static_cast<uint64_t>(config.vocab_size) * (4 * 2 + ds);
  return bytes;
}

StatusOr<Strategy> ParseStrategy(const std::string& text) {
  if (text == "auto") return Strategy::kAuto;
  if (text == "balanced") return Strategy::kBalanced;
  if (text == "balanced_low_0") return Strategy::kBalancedLow0;
  if (text == "sequential") return Strategy::kSequential;
  return InvalidArgument("device_map: '" + text + "' is not a strategy" +
                         DidYouMean(text, {"auto", "balanced", "balanced_low_0", "sequential"}) +
                         "; use auto, balanced, balanced_low_0, sequential, or a table "
                         "{ \"model.layers.0-15\" = \"cuda:0\", ... }");
}

StatusOr<DevicePlan> PlanDeviceMap(const PlanRequest& r) {
  if (r.devices.empty()) return InvalidArgument("hf_native needs at least one device");
  const int64_t num_layers = r.config.num_hidden_layers;
  DevicePlan plan;
  plan.dtype = r.dtype;
  if (r.max_length < 1) return InvalidArgument("hf_native: no context window to plan for");
  plan.max_length = r.max_length;

  // Budgets.
  std::set<std::string> names;
  for (const auto& d : r.devices) names.insert(d.name);
  for (const auto& [dev, cap] : r.max_memory) {
    if (!names.count(dev) && !(dev == kHostDevice && r.offload)) {
      return InvalidArgument("max_memory names '" + dev + "', which is not in backend.devices (" +
                             Join(std::vector<std::string>(names.begin(), names.end())) + ")");
    }
  }
  std::vector<DeviceUse> uses;
  for (const auto& d : r.devices) {
    DeviceUse u;
    u.device = d.name;
    u.capacity = d.memory_bytes;
    if (auto it = r.max_memory.find(d.name); it != r.max_memory.end()) {
      u.capacity = std::min(u.capacity, it->second);
    }
    u.reserve = d.is_cpu() ? 0 : std::min(u.capacity, r.cuda_reserve);
    u.budget = u.capacity - u.reserve;
    uses.push_back(u);
  }
  const bool host_listed = names.count(kHostDevice) > 0;
  if (r.offload && !host_listed) {
    DeviceUse host;
    host.device = kHostDevice;
    host.capacity = r.host_memory;
    if (auto it = r.max_memory.find(kHostDevice); it != r.max_memory.end()) {
      host.capacity = std::min(host.capacity, it->second);
    }
    host.budget = host.capacity;
    uses.push_back(host);
  }
  plan.head_device = r.devices[0].name;
  plan.layer_device.assign(static_cast<size_t>(num_layers), "");

  const uint32_t placement_batch = r.batch_size ? r.batch_size : 1;
  Costs c = ComputeCosts(r, plan.dtype, placement_batch, plan.max_length);

  if (r.strategy == Strategy::kExplicit) {
    std::set<std::string> head_devices;
    int head_modules = 0;
    for (const auto& entry : r.explicit_map) {
      // Not a structured binding: the lambda below captures `dev`, which
      // clang before 16 refuses for bindings.
      const std::string& key = entry.first;
      const std::string& dev = entry.second;
      bool is_head = false;
      COMPASS_ASSIGN_OR_RETURN(auto layers, ParseModuleKey(key, num_layers, is_head));
      const bool known = std::any_of(uses.begin(), uses.end(),
                                     [&](const DeviceUse& u) { return u.device == dev; });
      if (!known) {
        std::vector<std::string> all;
        for (const auto& u : uses) all.push_back(u.device);
        return InvalidArgument("device_map: '" + key + "' is mapped to '" + dev +
                               "', which is not one of the run's devices (" + Join(all) + ")" +
                               (dev == kHostDevice ? "; set offload = true to use the host" : ""));
      }
      if (is_head) {
        head_devices.insert(dev);
        ++head_modules;
        plan.head_device = dev;
      }
      for (int64_t l : layers) {
        if (!plan.layer_device[l].empty()) {
          return InvalidArgument("device_map: model.layers." + std::to_string(l) +
                                 " is placed twice (" + plan.layer_device[l] + " and " + dev + ")");
        }
        plan.layer_device[l] = dev;
      }
    }
    if (head_devices.size() > 1) {
      return InvalidArgument(
          "device_map: model.embed_tokens, model.norm and lm_head must be on the same device "
          "(they are on " +
          Join(std::vector<std::string>(head_devices.begin(), head_devices.end())) +
          "); hf_native keeps them together so no layer mixes devices");
    }
    if (head_modules == 0) {
      return InvalidArgument("device_map: place model.embed_tokens (with model.norm and lm_head)");
    }
    std::vector<std::string> unplaced;
    for (int64_t l = 0; l < num_layers; ++l) {
      if (plan.layer_device[l].empty()) unplaced.push_back(std::to_string(l));
    }
    if (!unplaced.empty()) {
      return InvalidArgument("device_map leaves decoder layer(s) " + Join(unplaced) +
                             " unplaced; every model.layers.N needs a device");
    }
  } else {
    // Layers go to devices in order, contiguously; `limits` cap each
    // device's bytes. Sequential uses the budgets as they are. Balanced
    // searches the smallest per-device cap under which every layer still
    // finds a place: the most even contiguous split the budgets allow.
    for (auto& u : uses) u.head = u.device == plan.head_device;
    const size_t n_acc = r.devices.size();
    std::vector<size_t> order(uses.size());
    std::iota(order.begin(), order.end(), 0);
    auto place = [&](const std::vector<size_t>& ord, const std::vector<uint64_t>& limits) {
      std::fill(plan.layer_device.begin(), plan.layer_device.end(), "");
      return FillSequential(c, ord, limits, uses, plan.layer_device, 0) == c.layer_weights.size();
    };
    std::vector<uint64_t> budgets;
    for (const auto& u : uses) budgets.push_back(u.budget);
    bool placed = false;
    if (r.strategy != Strategy::kSequential) {
      std::vector<size_t> ord = order;
      ord.resize(n_acc);  // the host only takes what the devices cannot
      if (r.strategy == Strategy::kBalancedLow0 && n_acc > 1) {
        // Device 0 keeps the head and only the layers the others cannot hold.
        std::rotate(ord.begin(), ord.begin() + 1, ord.end());
      }
      auto capped = [&](uint64_t cap) {
        std::vector<uint64_t> limits(uses.size(), 0);
        for (size_t d = 0; d < n_acc; ++d) limits[d] = std::min(budgets[d], cap);
        return limits;
      };
      // First choice: layer counts proportional to what each device has left
      // after its fixed costs (largest remainders), when that fits.
      std::vector<double> avail(n_acc, 0);
      double total_avail = 0;
      for (size_t k = 0; k < ord.size(); ++k) {
        const size_t d = ord[k];
        const bool low0 = r.strategy == Strategy::kBalancedLow0 && n_acc > 1 && d == 0;
        const uint64_t fixed =
            (uses[d].head ? c.head_weights + c.head_activations : 0) + c.layer_activations;
        avail[d] = low0 || budgets[d] <= fixed ? 0 : static_cast<double>(budgets[d] - fixed);
        total_avail += avail[d];
      }
      if (total_avail > 0) {
        const size_t n_layers = c.layer_weights.size();
        std::vector<size_t> count(n_acc, 0);
        std::vector<std::pair<double, size_t>> remainders;
        size_t given = 0;
        for (size_t d = 0; d < n_acc; ++d) {
          const double share = static_cast<double>(n_layers) * avail[d] / total_avail;
          count[d] = static_cast<size_t>(share);
          given += count[d];
          remainders.push_back({share - static_cast<double>(count[d]), d});
        }
        std::stable_sort(remainders.begin(), remainders.end(),
                         [](const auto& a, const auto& b) { return a.first > b.first; });
        for (size_t k = 0; given < n_layers; ++k, ++given) ++count[remainders[k % n_acc].second];
        size_t next = 0;
        for (size_t d : ord) {
          for (size_t k = 0; k < count[d]; ++k) plan.layer_device[next++] = uses[d].device;
        }
        std::vector<DeviceUse> trial = uses;
        Tally(c, plan.head_device, plan.layer_device, trial);
        placed = AllFit(trial);
      }
      uint64_t hi = *std::max_element(budgets.begin(), budgets.begin() + n_acc);
      if (!placed && place(ord, capped(hi))) {
        uint64_t lo = 0;
        while (hi - lo > (1u << 20)) {
          const uint64_t mid = lo + (hi - lo) / 2;
          (place(ord, capped(mid)) ? hi : lo) = mid;
        }
        placed = place(ord, capped(hi));
      }
    }
    if (!placed) placed = place(order, budgets);  // sequential, host last
    if (!placed) {
      const size_t next =
          static_cast<size_t>(std::find(plan.layer_device.begin(), plan.layer_device.end(), "") -
                              plan.layer_device.begin());
      // Cannot place every layer: report with numbers.
      Tally(c, plan.head_device, plan.layer_device, uses);
      uint64_t total_budget = 0, largest = 0;
      std::string largest_dev;
      for (const auto& u : uses) {
        total_budget += u.budget;
        if (u.budget > largest) {
          largest = u.budget;
          largest_dev = u.device;
        }
      }
      const uint64_t one_layer = c.layer_weights[next] + c.kv_per_layer + c.layer_activations;
      uint64_t need = c.head_weights + c.head_activations;
      for (auto w : c.layer_weights) need += w + c.kv_per_layer;
      std::string msg;
      if (one_layer > largest) {
        msg = "one decoder layer needs " + B(one_layer) + " (weights " + B(c.layer_weights[next]) +
              ", KV cache " + B(c.kv_per_layer) + ", activations " + B(c.layer_activations) +
              ") but the largest budget is " + B(largest) + " (" + largest_dev +
              (r.max_memory.count(largest_dev) ? ", limited by max_memory" : "") + ")";
      } else {
        msg = std::to_string(c.layer_weights.size() - next) + " of " +
              std::to_string(c.layer_weights.size()) + " decoder layers could not be placed: the " +
              DTypeWord(plan.dtype) + " model needs about " + B(need) + " (weights " +
              B(model::AccountParameters(r.config, plan.dtype).total_bytes()) +
              ", KV cache and activations for " + std::to_string(placement_batch) + " x " +
              std::to_string(plan.max_length) + " tokens) but the devices offer " +
              B(total_budget) + " after runtime reserves";
      }
      plan.fits = false;
      plan.message = msg + "; " + Suggestions(r, plan.dtype);
      plan.batch_size = placement_batch;
      plan.devices = uses;
      return plan;
    }
  }

  // Auto: on GPUs the largest batch that fits; on CPU devices the batch
  // measured fastest there, or less when that does not fit. A fixed batch
  // is checked.
  auto fits_with = [&](uint32_t batch) {
    const Costs cb = ComputeCosts(r, plan.dtype, batch, plan.max_length);
    std::vector<DeviceUse> trial = uses;
    Tally(cb, plan.head_device, plan.layer_device, trial);
    return AllFit(trial);
  };
  uint32_t batch = placement_batch;
  const bool cpu_only = std::all_of(r.devices.begin(), r.devices.end(),
                                    [](const PlanDevice& d) { return d.is_cpu(); });
  const uint32_t max_auto = cpu_only ? kCpuAutoBatch : kMaxAutoBatch;
  if (r.batch_size == 0 && fits_with(1)) {
    uint32_t lo = 1, hi = 2;
    while (hi <= max_auto && fits_with(hi)) {
      lo = hi;
      hi *= 2;
    }
    hi = std::min(hi, max_auto + 1);
    while (hi - lo > 1) {
      const uint32_t mid = lo + (hi - lo) / 2;
      (fits_with(mid) ? lo : hi) = mid;
    }
    batch = lo;
  }
  plan.batch_size = batch;
  c = ComputeCosts(r, plan.dtype, batch, plan.max_length);
  Tally(c, plan.head_device, plan.layer_device, uses);
  // Only devices that hold something stay in the plan's table, plus the
  // listed ones (so a user sees an idle device).
  plan.devices = uses;
  plan.fits = AllFit(uses);
  if (!plan.fits) {
    std::vector<std::string> over;
    for (const auto& u : uses) {
      if (u.used() > u.capacity) {
        over.push_back(u.device + " needs " + B(u.used()) + " (weights " + B(u.weights) +
                       ", KV cache " + B(u.cache) + ", activations " + B(u.activations) +
                       ", reserve " + B(u.reserve) + ") but has " + B(u.capacity) +
                       (r.max_memory.count(u.device) ? " (max_memory)" : ""));
      }
    }
    plan.message = "does not fit with batch size " + std::to_string(batch) + " x " +
                   std::to_string(plan.max_length) + " tokens: " + Join(over, "; ") + "; " +
                   Suggestions(r, plan.dtype);
  } else {
    plan.message = Join(plan.notes, "; ");
  }
  return plan;
}

}  // namespace compass::hf_native
