#include "aif/models/hardware.hpp"

#include <stdexcept>

namespace aif::models {

double ModelArch::parameters() const {
  const double h = hidden, kv = static_cast<double>(kv_heads) * head_dim, q = static_cast<double>(heads) * head_dim;
  const double attn = h * q + 2.0 * h * kv + q * h;  // Wq, Wk, Wv, Wo
  const double mlp = 3.0 * h * ffn;                  // gate, up, down
  const double norms = 2.0 * h;
  return layers * (attn + mlp + norms) + 2.0 * static_cast<double>(vocab) * h + h;
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
