// Iteration-time models: how long one scheduler step takes on one replica.
// Implementations: constant (tests, teaching), roofline from published figures, and operator-composed
// (ComposedPerfModel) from measured GPU kernel tables or from measured kbench tables of this CPU.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "aif/models/calibration.hpp"
#include "aif/models/hardware.hpp"
#include "aif/models/serving.hpp"
#include "aif/models/step_model.hpp"
#include "aif/models/step_work.hpp"

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
  // Pipeline parallelism, as in ComposedPerfModel: pp micro-batches in flight, so a step of the batch is one pass of
  // all layers over 1/pp of it (on tp GPUs each holding 1/(tp pp) of the weights) plus pp - 1 activation sends.
  int pp = 1;
  double stage_send_bandwidth = 0;   // bytes/s between stages (0: the all-reduce bandwidth)
  int dp = 1;                        // attention ranks of a mixture of experts (step_work.hpp); all-to-alls left out
  std::string kv_dtype = "";         // of the KV cache; "" = the weights' dtype
};

// Roofline per operator group, per GPU of the replica:
//   linear layers + LM head: max(2 * params_rows * tokens / (peak * eff_c), weight bytes / (bw * eff_m))
//   attention:               max(4 * layers * heads * head_dim * attended_pairs / tp / (peak * eff_c),
//                                KV bytes read + written / tp / (bw * eff_m))
//   tensor parallel:         2 all-reduces per layer of tokens * hidden * bytes, ring: 2 (tp-1)/tp * size / bw + latency
// plus a fixed per-step overhead. Groups run one after another, so their times add. With pipeline stages (pp > 1)
// the same terms over 1/pp of the batch, plus pp - 1 sends of its activations between stages.
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
  double bytes_per_element_;
  std::shared_ptr<const StepWorkModel> work_;  // FLOPs and bytes of a step (step_work.hpp)
};


// An engine step composed from operator times (step_model.hpp): per layer the engine's elementwise operators, the
// four GEMMs, attention and two tensor-parallel all-reduces; then the final operators, the LM head over the sampled
// rows, pipeline-stage sends and the engine's CPU work. The source of the operator times (GPU kernel tables, kbench
// tables of this CPU) is the StepOperators; the engine's additions are the EngineProfile.
// Where a composed step's time goes (seconds at the model's clock; they add up to IterationCost::seconds).
struct StepBreakdown {
  double gemm = 0;         // QKV, O, gate+up and down GEMMs (or the fused MoE) of every layer, and the LM head
  double attention = 0;    // prefill and decode attention of every layer
  double elementwise = 0;  // norms, rotary embedding, activation, embedding, ...
  double communication = 0;  // tensor-parallel all-reduces, expert-parallel all-to-alls and pipeline-stage sends
  double engine = 0;       // the engine's CPU work for the step
  bool cuda_graph = false;
  double total() const { return gemm + attention + elementwise + communication + engine; }
};

class ComposedPerfModel : public PerfModel {
 public:
  ComposedPerfModel(std::shared_ptr<const StepOperators> ops, ModelArch model, ComposedOptions options,
                    EngineProfile engine);
  ~ComposedPerfModel() override;
  IterationCost iteration(const BatchShape& shape) const override;
  IterationCost iteration_at_clock(const BatchShape& shape, double clock_fraction) const override;
  double clock_fraction() const override { return options_.clock_fraction; }
  std::string describe() const override;
  // Whether the engine replays a CUDA graph for this step (no per-kernel launch cost).
  bool in_cuda_graph(const BatchShape& shape) const;
  // The step's time by kind of work (aifsim steptime), at the model's clock.
  StepBreakdown breakdown(const BatchShape& shape) const;
  // Throws TableRangeError (kernel_tables.hpp) when a step within the limits would need the operator tables beyond
  // what they allow; the message names the table and the value.
  void check_coverage(const StepLimits& limits) const;
  const StepOperators& operators() const { return *ops_; }
  const EngineProfile& engine() const { return engine_; }
  const ComposedOptions& options() const { return options_; }
  const ModelArch& model() const { return model_; }
  // Bytes a replica's expert-parallel all-to-alls move per token of a step and per MoE layer, dispatch and combine
  // together (0 without attention data parallelism: its experts' outputs meet in the all-reduce).
  static double alltoall_bytes_per_token(const ModelArch& model, const ComposedOptions& options);

