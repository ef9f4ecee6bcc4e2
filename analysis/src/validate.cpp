#include "aif/analysis/validate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <tuple>
#include <sstream>
#include <stdexcept>

#include "aif/analysis/stats.hpp"
#include "aif/analysis/summary.hpp"

namespace aif::analysis {

double MetricComparison::relative_error() const { return measured != 0 ? (simulated - measured) / measured : NAN; }

std::vector<MetricComparison> compare_request_metrics(const ResultsReader& measured, const ResultsReader& simulated) {
  const RequestSummary m = summarize_requests(measured), s = summarize_requests(simulated);
  std::vector<MetricComparison> out;
  auto latency = [&](const std::string& name, const LatencyStats& a, const LatencyStats& b) {
    out.push_back({name + "_p50", "s", a.p50, b.p50});
    out.push_back({name + "_p90", "s", a.p90, b.p90});
    out.push_back({name + "_p99", "s", a.p99, b.p99});
    out.push_back({name + "_mean", "s", a.mean, b.mean});
  };
  latency("ttft", m.ttft, s.ttft);
  latency("tpot", m.tpot, s.tpot);
  latency("e2e", m.e2e, s.e2e);
  out.push_back({"throughput", "req/s", m.throughput_rps, s.throughput_rps});
  out.push_back({"output_tokens_per_s", "tokens/s", m.output_tokens_per_s, s.output_tokens_per_s});
  out.push_back({"finished", "1", static_cast<double>(m.finished), static_cast<double>(s.finished)});
  return out;
}

namespace {

// Power-of-two bins: "1", "2-3", "4-7", ...
std::pair<int, std::string> log2_bin(double value) {
  const int v = std::max(1, static_cast<int>(value));
  int lo = 1;
  while (lo * 2 <= v) lo *= 2;
  const std::string label = lo == 1 ? "1" : std::to_string(lo) + "-" + std::to_string(2 * lo - 1);
  return {lo, label};
}

}  // namespace

IterationComparison compare_iterations(const std::vector<IterationRecord>& measured,
                                       const std::vector<double>& predicted) {
  if (measured.size() != predicted.size())
    throw std::invalid_argument("compare_iterations: one prediction per measured step is needed");
  IterationComparison out;
  std::vector<double> ape;
  struct Acc {
    std::string kind, batch, context;
    size_t n = 0;
    double measured = 0, predicted = 0, ape = 0;
  };
  std::map<std::tuple<int, int, int>, Acc> bins;
  for (size_t i = 0; i < measured.size(); ++i) {
    const IterationRecord& r = measured[i];
    if (!(r.duration_s > 0)) continue;
    const double e = std::fabs(predicted[i] - r.duration_s) / r.duration_s;
    ape.push_back(e);
    out.measured_total_s += r.duration_s;
    out.predicted_total_s += predicted[i];
    const bool prefill = r.prefill_tokens > 0;
    const auto b = log2_bin(r.num_seqs);
    const auto c = log2_bin(prefill ? r.prefill_tokens
                                    : (r.num_seqs > 0 ? (r.context_tokens + r.decode_tokens) /
                                                            static_cast<double>(r.num_seqs)
                                                      : 1));
    Acc& acc = bins[{prefill ? 1 : 0, b.first, c.first}];
    acc.kind = prefill ? "prefill" : "decode";
    acc.batch = b.second;
    acc.context = c.second;
    ++acc.n;
    acc.measured += r.duration_s;
    acc.predicted += predicted[i];
    acc.ape += e;
  }
  out.steps = ape.size();
  if (!ape.empty()) {
    double sum = 0;
    for (double e : ape) sum += e;
    out.mape = sum / static_cast<double>(ape.size());
    out.median_ape = percentile(ape, 50);
  }
  for (const auto& kv : bins) {
    const Acc& a = kv.second;
    out.bins.push_back({a.kind, a.batch, a.context, a.n, a.measured / a.n, a.predicted / a.n, a.ape / a.n});
  }
  return out;
}

std::string format_engine_comparison_report(const std::vector<MetricComparison>& metrics,
                                            const IterationComparison& steps) {
  std::ostringstream o;
  char buf[256];
  o << "| metric | measured | simulated | error |\n|---|---:|---:|---:|\n";
  for (const MetricComparison& m : metrics) {
    std::snprintf(buf, sizeof buf, "| %s (%s) | %.6g | %.6g | %+.1f %% |\n", m.name.c_str(), m.unit.c_str(), m.measured,
                  m.simulated, 100 * m.relative_error());
    o << buf;
  }
  std::snprintf(buf, sizeof buf,
                "\nPer-step time, predicted for each measured step's batch: %zu steps, MAPE %.1f %%, median APE "
                "%.1f %%, total measured %.3f s vs predicted %.3f s.\n\n",
                steps.steps, 100 * steps.mape, 100 * steps.median_ape, steps.measured_total_s,
                steps.predicted_total_s);
  o << buf;
  o << "| step | sequences | keys per sequence (decode) or prompt tokens (prefill) | steps | measured mean (ms) | "
       "predicted mean (ms) | MAPE |\n|---|---|---|---:|---:|---:|---:|\n";
  for (const IterationBin& b : steps.bins) {
    std::snprintf(buf, sizeof buf, "| %s | %s | %s | %zu | %.3f | %.3f | %.1f %% |\n", b.kind.c_str(), b.batch.c_str(),
                  b.context.c_str(), b.steps, 1e3 * b.measured_mean_s, 1e3 * b.predicted_mean_s, 100 * b.mape);
    o << buf;
  }
  return o.str();
}

}  // namespace aif::analysis
