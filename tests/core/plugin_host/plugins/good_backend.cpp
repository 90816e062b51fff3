// A well-formed backend for loader tests: a loglikelihood request scores -1
// per continuation token; a request whose context holds token 666 is
// answered with its own error; an empty continuation throws (the whole call
// fails); figures reports one number. TABLE_VARIANT selects how the exported
// table is altered (see CMakeLists.txt).
#include <compass/plugin.hpp>

#include <cstddef>
#include <stdexcept>

namespace {

class TestBackend final : public compass::sdk::Backend {
 public:
  static constexpr uint64_t capabilities = COMPASS_CAN_LOGLIKELIHOOD;
  TestBackend(const compass::sdk::Host& host, const compass_backend_config&) : host_(host) {}
  void execute(const compass::sdk::Requests& requests,
               const compass::sdk::ResponseSink& sink) override {
    for (const compass_request& r : requests) {
      if (r.continuation.size == 0) throw std::runtime_error("boom: empty continuation");
      bool bad = false;
      for (uint64_t i = 0; i < r.context.size; ++i) bad = bad || r.context.ids[i] == 666;
      if (bad) {
        sink.error(r, COMPASS_INVALID_ARGUMENT, "token 666 is not allowed");
        continue;
      }
#if TABLE_VARIANT == 5
      // Built against a newer minor: its appended request field is read only
      // when the host's struct holds it.
      if (COMPASS_HAS_FIELD(compass_request, r.struct_size, future_request_field) &&
          r.future_request_field != 0) {
        throw std::runtime_error("read a field the host never wrote");
      }
#endif
      compass::sdk::LoglikelihoodAnswer a;
      a.logprob = -1.0 * static_cast<double>(r.continuation.size);
      a.token_logprobs.assign(r.continuation.size, -1.0f);
      sink.loglikelihood(r, a);
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
#elif TABLE_VARIANT == 4  // a plugin of the previous major, ABI 1
    t.base.header.abi_major = 1;
#elif TABLE_VARIANT == 5  // built against a header with appended fields
    t.base.future_slot = reinterpret_cast<void*>(0x1);
#endif
    return t;
  }();
  return &table.base;
}
