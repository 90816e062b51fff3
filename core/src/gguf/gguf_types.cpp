#include "gguf/gguf_types.h"

#include <array>

namespace compass::gguf {
namespace {

struct Row {
  uint32_t type;
  GgmlTypeTraits traits;
};

// Block sizes and bytes as gguf-py's GGML_QUANT_SIZES gives them (ggml-common.h's
// block_* structs). Types removed from ggml (4, 5, 31-33, 36-38)
// are left out and read as unknown.
constexpr std::array<Row, 34> kTable = {{
    {0, {"F32", 1, 4, true}},
    {1, {"F16", 1, 2, true}},
    {2, {"Q4_0", 32, 2 + 16, true}},
    {3, {"Q4_1", 32, 2 + 2 + 16, true}},
    {6, {"Q5_0", 32, 2 + 4 + 16, true}},
    {7, {"Q5_1", 32, 2 + 2 + 4 + 16, true}},
    {8, {"Q8_0", 32, 2 + 32, true}},
    {9, {"Q8_1", 32, 40, false}},
    {10, {"Q2_K", 256, 16 + 64 + 2 + 2, true}},
    {11, {"Q3_K", 256, 32 + 64 + 12 + 2, true}},
    {12, {"Q4_K", 256, 2 + 2 + 12 + 128, true}},
    {13, {"Q5_K", 256, 2 + 2 + 12 + 32 + 128, true}},
    {14, {"Q6_K", 256, 128 + 64 + 16 + 2, true}},
    {15, {"Q8_K", 256, 4 + 256 + 32, false}},
    {16, {"IQ2_XXS", 256, 2 + 64, false}},
    {17, {"IQ2_XS", 256, 2 + 64 + 8, false}},
    {18, {"IQ3_XXS", 256, 2 + 96, false}},
    {19, {"IQ1_S", 256, 2 + 32 + 16, false}},
    {20, {"IQ4_NL", 32, 2 + 16, false}},
    {21, {"IQ3_S", 256, 2 + 64 + 8 + 32 + 4, false}},
    {22, {"IQ2_S", 256, 2 + 64 + 8 + 8, false}},
    {23, {"IQ4_XS", 256, 2 + 2 + 4 + 128, false}},
    {24, {"I8", 1, 1, false}},
    {25, {"I16", 1, 2, false}},
    {26, {"I32", 1, 4, false}},
    {27, {"I64", 1, 8, false}},
    {28, {"F64", 1, 8, false}},
    {29, {"IQ1_M", 256, 32 + 16 + 8, false}},
    {30, {"BF16", 1, 2, true}},
    {34, {"TQ1_0", 256, 54, false}},
    {35, {"TQ2_0", 256, 2 + 64, false}},
    {39, {"MXFP4", 32, 1 + 16, false}},
    {40, {"NVFP4", 64, 36, false}},
    {41, {"Q1_0", 128, 18, false}},
}};

}  // namespace

std::optional<GgmlTypeTraits> TypeTraits(uint32_t type) {
  for (const Row& row : kTable) {
    if (row.type == type) return row.traits;
  }
  return std::nullopt;
}

std::string TypeName(uint32_t type) {
  if (const auto traits = TypeTraits(type)) return traits->name;
  return "type " + std::to_string(type);
}

std::string DequantizableTypeNames() {
  std::string names;
  for (const Row& row : kTable) {
    if (!row.traits.dequantizable) continue;
    if (!names.empty()) names += ", ";
    names += row.traits.name;
  }
  return names;
}

}  // namespace compass::gguf
