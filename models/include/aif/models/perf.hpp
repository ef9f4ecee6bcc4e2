// Iteration-time models: how long one scheduler step takes on one replica.
// The roofline model here is the first one; the calibrated, table-driven model of a
// later issue implements the same interface.
#pragma once
#include <memory>
#include <string>

#include "aif/models/hardware.hpp"
#include "aif/models/serving.hpp"

namespace aif::models {

struct IterationCost {
  double seconds = 0;          // wall time of the step on the replica
  double compute_seconds = 0;  // time the FLOP-bound parts would take alone
  double memory_seconds = 0;   // time the byte-bound parts would take alone
  double comm_seconds = 0;     // tensor-parallel all-reduces
  double flops = 0;            // per GPU
  double bytes = 0;            // HBM bytes per GPU
  // Share of the step the GPU's arithmetic units are the bottleneck, in [0, 1]: the power model's input.
  double compute_bound_share() const { return seconds > 0 ? compute_seconds / seconds : 0; }
};

class PerfModel {
 public:
  virtual ~PerfModel() = default;
  virtual IterationCost iteration(const BatchShape& shape) const = 0;
  virtual std::string describe() const = 0;
};

// Every step takes the same time: for analytic tests (M/D/1) and teaching.
class ConstantPerfModel final : public PerfModel {
 public:
  explicit ConstantPerfModel(double seconds);
  IterationCost iteration(const BatchShape& shape) const override;
  std::string describe() const override;

 private:
  double seconds_;
};

struct RooflineParams {
  DeviceSpec device;
  ModelArch model;
  std::string dtype = "bf16";
  int tp = 1;                        // GPUs sharing the model (tensor parallel)
  double allreduce_bandwidth = 0;    // bytes/s one direction per GPU for TP all-reduce (NVLink); 0 = device's / 2
  double allreduce_latency_s = 5e-6; // per all-reduce
  double iteration_overhead_s = 0;   // fixed CPU cost per step (scheduling, launch)
};

// Roofline per operator group, per GPU of the replica:
//   linear layers + LM head: max(2 * params_rows * tokens / (peak * eff_c), weight bytes / (bw * eff_m))
//   attention:               max(4 * layers * heads * head_dim * attended_pairs / tp / (peak * eff_c),
//                                KV bytes read + written / tp / (bw * eff_m))
//   tensor parallel:         2 all-reduces per layer of tokens * hidden * bytes, ring: 2 (tp-1)/tp * size / bw + latency
// plus a fixed per-step overhead. Groups run one after another, so their times add.
class RooflinePerfModel final : public PerfModel {
 public:
  explicit RooflinePerfModel(RooflineParams params);
  IterationCost iteration(const BatchShape& shape) const override;
  std::string describe() const override;
  const RooflineParams& params() const { return p_; }
  double weight_bytes_per_gpu() const { return weight_bytes_ / p_.tp; }

 private:
  RooflineParams p_;
  double peak_flops_;    // dense FLOP/s of the dtype
  double weight_bytes_;  // all weights, whole model
  double layer_params_;  // parameters in the transformer layers (no embeddings, no LM head)
  double head_params_;   // LM head
  double kv_bytes_per_token_;
  double bytes_per_element_;
};

}  // namespace aif::models
