// Comparing runs against noise (analysis/compare, the t-tests of analysis/stats) and `aifsim compare`: statistics
// checked against values worked out by hand or in closed form, verdicts on replica sets with a known shift.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "../support/aifsim_process.hpp"
#include "aif/analysis/compare.hpp"
#include "aif/analysis/results.hpp"
#include "aif/analysis/stats.hpp"
#include "aif/analysis/sweep_table.hpp"

using namespace aif::analysis;
using namespace aif::testing;
namespace fs = std::filesystem;

namespace {

// A results file holding only a /summary (and a scenario text): enough for compare.
std::string summary_file(const std::string& dir, const std::string& name, double ttft_p99_s, double throughput) {
  const std::string path = dir + "/" + name + ".h5";
  ResultsWriter w(path);
  w.write_meta({{"scenario", "name: " + name}});
  w.finish({{"ttft_p99", ttft_p99_s, "s"}, {"throughput", throughput, "req/s"}});
  return path;
}

const MetricDifference& metric(const RunComparison& c, const std::string& name) {
  for (const auto& m : c.metrics)
    if (m.name == name) return m;
  throw std::runtime_error("no metric " + name);
}

}  // namespace

TEST(StudentT, ClosedForms) {
  // df = 1 (Cauchy): F(t) = 1/2 + atan(t) / pi. df = 2: F(t) = 1/2 + t / (2 sqrt(2 + t^2)).
  for (double t : {-3.0, -0.5, 0.0, 0.7, 4.0}) {
    EXPECT_NEAR(student_t_cdf(t, 1), 0.5 + std::atan(t) / M_PI, 1e-12) << t;
    EXPECT_NEAR(student_t_cdf(t, 2), 0.5 + t / (2 * std::sqrt(2 + t * t)), 1e-12) << t;
  }
  EXPECT_THROW(student_t_quantile(1.0, 3), std::invalid_argument);
}

// The two-sided 95 % critical values t_{0.975, df} of the printed table in the NIST/SEMATECH e-Handbook of
// Statistical Methods, section 1.3.6.7.2 "Critical Values of the Student's t Distribution" (column 0.975, three
// decimals, so within 5e-4), at both ends of the range and just past the df = 30 where short tables stop.
TEST(StudentT, QuantileMatchesPublishedTable) {
  const std::pair<double, double> table[] = {{1, 12.706}, {2, 4.303},  {10, 2.228}, {30, 2.042},
                                             {31, 2.040}, {60, 2.000}, {100, 1.984}};
  for (const auto& [df, t] : table) EXPECT_NEAR(student_t_quantile(0.975, df), t, 5e-4) << "df " << df;
  // df = 1 in closed form: the Cauchy quantile tan(pi (p - 1/2)) = tan(0.475 pi) = 12.7062...
  EXPECT_NEAR(student_t_quantile(0.975, 1), std::tan(0.475 * M_PI), 1e-9);
}

// mean_ci95 takes the exact quantile past df = 30 too: the values 1..32 have mean 16.5 and sample variance
// n (n + 1) / 12 = 32 x 33 / 12 = 88, so the half-width is t_{0.975, 31} x sqrt(88 / 32) with t = 2.040 (table
// above); the normal 1.96 would be 4 % short.
TEST(StudentT, MeanIntervalPastThirtyDegreesOfFreedom) {
  std::vector<double> values;
  for (int i = 1; i <= 32; ++i) values.push_back(i);
  const MeanCi ci = mean_ci95(values);
  EXPECT_EQ(ci.n, 32u);
  EXPECT_DOUBLE_EQ(ci.mean, 16.5);
  EXPECT_NEAR(ci.half_width / std::sqrt(88.0 / 32.0), 2.040, 5e-4);
}

TEST(WelchTest, StatisticAgainstAHandComputedValue) {
  // a = 1, 2, 3, 4: mean 2.5, variance 5/3; b = 3, 5, 7: mean 5, variance 4.
  // var_a / n_a = 5/12 = 0.416667, var_b / n_b = 4/3; std_error = sqrt(1.75) = 1.3228757;
  // t = 2.5 / 1.3228757 = 1.8898224; df = 1.75^2 / (0.416667^2 / 3 + 1.333333^2 / 2) = 3.0625 / 0.9467593 = 3.2347188.
  const DifferenceTest r = welch_test({1, 2, 3, 4}, {3, 5, 7});
  ASSERT_TRUE(r.known);
  EXPECT_DOUBLE_EQ(r.difference, 2.5);
  EXPECT_NEAR(r.std_error, 1.3228757, 1e-7);
  EXPECT_NEAR(r.t, 1.8898224, 1e-7);
  EXPECT_NEAR(r.df, 3.2347188, 1e-7);
  EXPECT_GT(r.p_value, 0.05);
  EXPECT_FALSE(r.significant);
  EXPECT_LT(r.ci95_low, 0);
}

