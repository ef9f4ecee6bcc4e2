// Every operator of a backend against the float64 reference (reference.hpp) on fresh random inputs, with
// outputs poisoned (NaN) before each run so an unwritten element fails. Used by the unit tests (CPU), the
// GPU tests (CUDA) and `aifsim-kbench check`.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "aif/kernels/backend.hpp"

namespace aif::kernels {

// Unit roundoff of what a backend stores and accumulates: fp32 2^-24; bf16 2^-8.
struct Precision {
  double storage_u = 0x1.0p-24;     // GEMM operands as stored (weights, and activations converted for the GEMM)
  double accumulate_u = 0x1.0p-24;  // arithmetic of the sums and of every other operator
};
Precision precision_of(const Backend& backend);

struct OpCheck {
  std::string op;
  std::string shape;
  double error = 0;  // normalized L2 error vs the float64 reference
  double bound = 0;  // what the precision allows (see opcheck.cpp for each derivation)
  bool ok() const { return error <= bound; }
};

// seed chooses the inputs (counter RNG); the tests pass a fresh one each run and print it.
std::vector<OpCheck> check_operators(Backend& backend, uint64_t seed);

}  // namespace aif::kernels
