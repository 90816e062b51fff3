#include "compass/scorers/perplexity.h"

#include "compass/plugin_support/options.h"
#include "compass/plugin_support/python_random.h"
#include "compass/plugin_support/text.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace compass::scorers::perplexity {

namespace {

constexpr compass_option_spec kOptionSpecs[] = {
    sdk::option("bootstrap_iters", COMPASS_OPT_INT,
                "bootstrap resamples for the standard error (default 1000; 0: none)"),
};

[[noreturn]] void invalid(const std::string& message) {
  throw sdk::Error(COMPASS_INVALID_ARGUMENT, "perplexity: " + message);
}

std::string item_name(const compass_item& item) {
  return item.id.size > 0 ? "item '" + std::string(sdk::view(item.id)) + "'" : "item";
}

double weighted_mean(const double* values, const double* weights, const size_t* picks,
                     uint64_t count) {
  double sum = 0, total = 0;
  for (uint64_t i = 0; i < count; ++i) {
    const size_t k = picks == nullptr ? i : picks[i];
    sum += values[k] * weights[k];
    total += weights[k];
  }
  return sum / total;
}

}  // namespace

std::vector<Metric> score(const compass_item& item, const compass_model_output& output) {
  if (!COMPASS_HAS_FIELD(compass_item, item.struct_size, context) ||
      !COMPASS_HAS_FIELD(compass_model_output, output.struct_size, logprob)) {
    invalid("item or model output from an unknown ABI");
  }
  if (item.kind != COMPASS_ITEM_ROLLING) {
    invalid(item_name(item) + " is not a rolling item (kind " + std::to_string(item.kind) + ")");
  }
  const std::string_view text = sdk::view(item.context);
  if (text.empty()) invalid(item_name(item) + " has an empty text");
  if (!std::isfinite(output.logprob)) {
    invalid(item_name(item) + " has a non-finite log-likelihood");
  }
  const double words = static_cast<double>(plugin_support::count_python_words(text));
  const double bytes = static_cast<double>(text.size());
  const double nll = -output.logprob;
  return {
      {"word_perplexity", nll / words, words},
      {"byte_perplexity", nll / bytes, bytes},
      {"bits_per_byte", nll / bytes, bytes},
  };
}

double finish(std::string_view metric, double mean) {
  if (metric == "word_perplexity" || metric == "byte_perplexity") return std::exp(mean);
  if (metric == "bits_per_byte") return mean / std::log(2.0);
  invalid("unknown metric '" + std::string(metric) + "'");
}

double bootstrap_stderr(std::string_view metric, const double* values, const double* weights,
                        uint64_t count, uint64_t iters) {
  if (count < 2 || iters == 0) return std::nan("");
  const uint64_t chunk = std::min<uint64_t>(1000, iters);
  std::vector<double> results;
  for (uint64_t seed = 0; seed < iters / chunk; ++seed) {
    plugin_support::PythonRandom random(seed);
    for (uint64_t k = 0; k < chunk; ++k) {
      const std::vector<size_t> picks = random.choices(count, count);
      results.push_back(finish(metric, weighted_mean(values, weights, picks.data(), count)));
    }
  }
  if (results.size() < 2) return std::nan("");
  double sum = 0;
  for (const double r : results) sum += r;
  const double mean = sum / static_cast<double>(results.size());
  double ss = 0;
  for (const double r : results) ss += (r - mean) * (r - mean);
  return std::sqrt(ss / static_cast<double>(results.size() - 1));
}

Options parse_options(std::string_view options_json) {
  const nlohmann::json json =
      plugin_support::parse_options(options_json, "perplexity: scorer options");
  Options options;
  if (auto iters = plugin_support::get_int(json, "bootstrap_iters")) {
    if (*iters < 0) invalid("option 'bootstrap_iters' must be >= 0");
    options.bootstrap_iters = static_cast<uint64_t>(*iters);
  }
  return options;
}

compass_option_list option_specs() {
  return compass_option_list{kOptionSpecs, std::size(kOptionSpecs)};
}

compass_aggregate aggregate(std::string_view metric, const double* values, const double* weights,
                            uint64_t count, uint64_t bootstrap_iters) {
  finish(metric, 0.0);  // rejects an unknown metric
  compass_aggregate a{};
  a.count = count;
  a.higher_is_better = 0;
  a.stderr_method = sdk::str("bootstrap");
  double total = 0;
  for (uint64_t i = 0; i < count; ++i) total += weights[i];
  a.value = count > 0 && total > 0 ? finish(metric, weighted_mean(values, weights, nullptr, count))
                                   : std::nan("");
  a.stderr_value = bootstrap_stderr(metric, values, weights, count, bootstrap_iters);
  return a;
}

}  // namespace compass::scorers::perplexity
