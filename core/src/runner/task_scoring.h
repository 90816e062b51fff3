// Scores one task from stored responses: builds each item's model output
// (choices' log-probs, a rolling text's summed windows, a generation's text
// cut at its first stop string), asks the scorer for per-sample metrics, and
// aggregates every metric over the task and over each group.
#ifndef COMPASS_RUNNER_TASK_SCORING_H_
#define COMPASS_RUNNER_TASK_SCORING_H_

#include <compass/plugin.hpp>

#include <map>
#include <string>
#include <vector>

#include "plugin_host/plugin_instances.h"
#include "results/results_store.h"
#include "runner/request_builder.h"
#include "tokenizer/tokenizer.h"
#include "util/status.h"

namespace compass {

struct ScoredTask {
  std::vector<StoredSample> samples;
  std::vector<StoredAggregate> aggregates;
  uint64_t failed_items = 0;  // items whose requests failed: recorded, not scored
};

// Cuts a generation before the first stop string.
std::string CutAtStop(std::string text, const std::vector<std::string>& stops);

// `responses` holds every stored response by store key (SampleKey);
// `failures` the error message of each request hash that failed in this
// run. An item with a failed or missing request is recorded with its error
// and left out of the aggregates.
StatusOr<ScoredTask> ScoreTask(const std::string& task, const std::vector<sdk::Item>& items,
                               const TaskRequests& requests,
                               const std::map<std::string, StoredResponse>& responses,
                               const std::map<std::string, std::string>& failures,
                               const Tokenizer& tokenizer, ScorerInstance& scorer);

}  // namespace compass

#endif  // COMPASS_RUNNER_TASK_SCORING_H_
