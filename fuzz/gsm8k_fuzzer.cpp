// GSM8K jsonl files ({"question", "answer"}, the final answer after
// "#### "): the input is test.jsonl and train.jsonl; items are built 2-shot.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "compass/datasets/gsm8k.h"
#include "dataset_run.h"
#include "fuzz_support.h"

using namespace compass;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view jsonl(reinterpret_cast<const char*>(data), size);
  fuzz::ResetScratch();
  fuzz::WriteScratch("test.jsonl", jsonl);
  fuzz::WriteScratch("train.jsonl", jsonl);
  datasets::gsm8k::Config config;
  config.root = fuzz::ScratchDir();
  config.num_shots = 2;
  fuzz::RunDataset<datasets::gsm8k::Gsm8k>(config);
  (void)datasets::gsm8k::final_answer(jsonl);
  return 0;
}
