// aifsim compare-kernels (sim/cli/compare_kernels.cpp) on a synthetic kbench table and device profile
// (tests/data/compare_kernels/) whose interpolated profile times are known by hand.
//
// The shapes are tiny-llama's at tp 1 (hidden 512, 8 heads, 4 KV heads, head_dim 64, ffn 1408, vocab 4096):
// qkv_proj 1024 x 512, o_proj 512 x 512, gate_up_proj 2816 x 512, down_proj 512 x 1408, lm_head 4096 x 512; attention
// 8 / 4 heads of 64. The profile times every GEMM at m = 1 and 4, decode attention at batch 1 and 4 x 16 and 64 keys,
// prefill at batch 1 x 8 and 32 tokens. The lookups interpolate in log-log space, so at a point halfway in log between
// two measured points (m = 2 between 1 and 4; 32 keys between 16 and 64; batch 2 between 1 and 4) the profile time is
// the geometric mean of its neighbours.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "../../sim/cli/compare_kernels.hpp"
#include "aif/inputs/calibration.hpp"
#include "aif/inputs/device_profile.hpp"
#include "aif/scenario/scenario.hpp"

namespace ac = aif::cli;
namespace am = aif::models;

namespace {

const std::string DIR = std::string(AIF_SOURCE_DIR) + "/tests/data/compare_kernels/";

am::ModelArch tiny_llama() {
  am::ModelArch m;
  m.name = "tiny-llama";
  m.layers = 4;
  m.hidden = 512;
  m.heads = 8;
  m.kv_heads = 4;
  m.head_dim = 64;
  m.ffn = 1408;
  m.vocab = 4096;
  m.max_context = 2048;
  return m;
}

ac::KernelComparison compare(const std::string& kbench, const std::string& profile, int tp = 1) {
  const auto table = aif::sim::read_calibration_csv(DIR + kbench);
  const auto tables = aif::sim::read_device_profile(DIR + profile);
  return ac::compare_kernels(table, *tables, tiny_llama(), tp);
}

const ac::KernelComparisonRow& row(const ac::KernelComparison& c, const std::string& op, int tokens, int kv_len = 0) {
  for (const auto& r : c.rows)
    if (r.op == op && r.tokens == tokens && r.kv_len == kv_len) return r;
  throw std::runtime_error("no row " + op + " " + std::to_string(tokens));
}

const ac::KernelComparisonSummary& summary(const ac::KernelComparison& c, const std::string& op) {
  for (const auto& s : c.summary)
    if (s.op == op) return s;
  throw std::runtime_error("no summary for " + op);
}

// Ratios are quotients of the fixture's decimal times and of exp/log interpolation: equal to 1e-12 relative.
void expect_ratio(const ac::KernelComparisonRow& r, double reference_s, double ratio) {
  EXPECT_NEAR(r.reference_s, reference_s, 1e-12 * reference_s) << r.op << " line " << r.line;
  EXPECT_NEAR(r.ratio(), ratio, 1e-12 * ratio) << r.op << " line " << r.line;
}

}  // namespace

TEST(CompareKernels, GemmRatiosAtMeasuredInterpolatedAndExtrapolatedTokens) {
  const auto c = compare("kbench.csv", "profile.csv");
  // qkv_proj: the profile has 10 us at m = 1 and 40 us at m = 4 (slope 1 in log-log).
  expect_ratio(row(c, "qkv_proj", 1), 10e-6, 20.0 / 10);  // a measured point
  expect_ratio(row(c, "qkv_proj", 2), 20e-6, 30.0 / 20);  // sqrt(10 x 40) = 20 us
  expect_ratio(row(c, "qkv_proj", 4), 40e-6, 40.0 / 40);
  // 8 tokens: beyond the last point (within 2x), the last segment's slope continues: 40 us x 8 / 4 = 80 us.
  expect_ratio(row(c, "qkv_proj", 8), 80e-6, 32.0 / 80);
  expect_ratio(row(c, "o_proj", 1), 8e-6, 4.0 / 8);
  expect_ratio(row(c, "gate_up_proj", 3), 20e-6, 60.0 / 20);  // flat 20 us between m = 1 and 4
  expect_ratio(row(c, "down_proj", 1), 10e-6, 10.0 / 10);
  expect_ratio(row(c, "lm_head", 2), 50e-6, 75.0 / 50);  // sqrt(25 x 100) = 50 us
  // Spread = (p90 - p10) / median: (22 - 18) / 20 us on the first qkv_proj row, 0 where p10 = p90.
  EXPECT_NEAR(row(c, "qkv_proj", 1).spread, 0.2, 1e-12);
  EXPECT_EQ(row(c, "qkv_proj", 2).spread, 0.0);
}

