// Placeholder: the hf_native backend is listed by `compass plugins` but does
// not run yet; create() refuses with a clear message.
#include <compass/plugin.hpp>

namespace {

class Backend final : public compass::sdk::Backend {
 public:
  Backend(const compass::sdk::Host&, const compass_backend_config&) {
    throw compass::sdk::Error(COMPASS_UNSUPPORTED,
                              "backend 'hf_native' is not implemented in this version of Compass");
  }
};

}  // namespace

COMPASS_EXPORT_BACKEND(Backend, "hf_native", "0.0.0-unimplemented",
                       "Layer-wise device map over cpu/cpu:N/cuda:N devices (the reference "
                       "backend) (not implemented yet)")
