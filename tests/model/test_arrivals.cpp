// Arrival processes and samplers against closed forms.
//
// Statistical tolerance: every check is a bound that a correct implementation passes with probability >= 99.9 %
// (z = 3.29 for one normal-approximated statistic) or, where written, 4 standard errors (99.994 %). Seeds are fixed,
// so the tests are deterministic; the bounds say how far a result may be from its closed form, and a wrong
// distribution (wrong shape, rate, interpolation) lands many standard errors away with these sample sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "aif/models/arrivals.hpp"

namespace am = aif::models;

namespace {

constexpr double Z999 = 3.29;  // two-sided 99.9 % normal quantile
constexpr uint64_t SEED = 20231116;

std::vector<am::Arrival> drain(am::ArrivalProcess& p) {
  std::vector<am::Arrival> out;
  while (auto a = p.next()) out.push_back(*a);
  return out;
}

struct Moments {
  double mean = 0, variance = 0;
};

Moments moments(const std::vector<double>& x) {
  Moments m;
  for (double v : x) m.mean += v;
  m.mean /= static_cast<double>(x.size());
  for (double v : x) m.variance += (v - m.mean) * (v - m.mean);
  m.variance /= static_cast<double>(x.size() - 1);
  return m;
}

std::vector<double> gaps(const std::vector<am::Arrival>& a) {
  std::vector<double> g;
  g.reserve(a.size());
  double previous = 0;
  for (const am::Arrival& x : a) {
    g.push_back(x.time_s - previous);
    previous = x.time_s;
  }
  return g;
}

// Standard error of the sample squared CV of gamma(k) data, by the delta method:
// n Var(s^2 / m^2) -> 2 (k + 1) / k^3 (from the gamma's central moments mu3 = 2k, mu4 = 3k^2 + 6k at scale 1).
double scv_standard_error(double k, double n) { return std::sqrt(2 * (k + 1) / (k * k * k) / n); }

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

const am::LengthDistribution ONE = am::LengthDistribution::fixed(1);

}  // namespace

// ---------------------------------------------------------------------------------------------------------------------
// Samplers

TEST(RandomStream, UniformHasTheMomentsOfU01) {
  am::RandomStream rng(SEED, 0);
  const int n = 200000;
  std::vector<double> x(n);
  for (double& v : x) {
    v = rng.uniform();
    ASSERT_GE(v, 0.0);
    ASSERT_LT(v, 1.0);
  }
  const Moments m = moments(x);
  const double se = std::sqrt(1.0 / 12 / n);
  std::printf("uniform mean %.5f (expected 0.5 +- %.5f), variance %.5f (expected %.5f)\n", m.mean, Z999 * se,
              m.variance, 1.0 / 12);
  EXPECT_NEAR(m.mean, 0.5, Z999 * se);
  // Var of the sample variance of U(0,1): (mu4 - sigma^4)/n = (1/80 - 1/144)/n.
  EXPECT_NEAR(m.variance, 1.0 / 12, Z999 * std::sqrt((1.0 / 80 - 1.0 / 144) / n));
}

TEST(RandomStream, UniformIntIsFlatAndCoversTheEnds) {
  am::RandomStream rng(SEED, 1);
  const int lo = -3, hi = 6, n = 100000;  // 10 values
  std::vector<int> count(10, 0);
  for (int i = 0; i < n; ++i) {
    const int64_t v = rng.uniform_int(lo, hi);
    ASSERT_GE(v, lo);
    ASSERT_LE(v, hi);
    ++count[static_cast<size_t>(v - lo)];
  }
  // Pearson chi-square with 9 degrees of freedom: the 99.9 % quantile is 27.88.
  double chi2 = 0;
  for (int c : count) chi2 += (c - n / 10.0) * (c - n / 10.0) / (n / 10.0);
  std::printf("uniform_int chi2 %.2f (99.9%% bound 27.88 for 9 dof)\n", chi2);
  EXPECT_LT(chi2, 27.88);
  EXPECT_EQ(rng.uniform_int(7, 7), 7);
  EXPECT_THROW(rng.uniform_int(2, 1), std::invalid_argument);
}

