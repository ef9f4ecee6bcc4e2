// The step composition of ComposedPerfModel (step_model.hpp, perf.hpp) against hand-written operator times.
// FakeOps returns times that are whole multiples of U = 2^-20 s (about 1 us) with compute shares 0, 1/4, 1/2, 3/4,
// and clock 1/2: every sum, product and stretch below is exact in binary floating point, so a step's time is checked
// bit for bit (EXPECT_EQ) against the sum written out by hand in units of U.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "aif/models/perf.hpp"

using namespace aif::models;

namespace {

constexpr double U = 1.0 / (1 << 20);

// Operator times per call (U = 2^-20 s):
//   linear:       U x rows x {QKV 3, O 2, GATE_UP 6, DOWN 4, LM_HEAD 8}; compute share 3/4
//   elementwise:  U x tokens x {RMS_NORM 1, ROPE 1, ACTIVATION 2, ADD 1, EMBEDDING 1, SAMPLING 4}; share 0
//   decode attn:  U x seqs x keys / 16; share 1/4
//   prefill attn: U x seqs x (2 chunk + prefix) / 8; share 1/2
//   all-reduce:   U x bytes / 1024 inside a CUDA graph, twice that outside; share 1 (which the composition must ignore:
//                 communication does not follow the core clock)
//   stage send:   U x (16 + bytes / 1024); share 1 (ignored as well)
// Every call is recorded with its arguments.
struct Call {
  std::string op;
  double a = 0, b = 0, c = 0;
};

class FakeOps final : public StepOperators {
 public:
  mutable std::vector<Call> calls;

  OpTime linear(LinearOp op, double rows) const override {
    calls.push_back({linear_op_name(op), rows});
    static const double per_row[] = {3, 2, 6, 4, 8};  // LinearOp order
    return {U * rows * per_row[static_cast<int>(op)], 0.75};
  }
  OpTime elementwise(ElementwiseOp op, double tokens) const override {
    calls.push_back({elementwise_op_name(op), tokens});
    const double per_token = op == ElementwiseOp::ACTIVATION ? 2 : op == ElementwiseOp::SAMPLING ? 4 : 1;
    return {U * tokens * per_token, 0};
  }
  OpTime decode_attention(double seqs, double keys) const override {
    calls.push_back({"decode_attention", seqs, keys});
    return {U * seqs * keys / 16, 0.25};
  }
  OpTime prefill_attention(double seqs, double chunk, double prefix) const override {
    calls.push_back({"prefill_attention", seqs, chunk, prefix});
    return {U * seqs * (2 * chunk + prefix) / 8, 0.5};
  }
  OpTime allreduce(double bytes, bool in_graph) const override {
    calls.push_back({"allreduce", bytes, in_graph ? 1.0 : 0.0});
    return {U * bytes / 1024 * (in_graph ? 1 : 2), 1.0};
  }
  OpTime pipeline_send(double bytes) const override {
    calls.push_back({"pipeline_send", bytes});
    return {U * (16 + bytes / 1024), 1.0};
  }
  // Mixtures of experts: the fused MoE layer U x tokens x 10 (compute share 1/2); an all-to-all U x bytes / 1024.
  OpTime moe(double tokens) const override {
    calls.push_back({"moe", tokens});
    return {U * tokens * 10, 0.5};
  }
  OpTime expert_alltoall(double bytes) const override {
    calls.push_back({"alltoall", bytes});
    return {U * bytes / 1024, 1.0};
  }
  void check_coverage(const StepLimits& limits) const override {
    calls.push_back({"check_coverage", static_cast<double>(limits.max_tokens)});
  }
  std::string describe() const override { return "fake ops"; }

