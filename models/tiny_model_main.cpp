// compass_tiny_model: writes a tiny random Hugging Face model (see
// tiny_model.h) and prints a JSON summary (variant, files, checksum).
// Exit codes: 0 written, 1 failed, 2 bad usage.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "models/tiny_model.h"
#include "util/strings.h"

int main(int argc, char** argv) {
  using namespace compass::model;
  CLI::App app{"Write a tiny random Hugging Face model (config.json + safetensors)."};
  std::string arch;
  std::string variant;
  std::string out;
  int shards = 1;
  std::string dtype = "f32";
  std::optional<uint64_t> seed;
  std::optional<int64_t> vocab_size;
  app.add_option("--arch", arch, "llama, mistral or qwen2 (must match the variant)")
      ->check(CLI::IsMember({"llama", "mistral", "qwen2"}));
  app.add_option("--variant", variant,
                 "one of: " + compass::Join(TinyModelVariants()) + " (default: the --arch name)");
  app.add_option("--out", out, "directory to write")->required();
  app.add_option("--shards", shards, "1, or 2 with model.safetensors.index.json")
      ->check(CLI::IsMember({1, 2}));
  app.add_option("--dtype", dtype, "f32, bf16 or f16")
      ->check(CLI::IsMember({"f32", "bf16", "f16"}));
  app.add_option("--seed", seed, "override the variant's seed");
  app.add_option("--vocab-size", vocab_size,
                 "override the vocabulary size (e.g. to match a real tokenizer.json)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (variant.empty() && arch.empty()) {
    std::fprintf(stderr, "error: give --variant or --arch\n");
    return 2;
  }
  if (variant.empty()) variant = arch;
  auto spec = TinyModelVariant(variant);
  if (!spec.ok()) {
    std::fprintf(stderr, "error: %s\n", spec.status().message().c_str());
    return 2;
  }
  if (!arch.empty()) {
    const std::string expected = ArchitectureName(spec->architecture);
    auto arch_of = [](const std::string& a) -> std::string {
      if (a == "llama") return ArchitectureName(Architecture::kLlama);
      if (a == "mistral") return ArchitectureName(Architecture::kMistral);
      return ArchitectureName(Architecture::kQwen2);
    };
    if (arch_of(arch) != expected) {
      std::fprintf(stderr, "error: variant '%s' is a %s, not --arch %s\n", variant.c_str(),
                   expected.c_str(), arch.c_str());
      return 2;
    }
  }
  spec->shards = shards;
  spec->dtype = *ParseDType(dtype);
  if (seed) spec->seed = *seed;
  if (vocab_size) spec->vocab_size = *vocab_size;
  auto files = WriteTinyModel(*spec, out);
  if (!files.ok()) {
    std::fprintf(stderr, "error: %s\n", files.status().ToString().c_str());
    return 1;
  }
  nlohmann::json summary = {{"variant", spec->variant},
                            {"architecture", ArchitectureName(spec->architecture)},
                            {"dtype", DTypeName(spec->dtype)},
                            {"files", files->files},
                            {"weights_checksum", files->weights_checksum}};
  std::printf("%s\n", summary.dump().c_str());
  return 0;
}