TEST(WelchTest, EqualVariancesMatchTheClosedFormForFourDegrees) {
  // a = 1, 2, 3; b = 4, 5, 6: both variances 1, std_error = sqrt(2/3), t = 3 / sqrt(2/3) = 3.6742346, df = 4 exactly.
  // df = 4: F(t) = 1/2 + 3/8 x (1 - x^2 / (12 (1 + x^2/4))) / sqrt(1 + x^2/4) -> p = 2 (1 - F(t)) = 0.0213116.
  const DifferenceTest r = welch_test({1, 2, 3}, {4, 5, 6});
  EXPECT_NEAR(r.df, 4, 1e-12);
  EXPECT_NEAR(r.t, 3.6742346, 1e-7);
  const double x = r.t, f = 0.5 + 3.0 / 8 * x / std::sqrt(1 + x * x / 4) * (1 - x * x / (12 * (1 + x * x / 4)));
  EXPECT_NEAR(r.p_value, 2 * (1 - f), 1e-9);
  EXPECT_NEAR(r.p_value, 0.0213116, 1e-7);
  EXPECT_TRUE(r.significant);
  // 95 % interval: 3 -+ t_{0.975, 4} (2.776, table) x 0.8164966.
  EXPECT_NEAR(r.ci95_low, 3 - 2.776 * 0.8164966, 1e-3);
  EXPECT_NEAR(r.ci95_high, 3 + 2.776 * 0.8164966, 1e-3);
}

TEST(WelchTest, EdgeCases) {
  EXPECT_FALSE(welch_test({1}, {2}).known);  // one run per side: noise unknown
  EXPECT_FALSE(welch_test({}, {2, 3}).known);
  // Identical deterministic values: no spread and no difference -> not significant; a difference -> significant.
  DifferenceTest r = welch_test({5, 5, 5}, {5, 5});
  EXPECT_TRUE(r.known);
  EXPECT_FALSE(r.significant);
  EXPECT_EQ(r.p_value, 1);
  r = welch_test({5, 5, 5}, {6, 6});
  EXPECT_TRUE(r.significant);
  // One side single: the other side's variance for both. a = 1, 2, 3 (variance 1), b = 10: se = sqrt(1 + 1/3).
  r = welch_test({1, 2, 3}, {10});
  EXPECT_NEAR(r.std_error, std::sqrt(4.0 / 3), 1e-12);
  EXPECT_DOUBLE_EQ(r.df, 2);
}

TEST(WelchTest, KnownNoise) {
  // variance 4 with 9 degrees of freedom, one run per side: se = sqrt(8) = 2.8284; t_{0.975, 9} = 2.262 (table), so
  // a difference must exceed 2.262 x 2.8284 = 6.398.
  DifferenceTest r = difference_test_known_noise({10}, {16}, 4, 9);
  EXPECT_NEAR(r.std_error, std::sqrt(8.0), 1e-12);
  EXPECT_FALSE(r.significant);
  r = difference_test_known_noise({10}, {16.5}, 4, 9);
  EXPECT_TRUE(r.significant);
  EXPECT_FALSE(difference_test_known_noise({10}, {16.5}, 4, 0).known);
}

TEST(CompareRuns, ShiftedReplicasAreSignificantIdenticalOnesAreNot) {
  const std::string dir = scratch_dir("compare_runs");
  std::vector<std::string> a, b;
  const double ttft[] = {0.100, 0.102, 0.098};
  const double rate[] = {5.0, 5.1, 4.9};
  for (int s = 0; s < 3; ++s) {
    a.push_back(summary_file(dir, "a" + std::to_string(s), ttft[s], rate[s]));
    b.push_back(summary_file(dir, "b" + std::to_string(s), ttft[s] + 0.02, rate[s]));  // TTFT p99 20 ms slower
  }
  RunComparison c = compare_runs(a, b);
  ASSERT_EQ(c.metrics.size(), 2u);
  const MetricDifference& t = metric(c, "ttft_p99");
  // Both sides variance 0.002^2 = 4e-6 over 3 runs: se = sqrt(8e-6 / 3) = 0.0016330, t = 0.02 / se = 12.247, df 4.
  EXPECT_NEAR(t.test.difference, 0.02, 1e-12);
  EXPECT_NEAR(t.test.t, 12.247449, 1e-5);
  EXPECT_NEAR(t.relative, 0.2, 1e-12);
  EXPECT_EQ(t.verdict, "significant");
  EXPECT_EQ(metric(c, "throughput").verdict, "not significant");
  EXPECT_EQ(metric(c, "throughput").test.difference, 0);
  // The same set on both sides: nothing differs.
  c = compare_runs(a, a);
  for (const auto& m : c.metrics) EXPECT_EQ(m.verdict, "not significant") << m.name;
  // One file per side: the noise is unknown, the difference still shown.
  c = compare_runs({a[0]}, {b[0]});
  EXPECT_EQ(metric(c, "ttft_p99").verdict, "noise unknown (one run per side)");
  EXPECT_NEAR(metric(c, "ttft_p99").test.difference, 0.02, 1e-12);
  const std::string text = format_comparison(c);
  EXPECT_NE(text.find("noise unknown (one run per side)"), std::string::npos) << text;
}

