#include "report/comparison.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "report/paired_stats.h"

namespace compass {
namespace {

using json = nlohmann::json;

struct RunData {
  std::unique_ptr<ResultsStore> store;
  std::vector<StoredTask> tasks;
  // task -> item id -> sample
  std::map<std::string, std::map<std::string, StoredSample>> samples;
  std::map<std::string, std::vector<StoredAggregate>> aggregates;
  std::set<std::string> hashes;
};

StatusOr<RunData> Read(const ComparedRun& run) {
  RunData d;
  COMPASS_ASSIGN_OR_RETURN(d.store, ResultsStore::OpenExisting(run.dir, run.label));
  COMPASS_ASSIGN_OR_RETURN(d.tasks, d.store->Tasks());
  for (const StoredTask& t : d.tasks) {
    COMPASS_ASSIGN_OR_RETURN(std::vector<StoredSample> samples, d.store->Samples(t.name));
    for (StoredSample& s : samples) d.samples[t.name].emplace(s.item_id, std::move(s));
    COMPASS_ASSIGN_OR_RETURN(d.aggregates[t.name], d.store->Aggregates(t.name));
  }
  COMPASS_ASSIGN_OR_RETURN(d.hashes, d.store->ResponseHashes());
  return d;
}

json Parse(const StoredSample& s) {
  json j = json::parse(s.sample_json, nullptr, false);
  return j.is_object() ? j : json::object();
}

std::vector<double> Doubles(const json& j) {
  std::vector<double> out;
  if (!j.is_array()) return out;
  for (const auto& v : j) out.push_back(v.is_number() ? v.get<double>() : NAN);
  return out;
}

std::string Text(const json& j, const char* key) {
  if (!j.contains(key)) return "";
  const json& v = j[key];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

bool Binary(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double x) { return x == 0.0 || x == 1.0; });
}

// The paired test of `metric` on the items both runs scored.
std::optional<PairedDifference> Test(const std::string& task, const std::string& metric,
                                     const ComparedRun& ref, const RunData& a,
                                     const ComparedRun& other, const RunData& b) {
  std::vector<double> x, y;
  const auto ia = a.samples.find(task);
  const auto ib = b.samples.find(task);
  if (ia == a.samples.end() || ib == b.samples.end()) return std::nullopt;
  for (const auto& [id, sa] : ia->second) {
    const auto sb = ib->second.find(id);
    if (sb == ib->second.end()) continue;
    const auto ma = sa.metrics.find(metric), mb = sb->second.metrics.find(metric);
    if (ma == sa.metrics.end() || mb == sb->second.metrics.end()) continue;
    if (!std::isfinite(ma->second) || !std::isfinite(mb->second)) continue;
    x.push_back(ma->second);
    y.push_back(mb->second);
  }
  if (x.empty()) return std::nullopt;
  PairedDifference d;
  d.task = task;
  d.metric = metric;
  d.reference = ref.label;
  d.other = other.label;
  d.items = x.size();
  if (Binary(x) && Binary(y)) {
    auto m = report::McNemar(x, y);
    if (!m.ok()) return std::nullopt;
    d.test = m->exact ? "McNemar (exact)" : "McNemar";
    d.p_value = m->p_value;
    d.only_reference = m->only_a;
    d.only_other = m->only_b;
    d.difference = (static_cast<double>(m->only_b) - static_cast<double>(m->only_a)) /
                   static_cast<double>(x.size());
  } else {
    auto boot = report::PairedBootstrap(x, y);
    if (!boot.ok()) return std::nullopt;
    d.test = "paired bootstrap";
    d.p_value = boot->p_value;
    d.difference = boot->difference;
    d.low = boot->low;
    d.high = boot->high;
  }
  d.significant = d.p_value < 0.05;
  return d;
}

Agreement Agree(const std::string& task, const ComparedRun& ref, const RunData& a,
                const ComparedRun& other, const RunData& b) {
  Agreement g;
  g.task = task;
  g.reference = ref.label;
  g.other = other.label;
  const auto ia = a.samples.find(task);
  const auto ib = b.samples.find(task);
  if (ia == a.samples.end() || ib == b.samples.end()) return g;
  double sum = 0;
  std::vector<std::pair<uint64_t, std::string>> order;  // flips in dataset order
  for (const auto& [id, sa] : ia->second) {
    const auto it = ib->second.find(id);
    if (it == ib->second.end()) continue;
    const json ja = Parse(sa), jb = Parse(it->second);
    if (ja.contains("error") || jb.contains("error")) continue;
    ++g.items;
    const std::string pa = Text(ja, "prediction"), pb = Text(jb, "prediction");
    const bool same = pa == pb;
    if (same) ++g.same_prediction;
    if (ja.contains("logprobs")) {
      const std::vector<double> la = Doubles(ja["logprobs"]), lb = Doubles(jb["logprobs"]);
      for (size_t c = 0; c < std::min(la.size(), lb.size()); ++c) {
        const double delta = std::abs(la[c] - lb[c]);
        g.max_abs_delta = std::max(g.max_abs_delta, std::isnan(delta) ? INFINITY : delta);
        sum += delta;
        ++g.choices;
      }
      if (!same) {
        Flip f;
        f.item_id = id;
        f.reference_prediction = pa;
        f.other_prediction = pb;
        f.gold = Text(ja, "reference");
        f.reference_logprobs = la;
        f.other_logprobs = lb;
        g.flips.push_back(std::move(f));
      }
    } else if (ja.contains("logprob")) {
      const double delta = std::abs(ja["logprob"].get<double>() - jb["logprob"].get<double>());
      g.max_abs_delta = std::max(g.max_abs_delta, delta);
      sum += delta;
      ++g.choices;
    }
    if (ja.contains("tokens") && jb.contains("tokens")) {
      ++g.generations;
      const std::vector<double> ta = Doubles(ja["tokens"]), tb = Doubles(jb["tokens"]);
      if (ta == tb) {
        ++g.identical_generations;
        continue;
      }
      const std::vector<double> la = Doubles(ja.value("token_logprobs", json::array()));
      const std::vector<double> lb = Doubles(jb.value("token_logprobs", json::array()));
      Divergence d;
      d.item_id = id;
      size_t p = 0;
      while (p < ta.size() && p < tb.size() && ta[p] == tb[p]) ++p;
      d.position = static_cast<int64_t>(p);
      d.reference_token = p < ta.size() ? static_cast<int64_t>(ta[p]) : -1;
      d.other_token = p < tb.size() ? static_cast<int64_t>(tb[p]) : -1;
      d.reference_logprob = p < la.size() ? la[p] : NAN;
      d.other_logprob = p < lb.size() ? lb[p] : NAN;
      g.divergences.push_back(d);
    }
  }
  g.mean_abs_delta = g.choices ? sum / static_cast<double>(g.choices) : 0;
  // Dataset order, as the reports list items.
  auto ordinal = [&](const std::string& id) { return ia->second.at(id).ordinal; };
  std::sort(g.flips.begin(), g.flips.end(),
            [&](const Flip& x, const Flip& y) { return ordinal(x.item_id) < ordinal(y.item_id); });
  std::sort(g.divergences.begin(), g.divergences.end(),
            [&](const Divergence& x, const Divergence& y) {
              return ordinal(x.item_id) < ordinal(y.item_id);
            });
  return g;
}

}  // namespace

