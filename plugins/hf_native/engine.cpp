#include "engine.h"

#include <ATen/ATen.h>
#include <compass/sampling.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>

#include "models/causal_lm.h"
#include "util/status_throw.h"

namespace compass::hf_native {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<int64_t> ToVector(compass_tokens t) {
  return std::vector<int64_t>(t.ids, t.ids + t.size);
}

struct Timer {
  double& total;
  Clock::time_point start = Clock::now();
  explicit Timer(double& t) : total(t) {}
  ~Timer() { total += std::chrono::duration<double>(Clock::now() - start).count(); }
};

bool Contains(compass_tokens set, int32_t id) {
  return std::find(set.ids, set.ids + set.size, id) != set.ids + set.size;
}

}  // namespace

// One forward row of the loglikelihood path: an input and every request it
// answers (with its continuation).
struct Engine::Job {
  std::vector<int64_t> input;
  std::vector<uint64_t> requests;
};

// One completion being generated.
struct Engine::Sequence {
  uint64_t request = 0;
  uint32_t sample = 0;
  std::vector<int64_t> prompt;
  sdk::GenerationAnswer answer;
  sdk::StopMatcher stop;
  sdk::Sampler sampler;
  bool done = false;
};

void Engine::Delivered(uint64_t n) {
  delivered_ += n;
  host_.progress(delivered_, owed_, stats_.tokens);
}

std::string Engine::Check(const compass_request& r) const {
  const int64_t vocab = model_.config().vocab_size;
  for (compass_tokens t : {r.context, r.continuation}) {
    for (uint64_t i = 0; i < t.size; ++i) {
      if (t.ids[i] < 0 || t.ids[i] >= vocab) {
        return "token id " + std::to_string(t.ids[i]) +
               " is out of range for the model (vocab_size " + std::to_string(vocab) +
               "); the tokenizer does not match the checkpoint";
      }
    }
  }
  if (r.context.size == 0) return "empty context";
  const uint64_t length = r.kind == COMPASS_REQUEST_LOGLIKELIHOOD
                              ? r.context.size + r.continuation.size - 1
                              : r.context.size + r.max_new_tokens;
  if (r.kind == COMPASS_REQUEST_LOGLIKELIHOOD && r.continuation.size == 0) {
    return "empty continuation";
  }
  if (static_cast<int64_t>(length) > std::max<int64_t>(max_length_, r.context.size + 1)) {
    return "request of " + std::to_string(length) + " tokens exceeds the context window of " +
           std::to_string(max_length_);
  }
  return "";
}

void Engine::Execute(const sdk::Requests& requests, const sdk::ResponseSink& sink) {
  std::vector<uint64_t> loglikelihood, generate;
  delivered_ = 0;
  owed_ = 0;
  for (uint64_t i = 0; i < requests.size(); ++i) {
    const compass_request& r = requests[i];
    owed_ += r.kind == COMPASS_REQUEST_GENERATE ? std::max(1u, r.num_samples) : 1;
  }
  for (uint64_t i = 0; i < requests.size(); ++i) {
    const compass_request& r = requests[i];
    if (r.kind != COMPASS_REQUEST_LOGLIKELIHOOD && r.kind != COMPASS_REQUEST_GENERATE) {
      sink.error(r, COMPASS_UNSUPPORTED, "unknown request kind " + std::to_string(r.kind));
      Delivered(1);
      continue;
    }
    if (const std::string why = Check(r); !why.empty()) {
      sink.error(r, COMPASS_INVALID_ARGUMENT, why);
      Delivered(r.kind == COMPASS_REQUEST_GENERATE ? std::max(1u, r.num_samples) : 1);
      continue;
    }
    (r.kind == COMPASS_REQUEST_LOGLIKELIHOOD ? loglikelihood : generate).push_back(i);
  }
  Loglikelihood(requests, loglikelihood, sink);
  Generate(requests, generate, sink);
}

