// Statistics over latencies and other samples: exact percentiles and a bounded-memory streaming
// quantile sketch.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace aif::analysis {

// p-th percentile, p in [0, 100], by linear interpolation between closest ranks: with the values
// sorted ascending as v[0..n-1] and h = (n - 1) * p / 100, the result is
// v[floor(h)] + (h - floor(h)) * (v[floor(h) + 1] - v[floor(h)]). This is NumPy's default
// (method='linear', Hyndman & Fan type 7). Empty input gives NaN. p outside [0, 100] or a NaN among
// the values throws std::invalid_argument.
double percentile(std::vector<double> values, double p);

struct LatencyStats {
  size_t count = 0;
  double mean = 0.0;  // all fields are NaN when count == 0
  double p50 = 0.0;
  double p90 = 0.0;
  double p99 = 0.0;
  double max = 0.0;
};
LatencyStats latency_stats(std::vector<double> values);  // exact, percentiles as percentile()

// Mean and the half-width of its two-sided 95 % confidence interval, Student's t with n - 1 degrees of freedom
// (sweeps over seeds). NaN values are skipped; half_width is NaN with fewer than two values.
struct MeanCi {
  double mean = 0;
  double half_width = 0;
  size_t n = 0;
};
MeanCi mean_ci95(const std::vector<double>& values);

// Student's t distribution with df > 0 degrees of freedom (df need not be an integer: Welch's test gives fractional
// ones). Boost.Math underneath. cdf(t) = P(T <= t); quantile(p) is its inverse, p in (0, 1).
double student_t_cdf(double t, double df);
double student_t_quantile(double p, double df);

// Sample mean and unbiased variance (n - 1 in the denominator) of the non-NaN values; variance NaN below two.
struct SampleMoments {
  size_t n = 0;
  double mean = 0, variance = 0;
};
SampleMoments sample_moments(const std::vector<double>& values);

// Is mean(b) - mean(a) larger than run-to-run noise? Two-sided test at the 5 % level.
//   difference = mean_b - mean_a, std_error = sqrt(var_a / n_a + var_b / n_b)
//   Welch (both sides with >= 2 values): df = std_error^4 / ((var_a/n_a)^2/(n_a-1) + (var_b/n_b)^2/(n_b-1))
//   (Welch-Satterthwaite); t = difference / std_error; p = 2 (1 - F_df(|t|)); the 95 % interval is
//   difference -+ t_{0.975, df} std_error. significant <=> p < 0.05 <=> the interval excludes 0.
//   Zero spread on both sides (a deterministic metric): std_error 0, significant exactly when difference != 0
//   (p 0 or 1, interval [difference, difference]).
// One side with a single value: its variance is taken to be the other side's (the only spread measured),
// std_error = sqrt(var_other (1/n_a + 1/n_b)), df = n_other - 1.
// NaN values are skipped. known is false (and the verdict unknown) when either side has no value, or both sides a
// single value: the noise is then unknown.
struct DifferenceTest {
  bool known = false;
  size_t n_a = 0, n_b = 0;
  double mean_a = 0, mean_b = 0, difference = 0, std_error = 0, df = 0, t = 0, p_value = 0;
  double ci95_low = 0, ci95_high = 0;
  bool significant = false;
};
DifferenceTest welch_test(const std::vector<double>& a, const std::vector<double>& b);
// The same with the noise of one run given separately (replicas of one configuration elsewhere, e.g. a sweep over
// seeds): variance noise_variance with noise_df degrees of freedom, assumed for both sides:
// std_error = sqrt(noise_variance (1/n_a + 1/n_b)), df = noise_df. noise_df < 1 or a NaN variance: unknown.
DifferenceTest difference_test_known_noise(const std::vector<double>& a, const std::vector<double>& b,
                                           double noise_variance, double noise_df);

// Streaming quantiles with bounded memory. Values in [MIN_VALUE, MAX_VALUE) fall into log-spaced
// bins whose edges grow by a factor GROWTH = 1.001 (relative bin width 0.1%); a quantile is
// interpolated (same 'linear' rule as percentile()) between the geometric centres of the bins that
// hold the two closest ranks. Bound: for values inside the range, |estimate - exact| <=
// (sqrt(GROWTH) - 1) * exact, about 0.05% of the exact percentile. Values below MIN_VALUE (zero,
// negatives) and at or above MAX_VALUE go to an underflow / overflow bin reported as the exact
// min / max, so quantiles that land there are not bounded. count, mean, min and max are exact.
// Memory: about 30,000 64-bit counters (240 KB), allocated on the first add().
class QuantileSketch {
 public:
  static constexpr double MIN_VALUE = 1e-7;  // s
  static constexpr double MAX_VALUE = 1e6;   // s
  static constexpr double GROWTH = 1.001;

  void add(double value);  // NaN throws std::invalid_argument
  void merge(const QuantileSketch& other);
  double quantile(double p) const;  // p in [0, 100]; NaN when empty
  size_t count() const { return count_; }
  double mean() const;  // NaN when empty
  double min() const;
  double max() const;
  static double relative_error_bound();  // sqrt(GROWTH) - 1

 private:
  size_t bin_of(double value) const;
  double bin_center(size_t bin) const;

  std::vector<uint64_t> bins_;  // [0] underflow, [1..n] log bins, [n+1] overflow
  size_t count_ = 0;
  double sum_ = 0.0;  // Neumaier-compensated sum for the mean
  double sum_compensation_ = 0.0;
  double min_ = 0.0;
  double max_ = 0.0;
};

}  // namespace aif::analysis