  // The calls of operator `op`, in order.
  std::vector<Call> of(const std::string& op) const {
    std::vector<Call> v;
    for (const Call& c : calls)
      if (c.op == op) v.push_back(c);
    return v;
  }
};

// 2 layers, hidden 512: a step's activations are tokens x 512 x 2 bytes = 1024 bytes per token, so an all-reduce costs
// U per token inside a graph (2 U outside) and a stage send (16 + tokens) U.
ModelArch toy_model() {
  ModelArch m;
  m.name = "toy";
  m.layers = 2;
  m.hidden = 512;
  m.heads = 4;
  m.kv_heads = 4;
  m.head_dim = 128;
  m.ffn = 1024;
  m.vocab = 1000;
  return m;
}

// Per layer: 2 rms_norm, rope, activation, 2 add over the step's tokens: (2 + 1 + 2 + 2) = 7 U per token.
// Per step: embedding over the tokens (1 U per token); rms_norm and sampling over the sampled rows, with the LM head
// (1 + 4 + 8 = 13 U per sampled row). No CUDA graphs, no launch cost, no CPU work unless a test sets them.
EngineProfile toy_engine() {
  EngineProfile e;
  e.name = "toy-engine";
  e.layer_ops = {{ElementwiseOp::RMS_NORM, 2, false},
                 {ElementwiseOp::ROPE, 1, false},
                 {ElementwiseOp::ACTIVATION, 1, false},
                 {ElementwiseOp::ADD, 2, false}};
  e.final_ops = {{ElementwiseOp::EMBEDDING, 1, false},
                 {ElementwiseOp::RMS_NORM, 1, true},
                 {ElementwiseOp::SAMPLING, 1, true}};
  return e;
}

struct Fixture {
  std::shared_ptr<FakeOps> ops = std::make_shared<FakeOps>();
  ComposedPerfModel model;
  explicit Fixture(ComposedOptions o = {}, EngineProfile e = toy_engine()) : model(ops, toy_model(), o, std::move(e)) {}
};

ComposedOptions opts(int tp, int pp = 1, double clock = 1) {
  ComposedOptions o;
  o.tp = tp;
  o.pp = pp;
  o.clock_fraction = clock;
  return o;
}

// One chunk into a shape, as the scheduler counts it (serving.cpp: add_to_shape): n new tokens after `context` cached
// ones see context x n + n (n + 1) / 2 keys in all.
void add_chunk(BatchShape& s, int n, int context, bool decode, bool samples) {
  const double pairs = static_cast<double>(n) * context + n * (n + 1.0) / 2;
  s.num_seqs += 1;
  s.num_tokens += n;
  if (decode) {
    s.decode_seqs += 1;
  } else {
    s.prefill_tokens += n;
    s.prefill_seqs += 1;
    s.prefill_attended_pairs += pairs;
  }
  if (samples) s.sampled_seqs += 1;
  s.attended_pairs += pairs;
  s.kv_read_tokens += context + n;
}

// 4 sequences decoding after 63 cached tokens each: 4 tokens, 4 sampled rows, 64 keys each.
BatchShape decode4() {
  BatchShape s;
  for (int i = 0; i < 4; ++i) add_chunk(s, 1, 63, true, true);
  return s;
}
// 2 whole prompts of 16 tokens: 32 tokens, 2 sampled rows.
BatchShape prefill2x16() {
  BatchShape s;
  for (int i = 0; i < 2; ++i) add_chunk(s, 16, 0, false, true);
  return s;
}
// 2 decodes after 63 tokens and the last chunk of a prompt, 32 tokens after 32 cached: 34 tokens, 3 sampled rows.
BatchShape mixed() {
  BatchShape s;
  add_chunk(s, 1, 63, true, true);
  add_chunk(s, 1, 63, true, true);
  add_chunk(s, 32, 32, false, true);
  return s;
}

void expect_same(const IterationCost& a, const IterationCost& b, const std::string& what) {
  EXPECT_EQ(a.seconds, b.seconds) << what;
  EXPECT_EQ(a.compute_seconds, b.compute_seconds) << what;
  EXPECT_EQ(a.memory_seconds, b.memory_seconds) << what;
  EXPECT_EQ(a.comm_seconds, b.comm_seconds) << what;
}

}  // namespace

TEST(StepModel, DecodeStepIsTheHandSum) {
  Fixture f;
  const IterationCost c = f.model.iteration(decode4());
  // 2 layers x t = 4 tokens:
  //   elementwise 7 U x 4 x 2 layers                            =  56
  //   GEMMs (3 + 2 + 6 + 4) U x 4 x 2 layers                    = 120
  //   decode attention 4 seqs x 64 keys / 16 = 16 U, x 2 layers  =  32
  //   embedding 1 U x 4                                         =   4
  //   rms_norm + sampling + LM head 13 U x 4 sampled rows        =  52
  //                                                               264 U
  EXPECT_EQ(c.seconds, 264 * U);
  // Compute-bound: 3/4 of the GEMMs (120 + LM head 32) and 1/4 of the attention (32): 90 + 24 + 8 = 122 U.
  EXPECT_EQ(c.compute_seconds, 122 * U);
  EXPECT_EQ(c.comm_seconds, 0);
  EXPECT_EQ(c.memory_seconds, (264 - 122) * U);
  // Decode attention saw 4 sequences of (256 - 0) / 4 = 64 keys, once per layer.
  const std::vector<Call> attn = f.ops->of("decode_attention");
  ASSERT_EQ(attn.size(), 1u);  // one call, counted for both layers
  EXPECT_EQ(attn[0].a, 4);
  EXPECT_EQ(attn[0].b, 64);
  EXPECT_TRUE(f.ops->of("prefill_attention").empty());
  EXPECT_TRUE(f.ops->of("allreduce").empty());  // tp 1
}

