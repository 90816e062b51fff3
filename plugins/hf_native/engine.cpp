#include "engine.h"

#include <ATen/ATen.h>
#include <compass/sampling.hpp>

#include <algorithm>
#include <map>
#include <numeric>

#include "answers.h"
#include "models/causal_lm.h"
#include "scoped_timer.h"
#include "util/status_throw.h"

namespace compass::hf_native {

using backend_support::Generation;
using Timer = backend_support::ScopedTimer;

void Engine::Delivered(uint64_t n) {
  progress_.Delivered(n, stats_.tokens);
}

void Engine::Execute(const sdk::Requests& requests, const sdk::ResponseSink& sink) {
  progress_.Start(requests);
  const backend_support::Runnable runnable = backend_support::Triage(
      requests, sink, model_.config().vocab_size, max_length_, progress_, stats_.tokens);
  Loglikelihood(requests, runnable.scoring, sink);
  Generate(requests, runnable.generating, sink);
}

void Engine::Loglikelihood(const sdk::Requests& requests, const std::vector<uint64_t>& which,
                           const sdk::ResponseSink& sink) {
  std::vector<backend_support::ScoringJob> jobs =
      backend_support::GroupByInput(requests, which, &stats_.shared_contexts);
  const std::vector<size_t> order = backend_support::LongestFirst(
      jobs, [](const backend_support::ScoringJob& j) { return j.input.size(); });
  const c10::Device device = model_.head().device;
  for (size_t start = 0; start < order.size(); start += batch_size_) {
    host_.check_cancelled();
    const size_t end = std::min(order.size(), start + batch_size_);
    std::vector<std::vector<int64_t>> inputs;
    for (size_t k = start; k < end; ++k) inputs.push_back(jobs[order[k]].input);
    const auto batch = ValueOrThrow(model::MakePaddedBatch(inputs, model::Padding::kRight, device));
    at::Tensor hidden;
    {
      // Right padding sits after every token of its row, where causal
      // attention never looks: the padding slots go in as tokens (their
      // outputs are not read), so attention runs as a plain causal step
      // without a [B, T, T] mask.
      Timer t(stats_.seconds);
      hidden = model_.Hidden(batch.input_ids, batch.positions, at::Tensor(), nullptr);
    }
    ++stats_.forwards;
    stats_.computed_tokens += static_cast<uint64_t>(batch.input_ids.numel());
    // Logits only where a continuation token is predicted.
    std::vector<int64_t> rows, cols, targets;
    for (size_t k = start; k < end; ++k) {
      const backend_support::ScoringJob& job = jobs[order[k]];
      for (const backend_support::Target& t : backend_support::TargetsOf(requests, job)) {
        rows.push_back(static_cast<int64_t>(k - start));
        cols.push_back(t.position);
        targets.push_back(t.token);
      }
      stats_.tokens += job.input.size();
    }
    const at::Tensor r = at::tensor(rows, at::kLong).to(device);
    const at::Tensor c = at::tensor(cols, at::kLong).to(device);
    const backend_support::TargetScores scores =
        backend_support::ScoreTargets(model_.Logits(hidden.index({r, c})), targets);
    size_t at_row = 0;
    for (size_t k = start; k < end; ++k) {
      for (uint64_t q : jobs[order[k]].requests) {
        const compass_request& req = requests[q];
        sink.loglikelihood(
            req, backend_support::AnswerFrom(scores, at_row, targets, req.continuation.size));
        at_row += req.continuation.size;
        Delivered(1);
      }
    }
  }
}

void Engine::Generate(const sdk::Requests& requests, const std::vector<uint64_t>& which,
                      const sdk::ResponseSink& sink) {
  std::vector<Generation> sequences = backend_support::GenerationsOf(requests, which, token_bytes_);
  const std::vector<size_t> order =
      backend_support::LongestFirst(sequences, [](const Generation& g) { return g.prompt.size(); });
  const c10::Device device = model_.head().device;
  const int64_t model_vocab = model_.config().vocab_size;
  const int64_t limit = backend_support::GenerationLimit(generate_vocab_, model_vocab);
  const int64_t layers = model_.config().num_hidden_layers;
  int64_t longest = 0, max_new = 0;
  for (const Generation& seq : sequences) {
    longest = std::max<int64_t>(longest, seq.prompt.size());
    max_new = std::max<int64_t>(max_new, requests[seq.request].max_new_tokens);
  }
  // Continuous batching over one contiguous cache of batch_size rows. Rows
  // that finish leave it (KeepRows) before the next step; waiting sequences
  // (longest prompt first) are prefilled in a cache of their own and join
  // the running rows (AppendRows), right-aligned, while they fit: a prompt
  // no longer than the running rows' slots, and room for its new tokens
  // before the capacity. The capacity leaves max_new_tokens of room for
  // joining after the longest sequence; when a sequence does not fit, it
  // waits until the running rows have finished and the cache starts over.
  const int64_t capacity =
      std::max(longest + max_new, std::min<int64_t>(max_length_ + 1, longest + 2 * max_new));
  if (sequences.empty()) return;
  model::ContiguousKvCache cache(std::min<int64_t>(batch_size_, sequences.size()), capacity,
                                 layers);
  cache.Clear();
  std::vector<Generation*> rows;  // the cache's rows, in order
  std::vector<int64_t> position;  // each row's next position
  size_t next_waiting = 0;
  auto finish = [&](Generation& seq) {
    sink.generation(requests[seq.request], seq.answer);
    Delivered(1);
  };
  // Applies the stop rules to each row's newly chosen token; returns the
  // rows that go on. Finished sequences are delivered at once.
  auto advance = [&](const std::vector<Generation*>& batch, const std::vector<int64_t>& next) {
    return backend_support::AdvanceRows(requests, batch, next, &stats_.tokens, finish);
  };
  while (true) {
    // Waiting sequences join while rows are free and they fit.
    std::vector<Generation*> fresh;
    std::vector<std::vector<int64_t>> prompts;
    while (next_waiting < order.size() &&
           rows.size() + fresh.size() < static_cast<size_t>(cache.row_capacity())) {
      Generation& seq = sequences[order[next_waiting]];
      const int64_t p = static_cast<int64_t>(seq.prompt.size());
      const int64_t n = requests[seq.request].max_new_tokens;
      if (n == 0) {
        finish(seq);
        ++next_waiting;
        continue;
      }
      // The slots the sequence joins: the running rows', or those of the
      // first (longest) prompt joining an empty cache.
      const int64_t slots = !rows.empty()   ? cache.length()
                            : fresh.empty() ? p
                                            : static_cast<int64_t>(prompts.front().size());
      if (p > slots || slots + n > capacity) break;
      fresh.push_back(&seq);
      prompts.push_back(seq.prompt);
      ++next_waiting;
    }
    if (!fresh.empty()) {
      host_.check_cancelled();
      if (rows.empty()) cache.Clear();
      const auto batch =
          ValueOrThrow(model::MakePaddedBatch(prompts, model::Padding::kLeft, device));
      model::ContiguousKvCache own(static_cast<int64_t>(fresh.size()), batch.input_ids.size(1),
                                   layers);
      at::Tensor hidden;
      {
        Timer t(stats_.seconds);
        hidden = model_.Hidden(batch.input_ids, batch.positions, batch.valid, &own);
      }
      ++stats_.forwards;
      stats_.computed_tokens += static_cast<uint64_t>(batch.input_ids.numel());
      for (const auto& p : prompts) stats_.tokens += p.size();
      const at::Tensor logits = model_.Logits(hidden.select(1, hidden.size(1) - 1));
      const std::vector<int64_t> live =
          advance(fresh, backend_support::ChooseNext(fresh, logits, limit));
      if (!live.empty()) {
        if (live.size() < fresh.size()) ThrowIfError(own.KeepRows(live));
        ThrowIfError(cache.AppendRows(own));
        for (int64_t k : live) {
          rows.push_back(fresh[k]);
          position.push_back(static_cast<int64_t>(fresh[k]->prompt.size()));
        }
      }
      continue;  // more may join now
    }
    if (rows.empty()) {
      if (next_waiting == order.size()) break;
      continue;
    }
    // One decode step over the running rows, each feeding its last token.
    host_.check_cancelled();
    const int64_t n = static_cast<int64_t>(rows.size());
    at::Tensor ids = at::empty({n, 1}, at::kLong), pos = at::empty({n, 1}, at::kLong);
    int64_t* ids_p = ids.data_ptr<int64_t>();
    int64_t* pos_p = pos.data_ptr<int64_t>();
    for (int64_t k = 0; k < n; ++k) {
      ids_p[k] = rows[k]->answer.tokens.back();
      pos_p[k] = position[k]++;
    }
    at::Tensor hidden;
    {
      Timer t(stats_.seconds);
      hidden = model_.Hidden(ids, pos, at::Tensor(), &cache);
    }
    ++stats_.forwards;
    stats_.computed_tokens += static_cast<uint64_t>(n);
    const at::Tensor logits = model_.Logits(hidden.select(1, 0));
    const std::vector<int64_t> live =
        advance(rows, backend_support::ChooseNext(rows, logits, limit));
    if (live.size() < rows.size()) {
      // Finished rows leave the cache and the batch.
      std::vector<Generation*> kept_rows;
      std::vector<int64_t> kept_position;
      for (int64_t k : live) {
        kept_rows.push_back(rows[k]);
        kept_position.push_back(position[k]);
      }
      if (!live.empty()) ThrowIfError(cache.KeepRows(live));
      rows = std::move(kept_rows);
      position = std::move(kept_position);
    }
  }
}

}  // namespace compass::hf_native
