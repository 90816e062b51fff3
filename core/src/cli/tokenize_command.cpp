#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "tokenizer/tokenizer.h"

namespace compass::cli {

int TokenizeCommand(const TokenizeOptions& options) {
  std::string text = options.text;
  if (!options.file.empty()) {
    std::ifstream f(options.file, std::ios::binary);
    if (!f) {
      spdlog::error("cannot read --file {}", options.file);
      return kExitUsage;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    text = ss.str();
  }
  auto tokenizer = LoadTokenizer(options.kind, options.model);
  if (!tokenizer.ok()) {
    spdlog::error("{}", tokenizer.status().message());
    return kExitUsage;
  }
  const auto& t = **tokenizer;
  const std::vector<int32_t> ids = t.Encode(text, !options.no_special);
  if (options.json) {
    nlohmann::json out = {{"tokenizer", t.name()},  {"ids", ids},
                          {"bos_id", t.bos_id()},   {"add_bos", t.add_bos()},
                          {"eos_ids", t.eos_ids()}, {"vocab_size", t.vocab_size()}};
    out["pieces"] = nlohmann::json::array();
    for (int32_t id : ids) out["pieces"].push_back(t.TokenText(id));
    // Byte-fallback pieces may hold partial UTF-8: replace, don't fail.
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  std::printf("%zu tokens (%s; BOS %d %s)\n", ids.size(), t.name().c_str(), t.bos_id(),
              t.add_bos() ? "added to prompts" : "not added");
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string piece = nlohmann::json(t.TokenText(ids[i]))
                            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::printf("%6zu  %8d  %s\n", i, ids[i], piece.c_str());
  }
  return kExitOk;
}

}  // namespace compass::cli
