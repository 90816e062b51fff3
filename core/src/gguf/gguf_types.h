// ggml tensor types as GGUF files name them, with their block layouts
// (ggml's ggml-common.h): how many elements a block holds and how many bytes
// it takes. Types this library cannot read are still named, so that a file
// holding one is refused by its name.
#ifndef COMPASS_GGUF_GGUF_TYPES_H_
#define COMPASS_GGUF_GGUF_TYPES_H_

#include <cstdint>
#include <optional>
#include <string>

namespace compass::gguf {

// The values are ggml's `enum ggml_type`, as stored in a tensor info.
enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kMXFP4 = 39,
};

struct GgmlTypeTraits {
  const char* name;     // "Q4_K", as ggml and gguf-py spell it
  int64_t block_size;   // elements per block (1 for F32/F16/BF16)
  int64_t block_bytes;  // bytes per block
  bool dequantizable;   // whether Dequantize() reads it
};

// nullopt for a value ggml does not define.
std::optional<GgmlTypeTraits> TypeTraits(uint32_t type);
// "Q4_K"; "type 123" for a value ggml does not define.
std::string TypeName(uint32_t type);
// The types Dequantize() reads, comma-separated, for messages.
std::string DequantizableTypeNames();

}  // namespace compass::gguf

#endif  // COMPASS_GGUF_GGUF_TYPES_H_
