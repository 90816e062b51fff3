#include <filesystem>
#include <fstream>
#include <sstream>

#include "gguf/gguf_file.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace compass {
namespace {

StatusOr<hf::Json> ReadJson(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError(path + ": cannot be read");
  std::stringstream buffer;
  buffer << in.rdbuf();
  try {
    return hf::Json::parse(buffer.str());
  } catch (const hf::Json::exception& e) {  // also a number beyond double ("1e999")
    std::string message = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
    if (const size_t pos = message.find("] "); pos != std::string::npos) {
      message = message.substr(pos + 2);
    }
    return InvalidArgument(path + ": not valid JSON: " + message);
  }
}

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizer(const std::string& tokenizer_file,
                                                     const std::string& config_file) {
  if (!std::filesystem::exists(tokenizer_file)) {
    return NotFound(tokenizer_file + ": no such file");
  }
  COMPASS_ASSIGN_OR_RETURN(const hf::Json tokenizer, ReadJson(tokenizer_file));
  hf::Json config;
  const bool has_config = !config_file.empty();
  if (has_config) {
    if (!std::filesystem::exists(config_file)) return NotFound(config_file + ": no such file");
    COMPASS_ASSIGN_OR_RETURN(config, ReadJson(config_file));
  }
  COMPASS_ASSIGN_OR_RETURN(
      auto t, hf::HfTokenizer::Create(tokenizer, has_config ? &config : nullptr, tokenizer_file,
                                      config_file));
  return std::unique_ptr<Tokenizer>(std::move(t));
}

StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& kind,
                                                   const std::string& model_path) {
  if (kind == "bytes") return std::unique_ptr<Tokenizer>(new ByteTokenizer());
  if (kind == "auto" && gguf::IsGgufPath(model_path)) {
    // The model's own tokenizer files beside the .gguf win over the
    // tokenizer rebuilt from its metadata.
    auto dir = std::filesystem::path(model_path).parent_path();
    if (dir.empty()) dir = ".";
    const auto file = dir / "tokenizer.json";
    if (std::filesystem::exists(file)) {
      const auto config = dir / "tokenizer_config.json";
      return LoadHfTokenizer(file.string(),
                             std::filesystem::exists(config) ? config.string() : std::string());
    }
    return LoadGgufTokenizer(model_path);
  }
  if (kind == "auto") {
    const auto dir = std::filesystem::path(model_path);
    const auto file = dir / "tokenizer.json";
    if (!std::filesystem::exists(file)) {
      return NotFound("no tokenizer in " + model_path +
                      ": tokenizer.json is missing; add the model's tokenizer.json (Hugging Face "
                      "format), or set model.tokenizer = \"bytes\"");
    }
    const auto config = dir / "tokenizer_config.json";
    return LoadHfTokenizer(file.string(),
                           std::filesystem::exists(config) ? config.string() : std::string());
  }
  return InvalidArgument("unknown tokenizer kind '" + kind + "'; allowed: auto, bytes");
}

}  // namespace compass
