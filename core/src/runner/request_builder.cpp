#include "runner/request_builder.h"

#include <cctype>

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

RequestBatch BuildRequests(const Tokenizer& tokenizer, const std::vector<sdk::Item>& items,
                           uint32_t default_max_new_tokens, bool add_bos) {
  RequestBatch batch;
  batch.eos_ids = tokenizer.eos_ids();
  auto keep = [&](std::vector<int32_t> ids) -> compass_tokens {
    batch.buffers.push_back(std::move(ids));
    return {batch.buffers.back().data(), batch.buffers.back().size()};
  };
  // Reserve so that pointers into buffers stay valid.
  size_t needed = 0;
  for (const auto& item : items) needed += 2 * std::max<size_t>(1, item.choices.size());
  batch.buffers.reserve(needed);
  batch.stop_strings.reserve(items.size());

  for (size_t i = 0; i < items.size(); ++i) {
    const auto& item = items[i];
    switch (item.kind) {
      case COMPASS_ITEM_MULTIPLE_CHOICE:
        for (size_t c = 0; c < item.choices.size(); ++c) {
          EncodedPair pair = EncodePair(tokenizer, item.context, item.choices[c], add_bos);
          compass_loglikelihood_request r{};
          r.index = batch.loglikelihood.size();
          r.context = keep(std::move(pair.context));
          r.continuation = keep(std::move(pair.continuation));
          batch.loglikelihood.push_back(r);
          batch.loglikelihood_owner.emplace_back(i, c);
        }
        break;
      case COMPASS_ITEM_ROLLING: {
        compass_rolling_request r{};
        r.index = batch.rolling.size();
        std::vector<int32_t> prefix;
        if (tokenizer.bos_id() >= 0) prefix.push_back(tokenizer.bos_id());
        r.prefix = keep(std::move(prefix));
        r.tokens = keep(tokenizer.Encode(item.context));
        batch.rolling.push_back(r);
        batch.rolling_owner.emplace_back(i, 0);
        break;
      }
      case COMPASS_ITEM_GENERATE: {
        compass_generate_request r{};
        r.index = batch.generate.size();
        std::vector<int32_t> ctx;
        if (add_bos && tokenizer.bos_id() >= 0) ctx.push_back(tokenizer.bos_id());
        const auto enc = tokenizer.Encode(item.context);
        ctx.insert(ctx.end(), enc.begin(), enc.end());
        r.context = keep(std::move(ctx));
        auto& stops = batch.stop_strings.emplace_back();
        for (const auto& s : item.stop) stops.push_back(sdk::str(s));
        r.stop = stops.data();
        r.num_stop = stops.size();
        r.stop_token_ids = {batch.eos_ids.data(), batch.eos_ids.size()};
        r.max_new_tokens = item.max_new_tokens ? item.max_new_tokens : default_max_new_tokens;
        batch.generate.push_back(r);
        batch.generate_owner.emplace_back(i, 0);
        break;
      }
    }
  }
  return batch;
}

}  // namespace compass