TEST(RandomStream, ExponentialMeanAndTail) {
  am::RandomStream rng(SEED, 2);
  const int n = 200000;
  const double rate = 4;
  std::vector<double> x(n);
  int above_mean = 0;
  for (double& v : x) {
    v = rng.exponential(rate);
    ASSERT_GT(v, 0.0);
    above_mean += v > 1 / rate;
  }
  const Moments m = moments(x);
  const double p = std::exp(-1.0);  // P(X > mean)
  std::printf("exponential mean %.5f (expected %.5f), variance %.5f (expected %.5f), P(X>mean) %.4f (expected %.4f)\n",
              m.mean, 1 / rate, m.variance, 1 / (rate * rate), above_mean / double(n), p);
  EXPECT_NEAR(m.mean, 1 / rate, Z999 * (1 / rate) / std::sqrt(n));
  EXPECT_NEAR(above_mean / double(n), p, Z999 * std::sqrt(p * (1 - p) / n));
  // Sample variance of exponential data: n Var(s^2) -> mu4 - sigma^4 = 9/rate^4 - 1/rate^4.
  EXPECT_NEAR(m.variance, 1 / (rate * rate), Z999 * std::sqrt(8 / std::pow(rate, 4) / n));
}

TEST(RandomStream, NormalMomentsAndCdf) {
  am::RandomStream rng(SEED, 3);
  const int n = 200000;
  std::vector<double> x(n);
  int below_one = 0;
  double fourth = 0;
  for (double& v : x) {
    v = rng.standard_normal();
    below_one += v < 1;
    fourth += v * v * v * v;
  }
  const Moments m = moments(x);
  fourth /= n;
  const double p = normal_cdf(1);
  std::printf("normal mean %.5f, variance %.5f, E[Z^4] %.4f (expected 3), P(Z<1) %.4f (expected %.4f)\n", m.mean,
              m.variance, fourth, below_one / double(n), p);
  EXPECT_NEAR(m.mean, 0, Z999 / std::sqrt(n));
  EXPECT_NEAR(m.variance, 1, Z999 * std::sqrt(2.0 / n));      // n Var(s^2) -> 2 sigma^4
  EXPECT_NEAR(fourth, 3, Z999 * std::sqrt((105.0 - 9) / n));  // Var(Z^4) = E[Z^8] - 9 = 96
  EXPECT_NEAR(below_one / double(n), p, Z999 * std::sqrt(p * (1 - p) / n));
}

TEST(RandomStream, GammaMomentsForShapesBelowAndAboveOne) {
  for (const double k : {0.25, 1.0, 4.0}) {
    am::RandomStream rng(SEED, 4);
    const int n = 200000;
    const double theta = 2.5;
    std::vector<double> x(n);
    for (double& v : x) {
      v = rng.gamma(k, theta);
      ASSERT_GE(v, 0.0);
    }
    const Moments m = moments(x);
    const double mean = k * theta, variance = k * theta * theta;
    // Var of the sample variance: (mu4 - sigma^4)/n with mu4 = (3k^2 + 6k) theta^4.
    const double se_var = std::sqrt((3 * k * k + 6 * k - k * k) * std::pow(theta, 4) / n);
    std::printf("gamma k=%.2f theta=%.1f: mean %.4f (expected %.4f), variance %.4f (expected %.4f +- %.4f)\n", k, theta,
                m.mean, mean, m.variance, variance, Z999 * se_var);
    EXPECT_NEAR(m.mean, mean, Z999 * std::sqrt(variance / n)) << "k=" << k;
    EXPECT_NEAR(m.variance, variance, Z999 * se_var) << "k=" << k;
  }
  am::RandomStream rng(SEED, 4);
  EXPECT_THROW(rng.gamma(0, 1), std::invalid_argument);
  EXPECT_THROW(rng.gamma(1, -1), std::invalid_argument);
}

// ---------------------------------------------------------------------------------------------------------------------
// Length distributions

