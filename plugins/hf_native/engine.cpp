#include "engine.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>

#include "models/causal_lm.h"
#include "util/status_throw.h"

namespace compass::hf_native {
namespace {

using Clock = std::chrono::steady_clock;
using Pair = std::pair<std::vector<int64_t>, std::vector<int64_t>>;

std::vector<int64_t> ToVector(compass_tokens t) {
  return std::vector<int64_t>(t.ids, t.ids + t.size);
}

struct Timer {
  double& total;
  Clock::time_point start = Clock::now();
  explicit Timer(double& t) : total(t) {}
  ~Timer() { total += std::chrono::duration<double>(Clock::now() - start).count(); }
};

}  // namespace

struct Engine::Job {
  std::vector<int64_t> input;
  std::vector<std::pair<size_t, std::vector<int64_t>>> targets;  // pair index, continuation
};

std::vector<Pair> Engine::RollingWindows(const std::vector<int64_t>& tokens, int64_t prefix_token,
                                         int64_t max_length) {
  std::vector<Pair> out;
  if (tokens.empty()) return out;
  const size_t n = tokens.size(), max_len = static_cast<size_t>(std::max<int64_t>(1, max_length));
  const size_t first = std::min(max_len, n);
  // The first window: [prefix] + tokens[:first-1] predicts tokens[:first];
  // made disjoint, its context is the prefix alone.
  out.push_back({{prefix_token}, std::vector<int64_t>(tokens.begin(), tokens.begin() + first)});
  size_t predicted = first;
  while (predicted < n) {
    const size_t pred_len = std::min(n - predicted, max_len);
    const size_t end = predicted + pred_len;
    // Context tokens[end - max_len - 1 : end - 1], of which the last
    // pred_len - 1 overlap the continuation: keep the disjoint part.
    const size_t ctx_begin = end - max_len - 1;
    const size_t ctx_end = end - 1 - (pred_len - 1);
    out.push_back({std::vector<int64_t>(tokens.begin() + ctx_begin, tokens.begin() + ctx_end),
                   std::vector<int64_t>(tokens.begin() + (end - pred_len), tokens.begin() + end)});
    predicted = end;
  }
  return out;
}

template <typename Done, typename Progress>
void Engine::ScorePairs(const std::vector<Pair>& pairs, Done&& done, Progress&& progress) {
  std::vector<Job> jobs;
  std::map<std::vector<int64_t>, size_t> by_input;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const auto& [context, continuation] = pairs[i];
    if (context.empty() || continuation.empty()) {
      throw sdk::Error(COMPASS_INVALID_ARGUMENT, "loglikelihood request " + std::to_string(i) +
                                                     " has an empty context or continuation");
    }
    std::vector<int64_t> full = context;
    full.insert(full.end(), continuation.begin(), continuation.end());
    if (static_cast<int64_t>(full.size()) > max_length_ + 1) {
      full.erase(full.begin(), full.end() - (max_length_ + 1));
    }
    full.pop_back();
    // Requests with the same input have the same logits: one forward serves
    // all of them (each reads its continuation off the input's tail). This
    // covers lm-evaluation-harness's shared one-token continuations and
    // choices that differ only in their last token (" A" / " B" as bytes).
    auto [it, inserted] = by_input.emplace(full, jobs.size());
    if (!inserted) {
      jobs[it->second].targets.push_back({i, continuation});
      ++stats_.shared_contexts;
      continue;
    }
    jobs.push_back({std::move(full), {{i, continuation}}});
  }
  // Longest first: padding stays small, and an out-of-memory shows at once.
  std::vector<size_t> order(jobs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return jobs[a].input.size() > jobs[b].input.size(); });
  const c10::Device device = model_.head().device;
  size_t finished = 0;
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
      for (const auto& [pair, cont] : job.targets) {
        const int64_t n = static_cast<int64_t>(cont.size());
        for (int64_t t = 0; t < n; ++t) {
          rows.push_back(static_cast<int64_t>(k - start));
          cols.push_back(len - n + t);
          targets.push_back(cont[t]);
        }
      }
      stats_.tokens += job.input.size();
    }
    const at::Tensor r = at::tensor(rows, at::kLong).to(device);
    const at::Tensor c = at::tensor(cols, at::kLong).to(device);
    const at::Tensor tgt = at::tensor(targets, at::kLong).to(device);
    at::Tensor logits = model_.Logits(hidden.index({r, c}));  // [N, vocab] float32
    const at::Tensor logp =
        at::log_softmax(logits, -1).gather(1, tgt.unsqueeze(1)).squeeze(1).cpu();
    const at::Tensor greedy = logits.argmax(-1).eq(tgt).cpu();
    const float* lp = logp.data_ptr<float>();
    const bool* gr = greedy.data_ptr<bool>();
    size_t at_row = 0;
    for (size_t k = start; k < end; ++k) {
      for (const auto& [pair, cont] : jobs[order[k]].targets) {
        Score s;
        for (size_t t = 0; t < cont.size(); ++t, ++at_row) {
          s.logprob += lp[at_row];
          s.greedy = s.greedy && gr[at_row];
          s.token_logprobs.push_back(lp[at_row]);
        }
        done(pair, s);
        ++finished;
      }
    }
    progress(finished);
  }
}

