// The training step model (models/training.hpp) on a configuration small enough to do by hand: every figure below
// is worked out in the comments from the definitions, and printed next to what the code computes.
#include <gtest/gtest.h>

#include <cstdio>
#include <stdexcept>

#include "aif/models/training.hpp"

using aif::models::ModelArch;
using aif::models::plan_training_step;
using aif::models::StepComm;
using aif::models::TrainingParams;
using aif::models::TrainingStep;

namespace {

// A 4-layer model: hidden 64, 4 heads of 16, ffn 128, vocab 256.
ModelArch toy_model() {
  ModelArch m;
  m.name = "toy";
  m.layers = 4;
  m.hidden = 64;
  m.heads = 4;
  m.kv_heads = 4;
  m.head_dim = 16;
  m.ffn = 128;
  m.vocab = 256;
  m.max_context = 64;
  return m;
}

// dp 2, tp 2, pp 2 on a device of 1 TFLOP/s bf16, 100 GB/s HBM at 50 %, 20 GB/s NVLink (10 GB/s each way).
TrainingParams toy_params() {
  TrainingParams p;
  p.model = toy_model();
  p.device.name = "toy-gpu";
  p.device.peak_flops["bf16"] = 1e12;
  p.device.hbm_bandwidth = 1e11;
  p.device.memory_efficiency = 0.5;
  p.device.nvlink_bandwidth = 2e10;
  p.dtype = "bf16";
  p.dp = 2;
  p.tp = 2;
  p.pp = 2;
  p.global_batch = 8;
  p.micro_batch = 1;
  p.seq_len = 8;
  p.efficiency = 0.5;
  p.tp_step_latency_s = 1e-6;
  return p;
}

void check(const char* what, double by_hand, double computed, double rel = 1e-12) {
  std::printf("  %-34s by hand %.9g, computed %.9g\n", what, by_hand, computed);
  EXPECT_NEAR(computed, by_hand, rel * std::abs(by_hand)) << what;
}

}  // namespace

TEST(TrainingModel, SmallConfigurationByHand) {
  const TrainingStep s = plan_training_step(toy_params());
  // Parameters per layer: attention 64x64 (q) + 2 x 64x64 (k, v) + 64x64 (o) = 16,384; MLP 3 x 64 x 128 = 24,576;
  // two norms 128: 41,088. Embedding = LM head = 256 x 64 = 16,384. Total 4 x 41,088 + 2 x 16,384 + 64 = 197,184.
  check("parameters", 197184, toy_model().parameters());
  // Micro-batches per replica: 8 / (2 x 1) = 4; slots 4 + 2 - 1 = 5; bubble 1 / 5.
  EXPECT_EQ(s.micro_batches, 4);
  EXPECT_EQ(s.slots(), 5);
  check("bubble fraction", 0.2, s.bubble_fraction());
  // Stage 1 (last) has layers 2-3, the final norm and the LM head: 2 x 41,088 + 16,384 + 64 = 98,624 parameters;
  // stage 0 has layers 0-1 and the embedding: 98,560.
  check("stage 0 parameters", 98560, s.stages[0].params);
  check("stage 1 parameters", 98624, s.stages[1].params);
  // Forward FLOPs of one micro-batch (8 tokens) on stage 1, both TP ranks: linear 2 x 82,176 x 8 = 1,314,816;
  // attention 4 x 4 heads x 16 x 36 pairs (8 x 9 / 2) = 9,216 per layer, x 2 layers = 18,432; LM head
  // 2 x 16,384 x 8 = 262,144. Sum 1,595,392; per GPU (tp 2) 797,696.
  check("stage 1 forward FLOP per GPU", 797696, s.stages[1].forward_flops);
  check("stage 0 forward FLOP per GPU", (1314816 + 18432) / 2.0, s.stages[0].forward_flops);
  EXPECT_EQ(s.slowest_stage, 1);
  // At 1e12 x 0.5 = 5e11 FLOP/s: forward 1.595392 us, backward twice that.
  check("forward per micro-batch", 1.595392e-6, s.forward_s());
  check("backward per micro-batch", 3.190784e-6, s.backward_s());
  // TP all-reduce: 8 tokens x 64 x 2 bytes = 1,024 bytes; ring over 2 ranks at 1e10 B/s with 1 us per step:
  // 2 x 1 x (1e-6 + 1024 / 2 / 1e10) = 2.1024 us; 4 per layer x 2 layers = 8 per micro-batch: 16.8192 us.
  check("TP all-reduce bytes", 1024, s.tp_allreduce_bytes);
  EXPECT_EQ(s.tp_allreduces_per_micro_batch, 8);
  check("TP time per micro-batch", 1.68192e-5, s.tp_comm_s());
  // PP send: the activations split over the 2 TP ranks: 512 bytes per GPU pair.
  check("PP send bytes", 512, s.pp_send_bytes);
  // DP all-reduce: stage 1 gradients per GPU, 98,624 / 2 x 2 bytes = 98,624 bytes.
  check("DP all-reduce bytes", 98624, s.dp_allreduce_bytes);
  // Optimizer: 49,312 parameters per GPU x (24 + 2 + 2) bytes / (1e11 x 0.5) = 27.61472 us.
  check("optimizer", 2.761472e-5, s.optimizer_s());
  // Checkpoint: 197,184 x 14 bytes = 2,760,576; stage 1's GPU writes 49,312 x 14 / 2 (dp) = 345,184.
  check("checkpoint bytes", 2760576, s.checkpoint_bytes);
  check("stage 1 checkpoint share per GPU", 345184, s.stages[1].checkpoint_bytes);
  // Training state: 49,312 x 16 = 788,992 bytes on the fullest GPU.
  check("state per GPU", 788992, s.state_bytes_per_gpu);
  // Model FLOPs of the step: 3 x (1,333,248 + 1,595,392) x 4 micro-batches x 2 replicas = 70,287,360.
  check("model FLOP per step", 70287360, s.model_flops_per_step);
  check("tokens per step", 64, s.tokens_per_step);
  // The GPUs' shares add up to the whole checkpoint: each stage's share x tp 2 x dp 2.
  double shares = 0;
  for (const auto& stage : s.stages) shares += stage.checkpoint_bytes * 2 * 2;
  check("sum of checkpoint shares", 2760576, shares);
}

