// Floating-point element types of checkpoints and runs: F32, F16, BF16.
// Other safetensors dtypes are refused where a file is read.
#ifndef COMPASS_MODELS_DTYPE_H_
#define COMPASS_MODELS_DTYPE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace compass::model {

enum class DType { kF32, kF16, kBF16 };

// Bytes per element: 4, 2, 2.
size_t DTypeSize(DType dtype);

// Safetensors spelling: "F32", "F16", "BF16".
const char* DTypeName(DType dtype);

// Accepts the safetensors names and the usual spellings, case-insensitive:
// f32/float32/float, f16/float16/half/fp16, bf16/bfloat16.
StatusOr<DType> ParseDType(std::string_view text);

// Round-to-nearest-even conversions used when writing F16/BF16 data.
uint16_t FloatToBF16(float value);
uint16_t FloatToF16(float value);
float BF16ToFloat(uint16_t bits);
float F16ToFloat(uint16_t bits);

}  // namespace compass::model

#endif  // COMPASS_MODELS_DTYPE_H_