TEST(LengthDistribution, FixedAndUniform) {
  am::RandomStream rng(SEED, 5);
  const am::LengthDistribution fixed = am::LengthDistribution::fixed(128);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(fixed.sample(rng), 128);
  EXPECT_EQ(am::LengthDistribution().sample(rng), 1);  // default: one token

  const am::LengthDistribution uni = am::LengthDistribution::uniform(10, 20);
  const int n = 110000;
  std::vector<int> count(11, 0);
  for (int i = 0; i < n; ++i) {
    const int32_t v = uni.sample(rng);
    ASSERT_GE(v, 10);
    ASSERT_LE(v, 20);
    ++count[static_cast<size_t>(v - 10)];
  }
  for (int c : count) EXPECT_NEAR(c, n / 11.0, Z999 * std::sqrt(n / 11.0));  // both ends are reached as often

  EXPECT_THROW(am::LengthDistribution::fixed(0), std::invalid_argument);
  EXPECT_THROW(am::LengthDistribution::uniform(0, 5), std::invalid_argument);
  EXPECT_THROW(am::LengthDistribution::uniform(6, 5), std::invalid_argument);
  EXPECT_THROW(am::LengthDistribution::lognormal(0, 1, 1, 0), std::invalid_argument);
  EXPECT_THROW(am::LengthDistribution::lognormal(100, -1, 1, 0), std::invalid_argument);
}

TEST(LengthDistribution, LognormalMedianAndLogMoments) {
  am::RandomStream rng(SEED, 6);
  const double median = 500, sigma = 1;
  const am::LengthDistribution d = am::LengthDistribution::lognormal(median, sigma, 1, 0);  // max 0: no upper clamp
  const int n = 200000;
  std::vector<double> x(n), logs(n);
  for (int i = 0; i < n; ++i) {
    x[static_cast<size_t>(i)] = d.sample(rng);
    logs[static_cast<size_t>(i)] = std::log(x[static_cast<size_t>(i)]);
  }
  std::nth_element(x.begin(), x.begin() + n / 2, x.end());
  const double sample_median = x[n / 2];
  // Sample median SE = 1 / (2 f(median) sqrt(n)), f(median) = 1 / (median sigma sqrt(2 pi)); +0.5 for the rounding.
  const double se = median * sigma * std::sqrt(2 * M_PI) / (2 * std::sqrt(double(n)));
  std::printf("lognormal median %.1f (expected %.1f +- %.1f)\n", sample_median, median, 4 * se + 0.5);
  EXPECT_NEAR(sample_median, median, 4 * se + 0.5);
  const Moments lm = moments(logs);
  // Rounding to integers moves log(x) by at most 0.5/x, negligible here (x < 20 has probability 0.1 %).
  std::printf("mean of ln(tokens) %.4f (expected %.4f), sd %.4f (expected %.4f)\n", lm.mean, std::log(median),
              std::sqrt(lm.variance), sigma);
  EXPECT_NEAR(lm.mean, std::log(median), 4 * sigma / std::sqrt(n) + 1e-3);
  EXPECT_NEAR(std::sqrt(lm.variance), sigma, 0.01);
}

TEST(LengthDistribution, LognormalIsClampedToMinMax) {
  am::RandomStream rng(SEED, 7);
  const am::LengthDistribution d = am::LengthDistribution::lognormal(500, 1, 100, 1000);
  const int n = 100000;
  int at_max = 0, at_min = 0;
  for (int i = 0; i < n; ++i) {
    const int32_t v = d.sample(rng);
    ASSERT_GE(v, 100);
    ASSERT_LE(v, 1000);
    at_max += v == 1000;
    at_min += v == 100;
  }
  // P(value = 1000) = P(X >= 999.5), P(value = 100) = P(X < 100.5), X lognormal(ln 500, 1).
  const double p_max = 1 - normal_cdf(std::log(999.5 / 500)), p_min = normal_cdf(std::log(100.5 / 500));
  std::printf("share at max %.4f (expected %.4f), at min %.4f (expected %.4f)\n", at_max / double(n), p_max,
              at_min / double(n), p_min);
  EXPECT_NEAR(at_max / double(n), p_max, Z999 * std::sqrt(p_max * (1 - p_max) / n));
  EXPECT_NEAR(at_min / double(n), p_min, Z999 * std::sqrt(p_min * (1 - p_min) / n));
}

