// A well-formed backend for loader tests: loglikelihood returns -1 per
// continuation token; figures reports one number. TABLE_VARIANT selects how
// the exported table is altered (see CMakeLists.txt).
#include <compass/plugin.hpp>

#include <cstddef>
#include <stdexcept>

namespace {

class TestBackend final : public compass::sdk::Backend {
 public:
  TestBackend(const compass::sdk::Host& host, const compass_backend_config&) : host_(host) {}
  void loglikelihood(const compass_loglikelihood_request* r, uint64_t n,
                     const compass::sdk::ResponseSink& sink) override {
    for (uint64_t i = 0; i < n; ++i) {
      if (r[i].continuation.size == 0) throw std::runtime_error("boom: empty continuation");
      sink.loglikelihood(r[i].index, -1.0 * static_cast<double>(r[i].continuation.size), true);
    }
  }
  void figures(const compass::sdk::FigureSink& sink) override {
    sink.figure("answer", 42, COMPASS_UNIT_COUNT);
  }

 private:
  compass::sdk::Host host_;
};

using Trampolines = compass::sdk::detail::BackendTrampolines<TestBackend>;

// A table as a newer minor would export it: one more slot at the end.
struct NewerTable {
  compass_backend_api base;
  void* future_slot;
};

}  // namespace

extern "C" COMPASS_PLUGIN_EXPORT const compass_backend_api* compass_backend_plugin(void) {
  static NewerTable table = [] {
    NewerTable t{};
    t.base = Trampolines::make(compass::sdk::detail::info(PLUGIN_NAME, "1.0.0", "loader test"));
#if TABLE_VARIANT == 1  // next major
    t.base.header.abi_major = COMPASS_ABI_MAJOR + 1;
#elif TABLE_VARIANT == 2  // newer minor, larger table
    t.base.header.abi_minor = COMPASS_ABI_MINOR + 1;
    t.base.header.struct_size = sizeof(NewerTable);
    t.future_slot = reinterpret_cast<void*>(0x1);
#elif TABLE_VARIANT == 3  // older minor: table ends before `figures`
    t.base.header.struct_size = offsetof(compass_backend_api, figures);
#endif
    return t;
  }();
  return &table.base;
}
