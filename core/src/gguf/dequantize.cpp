#include "gguf/dequantize.h"

#include <bit>
#include <cstring>
#include <limits>
#include <string>

namespace compass::gguf {
namespace {

// Block layouts follow ggml-common.h; the loops follow ggml-quants.c's
// dequantize_row_*. Each element is rounded at most once, so this code,
// ggml's (with or without fused multiply-adds) and gguf-py's numpy agree bit
// for bit: a half has at most 11 significant bits, so a half scale times an
// integer of up to 8 bits, or times a scale of up to 6 bits and a quant of up
// to 5 bits, is exact in float. Q6_K's d * scale * quant (8 and 6 bits) is
// rounded once whatever the order of the factors; the only other rounding is
// the one add of an offset (Q4_1, Q5_1, and the mins of Q2_K, Q4_K, Q5_K).

constexpr int kQK = 32;     // elements per block of Q4_0 .. Q8_0
constexpr int kQK_K = 256;  // elements per block of the K-quants

uint16_t LoadU16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

uint32_t LoadU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

// Written without branches so that loops over it vectorize.
float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t magnitude = h & 0x7FFFu;  // exponent and mantissa
  // Normal: rebias the exponent from 15 to 127.
  uint32_t bits = (magnitude << 13) + ((127 - 15) << 23);
  // Infinity or NaN: exponent 255; a NaN is made quiet with its payload
  // kept, as the x86 and Arm conversion instructions ggml uses do.
  const uint32_t nan_quiet = magnitude > 0x7C00u ? 0x00400000u : 0u;
  bits = magnitude >= 0x7C00u ? (bits + ((128 - 16) << 23)) | nan_quiet : bits;
  // Zero or subnormal: mantissa * 2^-24, exact in float.
  const uint32_t small = std::bit_cast<uint32_t>(static_cast<float>(magnitude) * 0x1p-24f);
  bits = magnitude < 0x0400u ? small : bits;
  return std::bit_cast<float>(sign | bits);
}

float LoadHalf(const uint8_t* p) {
  return HalfToFloat(LoadU16(p));
}

// Each Block* function reads one block at `x` and writes its elements to `y`.

void BlockQ4_0(const uint8_t* x, float* y) {
  const float d = LoadHalf(x);
  const uint8_t* qs = x + 2;
  for (int j = 0; j < kQK / 2; ++j) {
    const int x0 = (qs[j] & 0x0F) - 8;
    const int x1 = (qs[j] >> 4) - 8;
    y[j] = static_cast<float>(x0) * d;
    y[j + kQK / 2] = static_cast<float>(x1) * d;
  }
}

void BlockQ4_1(const uint8_t* x, float* y) {
  const float d = LoadHalf(x);
  const float m = LoadHalf(x + 2);
  const uint8_t* qs = x + 4;
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
    y[j + kQK / 2] = static_cast<float>(qs[j] >> 4) * d + m;
  }
}

void BlockQ5_0(const uint8_t* x, float* y) {
  const float d = LoadHalf(x);
  const uint32_t qh = LoadU32(x + 2);
  const uint8_t* qs = x + 6;
  for (int j = 0; j < kQK / 2; ++j) {
    const uint32_t h0 = ((qh >> j) << 4) & 0x10;
    const uint32_t h1 = (qh >> (j + 12)) & 0x10;
    const int x0 = static_cast<int>((qs[j] & 0x0Fu) | h0) - 16;
    const int x1 = static_cast<int>((qs[j] >> 4) | h1) - 16;
    y[j] = static_cast<float>(x0) * d;
    y[j + kQK / 2] = static_cast<float>(x1) * d;
  }
}

void BlockQ5_1(const uint8_t* x, float* y) {
  const float d = LoadHalf(x);
  const float m = LoadHalf(x + 2);
  const uint32_t qh = LoadU32(x + 4);
  const uint8_t* qs = x + 8;
  for (int j = 0; j < kQK / 2; ++j) {
    const uint32_t h0 = ((qh >> j) << 4) & 0x10;
    const uint32_t h1 = (qh >> (j + 12)) & 0x10;
    y[j] = static_cast<float>((qs[j] & 0x0Fu) | h0) * d + m;
    y[j + kQK / 2] = static_cast<float>((qs[j] >> 4) | h1) * d + m;
  }
}

void BlockQ8_0(const uint8_t* x, float* y) {
  const float d = LoadHalf(x);
  for (int j = 0; j < kQK; ++j) {
    y[j] = static_cast<float>(static_cast<int8_t>(x[2 + j])) * d;
  }
}

