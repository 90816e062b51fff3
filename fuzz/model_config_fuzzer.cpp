// A model's config.json: parsed and validated, then the parameter list and
// the accounting a plan derives from it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "models/dtype.h"
#include "models/model_config.h"
#include "status_check.h"

using namespace compass;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = model::ParseModelConfig(text, "config.json");
  if (!config.ok()) {
    fuzz::CheckNotInternal(config.status());
    return 0;
  }
  for (const model::ParamSpec& p : model::ExpectedParameters(*config)) {
    (void)p.numel();
    (void)model::ShapeString(p.shape);
  }
  for (model::DType dtype : {model::DType::kF32, model::DType::kF16, model::DType::kBF16}) {
    (void)model::AccountParameters(*config, dtype).Summary();
  }
  (void)config->num_key_value_groups();
  (void)config->q_size();
  (void)config->kv_size();
  return 0;
}