void Engine::Loglikelihood(const sdk::Requests& requests, const std::vector<uint64_t>& which,
                           const sdk::ResponseSink& sink) {
  std::vector<Job> jobs;
  std::map<std::vector<int64_t>, size_t> by_input;
  for (uint64_t i : which) {
    const compass_request& r = requests[i];
    std::vector<int64_t> input = ToVector(r.context);
    input.insert(input.end(), r.continuation.ids, r.continuation.ids + r.continuation.size - 1);
    // Requests with the same input have the same logits: one forward serves
    // all of them (each reads its continuation off the input's tail). This
    // covers lm-evaluation-harness's shared one-token continuations and
    // choices that differ only in their last token (" A" / " B" as bytes).
    auto [it, inserted] = by_input.emplace(input, jobs.size());
    if (!inserted) {
      jobs[it->second].requests.push_back(i);
      ++stats_.shared_contexts;
      continue;
    }
    jobs.push_back({std::move(input), {i}});
  }
  // Longest first: padding stays small, and an out-of-memory shows at once.
  std::vector<size_t> order(jobs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return jobs[a].input.size() > jobs[b].input.size(); });
  const c10::Device device = model_.head().device;
  for (size_t start = 0; start < order.size(); start += batch_size_) {
    host_.check_cancelled();
    const size_t end = std::min(order.size(), start + batch_size_);
    std::vector<std::vector<int64_t>> inputs;
    for (size_t k = start; k < end; ++k) inputs.push_back(jobs[order[k]].input);
    const auto batch = ValueOrThrow(model::MakePaddedBatch(inputs, model::Padding::kRight, device));
    at::Tensor hidden;
    {
      Timer t(stats_.seconds);
      hidden = model_.Hidden(batch.input_ids, batch.positions, batch.valid, nullptr);
    }
    ++stats_.forwards;
    // Logits only where a continuation token is predicted.
    std::vector<int64_t> rows, cols, targets;
    for (size_t k = start; k < end; ++k) {
      const Job& job = jobs[order[k]];
      const int64_t len = static_cast<int64_t>(job.input.size());
      for (uint64_t q : job.requests) {
        const compass_tokens cont = requests[q].continuation;
        const int64_t n = static_cast<int64_t>(cont.size);
        for (int64_t t = 0; t < n; ++t) {
          rows.push_back(static_cast<int64_t>(k - start));
          cols.push_back(len - n + t);
          targets.push_back(cont.ids[t]);
        }
      }
      stats_.tokens += job.input.size();
    }
    const at::Tensor r = at::tensor(rows, at::kLong).to(device);
    const at::Tensor c = at::tensor(cols, at::kLong).to(device);
    const at::Tensor tgt = at::tensor(targets, at::kLong).to(device);
    const at::Tensor logp_all = at::log_softmax(model_.Logits(hidden.index({r, c})), -1);
    const at::Tensor logp = logp_all.gather(1, tgt.unsqueeze(1)).squeeze(1).cpu();
    const auto [best_lp, best_id] = logp_all.max(-1);
    const at::Tensor best_logp = best_lp.cpu();
    const at::Tensor best = best_id.to(at::kInt).cpu();
    const float* lp = logp.data_ptr<float>();
    const float* blp = best_logp.data_ptr<float>();
    const int32_t* bid = best.data_ptr<int32_t>();
    size_t at_row = 0;
    for (size_t k = start; k < end; ++k) {
      for (uint64_t q : jobs[order[k]].requests) {
        const compass_request& req = requests[q];
        sdk::LoglikelihoodAnswer a;
        for (uint64_t t = 0; t < req.continuation.size; ++t, ++at_row) {
          a.logprob += lp[at_row];
          a.is_greedy = a.is_greedy && bid[at_row] == targets[at_row];
          a.token_logprobs.push_back(lp[at_row]);
          a.greedy_tokens.push_back(bid[at_row]);
          a.greedy_logprobs.push_back(blp[at_row]);
        }
        sink.loglikelihood(req, a);
        Delivered(1);
      }
    }
  }
}

