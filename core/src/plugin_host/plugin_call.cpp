#include "plugin_host/plugin_call.h"

#include <atomic>
#include <cstdio>

#include "plugin_host/plugin_registry.h"

namespace compass {
namespace {

// Fixed buffers, one per nesting level, so that the signal handler only
// ever reads a complete, NUL-terminated text through one atomic pointer.
constexpr int kSlots = 8;
constexpr size_t kSlotSize = 1024;
char g_slots[kSlots][kSlotSize];
int g_depth = 0;
std::atomic<const char*> g_current{nullptr};

}  // namespace

PluginCallScope::PluginCallScope(const PluginRecord& record, const char* call)
    : previous_(g_current.load()), slot_(g_depth < kSlots ? g_depth : kSlots - 1) {
  std::snprintf(g_slots[slot_], kSlotSize, "%s, in %s()", record.Describe().c_str(), call);
  Publish();
}

PluginCallScope::PluginCallScope(const std::string& plugin, const char* during)
    : previous_(g_current.load()), slot_(g_depth < kSlots ? g_depth : kSlots - 1) {
  std::snprintf(g_slots[slot_], kSlotSize, "%s, during %s", plugin.c_str(), during);
  Publish();
}

void PluginCallScope::Publish() {
  ++g_depth;
  g_current.store(g_slots[slot_]);
}

PluginCallScope::~PluginCallScope() {
  g_current.store(previous_);
  --g_depth;
}

const char* CurrentPluginCall() {
  return g_current.load();
}

}  // namespace compass
