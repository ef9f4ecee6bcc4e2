// One optimizer step of a training or fine-tuning job: a dense decoder-only transformer under data (dp), tensor
// (tp) and pipeline (pp) parallelism, Megatron-LM style, with the 1F1B pipeline schedule.
// Pure arithmetic, no SimGrid: sim/training_job times the compute with SimGrid timers and runs the data-parallel
// and pipeline communication over the fabric; step_time() is the same step in closed form, given those
// communication times (what an idle fabric gives), so tests can hold the two equal.
//
// Sources of the rules used here:
//  - backward ~ 2x forward FLOPs, 2 TP all-reduces per layer forward and 2 backward, pipeline bubble
//    (pp - 1) / (m + pp - 1) of 1F1B, activations sent between stages split over the TP ranks ("scatter/gather"):
//    Narayanan et al., "Efficient Large-Scale Language Model Training on GPU Clusters Using Megatron-LM", SC 2021.
//  - Mixed-precision Adam holds 2 (fp16/bf16 weights) + 2 (gradients) + 12 (fp32 master weights, momentum,
//    variance) = 16 bytes per parameter: Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion
//    Parameter Models", SC 2020, section 3.1. A checkpoint keeps weights and optimizer state but not the
//    gradients: 14 bytes per parameter.
//
// Units: seconds, bytes, FLOP, FLOP/s.
#pragma once
#include <string>
#include <vector>

#include "aif/models/hardware.hpp"

namespace aif::models {

// ZeRO (SC 2020) section 3.1: 2 + 2 + 12 bytes per parameter for mixed-precision Adam.
inline constexpr double ADAM_MIXED_PRECISION_STATE_BYTES = 16;
// The same minus the gradients (2 bytes), which are not saved.
inline constexpr double ADAM_CHECKPOINT_BYTES = 14;

struct TrainingParams {
  DeviceSpec device;
  ModelArch model;
  std::string dtype = "bf16";  // compute, activations and weights used in the passes
  int dp = 1;                  // data-parallel replicas
  int tp = 1;                  // tensor-parallel ranks (inside one NVLink domain)
  int pp = 1;                  // pipeline stages; model.layers must be a multiple
  int global_batch = 1;        // sequences per optimizer step, all replicas together
  int micro_batch = 1;         // sequences per micro-batch of one replica; global_batch % (dp * micro_batch) == 0
  int seq_len = 2048;          // tokens per sequence
  double efficiency = 0.5;     // (0, 1]: share of the dtype's dense peak FLOP/s the passes reach (an MFU knob)
  double grad_bytes = 0;       // bytes per gradient element in the DP all-reduce; 0 = the dtype's
  double checkpoint_bytes_per_param = ADAM_CHECKPOINT_BYTES;
  // TP all-reduces stay inside an NVLink domain, where no other job's traffic goes: they are timed in closed form,
  // ring algorithm, 2 (tp - 1) steps of (tp_step_latency_s + bytes / tp / tp_bandwidth) each.
  double tp_bandwidth = 0;          // bytes/s per GPU, one direction; 0 = device.nvlink_bandwidth / 2
  double tp_step_latency_s = 1e-6;  // one ring step (GPU -> NVSwitch -> GPU)
};

// One pipeline stage; "per GPU" means one of its tp ranks.
struct StageCost {
  int first_layer = 0;
  int layers = 0;
  double params = 0;            // parameters of the stage, all its TP ranks together (embedding on the first,
                                // final norm and LM head on the last)
  double forward_flops = 0;     // one micro-batch's forward pass, per GPU
  double forward_s = 0;         // forward_flops at peak x efficiency
  double backward_s = 0;        // 2 x forward
  double tp_comm_s = 0;         // the micro-batch's TP all-reduces, forward and backward
  double grad_bytes = 0;        // per GPU: size of its DP gradient all-reduce
  double checkpoint_bytes = 0;  // per GPU: its share of the checkpoint (stage state / tp / dp)
  double optimizer_s = 0;       // Adam update of the GPU's parameters, HBM-bound
};

// A training step's decomposition. Built by plan_training_step().
struct TrainingStep {
  TrainingParams params;
  int micro_batches = 0;            // per replica per step: global_batch / (dp * micro_batch)
  std::vector<StageCost> stages;    // pp entries
  int slowest_stage = 0;            // the stage with the longest micro-batch (forward + backward + TP)
  double tokens_per_step = 0;       // global_batch x seq_len
  double model_flops_per_step = 0;  // forward + backward FLOPs of the whole step, all GPUs (for achieved FLOP/s)
  double peak_flops = 0;            // the dtype's dense peak of one GPU
  // Communication sizes.
  double tp_allreduce_bytes = 0;          // one TP all-reduce: a micro-batch's activations (micro_batch x seq x hidden)
  int tp_allreduces_per_micro_batch = 0;  // per stage: 4 per layer (2 forward, 2 backward)
  double pp_send_bytes = 0;               // per GPU pair and micro-batch, each direction: activations / tp
  double dp_allreduce_bytes = 0;          // per GPU, the largest stage's gradients
  double checkpoint_bytes = 0;            // the whole job's checkpoint (params x checkpoint_bytes_per_param)
  double state_bytes_per_gpu = 0;  // weights + gradients + Adam state of the fullest GPU (activations not counted)

