// Every CPU operator against the float64 reference on random inputs from a fixed seed (printed; AIF_TEST_SEED=<seed>
// draws others or replays a printed one), outputs poisoned with NaN before each run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "../support/test_seed.hpp"
#include "aif/kernels/backend.hpp"
#include "aif/kernels/opcheck.hpp"
#include "aif/kernels/platform_info.hpp"
#include "aif/kernels/reference.hpp"

namespace {

TEST(KernelOps, EveryCpuOperatorMatchesFloat64Reference) {
  auto backend = aif::kernels::make_cpu_backend(2);
  AIF_TEST_SEED(seed, 20240601);
  const auto checks = aif::kernels::check_operators(*backend, seed);
  ASSERT_GE(checks.size(), 11u);
  for (const auto& c : checks) {
    std::cout << "  " << c.op << " [" << c.shape << "]: normalized error " << c.error << ", bound " << c.bound << "\n";
    EXPECT_TRUE(c.ok()) << c.op << " [" << c.shape << "] error " << c.error << " > bound " << c.bound << " (seed "
                        << seed << ")";
  }
}

TEST(KernelOps, NormalizedErrorSeesNanAndScales) {
  const std::vector<float> y{1.0f, 2.0f, 2.0f};
  EXPECT_DOUBLE_EQ(aif::kernels::ref::normalized_error(y, {1.0, 2.0, 2.0}), 0.0);
  // ||(0, 0, 3)|| / ||(1, 2, -1)||... by hand: diff (0,0,3), ref norm sqrt(1+4+1).
  EXPECT_NEAR(aif::kernels::ref::normalized_error(y, {1.0, 2.0, -1.0}), 3.0 / std::sqrt(6.0), 1e-12);
  const std::vector<float> poisoned{1.0f, std::nanf(""), 2.0f};
  EXPECT_TRUE(std::isinf(aif::kernels::ref::normalized_error(poisoned, {1.0, 2.0, 2.0})));
}

TEST(KernelOps, ReferenceLinearAndAttentionByHand) {
  // [1 2] . [[1 0] [1 1] [0 -1]]^T = [1, 3, -2]
  const std::vector<float> x{1, 2}, w{1, 0, 1, 1, 0, -1};
  const auto y = aif::kernels::ref::linear(x.data(), 1, 2, w.data(), 3);
  EXPECT_EQ(y, (aif::kernels::ref::Vec{1, 3, -2}));
  // One head, head_dim 1, two keys with q.k = 0 and ln 3: weights 1/4, 3/4 over values 4 and 8 -> 7.
  const std::vector<float> q{1}, k{0, static_cast<float>(std::log(3.0))}, v{4, 8};
  const auto a = aif::kernels::ref::attention(q.data(), 1, k.data(), v.data(), 2, 1, 1, 1, 1.0);
  EXPECT_NEAR(a[0], 7.0, 1e-6) << "expected 0.25*4 + 0.75*8 = 7";
}

TEST(KernelOps, CpuLinearRowsDoNotDependOnBatchSize) {
  if (!aif::kernels::blas_rows_independent())
    GTEST_SKIP() << "OpenBLAS runs " << aif::kernels::blas_version()
                 << ": without its AVX-512 kernels SGEMM rows depend on their position in the batch";
  // The engine's bitwise batch independence rests on this: row i of x W^T is the same bits whatever m is.
  // The shapes include ones where plain OpenBLAS 0.3.21 sgemm differs for small m (its small-matrix path).
  auto backend = aif::kernels::make_cpu_backend(2);
  AIF_TEST_SEED(seed, 7);
  std::mt19937 gen(static_cast<std::mt19937::result_type>(seed));
  std::uniform_real_distribution<float> u(-1, 1);
  for (auto [n, k] : std::vector<std::pair<int, int>>{{384, 256}, {80, 96}, {64, 1536}, {512, 512}}) {
    const int m_max = 70;
    std::vector<float> x(size_t(m_max) * size_t(k)), w(size_t(n) * size_t(k));
    for (float& v : x) v = u(gen);
    for (float& v : w) v = u(gen);
    auto mat = backend->make_matrix(w.data(), n, k);
    std::vector<float> full(size_t(m_max) * size_t(n)), part(size_t(m_max) * size_t(n));
    backend->linear(x.data(), m_max, *mat, full.data());
    for (int m : {1, 2, 3, 5, 8, 13, 15, 16, 17, 33}) {
      backend->linear(x.data(), m, *mat, part.data());
      EXPECT_EQ(0, std::memcmp(part.data(), full.data(), sizeof(float) * size_t(m) * size_t(n)))
          << "n=" << n << " k=" << k << " m=" << m;
    }
  }
}

TEST(KernelBackend, UnknownBackendNameIsAnError) {
  EXPECT_THROW(aif::kernels::make_backend("tpu"), std::invalid_argument);
}

}  // namespace
