#include "gguf/dequantize.h"

namespace compass::gguf {

Status Dequantize(GgmlType type, const void*, size_t, int64_t, float*) {
  return Unsupported("dequantization of " + TypeName(static_cast<uint32_t>(type)) +
                     " is not implemented yet");
}

}  // namespace compass::gguf