TEST(StepModel, PrefillStepIsTheHandSum) {
  Fixture f;
  const IterationCost c = f.model.iteration(prefill2x16());
  // t = 32 tokens, 2 sampled rows:
  //   elementwise 7 U x 32 x 2 layers                                          =  448
  //   GEMMs 15 U x 32 x 2 layers                                               =  960
  //   prefill attention: mean chunk 16, prefix (272 / 2 - 16 x 17 / 2) / 16 = 0;
  //     2 seqs x (2 x 16 + 0) / 8 = 8 U, x 2 layers                             =   16
  //   embedding 1 U x 32                                                       =   32
  //   13 U x 2 sampled rows                                                    =   26
  //                                                                              1482 U
  EXPECT_EQ(c.seconds, 1482 * U);
  // Compute: 3/4 x (960 + LM head 16) + 1/2 x 16 = 720 + 12 + 8 = 740 U.
  EXPECT_EQ(c.compute_seconds, 740 * U);
  const std::vector<Call> attn = f.ops->of("prefill_attention");
  ASSERT_EQ(attn.size(), 1u);
  EXPECT_EQ(attn[0].a, 2);
  EXPECT_EQ(attn[0].b, 16);
  EXPECT_EQ(attn[0].c, 0);
  EXPECT_TRUE(f.ops->of("decode_attention").empty());
}

TEST(StepModel, MixedStepIsTheHandSum) {
  Fixture f;
  const IterationCost c = f.model.iteration(mixed());
  // t = 34 tokens, 3 sampled rows; attended pairs 2 x 64 + (32 x 32 + 32 x 33 / 2 = 1552) = 1680:
  //   elementwise 7 U x 34 x 2 layers                                          =  476
  //   GEMMs 15 U x 34 x 2 layers                                               = 1020
  //   decode attention: keys (1680 - 1552) / 2 = 64; 2 x 64 / 16 = 8 U x 2      =   16
  //   prefill attention: chunk 32, prefix (1552 - 32 x 33 / 2) / 32 = 32;
  //     1 x (64 + 32) / 8 = 12 U, x 2 layers                                   =   24
  //   embedding 1 U x 34                                                       =   34
  //   13 U x 3 sampled rows                                                    =   39
  //                                                                              1609 U
  EXPECT_EQ(c.seconds, 1609 * U);
  // Compute: 3/4 x (1020 + LM head 24) + 1/4 x 16 + 1/2 x 24 = 765 + 18 + 4 + 12 = 799 U.
  EXPECT_EQ(c.compute_seconds, 799 * U);
  ASSERT_EQ(f.ops->of("decode_attention").size(), 1u);
  EXPECT_EQ(f.ops->of("decode_attention")[0].a, 2);
  EXPECT_EQ(f.ops->of("decode_attention")[0].b, 64);
  ASSERT_EQ(f.ops->of("prefill_attention").size(), 1u);
  EXPECT_EQ(f.ops->of("prefill_attention")[0].b, 32);
  EXPECT_EQ(f.ops->of("prefill_attention")[0].c, 32);
  // The LM head runs over the 3 sampled rows, the other GEMMs over the 34 tokens.
  ASSERT_EQ(f.ops->of("lm_head").size(), 1u);
  EXPECT_EQ(f.ops->of("lm_head")[0].a, 3);
  EXPECT_EQ(f.ops->of("qkv_proj")[0].a, 34);
}

