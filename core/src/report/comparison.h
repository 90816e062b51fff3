// `compass compare`: the same run (identical requests, so identical token
// ids) on several backends, compared item by item from their run folders'
// results stores alone. Each backend is compared with the reference (the
// first one given); a batch-size rerun of a backend (`label@bsN`) with the
// backend it repeats.
//
// Per task: every backend's scores with standard errors and a paired test
// of each difference (McNemar for 0/1 metrics, exact for few discordant
// items; a paired bootstrap interval otherwise); agreement (share of items
// with the same prediction, max and mean |delta log-prob| over choices, the
// items whose prediction flips with both log-prob vectors, for generations
// the first token where they diverge with both tokens' log-probs);
// performance (run time and each backend's own figures); and the
// environment that explains a difference.
#ifndef COMPASS_REPORT_COMPARISON_H_
#define COMPASS_REPORT_COMPARISON_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "results/results_store.h"
#include "util/status.h"

namespace compass {

// One backend's run in a comparison.
struct ComparedRun {
  std::string label;    // "hf_native", "paged_tp", "hf_native@bs1"; its label in the store
  std::string dir;      // the folder of the results store holding it
  std::string error;    // why it has no results (it could not run); empty when it ran
  std::string repeats;  // for a batch-size rerun: the label it repeats; else empty
};

struct ScoreCell {
  double value = 0, stderr_value = 0;
  uint64_t count = 0;
  bool present = false;
};

struct ScoreRow {
  std::string task, metric;
  std::vector<ScoreCell> cells;  // per run, in ComparedRun order
};

// A paired test of other - reference on one task's metric.
struct PairedDifference {
  std::string task, metric, reference, other;
  uint64_t items = 0;  // items scored by both
  double difference = 0;
  std::string test;  // "McNemar (exact)", "McNemar", "paired bootstrap"
  double p_value = 1;
  double low = 0, high = 0;                     // bootstrap interval (0, 0 for McNemar)
  uint64_t only_reference = 0, only_other = 0;  // McNemar's discordant items
  bool significant = false;                     // p < 0.05
};

struct Flip {
  std::string item_id;
  std::string reference_prediction, other_prediction, gold;
  std::vector<double> reference_logprobs, other_logprobs;  // per choice
};

struct Divergence {
  std::string item_id;
  int64_t position = -1;  // first generated token that differs (-1: identical)
  int64_t reference_token = -1, other_token = -1;   // -1: the sequence ended
  double reference_logprob = 0, other_logprob = 0;  // NaN when unknown
};

struct Agreement {
  std::string task, reference, other;
  uint64_t items = 0, same_prediction = 0;
  uint64_t choices = 0;  // log-probs compared
  double max_abs_delta = 0, mean_abs_delta = 0;
  std::vector<Flip> flips;
  uint64_t generations = 0, identical_generations = 0;
  std::vector<Divergence> divergences;  // generations that differ
  double share() const { return items ? static_cast<double>(same_prediction) / items : 1.0; }
};

struct RunFacts {
  std::string label, backend, backend_version, compass_version, dtype, devices,
      options;  // devices and options as JSON
  double seconds = 0;
  uint64_t requests = 0;  // responses stored
  std::vector<StoredFigure> figures;
};

struct Comparison {
  std::vector<ComparedRun> runs;
  std::vector<RunFacts> facts;  // per run that ran
  std::vector<ScoreRow> scores;
  std::vector<PairedDifference> differences;
  std::vector<Agreement> agreements;
  // Whether every run that ran answered the same requests (same hashes).
  bool identical_requests = true;
  std::string request_note;  // which runs differ, when not identical
};

// Reads each run's store and compares. IoError/DataLoss from a store that
// cannot be read; runs with an error are listed, not read.
StatusOr<Comparison> Compare(const std::vector<ComparedRun>& runs);

struct ComparisonFiles {
  std::string json, markdown, html;
};

// compare.json, compare.md and a self-contained compare.html (inline SVG
// charts) in `dir`, replaced as one (util/atomic_file.h): a failure is an
// IoError naming the file, and leaves the previous comparison whole.
StatusOr<ComparisonFiles> WriteComparison(const Comparison& comparison, const std::string& dir);

// The terminal summary: scores side by side, agreement and the tests.
std::string ComparisonTable(const Comparison& comparison);

}  // namespace compass

#endif  // COMPASS_REPORT_COMPARISON_H_