TEST(CompareRuns, NoiseFromASweepOverSeeds) {
  const std::string dir = scratch_dir("compare_noise");
  fs::create_directories(dir + "/noise");
  SweepTable t;
  t.ids = {"p0000-s0", "p0000-s1", "p0000-s2", "p0000-s3"};
  t.statuses = {"ok", "ok", "ok", "failed"};
  t.seeds = {1, 2, 3, 4};
  t.axes = {{"services[0].replicas", {"2", "2", "2", "2"}}};
  t.metrics = {"ttft_p99"};
  t.units = {{"ttft_p99", "s"}};
  t.values = {{"ttft_p99", {0.100, 0.104, 0.096, std::nan("")}}};  // variance 1.6e-5 over 3 runs (df 2)
  write_sweep_table(dir + "/noise/sweep.h5", t);
  const NoiseEstimate noise = noise_from_sweep(dir + "/noise");
  EXPECT_EQ(noise.runs, 3u);
  EXPECT_NEAR(noise.variance_df.at("ttft_p99").first, 1.6e-5, 1e-15);
  EXPECT_EQ(noise.variance_df.at("ttft_p99").second, 2);
  // se = sqrt(2 x 1.6e-5) = 0.0056569; t_{0.975, 2} = 4.303: a 20 ms shift (t = 3.54) is within the noise, 30 ms
  // (t = 5.30) is not.
  const std::string a = summary_file(dir, "a", 0.100, 5), b = summary_file(dir, "b", 0.120, 5),
                    c = summary_file(dir, "c", 0.130, 5);
  EXPECT_EQ(metric(compare_runs({a}, {b}, &noise), "ttft_p99").verdict, "not significant");
  EXPECT_EQ(metric(compare_runs({a}, {c}, &noise), "ttft_p99").verdict, "significant");
  EXPECT_EQ(metric(compare_runs({a}, {c}, &noise), "throughput").verdict, "noise unknown (not in the noise sweep)");
  // Several combinations are not a noise sweep.
  t.axes = {{"services[0].replicas", {"1", "2", "2", "2"}}};
  write_sweep_table(dir + "/noise/sweep.h5", t);
  EXPECT_THROW(noise_from_sweep(dir + "/noise"), ResultsError);
}

TEST(CompareCli, TableJsonAndBadInput) {
  const std::string dir = scratch_dir("compare_cli");
  const std::string a0 = summary_file(dir, "a0", 0.100, 5), a1 = summary_file(dir, "a1", 0.102, 5.1),
                    a2 = summary_file(dir, "a2", 0.098, 4.9);
  const std::string b0 = summary_file(dir, "b0", 0.120, 5), b1 = summary_file(dir, "b1", 0.122, 5.1),
                    b2 = summary_file(dir, "b2", 0.118, 4.9);
  auto r = run_aifsim("compare " + a0 + " " + a1 + " " + a2 + " --vs " + b0 + " " + b1 + " " + b2 + " --json " + dir +
                      "/c.json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Welch t-test over 3 A and 3 B runs"), std::string::npos) << r.output;
  std::ifstream in(dir + "/c.json");
  const nlohmann::json j = nlohmann::json::parse(in);
  ASSERT_EQ(j["metrics"].size(), 2u);
  EXPECT_EQ(j["metrics"][0]["name"], "ttft_p99");
  EXPECT_EQ(j["metrics"][0]["significant"], true);
  EXPECT_EQ(j["metrics"][1]["verdict"], "not significant");
  EXPECT_FALSE(fs::exists(dir + "/c.json.tmp"));

  r = run_aifsim("compare " + a0 + " " + b0);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("noise unknown (one run per side)"), std::string::npos) << r.output;

  // A foreign file and a missing one: exit 2, one message naming the file.
  const std::string foreign = dir + "/foreign.h5";
  std::ofstream(foreign) << "not an HDF5 file\n";
  r = run_aifsim("compare " + a0 + " " + foreign);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("error: " + foreign + ": "), std::string::npos) << r.output;
  r = run_aifsim("compare " + dir + "/missing.h5 " + a0);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(dir + "/missing.h5"), std::string::npos) << r.output;
  r = run_aifsim("compare " + a0);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  r = run_aifsim("compare " + a0 + " " + b0 + " --noise " + dir);  // not a sweep folder
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("not a sweep folder"), std::string::npos) << r.output;
}
