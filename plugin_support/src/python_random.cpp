#include "compass/plugin_support/python_random.h"

#include <cmath>
#include <stdexcept>
#include <unordered_set>

namespace compass::plugin_support {

namespace {

constexpr size_t kN = 624;
constexpr size_t kM = 397;
constexpr uint32_t kMatrixA = 0x9908b0dfU;
constexpr uint32_t kUpperMask = 0x80000000U;
constexpr uint32_t kLowerMask = 0x7fffffffU;

unsigned bit_length(uint64_t n) {
  unsigned bits = 0;
  while (n != 0) {
    ++bits;
    n >>= 1;
  }
  return bits;
}

}  // namespace

PythonRandom::PythonRandom(uint64_t seed) {
  // CPython random_seed(): abs(n) split into 32-bit words, least
  // significant first; zero gives the one-word key [0].
  uint32_t key[2] = {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)};
  init_by_array(key, (seed >> 32) != 0 ? 2 : 1);
}

void PythonRandom::init_genrand(uint32_t s) {
  mt_[0] = s;
  for (size_t i = 1; i < kN; ++i) {
    mt_[i] = 1812433253U * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<uint32_t>(i);
  }
  index_ = kN;
}

void PythonRandom::init_by_array(const uint32_t* key, size_t length) {
  init_genrand(19650218U);
  size_t i = 1, j = 0;
  for (size_t k = kN > length ? kN : length; k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525U)) + key[j] +
             static_cast<uint32_t>(j);
    ++i;
    ++j;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
    if (j >= length) j = 0;
  }
  for (size_t k = kN - 1; k > 0; --k) {
    mt_[i] =
        (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941U)) - static_cast<uint32_t>(i);
    ++i;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
  }
  mt_[0] = 0x80000000U;  // MSB is 1, assuring a non-zero initial array
  index_ = kN;
}

uint32_t PythonRandom::next_u32() {
  if (index_ >= kN) {
    size_t kk = 0;
    for (; kk < kN - kM; ++kk) {
      const uint32_t y = (mt_[kk] & kUpperMask) | (mt_[kk + 1] & kLowerMask);
      mt_[kk] = mt_[kk + kM] ^ (y >> 1) ^ ((y & 1U) != 0 ? kMatrixA : 0U);
    }
    for (; kk < kN - 1; ++kk) {
      const uint32_t y = (mt_[kk] & kUpperMask) | (mt_[kk + 1] & kLowerMask);
      mt_[kk] = mt_[kk + kM - kN] ^ (y >> 1) ^ ((y & 1U) != 0 ? kMatrixA : 0U);
    }
    const uint32_t y = (mt_[kN - 1] & kUpperMask) | (mt_[0] & kLowerMask);
    mt_[kN - 1] = mt_[kM - 1] ^ (y >> 1) ^ ((y & 1U) != 0 ? kMatrixA : 0U);
    index_ = 0;
  }
  uint32_t y = mt_[index_++];
  y ^= (y >> 11);
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  y ^= (y >> 18);
  return y;
}

uint64_t PythonRandom::getrandbits(unsigned k) {
  if (k == 0) return 0;
  if (k > 64) throw std::invalid_argument("getrandbits: at most 64 bits");
  if (k <= 32) return next_u32() >> (32 - k);
  // Words from least to most significant; the last one keeps its top bits.
  const uint64_t low = next_u32();
  const uint64_t high = next_u32() >> (64 - k);
  return low | (high << 32);
}

uint64_t PythonRandom::randbelow(uint64_t n) {
  if (n == 0) throw std::invalid_argument("randbelow: n must be positive");
  const unsigned k = bit_length(n);
  uint64_t r = getrandbits(k);
  while (r >= n) r = getrandbits(k);
  return r;
}

double PythonRandom::random() {
  const uint32_t a = next_u32() >> 5, b = next_u32() >> 6;
  return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

std::vector<size_t> PythonRandom::sample(size_t n, size_t k) {
  if (k > n) throw std::invalid_argument("Sample larger than population or is negative");
  std::vector<size_t> result(k);
  size_t setsize = 21;  // size of a small set minus size of an empty list
  if (k > 5) {
    // 4 ** ceil(log(k * 3, 4)); k * 3 is never a power of 4, so the
    // floating-point logarithm cannot land on an integer by rounding.
    const double exponent = std::ceil(std::log(static_cast<double>(k * 3)) / std::log(4.0));
    setsize += static_cast<size_t>(std::pow(4.0, exponent));
  }
  if (n <= setsize) {
    std::vector<size_t> pool(n);
    for (size_t i = 0; i < n; ++i) pool[i] = i;
    for (size_t i = 0; i < k; ++i) {
      const size_t j = randbelow(n - i);
      result[i] = pool[j];
      pool[j] = pool[n - i - 1];  // move the non-selected item into the vacancy
    }
  } else {
    std::unordered_set<size_t> selected;
    for (size_t i = 0; i < k; ++i) {
      size_t j = randbelow(n);
      while (selected.count(j) != 0) j = randbelow(n);
      selected.insert(j);
      result[i] = j;
    }
  }
  return result;
}

std::vector<size_t> PythonRandom::choices(size_t n, size_t k) {
  std::vector<size_t> out(k);
  const double size = static_cast<double>(n);
  for (size_t i = 0; i < k; ++i) out[i] = static_cast<size_t>(std::floor(random() * size));
  return out;
}

}  // namespace compass::plugin_support
