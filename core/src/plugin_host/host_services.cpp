#include "plugin_host/host_services.h"

#include <spdlog/spdlog.h>

#include <cstring>

struct compass_status {
  int32_t code;
  std::string message;
};

namespace compass {
namespace {

compass_status* StatusNew(int32_t code, compass_str message) {
  try {
    return new compass_status{code, std::string(message.data ? message.data : "", message.size)};
  } catch (...) {
    return nullptr;  // out of memory: nothing better to do across a C boundary
  }
}
void StatusFree(compass_status* status) {
  delete status;
}
int32_t StatusCode(const compass_status* status) {
  return status ? status->code : static_cast<int32_t>(COMPASS_OK);
}
compass_str StatusMessage(const compass_status* status) {
  if (!status) return {nullptr, 0};
  return {status->message.data(), status->message.size()};
}

}  // namespace

compass_status* ToAbiStatus(const Status& status) {
  if (status.ok()) return nullptr;
  return StatusNew(status.code(), {status.message().data(), status.message().size()});
}

Status FromAbiStatus(compass_status* status) {
  if (status == nullptr) return Status::Ok();
  int32_t code = status->code;
  if (code <= COMPASS_OK || code > COMPASS_DATA_LOSS) code = COMPASS_INTERNAL;
  Status result(static_cast<Code>(code), std::move(status->message));
  delete status;
  return result;
}

PluginHost::PluginHost() = default;

const compass_host_api* PluginHost::ServicesFor(const std::string& plugin_name) {
  std::lock_guard<std::mutex> lock(mu_);
  Context& ctx = contexts_.emplace_back();
  ctx.host = this;
  ctx.name = plugin_name;
  compass_host_api& api = ctx.api;
  api.header = {COMPASS_ABI_MAJOR, COMPASS_ABI_MINOR, sizeof(compass_host_api)};
  api.ctx = &ctx;
  api.status_new = &StatusNew;
  api.status_free = &StatusFree;
  api.status_code = &StatusCode;
  api.status_message = &StatusMessage;
  api.log = &Log;
  api.progress = &Progress;
  api.is_cancelled = &IsCancelled;
  return &api;
}

void PluginHost::SetProgress(ProgressFn fn) {
  std::lock_guard<std::mutex> lock(mu_);
  progress_ = std::move(fn);
}

void PluginHost::Log(void* ctx, int32_t level, compass_str message) {
  auto* c = static_cast<Context*>(ctx);
  const std::string_view text(message.data ? message.data : "", message.size);
  switch (level) {
    case COMPASS_LOG_DEBUG: spdlog::debug("[{}] {}", c->name, text); break;
    case COMPASS_LOG_WARN: spdlog::warn("[{}] {}", c->name, text); break;
    case COMPASS_LOG_ERROR: spdlog::error("[{}] {}", c->name, text); break;
    default: spdlog::info("[{}] {}", c->name, text); break;
  }
}

void PluginHost::Progress(void* ctx, uint64_t done, uint64_t total, uint64_t tokens) {
  auto* host = static_cast<Context*>(ctx)->host;
  ProgressFn fn;
  {
    std::lock_guard<std::mutex> lock(host->mu_);
    fn = host->progress_;
  }
  if (fn) fn(done, total, tokens);
}

int32_t PluginHost::IsCancelled(void* ctx) {
  return static_cast<Context*>(ctx)->host->cancelled() ? 1 : 0;
}

}  // namespace compass