void Engine::Generate(const sdk::Requests& requests, const std::vector<uint64_t>& which,
                      const sdk::ResponseSink& sink) {
  std::vector<Sequence> sequences;
  for (uint64_t i : which) {
    const compass_request& r = requests[i];
    for (uint32_t s = 0; s < std::max(1u, r.num_samples); ++s) {
      Sequence seq;
      seq.request = i;
      seq.sample = s;
      seq.prompt = ToVector(r.context);
      seq.answer.sample = s;
      seq.stop = sdk::StopMatcher(token_bytes_, r);
      seq.sampler = sdk::Sampler(r, s);
      sequences.push_back(std::move(seq));
    }
  }
  std::vector<size_t> order(sequences.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return sequences[a].prompt.size() > sequences[b].prompt.size();
  });
  const c10::Device device = model_.head().device;
  const int64_t model_vocab = model_.config().vocab_size;
  const int64_t limit =
      generate_vocab_ > 0 && generate_vocab_ < model_vocab ? generate_vocab_ : model_vocab;
  for (size_t start = 0; start < order.size(); start += batch_size_) {
    host_.check_cancelled();
    const size_t end = std::min<size_t>(order.size(), start + batch_size_);
    const size_t b = end - start;
    std::vector<Sequence*> rows;
    std::vector<std::vector<int64_t>> prompts;
    int64_t max_new = 0, longest = 0;
    for (size_t k = start; k < end; ++k) {
      Sequence& seq = sequences[order[k]];
      rows.push_back(&seq);
      prompts.push_back(seq.prompt);
      longest = std::max<int64_t>(longest, seq.prompt.size());
      const uint32_t n = requests[seq.request].max_new_tokens;
      max_new = std::max<int64_t>(max_new, n);
      if (n == 0) seq.done = true;
    }
    std::vector<int64_t> position(b);
    for (size_t k = 0; k < b; ++k) position[k] = static_cast<int64_t>(prompts[k].size());
    model::ContiguousKvCache cache(static_cast<int64_t>(b), longest + max_new + 1,
                                   model_.config().num_hidden_layers);
    const auto batch = ValueOrThrow(model::MakePaddedBatch(prompts, model::Padding::kLeft, device));
    at::Tensor hidden;
    {
      Timer t(stats_.seconds);
      hidden = model_.Hidden(batch.input_ids, batch.positions, batch.valid, &cache);
    }
    ++stats_.forwards;
    for (const auto& p : prompts) stats_.tokens += p.size();
    at::Tensor logits = model_.Logits(hidden.select(1, hidden.size(1) - 1)).narrow(-1, 0, limit);
    std::vector<int64_t> next(b, 0);
    for (int64_t step = 0; step < max_new; ++step) {
      // Choose every live row's next token, then apply the stop rules.
      const at::Tensor logp = at::log_softmax(logits, -1).cpu();
      const at::Tensor greedy = logits.argmax(-1).cpu();
      const at::Tensor logits_cpu = logits.cpu().contiguous();
      const auto logp_at = logp.accessor<float, 2>();
      const auto greedy_at = greedy.accessor<int64_t, 1>();
      for (size_t k = 0; k < b; ++k) {
        Sequence& seq = *rows[k];
        if (seq.done) continue;
        const compass_request& r = requests[seq.request];
        const int64_t tok = seq.sampler.greedy()
                                ? greedy_at[k]
                                : seq.sampler.next(logits_cpu[k].data_ptr<float>(), limit);
        next[k] = tok;
        if (Contains(r.stop_token_ids, static_cast<int32_t>(tok))) {
          seq.done = true;
          seq.answer.finish_reason = COMPASS_FINISH_STOP_TOKEN;
          continue;
        }
        seq.answer.tokens.push_back(static_cast<int32_t>(tok));
        seq.answer.token_logprobs.push_back(logp_at[k][tok]);
        ++stats_.tokens;
        if (seq.stop.feed(tok)) {
          seq.done = true;
          seq.answer.finish_reason = COMPASS_FINISH_STOP_STRING;
        } else if (seq.answer.tokens.size() >= r.max_new_tokens) {
          seq.done = true;
        }
      }
      if (std::all_of(rows.begin(), rows.end(), [](const Sequence* s) { return s->done; })) break;
      host_.check_cancelled();
      std::vector<int64_t> ids(b), pos(b), valid(b);
      for (size_t k = 0; k < b; ++k) {
        ids[k] = rows[k]->done ? 0 : next[k];
        pos[k] = position[k]++;
        valid[k] = rows[k]->done ? 0 : 1;
      }
      const int64_t rows_n = static_cast<int64_t>(b);
      const at::Tensor ids_t = at::tensor(ids, at::kLong).view({rows_n, 1});
      const at::Tensor pos_t = at::tensor(pos, at::kLong).view({rows_n, 1});
      const at::Tensor valid_t = at::tensor(valid, at::kLong).to(at::kBool).view({rows_n, 1});
      {
        Timer t(stats_.seconds);
        hidden = model_.Hidden(ids_t, pos_t, valid_t, &cache);
      }
      ++stats_.forwards;
      logits = model_.Logits(hidden.select(1, 0)).narrow(-1, 0, limit);
    }
    for (Sequence* seq : rows) {
      sink.generation(requests[seq->request], seq->answer);
      Delivered(1);
    }
  }
}

}  // namespace compass::hf_native
