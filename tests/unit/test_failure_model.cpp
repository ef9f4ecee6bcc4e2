// models/failure: time-to-failure processes, repair times, the repair crew and the ETTR closed form, against closed
// forms and hand numbers.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <stdexcept>
#include <vector>

#include "aif/models/failure.hpp"

using namespace aif::models;

namespace {

FailureClass exponential(double mtbf) {
  FailureClass c;
  c.name = "gpu";
  c.mtbf_s = mtbf;
  return c;
}

}  // namespace

// The defaults reproduce the Llama 3 snapshot they come from: 16,384 GPUs (2,048 servers, 256 edge switches, 256
// racks of 8 servers) over 54 days expect 419 interruptions from the table's classes, plus the assumed rack classes.
TEST(FailureModel, DefaultsExpectTheLlama3CountOver54Days) {
  const double span = 54 * 86400.0;
  const std::map<std::string, double> units{{"gpu", 16384}, {"link", 16384}, {"host", 2048}, {"software", 2048},
                                            {"switch", 256},  {"pdu", 256},    {"cooling", 256}};
  double table = 0, racks = 0;
  for (const FailureClass& c : default_failure_classes()) {
    check_failure_class(c);
    const double expected = units.at(c.name) * span / c.mtbf_s;
    std::printf("%-8s MTBF %12.0f h per unit: %6.1f expected in 54 days\n", c.name.c_str(), c.mtbf_s / 3600, expected);
    (c.name == "pdu" || c.name == "cooling" ? racks : table) += expected;
  }
  std::printf("table classes %.2f (Llama 3: 419), rack classes %.2f (assumed)\n", table, racks);
  EXPECT_NEAR(table, 419, 1e-9);
  // 256 racks over 54 days at one failure per 10 years (PDU) and 20 years (cooling): 256 x 54 / 3650 x 1.5.
  EXPECT_NEAR(racks, 256 * 54.0 / 3650 * 1.5, 1e-9);
}

// N units of rate 1/M over T: Poisson of mean N T / M; 99.9 % bounds mean +- 3.29 sqrt(mean). Inter-arrival mean
// M / N within 4 standard errors.
TEST(FailureModel, ExponentialCountWithinPoissonBounds) {
  const double mtbf = 1000, t = 5000;
  const int units = 200;  // mean 1,000
  for (uint64_t seed : {1u, 2u}) {
    FailureProcess p(exponential(mtbf), units, seed, 7);
    int count = 0;
    std::vector<int> per_unit(units, 0);
    double last = 0, gaps = 0;
    while (p.peek_time() < t) {
      const FailureEvent e = p.next();
      ASSERT_GE(e.time_s, last);
      gaps += e.time_s - last;
      last = e.time_s;
      ++per_unit[static_cast<size_t>(e.unit)];
      ++count;
    }
    const double mean = units * t / mtbf;
    std::printf("seed %llu: %d failures, by hand %.0f +- %.1f; mean gap %.4f s (by hand %.4f)\n",
                static_cast<unsigned long long>(seed), count, mean, 3.29 * std::sqrt(mean), gaps / count, mtbf / units);
    EXPECT_NEAR(count, mean, 3.29 * std::sqrt(mean));
    EXPECT_NEAR(gaps / count, mtbf / units, 4 * (mtbf / units) / std::sqrt(count));
    int max = 0;
    for (int n : per_unit) max = std::max(max, n);
    EXPECT_LE(max, 20);  // 5 expected per unit: a bias to one unit would show
  }
}

// Weibull renewal times of one unit: mean M, variance M^2 (G(1 + 2/k) / G(1 + 1/k)^2 - 1).
TEST(FailureModel, WeibullMeanIsTheMtbf) {
  for (double k : {0.7, 1.5}) {
    FailureClass c = exponential(3600);
    c.distribution = FailureDistribution::WEIBULL;
    c.weibull_shape = k;
    FailureProcess p(c, 1, 3, 1);
    const int n = 20000;
    double last = 0, sum = 0;
    for (int i = 0; i < n; ++i) {
      const FailureEvent e = p.next();
      sum += e.time_s - last;
      last = e.time_s;
    }
    const double cv2 = std::tgamma(1 + 2 / k) / std::pow(std::tgamma(1 + 1 / k), 2) - 1;
    const double se = 3600 * std::sqrt(cv2 / n);
    std::printf("shape %.1f: mean %.1f s, by hand 3600 +- %.1f\n", k, sum / n, se);
    EXPECT_NEAR(sum / n, 3600, 4 * se);
  }
}

