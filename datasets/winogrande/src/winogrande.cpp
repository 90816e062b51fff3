#include "compass/datasets/winogrande.h"

namespace compass::datasets::winogrande {

jsonl::Options options() {
  jsonl::Settings s;
  s.kind = jsonl::Kind::kMultipleChoice;
  s.prompt = {"{{ {'1': 0, '2': 1}[answer] }}", "winogrande doc_to_text"};
  s.choices = {
      "{{ [sentence[:sentence.index('_')] + option1, sentence[:sentence.index('_')] + option2] }}",
      "winogrande doc_to_choice"};
  s.answer = {"{{ sentence[sentence.index('_') + 1:].strip() }}", "winogrande doc_to_target"};
  jsonl::Options o;
  jsonl::build_doc_functions(s, o);
  return o;
}

jsonl::Config config_from_abi(const compass_dataset_config& abi) {
  jsonl::Config config;
  config.file =
      jsonl::read_abi_config(abi, "winogrande", "winogrande: needs `path`: a jsonl file", config);
  config.options = options();
  return config;
}

}  // namespace compass::datasets::winogrande
