// One engine step composed the way serving engines run a forward pass, per GPU of the replica, at the
// tensor-parallel shard shapes:
//   every layer:  the engine's elementwise operators (norms, rotary embedding, activation, ...),
//                 QKV GEMM, attention (prefill chunks and decode), O GEMM, all-reduce,
//                 gate+up GEMM, down GEMM, all-reduce
//   then:         the engine's final operators (embedding, final norm, sampling), the LM head over the sampled rows,
//                 pipeline-stage sends, and the engine's own CPU work for the step.
// Where the operator times come from is a StepOperators (measured kbench tables of this machine's CPU, or measured
// GPU kernel tables: kernel_tables.hpp); what the engine adds around them is an EngineProfile.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "aif/models/hardware.hpp"
#include "aif/models/serving.hpp"

namespace aif::models {

enum class LinearOp { QKV, O, GATE_UP, DOWN, LM_HEAD };
enum class ElementwiseOp { RMS_NORM, ROPE, ACTIVATION, ADD, EMBEDDING, KV_CACHE_WRITE, SAMPLING };
const char* linear_op_name(LinearOp op);            // "qkv_proj", "o_proj", "gate_up_proj", "down_proj", "lm_head"
const char* elementwise_op_name(ElementwiseOp op);  // "rms_norm", "rope", "activation", "add", ...

// One operator call: its time at full clock, and the share of it the core clock governs (compute-bound), in [0, 1].
struct OpTime {
  double seconds = 0;
  double compute_share = 0;
};

// The largest step a service may ask for, for coverage checks before a run.
struct StepLimits {
  int max_tokens = 0;   // max_num_batched_tokens
  int max_seqs = 0;     // max_num_seqs
  int max_context = 0;  // longest prompt + output
  int64_t max_kv_tokens = 0;  // the KV cache in tokens: what decode keys add up to at most (0: seqs x context)
};

// Operator times of one GPU (or CPU) of a replica for one model at one tensor-parallel degree.
class StepOperators {
 public:
  virtual ~StepOperators() = default;
  virtual OpTime linear(LinearOp op, double rows) const = 0;
  virtual OpTime elementwise(ElementwiseOp op, double tokens) const = 0;
  // `seqs` decoding sequences reading `keys` keys each (their mean).
  virtual OpTime decode_attention(double seqs, double keys) const = 0;
  // `seqs` prefill chunks of `chunk` new tokens after `prefix` cached ones each (their means).
  virtual OpTime prefill_attention(double seqs, double chunk, double prefix) const = 0;
  // One tensor-parallel all-reduce of `bytes` per GPU; `in_graph`: inside a CUDA graph.
  virtual OpTime allreduce(double bytes, bool in_graph) const = 0;
  // Activations of one pipeline stage boundary (`bytes`) sent to the next stage's GPU.
  virtual OpTime pipeline_send(double bytes) const = 0;
  // A mixture of experts' fused MoE layer with `tokens` tokens reaching each GPU (its share of the experts computes
  // those routed to them). Operators without MoE tables refuse (std::invalid_argument).
  virtual OpTime moe(double tokens) const;
  // One expert-parallel all-to-all (dispatch or combine) moving `bytes` from each GPU to the GPUs of its experts.
  virtual OpTime expert_alltoall(double bytes) const;
  // Throws TableRangeError (kernel_tables.hpp) naming the table and the value when a step within `limits` would need
  // more than the allowed extrapolation.
  virtual void check_coverage(const StepLimits& limits) const = 0;
  virtual std::string describe() const = 0;
};

// What the serving engine adds around the operators (data/engines.yaml).
struct EngineProfile {
  struct Call {
    ElementwiseOp op;
    int calls;
    bool per_sampled_row;  // counted over the sampled rows instead of the step's tokens
  };
  std::string name;
  std::vector<Call> layer_ops;  // per layer, besides the four GEMMs and attention
  std::vector<Call> final_ops;  // once per step, besides the LM head
  // CPU work of a step, serial with the GPU: scheduling, input preparation, sampling, output processing.
  double step_s = 0, per_seq_s = 0, per_token_s = 0, per_key_s = 0;  // per_key: keys read by decode tokens
  double per_prefill_pair_s = 0;  // per query-key pair of the prefill chunks (attention that outgrows the caches)
  // CUDA graphs: a step with at most this many sequences replays a captured graph (0: the engine runs eagerly);
  // graphs_for_prefill: also steps holding prefill tokens (vLLM V1's piecewise graphs), else decode-only steps.
  int cuda_graph_max_seqs = 0;
  bool graphs_for_prefill = false;
  // Outside a graph every kernel is launched from the CPU: a kernel shorter than launch_s still costs launch_s.
  double launch_s = 0;
  StepPolicy policy = StepPolicy::UNIFIED;
  std::string source;  // where the figures come from
};

struct ComposedOptions {
  int tp = 1;                    // GPUs sharing each layer (tensor parallel)
  int pp = 1;                    // pipeline stages
  // Attention data parallelism of a mixture of experts (vLLM --data-parallel-size with expert parallelism): dp ranks
  // of tp GPUs, each with its share of the sequences, step together; their tokens meet in the MoE layers through an
  // all-to-all. 1: one rank.
  int dp = 1;
  double clock_fraction = 1;     // (0, 1]: power cap or DVFS state
  double activation_bytes = 2;   // bytes per activation element (all-reduces, stage sends)
};

}  // namespace aif::models