TEST(TrainingModel, StepTimeWithAndWithoutOverlap) {
  const TrainingStep s = plan_training_step(toy_params());
  StepComm comm;
  comm.pp_forward_s = 1e-5;
  comm.pp_backward_s = 1e-5;
  comm.dp_allreduce_s = 5e-6;
  // Slot: compute 1.595392 + 3.190784 = 4.786176 us; comm 16.8192 + 10 + 10 = 36.8192 us.
  // Pipeline 5 x 41.605376 = 208.02688 us; bubble 1 x 41.605376 us.
  // Overlap window = one backward, 3.190784 us: exposed DP = 5 - 3.190784 = 1.809216 us.
  // Compute = 5 x 4.786176 + 27.61472 = 51.5456 us; exposed comm = 5 x 36.8192 + 1.809216 = 185.905216 us.
  const auto t = aif::models::step_time(s, comm, true);
  check("pipeline", 2.0802688e-4, t.pipeline_s);
  check("bubble", 4.1605376e-5, t.bubble_s);
  check("exposed DP", 1.809216e-6, t.exposed_dp_s);
  check("compute", 5.15456e-5, t.compute_s);
  check("comm", 5 * 3.68192e-5 + 5e-6, t.comm_s);
  check("exposed comm", 1.85905216e-4, t.exposed_comm_s);
  check("step", 2.37450816e-4, t.total_s);
  // The timeline adds up: pipeline, then what the all-reduce sticks out, then the optimizer.
  check("pipeline + exposed DP + optimizer", t.total_s, t.pipeline_s + t.exposed_dp_s + s.optimizer_s());
  // Without overlap the whole all-reduce is exposed: 184.096 + 5 = 189.096 us; step 240.6416 us.
  const auto n = aif::models::step_time(s, comm, false);
  check("exposed comm, no overlap", 1.89096e-4, n.exposed_comm_s);
  check("step, no overlap", 2.406416e-4, n.total_s);
  // An all-reduce shorter than the backward pass hides entirely.
  comm.dp_allreduce_s = 1e-6;
  EXPECT_EQ(aif::models::step_time(s, comm, true).exposed_dp_s, 0.0);
}

TEST(TrainingModel, ImpossibleCombinationsNameTheField) {
  auto message = [](TrainingParams p) {
    try {
      plan_training_step(p);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  TrainingParams p = toy_params();
  p.pp = 3;
  EXPECT_EQ(message(p).rfind("pp:", 0), 0u) << message(p);
  p = toy_params();
  p.global_batch = 7;  // not a multiple of dp x micro_batch = 2
  EXPECT_EQ(message(p).rfind("global_batch:", 0), 0u) << message(p);
  p = toy_params();
  p.tp = 3;
  EXPECT_EQ(message(p).rfind("tp:", 0), 0u) << message(p);
  p = toy_params();
  p.dtype = "fp8";
  EXPECT_EQ(message(p).rfind("dtype:", 0), 0u) << message(p);
}

// Scale check on Llama-3.1-8B's shape, a step of 1,024 sequences of 4,096 tokens: model FLOPs are the usual
// 6 x parameters x tokens (Kaplan et al. 2020) plus causal attention.
TEST(TrainingModel, ModelFlopsCloseToSixNT) {
  TrainingParams p = toy_params();
  p.model.layers = 32;
  p.model.hidden = 4096;
  p.model.heads = 32;
  p.model.kv_heads = 8;
  p.model.head_dim = 128;
  p.model.ffn = 14336;
  p.model.vocab = 128256;
  p.device.peak_flops["bf16"] = 989e12;
  p.device.nvlink_bandwidth = 900e9;
  p.device.hbm_bandwidth = 3.35e12;
  p.dp = 8;
  p.tp = 1;
  p.pp = 1;
  p.global_batch = 1024;
  p.seq_len = 4096;
  const TrainingStep s = plan_training_step(p);
  // 6 N T counts the embedding as a matmul; the code does not (a lookup), and adds causal attention:
  // 6 x (N - V h) x T + 3 x 4 x layers x h x T x (s + 1) / 2.
  const double n = p.model.parameters(), t = s.tokens_per_step;
  const double by_hand = 6 * (n - 128256.0 * 4096 - 4096) * t + 12.0 * 32 * 4096 * t * 4097 / 2;
  check("Llama-3.1-8B step FLOP", by_hand, s.model_flops_per_step, 1e-9);
  std::printf("  6 N T = %.4g FLOP, with attention %.4g FLOP\n", 6 * n * t, s.model_flops_per_step);
}
