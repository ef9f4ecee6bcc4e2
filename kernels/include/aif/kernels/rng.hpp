// Counter-based random numbers: value = f(seed, stream, counter), no state. Weights, synthetic prompts and
// seeded sampling all draw from here, so a value never depends on the order or the thread it is computed in.
#pragma once
#include <cmath>
#include <cstdint>

namespace aif::kernels {

// The splitmix64 output function (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
// OOPSLA 2014): a bijective 64-bit mixer whose outputs pass BigCrush when fed a Weyl sequence.
constexpr uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Two rounds of mixing: one to derive an independent key from (seed, stream), one per counter value.
constexpr uint64_t counter_hash(uint64_t seed, uint64_t stream, uint64_t counter) {
  return mix64(mix64(seed ^ mix64(stream)) ^ (counter * 0xd1b54a32d192ed03ULL));
}

// Uniform in [0, 1) with 53 random bits.
constexpr double counter_uniform(uint64_t seed, uint64_t stream, uint64_t counter) {
  return static_cast<double>(counter_hash(seed, stream, counter) >> 11) * 0x1.0p-53;
}

// Standard normal by Box-Muller over two uniforms drawn from counters 2c and 2c+1.
inline double counter_normal(uint64_t seed, uint64_t stream, uint64_t counter) {
  const double u1 = 1.0 - counter_uniform(seed, stream, 2 * counter);  // (0, 1]: log is finite
  const double u2 = counter_uniform(seed, stream, 2 * counter + 1);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace aif::kernels
