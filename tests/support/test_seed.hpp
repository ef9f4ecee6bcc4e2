// The seed of a test's random inputs: fixed, so that every run draws the same inputs, and printed (and added to the
// message of any failure in the calling scope) so that a failure names what to replay. AIF_TEST_SEED=N replaces
// every test's fixed seed by N, to try other inputs or to replay a printed one.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

namespace aif::testing {

inline uint64_t test_seed(uint64_t fixed) {
  const char* s = std::getenv("AIF_TEST_SEED");
  const uint64_t seed = s && *s ? std::strtoull(s, nullptr, 10) : fixed;
  std::cout << "seed " << seed << " (replay with AIF_TEST_SEED=" << seed << ")\n";
  return seed;
}

}  // namespace aif::testing

// Declares `const uint64_t NAME` seeded as above and traces it into every failure of the enclosing scope.
#define AIF_TEST_SEED(NAME, FIXED)                        \
  const uint64_t NAME = ::aif::testing::test_seed(FIXED); \
  SCOPED_TRACE("random inputs from seed " + std::to_string(NAME))
