#include "aif/models/training.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace aif::models {

namespace {

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

// Bytes an Adam step moves through HBM per parameter: it reads and writes the fp32 master weight, momentum and
// variance (2 x 12), reads the gradient and writes the compute-dtype copy of the weight.
double optimizer_bytes_per_param(double grad_bytes, double weight_bytes) { return 24 + grad_bytes + weight_bytes; }

}  // namespace

double ring_allreduce_s(double bytes, int ranks, double bandwidth, double step_latency_s) {
  if (ranks <= 1 || bytes <= 0) return 0;
  const double n = ranks;
  return 2.0 * (n - 1) * (step_latency_s + bytes / n / bandwidth);
}

double TrainingStep::bubble_fraction() const {
  return static_cast<double>(params.pp - 1) / static_cast<double>(slots());
}

double TrainingStep::optimizer_s() const {
  double slowest = 0;
  for (const StageCost& s : stages) slowest = std::max(slowest, s.optimizer_s);
  return slowest;
}

TrainingStep plan_training_step(const TrainingParams& p) {
  const ModelArch& m = p.model;
  require(p.dp >= 1 && p.tp >= 1 && p.pp >= 1, "parallelism: dp, tp and pp must be at least 1");
  require(m.layers > 0 && m.hidden > 0 && m.heads > 0 && m.head_dim > 0, "model: " + m.name + " has no shape");
  require(m.layers % p.pp == 0,
          "pp: " + std::to_string(p.pp) + " does not divide the " + std::to_string(m.layers) + " layers of " + m.name);
  require(m.heads % p.tp == 0,
          "tp: " + std::to_string(p.tp) + " does not divide the " + std::to_string(m.heads) + " heads of " + m.name);
  require(p.micro_batch >= 1 && p.global_batch >= 1, "global_batch and micro_batch must be at least 1");
  require(p.global_batch % (p.dp * p.micro_batch) == 0,
          "global_batch: " + std::to_string(p.global_batch) +
              " is not a multiple of dp x micro_batch = " + std::to_string(p.dp * p.micro_batch));
  require(p.seq_len >= 1, "seq_len must be at least 1");
  require(p.efficiency > 0 && p.efficiency <= 1, "efficiency must be in (0, 1]");
  const auto peak = p.device.peak_flops.find(p.dtype);
  require(peak != p.device.peak_flops.end() && peak->second > 0,
          "dtype: " + p.device.name + " has no peak FLOP/s for " + p.dtype);
  require(p.device.hbm_bandwidth > 0, "device: " + p.device.name + " has no HBM bandwidth");

  TrainingStep step;
  step.params = p;
  TrainingParams& q = step.params;
  const double dtype_size = dtype_bytes(q.dtype);
  if (q.grad_bytes <= 0) q.grad_bytes = dtype_size;
  if (q.tp_bandwidth <= 0) q.tp_bandwidth = q.device.nvlink_bandwidth / 2;
  require(q.tp == 1 || q.tp_bandwidth > 0, "tp: " + q.device.name + " has no NVLink bandwidth for TP all-reduces");

  step.micro_batches = q.global_batch / (q.dp * q.micro_batch);
  step.peak_flops = peak->second;
  const double rate = step.peak_flops * q.efficiency;
  const double tp = q.tp;
  const double tokens = static_cast<double>(q.micro_batch) * q.seq_len;  // one micro-batch
  step.tokens_per_step = static_cast<double>(q.global_batch) * q.seq_len;

  // Parameters: ModelArch::parameters() = layers x per-layer + embedding + LM head (untied) + final norm.
  const double embedding = static_cast<double>(m.vocab) * m.hidden;
  const double per_layer = (m.parameters() - 2.0 * embedding - m.hidden) / m.layers;
  // Causal attention over whole sequences: each of the s tokens attends to itself and those before it.
  const double pairs = static_cast<double>(q.micro_batch) * q.seq_len * (q.seq_len + 1.0) / 2.0;
  const double attn_flops_per_layer = 4.0 * m.heads * m.head_dim * pairs;  // QK^T and PV, 2 FLOPs per MAC each

  step.tp_allreduce_bytes = tokens * m.hidden * dtype_size;
  const int layers_per_stage = m.layers / q.pp;
  step.tp_allreduces_per_micro_batch = 4 * layers_per_stage;
  const double one_tp_allreduce = ring_allreduce_s(step.tp_allreduce_bytes, q.tp, q.tp_bandwidth, q.tp_step_latency_s);
  step.pp_send_bytes = q.pp > 1 ? step.tp_allreduce_bytes / tp : 0;
  const double hbm_rate = q.device.hbm_bandwidth * q.device.memory_efficiency;

  double forward_flops_all = 0;  // one micro-batch through the whole model, all TP ranks
  double slowest = -1;
  for (int s = 0; s < q.pp; ++s) {
    StageCost c;
    c.first_layer = s * layers_per_stage;
    c.layers = layers_per_stage;
    c.params = per_layer * layers_per_stage;
    // Linear layers: 2 FLOPs per parameter per token. The embedding is a lookup (no FLOPs); the LM head is a matmul
    // over every token (training computes the loss on all positions).
    double flops = 2.0 * c.params * tokens + attn_flops_per_layer * layers_per_stage;
    if (s == 0) c.params += embedding;
    if (s == q.pp - 1) {
      c.params += embedding + m.hidden;
      flops += 2.0 * embedding * tokens;
    }
    forward_flops_all += flops;
    c.forward_flops = flops / tp;
    c.forward_s = c.forward_flops / rate;
    c.backward_s = 2.0 * c.forward_s;  // gradients of the inputs and of the weights: 2 matmuls per forward matmul
    c.tp_comm_s = step.tp_allreduces_per_micro_batch * one_tp_allreduce;
    const double params_per_gpu = c.params / tp;
    c.grad_bytes = q.dp > 1 ? params_per_gpu * q.grad_bytes : 0;
    c.checkpoint_bytes = params_per_gpu * q.checkpoint_bytes_per_param / q.dp;
    c.optimizer_s = params_per_gpu * optimizer_bytes_per_param(q.grad_bytes, dtype_size) / hbm_rate;
    const double micro_batch_s = c.forward_s + c.backward_s + c.tp_comm_s;
    if (micro_batch_s > slowest) {
      slowest = micro_batch_s;
      step.slowest_stage = s;
    }
    step.dp_allreduce_bytes = std::max(step.dp_allreduce_bytes, c.grad_bytes);
    step.state_bytes_per_gpu = std::max(step.state_bytes_per_gpu, params_per_gpu * ADAM_MIXED_PRECISION_STATE_BYTES);
    step.stages.push_back(c);
  }
  step.model_flops_per_step = 3.0 * forward_flops_all * step.micro_batches * q.dp;
  step.checkpoint_bytes = m.parameters() * q.checkpoint_bytes_per_param;
  return step;
}

StepTime step_time(const TrainingStep& step, const StepComm& comm, bool overlap) {
  StepTime t;
  const double slots = step.slots();
  const double slot_compute = step.forward_s() + step.backward_s();
  const double slot_comm = step.tp_comm_s() + comm.pp_forward_s + comm.pp_backward_s;
  t.pipeline_s = slots * (slot_compute + slot_comm);
  t.bubble_s = (step.params.pp - 1) * (slot_compute + slot_comm);
  t.overlap_window_s = overlap ? step.backward_s() : 0;
  t.exposed_dp_s = std::max(0.0, comm.dp_allreduce_s - t.overlap_window_s);
  t.compute_s = slots * slot_compute + step.optimizer_s();
  t.comm_s = slots * slot_comm + comm.dp_allreduce_s;
  t.exposed_comm_s = slots * slot_comm + t.exposed_dp_s;
  t.total_s = t.compute_s + t.exposed_comm_s;
  return t;
}

}  // namespace aif::models