void Engine::Loglikelihood(const compass_loglikelihood_request* requests, uint64_t n,
                           const sdk::ResponseSink& sink) {
  std::vector<Pair> pairs;
  pairs.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    pairs.push_back({ToVector(requests[i].context), ToVector(requests[i].continuation)});
  }
  ScorePairs(
      pairs,
      [&](size_t i, const Score& s) {
        sink.loglikelihood(requests[i].index, s.logprob, s.greedy, s.token_logprobs);
      },
      [&](size_t done) { host_.progress(done, n, stats_.tokens); });
}

void Engine::Rolling(const compass_rolling_request* requests, uint64_t n,
                     const sdk::ResponseSink& sink) {
  std::vector<Pair> pairs;
  std::vector<size_t> owner;
  std::vector<size_t> remaining(n, 0);
  std::vector<double> total(n, 0.0);
  for (uint64_t i = 0; i < n; ++i) {
    const auto tokens = ToVector(requests[i].tokens);
    if (tokens.empty()) {
      sink.rolling(requests[i].index, 0.0, 0);
      continue;
    }
    const int64_t prefix = requests[i].prefix.size
                               ? requests[i].prefix.ids[requests[i].prefix.size - 1]
                               : model_.config().bos_token_id.value_or(tokens[0]);
    for (auto& w : RollingWindows(tokens, prefix, max_length_)) {
      pairs.push_back(std::move(w));
      owner.push_back(i);
      ++remaining[i];
    }
  }
  uint64_t done_requests = 0;
  ScorePairs(
      pairs,
      [&](size_t p, const Score& s) {
        const size_t i = owner[p];
        total[i] += s.logprob;
        if (--remaining[i] == 0) {
          sink.rolling(requests[i].index, total[i], requests[i].tokens.size);
          ++done_requests;
        }
      },
      [&](size_t) { host_.progress(done_requests, n, stats_.tokens); });
}

