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
  const int64_t layers = model_.config().num_hidden_layers;
  int64_t longest = 0, max_new = 0;
  for (const Sequence& seq : sequences) {
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
  std::vector<Sequence*> rows;    // the cache's rows, in order
  std::vector<int64_t> position;  // each row's next position
  size_t next_waiting = 0;
  auto finish = [&](Sequence& seq) {
    sink.generation(requests[seq.request], seq.answer);
    Delivered(1);
  };
  // Applies the stop rules to each row's newly chosen token; returns the
  // rows that go on. Finished sequences are delivered at once.
  auto advance = [&](const std::vector<Sequence*>& batch, const std::vector<int64_t>& next) {
    std::vector<int64_t> live;
    for (size_t k = 0; k < batch.size(); ++k) {
      Sequence& seq = *batch[k];
      const compass_request& r = requests[seq.request];
      const int64_t tok = next[k];
      if (Contains(r.stop_token_ids, static_cast<int32_t>(tok))) {
        seq.answer.finish_reason = COMPASS_FINISH_STOP_TOKEN;
        seq.answer.token_logprobs.pop_back();
        finish(seq);
        continue;
      }
      seq.answer.tokens.push_back(static_cast<int32_t>(tok));
      ++stats_.tokens;
      if (seq.stop.feed(tok)) {
        seq.answer.finish_reason = COMPASS_FINISH_STOP_STRING;
        finish(seq);
      } else if (seq.answer.tokens.size() >= r.max_new_tokens) {
        finish(seq);
      } else {
        live.push_back(static_cast<int64_t>(k));
      }
    }
    return live;
  };
  while (true) {
    // Waiting sequences join while rows are free and they fit.
    std::vector<Sequence*> fresh;
    std::vector<std::vector<int64_t>> prompts;
    while (next_waiting < order.size() &&
           rows.size() + fresh.size() < static_cast<size_t>(cache.row_capacity())) {
      Sequence& seq = sequences[order[next_waiting]];
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
      const at::Tensor logits =
          model_.Logits(hidden.select(1, hidden.size(1) - 1)).narrow(-1, 0, limit);
      const std::vector<int64_t> live = advance(fresh, Choose(fresh, logits, limit));
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
    const at::Tensor logits = model_.Logits(hidden.select(1, 0)).narrow(-1, 0, limit);
    const std::vector<int64_t> live = advance(rows, Choose(rows, logits, limit));
    if (live.size() < rows.size()) {
      // Finished rows leave the cache and the batch.
      std::vector<Sequence*> kept_rows;
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

std::vector<int64_t> Engine::Choose(const std::vector<Sequence*>& rows, const at::Tensor& logits,
                                    int64_t limit) {
  // Greedy rows take the argmax on the device; only sampling rows' logits
  // come to the host (the SDK sampler reads them there). Each chosen token's
  // log-prob is gathered on the device: [B] numbers come back, never [B, V].
  const int64_t n = static_cast<int64_t>(rows.size());
  std::vector<int64_t> sampled;
  for (int64_t k = 0; k < n; ++k) {
    if (!rows[k]->sampler.greedy()) sampled.push_back(k);
  }
  at::Tensor chosen = logits.argmax(-1);  // [B] int64 on the device
  if (!sampled.empty()) {
    const at::Tensor which = at::tensor(sampled, at::kLong);
    const at::Tensor host = logits.index_select(0, which.to(logits.device())).cpu().contiguous();
    const int64_t stride = host.size(1);
    at::Tensor picked = at::empty({static_cast<int64_t>(sampled.size())}, at::kLong);
    int64_t* pick = picked.data_ptr<int64_t>();
    for (size_t i = 0; i < sampled.size(); ++i) {
      pick[i] = rows[sampled[i]]->sampler.next(host.data_ptr<float>() + i * stride, limit);
    }
    chosen = chosen.index_copy(0, which.to(chosen.device()), picked.to(chosen.device()));
  }
  const at::Tensor logp = at::log_softmax(logits, -1).gather(1, chosen.unsqueeze(1)).squeeze(1);
  const at::Tensor host = at::stack({chosen.to(at::kDouble), logp.to(at::kDouble)}).cpu();
  const double* p = host.data_ptr<double>();
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    out[k] = static_cast<int64_t>(p[k]);
    rows[k]->answer.token_logprobs.push_back(static_cast<float>(p[n + k]));
  }
  return out;
}

}  // namespace compass::hf_native