// ---------------------------------------------------------------------------------------------------------------------
// Processes

TEST(Poisson, OneMillionArrivalsCountWithinBounds) {
  const double rate = 100, horizon = 10000;  // expected 1e6 arrivals
  auto p = am::make_poisson(rate, ONE, ONE, SEED, 0, {horizon, -1});
  int64_t n = 0;
  double last = 0;
  while (auto a = p->next()) {
    ASSERT_GE(a->time_s, last);
    last = a->time_s;
    ++n;
  }
  const double expected = rate * horizon;
  std::printf("Poisson count over %.0f s: %lld (expected %.0f +- %.0f)\n", horizon, static_cast<long long>(n), expected,
              Z999 * std::sqrt(expected));
  EXPECT_NEAR(static_cast<double>(n), expected, Z999 * std::sqrt(expected));
  EXPECT_LE(last, horizon);
  EXPECT_FALSE(p->next().has_value());  // stays finished
}

TEST(Poisson, InterArrivalMeanAndSquaredCv) {
  const double rate = 5;
  auto p = am::make_poisson(rate, ONE, ONE, SEED, 1, {std::numeric_limits<double>::infinity(), 200000});
  const std::vector<am::Arrival> a = drain(*p);
  ASSERT_EQ(a.size(), 200000u);
  const Moments m = moments(gaps(a));
  const double n = static_cast<double>(a.size());
  const double scv = m.variance / (m.mean * m.mean);
  std::printf("Poisson gaps: mean %.5f (expected %.5f +- %.5f), SCV %.4f (expected 1 +- %.4f)\n", m.mean, 1 / rate,
              3 / rate / std::sqrt(n), scv, 4 * scv_standard_error(1, n));
  EXPECT_NEAR(m.mean, 1 / rate, 3 / rate / std::sqrt(n));  // 3 standard errors
  EXPECT_NEAR(scv, 1, 4 * scv_standard_error(1, n));
}

TEST(Gamma, InterArrivalMeanAndSquaredCvMatchCv) {
  for (const double cv : {2.0, 0.5, 1.0}) {
    const double rate = 3, k = 1 / (cv * cv);
    auto p = am::make_gamma(rate, cv, ONE, ONE, SEED, 2, {std::numeric_limits<double>::infinity(), 200000});
    const std::vector<am::Arrival> a = drain(*p);
    ASSERT_EQ(a.size(), 200000u);
    const Moments m = moments(gaps(a));
    const double n = static_cast<double>(a.size());
    const double scv = m.variance / (m.mean * m.mean);
    std::printf("gamma cv=%.1f gaps: mean %.5f (expected %.5f +- %.5f), SCV %.4f (expected %.4f +- %.4f)\n", cv, m.mean,
                1 / rate, 3 * cv / rate / std::sqrt(n), scv, cv * cv, 4 * scv_standard_error(k, n));
    EXPECT_NEAR(m.mean, 1 / rate, 3 * cv / rate / std::sqrt(n)) << "cv=" << cv;
    EXPECT_NEAR(scv, cv * cv, 4 * scv_standard_error(k, n)) << "cv=" << cv;
  }
  EXPECT_THROW(am::make_gamma(1, 0, ONE, ONE, 1, 0), std::invalid_argument);
  EXPECT_THROW(am::make_gamma(-1, 1, ONE, ONE, 1, 0), std::invalid_argument);
}

