#include "engine.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <map>
#include <numeric>

#include "answers.h"
#include "scoped_timer.h"
#include "util/status_throw.h"

namespace compass::paged_tp {

using backend_support::Generation;
using backend_support::ScoringJob;
using backend_support::Target;
using backend_support::TargetScores;

namespace {

// A scheduler sequence: a scoring job (all its requests share the input) or
// one generation sample.
struct Entry {
  bool scoring = false;
  size_t index = 0;  // into jobs or generations
  std::vector<int32_t> prompt;
  int64_t logits_from = 0;
  int64_t max_new_tokens = 0;
  // Scoring: the targets and their scores, filled as the chunks that hold
  // their positions are computed.
  std::vector<Target> targets;
  TargetScores scores;
};

std::vector<int32_t> Int32(const std::vector<int64_t>& ids) {
  return std::vector<int32_t>(ids.begin(), ids.end());
}

}  // namespace

void Engine::Delivered(uint64_t n) {
  progress_.Delivered(n, stats_.prompt_tokens_computed + stats_.decode_tokens);
}

void Engine::Execute(const sdk::Requests& requests, const sdk::ResponseSink& sink) {
  const model::ModelConfig& config = runner_.config();
  progress_.Start(requests);
  const backend_support::Runnable runnable =
      backend_support::Triage(requests, sink, config.vocab_size, options_.max_length, progress_,
                              stats_.prompt_tokens_computed + stats_.decode_tokens);
  const std::vector<uint64_t>& scoring = runnable.scoring;
  const std::vector<uint64_t>& generating = runnable.generating;
  const std::vector<ScoringJob> jobs =
      backend_support::GroupByInput(requests, scoring, &stats_.shared_contexts);
  std::vector<Generation> generations =
      backend_support::GenerationsOf(requests, generating, token_bytes_);

  std::vector<Entry> entries;
  for (size_t j = 0; j < jobs.size(); ++j) {
    Entry e;
    e.scoring = true;
    e.index = j;
    e.prompt = Int32(jobs[j].input);
    e.logits_from = jobs[j].logits_from;
    e.targets = backend_support::TargetsOf(requests, jobs[j]);
    const size_t n = e.targets.size();
    e.scores.logprob.resize(n);
    e.scores.best_logprob.resize(n);
    e.scores.best.resize(n);
    entries.push_back(std::move(e));
  }
  for (size_t g = 0; g < generations.size(); ++g) {
    const compass_request& r = requests[generations[g].request];
    if (r.max_new_tokens == 0) {
      sink.generation(r, generations[g].answer);
      Delivered(1);
      continue;
    }
    Entry e;
    e.index = g;
    e.prompt = Int32(generations[g].prompt);
    e.logits_from = static_cast<int64_t>(e.prompt.size()) - 1;
    e.max_new_tokens = r.max_new_tokens;
    entries.push_back(std::move(e));
  }
  // In token order: sequences with a common prefix are neighbours, and the
  // scheduler admits them side by side.
  std::vector<size_t> order(entries.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return entries[a].prompt < entries[b].prompt; });

  BlockManager blocks(options_.num_blocks, options_.block_size, options_.prefix_caching);
  Scheduler scheduler(&blocks, options_.scheduler);
  auto fail = [&](const Entry& e, const Status& s) {
    const std::vector<uint64_t> owners =
        e.scoring ? jobs[e.index].requests : std::vector<uint64_t>{generations[e.index].request};
    for (uint64_t q : owners) {
      sink.error(requests[q], s.code(), s.message());
      Delivered(1);
    }
  };
  for (size_t k : order) {
    Entry& e = entries[k];
    SequenceSpec spec;
    spec.id = static_cast<SeqId>(k);
    spec.prompt = e.prompt;
    spec.logits_from = e.logits_from;
    spec.max_new_tokens = e.max_new_tokens;
    stats_.prompt_tokens_requested += e.prompt.size();
    if (Status s = scheduler.Add(std::move(spec)); !s.ok()) fail(e, s);
  }