TEST(FailureModel, DeterministicPerSeedAndStream) {
  FailureProcess a(exponential(100), 10, 5, 1), b(exponential(100), 10, 5, 1), c(exponential(100), 10, 5, 2);
  bool differs = false;
  for (int i = 0; i < 50; ++i) {
    const FailureEvent x = a.next(), y = b.next(), z = c.next();
    EXPECT_EQ(x.time_s, y.time_s);
    EXPECT_EQ(x.unit, y.unit);
    EXPECT_EQ(x.cause, y.cause);
    differs |= x.time_s != z.time_s;
  }
  EXPECT_TRUE(differs);
  FailureProcess never(exponential(0), 10, 1, 1);
  EXPECT_TRUE(std::isinf(never.peek_time()));
}

// Five repairs ready at 0, 1, 2, 3, 4 s of 10 s each, two technicians: FIFO by hand.
TEST(FailureModel, RepairCrewQueuesFirstComeFirstServed) {
  RepairCrew crew(2);
  const std::vector<std::pair<double, double>> by_hand{{0, 10}, {1, 11}, {10, 20}, {11, 21}, {20, 30}};
  for (int i = 0; i < 5; ++i) {
    const auto got = crew.schedule(i, 10);
    EXPECT_DOUBLE_EQ(got.first, by_hand[static_cast<size_t>(i)].first);
    EXPECT_DOUBLE_EQ(got.second, by_hand[static_cast<size_t>(i)].second);
  }
  EXPECT_THROW(crew.schedule(3, 1), std::invalid_argument);  // ready times must not go back
  RepairCrew unlimited(0);
  for (int i = 0; i < 5; ++i) EXPECT_DOUBLE_EQ(unlimited.schedule(i, 10).first, i);
}

TEST(FailureModel, RepairTimesAreLognormalAroundTheMedian) {
  FailureClass c = exponential(1);
  c.repair_median_s = 4 * 3600;
  c.repair_sigma = 0;
  EXPECT_DOUBLE_EQ(sample_repair_s(c, 1, 1, 7), 4 * 3600);
  c.repair_sigma = 0.8;
  std::vector<double> v;
  for (uint64_t i = 0; i < 20001; ++i) v.push_back(sample_repair_s(c, 1, 1, i));
  std::sort(v.begin(), v.end());
  std::printf("median of 20,001 repair times %.0f s (by hand %.0f s)\n", v[10000], c.repair_median_s);
  EXPECT_NEAR(v[10000], c.repair_median_s, 0.02 * c.repair_median_s);
}

// ETTR = c / ((e^((c + w) / M) - 1)(M + o)); with M -> inf it is c / (c + w); Young's interval maximises it.
TEST(FailureModel, EttrClosedForm) {
  EXPECT_NEAR(expected_ettr(600, 30, 30, 1e300), 600.0 / 630, 1e-12);
  const double by_hand = 600 / ((std::exp(630.0 / 3600) - 1) * 3630);  // 0.86431
  EXPECT_NEAR(expected_ettr(600, 30, 30, 3600), by_hand, 1e-12);
  double best = 0, best_c = 0;
  for (double c = 10; c < 5000; c += 1) {
    const double e = expected_ettr(c, 60, 0, 11000);
    if (e > best) best = e, best_c = c;
  }
  std::printf("best interval %.0f s, Young %.0f s\n", best_c, optimal_checkpoint_interval_s(60, 11000));
  EXPECT_NEAR(best_c, optimal_checkpoint_interval_s(60, 11000), 0.05 * best_c);
  EXPECT_THROW(expected_ettr(0, 1, 1, 1), std::invalid_argument);
  FailureClass bad = exponential(-1);
  EXPECT_THROW(check_failure_class(bad), std::invalid_argument);
}