TEST(StepModel, TensorParallelAddsTwoAllReducesPerLayer) {
  // tp 2 without CUDA graphs: 4 eager all-reduces (2 per layer) of 4 tokens x 1024 bytes = 4096 bytes, 2 x 4 = 8 U each.
  Fixture eager(opts(2));
  const IterationCost c = eager.model.iteration(decode4());
  EXPECT_EQ(c.comm_seconds, 4 * 8 * U);
  EXPECT_EQ(c.seconds, (264 + 32) * U);
  EXPECT_EQ(c.compute_seconds, 122 * U);  // the all-reduce's share of 1 is not compute
  const std::vector<Call> ar = eager.ops->of("allreduce");
  ASSERT_EQ(ar.size(), 1u);  // one call, counted 2 x 2 layers
  EXPECT_EQ(ar[0].a, 4096);
  EXPECT_EQ(ar[0].b, 0);  // not in a graph
  // Inside a CUDA graph (decode steps of up to 8 sequences): the graph variant, 4 U each, 16 U in all.
  EngineProfile graphs = toy_engine();
  graphs.cuda_graph_max_seqs = 8;
  Fixture in_graph(opts(2), graphs);
  const IterationCost g = in_graph.model.iteration(decode4());
  EXPECT_EQ(g.comm_seconds, 16 * U);
  EXPECT_EQ(g.seconds, (264 + 16) * U);
  EXPECT_EQ(in_graph.ops->of("allreduce")[0].b, 1);
}

TEST(StepModel, PipelineStagesPassHalfTheBatchAndSendOnce) {
  Fixture f(opts(1, 2));
  const IterationCost c = f.model.iteration(decode4());
  // pp 2: each stage sees 4 / 2 = 2 tokens, 2 sampled rows and 2 decoding sequences (their keys stay 64):
  //   elementwise 7 U x 2 x 2 layers   = 28
  //   GEMMs 15 U x 2 x 2 layers        = 60
  //   decode attention 2 x 64 / 16 x 2 = 16
  //   embedding 1 U x 2                =  2
  //   13 U x 2 sampled rows            = 26
  //   1 stage send of 2 x 1024 bytes: 16 + 2048 / 1024 = 18
  //                                     150 U
  EXPECT_EQ(c.seconds, 150 * U);
  EXPECT_EQ(c.comm_seconds, 18 * U);
  EXPECT_EQ(f.ops->of("qkv_proj")[0].a, 2);
  EXPECT_EQ(f.ops->of("lm_head")[0].a, 2);
  EXPECT_EQ(f.ops->of("sampling")[0].a, 2);
  EXPECT_EQ(f.ops->of("decode_attention")[0].a, 2);
  EXPECT_EQ(f.ops->of("decode_attention")[0].b, 64);
  ASSERT_EQ(f.ops->of("pipeline_send").size(), 1u);
  EXPECT_EQ(f.ops->of("pipeline_send")[0].a, 2048);
  // The prefill step at pp 2: 16 tokens and 1 prompt of 16 per stage. 7 x 16 x 2 + 15 x 16 x 2 + (1 x 32 / 8 = 4) x 2
  // + 16 + 13 x 1 + (16 + 16384 / 1024 = 32) = 224 + 480 + 8 + 16 + 13 + 32 = 773 U.
  Fixture p(opts(1, 2));
  EXPECT_EQ(p.model.iteration(prefill2x16()).seconds, 773 * U);
  EXPECT_EQ(p.ops->of("prefill_attention")[0].a, 1);
  EXPECT_EQ(p.ops->of("prefill_attention")[0].b, 16);
}

TEST(StepModel, LaunchFloorOutsideCudaGraphsOnly) {
  EngineProfile eager = toy_engine();
  eager.launch_s = 10 * U;
  Fixture f({}, eager);
  // Outside a graph every call costs at least 10 U (t = 4):
  //   per layer: rms_norm 4 -> 10 (x2), rope 4 -> 10, activation 8 -> 10, add 4 -> 10 (x2)  = 60, x 2 layers = 120
  //              QKV 12, O 8 -> 10, gate+up 24, down 16                                     = 62, x 2 layers = 124
  //              decode attention 16                                                             x 2 layers =  32
  //   embedding 4 -> 10, final rms_norm 4 -> 10, sampling 16, LM head 32                                  =  68
  //                                                                                                         344 U
  const IterationCost c = f.model.iteration(decode4());
  EXPECT_EQ(c.seconds, 344 * U);
  // A raised call keeps its split: O's compute 3/4 x 8 = 6 U becomes 6 x 10 / 8 = 7.5 U. Compute in all:
  // (9 + 7.5 + 18 + 12 + attention 4) x 2 layers + LM head 24 = 101 + 24 = 125 U.
  EXPECT_EQ(c.compute_seconds, 125 * U);
  EXPECT_FALSE(f.model.in_cuda_graph(decode4()));
  // All-reduces are floored as well: at tp 2 an eager all-reduce of 4 tokens is 8 U, under 10 U: 4 x 10 = 40 U more.
  Fixture tp2(opts(2), eager);
  EXPECT_EQ(tp2.model.iteration(decode4()).comm_seconds, 40 * U);
  // Inside a graph no floor: the 264 U of the plain decode step.
  EngineProfile graphs = eager;
  graphs.cuda_graph_max_seqs = 4;
  Fixture g({}, graphs);
  EXPECT_TRUE(g.model.in_cuda_graph(decode4()));
  EXPECT_EQ(g.model.iteration(decode4()).seconds, 264 * U);
}

