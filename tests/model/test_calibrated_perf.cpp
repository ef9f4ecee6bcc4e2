// The calibrated perf model against a synthetic table whose times are known functions,
// so every prediction can be written out by hand.
#include <gtest/gtest.h>

#include "../support/batch_shapes.hpp"
#include "aif/models/perf.hpp"

using namespace aif::models;

namespace {

constexpr double PEAK_FLOP = 1e11, PEAK_BYTES = 1e10;
const char* const GEMMS[] = {"qkv_proj", "o_proj", "gate_up_proj", "down_proj", "lm_head"};
const char* const ELEMENTWISE[] = {"rms_norm", "rope", "kv_cache_write", "add", "swiglu", "embedding", "sampling"};

// Each token op: time = base + slope * tokens; GEMMs measured 90 % compute-bound, the rest memory-bound.
double base(const std::string& op) { return 1e-5 * (1 + op.size() % 5); }
double slope(const std::string& op) { return 1e-6 * (1 + op.size() % 3); }
double decode_time(double batch, double keys) { return 2e-5 + 3e-8 * batch * keys; }
double prefill_time(double chunk, double prefix) { return 4e-5 + 5e-7 * chunk + 6e-9 * chunk * prefix; }

CalibrationRow row(const std::string& op, int tokens, double seconds, double compute_share) {
  CalibrationRow r;
  r.op = op;
  r.tokens = tokens;
  r.median_s = seconds;
  // Achieved fractions of peak in the ratio compute_share : (1 - compute_share).
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
  for (int tokens : {1, 4, 16, 64}) {
    for (const char* op : GEMMS) t.rows.push_back(row(op, tokens, base(op) + slope(op) * tokens, 0.9));
    for (const char* op : ELEMENTWISE) t.rows.push_back(row(op, tokens, base(op) + slope(op) * tokens, 0.0));
  }
  for (int batch : {1, 4, 16})
    for (int keys : {16, 64, 256}) {
      CalibrationRow r = row("attn_decode", batch, decode_time(batch, keys), 0.1);
      r.batch = batch;
      r.kv_len = keys;
      t.rows.push_back(r);
    }
  for (int chunk : {1, 16, 64})
    for (int prefix : {0, 32, 128}) {
      CalibrationRow r = row("attn_prefill", chunk, prefill_time(chunk, prefix), 0.8);
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

double tok(const std::string& op, double tokens) { return base(op) + slope(op) * tokens; }

}  // namespace

TEST(CalibratedPerf, InterpolatesExactlyOnLinearTimes) {
  const CalibratedPerfModel m(synthetic_table(), toy(), 1, {});
  EXPECT_DOUBLE_EQ(m.op_seconds("qkv_proj", 16), tok("qkv_proj", 16));   // a grid point
  EXPECT_NEAR(m.op_seconds("qkv_proj", 10), tok("qkv_proj", 10), 1e-15);  // between points
  EXPECT_NEAR(m.op_seconds("swiglu", 128), tok("swiglu", 128), 1e-15);   // 2x past the grid: linear continuation
  // Bilinear interpolation is exact for a + b x + c y + d x y.
  EXPECT_NEAR(m.decode_attention_seconds(8, 100), decode_time(8, 100), 1e-15);
  EXPECT_NEAR(m.prefill_attention_seconds(40, 40 + 80), prefill_time(40, 80), 1e-15);
}

TEST(CalibratedPerf, MixedStepEqualsTheSumWrittenOutByHand) {
  CalibratedOptions o;
  o.iteration_overhead_s = 1e-4;
  o.overhead_per_seq_s = 2e-6;
  o.overhead_per_token_s = 3e-7;
  const CalibratedPerfModel m(synthetic_table(), toy(), 1, o);
  // 4 decode sequences with 16 keys each, and one prefill chunk of 16 tokens after a 32-token prefix.
  BatchShape s;
  s.num_seqs = 5;
  s.num_tokens = 20;
  s.decode_seqs = 4;
  s.prefill_seqs = 1;
  s.prefill_tokens = 16;
  s.sampled_seqs = 5;
  s.prefill_attended_pairs = 16 * 32 + 16 * 17 / 2.0;
  s.attended_pairs = s.prefill_attended_pairs + 4 * 16;
  const double t = 20, n = 5;
  const double layer = 2 * tok("rms_norm", t) + tok("qkv_proj", t) + tok("rope", t) + tok("kv_cache_write", t) +
                       tok("o_proj", t) + 2 * tok("add", t) + tok("gate_up_proj", t) + tok("swiglu", t) +
                       tok("down_proj", t) + decode_time(4, 16) + prefill_time(16, 32);
  const double expected = 3 * layer + tok("embedding", t) + tok("rms_norm", n) + tok("lm_head", n) +
                          tok("sampling", n) + 1e-4 + 2e-6 * 5 + 3e-7 * 20;
  const IterationCost c = m.iteration(s);
  std::printf("mixed step: by hand %.9f s, model %.9f s\n", expected, c.seconds);
  EXPECT_NEAR(c.seconds, expected, 1e-12);
  EXPECT_EQ(m.iteration(BatchShape{}).seconds, 0);
}

TEST(CalibratedPerf, TensorParallelAddsTwoRingAllReducesPerLayer) {
  CalibrationTable table = synthetic_table();
  for (CalibrationRow& r : table.rows) r.tp = 2;  // the same timings, as if measured on tp-2 shards
  CalibratedOptions o;
  o.allreduce_bandwidth = 100e9;
  o.allreduce_latency_s = 4e-6;
  o.activation_bytes = 2;
  const CalibratedPerfModel tp1(synthetic_table(), toy(), 1, o), tp2(table, toy(), 2, o);
  BatchShape s;
  s.num_seqs = s.decode_seqs = s.sampled_seqs = 8;
  s.num_tokens = 8;
  s.attended_pairs = 8 * 64;
  // 3 layers x 2 all-reduces x (2 (2-1)/2 x 8 tokens x 64 hidden x 2 B / 100 GB/s + 4 us).
  const double expected = 3 * 2 * (1.0 * 8 * 64 * 2 / 100e9 + 4e-6);
  EXPECT_NEAR(tp2.iteration(s).comm_seconds, expected, 1e-15);
  EXPECT_NEAR(tp2.iteration(s).seconds - tp1.iteration(s).seconds, expected, 1e-15);
  EXPECT_EQ(tp1.iteration(s).comm_seconds, 0);
}

TEST(CalibratedPerf, LowerClockSlowsComputeBoundOpsOnly) {
  CalibratedOptions capped;
  capped.clock_fraction = 0.5;
  const CalibratedPerfModel full(synthetic_table(), toy(), 1, {}), half(synthetic_table(), toy(), 1, capped);
  // A 90 % compute-bound GEMM: 0.9 t / 0.5 + 0.1 t = 1.9 t. A memory-bound op: unchanged.
  EXPECT_NEAR(half.op_seconds("down_proj", 64), 1.9 * full.op_seconds("down_proj", 64), 1e-15);
  EXPECT_DOUBLE_EQ(half.op_seconds("rms_norm", 64), full.op_seconds("rms_norm", 64));
  // Decode attention (10 % compute-bound) barely moves; prefill attention (80 %) nearly doubles.
  EXPECT_NEAR(half.decode_attention_seconds(16, 256) / full.decode_attention_seconds(16, 256), 1.1, 1e-12);
  EXPECT_NEAR(half.prefill_attention_seconds(64, 192) / full.prefill_attention_seconds(64, 192), 1.8, 1e-12);
}

TEST(CalibratedPerf, RefusesShapesFarBeyondTheTable) {
  const CalibratedPerfModel m(synthetic_table(), toy(), 1, {});
  EXPECT_NO_THROW(m.check_coverage(128, 32, 384));  // prefill keys measured up to 128 + 64 = 192
  try {
    m.check_coverage(1000, 16, 256);
    FAIL() << "1000 tokens is 15x past the 64-token grid";
  } catch (const std::out_of_range& e) {
    EXPECT_NE(std::string(e.what()).find("measured up to 64"), std::string::npos) << e.what();
  }
  EXPECT_THROW(m.check_coverage(64, 16, 10000), std::out_of_range);  // keys
  ModelArch other = toy();
  other.name = "not-toy";
  EXPECT_THROW(CalibratedPerfModel(synthetic_table(), other, 1, {}), std::invalid_argument);
  EXPECT_THROW(CalibratedPerfModel(synthetic_table(), toy(), 2, {}), std::invalid_argument);  // no tp2 rows
}

// On the roofline model too a cap slows a prefill by ~1 / clock and leaves a decode step alone:
// H100 figures, Llama-3.1-8B, clock at 60 %.
TEST(RooflinePerf, CapSlowsPrefillNotDecode) {
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
  RooflinePerfModel full(p);
  p.clock_fraction = 0.6;
  RooflinePerfModel capped(p);
  const BatchShape prefill = aif::testing::prefill_shape(4096), decode = aif::testing::decode_shape(32, 1024);
  const double prefill_ratio = capped.iteration(prefill).seconds / full.iteration(prefill).seconds;
  const double decode_ratio = capped.iteration(decode).seconds / full.iteration(decode).seconds;
  std::printf("clock 0.6: prefill %.3fx slower, decode %.3fx\n", prefill_ratio, decode_ratio);
  EXPECT_NEAR(prefill_ratio, 1 / 0.6, 0.01);
  EXPECT_NEAR(decode_ratio, 1.0, 1e-9);
}
