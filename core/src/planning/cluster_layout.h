// How a model is laid out on a cluster of equal nodes (`compass plan
// --devices 2x8xH100`): tensor parallel (tp) within a node, pipeline stages
// across nodes, and data-parallel replicas of that on the GPUs left. The
// rules only; whether a layout fits is the backend's plan (paged_tp's
// `tp` and `stages`).
//
// The layout users expect, in order of preference:
//   1. one stage: tp = the smallest power of two that divides the GPUs of a
//      node, that the model's heads allow (models::TensorParallelRefusal)
//      and that fits;
//   2. when no node can hold the model: the largest such tp, and the
//      fewest stages (2, 3, ...) that fit, each stage tp GPUs of one node;
//   replicas = the cluster's GPUs / (tp x stages), rounded down.
// A tp or stages the user gives fixes that factor (CheckGivenLayout).
#ifndef COMPASS_PLANNING_CLUSTER_LAYOUT_H_
#define COMPASS_PLANNING_CLUSTER_LAYOUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "devices/devices.h"
#include "models/model_config.h"
#include "util/status.h"

namespace compass::planning {

struct ClusterShape {
  int64_t nodes = 1;
  int64_t gpus_per_node = 1;
  int64_t gpus() const { return nodes * gpus_per_node; }
};

// The shape of simulated devices (ParseSimulatedDevices): the nodes they
// span and the devices of node 0 (the nodes are equal).
ClusterShape ShapeOf(const std::vector<Device>& devices);

struct Layout {
  int64_t tp = 1, stages = 1, replicas = 1;
  int64_t gpus() const { return tp * stages; }  // one replica's
};

// What the user gave in [backend.paged_tp] (config or --set); 0: not given.
struct GivenLayout {
  int64_t tp = 0, stages = 0;
};

// The tps a node allows for this model: the powers of two dividing the
// GPUs of a node that TensorParallelRefusal accepts, smallest first (1 is
// always there).
std::vector<int64_t> NodeTensorParallelSizes(const model::ModelConfig& model,
                                             const ClusterShape& shape);

// InvalidArgument starting "paged_tp: " and naming the option, its value,
// the rule and a fix, when a given factor cannot be laid on the cluster:
// tp or stages below 1; tp above the GPUs of a node (a tensor-parallel
// group all-reduces in every layer and stays within a node) or not
// dividing them; the model's heads refusing tp; stages above the decoder
// layers; tp x stages above the cluster's GPUs.
Status CheckGivenLayout(const GivenLayout& given, const model::ModelConfig& model,
                        const ClusterShape& shape);

// The layouts to try, in the order of preference above, each with its
// replicas; the given factors fixed (CheckGivenLayout first). Never empty
// when CheckGivenLayout passes.
std::vector<Layout> CandidateLayouts(const GivenLayout& given, const model::ModelConfig& model,
                                     const ClusterShape& shape);

// The layouts to try on clusters larger than `shape` (more nodes of the
// same GPUs), to say what would fit: the largest tp a node allows (or the
// given one), stages = 2, 3, ... up to the decoder layers and at most
// `max_gpus` GPUs. With the given stages, only the layout of that many.
std::vector<Layout> LargerClusterLayouts(const GivenLayout& given, const model::ModelConfig& model,
                                         const ClusterShape& shape, int64_t max_gpus = 1024);

// The nodes a replica of `layout` spans: its GPUs / GPUs per node, rounded up.
int64_t NodesFor(const Layout& layout, const ClusterShape& shape);

// Stage s of replica 0: its devices [s x tp, (s + 1) x tp) and their nodes
// ("node 1: cuda:8-cuda:15"; "nodes 0-1: ..." should a stage span two, which
// a layout of this file never does).
std::string StageDevices(const Layout& layout, int64_t stage, const std::vector<Device>& devices);

// "tp = 8 x stages = 2 x replicas = 1".
std::string LayoutText(const Layout& layout);

}  // namespace compass::planning

#endif  // COMPASS_PLANNING_CLUSTER_LAYOUT_H_
