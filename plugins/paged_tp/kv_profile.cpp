#include "kv_profile.h"

#include <ATen/ATen.h>

#include "models/cuda_memory.h"

namespace compass::paged_tp {

int64_t ProfileBlocks(const PagedPlan& plan) {
  const int64_t bs = plan.options.block_size;
  int64_t blocks = 0;
  for (int64_t n : ProfileStepRows(plan)) blocks += (n + bs - 1) / bs;
  return blocks;
}

StatusOr<int64_t> ProfileKvBlocks(ModelRunner& runner, const PagedPlan& plan) {
  const std::vector<c10::Device> devices = runner.devices();
  std::vector<MeasuredMemory> measured;
  std::vector<uint64_t> allocated;
  for (const c10::Device& d : devices) {
    COMPASS_ASSIGN_OR_RETURN(model::CudaMemoryInfo info, model::CudaMemory(d));
    COMPASS_RETURN_IF_ERROR(model::ResetCudaPeak(d));
    MeasuredMemory m;
    m.device = d.str();
    m.total = info.total;
    m.free = info.free;
    m.released = static_cast<uint64_t>(ProfileBlocks(plan)) * plan.block_bytes;
    measured.push_back(m);
    allocated.push_back(info.allocated);
  }

  const std::vector<int64_t> lengths = ProfileStepRows(plan);
  const int64_t rows = static_cast<int64_t>(lengths.size());
  const int64_t width = lengths.front();
  const int64_t bs = plan.options.block_size;
  StepInput input;
  input.ids = at::zeros({rows, width}, at::kLong);
  input.positions = at::arange(width, at::kLong).unsqueeze(0).expand({rows, width}).contiguous();
  input.valid = at::zeros({rows, width}, at::kBool);
  std::vector<int64_t> ask_rows, ask_cols;
  int32_t next_block = 0;
  for (int64_t b = 0; b < rows; ++b) {
    input.valid[b].narrow(0, 0, lengths[b]).fill_(true);
    std::vector<int32_t> table;
    for (int64_t t = 0; t < lengths[b]; t += bs) table.push_back(next_block++);
    input.tables.push_back(std::move(table));
    input.past.push_back(0);
    for (int64_t t = 0; t < lengths[b]; ++t) {
      ask_rows.push_back(b);
      ask_cols.push_back(t);
    }
  }
  try {
    runner.Step(input, ask_rows, ask_cols);
  } catch (const std::exception& e) {
    return OutOfMemory(std::string("paged_tp: the worst-case step (") +
                       std::to_string(plan.options.max_batched_tokens) +
                       " tokens) failed while measuring the KV budget: " + e.what() +
                       "; lower max_batched_tokens or max_num_seqs");
  }
  for (size_t i = 0; i < devices.size(); ++i) {
    COMPASS_ASSIGN_OR_RETURN(model::CudaMemoryInfo info, model::CudaMemory(devices[i]));
    measured[i].step_peak =
        info.peak_allocated > allocated[i] ? info.peak_allocated - allocated[i] : 0;
  }
  COMPASS_RETURN_IF_ERROR(model::ReleaseCudaCache());
  return MeasuredKvBlocks(plan, measured);
}

}  // namespace compass::paged_tp
