// Counter-based RNG and token sampling.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "aif/kernels/rng.hpp"
#include "aif/kernels/sampling.hpp"
#include "aif/models/mix64.hpp"

namespace ak = aif::kernels;

TEST(KernelRng, UniformAndNormalMoments) {
  const int n = 200000;
  double s = 0, s2 = 0, z = 0, z2 = 0;
  for (int i = 0; i < n; ++i) {
    const double u = ak::counter_uniform(42, 3, uint64_t(i));
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    s += u;
    s2 += u * u;
    const double g = ak::counter_normal(42, 4, uint64_t(i));
    z += g;
    z2 += g * g;
  }
  // Uniform: mean 1/2, variance 1/12; standard error of the mean sqrt(1/12/n) = 6.5e-4: allow 5 of them.
  EXPECT_NEAR(s / n, 0.5, 5 * std::sqrt(1.0 / 12 / n));
  EXPECT_NEAR(s2 / n - (s / n) * (s / n), 1.0 / 12, 2e-3);
  EXPECT_NEAR(z / n, 0.0, 5 / std::sqrt(double(n)));
  EXPECT_NEAR(z2 / n, 1.0, 0.02);
}

// The one mixing hash (aif/models/mix64.hpp, which kernels/ reuses) is SplitMix64's output function: the generator
// adds 0x9e3779b97f4a7c15 to its state and returns the mix of the new state; mix64 does that add itself, so the
// generator's k-th output (k = 0, 1, ...) from a seed is mix64(seed + k x 0x9e3779b97f4a7c15). Reference outputs for
// seed 1234567: the test of the Rust rand_xoshiro crate's SplitMix64 (https://docs.rs/rand_xoshiro, generator of
// https://prng.di.unimi.it/splitmix64.c).
TEST(KernelRng, MixIsSplitMix64) {
  constexpr uint64_t gamma = 0x9e3779b97f4a7c15ULL;
  const uint64_t from_1234567[] = {6457827717110365317ULL, 3203168211198807973ULL, 9817491932198370423ULL};
  for (uint64_t k = 0; k < 3; ++k) {
    EXPECT_EQ(aif::models::mix64(1234567 + k * gamma), from_1234567[k]) << k;
    EXPECT_EQ(ak::mix64(1234567 + k * gamma), from_1234567[k]) << k;  // the name kernels/ uses
  }
}

TEST(KernelRng, StreamsAndSeedsAreIndependentAndRepeatable) {
  EXPECT_EQ(ak::counter_hash(1, 2, 3), ak::counter_hash(1, 2, 3));
  int same_stream = 0, same_seed = 0;
  for (uint64_t c = 0; c < 1000; ++c) {
    same_stream += ak::counter_hash(1, 2, c) == ak::counter_hash(1, 3, c);
    same_seed += ak::counter_hash(1, 2, c) == ak::counter_hash(2, 2, c);
  }
  EXPECT_EQ(same_stream, 0);
  EXPECT_EQ(same_seed, 0);
  // Correlation of neighbouring streams at the same counters: about N(0, 1/n).
  const int n = 20000;
  double cov = 0;
  for (int i = 0; i < n; ++i)
    cov += (ak::counter_uniform(9, 10, uint64_t(i)) - 0.5) * (ak::counter_uniform(9, 11, uint64_t(i)) - 0.5);
  EXPECT_NEAR(cov / n * 12, 0.0, 5 / std::sqrt(double(n)));
}

TEST(KernelSampling, GreedyTakesLargestLowestIndexOnTie) {
  const std::vector<float> l{0.5f, 2.0f, -1.0f, 2.0f};
  EXPECT_EQ(ak::sample_greedy(l.data(), 4), 1);
  EXPECT_EQ(ak::sample_seeded(l.data(), 4, 0.0, 0, 1, 1, 1), 1) << "temperature 0 is greedy";
  EXPECT_EQ(ak::sample_seeded(l.data(), 4, 1.0, 1, 5, 6, 7), 1) << "top_k 1 is greedy";
}

TEST(KernelSampling, SeededFrequenciesFollowSoftmax) {
  // logits ln(1), ln(2), ln(3), ln(4) at temperature 1: probabilities 0.1, 0.2, 0.3, 0.4 (by hand).
  const std::vector<float> l{0.0f, float(std::log(2.0)), float(std::log(3.0)), float(std::log(4.0))};
  const int n = 40000;
  std::vector<int> count(4, 0);
  for (int i = 0; i < n; ++i) ++count[size_t(ak::sample_seeded(l.data(), 4, 1.0, 0, 11, 5, uint64_t(i)))];
  for (int k = 0; k < 4; ++k) {
    const double p = 0.1 * (k + 1);
    std::cout << "token " << k << ": expected " << p << ", sampled " << double(count[size_t(k)]) / n << "\n";
    EXPECT_NEAR(double(count[size_t(k)]) / n, p, 5 * std::sqrt(p * (1 - p) / n));
  }
  // top_k 2 keeps tokens 3 and 2 only: 4/7 and 3/7.
  std::vector<int> top(4, 0);
  for (int i = 0; i < n; ++i) ++top[size_t(ak::sample_seeded(l.data(), 4, 1.0, 2, 11, 5, uint64_t(i)))];
  EXPECT_EQ(top[0] + top[1], 0);
  EXPECT_NEAR(double(top[3]) / n, 4.0 / 7, 5 * std::sqrt(4.0 / 7 * 3 / 7 / n));
  // The draw depends on (seed, request, position) only.
  EXPECT_EQ(ak::sample_seeded(l.data(), 4, 1.0, 0, 3, 8, 100), ak::sample_seeded(l.data(), 4, 1.0, 0, 3, 8, 100));
}