  const int64_t limit =
      backend_support::GenerationLimit(options_.generate_vocab, config.vocab_size);
  while (!scheduler.Empty()) {
    host_.check_cancelled();
    const Step step = scheduler.Schedule();
    if (step.chunks.empty()) {
      throw sdk::Error(COMPASS_INTERNAL, "paged_tp: the scheduler has work but planned no step");
    }
    const int64_t rows = static_cast<int64_t>(step.chunks.size());
    int64_t width = 0;
    for (const Chunk& c : step.chunks) width = std::max<int64_t>(width, c.tokens.size());
    StepInput input;
    input.ids = at::zeros({rows, width}, at::kLong);
    input.positions = at::zeros({rows, width}, at::kLong);
    input.valid = at::zeros({rows, width}, at::kBool);
    int64_t* ids = input.ids.data_ptr<int64_t>();
    int64_t* pos = input.positions.data_ptr<int64_t>();
    bool* valid = input.valid.data_ptr<bool>();
    // Logits asked for: the scoring targets whose positions this step
    // computes, then each generation's next token.
    std::vector<int64_t> at_rows, at_cols, score_tokens;
    std::vector<std::pair<Entry*, size_t>> score_slots;  // entry, target index
    std::vector<Generation*> choosing;
    std::vector<const Chunk*> choosing_chunks;
    bool prefill = false;
    for (int64_t b = 0; b < rows; ++b) {
      const Chunk& c = step.chunks[b];
      const int64_t n = static_cast<int64_t>(c.tokens.size());
      for (int64_t t = 0; t < n; ++t) {
        ids[b * width + t] = c.tokens[t];
        pos[b * width + t] = c.start + t;
        valid[b * width + t] = true;
      }
      input.tables.push_back(blocks.Table(c.id));
      input.past.push_back(c.start);
      prefill = prefill || !c.decode;
      if (!c.decode) stats_.prompt_tokens_computed += n;
      Entry& e = entries[static_cast<size_t>(c.id)];
      if (e.scoring) {
        for (size_t i = 0; i < e.targets.size(); ++i) {
          const int64_t p = e.targets[i].position;
          if (p >= c.start && p < c.start + n) {
            at_rows.push_back(b);
            at_cols.push_back(p - c.start);
            score_tokens.push_back(e.targets[i].token);
            score_slots.emplace_back(&e, i);
          }
        }
      } else if (c.last_of_prompt || c.decode) {
        choosing.push_back(&generations[e.index]);
        choosing_chunks.push_back(&c);
      }
    }
    const size_t n_scores = at_rows.size();
    for (const Chunk* c : choosing_chunks) {
      at_rows.push_back(static_cast<int64_t>(c - step.chunks.data()));
      at_cols.push_back(static_cast<int64_t>(c->tokens.size()) - 1);
    }
    at::Tensor logits;
    {
      backend_support::ScopedTimer timer(prefill ? stats_.prefill_seconds : stats_.decode_seconds);
      logits = runner_.Step(input, at_rows, at_cols);
    }
    ++stats_.steps;
    if (n_scores > 0) {
      const TargetScores s =
          backend_support::ScoreTargets(logits.narrow(0, 0, n_scores), score_tokens);
      for (size_t i = 0; i < n_scores; ++i) {
        auto [e, t] = score_slots[i];
        e->scores.logprob[t] = s.logprob[i];
        e->scores.best_logprob[t] = s.best_logprob[i];
        e->scores.best[t] = s.best[i];
      }
    }
    std::map<SeqId, int32_t> next_token;
    std::vector<SeqId> finished;
    if (!choosing.empty()) {
      const std::vector<int64_t> next =
          backend_support::ChooseNext(choosing, logits.narrow(0, n_scores, choosing.size()), limit);
      for (size_t k = 0; k < choosing.size(); ++k) {
        Generation& g = *choosing[k];
        const SeqId id = choosing_chunks[k]->id;
        if (backend_support::Advance(g, requests[g.request], next[k])) {
          sink.generation(requests[g.request], g.answer);
          Delivered(1);
          finished.push_back(id);
        } else {
          ++stats_.decode_tokens;
          next_token[id] = static_cast<int32_t>(next[k]);
        }
      }
    }
    for (const Chunk& c : step.chunks) {
      const Entry& e = entries[static_cast<size_t>(c.id)];
      if (!e.scoring || !c.last_of_prompt) continue;
      std::vector<int64_t> targets;
      for (const Target& t : e.targets) targets.push_back(t.token);
      size_t at = 0;
      for (uint64_t q : jobs[e.index].requests) {
        const compass_request& r = requests[q];
        sink.loglikelihood(r,
                           backend_support::AnswerFrom(e.scores, at, targets, r.continuation.size));
        at += r.continuation.size;
        Delivered(1);
      }
      finished.push_back(c.id);
    }
    scheduler.Completed(step, next_token);
    for (SeqId id : finished) scheduler.Finish(id);
  }
  stats_.preemptions += scheduler.stats().preemptions;
  stats_.peak_blocks = std::max(stats_.peak_blocks, blocks.stats().peak_used_blocks);
}

}  // namespace compass::paged_tp