 private:
  struct Cache;
  std::shared_ptr<const StepOperators> ops_;
  ModelArch model_;
  ComposedOptions options_;
  EngineProfile engine_;
  // Step parts that depend on the token (sampled row) count alone, kept per count and clock. Not for concurrent
  // calls: a run is single-threaded.
  std::unique_ptr<Cache> cache_;
};

// Speculative decoding with a draft model: a step costs the target's step (its shape verifies the drafts, perf
// models time it as is) plus the draft model's work on the same GPUs, one after the other: its own prefill of the
// step's prompt chunks (it keeps a KV cache of every request too) and, for the verifying sequences, the sequential
// decode steps that proposed their drafts (as many as the most drafts per sequence, each over all of them).
class DraftedPerfModel final : public PerfModel {
 public:
  DraftedPerfModel(std::unique_ptr<PerfModel> target, std::unique_ptr<PerfModel> draft);
  IterationCost iteration(const BatchShape& shape) const override;
  IterationCost iteration_at_clock(const BatchShape& shape, double clock_fraction) const override;
  double clock_fraction() const override { return target_->clock_fraction(); }
  std::string describe() const override;
  const PerfModel& target() const { return *target_; }
  // The draft model's part of a step (0 for a step with no prompt chunk and no verification).
  IterationCost draft_cost(const BatchShape& shape, double clock_fraction) const;

 private:
  std::unique_ptr<PerfModel> target_, draft_;
};

struct CalibratedOptions {
  // Cost of a step outside the timed operators (scheduling, input preparation, block tables, thread
  // hand-offs, cache effects the isolated operator timings miss), fitted by `aifsim calibrate` from a
  // profiling run of the real engine:
  //   overhead = iteration_overhead_s + overhead_per_seq_s * seqs + overhead_per_token_s * tokens
  //              + overhead_per_key_s * keys read by decode tokens
  //              + overhead_per_prefill_pair_s * query-key pairs of the prefill chunks.
  double iteration_overhead_s = 0;
  double overhead_per_seq_s = 0;
  double overhead_per_token_s = 0;
  double overhead_per_key_s = 0;
  double overhead_per_prefill_pair_s = 0;
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

// The reference engine (aifsim-engine) on a measured kbench table (docs/calibration-format.md), composed as above with
// the engine's own operators:
//   layers x [2 rms_norm(t) + qkv_proj(t) + rope(t) + kv_cache_write(t) + attention + o_proj(t)
//             + 2 add(t) + gate_up_proj(t) + swiglu(t) + down_proj(t)]
//   + embedding(t) + rms_norm(s) + lm_head(s) + sampling(s) + TP all-reduces + overhead,
// t = tokens in the step, s = sequences sampled. Attention = attn_decode(decode seqs, mean keys)
// + prefill seqs x attn_prefill(mean chunk, mean prefix).
// Interpolation: piecewise linear in tokens (bilinear over the attention grids). Outside the grid:
// below the first point the first point's time (a call never gets cheaper); above the last point
// linear continuation with the slope of the last two points. check_coverage() refuses shapes more
// than 2x beyond the measured range, so extrapolation stays short.
class CalibratedPerfModel final : public ComposedPerfModel {
 public:
  CalibratedPerfModel(const CalibrationTable& table, const ModelArch& model, int tp, CalibratedOptions options);
  std::string describe() const override;
  // Throws std::out_of_range naming the operator and the measured range if a step of up to
  // max_tokens tokens, max_seqs sequences or max_context keys would need more than 2x extrapolation.
  using ComposedPerfModel::check_coverage;
  void check_coverage(int max_tokens, int max_seqs, int max_context) const;
  // One operator call's time at `tokens` rows (token-indexed operators), at the constructed clock, for tests and
  // reports.
  double op_seconds(const std::string& op, double tokens) const;
  double decode_attention_seconds(double batch, double kv_len) const;
  double prefill_attention_seconds(double chunk, double kv_len) const;
  // The engine profile of aifsim-engine with these overheads: its per-layer operators and CPU work per step.
  static EngineProfile reference_engine(const CalibratedOptions& options);

 private:
  std::string source_;
  CalibratedOptions calibrated_;
};

}  // namespace aif::models
