// Counter-based random numbers: value = f(seed, stream, counter), no state. Weights, synthetic prompts and
// seeded sampling all draw from here, so a value never depends on the order or the thread it is computed in.
#pragma once
#include <cmath>
#include <cstdint>

#include "aif/models/mix64.hpp"

namespace aif::kernels {

// The mix is the project's one mixing hash, SplitMix64's output function (aif/models/mix64.hpp).
using models::mix64;

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