TEST(StepModel, HalfClockStretchesOnlyComputeBoundShares) {
  // tp 2 inside a graph, decode step: GEMMs 120 + LM head 32 = 152 U at share 3/4, attention 32 U at 1/4, elementwise
  // 4 + 56 + 20 = 80 U at share 0, all-reduces 16 U (share 1 from the operator, but communication).
  EngineProfile graphs = toy_engine();
  graphs.cuda_graph_max_seqs = 8;
  Fixture full(opts(2), graphs), half(opts(2, 1, 0.5), graphs);
  const StepBreakdown b1 = full.model.breakdown(decode4()), b2 = half.model.breakdown(decode4());
  // At clock 1/2 the compute-bound part of each call takes twice as long: a call of share s takes (1 + s) times.
  EXPECT_EQ(b1.gemm, 152 * U);
  EXPECT_EQ(b2.gemm, 1.75 * 152 * U);      // 266 U
  EXPECT_EQ(b1.attention, 32 * U);
  EXPECT_EQ(b2.attention, 1.25 * 32 * U);  // 40 U
  EXPECT_EQ(b2.elementwise, b1.elementwise);
  EXPECT_EQ(b1.elementwise, 80 * U);
  EXPECT_EQ(b2.communication, b1.communication);
  EXPECT_EQ(b1.communication, 16 * U);
  // The whole step: 264 + 16 = 280 U at full clock; 280 + 114 (GEMMs) + 8 (attention) = 402 U at half clock, whose
  // compute-bound part is twice 122 U.
  const IterationCost c2 = half.model.iteration(decode4());
  EXPECT_EQ(full.model.iteration(decode4()).seconds, 280 * U);
  EXPECT_EQ(c2.seconds, 402 * U);
  EXPECT_EQ(c2.compute_seconds, 244 * U);
  EXPECT_EQ(c2.comm_seconds, 16 * U);
  // iteration() is iteration_at_clock at the model's clock, and a full-clock model asked for half clock agrees.
  expect_same(full.model.iteration_at_clock(decode4(), 0.5), c2, "half clock from a full-clock model");
  expect_same(half.model.iteration_at_clock(decode4(), 0.5), c2, "half clock model at its clock");
  EXPECT_EQ(half.model.clock_fraction(), 0.5);
}

TEST(StepModel, EngineCpuWorkAddsOutsideTheOperators) {
  EngineProfile e = toy_engine();
  e.step_s = 100 * U;
  e.per_seq_s = 10 * U;
  e.per_token_s = 1 * U;
  e.per_key_s = U / 64;
  e.per_prefill_pair_s = U / 16;
  Fixture f({}, e);
  // Mixed step: 100 + 10 x 3 seqs + 1 x 34 tokens + (1680 - 1552 = 128 decode keys) / 64 + 1552 prefill pairs / 16
  // = 100 + 30 + 34 + 2 + 97 = 263 U, on top of the operators' 1609 U; it is neither compute, memory nor
  // communication.
  const IterationCost c = f.model.iteration(mixed());
  EXPECT_EQ(c.seconds, (1609 + 263) * U);
  EXPECT_EQ(c.compute_seconds, 799 * U);
  EXPECT_EQ(c.memory_seconds, (1609 - 799) * U);
  EXPECT_EQ(f.model.breakdown(mixed()).engine, 263 * U);
  // The CPU work does not follow the clock: at clock 1/2 the step grows by the compute part only (799 U).
  EXPECT_EQ(f.model.iteration_at_clock(mixed(), 0.5).seconds, (1609 + 263 + 799) * U);
  // An empty step costs nothing, not even the per-step CPU work.
  EXPECT_EQ(f.model.iteration(BatchShape{}).seconds, 0);
  EXPECT_EQ(f.model.breakdown(BatchShape{}).total(), 0);
}

