// The KV budget of CUDA ranks measured at start-up: with the weights loaded,
// paged_tp runs the worst-case step (planner.h: ProfileStepRows) and sizes
// its KV cache from the memory the devices report (MeasuredKvBlocks), as
// vLLM profiles a forward before allocating its blocks. CPU ranks keep the
// plan's budget (host memory is shared with the rest of the machine).
#ifndef COMPASS_PAGED_TP_KV_PROFILE_H_
#define COMPASS_PAGED_TP_KV_PROFILE_H_

#include <cstdint>

#include "model_runner.h"
#include "planner.h"
#include "util/status.h"

namespace compass::paged_tp {

// KV blocks the profiling step needs: each of its rows in blocks of its own.
int64_t ProfileBlocks(const PagedPlan& plan);

// Runs the worst-case step on `runner` (whose pools hold ProfileBlocks(plan)
// blocks, released before the measurement is used) and returns the blocks
// per rank that fit; the runner's KV blocks are then to be reallocated with
// AllocateKv. MeasuredKvBlocks' errors; those of the CUDA runtime.
StatusOr<int64_t> ProfileKvBlocks(ModelRunner& runner, const PagedPlan& plan);

}  // namespace compass::paged_tp

#endif  // COMPASS_PAGED_TP_KV_PROFILE_H_