void Engine::Generate(const compass_generate_request* requests, uint64_t n,
                      const sdk::ResponseSink& sink) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return requests[a].context.size > requests[b].context.size;
  });
  const c10::Device device = model_.head().device;
  uint64_t finished_total = 0;
  for (size_t start = 0; start < order.size(); start += batch_size_) {
    host_.check_cancelled();
    const size_t end = std::min<size_t>(order.size(), start + batch_size_);
    const size_t b = end - start;
    std::vector<std::vector<int64_t>> prompts;
    int64_t max_new = 0, longest = 0;
    for (size_t k = start; k < end; ++k) {
      const auto& r = requests[order[k]];
      std::vector<int64_t> p = ToVector(r.context);
      const int64_t keep = std::max<int64_t>(1, max_length_ - r.max_new_tokens);
      if (static_cast<int64_t>(p.size()) > keep) p.erase(p.begin(), p.end() - keep);
      longest = std::max<int64_t>(longest, p.size());
      max_new = std::max<int64_t>(max_new, r.max_new_tokens);
      prompts.push_back(std::move(p));
    }
    std::vector<std::vector<int32_t>> out(b);
    std::vector<bool> done(b, false);
    std::vector<compass_finish_reason> reason(b, COMPASS_FINISH_LENGTH);
    std::vector<int64_t> position(b);
    for (size_t k = 0; k < b; ++k) {
      position[k] = static_cast<int64_t>(prompts[k].size());
      if (requests[order[start + k]].max_new_tokens == 0) done[k] = true;
    }
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
    auto greedy = [&](const at::Tensor& logits) {
      const int64_t v = logits.size(-1);
      const int64_t limit = generate_vocab_ > 0 && generate_vocab_ < v ? generate_vocab_ : v;
      return logits.narrow(-1, 0, limit).argmax(-1).cpu();
    };
    at::Tensor next = greedy(model_.Logits(hidden.select(1, hidden.size(1) - 1)));
    for (int64_t step = 0; step < max_new; ++step) {
      const int64_t* nx = next.data_ptr<int64_t>();
      for (size_t k = 0; k < b; ++k) {
        if (done[k]) continue;
        const auto& r = requests[order[start + k]];
        const int32_t tok = static_cast<int32_t>(nx[k]);
        const bool stop_token =
            std::find(r.stop_token_ids.ids, r.stop_token_ids.ids + r.stop_token_ids.size, tok) !=
            r.stop_token_ids.ids + r.stop_token_ids.size;
        if (stop_token) {
          done[k] = true;
          reason[k] = COMPASS_FINISH_STOP_TOKEN;
          continue;
        }
        out[k].push_back(tok);
        if (r.num_stop > 0) {
          const std::string text = host_.detokenize(out[k].data(), out[k].size());
          for (uint64_t s = 0; s < r.num_stop && !done[k]; ++s) {
            const auto stop = sdk::view(r.stop[s]);
            if (!stop.empty() && text.find(stop) != std::string::npos) {
              done[k] = true;
              reason[k] = COMPASS_FINISH_STOP_STRING;
            }
          }
        }
        if (out[k].size() >= r.max_new_tokens) done[k] = true;
      }
      if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
      host_.check_cancelled();
      std::vector<int64_t> ids(b), pos(b);
      std::vector<uint8_t> valid(b);
      for (size_t k = 0; k < b; ++k) {
        ids[k] = done[k] ? 0 : nx[k];
        pos[k] = position[k]++;
        valid[k] = done[k] ? 0 : 1;
      }
      const at::Tensor ids_t = at::tensor(ids, at::kLong).view({static_cast<int64_t>(b), 1});
      const at::Tensor pos_t = at::tensor(pos, at::kLong).view({static_cast<int64_t>(b), 1});
      const at::Tensor valid_t =
          at::tensor(std::vector<int64_t>(valid.begin(), valid.end()), at::kLong)
              .to(at::kBool)
              .view({static_cast<int64_t>(b), 1});
      {
        Timer t(stats_.seconds);
        hidden = model_.Hidden(ids_t, pos_t, valid_t, &cache);
      }
      ++stats_.forwards;
      stats_.tokens += b;
      next = greedy(model_.Logits(hidden.select(1, 0)));
    }
    for (size_t k = 0; k < b; ++k) {
      sink.generate(requests[order[start + k]].index, out[k], reason[k]);
      host_.progress(++finished_total, n, stats_.tokens);
    }
  }
}

}  // namespace compass::hf_native
