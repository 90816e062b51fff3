// Dequantization of ggml blocks to float32, with ggml's formulas
// (ggml-quants.c dequantize_row_*, gguf-py's gguf/quants.py): F32, F16, BF16,
// Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.
//
// Pure functions; safe to call from any thread.
#ifndef COMPASS_GGUF_DEQUANTIZE_H_
#define COMPASS_GGUF_DEQUANTIZE_H_

#include <cstddef>
#include <cstdint>

#include "gguf/gguf_types.h"
#include "util/status.h"

namespace compass::gguf {

// Writes `count` floats to `out` from the blocks at `data` (`data_bytes`
// long). `count` must be a multiple of the type's block size and `data_bytes`
// exactly count / block_size * block_bytes. Errors: Unsupported naming the
// type for one Dequantize cannot read; InvalidArgument for sizes that do not
// agree. Never reads or writes outside the given ranges.
Status Dequantize(GgmlType type, const void* data, size_t data_bytes, int64_t count, float* out);

}  // namespace compass::gguf

#endif  // COMPASS_GGUF_DEQUANTIZE_H_
