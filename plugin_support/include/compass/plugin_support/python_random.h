// Python's random.Random, bit for bit, for the parts lm-evaluation-harness
// uses: seeding from a non-negative int, getrandbits, _randbelow, random(),
// sample() and choices() without weights. CPython's generator is MT19937
// seeded with init_by_array over the 32-bit words of the seed (least
// significant first; [0] for seed 0).
#ifndef COMPASS_DATASETS_PYTHON_RANDOM_H_
#define COMPASS_DATASETS_PYTHON_RANDOM_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace compass::plugin_support {

class PythonRandom {
 public:
  // random.Random(seed).
  explicit PythonRandom(uint64_t seed);

  // The next 32-bit output of MT19937 (CPython's genrand_uint32).
  uint32_t next_u32();
  // random.getrandbits(k) for 0 <= k <= 64.
  uint64_t getrandbits(unsigned k);
  // random._randbelow(n) (getrandbits of n.bit_length() bits, retried while
  // >= n) for n >= 1.
  uint64_t randbelow(uint64_t n);
  // random.random(): 53 random bits in [0, 1).
  double random();

  // The population indices random.sample(range(n), k) returns (the indices
  // random.sample(population, k) picks, in order). Throws std::invalid_argument
  // when k > n, as Python raises ValueError.
  std::vector<size_t> sample(size_t n, size_t k);
  // random.choices(range(n), k=k): floor(random() * n), k times.
  std::vector<size_t> choices(size_t n, size_t k);

 private:
  void init_genrand(uint32_t s);
  void init_by_array(const uint32_t* key, size_t length);

  std::array<uint32_t, 624> mt_{};
  size_t index_ = 625;
};

}  // namespace compass::plugin_support

#endif  // COMPASS_DATASETS_PYTHON_RANDOM_H_
