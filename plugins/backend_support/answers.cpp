#include "answers.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <map>

namespace compass::backend_support {
namespace {

bool Contains(compass_tokens set, int32_t id) {
  return std::find(set.ids, set.ids + set.size, id) != set.ids + set.size;
}

}  // namespace

std::string CheckRequest(const compass_request& r, int64_t vocab, int64_t max_length) {
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
  if (static_cast<int64_t>(length) > std::max<int64_t>(max_length, r.context.size + 1)) {
    return "request of " + std::to_string(length) + " tokens exceeds the context window of " +
           std::to_string(max_length);
  }
  return "";
}

uint64_t AnswersOwed(const compass_request& r) {
  return r.kind == COMPASS_REQUEST_GENERATE ? std::max(1u, r.num_samples) : 1;
}

void Progress::Start(const sdk::Requests& requests) {
  delivered_ = 0;
  owed_ = 0;
  for (uint64_t i = 0; i < requests.size(); ++i) owed_ += AnswersOwed(requests[i]);
}

void Progress::Delivered(uint64_t n, uint64_t tokens) {
  delivered_ += n;
  host_.progress(delivered_, owed_, tokens);
}

Runnable Triage(const sdk::Requests& requests, const sdk::ResponseSink& sink, int64_t vocab,
                int64_t max_length, Progress& progress, uint64_t tokens) {
  Runnable out;
  for (uint64_t i = 0; i < requests.size(); ++i) {
    const compass_request& r = requests[i];
    if (r.kind != COMPASS_REQUEST_LOGLIKELIHOOD && r.kind != COMPASS_REQUEST_GENERATE) {
      sink.error(r, COMPASS_UNSUPPORTED, "unknown request kind " + std::to_string(r.kind));
      progress.Delivered(1, tokens);
      continue;
    }
    const std::string why = CheckRequest(r, vocab, max_length);
    if (!why.empty()) {
      sink.error(r, COMPASS_INVALID_ARGUMENT, why);
      progress.Delivered(AnswersOwed(r), tokens);
      continue;
    }
    (r.kind == COMPASS_REQUEST_LOGLIKELIHOOD ? out.scoring : out.generating).push_back(i);
  }
  return out;
}

std::vector<ScoringJob> GroupByInput(const sdk::Requests& requests,
                                     const std::vector<uint64_t>& which, uint64_t* shared) {
  std::vector<ScoringJob> jobs;
  std::map<std::vector<int64_t>, size_t> by_input;
  for (uint64_t i : which) {
    const compass_request& r = requests[i];
    std::vector<int64_t> input(r.context.ids, r.context.ids + r.context.size);
    input.insert(input.end(), r.continuation.ids, r.continuation.ids + r.continuation.size - 1);
    const int64_t from = static_cast<int64_t>(input.size() - r.continuation.size);
    auto [it, inserted] = by_input.emplace(input, jobs.size());
    if (!inserted) {
      ScoringJob& job = jobs[it->second];
      job.requests.push_back(i);
      job.logits_from = std::min(job.logits_from, from);
      if (shared != nullptr) ++*shared;
      continue;
    }
    jobs.push_back({std::move(input), {i}, from});
  }
  return jobs;
}

std::vector<Target> TargetsOf(const sdk::Requests& requests, const ScoringJob& job) {
  std::vector<Target> out;
  const int64_t len = static_cast<int64_t>(job.input.size());
  for (uint64_t q : job.requests) {
    const compass_tokens cont = requests[q].continuation;
    const int64_t n = static_cast<int64_t>(cont.size);
    for (int64_t t = 0; t < n; ++t) out.push_back({len - n + t, cont.ids[t]});
  }
  return out;
}

TargetScores ScoreTargets(const at::Tensor& logits, const std::vector<int64_t>& targets) {
  const at::Tensor tgt = at::tensor(targets, at::kLong).to(logits.device());
  const at::Tensor logp_all = at::log_softmax(logits.to(at::kFloat), -1);
  const at::Tensor logp = logp_all.gather(1, tgt.unsqueeze(1)).squeeze(1).cpu();
  const auto [best_lp, best_id] = logp_all.max(-1);
  const at::Tensor best_logp = best_lp.cpu();
  const at::Tensor best = best_id.to(at::kInt).cpu();
  TargetScores s;
  const size_t n = targets.size();
  s.logprob.assign(logp.data_ptr<float>(), logp.data_ptr<float>() + n);
  s.best_logprob.assign(best_logp.data_ptr<float>(), best_logp.data_ptr<float>() + n);
  s.best.assign(best.data_ptr<int32_t>(), best.data_ptr<int32_t>() + n);
  return s;
}

sdk::LoglikelihoodAnswer AnswerFrom(const TargetScores& scores, size_t at,
                                    const std::vector<int64_t>& targets, uint64_t n) {
  sdk::LoglikelihoodAnswer a;
  for (uint64_t t = 0; t < n; ++t, ++at) {
    a.logprob += scores.logprob[at];
    a.is_greedy = a.is_greedy && scores.best[at] == targets[at];
    a.token_logprobs.push_back(scores.logprob[at]);
    a.greedy_tokens.push_back(scores.best[at]);
    a.greedy_logprobs.push_back(scores.best_logprob[at]);
  }
  return a;
}

std::vector<Generation> GenerationsOf(const sdk::Requests& requests,
                                      const std::vector<uint64_t>& which,
                                      const sdk::TokenBytes& token_bytes) {
  std::vector<Generation> out;
  for (uint64_t i : which) {
    const compass_request& r = requests[i];
    for (uint32_t s = 0; s < std::max(1u, r.num_samples); ++s) {
      Generation g;
      g.request = i;
      g.sample = s;
      g.prompt.assign(r.context.ids, r.context.ids + r.context.size);
      g.answer.sample = s;
      g.stop = sdk::StopMatcher(token_bytes, r);
      g.sampler = sdk::Sampler(r, s);
      out.push_back(std::move(g));
    }
  }
  return out;
}

int64_t GenerationLimit(int64_t generate_vocab, int64_t model_vocab) {
  return generate_vocab > 0 && generate_vocab < model_vocab ? generate_vocab : model_vocab;
}

std::vector<int64_t> ChooseNext(const std::vector<Generation*>& rows, const at::Tensor& logits,
                                int64_t limit) {
  // Greedy rows take the argmax on the device; only sampling rows' logits
  // come to the host (the SDK sampler reads them there). Each chosen token's
  // log-prob is gathered on the device: [B] numbers come back, never [B, V].
  const at::Tensor limited = logits.narrow(-1, 0, limit);
  const int64_t n = static_cast<int64_t>(rows.size());
  std::vector<int64_t> sampled;
  for (int64_t k = 0; k < n; ++k) {
    if (!rows[k]->sampler.greedy()) sampled.push_back(k);
  }
  at::Tensor chosen = limited.argmax(-1);  // [B] int64 on the device
  if (!sampled.empty()) {
    const at::Tensor which = at::tensor(sampled, at::kLong);
    const at::Tensor host = limited.index_select(0, which.to(limited.device())).cpu().contiguous();
    const int64_t stride = host.size(1);
    at::Tensor picked = at::empty({static_cast<int64_t>(sampled.size())}, at::kLong);
    int64_t* pick = picked.data_ptr<int64_t>();
    for (size_t i = 0; i < sampled.size(); ++i) {
      pick[i] = rows[sampled[i]]->sampler.next(host.data_ptr<float>() + i * stride, limit);
    }
    chosen = chosen.index_copy(0, which.to(chosen.device()), picked.to(chosen.device()));
  }
  const at::Tensor logp = at::log_softmax(limited, -1).gather(1, chosen.unsqueeze(1)).squeeze(1);
  const at::Tensor host = at::stack({chosen.to(at::kDouble), logp.to(at::kDouble)}).cpu();
  const double* p = host.data_ptr<double>();
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    out[k] = static_cast<int64_t>(p[k]);
    rows[k]->answer.token_logprobs.push_back(static_cast<float>(p[n + k]));
  }
  return out;
}

