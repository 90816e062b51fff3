// Rules of a run that every backend shares and the host decides before a
// backend is created: the compute dtype on the chosen devices, and the
// context window every request is fitted to.
#ifndef COMPASS_RUNNER_RUN_RULES_H_
#define COMPASS_RUNNER_RUN_RULES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "devices/devices.h"
#include "util/status.h"

namespace compass {

struct DtypeDecision {
  std::string dtype;  // "float32" | "float16" | "bfloat16"
  std::string note;   // set when the dtype differs from the one asked for
};

// bfloat16 on a device without it is refused with a fix to apply, or, with
// `allow_fallback`, becomes float16 with a note naming the devices. The
// other dtypes are kept as asked.
StatusOr<DtypeDecision> DecideDtype(const std::string& requested, bool allow_fallback,
                                    const std::vector<Device>& devices);

// The context window: `configured` when > 0, else what the checkpoint's
// config.json gives (max_position_embeddings, n_positions or n_ctx, as
// lm-evaluation-harness reads them) or a GGUF file's `<arch>.context_length`,
// else 2048 (no config.json, e.g. a byte tokenizer model folder). An
// unreadable config.json or GGUF header is an error naming it.
StatusOr<int64_t> ContextWindow(int64_t configured, const std::string& model_dir);

}  // namespace compass

#endif  // COMPASS_RUNNER_RUN_RULES_H_
