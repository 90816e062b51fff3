#include "runner/run_rules.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "gguf/gguf_file.h"

namespace compass {

StatusOr<DtypeDecision> DecideDtype(const std::string& requested, bool allow_fallback,
                                    const std::vector<Device>& devices) {
  DtypeDecision d{requested, ""};
  if (requested != "bfloat16") return d;
  std::string lacking;
  for (const Device& device : devices) {
    if (device.bf16) continue;
    if (!allow_fallback) {
      return Unsupported("model.dtype = \"bfloat16\" but " + device.name + " (" + device.model +
                         ") has no bfloat16 support; set model.dtype = \"float16\", or "
                         "model.allow_dtype_fallback = true to use float16 there");
    }
    lacking += (lacking.empty() ? "" : ", ") + device.name + " (" + device.model + ")";
  }
  if (!lacking.empty()) {
    d.dtype = "float16";
    d.note = "bfloat16 is not supported on " + lacking +
             ": computing in float16 instead (model.allow_dtype_fallback)";
  }
  return d;
}

StatusOr<int64_t> ContextWindow(int64_t configured, const std::string& model_dir) {
  if (configured > 0) return configured;
  if (gguf::IsGgufPath(model_dir)) {
    COMPASS_ASSIGN_OR_RETURN(auto file, gguf::GgufFile::Open(model_dir));
    COMPASS_ASSIGN_OR_RETURN(const std::string arch, file->GetString("general.architecture"));
    const std::string key = arch + ".context_length";
    if (!file->Has(key)) return int64_t{2048};
    COMPASS_ASSIGN_OR_RETURN(const int64_t n, file->GetInt(key));
    if (n < 2) {
      return DataLoss(model_dir + ": metadata key '" + key + "' is " + std::to_string(n) +
                      "; fix the file or set model.max_length");
    }
    return n;
  }
  const std::filesystem::path file = std::filesystem::path(model_dir) / "config.json";
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) return int64_t{2048};
  std::ifstream in(file);
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return DataLoss(file.string() + ": not a JSON object; fix the file or set model.max_length");
  }
  for (const char* key : {"n_positions", "max_position_embeddings", "n_ctx"}) {
    const auto it = j.find(key);
    if (it != j.end() && it->is_number_integer() && it->get<int64_t>() >= 2) {
      return it->get<int64_t>();
    }
  }
  return int64_t{2048};
}

}  // namespace compass
