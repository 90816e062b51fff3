// HellaSwag jsonl files (activity_label, ctx_a, ctx_b, endings, label): the
// input is the file; items are built 2-shot (shots from the same file).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "compass/datasets/hellaswag.h"
#include "dataset_run.h"
#include "fuzz_support.h"

using namespace compass;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view jsonl(reinterpret_cast<const char*>(data), size);
  fuzz::ResetScratch();
  datasets::hellaswag::Config config;
  config.file = fuzz::WriteScratch("hellaswag.jsonl", jsonl);
  config.num_shots = 2;
  fuzz::RunDataset<datasets::hellaswag::Hellaswag>(config);
  (void)datasets::hellaswag::preprocess(jsonl);
  return 0;
}
