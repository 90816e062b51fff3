// Perplexity of ROLLING items as lm-evaluation-harness computes it for
// wikitext-style tasks. For an item with text t (item.context) and total
// log-likelihood ll (natural log):
//
//   words = len(re.split(r"\s+", t)),  bytes = len(t.encode("utf-8"))
//
// Per item, each metric is reported in ratio form so that the host's
// weighted mean is lm-eval's weighted_mean (sum(-ll) / sum(weight)):
//
//   word_perplexity  value -ll / words, weight words
//   byte_perplexity  value -ll / bytes, weight bytes
//   bits_per_byte    value -ll / bytes, weight bytes
//
// aggregate() turns the weighted mean m into the metric: exp(m) for the two
// perplexities, m / ln 2 for bits_per_byte; lower is better. Standard
// error: bootstrap as lm-eval's bootstrap_stderr does it (chunks of
// min(1000, iters) resamples, chunk i drawing with random.Random(i).choices,
// sample standard deviation of the resampled aggregates), reproduced bit for
// bit with PythonRandom; stderr_method "bootstrap".
#ifndef COMPASS_SCORERS_PERPLEXITY_H_
#define COMPASS_SCORERS_PERPLEXITY_H_

#include <compass/plugin.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace compass::scorers::perplexity {

struct Metric {
  std::string name;
  double value = 0;
  double weight = 0;
};

// Throws sdk::Error COMPASS_INVALID_ARGUMENT for a non-rolling item, an
// empty text or a non-finite log-likelihood.
std::vector<Metric> score(const compass_item& item, const compass_model_output& output);

// The metric from a weighted mean of ratio values; throws for an unknown
// metric name.
double finish(std::string_view metric, double weighted_mean);

// lm-eval's bootstrap_stderr of finish(metric, weighted mean) over
// (values, weights) pairs with `iters` resamples; NaN when count < 2 or
// iters == 0.
double bootstrap_stderr(std::string_view metric, const double* values, const double* weights,
                        uint64_t count, uint64_t iters);

struct Options {
  uint64_t bootstrap_iters = 1000;
};
Options parse_options(std::string_view options_json);
compass_option_list option_specs();

compass_aggregate aggregate(std::string_view metric, const double* values, const double* weights,
                            uint64_t count, uint64_t bootstrap_iters);

}  // namespace compass::scorers::perplexity

#endif  // COMPASS_SCORERS_PERPLEXITY_H_