TEST(StepModel, BreakdownAddsUpToTheIteration) {
  EngineProfile e = toy_engine();
  e.step_s = 100 * U;
  e.per_seq_s = 10 * U;
  e.per_token_s = 1 * U;
  e.per_key_s = U / 64;
  Fixture f(opts(2), e);
  const StepBreakdown b = f.model.breakdown(mixed());
  // Mixed step at tp 2, eager: GEMMs 1020 + LM head 24 = 1044; attention 16 + 24 = 40; elementwise 476 + 34 + 13 x 3
  // ... of which the LM head is a GEMM: rms_norm 3 + sampling 12 = 15, so 476 + 34 + 15 = 525; all-reduces of 34 x
  // 1024 bytes, 68 U each, x 4 = 272; engine 166.
  EXPECT_EQ(b.gemm, 1044 * U);
  EXPECT_EQ(b.attention, 40 * U);
  EXPECT_EQ(b.elementwise, 525 * U);
  EXPECT_EQ(b.communication, 272 * U);
  EXPECT_EQ(b.engine, 166 * U);
  EXPECT_FALSE(b.cuda_graph);
  EXPECT_EQ(b.total(), 2047 * U);
  EXPECT_EQ(f.model.iteration(mixed()).seconds, b.total());
  // The same on other shapes and settings (pp 2 with a launch floor, a graph, half clock): the parts add up.
  EngineProfile g = e;
  g.launch_s = 10 * U;
  g.cuda_graph_max_seqs = 4;
  for (const ComposedOptions& o : {opts(2, 2), opts(1, 1, 0.5), opts(2, 2, 0.5)}) {
    Fixture h(o, g);
    for (const BatchShape& s : {decode4(), prefill2x16(), mixed()})
      EXPECT_EQ(h.model.breakdown(s).total(), h.model.iteration(s).seconds)
          << "tp " << o.tp << " pp " << o.pp << " clock " << o.clock_fraction << " tokens " << s.num_tokens;
  }
}

TEST(StepModel, CachedPartsGiveTheAnswersOfAFreshModel) {
  // Graphs for decode steps of up to 4 sequences, tp 2 (the all-reduce differs inside and outside a graph), a launch
  // floor: shapes that share a token count but not the graph, the sampled rows or the attention.
  EngineProfile e = toy_engine();
  e.cuda_graph_max_seqs = 4;
  e.launch_s = 10 * U;
  e.step_s = 3 * U;
  BatchShape decode4_long;  // 4 tokens like decode4(), in a graph, but 4 x 511 cached keys
  for (int i = 0; i < 4; ++i) add_chunk(decode4_long, 1, 511, true, true);
  BatchShape prompt4;  // 4 tokens like decode4() but one prompt: not in a graph, 1 sampled row
  add_chunk(prompt4, 4, 0, false, true);
  BatchShape decode5;  // 5 sequences: beyond the graphs
  for (int i = 0; i < 5; ++i) add_chunk(decode5, 1, 63, true, true);
  const std::vector<std::pair<BatchShape, double>> sequence = {
      {decode4(), 1},   {prompt4, 1},   {decode4_long, 1}, {mixed(), 1},  {decode4(), 0.5}, {prompt4, 0.5},
      {decode4(), 1},   {decode5, 1},   {prompt4, 1},      {decode4(), 1}, {mixed(), 0.5},  {decode4_long, 1}};
  Fixture reused(opts(2), e);
  for (size_t i = 0; i < sequence.size(); ++i) {
    const auto& [shape, clock] = sequence[i];
    Fixture fresh(opts(2), e);
    expect_same(reused.model.iteration_at_clock(shape, clock), fresh.model.iteration_at_clock(shape, clock),
                "call " + std::to_string(i));
  }
  // And the cache does not make prompt4 and decode4 (same 4 tokens) look alike: one eager all-reduce of 4096 bytes
  // (8 U, under the 10 U floor: 10 U) vs one in a graph (4 U), plus one LM head row vs four.
  EXPECT_NE(reused.model.iteration(prompt4).seconds, reused.model.iteration(decode4()).seconds);
}

