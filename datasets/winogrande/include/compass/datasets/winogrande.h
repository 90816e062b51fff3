// Winogrande as lm-evaluation-harness scores it (lm_eval/tasks/winogrande):
// partial evaluation over its jsonl records (sentence, option1, option2,
// answer "1" | "2"). Its three Python functions (preprocess_winogrande.py)
// are the jsonl dataset's templates below; the items are the jsonl
// dataset's:
//
//   contexts[i]   shots + sentence[:sentence.index("_")] + option_i
//   continuation  target_delimiter + sentence[sentence.index("_") + 1:].strip()
//   gold          {"1": 0, "2": 1}[answer]
//   shot          the gold context + " " + its continuation + "\n\n"
#ifndef COMPASS_DATASETS_WINOGRANDE_H_
#define COMPASS_DATASETS_WINOGRANDE_H_

#include "compass/datasets/jsonl_dataset.h"

namespace compass::datasets::winogrande {

// The jsonl options that define the task.
jsonl::Options options();

// Task `path`: the jsonl file. No options.
jsonl::Config config_from_abi(const compass_dataset_config& config);

}  // namespace compass::datasets::winogrande

#endif  // COMPASS_DATASETS_WINOGRANDE_H_
