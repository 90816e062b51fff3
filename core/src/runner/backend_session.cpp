#include "runner/backend_session.h"

#include <compass/plugin.hpp>

#include "runner/progress.h"

namespace compass {

StatusOr<std::unique_ptr<BackendSession>> BackendSession::Create(
    PluginHost& host, const PluginRecord& record, const EvalConfig& config,
    const std::vector<Device>& devices, const std::string& options_json, const BackendRules& rules,
    const Tokenizer* tokenizer, const BackendLaunch& launch) {
  std::unique_ptr<BackendSession> s(new BackendSession());
  s->model_path_ = config.model.path;
  s->dtype_ = rules.dtype;
  s->options_json_ = options_json;
  for (const auto& d : devices) {
    s->specs_.push_back(compass_device_spec{sizeof(compass_device_spec), sdk::str(d.name),
                                            sdk::str(d.model), d.memory_bytes, d.Flags()});
  }
  compass_backend_config& bc = s->config_;
  bc.struct_size = sizeof bc;
  bc.model_path = sdk::str(s->model_path_);
  bc.dtype = sdk::str(s->dtype_);
  bc.devices = s->specs_.data();
  bc.num_devices = s->specs_.size();
  bc.options_json = sdk::str(s->options_json_);
  bc.max_batch_size = config.backend.batch_size;
  bc.seed = config.run.seed;
  bc.max_length = static_cast<uint64_t>(rules.max_length);
  bc.bos_token_id = -1;
  bc.pad_token_id = -1;
  bc.host_memory_bytes = AvailableHostMemory();
  s->rendezvous_ = launch.rendezvous;
  s->launch_id_ = launch.launch_id;
  bc.process_rank = launch.rank;
  bc.process_world = launch.world;
  bc.process_local_rank = launch.local_rank;
  bc.rendezvous = sdk::str(s->rendezvous_);
  bc.launch_id = sdk::str(s->launch_id_);
  bc.process_timeout_seconds = launch.timeout_seconds;
  if (tokenizer != nullptr) {
    bc.bos_token_id = tokenizer->bos_id();
    bc.pad_token_id = tokenizer->pad_id();
    bc.vocab_size = tokenizer->vocab_size();
    s->token_bytes_ = TokenByteTable(*tokenizer);
    s->token_views_.reserve(s->token_bytes_.size());
    for (const auto& b : s->token_bytes_) s->token_views_.push_back(sdk::str(b));
    bc.token_bytes = s->token_views_.data();
    bc.num_token_bytes = s->token_views_.size();
  }
  COMPASS_ASSIGN_OR_RETURN(s->backend_, BackendInstance::Create(record, host, bc));
  return s;
}

StatusOr<std::string> BackendSession::CheckPlan() {
  if (!backend_->supports_plan()) return std::string();
  COMPASS_ASSIGN_OR_RETURN(PlanResult plan, backend_->Plan());
  if (!plan.fits) {
    return OutOfMemory("backend '" + backend_->record().name +
                       "' plan does not fit: " + plan.message);
  }
  return plan.message;
}

Status BackendSession::Load(PluginHost& host) {
  Progress progress("loading", 0, 0, Progress::Unit::kBytes);
  host.SetProgress(
      [&](uint64_t done, uint64_t total, uint64_t) { progress.Update(done, total, 0); });
  Status s = backend_->Load();
  host.SetProgress(nullptr);
  return s;
}

}  // namespace compass