// scales[16] (low nibble scale, high nibble min), qs[64], d, dmin.
void BlockQ2_K(const uint8_t* x, float* y) {
  const uint8_t* scales = x;
  const uint8_t* q = x + 16;
  const float d = LoadHalf(x + 80);
  const float min = LoadHalf(x + 82);
  int is = 0;
  for (int n = 0; n < kQK_K; n += 128) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int half = 0; half < 2; ++half) {
        const uint8_t sc = scales[is++];
        const float dl = d * static_cast<float>(sc & 0xF);
        const float ml = min * static_cast<float>(sc >> 4);
        const uint8_t* qq = q + 16 * half;
        for (int l = 0; l < 16; ++l) {
          *y++ = dl * static_cast<float>((qq[l] >> shift) & 3) - ml;
        }
      }
    }
    q += 32;
  }
}

// hmask[32], qs[64], scales[12] (16 six-bit scales), d.
void BlockQ3_K(const uint8_t* x, float* y) {
  const uint8_t* hm = x;
  const uint8_t* q = x + 32;
  const uint8_t* packed = x + 96;
  const float d_all = LoadHalf(x + 108);
  // Scale k: low four bits from byte k % 8 (nibble k / 8), high two bits
  // from byte 8 + k % 4 (bits 2 * (k / 4)).
  int scales[16];
  for (int k = 0; k < 16; ++k) {
    const int low = (packed[k % 8] >> (4 * (k / 8))) & 0xF;
    const int high = (packed[8 + k % 4] >> (2 * (k / 4))) & 3;
    scales[k] = (low | (high << 4)) - 32;
  }
  int is = 0;
  uint8_t m = 1;
  for (int n = 0; n < kQK_K; n += 128) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int half = 0; half < 2; ++half) {
        const float dl = d_all * static_cast<float>(scales[is++]);
        const uint8_t* qq = q + 16 * half;
        const uint8_t* hh = hm + 16 * half;
        for (int l = 0; l < 16; ++l) {
          const int v = ((qq[l] >> shift) & 3) - ((hh[l] & m) ? 0 : 4);
          *y++ = dl * static_cast<float>(v);
        }
      }
      m = static_cast<uint8_t>(m << 1);
    }
    q += 32;
  }
}

// ggml's get_scale_min_k4: eight six-bit scales and mins packed in 12 bytes.
void ScaleMinK4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// d, dmin, scales[12], qs[128].
void BlockQ4_K(const uint8_t* x, float* y) {
  const float d = LoadHalf(x);
  const float min = LoadHalf(x + 2);
  const uint8_t* scales = x + 4;
  const uint8_t* q = x + 16;
  for (int is = 0; is < 8; is += 2) {
    uint8_t sc, m;
    ScaleMinK4(is, scales, &sc, &m);
    const float d1 = d * static_cast<float>(sc);
    const float m1 = min * static_cast<float>(m);
    ScaleMinK4(is + 1, scales, &sc, &m);
    const float d2 = d * static_cast<float>(sc);
    const float m2 = min * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
    for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    q += 32;
  }
}