  int gpus() const { return params.dp * params.tp * params.pp; }
  // Micro-batch slots of the 1F1B schedule: m + pp - 1.
  int slots() const { return micro_batches + params.pp - 1; }
  // (pp - 1) / (m + pp - 1): the share of the pipeline phase a stage waits.
  double bubble_fraction() const;
  // Slowest stage, per micro-batch: forward, backward, TP communication.
  double forward_s() const { return stages[slowest_stage].forward_s; }
  double backward_s() const { return stages[slowest_stage].backward_s; }
  double tp_comm_s() const { return stages[slowest_stage].tp_comm_s; }
  double optimizer_s() const;  // slowest GPU
};

// Throws std::invalid_argument naming the field for impossible combinations (layers not a multiple of pp, batch not
// a multiple of dp x micro_batch, heads not a multiple of tp, no peak FLOP/s for the dtype, ...).
TrainingStep plan_training_step(const TrainingParams& params);

// Communication times of one step, from the fabric (simulated) or from a collective formula (closed form).
struct StepComm {
  double pp_forward_s = 0;    // one micro-batch's activations to the next stage (0 when pp == 1)
  double pp_backward_s = 0;   // its gradients back to the previous stage
  double dp_allreduce_s = 0;  // the gradient all-reduce of the slowest DP group (0 when dp == 1)
};

struct StepTime {
  double pipeline_s = 0;        // slots x (forward + backward + TP + PP sends): the 1F1B phase, bubble included
  double overlap_window_s = 0;  // backward time the DP all-reduce can hide behind (0 without overlap)
  double compute_s = 0;         // slots x (forward + backward) + optimizer: compute on the critical path
  double comm_s = 0;            // slots x (TP + PP sends) + the whole DP all-reduce
  double exposed_dp_s = 0;      // max(0, DP all-reduce - overlap window)
  double exposed_comm_s = 0;    // slots x (TP + PP sends) + exposed DP
  double bubble_s = 0;          // (pp - 1) x (forward + backward + TP + PP sends), part of pipeline_s
  double total_s = 0;           // compute_s + exposed_comm_s
};

// The step on an idle fabric. The timeline (also what sim/training_job follows):
//   [0, pipeline_s)                          1F1B: every slot is forward, TP all-reduces, activation send, backward,
//                                            gradient send on the slowest stage
//   [pipeline_s - overlap_window_s, ...)     the DP gradient all-reduce, started with the last micro-batch's backward
//                                            (bucketed, as PyTorch DDP / Megatron overlap it); the window is that
//                                            backward when `overlap`, else 0
//   after both                               the optimizer step.
StepTime step_time(const TrainingStep& step, const StepComm& comm, bool overlap);

// Ring all-reduce of `bytes` per rank over `ranks` ranks: 2 (n - 1) steps of (latency + bytes / n / bandwidth).
double ring_allreduce_s(double bytes, int ranks, double bandwidth, double step_latency_s);

}  // namespace aif::models
