// ARC jsonl files (question.stem, question.choices[{text, label}],
// answerKey): the input is the Test and the Dev file; items are built
// 2-shot.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "compass/datasets/arc.h"
#include "dataset_run.h"
#include "fuzz_support.h"

using namespace compass;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view jsonl(reinterpret_cast<const char*>(data), size);
  fuzz::ResetScratch();
  fuzz::WriteScratch("ARC-Easy-Test.jsonl", jsonl);
  fuzz::WriteScratch("ARC-Easy-Dev.jsonl", jsonl);
  datasets::arc::Config config;
  config.root = fuzz::ScratchDir();
  config.options.subset = "Easy";
  config.num_shots = 2;
  fuzz::RunDataset<datasets::arc::Arc>(config);
  return 0;
}