// d, dmin, scales[12], qh[32], qs[128].
void BlockQ5_K(const uint8_t* x, float* y) {
  const float d = LoadHalf(x);
  const float min = LoadHalf(x + 2);
  const uint8_t* scales = x + 4;
  const uint8_t* qh = x + 16;
  const uint8_t* ql = x + 48;
  uint8_t u1 = 1, u2 = 2;
  for (int is = 0; is < 8; is += 2) {
    uint8_t sc, m;
    ScaleMinK4(is, scales, &sc, &m);
    const float d1 = d * static_cast<float>(sc);
    const float m1 = min * static_cast<float>(m);
    ScaleMinK4(is + 1, scales, &sc, &m);
    const float d2 = d * static_cast<float>(sc);
    const float m2 = min * static_cast<float>(m);
    for (int l = 0; l < 32; ++l) {
      *y++ = d1 * static_cast<float>((ql[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
    }
    for (int l = 0; l < 32; ++l) {
      *y++ = d2 * static_cast<float>((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
    }
    ql += 32;
    u1 = static_cast<uint8_t>(u1 << 2);
    u2 = static_cast<uint8_t>(u2 << 2);
  }
}

// ql[128], qh[64], scales[16] (int8), d.
void BlockQ6_K(const uint8_t* x, float* y) {
  const uint8_t* ql = x;
  const uint8_t* qh = x + 128;
  const int8_t* sc = reinterpret_cast<const int8_t*>(x + 192);
  const float d = LoadHalf(x + 208);
  for (int n = 0; n < kQK_K; n += 128) {
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
      y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
      y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
      y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

template <void (*BlockFn)(const uint8_t*, float*)>
void ForEachBlock(const uint8_t* data, int64_t blocks, int64_t block_bytes, int64_t block_size,
                  float* out) {
  for (int64_t b = 0; b < blocks; ++b) {
    BlockFn(data + b * block_bytes, out + b * block_size);
  }
}

void DequantizeF32(const uint8_t* data, int64_t count, float* out) {
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(out, data, static_cast<size_t>(count) * sizeof(float));
  } else {
    for (int64_t i = 0; i < count; ++i) out[i] = std::bit_cast<float>(LoadU32(data + 4 * i));
  }
}

void DequantizeF16(const uint8_t* data, int64_t count, float* out) {
  for (int64_t i = 0; i < count; ++i) out[i] = LoadHalf(data + 2 * i);
}

void DequantizeBF16(const uint8_t* data, int64_t count, float* out) {
  for (int64_t i = 0; i < count; ++i) {
    out[i] = std::bit_cast<float>(static_cast<uint32_t>(LoadU16(data + 2 * i)) << 16);
  }
}

}  // namespace

Status Dequantize(GgmlType type, const void* data, size_t data_bytes, int64_t count, float* out) {
  const uint32_t type_id = static_cast<uint32_t>(type);
  const std::string name = TypeName(type_id);
  const auto traits = TypeTraits(type_id);
  if (!traits || !traits->dequantizable) {
    return Unsupported(name +
                       " tensors cannot be read; readable types: " + DequantizableTypeNames());
  }
  if (count < 0) {
    return InvalidArgument(name + " tensor with a negative element count (" +
                           std::to_string(count) + ")");
  }
  if (count % traits->block_size != 0) {
    return InvalidArgument(name + " tensor of " + std::to_string(count) +
                           " elements: not a multiple of the block size " +
                           std::to_string(traits->block_size));
  }
  const int64_t blocks = count / traits->block_size;
  if (blocks > std::numeric_limits<int64_t>::max() / traits->block_bytes ||
      static_cast<uint64_t>(blocks * traits->block_bytes) != data_bytes) {
    return InvalidArgument(name + " tensor of " + std::to_string(count) + " elements takes " +
                           std::to_string(blocks) + " blocks of " +
                           std::to_string(traits->block_bytes) + " bytes, but " +
                           std::to_string(data_bytes) + " bytes were given");
  }
  if (count == 0) return Status::Ok();
  if (data == nullptr || out == nullptr) {
    return InvalidArgument(name + " tensor: null data or output");
  }

  const auto* bytes = static_cast<const uint8_t*>(data);
  const int64_t bb = traits->block_bytes;
  const int64_t bs = traits->block_size;
  switch (type) {
    case GgmlType::kF32: DequantizeF32(bytes, count, out); break;
    case GgmlType::kF16: DequantizeF16(bytes, count, out); break;
    case GgmlType::kBF16: DequantizeBF16(bytes, count, out); break;
    case GgmlType::kQ4_0: ForEachBlock<BlockQ4_0>(bytes, blocks, bb, bs, out); break;
    case GgmlType::kQ4_1: ForEachBlock<BlockQ4_1>(bytes, blocks, bb, bs, out); break;
    case GgmlType::kQ5_0: ForEachBlock<BlockQ5_0>(bytes, blocks, bb, bs, out); break;
    case GgmlType::kQ5_1: ForEachBlock<BlockQ5_1>(bytes, blocks, bb, bs, out); break;
    case GgmlType::kQ8_0: ForEachBlock<BlockQ8_0>(bytes, blocks, bb, bs, out); break;
    case GgmlType::kQ2_K: ForEachBlock<BlockQ2_K>(bytes, blocks, bb, bs, out); break;
    case GgmlType::kQ3_K: ForEachBlock<BlockQ3_K>(bytes, blocks, bb, bs, out); break;
    case GgmlType::kQ4_K: ForEachBlock<BlockQ4_K>(bytes, blocks, bb, bs, out); break;
    case GgmlType::kQ5_K: ForEachBlock<BlockQ5_K>(bytes, blocks, bb, bs, out); break;
    case GgmlType::kQ6_K: ForEachBlock<BlockQ6_K>(bytes, blocks, bb, bs, out); break;
    default:
      // Reached only if the type table marks readable a type with no reader here.
      return Internal(name + " is marked readable but has no dequantizer");
  }
  return Status::Ok();
}

}  // namespace compass::gguf