TEST(Diurnal, CountsPerHalfSliceFollowTheInterpolatedCurve) {
  // Four slices of 25 s, rate 20/s at the peak; counted over 50 periods in half slices, so that a step function
  // (no interpolation) or a shifted curve would fail: expected counts come from integrating the linear pieces.
  const std::vector<double> curve = {0.2, 1.0, 0.5, 0.0};
  const double peak = 20, period = 100, slice = 25;
  const int periods = 50;
  auto p = am::make_diurnal(peak, curve, period, ONE, ONE, SEED, 3, {period * periods, -1});
  std::vector<int> count(8, 0);
  for (const am::Arrival& a : drain(*p)) {
    const double phase = std::fmod(a.time_s, period);
    ++count[std::min<size_t>(7, static_cast<size_t>(phase / (slice / 2)))];
  }
  for (size_t h = 0; h < 8; ++h) {
    const size_t i = h / 2;
    const double v0 = curve[i], v1 = curve[(i + 1) % 4], vm = 0.5 * (v0 + v1);
    const double relative = h % 2 == 0 ? 0.5 * (v0 + vm) : 0.5 * (vm + v1);  // mean of the line over the half slice
    const double expected = peak * relative * (slice / 2) * periods;
    std::printf("half slice %zu: %d arrivals (expected %.0f +- %.0f)\n", h, count[h], expected,
                Z999 * std::sqrt(expected));
    EXPECT_NEAR(count[h], expected, Z999 * std::sqrt(expected)) << "half slice " << h;
  }
}

TEST(Diurnal, NoArrivalsWhereTheCurveIsZero) {
  // Curve {0, 0, 1, 0} over 100 s: rate 0 on [0, 25) and [75, 100), a triangle peaking at 10/s at 50 s in between:
  // 10/s * 50 s / 2 = 250 arrivals expected per period, 100 periods.
  auto p = am::make_diurnal(10, {0, 0, 1, 0}, 100, ONE, ONE, SEED, 4, {10000, -1});
  const std::vector<am::Arrival> a = drain(*p);
  const double expected = 250.0 * 100;
  std::printf("triangle curve: %zu arrivals (expected %.0f +- %.0f)\n", a.size(), expected, Z999 * std::sqrt(expected));
  EXPECT_NEAR(static_cast<double>(a.size()), expected, Z999 * std::sqrt(expected));
  for (const am::Arrival& x : a) {
    const double phase = std::fmod(x.time_s, 100);
    ASSERT_GE(phase, 25 - 1e-9) << x.time_s;
    ASSERT_LE(phase, 75 + 1e-9) << x.time_s;
  }
  EXPECT_THROW(am::make_diurnal(10, {}, 100, ONE, ONE, 1, 0), std::invalid_argument);
  EXPECT_THROW(am::make_diurnal(10, {0, 0}, 100, ONE, ONE, 1, 0), std::invalid_argument);
  EXPECT_THROW(am::make_diurnal(10, {1, -1}, 100, ONE, ONE, 1, 0), std::invalid_argument);
}

TEST(Arrivals, SameSeedAndStreamGiveTheSameSequence) {
  const am::LengthDistribution len = am::LengthDistribution::lognormal(300, 1, 1, 4000);
  auto make = [&](uint64_t seed, uint64_t stream) {
    return drain(*am::make_gamma(2, 1.5, len, len, seed, stream, {std::numeric_limits<double>::infinity(), 1000}));
  };
  const auto a = make(7, 0), b = make(7, 0), c = make(7, 1), d = make(8, 0);
  ASSERT_EQ(a.size(), 1000u);
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].time_s, b[i].time_s);  // bit-identical
    ASSERT_EQ(a[i].prompt_tokens, b[i].prompt_tokens);
    ASSERT_EQ(a[i].output_tokens, b[i].output_tokens);
  }
  int same_c = 0, same_d = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    same_c += a[i].time_s == c[i].time_s;
    same_d += a[i].time_s == d[i].time_s;
  }
  EXPECT_EQ(same_c, 0);
  EXPECT_EQ(same_d, 0);
}

TEST(Arrivals, LengthsDoNotDependOnTheTimingModel) {
  const am::LengthDistribution len = am::LengthDistribution::uniform(1, 1000000);
  auto poisson = am::make_poisson(3, len, len, 11, 2, {1e9, 500});
  auto gamma = am::make_gamma(3, 3, len, len, 11, 2, {1e9, 500});
  auto diurnal = am::make_diurnal(3, {1, 0.5}, 60, len, len, 11, 2, {1e9, 500});
  for (int i = 0; i < 500; ++i) {
    const am::Arrival a = *poisson->next(), b = *gamma->next(), c = *diurnal->next();
    ASSERT_EQ(a.prompt_tokens, b.prompt_tokens);
    ASSERT_EQ(a.output_tokens, c.output_tokens);
    ASSERT_NE(a.time_s, b.time_s);
  }
}