std::vector<int64_t> AdvanceRows(const sdk::Requests& requests,
                                 const std::vector<Generation*>& rows,
                                 const std::vector<int64_t>& next, uint64_t* appended,
                                 const std::function<void(Generation&)>& finished) {
  std::vector<int64_t> live;
  for (size_t k = 0; k < rows.size(); ++k) {
    Generation& g = *rows[k];
    const bool done = Advance(g, requests[g.request], next[k]);
    if (g.answer.finish_reason != COMPASS_FINISH_STOP_TOKEN) ++*appended;
    if (done) {
      finished(g);
    } else {
      live.push_back(static_cast<int64_t>(k));
    }
  }
  return live;
}

c10::Device TorchDevice(const std::string& name) {
  if (name.rfind("cuda:", 0) == 0) {
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(std::stoi(name.substr(5))));
  }
  return c10::Device(c10::kCPU);
}

bool Advance(Generation& g, const compass_request& r, int64_t token) {
  if (Contains(r.stop_token_ids, static_cast<int32_t>(token))) {
    g.answer.finish_reason = COMPASS_FINISH_STOP_TOKEN;
    g.answer.token_logprobs.pop_back();
    return true;
  }
  g.answer.tokens.push_back(static_cast<int32_t>(token));
  if (g.stop.feed(token)) {
    g.answer.finish_reason = COMPASS_FINISH_STOP_STRING;
    return true;
  }
  return g.answer.tokens.size() >= r.max_new_tokens;
}

}  // namespace compass::backend_support
