// SplitMix64's output function (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014),
// private to models/: a fixed, platform-independent 64-bit mix. Arrival streams use it to start far apart in the
// generator's state; ECMP uses it so that route choices do not depend on the standard library's std::hash.
#pragma once
#include <cstdint>

namespace aif::models::detail {

inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace aif::models::detail