TEST(Arrivals, MaxRequestsAndHorizonStop) {
  auto p = am::make_poisson(10, ONE, ONE, 1, 0, {std::numeric_limits<double>::infinity(), 25});
  EXPECT_EQ(drain(*p).size(), 25u);
  EXPECT_FALSE(p->next().has_value());
  auto none = am::make_poisson(10, ONE, ONE, 1, 0, {100, 0});
  EXPECT_FALSE(none->next().has_value());

  // Horizon: the same stream without the horizon shows where it must cut.
  const auto unlimited = drain(*am::make_poisson(10, ONE, ONE, 1, 0, {std::numeric_limits<double>::infinity(), 100}));
  const double horizon = unlimited[49].time_s;  // an arrival exactly at the horizon is still made
  const auto cut = drain(*am::make_poisson(10, ONE, ONE, 1, 0, {horizon, -1}));
  ASSERT_EQ(cut.size(), 50u);
  EXPECT_EQ(cut.back().time_s, horizon);
}

TEST(TraceReplay, ShiftsToZeroScalesAndStops) {
  const std::vector<am::Arrival> rows = {{100.0, 10, 1}, {101.0, 20, 2}, {103.0, 30, 3}, {107.0, 40, 4}};
  auto p = am::make_trace_replay(rows, 2.0);
  const std::vector<am::Arrival> a = drain(*p);
  ASSERT_EQ(a.size(), 4u);
  const double expected[] = {0, 0.5, 1.5, 3.5};  // (t - 100) / 2
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_DOUBLE_EQ(a[i].time_s, expected[i]);
    EXPECT_EQ(a[i].prompt_tokens, rows[i].prompt_tokens);
    EXPECT_EQ(a[i].output_tokens, rows[i].output_tokens);
  }
  EXPECT_EQ(drain(*am::make_trace_replay(rows, 1.0, {std::numeric_limits<double>::infinity(), 2})).size(), 2u);
  EXPECT_EQ(drain(*am::make_trace_replay(rows, 1.0, {3.0, -1})).size(), 3u);  // t = 0, 1, 3
  EXPECT_TRUE(drain(*am::make_trace_replay({}, 1.0)).empty());

  EXPECT_THROW(am::make_trace_replay(rows, 0.0), std::invalid_argument);
  EXPECT_THROW(am::make_trace_replay({{1, 5, 5}, {0.5, 5, 5}}, 1.0), std::invalid_argument);  // unsorted
  EXPECT_THROW(am::make_trace_replay({{1, 5, 0}}, 1.0), std::invalid_argument);               // no output token
}

// ---- conversations ------------------------------------------------------------------------------------------------

