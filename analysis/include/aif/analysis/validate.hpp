// Simulated vs measured: the same trace served by the real reference engine and by the simulator,
// compared metric by metric and step by step.
#pragma once
#include <string>
#include <vector>

#include "aif/analysis/results.hpp"

namespace aif::analysis {

struct MetricComparison {
  std::string name;  // "ttft_p50", "tpot_p99", "throughput", ...
  std::string unit;
  double measured = 0;
  double simulated = 0;
  double relative_error() const;  // (simulated - measured) / measured
};

// TTFT, TPOT and end-to-end latency at p50 / p90 / p99 and the mean, throughput (req/s and output
// tokens/s), over FINISHED requests (definitions as summarize_requests()).
std::vector<MetricComparison> compare_request_metrics(const ResultsReader& measured, const ResultsReader& simulated);

// Per-step prediction error: each measured step's duration against the model's prediction for the
// same batch composition.
struct IterationBin {
  std::string kind;     // "decode" (every sequence decodes one token) or "prefill" (the step computes prompt tokens)
  std::string batch;    // e.g. "4-7" sequences
  std::string context;  // decode: mean keys per sequence, e.g. "512-1023"; prefill: prompt tokens in the step
  size_t steps = 0;
  double measured_mean_s = 0;
  double predicted_mean_s = 0;
  double mape = 0;  // mean absolute percentage error over the bin's steps
};

struct IterationComparison {
  size_t steps = 0;
  double mape = 0;           // over all steps
  double median_ape = 0;     // median absolute percentage error
  double measured_total_s = 0, predicted_total_s = 0;
  std::vector<IterationBin> bins;  // kind x batch size x context (or prompt tokens), bins with steps only
};

// `predicted` holds one prediction per record, in the same order.
IterationComparison compare_iterations(const std::vector<IterationRecord>& measured,
                                       const std::vector<double>& predicted);

// A Markdown report: the metric table (with errors) and the step table by batch size and context.
std::string format_engine_comparison_report(const std::vector<MetricComparison>& metrics,
                                            const IterationComparison& steps);

}  // namespace aif::analysis
