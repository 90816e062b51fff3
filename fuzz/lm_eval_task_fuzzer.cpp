// lm-evaluation-harness task files (YAML): the input is the task file;
// read_task_file may only throw sdk::Error naming the file and the key.
#include <compass/plugin.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "compass/datasets/lm_eval_task.h"
#include "fuzz_support.h"

using namespace compass;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::ResetScratch();
  const auto file =
      fuzz::WriteScratch("task.yaml", std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    (void)datasets::jsonl::read_task_file(file);
  } catch (const sdk::Error&) {
  }
  return 0;
}