TEST(CompareKernels, AttentionRatiosAndRowsTheProfileCannotMatch) {
  const auto c = compare("kbench.csv", "profile.csv");
  // Decode, batch 1 x 16 keys: the measured 5 us.
  expect_ratio(row(c, "attn_decode", 1, 16), 5e-6, 10.0 / 5);
  // Batch 2 x 32 keys: batch 1 gives sqrt(5 x 20) = 10 us, batch 4 sqrt(20 x 80) = 40 us; batch 2 is halfway in log:
  // sqrt(10 x 40) = 20 us.
  expect_ratio(row(c, "attn_decode", 2, 32), 20e-6, 30.0 / 20);
  // Batch 1 x 128 keys, past the row's 64: in proportion to the keys read from the largest measured call at no larger
  // batch (batch 1 x 64 keys, 20 us): 40 us.
  expect_ratio(row(c, "attn_decode", 1, 128), 40e-6, 40.0 / 40);
  // Batch 1 x 4096 keys is 64x that call's work, beyond the 32x the lookup allows: not matched, not an error.
  const auto& far = row(c, "attn_decode", 1, 4096);
  EXPECT_TRUE(std::isnan(far.reference_s));
  EXPECT_NE(far.unmatched.find("32x"), std::string::npos) << far.unmatched;
  // Prefill of 16 tokens, no prefix: sqrt(4 x 16) = 8 us between the 8- and 32-token points.
  expect_ratio(row(c, "attn_prefill", 16, 16), 8e-6, 16.0 / 8);
  // A chunk of 8 after 20 cached tokens: the profile times whole prompts only.
  const auto& chunk = row(c, "attn_prefill", 8, 28);
  EXPECT_TRUE(std::isnan(chunk.reference_s));
  EXPECT_NE(chunk.unmatched.find("after 20 cached tokens"), std::string::npos) << chunk.unmatched;
}

TEST(CompareKernels, SummaryGivesMedianAndWorstRatioPerOperator) {
  const auto c = compare("kbench.csv", "profile.csv");
  // qkv_proj ratios 2, 1.5, 1, 0.4: median (1.5 + 1) / 2 = 1.25; worst 0.4 (|log 0.4| > |log 2|).
  const auto& qkv = summary(c, "qkv_proj");
  EXPECT_EQ(qkv.compared, 4u);
  EXPECT_NEAR(qkv.median_ratio, 1.25, 1e-12);
  EXPECT_NEAR(qkv.worst_ratio, 0.4, 1e-12);
  EXPECT_EQ(c.rows[qkv.worst_row].tokens, 8);
  EXPECT_NEAR(qkv.min_ratio, 0.4, 1e-12);
  EXPECT_NEAR(qkv.max_ratio, 2.0, 1e-12);
  // attn_decode: ratios 2, 1.5, 1 and one row not matched.
  const auto& decode = summary(c, "attn_decode");
  EXPECT_EQ(decode.compared, 3u);
  EXPECT_EQ(decode.unmatched, 1u);
  EXPECT_NEAR(decode.median_ratio, 1.5, 1e-12);
  EXPECT_NEAR(decode.worst_ratio, 2.0, 1e-12);
  const auto& prefill = summary(c, "attn_prefill");
  EXPECT_EQ(prefill.compared, 1u);
  EXPECT_EQ(prefill.unmatched, 1u);
  EXPECT_EQ(c.summary.size(), 7u);  // five GEMMs and two attention operators
  // Left out: the tp 2 row, and rms_norm (the profile's elementwise rows are not compared); peak_gemm is a device peak.
  EXPECT_EQ(c.other_tp_rows, 1u);
  ASSERT_EQ(c.not_compared.size(), 1u);
  EXPECT_EQ(c.not_compared[0].first, "rms_norm");
  EXPECT_EQ(c.not_compared[0].second, 1u);
}

TEST(CompareKernels, MarkdownCarriesSummaryAndRows) {
  const auto table = aif::sim::read_calibration_csv(DIR + "kbench.csv");
  const auto tables = aif::sim::read_device_profile(DIR + "profile.csv");
  const auto c = ac::compare_kernels(table, *tables, tiny_llama(), 1);
  const std::string md = ac::format_kernel_comparison(c, table, *tables, tiny_llama(), 1);
  EXPECT_NE(md.find("| qkv_proj | 4 | 1.25 | 0.4 | 8 tokens | 0.4 | 2 | 0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| lm_head | 4096 | 512 | 2 | 75 | 50 | 1.5 | 0.00 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| attn_decode | 2 | 2 | 32 | 30 | 20 | 1.5 | 0.00 |"), std::string::npos) << md;
  EXPECT_NE(md.find("Not matched by the profile"), std::string::npos);
  EXPECT_EQ(md.find("dry run"), std::string::npos);  // the table says device cuda
}

TEST(CompareKernels, BadInputNamesFileLineAndColumn) {
  // A GEMM row whose (n, k) is not the model's shard shape: small-llama's qkv_proj (1536 x 512) against tiny-llama.
  try {
    compare("kbench_wrong_shape.csv", "profile.csv");
    FAIL() << "no error";
  } catch (const aif::sim::ScenarioError& e) {
    EXPECT_EQ(e.line(), 10);
    EXPECT_EQ(e.key_path(), "n");
    EXPECT_NE(std::string(e.what()).find("kbench_wrong_shape.csv:10"), std::string::npos) << e.what();
  }
  // lm_head at 16 tokens: the profile stops at m = 4, and 16 is more than 2x beyond.
  try {
    compare("kbench_beyond_profile.csv", "profile.csv");
    FAIL() << "no error";
  } catch (const aif::sim::ScenarioError& e) {
    EXPECT_EQ(e.line(), 10);
    EXPECT_EQ(e.key_path(), "tokens");
  }
  // down_proj's 512 x 1408 with no measured k besides 512: the shape is not in the profile.
  try {
    compare("kbench_down_only.csv", "profile_without_down.csv");
    FAIL() << "no error";
  } catch (const aif::sim::ScenarioError& e) {
    EXPECT_EQ(e.line(), 10);
    EXPECT_EQ(e.key_path(), "n");
  }
  // No row at tp 4, and tp 3 does not divide 8 heads.
  EXPECT_THROW(compare("kbench.csv", "profile.csv", 4), aif::sim::ScenarioError);
  EXPECT_THROW(compare("kbench.csv", "profile.csv", 3), aif::sim::ScenarioError);
}
