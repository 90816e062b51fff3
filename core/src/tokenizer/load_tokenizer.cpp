#include <filesystem>

#include "tokenizer/tokenizer.h"

namespace compass {

StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& kind,
                                                   const std::string& model_dir) {
  if (kind == "bytes") return std::unique_ptr<Tokenizer>(new ByteTokenizer());
  if (kind == "auto") {
    const auto file = std::filesystem::path(model_dir) / "tokenizer.json";
    if (!std::filesystem::exists(file)) {
      return NotFound("no tokenizer in " + model_dir +
                      ": tokenizer.json is missing; add it, or set model.tokenizer = \"bytes\"");
    }
    return Unsupported(file.string() +
                       ": tokenizer.json files are not supported by this version; set "
                       "model.tokenizer = \"bytes\"");
  }
  return InvalidArgument("unknown tokenizer kind '" + kind + "'; allowed: auto, bytes");
}

}  // namespace compass
