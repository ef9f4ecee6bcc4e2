// Hardware and model-architecture descriptions: plain data, all in SI units.
// Filled from data/hardware.yaml and data/models.yaml by sim/scenario.
#pragma once
#include <cstdint>
#include <map>
#include <string>

namespace aif::models {

// One accelerator type from the catalog. Every figure is per GPU.
// The fitted GPU power model's figures (power.hpp; fitted by `aifsim fit-power` into data/power/gpu_power_fit.csv).
struct GpuPowerFit {
  double busy_floor_w = 0;     // a busy GPU doing no arithmetic and no HBM traffic, W
  double joules_per_flop = 0;  // energy of one FLOP, with the on-chip work around it
  double joules_per_byte = 0;  // energy of one HBM byte moved, with the on-chip work around it
  bool present() const { return busy_floor_w > 0 && joules_per_flop > 0 && joules_per_byte > 0; }
};

struct DeviceSpec {
  std::string name;                           // catalog key, e.g. "H100-SXM"
  std::map<std::string, double> peak_flops;   // dtype ("fp32", "tf32", "bf16", "fp16", "fp8") -> dense FLOP/s
  double hbm_bytes = 0;                       // HBM capacity, bytes
  double hbm_bandwidth = 0;                   // HBM bandwidth, bytes/s
  double nvlink_bandwidth = 0;                // NVLink, bytes/s per GPU, both directions added (NVIDIA's convention)
  double tdp_w = 0;                           // board power limit, W
  double idle_w = 0;                          // idle power, W
  double prefill_w = 0;                       // typical power in compute-bound phases at full utilisation, W
  double decode_w = 0;                        // typical power in memory-bound decode at full utilisation, W
  GpuPowerFit power_fit;                      // when present (and power_model is not "phase"): the fitted model
  std::string power_model;                    // "fitted" or "phase" (the three figures above); "" = fitted if present
  // Fractions of peak reached by real kernels (roofline efficiency), per phase of work.
  double compute_efficiency = 0.7;
  double memory_efficiency = 0.8;
  std::map<std::string, std::string> sources;  // field -> citation of the figure
};

// A decoder-only transformer of the Llama family: dense, or a mixture of experts where every layer's SwiGLU MLP is
// `experts` routed experts of intermediate size `ffn`, `experts_per_token` of them per token (Mixtral, Qwen3-MoE; no
// shared experts and no dense layers, so DeepSeek-V3 and Llama 4 are not of this family).
struct ModelArch {
  std::string name;
  int layers = 0;
  int hidden = 0;
  int heads = 0;
  int kv_heads = 0;
  int head_dim = 0;   // hidden / heads unless stated
  int ffn = 0;        // SwiGLU intermediate size (of each expert in a mixture of experts)
  int experts = 0;            // routed experts per layer; 0: a dense model
  int experts_per_token = 0;  // top-k of the router
  int vocab = 0;
  int max_context = 0;
  std::string source;

  bool is_moe() const { return experts > 0; }
  // Parameter count (embeddings + layers + LM head, untied); every expert counts.
  double parameters() const;
  // Parameters one token passes through: its experts_per_token experts instead of all (= parameters() when dense).
  double active_parameters() const;
  // Parameters of the routed experts of all layers (0 when dense): what expert parallelism splits.
  double expert_parameters() const;
  // KV cache bytes per token for the whole model at the given bytes per element.
  double kv_bytes_per_token(double bytes_per_element) const;
};

// Bytes per element of a dtype name ("fp32" 4, "bf16"/"fp16" 2, "fp8"/"int8" 1); throws on unknown names.
double dtype_bytes(const std::string& dtype);

}  // namespace aif::models
