// The work of one engine step on each GPU of a replica: FLOPs and HBM bytes, counted from the model's shape and the
// batch alone (no timing). The roofline perf model divides them by peak rates; the GPU power model turns them into
// power over the step's time from any perf model (power.hpp).
#pragma once
#include "aif/models/hardware.hpp"
#include "aif/models/serving.hpp"

namespace aif::models {

struct StepWork {
  double linear_flops = 0;     // QKV, O, MLP GEMMs of every layer and the LM head over the sampled rows
  double linear_bytes = 0;     // their weights, read once per step
  double attention_flops = 0;  // QK^T and PV over every (query, key) pair
  double attention_bytes = 0;  // KV cache read and written
  double flops() const { return linear_flops + attention_flops; }
  double bytes() const { return linear_bytes + attention_bytes; }
};

// Per GPU, with tp GPUs per stage and pp stages. A step is pp micro-batches in flight, each 1/pp of the batch: each
// stage reads its 1/(tp pp) of the weights once per micro-batch, so weights / tp per GPU per step, and computes 1/pp
// of the layers for the whole batch, so FLOPs / (tp pp).
//   linear:    2 (layer params x tokens + LM head params x sampled rows) / (tp pp);   weights (layers + head) / tp
//   attention: 4 layers heads head_dim x attended pairs / (tp pp);   KV bytes per token x (read + written) / (tp pp)
// Embedding lookups (one row per token) and norms are left out: negligible next to the weights.
// A mixture of experts counts each token's experts_per_token experts in its FLOPs, and reads the weights of the
// experts a step's tokens reach: E (1 - (1 - k/E)^tokens) of E per layer, with balanced routing. With dp attention
// ranks the replica's tp x dp GPUs share the experts; each rank holds the other weights, computed for its tokens.
class StepWorkModel {
 public:
  // kv_bytes_per_element: of the KV cache, when it differs from the weights' (fp8 weights keep a bf16 cache); 0 = same.
  StepWorkModel(const ModelArch& model, double bytes_per_element, int tp, int pp, double kv_bytes_per_element = 0,
                int dp = 1);
  StepWork work(const BatchShape& shape) const;
  // The work of one request's own tokens, whatever it is batched with: its prompt as one prefill chunk, then
  // output - 1 decode steps, each attending to and reading the keys before it and its own. Weight reads are per step,
  // not per request, so linear_bytes is 0 here (weight_bytes_per_step()).
  StepWork request_work(double prompt_tokens, double output_tokens) const;
  // Weights read by each GPU in one step.
  double weight_bytes_per_step() const {
    return (layer_params_ + head_params_ + expert_params_ * experts_) * bytes_per_element_ / tp_;
  }

 private:
  double attention_flops_per_pair_;  // 4 layers heads head_dim: QK^T and PV, 2 FLOPs per multiply-add each
  double bytes_per_element_;
  double tp_, pp_;
  double layer_params_, head_params_, kv_bytes_per_token_;
  // Mixtures of experts: layer_params_ leaves the experts out; each expert's parameters over all layers.
  double expert_params_ = 0, experts_ = 0, experts_per_token_ = 0, dp_ = 1;
};

}  // namespace aif::models
