#include "engine.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>
#include <utility>

#include "models/causal_lm.h"
#include "scoped_timer.h"
#include "util/status_throw.h"

namespace compass::pipeline {

using backend_support::Generation;
using Timer = backend_support::ScopedTimer;

void PhaseFigures::Add(const PhaseStats& phase) {
  if (phase.micro_batches == 0) return;
  if (stats.stages.size() < phase.stages.size()) stats.stages.resize(phase.stages.size());
  for (size_t i = 0; i < phase.stages.size(); ++i) {
    StageTimes& t = stats.stages[i];
    t.busy += phase.stages[i].busy;
    t.wait_input += phase.stages[i].wait_input;
    t.wait_output += phase.stages[i].wait_output;
    t.micro_batches += phase.stages[i].micro_batches;
  }
  stats.span += phase.span;
  stats.micro_batches += phase.micro_batches;
  ++phases;
}

std::unique_ptr<MicroBatch> Engine::Finished() {
  std::unique_ptr<MicroBatch> mb = workers_.Next();
  if (!mb->error.empty()) {
    workers_.Drain();
    throw sdk::Error(COMPASS_INTERNAL, "pipeline: " + mb->error +
                                           "; every stage has stopped, the results delivered "
                                           "before are kept (run again to resume)");
  }
  return mb;
}

void Engine::Execute(const sdk::Requests& requests, const sdk::ResponseSink& sink) {
  progress_.Start(requests);
  const backend_support::Runnable runnable = backend_support::Triage(
      requests, sink, config().vocab_size, options_.max_length, progress_, tokens_);
  try {
    Loglikelihood(requests, runnable.scoring, sink);
    Generate(requests, runnable.generating, sink);
  } catch (...) {
    // Cancelled, or a stage failed: nothing may stay in flight.
    workers_.Drain();
    workers_.EndPhase();
    throw;
  }
}

void Engine::Loglikelihood(const sdk::Requests& requests, const std::vector<uint64_t>& which,
                           const sdk::ResponseSink& sink) {
  if (which.empty()) return;
  std::vector<backend_support::ScoringJob> jobs =
      backend_support::GroupByInput(requests, which, &stats_.shared_contexts);
  const std::vector<size_t> order = backend_support::LongestFirst(
      jobs, [](const backend_support::ScoringJob& j) { return j.input.size(); });
  const size_t size = static_cast<size_t>(options_.micro_batch_size);
  const size_t chunks = (order.size() + size - 1) / size;
  // Per chunk, its targets in answer order.
  std::vector<std::vector<int64_t>> targets(chunks);
  auto submit = [&](size_t chunk) {
    const size_t start = chunk * size, end = std::min(order.size(), start + size);
    std::vector<std::vector<int64_t>> inputs;
    std::vector<int64_t> rows, cols;
    for (size_t k = start; k < end; ++k) {
      const backend_support::ScoringJob& job = jobs[order[k]];
      inputs.push_back(job.input);
      for (const backend_support::Target& t : backend_support::TargetsOf(requests, job)) {
        rows.push_back(static_cast<int64_t>(k - start));
        cols.push_back(t.position);
        targets[chunk].push_back(t.token);
      }
      stats_.prompt_tokens += job.input.size();
    }
    // Right padding: causal attention never looks at the padding after a
    // row's tokens, so the step runs without a mask (as hf_native's).
    const auto batch =
        ValueOrThrow(model::MakePaddedBatch(inputs, model::Padding::kRight, first_device()));
    auto mb = std::make_unique<MicroBatch>();
    mb->tag = static_cast<int64_t>(chunk);
    mb->step = std::make_unique<model::Step>(
        ValueOrThrow(model::Step::Begin(config(), batch.input_ids, batch.positions, at::Tensor(),
                                        nullptr, options_.attention, first_device())));
    mb->head_rows = at::tensor(rows, at::kLong);
    mb->head_cols = at::tensor(cols, at::kLong);
    workers_.Submit(std::move(mb));
  };
  Timer timer(stats_.scoring_seconds);
  workers_.BeginPhase();
  size_t next = 0;
  while (next < chunks || workers_.in_flight() > 0) {
    while (next < chunks && workers_.in_flight() < options_.micro_batches) {
      host_.check_cancelled();
      submit(next++);
    }
    const std::unique_ptr<MicroBatch> mb = Finished();
    const size_t chunk = static_cast<size_t>(mb->tag);
    const backend_support::TargetScores scores =
        backend_support::ScoreTargets(mb->out, targets[chunk]);
    size_t at_row = 0;
    const size_t start = chunk * size, end = std::min(order.size(), start + size);
    for (size_t k = start; k < end; ++k) {
      const backend_support::ScoringJob& job = jobs[order[k]];
      tokens_ += job.input.size();
      for (uint64_t q : job.requests) {
        const compass_request& req = requests[q];
        sink.loglikelihood(req, backend_support::AnswerFrom(scores, at_row, targets[chunk],
                                                            req.continuation.size));
        at_row += req.continuation.size;
        progress_.Delivered(1, tokens_);
      }
    }
  }
  stats_.scoring.Add(workers_.EndPhase());
}

namespace {

// Sequences generated together through one KV cache, one micro-batch at a
// time in the stages.
struct Group {
  std::vector<Generation*> rows;
  std::vector<int64_t> position;  // each row's next position
  std::unique_ptr<model::ContiguousKvCache> cache;
  // What the next micro-batch tells stages in other processes.
  int64_t new_cache_rows = 0;
  std::vector<int64_t> kept_rows;
};

}  // namespace

void Engine::Generate(const sdk::Requests& requests, const std::vector<uint64_t>& which,
                      const sdk::ResponseSink& sink) {
  std::vector<Generation> sequences = backend_support::GenerationsOf(requests, which, token_bytes_);
  if (sequences.empty()) return;
  const std::vector<size_t> order =
      backend_support::LongestFirst(sequences, [](const Generation& g) { return g.prompt.size(); });
  const int64_t limit =
      backend_support::GenerationLimit(options_.generate_vocab, config().vocab_size);
  const c10::Device first = first_device();
  std::vector<Group> groups(static_cast<size_t>(options_.micro_batches));
  size_t next_waiting = 0;

  auto finish = [&](Generation& seq) {
    sink.generation(requests[seq.request], seq.answer);
    progress_.Delivered(1, tokens_);
  };
  auto submit = [&](int64_t g, const at::Tensor& ids, const at::Tensor& positions,
                    const at::Tensor& valid) {
    auto mb = std::make_unique<MicroBatch>();
    mb->tag = g;
    mb->cache = groups[g].cache.get();
    mb->step = std::make_unique<model::Step>(ValueOrThrow(
        model::Step::Begin(config(), ids, positions, valid, mb->cache, options_.attention, first)));
    mb->cache_group = g;
    Group& group = groups[g];
    mb->new_cache_rows = std::exchange(group.new_cache_rows, 0);
    mb->new_cache_capacity = group.cache->capacity();
    mb->kept_rows = std::move(group.kept_rows);
    group.kept_rows.clear();
    workers_.Submit(std::move(mb));
  };
  // An empty group takes the next waiting sequences (longest prompt first)
  // and submits their prefill; false when none is left.
  auto refill = [&](int64_t g) {
    Group& group = groups[g];
    group.rows.clear();
    group.position.clear();
    group.cache.reset();
    std::vector<std::vector<int64_t>> prompts;
    int64_t longest = 0, max_new = 0;
    while (next_waiting < order.size() &&
           static_cast<int64_t>(group.rows.size()) < options_.micro_batch_size) {
      Generation& seq = sequences[order[next_waiting++]];
      const int64_t n = requests[seq.request].max_new_tokens;
      if (n == 0) {
        finish(seq);
        continue;
      }
      group.rows.push_back(&seq);
      group.position.push_back(static_cast<int64_t>(seq.prompt.size()));
      prompts.push_back(seq.prompt);
      longest = std::max<int64_t>(longest, seq.prompt.size());
      max_new = std::max(max_new, n);
      stats_.prompt_tokens += seq.prompt.size();
      tokens_ += seq.prompt.size();
    }
    if (group.rows.empty()) return false;
    host_.check_cancelled();
    const auto batch = ValueOrThrow(model::MakePaddedBatch(prompts, model::Padding::kLeft, first));
    group.cache = std::make_unique<model::ContiguousKvCache>(
        static_cast<int64_t>(group.rows.size()), batch.input_ids.size(1) + max_new,
        config().num_hidden_layers);
    for (const model::Stage& stage : workers_.stages()) stage.AllocateCache(*group.cache);
    group.new_cache_rows = static_cast<int64_t>(group.rows.size());
    group.kept_rows.clear();
    submit(g, batch.input_ids, batch.positions, batch.valid);
    return true;
  };

  Timer timer(stats_.generation_seconds);
  workers_.BeginPhase();
  for (int64_t g = 0; g < static_cast<int64_t>(groups.size()); ++g) refill(g);
  while (workers_.in_flight() > 0) {
    const std::unique_ptr<MicroBatch> mb = Finished();
    const int64_t g = mb->tag;
    Group& group = groups[g];
    const std::vector<int64_t> next = backend_support::ChooseNext(group.rows, mb->out, limit);
    uint64_t appended = 0;
    const std::vector<int64_t> live =
        backend_support::AdvanceRows(requests, group.rows, next, &appended, finish);
    tokens_ += appended;
    stats_.decode_tokens += appended;
    if (live.empty()) {
      refill(g);
      continue;
    }
    if (live.size() < group.rows.size()) {
      std::vector<Generation*> rows;
      std::vector<int64_t> position;
      for (int64_t k : live) {
        rows.push_back(group.rows[k]);
        position.push_back(group.position[k]);
      }
      ThrowIfError(group.cache->KeepRows(live));
      group.kept_rows = live;
      group.rows = std::move(rows);
      group.position = std::move(position);
    }
    // The group's next decode step: each row feeds its last token.
    host_.check_cancelled();
    const int64_t n = static_cast<int64_t>(group.rows.size());
    at::Tensor ids = at::empty({n, 1}, at::kLong), pos = at::empty({n, 1}, at::kLong);
    int64_t* ids_p = ids.data_ptr<int64_t>();
    int64_t* pos_p = pos.data_ptr<int64_t>();
    for (int64_t k = 0; k < n; ++k) {
      ids_p[k] = group.rows[k]->answer.tokens.back();
      pos_p[k] = group.position[k]++;
    }
    submit(g, ids, pos, at::Tensor());
  }
  stats_.generation.Add(workers_.EndPhase());
}

}  // namespace compass::pipeline
