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
