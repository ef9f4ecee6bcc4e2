#include "aif/analysis/latency_windows.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace aif::analysis {

namespace {
constexpr double NaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

LatencyWindows latency_windows(const ResultsReader& r, int windows, size_t exact_max, size_t rows_per_chunk,
                               double from_s, double to_s) {
  LatencyWindows p;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  const bool ranged = std::isfinite(from_s) && std::isfinite(to_s) && from_s < to_s;
  if (ranged) {
    lo = from_s;
    hi = to_s;
  } else r.for_each_request_chunk(
      [&](const std::vector<RequestRecord>& chunk) {
        for (const RequestRecord& q : chunk)
          if (q.outcome == Outcome::FINISHED && std::isfinite(q.arrival_s)) {
            lo = std::min(lo, q.arrival_s);
            hi = std::max(hi, q.arrival_s);
          }
      },
      rows_per_chunk);
  p.windows = std::max(1, windows);
  p.t0 = std::isfinite(lo) ? lo : 0;
  p.t1 = std::isfinite(hi) ? hi : 0;
  p.window_sketch.assign(3, std::vector<QuantileSketch>(static_cast<size_t>(p.windows)));
  p.overall.resize(3);
  p.exact.resize(3);
  p.exact_overflow.assign(3, false);
  const double width = (p.t1 - p.t0) / p.windows;
  r.for_each_request_chunk(
      [&](const std::vector<RequestRecord>& chunk) {
        for (const RequestRecord& q : chunk) {
          if (q.outcome != Outcome::FINISHED || !std::isfinite(q.arrival_s)) continue;
          if (ranged && (q.arrival_s < from_s || q.arrival_s > to_s)) continue;
          // Definitions as summarize_requests(): TPOT only with more than one generated token.
          const double values[3] = {q.first_token_s - q.arrival_s,
                                    q.generated_tokens > 1 ? (q.finish_s - q.first_token_s) / (q.generated_tokens - 1)
                                                           : NaN,
                                    q.finish_s - q.arrival_s};
          int w = width > 0 ? static_cast<int>((q.arrival_s - p.t0) / width) : 0;
          w = std::clamp(w, 0, p.windows - 1);
          for (size_t m = 0; m < 3; ++m) {
            if (!std::isfinite(values[m])) continue;
            p.window_sketch[m][static_cast<size_t>(w)].add(values[m]);
            p.overall[m].add(values[m]);
            if (p.exact_overflow[m]) continue;
            if (p.exact[m].size() >= exact_max) {
              p.exact_overflow[m] = true;
              p.exact[m].clear();
              p.exact[m].shrink_to_fit();
            } else {
              p.exact[m].push_back(values[m]);
            }
          }
        }
      },
      rows_per_chunk);
  return p;
}

std::vector<double> LatencyWindows::cdf_values(LatencyMetric m, size_t k) const {
  if (!exact_overflow[m]) {
    std::vector<double> sorted = exact[m];
    std::sort(sorted.begin(), sorted.end());
    return sorted;
  }
  std::vector<double> out;
  k = std::max<size_t>(k, 2);
  for (size_t i = 0; i < k; ++i) out.push_back(overall[m].quantile(100.0 * static_cast<double>(i) / static_cast<double>(k - 1)));
  return out;
}

}  // namespace aif::analysis