// Three conversations opened at 1, 2 and 3 s (a trace of first turns: 100-token messages, 10-token answers), 3 turns
// each, 5 s apart, after a 64-token system prompt (one for all), content named in blocks of 16. By hand:
//   turn 1: 64 + 100 = 164 tokens; turn 2: 164 + 10 + 20 = 194; turn 3: 194 + 10 + 20 = 224 (later messages 20,
//   answers 10); arrivals 1, 2, 3, 6, 7, 8, 11, 12, 13 s.
// Blocks: 164 / 16 = 10 whole blocks, of which 64 / 16 = 4 are the system prompt's (shared by all conversations); a
// later turn's blocks begin with all of the turn before's (12 and 14 whole blocks).
TEST(Conversations, TurnsCarryTheConversationSoFarNamedByContent) {
  std::vector<am::Arrival> openings;
  for (int i = 1; i <= 3; ++i) openings.push_back({static_cast<double>(i), 100, 10});
  am::ConversationSpec spec;
  spec.turns = am::LengthDistribution::fixed(3);
  spec.think_time_s = 5;
  spec.think_time_exponential = false;
  spec.messages = am::LengthDistribution::fixed(20);
  spec.answers = am::LengthDistribution::fixed(10);
  spec.system_prompt_tokens = 64;
  auto p = am::make_conversations(am::make_trace_replay(openings), spec, 7, 0);
  std::vector<am::Arrival> got;
  while (auto a = p->next()) got.push_back(*a);
  // The trace starts at 0: openings at 0, 1, 2 s.
  ASSERT_EQ(got.size(), 9u);
  const double times[] = {0, 1, 2, 5, 6, 7, 10, 11, 12};
  const int prompts[] = {164, 164, 164, 194, 194, 194, 224, 224, 224};
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].time_s, times[i]) << i;
    EXPECT_EQ(got[i].prompt_tokens, prompts[i]) << i;
    EXPECT_EQ(got[i].output_tokens, 10) << i;
    ASSERT_TRUE(got[i].prefix_chain) << i;
    EXPECT_EQ(got[i].chain_block_tokens, 16);
    EXPECT_EQ(got[i].prefix_chain->size(), static_cast<size_t>(prompts[i] / 16)) << i;
  }
  // Conversation c's turns are arrivals c, c + 3, c + 6: each turn's blocks extend the one before's.
  for (size_t c = 0; c < 3; ++c)
    for (size_t t = 1; t < 3; ++t) {
      const auto& before = *got[c + 3 * (t - 1)].prefix_chain;
      const auto& now = *got[c + 3 * t].prefix_chain;
      EXPECT_TRUE(std::equal(before.begin(), before.end(), now.begin())) << "conversation " << c << " turn " << t;
    }
  // Across conversations: the 4 system-prompt blocks are the same, the fifth (system prompt and message) is not.
  for (size_t c = 1; c < 3; ++c) {
    const auto &a = *got[0].prefix_chain, &b = *got[c].prefix_chain;
    EXPECT_TRUE(std::equal(a.begin(), a.begin() + 4, b.begin())) << c;
    EXPECT_NE(a[4], b[4]) << c;
  }
}

// Turns after the horizon are not made, and the request limit counts every turn.
TEST(Conversations, HorizonAndRequestLimitCountEveryTurn) {
  std::vector<am::Arrival> openings = {{0, 10, 5}, {1, 10, 5}};
  am::ConversationSpec spec;
  spec.turns = am::LengthDistribution::fixed(4);
  spec.think_time_s = 3;
  spec.think_time_exponential = false;
  spec.messages = am::LengthDistribution::fixed(10);
  spec.answers = am::LengthDistribution::fixed(5);
  auto count = [&](am::ArrivalLimits limits) {
    auto p = am::make_conversations(am::make_trace_replay(openings), spec, 1, 0, limits);
    int n = 0;
    while (p->next()) ++n;
    return n;
  };
  EXPECT_EQ(count({}), 8);
  // Turns at 0, 1, 3, 4, 6, 7, 9, 10 s: up to 6 s, five of them.
  EXPECT_EQ(count({6, -1}), 5);
  EXPECT_EQ(count({std::numeric_limits<double>::infinity(), 3}), 3);
  // Exponential think times have the stated mean (and a later turn never comes before the one before it).
  spec.think_time_exponential = true;
  spec.turns = am::LengthDistribution::fixed(2);
  std::vector<am::Arrival> many;
  for (int i = 0; i < 20000; ++i) many.push_back({i * 1000.0, 10, 5});
  auto p = am::make_conversations(am::make_trace_replay(many), spec, 3, 0);
  double sum = 0;
  int gaps = 0;
  while (auto a = p->next())
    if (a->prompt_tokens > 10) sum += a->time_s - std::floor(a->time_s / 1000) * 1000, ++gaps;
  ASSERT_EQ(gaps, 20000);
  // Mean 3 s; the standard error of 20,000 exponential gaps is 3 / sqrt(20,000) = 0.021 s: 5 of them.
  EXPECT_NEAR(sum / gaps, 3.0, 0.11);
}