StatusOr<Comparison> Compare(const std::vector<ComparedRun>& runs) {
  Comparison c;
  c.runs = runs;
  std::vector<std::optional<RunData>> data(runs.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!runs[i].error.empty()) continue;
    COMPASS_ASSIGN_OR_RETURN(RunData d, Read(runs[i]));
    COMPASS_ASSIGN_OR_RETURN(RunMetadata meta, d.store->Run());
    RunFacts f;
    f.label = runs[i].label;
    f.backend = meta.backend;
    f.backend_version = meta.backend_version;
    f.compass_version = meta.compass_version + " (" + meta.git_hash + ")";
    f.dtype = meta.dtype;
    f.devices = meta.devices_json;
    f.options = meta.backend_options_json;
    f.seconds = meta.seconds;
    f.requests = d.hashes.size();
    COMPASS_ASSIGN_OR_RETURN(f.figures, d.store->Figures());
    c.facts.push_back(std::move(f));
    data[i] = std::move(d);
  }
  // The request stream: every run that ran answered the same hashes.
  const RunData* first = nullptr;
  std::string first_label;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!data[i]) continue;
    if (!first) {
      first = &*data[i];
      first_label = runs[i].label;
    } else if (data[i]->hashes != first->hashes) {
      c.identical_requests = false;
      c.request_note += (c.request_note.empty() ? "" : "; ") + runs[i].label + " answered " +
                        std::to_string(data[i]->hashes.size()) + " requests, " + first_label + " " +
                        std::to_string(first->hashes.size()) + ", not all the same";
    }
  }
  // Scores: every (task, metric) of the overall group, in the first run's
  // task order.
  std::vector<std::string> task_order;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!data[i]) continue;
    for (const StoredTask& t : data[i]->tasks) {
      if (std::find(task_order.begin(), task_order.end(), t.name) == task_order.end()) {
        task_order.push_back(t.name);
      }
    }
  }
  for (const std::string& task : task_order) {
    std::vector<std::string> metrics;
    for (size_t i = 0; i < runs.size(); ++i) {
      if (!data[i]) continue;
      for (const StoredAggregate& a : data[i]->aggregates[task]) {
        if (a.group.empty() &&
            std::find(metrics.begin(), metrics.end(), a.metric) == metrics.end()) {
          metrics.push_back(a.metric);
        }
      }
    }
    for (const std::string& metric : metrics) {
      ScoreRow row;
      row.task = task;
      row.metric = metric;
      for (size_t i = 0; i < runs.size(); ++i) {
        ScoreCell cell;
        if (data[i]) {
          for (const StoredAggregate& a : data[i]->aggregates[task]) {
            if (a.group.empty() && a.metric == metric) {
              cell = {a.value, a.stderr_value, a.count, true};
            }
          }
        }
        row.cells.push_back(cell);
      }
      c.scores.push_back(std::move(row));
    }
  }
  // Pairs: each run with the reference (the first that ran), a rerun with
  // the run it repeats.
  size_t reference = runs.size();
  for (size_t i = 0; i < runs.size(); ++i) {
    if (data[i] && runs[i].repeats.empty()) {
      reference = i;
      break;
    }
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!data[i] || i == reference) continue;
    size_t base = reference;
    if (!runs[i].repeats.empty()) {
      for (size_t k = 0; k < runs.size(); ++k) {
        if (runs[k].label == runs[i].repeats && data[k]) base = k;
      }
    }
    if (base >= runs.size()) continue;
    for (const std::string& task : task_order) {
      c.agreements.push_back(Agree(task, runs[base], *data[base], runs[i], *data[i]));
      for (const ScoreRow& row : c.scores) {
        if (row.task != task) continue;
        if (auto d = Test(task, row.metric, runs[base], *data[base], runs[i], *data[i])) {
          c.differences.push_back(std::move(*d));
        }
      }
    }
  }
  return c;
}

}  // namespace compass
