// lm-evaluation-harness task files (YAML) as jsonl task definitions, read
// with yaml-cpp (Debian's libyaml-cpp-dev).
//
// Read (a path in `include` is taken from the including file's folder; the
// including file's keys win):
//   output_type        multiple_choice | generate_until | loglikelihood_rolling
//                      (lm-eval's default: generate_until)
//   doc_to_text        the prompt (rolling tasks score doc_to_target's text,
//                      as lm-eval does, and ignore doc_to_text)
//   doc_to_choice      multiple_choice: the choices
//   doc_to_target      the gold (multiple_choice), the reference (generate)
//                      or the text (rolling)
//   description, target_delimiter, fewshot_delimiter, num_fewshot
//   generation_kwargs  until (stop strings), max_gen_toks (max new tokens),
//                      do_sample: false, temperature: 0
//   metric_list        acc, acc_norm -> mcq_accuracy; exact_match (with
//                      ignore_case, ignore_punctuation, ignore_numbers,
//                      regexes_to_ignore) -> exact_match, comparing without
//                      strip as lm-eval does; word_perplexity,
//                      byte_perplexity, bits_per_byte -> perplexity
//   task, include, repeats: 1
// Accepted without effect (the data is the task's local file, and these
// only describe where lm-eval downloads it, or label the task):
//   dataset_path, dataset_name, dataset_kwargs, training_split,
//   validation_split, test_split, fewshot_split, tag, task_alias, metadata,
//   should_decontaminate, doc_to_decontamination_query
// Refused, each with the reason and what to do instead: Python functions
// (!function anywhere, process_docs, process_results, class,
// custom_dataset), filter_list, fewshot_config, use_prompt, gen_prefix,
// multimodal and code tasks, groups, output_type loglikelihood, metrics
// without a Compass scorer, and any unknown key. Every error names the
// file, the line and the key.
#ifndef COMPASS_DATASETS_LM_EVAL_TASK_H_
#define COMPASS_DATASETS_LM_EVAL_TASK_H_

#include "compass/datasets/jsonl_options.h"

#include <filesystem>

namespace compass::datasets::jsonl {

// Throws sdk::Error COMPASS_NOT_FOUND for a missing file (or include), else
// COMPASS_INVALID_ARGUMENT "<file>:<line>: <key>: <problem>".
Options read_task_file(const std::filesystem::path& file);

}  // namespace compass::datasets::jsonl

#endif  // COMPASS_DATASETS_LM_EVAL_TASK_H_
