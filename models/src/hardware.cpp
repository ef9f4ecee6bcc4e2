#include "aif/models/hardware.hpp"

#include <stdexcept>

namespace aif::models {

namespace {

// Parameters of one layer with `mlps` SwiGLU MLPs of intermediate size ffn: the dense sum keeps its historical order
// (attention, MLP, norms), so dense parameter counts stay the same to the last bit.
double layer_params(const ModelArch& m, double mlps) {
  const double h = m.hidden, kv = static_cast<double>(m.kv_heads) * m.head_dim;
  const double q = static_cast<double>(m.heads) * m.head_dim;
  const double attn = h * q + 2.0 * h * kv + q * h;  // Wq, Wk, Wv, Wo
  const double mlp = 3.0 * h * m.ffn;                // gate, up, down
  const double norms = 2.0 * h;
  if (!m.is_moe()) return attn + mlp + norms;
  const double router = h * m.experts;               // the gate's logit per expert
  return attn + mlps * mlp + norms + router;
}

}  // namespace

double ModelArch::parameters() const {
  return layers * layer_params(*this, experts) + 2.0 * static_cast<double>(vocab) * hidden + hidden;
}

double ModelArch::active_parameters() const {
  return layers * layer_params(*this, experts_per_token) + 2.0 * static_cast<double>(vocab) * hidden + hidden;
}

double ModelArch::expert_parameters() const {
  return is_moe() ? static_cast<double>(layers) * experts * 3.0 * hidden * ffn : 0;
}

double ModelArch::kv_bytes_per_token(double bytes_per_element) const {
  return 2.0 * layers * kv_heads * head_dim * bytes_per_element;  // K and V
}

double dtype_bytes(const std::string& dtype) {
  if (dtype == "fp32" || dtype == "tf32") return 4;
  if (dtype == "bf16" || dtype == "fp16") return 2;
  if (dtype == "fp8" || dtype == "int8") return 1;
  throw std::invalid_argument("unknown dtype '" + dtype + "' (expected fp32, tf32, bf16, fp16, fp8 or int8)");
}

}  // namespace aif::models
