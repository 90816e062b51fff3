#include "model_runner.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>

#include "util/status_throw.h"

namespace compass::paged_tp {
namespace {

// Rows of one forward: a [rows, width] block pads every row to the longest,
// so rows run together only while none is shorter than half the longest
// (a step mixing a 600-token prefill with 60-token ones would otherwise
// compute ten times the tokens it needs).
std::vector<std::vector<int64_t>> GroupByLength(const std::vector<int64_t>& lengths) {
  std::vector<int64_t> order(lengths.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return lengths[a] > lengths[b]; });
  std::vector<std::vector<int64_t>> groups;
  for (int64_t b : order) {
    if (groups.empty() || 2 * lengths[b] < lengths[groups.back().front()]) groups.emplace_back();
    groups.back().push_back(b);
  }
  return groups;
}

}  // namespace

at::Tensor SingleDeviceRunner::Step(const StepInput& input, const std::vector<int64_t>& rows,
                                    const std::vector<int64_t>& cols) {
  const at::Tensor counts = input.valid.sum(1);
  const int64_t* count = counts.data_ptr<int64_t>();
  const std::vector<int64_t> lengths(count, count + counts.size(0));
  at::Tensor out;
  for (const std::vector<int64_t>& group : GroupByLength(lengths)) {
    const int64_t width = std::max<int64_t>(1, lengths[group.front()]);
    const at::Tensor which = at::tensor(group, at::kLong);
    std::vector<std::vector<int32_t>> tables;
    std::vector<int64_t> past;
    std::vector<int64_t> local(lengths.size(), -1);
    for (size_t k = 0; k < group.size(); ++k) {
      tables.push_back(input.tables[group[k]]);
      past.push_back(input.past[group[k]]);
      local[group[k]] = static_cast<int64_t>(k);
    }
    std::vector<int64_t> asks, ask_rows, ask_cols;
    for (size_t i = 0; i < rows.size(); ++i) {
      if (local[rows[i]] < 0) continue;
      asks.push_back(static_cast<int64_t>(i));
      ask_rows.push_back(local[rows[i]]);
      ask_cols.push_back(cols[i]);
    }
    model::PagedKvCache cache(pool_, std::move(tables), std::move(past));
    const at::Tensor hidden =
        ValueOrThrow(model_.Hidden(input.ids.index_select(0, which).narrow(1, 0, width),
                                   input.positions.index_select(0, which).narrow(1, 0, width),
                                   input.valid.index_select(0, which).narrow(1, 0, width), &cache));
    if (asks.empty()) continue;
    const c10::Device device = hidden.device();
    const at::Tensor logits = model_.Logits(hidden.index(
        {at::tensor(ask_rows, at::kLong).to(device), at::tensor(ask_cols, at::kLong).to(device)}));
    if (!out.defined()) {
      out = at::empty({static_cast<int64_t>(rows.size()), logits.size(1)}, logits.options());
    }
    out.index_copy_(0, at::tensor(asks, at::kLong).to(device), logits);
  }
  return out;
}

}  // namespace compass::paged_tp
