// CUDA backend: every operator against the float64 reference (bf16 GEMM bounds), and the whole model against
// the CPU backend. Skips visibly when this build has no CUDA backend or the machine has no GPU.
#include <gtest/gtest.h>

#include <random>

#include "../support/test_seed.hpp"
#include "aif/kernels/backend.hpp"
#include "aif/kernels/model.hpp"
#include "aif/kernels/opcheck.hpp"
#include "aif/kernels/reference.hpp"

namespace ak = aif::kernels;

namespace {
std::unique_ptr<ak::Backend> cuda_or_skip() {
  std::string why;
  if (!ak::cuda_device_available(&why)) return nullptr;
  return ak::make_cuda_backend(0);
}
}  // namespace

TEST(CudaBackend, EveryOperatorMatchesFloat64Reference) {
  std::string why;
  if (!ak::cuda_device_available(&why)) GTEST_SKIP() << "no CUDA: " << why;
  auto b = ak::make_cuda_backend(0);
  AIF_TEST_SEED(seed, 20240601);
  std::cout << b->device_description() << "\n";
  for (const auto& c : ak::check_operators(*b, seed)) {
    std::cout << "  " << c.op << " [" << c.shape << "]: " << c.error << " (bound " << c.bound << ")\n";
    EXPECT_TRUE(c.ok()) << c.op << " error " << c.error << " > " << c.bound;
  }
}

TEST(CudaBackend, ModelLogitsAgreeWithCpu) {
  auto gpu = cuda_or_skip();
  if (!gpu) GTEST_SKIP() << "no CUDA device or no CUDA backend in this build";
  auto cpu = ak::make_cpu_backend(2);
  ak::ModelShape s;
  s.name = "gpu-test";
  s.layers = 2;
  s.hidden = 128;
  s.heads = 4;
  s.kv_heads = 2;
  s.head_dim = 32;
  s.ffn = 256;
  s.vocab = 512;
  const auto w = ak::make_weights(s, 11);
  ak::Model mc(*cpu, w), mg(*gpu, w);
  ak::KvCache cc(*cpu, s, 8, 16), cg(*gpu, s, 8, 16);
  ak::ForwardInput in;
  for (int i = 0; i < 40; ++i) in.tokens.push_back((i * 37) % s.vocab);
  in.seqs.push_back({40, 40, {3, 0, 5}, true});
  const auto a = mc.forward(in, cc), g = mg.forward(in, cg);
  const ak::ref::Vec ref(a.begin(), a.end());
  // bf16 weights and GEMM inputs (u = 2^-8) through 2 layers of 4 GEMMs each, plus the LM head: the errors of
  // independent roundings add in quadrature, about sqrt(9 * 2) * 2^-8 = 1.7e-2 of the output norm at worst.
  const double err = ak::ref::normalized_error(g, ref);
  std::cout << "CUDA vs CPU logits: normalized error " << err << "\n";
  EXPECT_LT(err, 5e-2);
}
