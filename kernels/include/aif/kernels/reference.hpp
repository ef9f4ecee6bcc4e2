// Naive float64 reference operators: the second implementation every backend is checked against.
// Inputs are the same fp32 arrays the backends get; outputs are double. Written for clarity, not speed.
#pragma once
#include <cstdint>
#include <vector>

#include "aif/kernels/model.hpp"

namespace aif::kernels::ref {

using Vec = std::vector<double>;

Vec linear(const float* x, int m, int k, const float* w, int n);  // [m][n] = x[m][k] w[n][k]^T
Vec embedding(const int32_t* tokens, int m, const float* table, int hidden);
Vec rms_norm(const float* x, const float* gamma, int m, int hidden, double eps);
// Rotated copy of x rows: [m][heads head_dim].
Vec rope(const float* x, int row_stride, const int32_t* positions, int m, int heads, int head_dim, double theta);
// One sequence with contiguous K/V [context_len][kv_heads head_dim]; q [q_len][heads head_dim] are its last
// q_len positions; causal. Returns [q_len][heads head_dim].
Vec attention(const float* q, int q_len, const float* k, const float* v, int context_len, int heads, int kv_heads,
              int head_dim, double scale);
Vec swiglu(const float* gate_up, int m, int ffn);

// The whole model on one sequence without any cache: logits [tokens.size()][vocab] for every position.
Vec model_forward(const HostWeights& weights, const std::vector<int32_t>& tokens);

// ||y - ref||_2 / ||ref||_2 (the error measure of the correctness tests); infinite if y has a NaN.
double normalized_error(const float* y, const Vec& ref);
double normalized_error(const std::vector<float>& y, const Vec& ref);

}  // namespace aif::kernels::ref
