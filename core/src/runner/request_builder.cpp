#include "runner/request_builder.h"

#include <algorithm>
#include <cctype>

#include "results/request_hash.h"

namespace compass {

EncodedPair EncodePair(const Tokenizer& tokenizer, std::string_view context,
                       std::string_view continuation, bool add_bos) {
  size_t n_spaces = 0;
  while (n_spaces < context.size() &&
         std::isspace(static_cast<unsigned char>(context[context.size() - 1 - n_spaces]))) {
    ++n_spaces;
  }
  std::string cont;
  if (n_spaces > 0) {
    cont = std::string(context.substr(context.size() - n_spaces));
    context = context.substr(0, context.size() - n_spaces);
  }
  cont += continuation;
  const std::vector<int32_t> whole = tokenizer.Encode(std::string(context) + cont);
  const std::vector<int32_t> ctx = tokenizer.Encode(context);
  EncodedPair out;
  if (add_bos && tokenizer.bos_id() >= 0) out.context.push_back(tokenizer.bos_id());
  out.context.insert(out.context.end(), ctx.begin(), ctx.end());
  // An empty context still needs one token to predict from (lm-evaluation-
  // harness uses its prefix token, BOS or else EOS).
  if (out.context.empty()) {
    if (tokenizer.bos_id() >= 0) {
      out.context.push_back(tokenizer.bos_id());
    } else if (!tokenizer.eos_ids().empty()) {
      out.context.push_back(tokenizer.eos_ids()[0]);
    }
  }
  const size_t split = std::min(ctx.size(), whole.size());
  out.continuation.assign(whole.begin() + static_cast<std::ptrdiff_t>(split), whole.end());
  return out;
}

void FitLoglikelihood(std::vector<int32_t>& context, std::vector<int32_t>& continuation,
                      int64_t max_length) {
  const size_t window = static_cast<size_t>(std::max<int64_t>(1, max_length));
  if (continuation.size() > window) {
    // Only the last max_length continuation tokens can be predicted; the
    // token before them becomes the context.
    const size_t cut = continuation.size() - window;
    context.assign(continuation.begin() + static_cast<std::ptrdiff_t>(cut - 1),
                   continuation.begin() + static_cast<std::ptrdiff_t>(cut));
    continuation.erase(continuation.begin(),
                       continuation.begin() + static_cast<std::ptrdiff_t>(cut));
    return;
  }
  const size_t keep = window + 1 - continuation.size();
  if (context.size() > keep) {
    context.erase(context.begin(), context.end() - static_cast<std::ptrdiff_t>(keep));
  }
}

std::vector<std::pair<std::vector<int32_t>, std::vector<int32_t>>> RollingWindows(
    const std::vector<int32_t>& tokens, int32_t prefix_token, int64_t max_length) {
  std::vector<std::pair<std::vector<int32_t>, std::vector<int32_t>>> out;
  if (tokens.empty()) return out;
  const size_t n = tokens.size(), max_len = static_cast<size_t>(std::max<int64_t>(1, max_length));
  const size_t first = std::min(max_len, n);
  // The first window: [prefix] + tokens[:first-1] predicts tokens[:first];
  // made disjoint, its context is the prefix alone.
  out.push_back({{prefix_token}, std::vector<int32_t>(tokens.begin(), tokens.begin() + first)});
  size_t predicted = first;
  while (predicted < n) {
    const size_t pred_len = std::min(n - predicted, max_len);
    const size_t end = predicted + pred_len;
    // Context tokens[end - max_len - 1 : end - 1], of which the last
    // pred_len - 1 overlap the continuation: keep the disjoint part.
    const size_t ctx_begin = end - max_len - 1;
    const size_t ctx_end = end - 1 - (pred_len - 1);
    out.push_back({std::vector<int32_t>(tokens.begin() + ctx_begin, tokens.begin() + ctx_end),
                   std::vector<int32_t>(tokens.begin() + (end - pred_len), tokens.begin() + end)});
    predicted = end;
  }
  return out;
}

StatusOr<TaskRequests> BuildRequests(const Tokenizer& tokenizer,
                                     const std::vector<sdk::Item>& items,
                                     const RequestRules& rules) {
  TaskRequests out;
  out.eos_ids = tokenizer.eos_ids();
  out.windows.assign(items.size(), 0);
  const int64_t max_length = std::max<int64_t>(2, rules.max_length);
  auto keep = [&](std::vector<int32_t> ids) -> compass_tokens {
    out.buffers.push_back(std::move(ids));
    return {out.buffers.back().data(), out.buffers.back().size()};
  };
  auto add = [&](compass_request r, size_t item, size_t part) {
    r.struct_size = sizeof r;
    r.index = out.requests.size();
    out.requests.push_back(r);
    out.owner.push_back({item, part});
  };
  auto loglikelihood = [&](std::vector<int32_t> context, std::vector<int32_t> continuation,
                           size_t item, size_t part) {
    FitLoglikelihood(context, continuation, max_length);
    compass_request r{};
    r.kind = COMPASS_REQUEST_LOGLIKELIHOOD;
    r.context = keep(std::move(context));
    r.continuation = keep(std::move(continuation));
    add(r, item, part);
  };
  const int32_t prefix_token = tokenizer.bos_id() >= 0
                                   ? tokenizer.bos_id()
                                   : (out.eos_ids.empty() ? -1 : out.eos_ids.front());

  for (size_t i = 0; i < items.size(); ++i) {
    const auto& item = items[i];
    switch (item.kind) {
      case COMPASS_ITEM_MULTIPLE_CHOICE:
        if (!item.contexts.empty() && item.contexts.size() != item.choices.size()) {
          return InvalidArgument("item '" + item.id + "' has " +
                                 std::to_string(item.contexts.size()) + " contexts for " +
                                 std::to_string(item.choices.size()) +
                                 " choices; partial evaluation needs one context per choice");
        }
        for (size_t c = 0; c < item.choices.size(); ++c) {
          // Partial evaluation: each choice after its own context.
          const std::string& context = item.contexts.empty() ? item.context : item.contexts[c];
          EncodedPair pair = EncodePair(tokenizer, context, item.choices[c], rules.add_bos);
          loglikelihood(std::move(pair.context), std::move(pair.continuation), i, c);
        }
        break;
      case COMPASS_ITEM_ROLLING: {
        const std::vector<int32_t> tokens = tokenizer.Encode(item.context);
        if (tokens.empty()) break;
        if (prefix_token < 0) {
          return InvalidArgument("item '" + item.id +
                                 "': a rolling log-likelihood needs a prefix token, and the "
                                 "tokenizer has neither BOS nor EOS");
        }
        auto windows = RollingWindows(tokens, prefix_token, max_length);
        out.windows[i] = windows.size();
        for (size_t w = 0; w < windows.size(); ++w) {
          loglikelihood(std::move(windows[w].first), std::move(windows[w].second), i, w);
        }
        break;
      }
      case COMPASS_ITEM_GENERATE: {
        compass_request r{};
        r.kind = COMPASS_REQUEST_GENERATE;
        uint32_t max_new = item.max_new_tokens ? item.max_new_tokens : rules.default_max_new_tokens;
        max_new = static_cast<uint32_t>(std::min<int64_t>(max_new, max_length - 1));
        std::vector<int32_t> ctx;
        if (rules.add_bos && tokenizer.bos_id() >= 0) ctx.push_back(tokenizer.bos_id());
        const auto enc = tokenizer.Encode(item.context);
        ctx.insert(ctx.end(), enc.begin(), enc.end());
        if (ctx.empty() && prefix_token >= 0) ctx.push_back(prefix_token);
        const size_t keep_ctx = static_cast<size_t>(std::max<int64_t>(1, max_length - max_new));
        if (ctx.size() > keep_ctx)
          ctx.erase(ctx.begin(), ctx.end() - static_cast<std::ptrdiff_t>(keep_ctx));
        r.context = keep(std::move(ctx));
        auto& texts = out.stop_text.emplace_back(item.stop);
        auto& views = out.stop_views.emplace_back();
        for (const auto& s : texts) views.push_back(sdk::str(s));
        r.stop = views.data();
        r.num_stop = views.size();
        r.stop_token_ids = {out.eos_ids.data(), out.eos_ids.size()};
        r.max_new_tokens = max_new;
        r.num_samples = std::max<uint32_t>(1, rules.generation.num_samples);
        r.temperature = rules.generation.temperature;
        r.top_p = rules.generation.top_p;
        r.top_k = rules.generation.top_k;
        r.seed = rules.generation.seed;
        add(r, i, 0);
        break;
      }
    }
  }
  out.hash.reserve(out.requests.size());
  for (const auto& r : out.requests) out.hash.push_back(HashRequest(r));
  return out;
}

}  // namespace compass
