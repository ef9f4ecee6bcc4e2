// SplitMix64's output function (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014):
// a fixed, platform-independent, bijective 64-bit mix whose outputs pass BigCrush when fed a Weyl sequence. The
// project's one mixing hash: arrival and failure streams use it to start far apart in their generators' state, ECMP
// so that route choices do not depend on the standard library's std::hash, and kernels/ (aif/kernels/rng.hpp) for
// its counter-based random numbers.
#pragma once
#include <cstdint>

namespace aif::models {

constexpr uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace aif::models
