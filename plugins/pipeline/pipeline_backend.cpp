// Placeholder: the pipeline backend is listed by `compass plugins` but does
// not run yet; create() refuses with a clear message.
#include <compass/plugin.hpp>

namespace {

class Backend final : public compass::sdk::Backend {
 public:
  Backend(const compass::sdk::Host&, const compass_backend_config&) {
    throw compass::sdk::Error(COMPASS_UNSUPPORTED,
                              "backend 'pipeline' is not implemented in this version of Compass");
  }
  void execute(const compass::sdk::Requests&, const compass::sdk::ResponseSink&) override {}
};

}  // namespace

COMPASS_EXPORT_BACKEND(
    Backend, "pipeline", "0.0.0-unimplemented",
    "Contiguous layer stages on devices with micro-batches in flight (not implemented yet)")
