#include "planning/cluster_layout.h"

#include <algorithm>

#include "models/parallel_accounting.h"

namespace compass::planning {
namespace {

std::string N(int64_t v) {
  return std::to_string(v);
}

// "1, 2, 4 or 8".
std::string Alternatives(const std::vector<int64_t>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += i + 1 == values.size() ? " or " : ", ";
    out += N(values[i]);
  }
  return out;
}

Status Bad(const std::string& what) {
  return InvalidArgument("paged_tp: " + what);
}

}  // namespace

ClusterShape ShapeOf(const std::vector<Device>& devices) {
  ClusterShape shape;
  shape.nodes = std::max(1, NodeCount(devices));
  shape.gpus_per_node = std::max<int64_t>(
      1,
      std::count_if(devices.begin(), devices.end(), [](const Device& d) { return d.node == 0; }));
  return shape;
}

std::vector<int64_t> NodeTensorParallelSizes(const model::ModelConfig& model,
                                             const ClusterShape& shape) {
  std::vector<int64_t> out;
  for (int64_t tp = 1; tp <= shape.gpus_per_node; tp *= 2) {
    if (shape.gpus_per_node % tp == 0 && model::TensorParallelRefusal(model, tp).empty()) {
      out.push_back(tp);
    }
  }
  if (out.empty()) out.push_back(1);  // tp = 1 splits nothing
  return out;
}

Status CheckGivenLayout(const GivenLayout& given, const model::ModelConfig& model,
                        const ClusterShape& shape) {
  const std::string node = "a node has " + N(shape.gpus_per_node) + " GPUs";
  const std::vector<int64_t> tps = NodeTensorParallelSizes(model, shape);
  if (given.tp != 0) {
    const std::string tp = "tp = " + N(given.tp);
    if (given.tp < 1) return Bad("tp must be at least 1, got " + N(given.tp));
    if (given.tp > shape.gpus_per_node) {
      const int64_t nodes = (given.tp + shape.gpus_per_node - 1) / shape.gpus_per_node;
      return Bad(tp + " would span " + N(nodes) + " nodes, but " + node +
                 " and a tensor-parallel group all-reduces in every layer, so it stays within "
                 "one node; use tp = " +
                 N(tps.back()) + " with stages = " + N(std::max<int64_t>(2, nodes)) +
                 " across the nodes");
    }
    if (shape.gpus_per_node % given.tp != 0) {
      return Bad(tp + " does not divide the " + N(shape.gpus_per_node) +
                 " GPUs of a node, so some tensor-parallel group would span two nodes; use tp = " +
                 Alternatives(tps));
    }
    if (const std::string why = model::TensorParallelRefusal(model, given.tp); !why.empty()) {
      return Bad(why + "; on this cluster use tp = " + Alternatives(tps));
    }
  }
  if (given.stages != 0) {
    if (given.stages < 1) return Bad("stages must be at least 1, got " + N(given.stages));
    if (given.stages > model.num_hidden_layers) {
      return Bad("stages = " + N(given.stages) + " is more than the model's " +
                 N(model.num_hidden_layers) +
                 " decoder layers (every stage holds at least one); set stages to at most " +
                 N(model.num_hidden_layers));
    }
    const int64_t tp = given.tp != 0 ? given.tp : 1;
    if (given.stages > shape.gpus() / tp) {
      return Bad("stages = " + N(given.stages) + " x tp = " + N(tp) + " needs " +
                 N(given.stages * tp) + " GPUs, but the cluster has " + N(shape.nodes) +
                 " node(s) x " + N(shape.gpus_per_node) + " = " + N(shape.gpus()) +
                 "; give more nodes in --devices, or lower stages or tp");
    }
  }
  return Status::Ok();
}

std::vector<Layout> CandidateLayouts(const GivenLayout& given, const model::ModelConfig& model,
                                     const ClusterShape& shape) {
  std::vector<int64_t> tps = NodeTensorParallelSizes(model, shape);
  if (given.tp != 0) tps = {given.tp};
  std::vector<Layout> out;
  auto add = [&](int64_t tp, int64_t stages) {
    if (tp < 1 || stages < 1 || stages > model.num_hidden_layers) return;
    if (stages > shape.gpus() / tp) return;
    out.push_back({tp, stages, shape.gpus() / (tp * stages)});
  };
  if (given.stages != 0) {
    for (int64_t tp : tps) add(tp, given.stages);
    return out;
  }
  for (int64_t tp : tps) add(tp, 1);
  const int64_t tp = tps.back();
  for (int64_t stages = 2; stages <= shape.gpus() / tp; ++stages) add(tp, stages);
  return out;
}

std::vector<Layout> LargerClusterLayouts(const GivenLayout& given, const model::ModelConfig& model,
                                         const ClusterShape& shape, int64_t max_gpus) {
  const int64_t tp = given.tp != 0 ? given.tp : NodeTensorParallelSizes(model, shape).back();
  std::vector<Layout> out;
  const int64_t first = given.stages != 0 ? given.stages : 1;
  const int64_t last = given.stages != 0 ? given.stages : model.num_hidden_layers;
  for (int64_t stages = first; stages <= last && tp * stages <= max_gpus; ++stages) {
    const Layout layout{tp, stages, 1};
    if (layout.gpus() <= shape.gpus()) continue;  // tried on the cluster itself
    out.push_back(layout);
  }
  return out;
}

int64_t NodesFor(const Layout& layout, const ClusterShape& shape) {
  return (layout.gpus() + shape.gpus_per_node - 1) / shape.gpus_per_node;
}

std::string StageDevices(const Layout& layout, int64_t stage, const std::vector<Device>& devices) {
  const size_t first = static_cast<size_t>(stage * layout.tp);
  const size_t last = static_cast<size_t>((stage + 1) * layout.tp - 1);
  if (last >= devices.size()) return "";
  const int a = devices[first].node, b = devices[last].node;
  std::string out =
      a == b ? "node " + std::to_string(a) : "nodes " + std::to_string(a) + "-" + std::to_string(b);
  out += ": " + devices[first].name;
  if (last != first) out += "-" + devices[last].name;
  return out;
}

std::string LayoutText(const Layout& layout) {
  return "tp = " + N(layout.tp) + " x stages = " + N(layout.stages) +
         " x replicas = " + N(layout.replicas);
}

}  // namespace compass::planning
