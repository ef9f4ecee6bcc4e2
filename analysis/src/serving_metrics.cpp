#include "aif/analysis/serving_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "aif/analysis/stats.hpp"

namespace aif::analysis {

LatencySummary summarize_latencies(std::vector<double> values) {
  LatencySummary s;
  s.count = values.size();
  if (values.empty()) {
    s.mean = s.p50 = s.p90 = std::nan("");
    return s;
  }
  std::sort(values.begin(), values.end());
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
  s.p50 = percentile(values, 50);
  s.p90 = percentile(values, 90);
  return s;
}

SaturatedRunFigures saturated_run_figures(std::vector<IterationRecord> steps,
                                          const std::vector<RequestRecord>& requests) {
  SaturatedRunFigures f;
  std::sort(steps.begin(), steps.end(), [](const IterationRecord& a, const IterationRecord& b) {
    return a.start_s < b.start_s;
  });
  for (const RequestRecord& r : requests)
    if (r.outcome == Outcome::FINISHED) f.steady_end_s = std::max(f.steady_end_s, r.first_token_s);

  // Inter-token latencies: a sequence that decoded in the previous decode step waited since its end; one whose
  // prompt was prefilled in a step since then waited since that step's end.
  double tpot_sum = 0;
  double previous_decode_end = std::nan("");
  std::vector<std::pair<double, double>> prefills;  // (end, sequences) of prefill steps since the last decode step
  double tokens = 0, batch_sum = 0, energy = 0;
  size_t steady_decode_steps = 0;
  for (const IterationRecord& s : steps) {
    const double end = s.start_s + s.duration_s;
    if (end <= f.steady_end_s + 1e-12)
      tokens += s.sampled_seqs, energy += s.gpu_energy_j, f.gpu_flops += s.gpu_flops, f.gpu_bytes += s.gpu_bytes;
    if (s.decode_tokens == 0) {
      if (s.sampled_seqs > 0) prefills.emplace_back(end, s.sampled_seqs);
      continue;
    }
    const double d = s.decode_tokens;
    double fresh = 0, waited_fresh = 0;
    for (const auto& [pend, n] : prefills) fresh += n, waited_fresh += n * (end - pend);
    if (fresh > d) waited_fresh *= d / fresh, fresh = d;  // some finished at their first token
    const double old = std::isnan(previous_decode_end) ? 0 : d - fresh;
    const double waited_old = old * (std::isnan(previous_decode_end) ? 0 : end - previous_decode_end);
    const double counted = old + fresh;
    if (counted > 0) {
      tpot_sum += (waited_old + waited_fresh) / counted;
      ++f.decode_steps;
    }
    if (end <= f.steady_end_s + 1e-12) batch_sum += s.num_seqs, ++steady_decode_steps;
    prefills.clear();
    previous_decode_end = end;
  }
  f.avg_tpot_s = f.decode_steps > 0 ? tpot_sum / static_cast<double>(f.decode_steps) : std::nan("");
  f.throughput_tokens_per_s = f.steady_end_s > 0 ? tokens / f.steady_end_s : std::nan("");
  f.avg_batch = steady_decode_steps > 0 ? batch_sum / static_cast<double>(steady_decode_steps) : std::nan("");
  f.gpu_power_w = f.steady_end_s > 0 ? energy / f.steady_end_s : std::nan("");
  return f;
}

std::vector<double> output_tokens_per_second(const std::vector<IterationRecord>& steps, double bin_s, size_t bins) {
  std::vector<double> out(bins, 0.0);
  for (const IterationRecord& s : steps) {
    const double end = s.start_s + s.duration_s;
    if (!(end >= 0)) continue;  // before t = 0 (or NaN)
    // Compared as a double before the conversion: a bin index beyond size_t (a step ending at +inf, or 1e300 s) is
    // undefined behaviour to convert, and in practice landed in bin 0.
    const double k = std::floor(end / bin_s);
    if (k < static_cast<double>(bins)) out[static_cast<size_t>(k)] += s.sampled_seqs / bin_s;
  }
  return out;
}

}  // namespace aif::analysis