TEST(StepModel, CudaGraphRules) {
  BatchShape decode8, decode9;
  for (int i = 0; i < 8; ++i) add_chunk(decode8, 1, 100, true, true);
  decode9 = decode8;
  add_chunk(decode9, 1, 100, true, true);
  BatchShape prompt4, prompt16, small_mixed;
  add_chunk(prompt4, 4, 0, false, true);
  add_chunk(prompt16, 16, 0, false, true);
  add_chunk(small_mixed, 1, 100, true, true);
  add_chunk(small_mixed, 1, 100, true, true);
  add_chunk(small_mixed, 4, 0, false, true);  // 3 sequences, 6 tokens
  // No graphs captured: every step is eager.
  EXPECT_FALSE(Fixture().model.in_cuda_graph(decode8));
  // Decode-only graphs (vLLM V0, graphs_for_prefill false) up to 8 sequences.
  EngineProfile v0 = toy_engine();
  v0.cuda_graph_max_seqs = 8;
  Fixture a({}, v0);
  EXPECT_TRUE(a.model.in_cuda_graph(decode8));
  EXPECT_FALSE(a.model.in_cuda_graph(decode9));      // 9 sequences > 8
  EXPECT_FALSE(a.model.in_cuda_graph(prompt4));      // prefill tokens: eager
  EXPECT_FALSE(a.model.in_cuda_graph(small_mixed));  // so is a mixed step
  EXPECT_TRUE(a.model.breakdown(decode8).cuda_graph);
  EXPECT_FALSE(a.model.breakdown(prompt4).cuda_graph);
  // Piecewise graphs for prefill too (vLLM V1): a step with prefill tokens is sized by its tokens.
  EngineProfile v1 = v0;
  v1.graphs_for_prefill = true;
  Fixture b({}, v1);
  EXPECT_TRUE(b.model.in_cuda_graph(prompt4));       // 4 tokens <= 8
  EXPECT_FALSE(b.model.in_cuda_graph(prompt16));     // 16 tokens > 8, though 1 sequence
  EXPECT_TRUE(b.model.in_cuda_graph(small_mixed));   // 6 tokens
  EXPECT_TRUE(b.model.in_cuda_graph(decode8));
  EXPECT_FALSE(b.model.in_cuda_graph(decode9));
}

TEST(StepModel, RefusesBadOptionsAndChecksPipelineCoverage) {
  auto ops = std::make_shared<FakeOps>();
  EXPECT_THROW(ComposedPerfModel(nullptr, toy_model(), {}, toy_engine()), std::invalid_argument);
  EXPECT_THROW(ComposedPerfModel(ops, toy_model(), opts(0), toy_engine()), std::invalid_argument);
  EXPECT_THROW(ComposedPerfModel(ops, toy_model(), opts(1, 0), toy_engine()), std::invalid_argument);
  EXPECT_THROW(ComposedPerfModel(ops, toy_model(), opts(1, 3), toy_engine()), std::invalid_argument);  // 3 > 2 layers
  EXPECT_THROW(ComposedPerfModel(ops, toy_model(), opts(1, 1, 0), toy_engine()), std::invalid_argument);
  EXPECT_THROW(ComposedPerfModel(ops, toy_model(), opts(1, 1, 1.5), toy_engine()), std::invalid_argument);
  Fixture f(opts(1, 2));
  EXPECT_THROW(f.model.iteration_at_clock(decode4(), 0), std::invalid_argument);
  EXPECT_THROW(f.model.iteration_at_clock(decode4(), 1.01), std::invalid_argument);
  // check_coverage asks the operators, each of the engine's own operators at the largest step (tokens, or sequences
  // for those over the sampled rows), then the stage send of a whole step: 512 / 2 tokens x 512 x 2 bytes = 262144.
  StepLimits l;
  l.max_tokens = 512;
  l.max_seqs = 32;
  f.model.check_coverage(l);
  ASSERT_EQ(f.ops->of("check_coverage").size(), 1u);
  ASSERT_EQ(f.ops->of("rope").size(), 1u);
  EXPECT_EQ(f.ops->of("rope")[0].a, 512);
  ASSERT_EQ(f.ops->of("rms_norm").size(), 2u);  // per layer over the tokens, final over the sampled rows
  EXPECT_EQ(f.ops->of("rms_norm")[0].a, 512);
  EXPECT_EQ(f.ops->of("rms_norm")[1].a, 32);
  ASSERT_EQ(f.ops->of("sampling").size(), 1u);
  EXPECT_EQ(f.ops->of("sampling")[0].a, 32);
  ASSERT_EQ(f.ops->of("pipeline_send").size(), 1u);
  EXPECT_EQ(f.ops->of("pipeline_send")[0].a, 262144);
  EXPECT_EQ(f.model.describe(), "calibrated toy tp1 pp2 from fake ops, engine toy-engine");
}

// ---- mixtures of experts --------------------------------------------------------------------------------------------

namespace {

// The toy model with 8 experts of ffn 1024, 2 per token.
ModelArch toy_moe() {
  ModelArch m = toy_model();
  m.name = "toy-moe";
  m.experts = 8;
  m.experts_per_token = 2;
  return m;
}

}  // namespace

