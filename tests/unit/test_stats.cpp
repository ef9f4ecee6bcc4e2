// Percentiles (NumPy 'linear' definition), the streaming QuantileSketch, and the request summary
// computed from a hand-built results file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>

#include "../support/test_seed.hpp"
#include "aif/analysis/results.hpp"
#include "aif/analysis/stats.hpp"
#include "aif/analysis/summary.hpp"

namespace fs = std::filesystem;
using namespace aif::analysis;

namespace {

std::vector<double> one_to_hundred() {
  std::vector<double> values(100);
  std::iota(values.begin(), values.end(), 1.0);
  return values;
}

std::string temp_path(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("aif_test_stats_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

}  // namespace

TEST(Percentile, OneToHundredByHand) {
  // n = 100, h = 99 p / 100: p50 -> h = 49.5 -> 50 + 0.5 * 1; p90 -> h = 89.1 -> 90 + 0.1; p99 -> 99 + 0.01.
  const auto values = one_to_hundred();
  EXPECT_DOUBLE_EQ(percentile(values, 50), 50.5);
  EXPECT_DOUBLE_EQ(percentile(values, 90), 90.1);
  EXPECT_DOUBLE_EQ(percentile(values, 99), 99.01);
  EXPECT_DOUBLE_EQ(percentile(values, 0), 1.0);
  EXPECT_DOUBLE_EQ(percentile(values, 100), 100.0);
}

TEST(Percentile, MatchesNumPyOutputs) {
  // np.percentile([3,1,4,1,5,9,2,6], [0,10,25,50,75,95,100]) with NumPy 1.24.2:
  // [1., 1., 1.75, 3.5, 5.25, 7.95, 9.]
  const std::vector<double> a = {3, 1, 4, 1, 5, 9, 2, 6};
  const double ps[] = {0, 10, 25, 50, 75, 95, 100};
  const double numpy_a[] = {1.0, 1.0, 1.75, 3.5, 5.25, 7.95, 9.0};
  for (size_t i = 0; i < std::size(ps); ++i) {
    EXPECT_NEAR(percentile(a, ps[i]), numpy_a[i], 1e-12) << "p" << ps[i];
  }
  // np.percentile([0.25,10.0,3.5,7.75,1e-3,42.0,0.5], [1,33.3,50,66.6,99.9]) printed with repr:
  const std::vector<double> b = {0.25, 10.0, 3.5, 7.75, 1e-3, 42.0, 0.5};
  const double qs[] = {1, 33.3, 50, 66.6, 99.9};
  const double numpy_b[] = {0.01594, 0.49949999999999994, 3.5, 7.732999999999998, 41.80800000000002};
  for (size_t i = 0; i < std::size(qs); ++i) {
    EXPECT_NEAR(percentile(b, qs[i]), numpy_b[i], 1e-12 * std::max(1.0, numpy_b[i])) << "p" << qs[i];
  }
}

TEST(Percentile, EdgeCases) {
  EXPECT_TRUE(std::isnan(percentile({}, 50)));
  EXPECT_DOUBLE_EQ(percentile({7.0}, 0), 7.0);
  EXPECT_DOUBLE_EQ(percentile({7.0}, 99), 7.0);
  EXPECT_THROW(percentile({1.0, 2.0}, -0.1), std::invalid_argument);
  EXPECT_THROW(percentile({1.0, 2.0}, 100.5), std::invalid_argument);
  EXPECT_THROW(percentile({1.0, 2.0}, std::nan("")), std::invalid_argument);
  EXPECT_THROW(percentile({1.0, std::nan("")}, 50), std::invalid_argument);
}

TEST(LatencyStats, OneToHundred) {
  const LatencyStats s = latency_stats(one_to_hundred());
  EXPECT_EQ(s.count, 100u);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);  // (1 + 100) / 2
  EXPECT_DOUBLE_EQ(s.p50, 50.5);
  EXPECT_DOUBLE_EQ(s.p90, 90.1);
  EXPECT_DOUBLE_EQ(s.p99, 99.01);
  EXPECT_DOUBLE_EQ(s.max, 100.0);
  const LatencyStats empty = latency_stats({});
  EXPECT_EQ(empty.count, 0u);
  EXPECT_TRUE(std::isnan(empty.mean) && std::isnan(empty.p99) && std::isnan(empty.max));
}

TEST(QuantileSketch, WithinStatedBoundOnLognormal) {
  AIF_TEST_SEED(seed, 20240601);
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> latency(std::log(0.2), 1.0);  // median 0.2 s, long tail
  std::vector<double> values(100000);
  QuantileSketch sketch;
  for (auto& v : values) {
    v = latency(rng);
    sketch.add(v);
  }
  const double bound = QuantileSketch::relative_error_bound();
  EXPECT_NEAR(bound, 0.0005, 0.00001) << "sqrt(1.001) - 1 = 0.049988%";
  for (double p : {0.0, 1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    const double exact = percentile(values, p);
    const double estimate = sketch.quantile(p);
    // 1e-12 of slack for the rounding of log() at bin edges.
    EXPECT_LE(std::fabs(estimate - exact), (bound + 1e-12) * exact)
        << "p" << p << ": exact " << exact << " sketch " << estimate << " rel err " << (estimate - exact) / exact;
  }
  EXPECT_EQ(sketch.count(), values.size());
  const double exact_mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  EXPECT_NEAR(sketch.mean(), exact_mean, 1e-12 * exact_mean);
  EXPECT_EQ(sketch.max(), *std::max_element(values.begin(), values.end()));
  EXPECT_EQ(sketch.min(), *std::min_element(values.begin(), values.end()));
}

TEST(QuantileSketch, MergeEqualsOneSketchOfEverything) {
  AIF_TEST_SEED(seed, 7);
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> service(10.0);
  QuantileSketch all;
  QuantileSketch first;
  QuantileSketch second;
  for (int i = 0; i < 5000; ++i) {
    const double v = service(rng);
    all.add(v);
    (i % 3 == 0 ? first : second).add(v);
  }
  first.merge(second);
  EXPECT_EQ(first.count(), all.count());
  EXPECT_EQ(first.max(), all.max());
  EXPECT_EQ(first.min(), all.min());
  EXPECT_NEAR(first.mean(), all.mean(), 1e-12 * all.mean());
  for (double p : {5.0, 50.0, 95.0, 99.0}) EXPECT_DOUBLE_EQ(first.quantile(p), all.quantile(p)) << "p" << p;
}

TEST(QuantileSketch, OutOfRangeValuesAndEmpty) {
  QuantileSketch sketch;
  EXPECT_TRUE(std::isnan(sketch.quantile(50)));
  EXPECT_TRUE(std::isnan(sketch.mean()));
  EXPECT_EQ(sketch.count(), 0u);
  sketch.add(0.0);  // underflow bin
  sketch.add(1.0);
  sketch.add(2e6);  // overflow bin
  EXPECT_EQ(sketch.quantile(0), 0.0);
  EXPECT_EQ(sketch.quantile(100), 2e6);
  EXPECT_NEAR(sketch.quantile(50), 1.0, QuantileSketch::relative_error_bound());
  EXPECT_DOUBLE_EQ(sketch.mean(), (0.0 + 1.0 + 2e6) / 3);
  EXPECT_THROW(sketch.add(std::nan("")), std::invalid_argument);
  EXPECT_THROW(sketch.quantile(101), std::invalid_argument);
}

// Six requests whose metrics are worked out by hand (times in s):
//  id arrival first finish gen prompt outcome      TTFT  TPOT             E2E
//  1  0       0.5   2.5    5   10     FINISHED     0.5   2.0/4  = 0.5     2.5
//  2  1       1.2   1.2    1   20     FINISHED     0.2   (gen 1: none)    0.2
//  3  2       3     7      9   30     FINISHED     1.0   4.0/8  = 0.5     5.0
//  4  3       3.1   4.1    11  40     FINISHED     0.1   1.0/10 = 0.1     1.1
//  5  4       5     NaN    3   50     UNFINISHED
//  6  5       NaN   NaN    0   60     REJECTED
TEST(SummarizeRequests, HandBuiltFile) {
  const std::string path = temp_path("summary.h5");
  {
    ResultsWriter writer(path, 2);  // small chunks: the summary streams over several
    auto add = [&](int64_t id, double arrival, double first, double finish, int gen, int prompt, Outcome outcome) {
      RequestRecord r;
      r.id = id;
      r.arrival_s = arrival;
      r.first_token_s = first;
      r.finish_s = finish;
      r.generated_tokens = gen;
      r.output_tokens = gen;
      r.prompt_tokens = prompt;
      r.outcome = outcome;
      writer.add_request(r);
    };
    const double nan = NOT_HAPPENED;
    add(1, 0, 0.5, 2.5, 5, 10, Outcome::FINISHED);
    add(2, 1, 1.2, 1.2, 1, 20, Outcome::FINISHED);
    add(3, 2, 3, 7, 9, 30, Outcome::FINISHED);
    add(4, 3, 3.1, 4.1, 11, 40, Outcome::FINISHED);
    add(5, 4, 5, nan, 3, 50, Outcome::UNFINISHED);
    add(6, 5, nan, nan, 0, 60, Outcome::REJECTED);
    writer.finish({});
  }
  SloTargets slo;
  slo.ttft_s = 0.6;
  slo.tpot_s = 0.5;
  const RequestSummary s = summarize_requests(ResultsReader(path), slo);
  EXPECT_EQ(s.requests, 6u);
  EXPECT_EQ(s.finished, 4u);
  EXPECT_EQ(s.unfinished, 1u);
  EXPECT_EQ(s.rejected, 1u);
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_DOUBLE_EQ(s.duration_s, 7.0);  // last finish 7 - first arrival 0
  EXPECT_DOUBLE_EQ(s.throughput_rps, 4.0 / 7.0);
  EXPECT_DOUBLE_EQ(s.output_tokens_per_s, 26.0 / 7.0);  // 5 + 1 + 9 + 11
  EXPECT_DOUBLE_EQ(s.input_tokens_per_s, 100.0 / 7.0);  // 10 + 20 + 30 + 40

  // TTFT sorted [0.1, 0.2, 0.5, 1.0]: p50 h=1.5 -> 0.35; p90 h=2.7 -> 0.85; p99 h=2.97 -> 0.985.
  EXPECT_EQ(s.ttft.count, 4u);
  EXPECT_NEAR(s.ttft.mean, 0.45, 1e-12);
  EXPECT_NEAR(s.ttft.p50, 0.35, 1e-12);
  EXPECT_NEAR(s.ttft.p90, 0.85, 1e-12);
  EXPECT_NEAR(s.ttft.p99, 0.985, 1e-12);
  EXPECT_NEAR(s.ttft.max, 1.0, 1e-12);
  // TPOT sorted [0.1, 0.5, 0.5].
  EXPECT_EQ(s.tpot.count, 3u);
  EXPECT_NEAR(s.tpot.mean, 1.1 / 3, 1e-12);
  EXPECT_NEAR(s.tpot.p50, 0.5, 1e-12);
  EXPECT_NEAR(s.tpot.max, 0.5, 1e-12);
  // E2E sorted [0.2, 1.1, 2.5, 5.0]: p50 -> 1.8; p90 -> 4.25; p99 -> 4.925.
  EXPECT_EQ(s.e2e.count, 4u);
  EXPECT_NEAR(s.e2e.mean, 2.2, 1e-12);
  EXPECT_NEAR(s.e2e.p50, 1.8, 1e-12);
  EXPECT_NEAR(s.e2e.p90, 4.25, 1e-12);
  EXPECT_NEAR(s.e2e.p99, 4.925, 1e-12);
  EXPECT_NEAR(s.e2e.max, 5.0, 1e-12);
  // SLO (TTFT <= 0.6, TPOT <= 0.5): requests 1, 2, 4 attain; 3 misses TTFT; 5 and 6 did not finish.
  EXPECT_DOUBLE_EQ(s.slo_attainment, 3.0 / 6.0);
  EXPECT_TRUE(std::isnan(summarize_requests(ResultsReader(path)).slo_attainment)) << "no targets, no attainment";
  fs::remove(path);
}

TEST(SummarizeRequests, EmptyRun) {
  const RequestSummary s = summarize_requests(std::vector<RequestRecord>{});
  EXPECT_EQ(s.requests, 0u);
  EXPECT_EQ(s.duration_s, 0.0);
  EXPECT_EQ(s.throughput_rps, 0.0);
  EXPECT_TRUE(std::isnan(s.ttft.p50));
}

TEST(FormatSummaryTable, AlignedColumns) {
  const std::string table = format_summary_table({{"requests", 1000, "1"},
                                                  {"ttft_p99", 0.123456789, "s"},
                                                  {"throughput", 12345678.9, "req/s"},
                                                  {"slo_attainment", std::nan(""), ""}});
  const std::string expected =
      "metric                value  unit\n"
      "requests               1000  1\n"
      "ttft_p99           0.123457  s\n"
      "throughput      1.23457e+07  req/s\n"
      "slo_attainment          nan\n";
  EXPECT_EQ(table, expected) << table;
  // The entries from a summary name every metric once.
  const auto entries = summary_entries(summarize_requests(std::vector<RequestRecord>{}));
  EXPECT_EQ(entries.size(), 9u + 15u);
}
