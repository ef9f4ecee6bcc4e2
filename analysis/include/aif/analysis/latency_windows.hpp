// Latency of finished requests per window of arrival time and over the whole run, from one streaming pass over
// /requests with bounded memory (quantile sketches, 0.05 % relative error; exact values kept while few). The HTML
// report's latency charts and the GUI's are both drawn from it.
#pragma once
#include <cmath>
#include <cstddef>
#include <vector>

#include "aif/analysis/results.hpp"
#include "aif/analysis/stats.hpp"

namespace aif::analysis {

enum LatencyMetric : size_t { TTFT = 0, TPOT = 1, E2E = 2, LATENCY_METRICS = 3 };

struct LatencyWindows {
  double t0 = 0, t1 = 0;  // first and last arrival of a finished request
  int windows = 1;        // equal windows over [t0, t1]
  std::vector<std::vector<QuantileSketch>> window_sketch;  // [metric][window]
  std::vector<QuantileSketch> overall;                     // [metric]
  std::vector<std::vector<double>> exact;  // [metric]: every value, unsorted, while at most exact_max of them
  std::vector<bool> exact_overflow;        // [metric]: more than exact_max values (exact is then empty)

  double width() const { return (t1 - t0) / windows; }
  double window_mid(int w) const { return t0 + (w + 0.5) * width(); }
  // For a CDF: every value sorted while they were kept, else k evenly spaced quantiles (0 to 100 %) of the sketch.
  std::vector<double> cdf_values(LatencyMetric m, size_t k) const;
};

// TTFT, TPOT (requests with more than one generated token) and E2E as summarize_requests() defines them.
// from_s / to_s (both finite, from_s < to_s): only requests that arrived in [from_s, to_s], in windows over that
// range (the GUI's windows follow its zoom); otherwise every finished request, windows from its first to its last
// arrival.
LatencyWindows latency_windows(const ResultsReader& results, int windows, size_t exact_max,
                               size_t rows_per_chunk = ResultsReader::DEFAULT_READ_ROWS,
                               double from_s = std::nan(""), double to_s = std::nan(""));

}  // namespace aif::analysis
