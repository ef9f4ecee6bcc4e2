// Iteration-time models: how long one scheduler step takes on one replica.
// Three implementations: constant (tests, teaching), roofline from published figures, and
// calibrated from measured operator tables.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "aif/models/calibration.hpp"
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
  // The step at the clock the model was built with (clock_fraction()); equal, bit for bit, to
  // iteration_at_clock(shape, clock_fraction()).
  virtual IterationCost iteration(const BatchShape& shape) const = 0;
  // The step with the GPUs' core clock at `clock_fraction` of the maximum, in (0, 1] (a power cap or DVFS state
  // set while the simulation runs). Compute-bound work slows by 1 / clock; memory-bound work (HBM bandwidth),
  // communication and fixed overheads do not follow the core clock. Pure virtual so that no model ignores a
  // cap by accident.
  virtual IterationCost iteration_at_clock(const BatchShape& shape, double clock_fraction) const = 0;
  // The clock iteration() runs at.
  virtual double clock_fraction() const = 0;
  virtual std::string describe() const = 0;
};

// Every step takes the same time: for analytic tests (M/D/1) and teaching.
class ConstantPerfModel final : public PerfModel {
 public:
  explicit ConstantPerfModel(double seconds);
  IterationCost iteration(const BatchShape& shape) const override;
  // A constant step carries no compute/memory split: the clock does not change it.
  IterationCost iteration_at_clock(const BatchShape& shape, double clock_fraction) const override;
  double clock_fraction() const override { return 1; }
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
  double clock_fraction = 1;         // (0, 1]: a power cap or lower DVFS state scales peak FLOP/s, not HBM bandwidth
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
  IterationCost iteration_at_clock(const BatchShape& shape, double clock_fraction) const override;
  double clock_fraction() const override { return p_.clock_fraction; }
  std::string describe() const override;
  const RooflineParams& params() const { return p_; }
  double weight_bytes_per_gpu() const { return weight_bytes_ / p_.tp; }

 private:
  RooflineParams p_;
  double peak_flops_;    // dense FLOP/s of the dtype at full clock
  double weight_bytes_;  // all weights, whole model
  double layer_params_;  // parameters in the transformer layers (no embeddings, no LM head)
  double head_params_;   // LM head
  double kv_bytes_per_token_;
  double bytes_per_element_;
};


struct CalibratedOptions {
  // Cost of a step outside the timed operators (scheduling, input preparation, block tables, thread
  // hand-offs, cache effects the isolated operator timings miss), fitted by `aifsim calibrate` from a
  // profiling run of the real engine:
  //   overhead = iteration_overhead_s + overhead_per_seq_s * seqs + overhead_per_token_s * tokens
  //              + overhead_per_key_s * keys read by decode tokens.
  double iteration_overhead_s = 0;
  double overhead_per_seq_s = 0;
  double overhead_per_token_s = 0;
  double overhead_per_key_s = 0;
  // Fraction of the maximum clock (a power cap or a lower DVFS state), in (0, 1]. Each operator's
  // time is split by how compute-bound it was when measured (its achieved FLOP/s and bytes/s as
  // fractions of the measured peaks): the compute-bound share stretches by 1 / clock_fraction, the
  // memory-bound share does not (HBM / DRAM bandwidth does not follow the core clock).
  double clock_fraction = 1;
  // Tensor parallel (tp > 1): two ring all-reduces per layer of tokens x hidden activations, as in the
  // roofline model, over this per-GPU one-direction bandwidth (NVLink) with this latency each.
  double allreduce_bandwidth = 450e9;
  double allreduce_latency_s = 5e-6;
  double activation_bytes = 2;  // bytes per activation element on the wire (bf16)
};

// Operator-level iteration time from a measured kbench table (docs/calibration-format.md):
//   layers x [2 rms_norm(t) + qkv_proj(t) + rope(t) + kv_cache_write(t) + attention + o_proj(t)
//             + 2 add(t) + gate_up_proj(t) + swiglu(t) + down_proj(t)]
//   + embedding(t) + rms_norm(s) + lm_head(s) + sampling(s) + TP all-reduces + overhead,
// t = tokens in the step, s = sequences sampled. Attention = attn_decode(decode seqs, mean keys)
// + prefill seqs x attn_prefill(mean chunk, mean prefix).
// Interpolation: piecewise linear in tokens (bilinear over the attention grids). Outside the grid:
// below the first point the first point's time (a call never gets cheaper); above the last point
// linear continuation with the slope of the last two points. check_coverage() refuses shapes more
// than 2x beyond the measured range, so extrapolation stays short.
class CalibratedPerfModel final : public PerfModel {
 public:
  CalibratedPerfModel(const CalibrationTable& table, const ModelArch& model, int tp, CalibratedOptions options);
  IterationCost iteration(const BatchShape& shape) const override;
  IterationCost iteration_at_clock(const BatchShape& shape, double clock_fraction) const override;
  double clock_fraction() const override { return options_.clock_fraction; }
  std::string describe() const override;
  // Throws std::out_of_range naming the operator and the measured range if a step of up to
  // max_tokens tokens, max_seqs sequences or max_context keys would need more than 2x extrapolation.
  void check_coverage(int max_tokens, int max_seqs, int max_context) const;
  // One operator call's time at `tokens` rows (token-indexed operators), at the constructed clock, for tests and
  // reports.
  double op_seconds(const std::string& op, double tokens) const;
  double decode_attention_seconds(double batch, double kv_len) const;
  double prefill_attention_seconds(double chunk, double kv_len) const;

 private:
  struct Point {
    double x, seconds, compute_share;
  };
  struct Curve {
    std::vector<Point> points;  // ascending x
  };
  struct Grid {  // attention: (batch, keys) for decode, (chunk, prefix) for prefill; a full rectangle
    std::vector<double> a, b;
    std::vector<double> seconds, compute_share;  // a.size() x b.size()
  };
  struct Time {
    double seconds = 0, compute = 0;
  };
  Time curve_at(const Curve& c, double x) const;
  Time grid_at(const Grid& g, double a, double b) const;
  Time op(const std::string& name, double tokens) const;
  static Time scaled(Time t, double clock_fraction);

  std::string source_;
  ModelArch model_;
  int tp_;
  CalibratedOptions options_;
  std::map<std::string, Curve> curves_;
  Grid decode_, prefill_;
};

}  // namespace aif::models
