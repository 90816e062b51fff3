// MMLU subject files (headerless CSV question,A,B,C,D,answer): the input is
// the subject's test, val and dev file; items are built 2-shot.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "compass/datasets/mmlu.h"
#include "dataset_run.h"
#include "fuzz_support.h"

using namespace compass;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view csv(reinterpret_cast<const char*>(data), size);
  fuzz::ResetScratch();
  for (const char* split : {"test", "val", "dev"}) {
    fuzz::WriteScratch(std::string(split) + "/subject_" + split + ".csv", csv);
  }
  datasets::mmlu::Config config;
  config.root = fuzz::ScratchDir();
  config.num_shots = 2;
  fuzz::RunDataset<datasets::mmlu::Mmlu>(config);
  return 0;
}