TEST(StepModel, MoeDecodeStepRunsTheFusedLayerInsteadOfTheMlp) {
  auto ops = std::make_shared<FakeOps>();
  const ComposedPerfModel model(ops, toy_moe(), {}, toy_engine());
  const IterationCost c = model.iteration(decode4());
  // As DecodeStepIsTheHandSum with the MLP's GEMMs and activation replaced by the fused MoE layer:
  //   elementwise (2 + 1 + 2) U x 4 x 2 layers (no activation: the fused kernel applies it)  =  40
  //   QKV + O GEMMs (3 + 2) U x 4 x 2 layers                                                  =  40
  //   fused MoE 10 U x 4 x 2 layers                                                           =  80
  //   decode attention 16 U x 2 layers                                                        =  32
  //   embedding 4, rms_norm + sampling + LM head 13 x 4                                       =  56
  //                                                                                             248 U
  EXPECT_EQ(c.seconds, 248 * U);
  // Compute-bound: 3/4 of QKV + O (40) and LM head (32), 1/2 of the MoE (80), 1/4 of attention (32): 54 + 40 + 8.
  EXPECT_EQ(c.compute_seconds, 102 * U);
  EXPECT_TRUE(ops->of("gate_up_proj").empty());
  EXPECT_TRUE(ops->of("activation").empty());
  EXPECT_TRUE(ops->of("alltoall").empty());  // one attention rank: the experts' outputs meet in the all-reduce
  ASSERT_EQ(ops->of("moe").size(), 1u);
  EXPECT_EQ(ops->of("moe")[0].a, 4);
}

TEST(StepModel, AttentionRanksMeetInTheMoeLayersThroughAllToAlls) {
  // dp 2 ranks of tp 2: 8 sequences decoding after 63 tokens, 4 per rank.
  ComposedOptions o = opts(2);
  o.dp = 2;
  auto ops = std::make_shared<FakeOps>();
  const ComposedPerfModel model(ops, toy_moe(), o, toy_engine());
  BatchShape s;
  for (int i = 0; i < 8; ++i) add_chunk(s, 1, 63, true, true);
  const IterationCost c = model.iteration(s);
  // Per rank t = 8 / 2 = 4 tokens; the MoE layers see both ranks' 8.
  //   elementwise 5 U x 4 x 2 layers                                               =  40
  //   QKV + O 5 U x 4 x 2 layers                                                   =  40
  //   fused MoE 10 U x 8 x 2 layers                                                = 160
  //   all-reduces: 4 tokens x 512 x 2 bytes = 4 KiB, 2 x 4 U (no graph) x 2 layers  =  32
  //   all-to-alls: a token's 2 experts x 512 x 2 bytes x (4 - 1) / 4 of them remote = 1,536 bytes each way per token;
  //     each of a rank's 2 GPUs sends its 4 / 2 tokens: 3,072 bytes, 3 U, dispatch and combine x 2 layers  =  12
  //   decode attention: 4 sequences of 64 keys per rank, 16 U x 2 layers          =  32
  //   embedding 4 U; rms_norm + sampling + LM head 13 U x 4 rows of the rank       =  56
  //                                                                                  372 U
  EXPECT_EQ(c.seconds, 372 * U);
  EXPECT_EQ(c.comm_seconds, 44 * U);
  ASSERT_EQ(ops->of("moe").size(), 1u);
  EXPECT_EQ(ops->of("moe")[0].a, 8);
  ASSERT_EQ(ops->of("alltoall").size(), 1u);
  EXPECT_EQ(ops->of("alltoall")[0].a, 3072);
  EXPECT_EQ(ops->of("decode_attention")[0].a, 4);
  // The replica's all-to-all bytes per token and MoE layer, dispatch and combine: 2 x 1,536.
  EXPECT_EQ(ComposedPerfModel::alltoall_bytes_per_token(toy_moe(), o), 3072);
  // The breakdown adds up to the same step.
  EXPECT_EQ(model.breakdown(s).total(), c.seconds);
}

TEST(StepModel, AttentionRanksAreForMixturesOfExperts) {
  ComposedOptions o;
  o.dp = 2;
  EXPECT_THROW(ComposedPerfModel(std::make_shared<FakeOps>(), toy_model(), o, toy_engine()), std::invalid_argument);
  EXPECT_EQ(ComposedPerfModel::alltoall_bytes_per_token(toy_model(), o), 0);
}
