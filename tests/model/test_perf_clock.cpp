// PerfModel::iteration_at_clock: a step's time with the GPUs' clock changed while the simulation runs (power caps,
// DVFS). Compute-bound work slows by 1 / clock, memory-bound work does not; iteration() is iteration_at_clock at the
// model's own clock, bit for bit (run fingerprints depend on it). Expected values are derived in the comments and
// printed beside the model's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

#include "aif/models/perf.hpp"

using namespace aif::models;

namespace {

void expect_same(const IterationCost& a, const IterationCost& b, const char* what) {
  EXPECT_EQ(a.seconds, b.seconds) << what;
  EXPECT_EQ(a.compute_seconds, b.compute_seconds) << what;
  EXPECT_EQ(a.memory_seconds, b.memory_seconds) << what;
  EXPECT_EQ(a.comm_seconds, b.comm_seconds) << what;
  EXPECT_EQ(a.flops, b.flops) << what;
  EXPECT_EQ(a.bytes, b.bytes) << what;
}

// H100 SXM figures, Llama-3.1-8B (as in test_calibrated_perf.cpp's roofline test).
RooflineParams h100_8b(double clock_fraction = 1) {
  DeviceSpec h100;
  h100.name = "H100";
  h100.peak_flops["bf16"] = 989e12;
  h100.hbm_bandwidth = 3.35e12;
  h100.nvlink_bandwidth = 900e9;
  ModelArch m;
  m.name = "8b";
  m.layers = 32;
  m.hidden = 4096;
  m.heads = 32;
  m.kv_heads = 8;
  m.head_dim = 128;
  m.ffn = 14336;
  m.vocab = 128256;
  RooflineParams p{h100, m};
  p.clock_fraction = clock_fraction;
  return p;
}

BatchShape prefill_4096() {
  BatchShape s;
  s.num_seqs = s.prefill_seqs = s.sampled_seqs = 1;
  s.num_tokens = s.prefill_tokens = 4096;
  s.attended_pairs = s.prefill_attended_pairs = 4096.0 * 4097 / 2;
  s.kv_read_tokens = 4096;
  return s;
}

BatchShape decode_32() {
  BatchShape s;
  s.num_seqs = s.decode_seqs = s.sampled_seqs = 32;
  s.num_tokens = 32;
  s.attended_pairs = s.kv_read_tokens = 32 * 1024;
  return s;
}

// A synthetic operator table like test_calibrated_perf.cpp's: GEMMs measured 90 % compute-bound, element-wise
// operators memory-bound, decode attention 10 % and prefill attention 80 % compute-bound.
constexpr double PEAK_FLOP = 1e11, PEAK_BYTES = 1e10;

CalibrationRow row(const std::string& op, int tokens, double seconds, double compute_share) {
  CalibrationRow r;
  r.op = op;
  r.tokens = tokens;
  r.median_s = seconds;
  r.flop = compute_share * seconds * PEAK_FLOP;
  r.bytes = (1 - compute_share) * seconds * PEAK_BYTES;
  return r;
}

CalibrationTable synthetic_table() {
  CalibrationTable t;
  t.source = "synthetic.csv";
  t.header["model"] = "toy";
  t.peak_flop_per_s = PEAK_FLOP;
  t.peak_bytes_per_s = PEAK_BYTES;
  const char* const gemms[] = {"qkv_proj", "o_proj", "gate_up_proj", "down_proj", "lm_head"};
  const char* const elementwise[] = {"rms_norm", "rope", "kv_cache_write", "add", "swiglu", "embedding", "sampling"};
  for (int tokens : {1, 4, 16, 64}) {
    for (const char* op : gemms) t.rows.push_back(row(op, tokens, 1e-5 + 2e-6 * tokens, 0.9));
    for (const char* op : elementwise) t.rows.push_back(row(op, tokens, 5e-6 + 1e-7 * tokens, 0.0));
  }
  for (int batch : {1, 4, 16})
    for (int keys : {16, 64, 256}) {
      CalibrationRow r = row("attn_decode", batch, 2e-5 + 3e-8 * batch * keys, 0.1);
      r.batch = batch;
      r.kv_len = keys;
      t.rows.push_back(r);
    }
  for (int chunk : {1, 16, 64})
    for (int prefix : {0, 32, 128}) {
      CalibrationRow r = row("attn_prefill", chunk, 4e-5 + 5e-7 * chunk + 6e-9 * chunk * prefix, 0.8);
      r.batch = 1;
      r.kv_len = prefix + chunk;
      t.rows.push_back(r);
    }
  return t;
}

ModelArch toy() {
  ModelArch m;
  m.name = "toy";
  m.layers = 3;
  m.hidden = 64;
  m.heads = 4;
  m.kv_heads = 2;
  m.head_dim = 16;
  m.ffn = 128;
  m.vocab = 256;
  return m;
}

// A mixed step: 4 decode sequences (64 keys each) and one 32-token prefill chunk after a 32-token prefix.
BatchShape mixed_step() {
  BatchShape s;
  s.decode_seqs = 4;
  s.prefill_seqs = 1;
  s.num_seqs = s.sampled_seqs = 5;
  s.prefill_tokens = 32;
  s.num_tokens = 36;
  s.prefill_attended_pairs = 32.0 * 32 + 32.0 * 33 / 2;
  s.attended_pairs = s.prefill_attended_pairs + 4 * 64;
  s.kv_read_tokens = 4 * 64 + 64;
  return s;
}

}  // namespace

