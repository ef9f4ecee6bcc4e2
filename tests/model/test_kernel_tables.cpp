// Measured GPU kernel tables (kernel_tables.hpp) against synthetic tables built here whose times are known functions.
// Power laws t = c x^a (or c m^a n^b k^g for GEMMs, c b^a x^g for attention grids) are straight lines in log-log
// space, so the log-log interpolation between measured points and the continuation of the last segment's slope give
// them back exactly: every expectation below is the law evaluated by hand (written out in the comment beside it),
// checked to a relative 1e-12 (the lookups go through exp/log).
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>

#include "aif/models/kernel_tables.hpp"

using namespace aif::models;

namespace {

void expect_rel(double actual, double expected, const char* what, double rel = 1e-12) {
  EXPECT_NEAR(actual, expected, rel * std::abs(expected)) << what;
}

// Runs f, which must throw E; returns the message.
template <class E, class F>
std::string thrown(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "did not throw";
  return "";
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

KernelTables::Curve curve(std::initializer_list<double> xs, double (*law)(double)) {
  KernelTables::Curve c;
  for (double x : xs) c.x.push_back(x), c.seconds.push_back(law(x));
  return c;
}

// t = 1e-6 sqrt(x): 16 -> 4e-6, 64 -> 8e-6, 256 -> 1.6e-5, 1024 -> 3.2e-5.
double sqrt_law(double x) { return 1e-6 * std::sqrt(x); }
KernelTables::Curve sqrt_curve() { return curve({16, 64, 256, 1024}, sqrt_law); }

// GEMMs: t = 1e-12 sqrt(m) n k over m in {16, 64, 256, 1024}, n in {1024, 4096, 16384, 65536}, k in {1024, 4096}.
double gemm_law(double m, double n, double k) { return 1e-12 * std::sqrt(m) * n * k; }
// Prefill attention (8 query / 2 KV heads, head_dim 128): t = 1e-8 sqrt(batch) tokens on a triangular grid:
// batch 1 up to 8192 tokens, batch 4 up to 2048, batch 16 up to 512.
double prefill_law(double b, double x) { return 1e-8 * std::sqrt(b) * x; }
// Decode attention (same heads): t = 1e-9 sqrt(batch) keys: batch 1 up to 16384 keys, 8 up to 4096, 64 up to 1024.
double decode_law(double b, double x) { return 1e-9 * std::sqrt(b) * x; }
// A second prefill configuration, 8 query / 8 KV heads (one query head per KV head): t = 2e-8 sqrt(batch) tokens,
// batches 1, 4, 16 all up to 2048 tokens.
double prefill_88_law(double b, double x) { return 2e-8 * std::sqrt(b) * x; }
// Elementwise operators: t = 1e-8 sqrt(elements) over 1024 .. 65536 elements: 3.2e-7, 6.4e-7, 1.28e-6, 2.56e-6.
double elementwise_law(double x) { return 1e-8 * std::sqrt(x); }

const KernelTables::HeadsKey HEADS_8_2{"bf16", 8, 2, 128};
const KernelTables::HeadsKey HEADS_8_8{"bf16", 8, 8, 128};

KernelTables::Grid grid(const std::vector<std::pair<int, std::vector<double>>>& rows, double (*law)(double, double)) {
  KernelTables::Grid g;
  for (const auto& [b, xs] : rows) {
    KernelTables::Curve& c = g[b];
    for (double x : xs) c.x.push_back(x), c.seconds.push_back(law(b, x));
  }
  return g;
}

std::shared_ptr<KernelTables> synthetic_tables() {
  auto t = std::make_shared<KernelTables>();
  t->device = "SYNTH";
  t->source = "synthetic-h100.csv";
  t->header["kernels"] = "power laws written by hand";
  for (int n : {1024, 4096, 16384, 65536})
    for (int k : {1024, 4096}) {
      KernelTables::Curve& c = t->gemm["bf16"][{n, k}];
      for (double m : {16, 64, 256, 1024}) c.x.push_back(m), c.seconds.push_back(gemm_law(m, n, k));
    }
  t->prefill[HEADS_8_2] = grid({{1, {128, 512, 2048, 8192}}, {4, {128, 512, 2048}}, {16, {128, 512}}}, prefill_law);
  t->decode[HEADS_8_2] = grid({{1, {256, 1024, 4096, 16384}}, {8, {256, 1024, 4096}}, {64, {256, 1024}}}, decode_law);
  t->prefill[HEADS_8_8] = grid({{1, {128, 512, 2048}}, {4, {128, 512, 2048}}, {16, {128, 512, 2048}}}, prefill_88_law);
  for (const char* op : {"rms_norm", "add", "embedding", "rope", "activation"})
    t->elementwise[op] = curve({1024, 4096, 16384, 65536}, elementwise_law);
  // All-reduces of 2 GPUs over bytes per GPU: measured points only are asked for below.
  t->allreduce[{"graph", 2}] = {{1024, 1048576, 8388608}, {5e-6, 1e-5, 4e-5}};
  t->allreduce[{"eager", 2}] = {{1024, 1048576, 8388608}, {8e-6, 1.5e-5, 5e-5}};
  t->allreduce[{"nccl", 2}] = {{1024, 8388608, 67108864}, {2e-5, 6e-5, 3e-4}};
  t->p2p["inter"] = {{1024, 1048576, 16777216}, {1e-5, 2e-5, 1e-3}};
  t->p2p["intra"] = {{1024, 1048576, 16777216}, {3e-6, 6e-6, 1e-4}};
  return t;
}

// A toy model whose shard shapes at tp 1 fall inside the synthetic GEMM table: hidden 1024, 8 heads of 128 with 2 KV
// heads, ffn 2048, vocabulary 16384. At tp 1: QKV (n, k) = ((8 + 2 x 2) x 128, 1024) = (1536, 1024), O (1024, 1024),
// gate+up (4096, 1024), down (1024, 2048), LM head (16384, 1024); rope width (8 + 2) x 128 = 1280, activation 2048.
ModelArch toy_model() {
  ModelArch m;
  m.name = "toy";
  m.layers = 4;
  m.hidden = 1024;
  m.heads = 8;
  m.kv_heads = 2;
  m.head_dim = 128;
  m.ffn = 2048;
  m.vocab = 16384;
  m.max_context = 8192;
  return m;
}

// Round catalog-like peaks: 1e15 FLOP/s dense bf16 and fp16, 2e12 B/s of HBM.
DeviceSpec synthetic_device() {
  DeviceSpec d;
  d.name = "SYNTH";
  d.peak_flops["bf16"] = 1e15;
  d.peak_flops["fp16"] = 1e15;
  d.hbm_bandwidth = 2e12;
  return d;
}

}  // namespace

// ------------------------------------------------------------------------------------------------ curves

TEST(KernelTablesCurve, ExactAtAndBetweenMeasuredPoints) {
  const KernelTables::Curve c = sqrt_curve();
  // At the points: the measured times 4e-6, 8e-6, 3.2e-5 (the first, an inner and the last point).
  expect_rel(curve_seconds(c, 16, "c"), 4e-6, "first point");
  expect_rel(curve_seconds(c, 64, "c"), 8e-6, "inner point");
  expect_rel(curve_seconds(c, 1024, "c"), 3.2e-5, "last point");
  // Between: 1e-6 sqrt(100) = 1e-5 (between 64 and 256), 1e-6 sqrt(32) = 5.656854...e-6 (between 16 and 64).
  expect_rel(curve_seconds(c, 100, "c"), 1e-5, "x = 100");
  expect_rel(curve_seconds(c, 32, "c"), 1e-6 * std::sqrt(32.0), "x = 32");
  // CurveLookup is the same rule with the logs taken once; log_inside is log(at(x)) inside the points.
  const CurveLookup lookup(c, "c");
  expect_rel(lookup.at(100), 1e-5, "lookup x = 100");
  expect_rel(lookup.log_inside(100, std::log(100.0)), std::log(1e-5), "log_inside x = 100", 1e-13);
  EXPECT_EQ(lookup.first_seconds(), 4e-6);
  EXPECT_EQ(lookup.last_seconds(), 3.2e-5);
  EXPECT_EQ(lookup.last_x(), 1024);
}

TEST(KernelTablesCurve, BelowTheFirstPointCostsTheFirstPoint) {
  // A call never gets cheaper than the smallest measured one: 4e-6 at x = 16 for any x below it.
  const KernelTables::Curve c = sqrt_curve();
  EXPECT_EQ(curve_seconds(c, 1, "c"), 4e-6);
  EXPECT_EQ(curve_seconds(c, 0, "c"), 4e-6);
  EXPECT_EQ(CurveLookup(c, "c").log_inside(2, std::log(2.0)), std::log(4e-6));
}

TEST(KernelTablesCurve, ContinuesTheLastSlopeUpToTwiceTheLastPoint) {
  const KernelTables::Curve c = sqrt_curve();
  // The last segment (256 -> 1024) has log-log slope 1/2, the law's: 1e-6 sqrt(1500) and, at exactly 2x the last
  // point, 1e-6 sqrt(2048) = 4.5254834e-5.
  expect_rel(curve_seconds(c, 1500, "c"), 1e-6 * std::sqrt(1500.0), "x = 1500");
  expect_rel(curve_seconds(c, 2048, "c"), 1e-6 * std::sqrt(2048.0), "x = 2048 = 2x");
  // Just beyond 2x: refused, naming the query and the value.
  const std::string msg = thrown<TableRangeError>([&] { curve_seconds(c, 2049, "toy.csv: rms_norm elements"); });
  EXPECT_TRUE(has(msg, "toy.csv: rms_norm elements")) << msg;
  EXPECT_TRUE(has(msg, "measured up to 1024")) << msg;
  EXPECT_TRUE(has(msg, "asked for 2049")) << msg;
  // A larger max_factor lets it go further on the same slope: 4x -> 1e-6 sqrt(4096) = 6.4e-5.
  expect_rel(curve_seconds(c, 4096, "c", 4.0), 6.4e-5, "x = 4096 with max_factor 4");
  // TableRangeError is a std::out_of_range.
  EXPECT_THROW(curve_seconds(c, 5000, "c", 4.0), std::out_of_range);
}

TEST(KernelTablesCurve, NeverContinuesDownwardsAndNeedsTwoPoints) {
  // A falling last segment (2e-6 at 1, 1e-6 at 2) is continued flat at the last time, never below it.
  const KernelTables::Curve falling{{1, 2}, {2e-6, 1e-6}};
  EXPECT_EQ(curve_seconds(falling, 3, "falling"), 1e-6);
  // One point has no slope to continue: anything beyond it is refused, below or at it is its time.
  const KernelTables::Curve one{{8}, {5e-6}};
  EXPECT_EQ(curve_seconds(one, 8, "one"), 5e-6);
  EXPECT_EQ(curve_seconds(one, 2, "one"), 5e-6);
  const std::string msg = thrown<TableRangeError>([&] { curve_seconds(one, 9, "one-point table"); });
  EXPECT_TRUE(has(msg, "one-point table") && has(msg, "asked for 9")) << msg;
  // An empty curve cannot be looked up at all.
  EXPECT_THROW(CurveLookup(KernelTables::Curve{}, "empty"), TableRangeError);
}

TEST(KernelTablesCurve, ProportionalTailForStreamingOperators) {
  // proportional_tail: beyond the last point, time in proportion to x (not the last slope), up to max_factor.
  const CurveLookup c(sqrt_curve(), "stream", MAX_ELEMENTWISE_EXTRAPOLATION, true);
  EXPECT_EQ(MAX_ELEMENTWISE_EXTRAPOLATION, 16.0);
  // 2x the last point: 2 x 3.2e-5 = 6.4e-5 (the slope-1/2 continuation would give sqrt(2) x 3.2e-5 = 4.5e-5).
  expect_rel(c.at(2048), 6.4e-5, "2x");
  // 16x: 16 x 3.2e-5 = 5.12e-4; just beyond 16x (16385 > 16 x 1024 = 16384): refused.
  expect_rel(c.at(16384), 5.12e-4, "16x");
  EXPECT_THROW(c.at(16385), TableRangeError);
  // A single point continues proportionally too (no slope needed): 5e-6 x 24 / 8 = 1.5e-5.
  const CurveLookup one(KernelTables::Curve{{8}, {5e-6}}, "one", 4.0, true);
  expect_rel(one.at(24), 1.5e-5, "one point, 3x");
}

// ------------------------------------------------------------------------------------------------ GEMMs

TEST(KernelTablesGemm, ExactOnThePowerLawInsideTheTable) {
  const auto t = synthetic_tables();
  // A measured shape and m: 1e-12 x sqrt(64) x 4096 x 4096 = 1.34217728e-4.
  expect_rel(gemm_seconds(*t, "bf16", 64, 4096, 4096), 1.34217728e-4, "measured (64, 4096, 4096)");
  // Between every axis (m 100 between 64 and 256, n 2048 and k 2048 between the measured 1024 and 4096):
  // 1e-12 x 10 x 2048 x 2048 = 4.194304e-5.
  expect_rel(gemm_seconds(*t, "bf16", 100, 2048, 2048), 4.194304e-5, "inside (100, 2048, 2048)");
  // m below the first measured m (16): its time at m = 16: 1e-12 x 4 x 1024 x 1024 = 4.194304e-6.
  expect_rel(gemm_seconds(*t, "bf16", 1, 1024, 1024), 4.194304e-6, "m below the table");
  // n below the smallest measured n (1024): the n = 1024 time, never cheaper: 1e-12 x 8 x 1024 x 1024 = 8.388608e-6.
  expect_rel(gemm_seconds(*t, "bf16", 64, 512, 1024), 8.388608e-6, "n below the table");
  // m up to 2x the largest measured m (1024), on the last segment's slope (1/2, the law's):
  // 1e-12 x sqrt(2048) x 1024 x 1024.
  expect_rel(gemm_seconds(*t, "bf16", 2048, 1024, 1024), 1e-12 * std::sqrt(2048.0) * 1024 * 1024, "m = 2x");
}

TEST(KernelTablesGemm, LlamaLmHeadBeyondTheLargestNWithinTwice) {
  const auto t = synthetic_tables();
  // Llama 3's LM head at tp 1 has n = 128,256 and the table stops at n = 65,536 (1.96x): the two largest n (16384
  // and 65536) carry the log-log slope in n (1, the law's): 1e-12 x sqrt(64) x 128256 x 4096 = 4.202692608e-3.
  expect_rel(gemm_seconds(*t, "bf16", 64, 128256, 4096), 4.202692608e-3, "n = 128256");
  // n = 131,073 > 2 x 65,536: refused, naming the table, the axis and the value.
  const std::string msg = thrown<TableRangeError>([&] { gemm_seconds(*t, "bf16", 64, 131073, 4096); });
  EXPECT_TRUE(has(msg, "synthetic-h100.csv: gemm bf16")) << msg;
  EXPECT_TRUE(has(msg, "n measured up to 65536, asked for 131073")) << msg;
  // m beyond 2x the largest measured m (1024): refused by the curve over m, which names the shape.
  const std::string m_msg = thrown<TableRangeError>([&] { gemm_seconds(*t, "bf16", 2049, 1024, 1024); });
  EXPECT_TRUE(has(m_msg, "synthetic-h100.csv: gemm bf16 n=1024 k=1024 m")) << m_msg;
  EXPECT_TRUE(has(m_msg, "asked for 2049")) << m_msg;
}

TEST(KernelTablesGemm, MissingCornerOrDtypeIsRefused) {
  auto t = synthetic_tables();
  // Without the (16384, 1024) shape, (n 8192, k 2048) has no measured corner at (n1, k0) = (16384, 1024); the n and k
  // values themselves are still measured (16384 with k 4096, 1024 with n 4096).
  t->gemm["bf16"].erase({16384, 1024});
  const std::string msg = thrown<TableRangeError>([&] { gemm_seconds(*t, "bf16", 64, 8192, 2048); });
  EXPECT_TRUE(has(msg, "synthetic-h100.csv: gemm bf16")) << msg;
  EXPECT_TRUE(has(msg, "no measured shapes around n=8192, k=2048")) << msg;
  // The other side of the table (n 2048 between 1024 and 4096) still has all four corners: the law, 1e-12 x 8 x 2048
  // x 2048 = 3.3554432e-5.
  expect_rel(gemm_seconds(*t, "bf16", 64, 2048, 2048), 3.3554432e-5, "intact corners");
  // No fp8 rows at all.
  const std::string dtype_msg = thrown<TableRangeError>([&] { gemm_seconds(*t, "fp8", 64, 1024, 1024); });
  EXPECT_TRUE(has(dtype_msg, "gemm fp8") && has(dtype_msg, "no rows of this dtype")) << dtype_msg;
}

// ------------------------------------------------------------------------------------------------ attention

TEST(KernelTablesAttention, InsideTheGridIsExact) {
  const auto t = synthetic_tables();
  // A measured point: batch 4 x 512 tokens: 1e-8 x 2 x 512 = 1.024e-5.
  expect_rel(prefill_attention_seconds(*t, HEADS_8_2, 4, 512), 1.024e-5, "prefill (4, 512)");
  // Between rows 1 and 4 and between 128 and 512 tokens: 1e-8 x sqrt(2) x 256 = 3.62038672e-6.
  expect_rel(prefill_attention_seconds(*t, HEADS_8_2, 2, 256), 1e-8 * std::sqrt(2.0) * 256, "prefill (2, 256)");
  // Decode between rows 8 and 64, keys 512 between 256 and 1024: 1e-9 x sqrt(32) x 512.
  expect_rel(decode_attention_seconds(*t, HEADS_8_2, 32, 512), 1e-9 * std::sqrt(32.0) * 512, "decode (32, 512)");
  // Below the first batch and the first length: the batch-1 row at its first point, 1e-8 x 1 x 128 = 1.28e-6.
  expect_rel(prefill_attention_seconds(*t, HEADS_8_2, 0.5, 16), 1.28e-6, "below the grid");
}

TEST(KernelTablesAttention, TriangularGridContinuesInProportionToWork) {
  const auto t = synthetic_tables();
  // Prefill batch 8 x 1024 tokens: row 16 stops at 512 tokens, so the point is outside the measured grid. It is
  // continued from the largest call it covers (a row's batch <= 8, its length capped at 1024), work = batch x L (L + 1)
  // / 2 query-key pairs:
  //   batch 1 x 1024: 524,800 pairs
  //   batch 4 x 1024 (row 4 reaches 2048): 2,099,200 pairs, measured 1e-8 x sqrt(4) x 1024 = 2.048e-5 s
  // so batch 4 x 1024 scaled by the work ratio 8 / 4: 4.096e-5 s. (The power law would say 1e-8 x sqrt(8) x 1024 =
  // 2.9e-5: the rule assumes no better batching than measured. It is above the measured batch 4 x 1024, as a larger
  // batch must be; continuing from the largest call overall, batch 1 x 8192, gave 1.02e-5 s, below it.)
  expect_rel(prefill_attention_seconds(*t, HEADS_8_2, 8, 1024), 2 * 2.048e-5, "prefill (8, 1024)");
  EXPECT_GT(prefill_attention_seconds(*t, HEADS_8_2, 8, 1024), prefill_attention_seconds(*t, HEADS_8_2, 4, 1024));
  // Decode batch 16 x 3072 keys: row 64 stops at 1024 keys. Work = batch x keys; covered calls: batch 1 x 3072 and
  // batch 8 x 3072 = 24576 (the largest; row 8 reaches 4096, 1e-9 x sqrt(8) x 3072 s); the query is twice that work:
  // 2 x 1e-9 x sqrt(8) x 3072 = 1.73781...e-5 s.
  expect_rel(decode_attention_seconds(*t, HEADS_8_2, 16, 3072), 2 * 1e-9 * std::sqrt(8.0) * 3072, "decode (16, 3072)");
  // Beyond the largest batch (64): batch 128 x 1024 keys against the largest work of all, batch 64 x 1024 = 65536
  // (1e-9 x 8 x 1024 = 8.192e-6 s), twice the work: 1.6384e-5 s.
  expect_rel(decode_attention_seconds(*t, HEADS_8_2, 128, 1024), 1.6384e-5, "decode (128, 1024)");
  // Longer than any row at batch 1: 40,000 tokens is 40000 x 40001 / 2 = 800,020,000 pairs, 23.84x batch 1 x 8192:
  // 8.192e-5 x 800020000 / 33558528 = 1.95293543...e-3 s.
  expect_rel(prefill_attention_seconds(*t, HEADS_8_2, 1, 40000), 8.192e-5 * 800020000.0 / 33558528.0, "prefill (1, 40000)");
}

TEST(KernelTablesAttention, MoreThanThirtyTwoTimesTheWorkIsRefused) {
  const auto t = synthetic_tables();
  EXPECT_EQ(MAX_ATTENTION_EXTRAPOLATION, 32.0);
  // 50,000 tokens at batch 1: 50000 x 50001 / 2 = 1,250,025,000 pairs, 37.2x batch 1 x 8192's 33,558,528.
  const std::string msg = thrown<TableRangeError>([&] { prefill_attention_seconds(*t, HEADS_8_2, 1, 50000); });
  EXPECT_TRUE(has(msg, "synthetic-h100.csv: attn_prefill")) << msg;
  EXPECT_TRUE(has(msg, "8 query / 2 KV heads per GPU, head_dim 128, KV cache bf16")) << msg;
  EXPECT_TRUE(has(msg, "batch 1 x 50000")) << msg;
  EXPECT_TRUE(has(msg, "at most 32x")) << msg;
  // Decode batch 64 x 33,792 keys = 33 x (64 x 1024), the largest work at batch <= 64: refused; 32x (32,768) is not.
  EXPECT_THROW(decode_attention_seconds(*t, HEADS_8_2, 64, 33792), TableRangeError);
  expect_rel(decode_attention_seconds(*t, HEADS_8_2, 64, 32768), 32 * 8.192e-6, "decode 32x");
}

TEST(KernelTablesAttention, StandInServesAnotherHeadCountWithTheSameGroupSize) {
  auto t = synthetic_tables();
  // A model with 32 query and 32 KV heads per GPU (one query head per KV head) is not measured. Candidates: 8/8 (the
  // same group size, 1), 8/2 (group size 4: no), and 8/8 at head_dim 64 (another head_dim: no).
  t->prefill[{"bf16", 8, 8, 64}] = t->prefill.at(HEADS_8_8);
  const KernelTables::HeadsKey mha{"bf16", 32, 32, 128};
  const auto [key, factor] = attention_stand_in(t->prefill, mha, "attn_prefill");
  EXPECT_EQ(key.heads, 8);
  EXPECT_EQ(key.kv_heads, 8);
  EXPECT_EQ(key.head_dim, 128);
  // The kernels parallelise over sequences x KV heads: 32 KV heads are 32 / 8 = 4 times the batch on 8.
  EXPECT_EQ(factor, 4.0);
  // So batch 2 x 512 tokens costs the 8/8 grid's batch 8 x 512: 2e-8 x sqrt(8) x 512 = 2.89630938e-5.
  expect_rel(prefill_attention_seconds(*t, mha, 2, 512), 2e-8 * std::sqrt(8.0) * 512, "32/32 batch 2");
  // A measured configuration stands in for itself, factor 1.
  EXPECT_EQ(attention_stand_in(t->prefill, HEADS_8_8, "attn_prefill").second, 1.0);
  // With 16/16 measured too it is the nearer (|log(16/32)| < |log(8/32)|): factor 32 / 16 = 2.
  t->prefill[{"bf16", 16, 16, 128}] = t->prefill.at(HEADS_8_8);
  const auto nearer = attention_stand_in(t->prefill, mha, "attn_prefill");
  EXPECT_EQ(nearer.first.kv_heads, 16);
  EXPECT_EQ(nearer.second, 2.0);
  // No configuration with 2 query heads per KV head: refused, naming the table and the heads.
  const std::string msg = thrown<std::invalid_argument>(
      [&] { attention_stand_in(t->prefill, {"bf16", 32, 16, 128}, "synthetic-h100.csv: attn_prefill"); });
  EXPECT_TRUE(has(msg, "synthetic-h100.csv: attn_prefill") && has(msg, "32 query / 16 KV heads")) << msg;
  // Nor one of another KV cache dtype.
  EXPECT_THROW(decode_attention_seconds(*t, {"fp8", 8, 2, 128}, 1, 256), std::invalid_argument);
}

// ------------------------------------------------------------------------------------------------ shard shapes

TEST(KernelTablesShapes, Llama70BAtTp8) {
  // Llama-3.1-70B (huggingface.co/meta-llama/Llama-3.1-70B config.json, as data/models.yaml): 64 heads, 8 KV heads of
  // 128, hidden 8192, ffn 28672, vocabulary 128256.
  ModelArch m;
  m.name = "Llama-3.1-70B";
  m.layers = 80;
  m.hidden = 8192;
  m.heads = 64;
  m.kv_heads = 8;
  m.head_dim = 128;
  m.ffn = 28672;
  m.vocab = 128256;
  const ShardShapes s = shard_shapes(m, 8);
  // Per GPU: 64 / 8 = 8 query heads, 8 / 8 = 1 KV head.
  EXPECT_EQ(s.gemm[0], std::make_pair((8 + 2 * 1) * 128, 8192));  // QKV: (1280, 8192)
  EXPECT_EQ(s.gemm[1], std::make_pair(8192, 8 * 128));           // O: (8192, 1024)
  EXPECT_EQ(s.gemm[2], std::make_pair(2 * 28672 / 8, 8192));     // gate+up: (7168, 8192)
  EXPECT_EQ(s.gemm[3], std::make_pair(8192, 28672 / 8));         // down: (8192, 3584)
  EXPECT_EQ(s.gemm[4], std::make_pair(128256 / 8, 8192));        // LM head, vocabulary-parallel: (16032, 8192)
  EXPECT_EQ(s.heads.heads, 8);
  EXPECT_EQ(s.heads.kv_heads, 1);
  EXPECT_EQ(s.heads.head_dim, 128);
  EXPECT_EQ(s.heads.kv_dtype, "");
  EXPECT_EQ(s.rope_width, (8 + 1) * 128);  // 1152
  EXPECT_EQ(s.activation_width, 3584);

  // At tp 16 the 8 KV heads are fewer than the GPUs: vLLM replicates them, one per GPU (not 8 / 16 = 0).
  const ShardShapes r = shard_shapes(m, 16);
  EXPECT_EQ(r.heads.heads, 4);
  EXPECT_EQ(r.heads.kv_heads, 1);
  EXPECT_EQ(r.gemm[0], std::make_pair((4 + 2 * 1) * 128, 8192));  // QKV: (768, 8192)
  EXPECT_EQ(r.gemm[1], std::make_pair(8192, 4 * 128));           // O: (8192, 512)
  EXPECT_EQ(r.rope_width, (4 + 1) * 128);                         // 640
}

// ------------------------------------------------------------------------------------------------ operators

TEST(KernelTableOperators, GemmTimeAndComputeShare) {
  const auto t = synthetic_tables();
  const KernelTableOperators ops(t, synthetic_device(), toy_model(), 1, {});
  // QKV at tp 1: (n, k) = (1536, 1024); 64 rows: 1e-12 x 8 x 1536 x 1024 = 1.2582912e-5 (n between 1024 and 4096).
  const OpTime qkv = ops.linear(LinearOp::QKV, 64);
  expect_rel(qkv.seconds, 1.2582912e-5, "qkv seconds");
  // Its compute share from FLOPs and bytes against the device peaks:
  //   FLOPs 2 x 64 x 1536 x 1024 = 201,326,592 -> 201326592 / 1e15 = 2.01326592e-7 s
  //   bytes (64 x 1024 + 1536 x 1024) x 2 (input and bf16 weights) + 64 x 1536 x 2 (output) = 3,473,408
  //         -> 3473408 / 2e12 = 1.736704e-6 s
  //   share = 2.01326592e-7 / (2.01326592e-7 + 1.736704e-6) = 0.1038820505...
  expect_rel(qkv.compute_share, 2.01326592e-7 / (2.01326592e-7 + 1.736704e-6), "qkv share");
  // The LM head over 16 sampled rows: (16384, 1024), 1e-12 x 4 x 16384 x 1024 = 6.7108864e-5.
  expect_rel(ops.linear(LinearOp::LM_HEAD, 16).seconds, 6.7108864e-5, "lm head");
  // Down: (1024, 2048), k between 1024 and 4096, 256 rows: 1e-12 x 16 x 1024 x 2048 = 3.3554432e-5.
  expect_rel(ops.linear(LinearOp::DOWN, 256).seconds, 3.3554432e-5, "down");
  // No rows, no call.
  EXPECT_EQ(ops.linear(LinearOp::O, 0).seconds, 0);
  // Up to 2x beyond the largest measured m (1024) on the last slope; beyond refused with the table and the value.
  expect_rel(ops.linear(LinearOp::O, 2048).seconds, 1e-12 * std::sqrt(2048.0) * 1024 * 1024, "O at m = 2048");
  const std::string msg = thrown<TableRangeError>([&] { ops.linear(LinearOp::O, 4096); });
  EXPECT_TRUE(has(msg, "synthetic-h100.csv: gemm bf16 n=1024 k=1024 m") && has(msg, "asked for 4096")) << msg;
}

TEST(KernelTableOperators, Fp16UsesTheBf16TablesAndAMissingDtypeIsRefused) {
  const auto t = synthetic_tables();
  KernelTableOptions fp16;
  fp16.dtype = "fp16";
  const KernelTableOperators ops(t, synthetic_device(), toy_model(), 1, fp16);
  // The bf16 table's time at the same shape: gate+up (4096, 1024), 64 rows: 1e-12 x 8 x 4096 x 1024 = 3.3554432e-5.
  expect_rel(ops.linear(LinearOp::GATE_UP, 64).seconds, 3.3554432e-5, "fp16 gate+up");
  EXPECT_GT(ops.linear(LinearOp::GATE_UP, 64).compute_share, 0);  // the fp16 peak is the device's
  KernelTableOptions fp8;
  fp8.dtype = "fp8";
  const std::string msg =
      thrown<std::invalid_argument>([&] { KernelTableOperators(t, synthetic_device(), toy_model(), 1, fp8); });
  EXPECT_TRUE(has(msg, "synthetic-h100.csv") && has(msg, "no fp8 GEMMs measured on SYNTH")) << msg;
  // Other refusals at construction: no tables, tp < 1, heads that do not split, no all-reduce of 4 GPUs (here the
  // attention tables fail first: 2 query / 1 KV head per GPU has no measured group size of 2).
  EXPECT_THROW(KernelTableOperators(nullptr, synthetic_device(), toy_model(), 1, {}), std::invalid_argument);
  EXPECT_THROW(KernelTableOperators(t, synthetic_device(), toy_model(), 0, {}), std::invalid_argument);
  EXPECT_THROW(KernelTableOperators(t, synthetic_device(), toy_model(), 3, {}), std::invalid_argument);
  EXPECT_THROW(KernelTableOperators(t, synthetic_device(), toy_model(), 4, {}), std::invalid_argument);
}

TEST(KernelTableOperators, AttentionFromTheTablesWithTheirShares) {
  const auto t = synthetic_tables();
  const KernelTableOperators ops(t, synthetic_device(), toy_model(), 1, {});
  // Decode: 8 sequences reading 1024 keys each on the 8/2 grid: 1e-9 x sqrt(8) x 1024 = 2.896309...e-6.
  const OpTime d = ops.decode_attention(8, 1024);
  expect_rel(d.seconds, 1e-9 * std::sqrt(8.0) * 1024, "decode");
  // Share: FLOPs 4 x 8 heads x 128 x 1024 keys x 8 seqs = 33,554,432 -> 3.3554432e-8 s at 1e15; bytes 8 x 1024 x
  // 2 KV heads x 128 x 2 (K and V) x 2 (bf16) = 8,388,608 -> 4.194304e-6 s at 2e12: 3.3554432e-8 / 4.22785843e-6.
  expect_rel(d.compute_share, 3.3554432e-8 / (3.3554432e-8 + 4.194304e-6), "decode share");
  // A prefill chunk of 80 tokens after 152 cached ones has 80 x 152 + 80 x 81 / 2 = 15,400 causal pairs, those of a
  // whole 175-token prompt (175 x 176 / 2 = 15,400; sqrt(1 + 8 x 15400) = 351 exactly): the table's time at 175
  // tokens, 1e-8 x 175 = 1.75e-6 for one sequence.
  expect_rel(ops.prefill_attention(1, 80, 152).seconds, 1.75e-6, "chunk after prefix");
  EXPECT_EQ(ops.prefill_attention(1, 80, 152).seconds, ops.prefill_attention(1, 175, 0).seconds);
  EXPECT_EQ(ops.decode_attention(0, 1024).seconds, 0);
  EXPECT_EQ(ops.prefill_attention(2, 0, 100).seconds, 0);

  // At tp 2 the model has 4 query / 1 KV heads per GPU, unmeasured: the 8/2 grid (group size 4) stands in with the
  // batch scaled by 1 / 2. Decode 16 x 1024 keys is then the grid's 8 x 1024: 1e-9 x sqrt(8) x 1024.
  const KernelTableOperators tp2(t, synthetic_device(), toy_model(), 2, {});
  expect_rel(tp2.decode_attention(16, 1024).seconds, 1e-9 * std::sqrt(8.0) * 1024, "tp 2 decode");
}

TEST(KernelTableOperators, ElementwiseOverElementsWithAProportionalTail) {
  const auto t = synthetic_tables();
  const KernelTableOperators ops(t, synthetic_device(), toy_model(), 1, {});
  // rms_norm of 4 tokens x hidden 1024 = 4096 elements: 1e-8 x sqrt(4096) = 6.4e-7, memory-bound (share 0).
  const OpTime norm = ops.elementwise(ElementwiseOp::RMS_NORM, 4);
  expect_rel(norm.seconds, 6.4e-7, "rms_norm");
  EXPECT_EQ(norm.compute_share, 0);
  // rope of 4 tokens x rope width 1280 = 5120 elements: 1e-8 x sqrt(5120).
  expect_rel(ops.elementwise(ElementwiseOp::ROPE, 4).seconds, 1e-8 * std::sqrt(5120.0), "rope");
  // activation of 8 tokens x ffn 2048 = 16384 elements: 1e-8 x 128 = 1.28e-6.
  expect_rel(ops.elementwise(ElementwiseOp::ACTIVATION, 8).seconds, 1.28e-6, "activation");
  // Beyond the last point (65536 elements) in proportion to the elements: 128 tokens = 131072 elements = 2x,
  // 2 x 2.56e-6 = 5.12e-6 (not the slope's sqrt(2) x); 1024 tokens = 16x = 4.096e-5; 1025 tokens is over 16x.
  expect_rel(ops.elementwise(ElementwiseOp::RMS_NORM, 128).seconds, 5.12e-6, "rms_norm 2x");
  expect_rel(ops.elementwise(ElementwiseOp::RMS_NORM, 1024).seconds, 4.096e-5, "rms_norm 16x");
  const std::string msg = thrown<TableRangeError>([&] { ops.elementwise(ElementwiseOp::RMS_NORM, 1025); });
  EXPECT_TRUE(has(msg, "synthetic-h100.csv: rms_norm elements") && has(msg, "measured up to 65536")) << msg;
  // An operator the GPU tables do not time is refused when asked for, naming it.
  const std::string missing = thrown<TableRangeError>([&] { ops.elementwise(ElementwiseOp::KV_CACHE_WRITE, 4); });
  EXPECT_TRUE(has(missing, "synthetic-h100.csv") && has(missing, "kv_cache_write")) << missing;
}

TEST(KernelTableOperators, AllReduceVariantsBySizeAndGraph) {
  auto t = synthetic_tables();
  // tp 1: no all-reduce at all.
  EXPECT_EQ(KernelTableOperators(t, synthetic_device(), toy_model(), 1, {}).allreduce(1048576, true).seconds, 0);
  const KernelTableOperators ops(t, synthetic_device(), toy_model(), 2, {});
  // Up to 8 MiB vLLM's custom all-reduce: the graph curve inside a CUDA graph (1e-5 at 1 MiB), eager outside
  // (1.5e-5); 8 MiB itself is still custom (4e-5 graph).
  // (An inner point goes through exp(log(t)): equal to a relative 1e-12, not bit for bit; the last point is exact.)
  expect_rel(ops.allreduce(1048576, true).seconds, 1e-5, "graph 1 MiB");
  expect_rel(ops.allreduce(1048576, false).seconds, 1.5e-5, "eager 1 MiB");
  EXPECT_EQ(ops.allreduce(8388608, true).seconds, 4e-5);
  // Larger: NCCL, whatever the graph (3e-4 at 64 MiB).
  EXPECT_EQ(ops.allreduce(67108864, true).seconds, 3e-4);
  EXPECT_EQ(ops.allreduce(67108864, false).seconds, 3e-4);
  // Without an eager table an eager call falls back to NCCL: 6e-5 at 8 MiB.
  t->allreduce.erase({"eager", 2});
  const KernelTableOperators no_eager(t, synthetic_device(), toy_model(), 2, {});
  expect_rel(no_eager.allreduce(8388608, false).seconds, 6e-5, "nccl 8 MiB");
  // With no all-reduce of 2 GPUs at all the operators are refused.
  t->allreduce.clear();
  EXPECT_THROW(KernelTableOperators(t, synthetic_device(), toy_model(), 2, {}), std::invalid_argument);
}

TEST(KernelTableOperators, PipelineSendBoundedBelowByTheNic) {
  const auto t = synthetic_tables();
  KernelTableOptions across;
  across.nic_bandwidth = 25e9;  // 200 Gb/s
  const KernelTableOperators ops(t, synthetic_device(), toy_model(), 1, across);
  // 1 MiB: the inter-node table says 2e-5; the NIC its first point's latency 1e-5 + 1048576 / 25e9 = 1e-5 +
  // 4.194304e-5 = 5.194304e-5, the larger.
  expect_rel(ops.pipeline_send(1048576).seconds, 1e-5 + 1048576 / 25e9, "1 MiB, NIC-bound");
  // 16 MiB: the table's 1e-3 exceeds 1e-5 + 16777216 / 25e9 = 6.8108864e-4.
  EXPECT_EQ(ops.pipeline_send(16777216).seconds, 1e-3);
  // Without a NIC bandwidth: the table alone (2e-5 at 1 MiB).
  expect_rel(KernelTableOperators(t, synthetic_device(), toy_model(), 1, {}).pipeline_send(1048576).seconds, 2e-5,
             "inter, no NIC");
  // Stages on one server: the intra-node table, no NIC (6e-6 at 1 MiB).
  KernelTableOptions within = across;
  within.stages_across_servers = false;
  expect_rel(KernelTableOperators(t, synthetic_device(), toy_model(), 1, within).pipeline_send(1048576).seconds, 6e-6,
             "intra");
  // No send/recv table: refused when a pipeline send is asked for.
  auto bare = synthetic_tables();
  bare->p2p.clear();
  EXPECT_THROW(KernelTableOperators(bare, synthetic_device(), toy_model(), 1, {}).pipeline_send(1024), TableRangeError);
}

TEST(KernelTableOperators, CoverageCheckNamesTheTable) {
  const auto t = synthetic_tables();
  const KernelTableOperators ops(t, synthetic_device(), toy_model(), 1, {});
  // 512 tokens, 16 sequences, 4096-token contexts: GEMMs at m 512 (measured to 1024), activation 512 x 2048 =
  // 1,048,576 elements (16x the last point, the limit), decode up to 16 x 4096 keys (2x batch 8 x 4096's work),
  // prefill of 512 tokens after 3584 (about 1983 tokens' pairs, inside the batch 1 row).
  StepLimits ok;
  ok.max_tokens = 512;
  ok.max_seqs = 16;
  ok.max_context = 4096;
  EXPECT_NO_THROW(ops.check_coverage(ok));
  // 4096 tokens would need GEMMs at m 4096, 4x the largest measured m.
  StepLimits big = ok;
  big.max_tokens = 4096;
  const std::string msg = thrown<TableRangeError>([&] { ops.check_coverage(big); });
  EXPECT_TRUE(has(msg, "synthetic-h100.csv: gemm bf16") && has(msg, "asked for 4096")) << msg;
  EXPECT_TRUE(has(ops.describe(), "SYNTH kernel tables (synthetic-h100.csv")) << ops.describe();
}
