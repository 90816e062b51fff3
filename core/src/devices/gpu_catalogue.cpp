#include "devices/gpu_catalogue.h"

#include <algorithm>
#include <cctype>

namespace compass {
namespace {

struct Row {
  const char* base;
  int gb;                // marketed memory, decimal GB
  bool variant_in_name;  // the family has several sizes: the name carries it ("A100-80GB")
  const char* model;
  int cc_major, cc_minor;
};

// Compute capabilities as NVIDIA lists them (developer.nvidia.com/cuda-gpus).
constexpr Row kRows[] = {
    {"P4", 8, false, "Tesla P4", 6, 1},
    {"P40", 24, false, "Tesla P40", 6, 1},
    {"P100", 16, false, "Tesla P100 16GB", 6, 0},
    {"V100", 16, true, "Tesla V100 16GB", 7, 0},
    {"V100", 32, true, "Tesla V100 32GB", 7, 0},
    {"T4", 16, false, "Tesla T4", 7, 5},
    {"A10", 24, false, "NVIDIA A10", 8, 6},
    {"A30", 24, false, "NVIDIA A30", 8, 0},
    {"A40", 48, false, "NVIDIA A40", 8, 6},
    {"A100", 40, true, "NVIDIA A100 40GB", 8, 0},
    {"A100", 80, true, "NVIDIA A100 80GB", 8, 0},
    {"RTX3090", 24, false, "NVIDIA GeForce RTX 3090", 8, 6},
    {"L4", 24, false, "NVIDIA L4", 8, 9},
    {"L40S", 48, false, "NVIDIA L40S", 8, 9},
    {"RTX4090", 24, false, "NVIDIA GeForce RTX 4090", 8, 9},
    {"H100", 80, false, "NVIDIA H100 80GB", 9, 0},
    {"H200", 141, false, "NVIDIA H200", 9, 0},
};

// Lower case without '-', '_' and spaces: "A100-80GB" and "a100_80gb" meet.
std::string Normalize(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '-' || c == '_' || c == ' ') continue;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// The spellings an entry answers to, normalized: its name, and its family
// with the size with or without "GB" ("A100-80", "P100-16GB").
bool Answers(const GpuSpec& g, const std::string& key) {
  const std::string gb = std::to_string(g.memory_bytes / 1'000'000'000ull);
  const std::string base = Normalize(g.base);
  return key == Normalize(g.name) || key == base + gb || key == base + gb + "gb";
}

std::vector<const GpuSpec*> Family(const std::string& key) {
  std::vector<const GpuSpec*> out;
  for (const GpuSpec& g : GpuCatalogue()) {
    if (Normalize(g.base) == key) out.push_back(&g);
  }
  return out;
}

}  // namespace

bool Bf16FromComputeCapability(int major, int) {
  return major >= 8;
}

bool Fp16FromComputeCapability(int major, int minor) {
  return major > 5 || (major == 5 && minor >= 3);
}

const std::vector<GpuSpec>& GpuCatalogue() {
  static const std::vector<GpuSpec> catalogue = [] {
    std::vector<GpuSpec> out;
    for (const Row& r : kRows) {
      GpuSpec g;
      g.base = r.base;
      g.name = r.variant_in_name ? std::string(r.base) + "-" + std::to_string(r.gb) + "GB"
                                 : std::string(r.base);
      g.model = r.model;
      g.memory_bytes = static_cast<uint64_t>(r.gb) * 1'000'000'000ull;
      g.cc_major = r.cc_major;
      g.cc_minor = r.cc_minor;
      g.bf16 = Bf16FromComputeCapability(r.cc_major, r.cc_minor);
      g.fp16 = Fp16FromComputeCapability(r.cc_major, r.cc_minor);
      out.push_back(std::move(g));
    }
    return out;
  }();
  return catalogue;
}

std::string GpuCatalogueNames() {
  std::string out;
  for (const GpuSpec& g : GpuCatalogue()) out += (out.empty() ? "" : ", ") + g.name;
  return out;
}

StatusOr<const GpuSpec*> FindGpu(std::string_view name) {
  const std::string key = Normalize(name);
  for (const GpuSpec& g : GpuCatalogue()) {
    if (Answers(g, key)) return &g;
  }
  const auto family = Family(key);
  if (family.size() > 1) {
    std::string variants;
    for (const GpuSpec* g : family) variants += (variants.empty() ? "" : " or ") + g->name;
    return InvalidArgument("'" + std::string(name) + "' comes in several memory sizes; write " +
                           variants);
  }
  return NotFound("'" + std::string(name) + "' is not in the GPU catalogue (" +
                  GpuCatalogueNames() + "); give its memory instead, e.g. " + std::string(name) +
                  "-48GB");
}

std::optional<GpuSpec> FindGpuFamily(std::string_view name, uint64_t memory_bytes) {
  const std::string key = Normalize(name);
  for (const GpuSpec& g : GpuCatalogue()) {
    if (Answers(g, key)) return g;
  }
  const auto family = Family(key);
  if (family.empty()) return std::nullopt;
  for (const GpuSpec* g : family) {
    // "A100-80GB" (80e9) and "A100-80GiB" both name the 80 GB variant.
    const uint64_t gb = g->memory_bytes / 1'000'000'000ull;
    if (memory_bytes == g->memory_bytes || memory_bytes == gb << 30) return *g;
  }
  // A size the catalogue does not list: the family's capabilities, its
  // model name without a size ("NVIDIA A100").
  GpuSpec g = *family.front();
  const std::string suffix = " " + std::to_string(g.memory_bytes / 1'000'000'000ull) + "GB";
  if (g.model.size() > suffix.size() && g.model.ends_with(suffix)) {
    g.model.resize(g.model.size() - suffix.size());
  }
  g.name = g.base;
  return g;
}

}  // namespace compass