// A 4,096-token prefill is FLOP-bound in every operator group: at 60 % clock it takes 1 / 0.6 as long. A batch-32
// decode step is HBM-bound (the weights, 16 GB, at 3.35 TB/s x 0.8 take ~6 ms; their 0.45 TFLOP at 989 TFLOP/s x
// 0.7 x 0.6 take ~1.1 ms): unchanged.
TEST(PerfClock, RooflinePrefillSlowsByTheClockDecodeBarely) {
  const RooflinePerfModel m(h100_8b());
  const IterationCost p1 = m.iteration_at_clock(prefill_4096(), 1.0), p6 = m.iteration_at_clock(prefill_4096(), 0.6);
  const IterationCost d1 = m.iteration_at_clock(decode_32(), 1.0), d6 = m.iteration_at_clock(decode_32(), 0.6);
  std::printf("prefill 4096: %.6f s -> %.6f s at clock 0.6, ratio %.9f (by hand 1 / 0.6 = %.9f)\n", p1.seconds,
              p6.seconds, p6.seconds / p1.seconds, 1 / 0.6);
  std::printf("decode 32:    %.6f s -> %.6f s at clock 0.6, ratio %.9f (by hand 1, memory-bound)\n", d1.seconds,
              d6.seconds, d6.seconds / d1.seconds);
  EXPECT_EQ(p1.memory_seconds, 0);  // every group compute-bound: the time is all compute
  EXPECT_NEAR(p6.seconds / p1.seconds, 1 / 0.6, 1e-12);
  EXPECT_NEAR(p6.compute_bound_share(), 1.0, 1e-12);
  EXPECT_EQ(d1.compute_seconds, 0);
  EXPECT_NEAR(d6.seconds / d1.seconds, 1.0, 1e-12);
  // Work done does not depend on the clock.
  EXPECT_EQ(p6.flops, p1.flops);
  EXPECT_EQ(p6.bytes, p1.bytes);
}

// A model built at a clock and one asked for that clock give the same step, bit for bit; iteration() is
// iteration_at_clock at the model's own clock.
TEST(PerfClock, IterationIsIterationAtTheConstructedClock) {
  for (double clock : {1.0, 0.75, 0.6}) {
    const RooflinePerfModel built(h100_8b(clock)), full(h100_8b());
    EXPECT_EQ(built.clock_fraction(), clock);
    for (const BatchShape& s : {prefill_4096(), decode_32(), mixed_step()}) {
      expect_same(built.iteration(s), built.iteration_at_clock(s, clock), "roofline iteration()");
      expect_same(full.iteration_at_clock(s, clock), built.iteration(s), "roofline built vs asked");
    }
    CalibratedOptions o;
    o.clock_fraction = clock;
    const CalibratedPerfModel cbuilt(synthetic_table(), toy(), 1, o), cfull(synthetic_table(), toy(), 1, {});
    EXPECT_EQ(cbuilt.clock_fraction(), clock);
    expect_same(cbuilt.iteration(mixed_step()), cbuilt.iteration_at_clock(mixed_step(), clock),
                "calibrated iteration()");
    expect_same(cfull.iteration_at_clock(mixed_step(), clock), cbuilt.iteration(mixed_step()),
                "calibrated built vs asked");
  }
  BatchShape empty;
  EXPECT_EQ(RooflinePerfModel(h100_8b()).iteration_at_clock(empty, 0.5).seconds, 0);
}

// The calibrated model's rule: each operator's compute-bound share stretches by 1 / clock, the rest stays. Summed
// over the step: seconds(f) = seconds(1) + compute(1) x (1 / f - 1), compute(f) = compute(1) / f, and the memory
// part, overheads and TP communication do not move.
TEST(PerfClock, CalibratedStretchesTheComputeBoundShare) {
  CalibratedOptions o;
  o.iteration_overhead_s = 1e-4;
  o.overhead_per_seq_s = 1e-6;
  const CalibratedPerfModel tp1(synthetic_table(), toy(), 1, o);
  const BatchShape s = mixed_step();
  const IterationCost full = tp1.iteration_at_clock(s, 1.0), half = tp1.iteration_at_clock(s, 0.5);
  const double expected = full.seconds + full.compute_seconds * (1 / 0.5 - 1);
  std::printf("mixed step: %.9g s at full clock (%.0f %% compute-bound), %.9g s at half clock, by hand %.9g s\n",
              full.seconds, 100 * full.compute_bound_share(), half.seconds, expected);
  EXPECT_GT(full.compute_bound_share(), 0.3);
  EXPECT_LT(full.compute_bound_share(), 0.9);
  EXPECT_NEAR(half.seconds, expected, 1e-15);
  EXPECT_NEAR(half.compute_seconds, 2 * full.compute_seconds, 1e-15);
  EXPECT_NEAR(half.memory_seconds, full.memory_seconds, 1e-15);
  EXPECT_EQ(half.comm_seconds, full.comm_seconds);
}

// A constant step has no compute/memory split: the clock leaves it alone.
TEST(PerfClock, ConstantModelIgnoresTheClock) {
  const ConstantPerfModel m(0.02);
  EXPECT_EQ(m.clock_fraction(), 1.0);
  expect_same(m.iteration_at_clock(decode_32(), 0.3), m.iteration(decode_32()), "constant");
}

TEST(PerfClock, ClockOutsideZeroToOneIsRefused) {
  const RooflinePerfModel r(h100_8b());
  const CalibratedPerfModel c(synthetic_table(), toy(), 1, {});
  const ConstantPerfModel k(0.01);
  for (double bad : {0.0, -0.5, 1.2, std::numeric_limits<double>::quiet_NaN()}) {
    EXPECT_THROW(r.iteration_at_clock(decode_32(), bad), std::invalid_argument) << bad;
    EXPECT_THROW(c.iteration_at_clock(mixed_step(), bad), std::invalid_argument) << bad;
    EXPECT_THROW(k.iteration_at_clock(decode_32(), bad), std::invalid_argument) << bad;
  }
}
