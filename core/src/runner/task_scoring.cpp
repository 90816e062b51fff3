#include "runner/task_scoring.h"

#include <nlohmann/json.hpp>

#include <utility>

#include "results/request_hash.h"

namespace compass {
namespace {

using json = nlohmann::json;

// An item's answers, gathered from the store; `error` when one is missing.
struct ItemOutput {
  std::vector<compass_choice_output> choices;
  std::vector<std::string> texts;  // generation samples, cut at the stop
  double logprob = 0;
  uint64_t num_tokens = 0;
  std::vector<int32_t> tokens;  // the first completion's ids
  std::vector<float> token_logprobs;
  std::string error;
};

}  // namespace

std::string CutAtStop(std::string text, const std::vector<std::string>& stops) {
  size_t cut = text.size();
  for (const auto& s : stops) {
    if (s.empty()) continue;
    const size_t pos = text.find(s);
    if (pos != std::string::npos) cut = std::min(cut, pos);
  }
  text.resize(cut);
  return text;
}

StatusOr<ScoredTask> ScoreTask(const std::string& task, const std::vector<sdk::Item>& items,
                               const TaskRequests& requests,
                               const std::map<std::string, StoredResponse>& responses,
                               const std::map<std::string, std::string>& failures,
                               const Tokenizer& tokenizer, ScorerInstance& scorer) {
  std::vector<ItemOutput> outputs(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    outputs[i].choices.assign(items[i].choices.size(),
                              compass_choice_output{sizeof(compass_choice_output), 0, 0, 0});
  }
  for (size_t r = 0; r < requests.requests.size(); ++r) {
    const compass_request& q = requests.requests[r];
    const RequestOwner& owner = requests.owner[r];
    ItemOutput& out = outputs[owner.item];
    if (!out.error.empty()) continue;
    const uint32_t samples = q.kind == COMPASS_REQUEST_GENERATE ? std::max(1u, q.num_samples) : 1;
    for (uint32_t s = 0; s < samples; ++s) {
      const auto it = responses.find(SampleKey(requests.hash[r], s));
      if (it == responses.end()) {
        const auto f = failures.find(requests.hash[r]);
        out.error = f != failures.end() ? f->second : "the backend returned no result";
        break;
      }
      const StoredResponse& resp = it->second;
      const sdk::Item& item = items[owner.item];
      if (item.kind == COMPASS_ITEM_MULTIPLE_CHOICE) {
        out.choices[owner.part] = {sizeof(compass_choice_output), resp.logprob,
                                   resp.is_greedy ? 1 : 0, resp.num_tokens};
      } else if (item.kind == COMPASS_ITEM_ROLLING) {
        out.logprob += resp.logprob;
        out.num_tokens += resp.num_tokens;
      } else {
        COMPASS_ASSIGN_OR_RETURN(std::string decoded,
                                 tokenizer.Decode(resp.tokens.data(), resp.tokens.size()));
        out.texts.push_back(CutAtStop(std::move(decoded), item.stop));
        if (s == 0) {
          out.num_tokens = resp.num_tokens;
          out.tokens = resp.tokens;
          out.token_logprobs = resp.token_logprobs;
        }
      }
    }
  }

  ScoredTask scored;
  std::map<std::pair<std::string, std::string>, std::pair<std::vector<double>, std::vector<double>>>
      series;
  for (size_t i = 0; i < items.size(); ++i) {
    const sdk::Item& item = items[i];
    ItemOutput& o = outputs[i];
    json sample = {
        {"task", task}, {"id", item.id}, {"group", item.group}, {"prompt", item.context}};
    StoredSample stored{task, item.id, item.group, i, "", {}};
    if (item.kind == COMPASS_ITEM_MULTIPLE_CHOICE) {
      json logprobs = json::array(), greedy = json::array();
      for (const auto& c : o.choices) {
        logprobs.push_back(c.logprob);
        greedy.push_back(c.is_greedy != 0);
      }
      sample["choices"] = item.choices;
      if (!item.contexts.empty()) sample["contexts"] = item.contexts;
      sample["gold"] = item.gold;
      if (item.gold >= 0 && static_cast<size_t>(item.gold) < item.choices.size()) {
        sample["reference"] = item.choices[item.gold];
        // Partial evaluation: the gold context after the shared prefix.
        if (item.contexts.size() == item.choices.size()) {
          const std::string& gold = item.contexts[item.gold];
          sample["reference"] = gold.compare(0, item.context.size(), item.context) == 0
                                    ? gold.substr(item.context.size())
                                    : gold;
        }
      }
      if (o.error.empty()) {
        sample["logprobs"] = logprobs;
        sample["is_greedy"] = greedy;
      }
    } else if (item.kind == COMPASS_ITEM_ROLLING) {
      if (o.error.empty()) {
        sample["logprob"] = o.logprob;
        sample["num_tokens"] = o.num_tokens;
      }
    } else {
      sample["references"] = item.references;
      if (!item.references.empty()) sample["reference"] = item.references[0];
      if (o.error.empty()) {
        sample["generation"] = o.texts.empty() ? std::string() : o.texts[0];
        // The first completion's ids and their log-probs: where two
        // backends first diverge (compass compare).
        sample["tokens"] = o.tokens;
        if (o.token_logprobs.size() == o.tokens.size()) sample["token_logprobs"] = o.token_logprobs;
        if (o.texts.size() > 1) sample["samples"] = o.texts;
      }
    }
    sample["doc"] = json::parse(item.doc_json, nullptr, false);
    if (!o.error.empty()) {
      sample["error"] = o.error;
      ++scored.failed_items;
    } else {
      std::vector<compass_str> sample_views;
      for (const auto& t : o.texts) sample_views.push_back(sdk::str(t));
      compass_model_output out{};
      out.struct_size = sizeof out;
      out.choices = o.choices.data();
      out.num_choices = o.choices.size();
      if (!o.texts.empty()) out.text = sdk::str(o.texts[0]);
      out.logprob = o.logprob;
      out.num_tokens = o.num_tokens;
      out.samples = sample_views.data();
      out.num_samples = sample_views.size();
      const sdk::ItemView view(item);
      COMPASS_ASSIGN_OR_RETURN(auto metrics, scorer.Score(view.item, out));
      json metric_values = json::object();
      for (size_t m = 0; m < metrics.size(); ++m) {
        const auto& metric = metrics[m];
        metric_values[metric.name] = metric.value;
        stored.metrics[metric.name] = metric.value;
        if (m == 0) {
          if (!metric.prediction.empty()) sample["prediction"] = metric.prediction;
          if (metric.value == 0.0 || metric.value == 1.0) sample["correct"] = metric.value == 1.0;
        }
        for (const std::string& group : {std::string(), item.group}) {
          auto& s = series[{metric.name, group}];
          s.first.push_back(metric.value);
          s.second.push_back(metric.weight);
          if (item.group.empty()) break;
        }
      }
      sample["metrics"] = metric_values;
    }
    // Generations may hold invalid UTF-8 (a model can emit any bytes).
    stored.sample_json = sample.dump(-1, ' ', false, json::error_handler_t::replace);
    scored.samples.push_back(std::move(stored));
  }
  for (const auto& [key, s] : series) {
    COMPASS_ASSIGN_OR_RETURN(compass_aggregate a, scorer.Aggregate(key.first, s.first, s.second));
    StoredAggregate agg;
    agg.task = task;
    agg.group = key.second;
    agg.metric = key.first;
    agg.value = a.value;
    agg.stderr_value = a.stderr_value;
    agg.stderr_method = std::string(sdk::view(a.stderr_method));
    agg.count = a.count;
    agg.higher_is_better = a.higher_is_better != 0;
    scored.aggregates.push_back(std::move(agg));
  }
  return scored;
}

}  // namespace compass
