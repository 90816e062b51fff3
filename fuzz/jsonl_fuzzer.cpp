// The generic JSON Lines dataset: the input is the task's options as JSON
// (kind, prompt, choices, answer, target, ... as eval.toml gives them), a
// NUL byte, then the data file; items are built 2-shot. A fewshot_path
// option is pointed at a copy of the data file, so that the input never
// names a file outside the scratch folder.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "compass/datasets/jsonl_dataset.h"
#include "dataset_run.h"
#include "fuzz_support.h"

using namespace compass;
namespace jsonl = compass::datasets::jsonl;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = fuzz::SplitAtNul(data, size, 2);
  jsonl::Config config;
  try {
    config.options = jsonl::parse_options(parts[0]);
  } catch (const sdk::Error&) {
    return 0;
  }
  fuzz::ResetScratch();
  config.file = fuzz::WriteScratch("data.jsonl", parts[1]);
  if (!config.options.fewshot_path.empty()) {
    fuzz::WriteScratch("shots.jsonl", parts[1]);
    config.options.fewshot_path = "shots.jsonl";
  }
  config.num_shots = 2;
  fuzz::RunDataset<jsonl::JsonlDataset>(config);
  return 0;
}
