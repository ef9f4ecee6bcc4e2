// Request-level summary of a run: counts by outcome, throughput, exact latency percentiles and SLO
// attainment, computed from /requests; and the plain-text table the CLI prints.
#pragma once
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "aif/analysis/results.hpp"
#include "aif/analysis/stats.hpp"

namespace aif::analysis {

// Latency targets in seconds; infinity means "no target". A request attains the SLO when it
// FINISHED and meets every finite target (TPOT only applies when it generated more than one token).
struct SloTargets {
  double ttft_s = std::numeric_limits<double>::infinity();
  double tpot_s = std::numeric_limits<double>::infinity();
  double e2e_s = std::numeric_limits<double>::infinity();
  bool any() const;
};

// Definitions (per request, over FINISHED requests only):
//   TTFT = first_token_s - arrival_s
//   TPOT = (finish_s - first_token_s) / (generated_tokens - 1), only when generated_tokens > 1
//   E2E  = finish_s - arrival_s
// duration_s = latest time seen in any record (arrival, first token or finish) - earliest arrival.
// throughput_rps, output_tokens_per_s, input_tokens_per_s = FINISHED requests, their generated
// tokens, their prompt tokens, each divided by duration_s (0 when duration_s is 0).
// slo_attainment = requests attaining the SLO / all requests (any outcome); NaN without targets or
// without requests.
struct RequestSummary {
  size_t requests = 0;
  size_t finished = 0;
  size_t unfinished = 0;
  size_t rejected = 0;
  size_t dropped = 0;
  double duration_s = 0.0;
  double throughput_rps = 0.0;
  double output_tokens_per_s = 0.0;
  double input_tokens_per_s = 0.0;
  LatencyStats ttft;
  LatencyStats tpot;
  LatencyStats e2e;
  double slo_attainment = std::numeric_limits<double>::quiet_NaN();
};

// Accumulates records one at a time (memory: three doubles per finished request, for the exact
// percentiles).
class RequestSummaryBuilder {
 public:
  explicit RequestSummaryBuilder(SloTargets slo = {});
  void add(const RequestRecord& record);
  RequestSummary result() const;

 private:
  SloTargets slo_;
  RequestSummary counts_;
  size_t attained_ = 0;
  double first_arrival_s_ = std::numeric_limits<double>::infinity();
  double last_time_s_ = -std::numeric_limits<double>::infinity();
  double output_tokens_ = 0.0;
  double input_tokens_ = 0.0;
  std::vector<double> ttft_;
  std::vector<double> tpot_;
  std::vector<double> e2e_;
};

RequestSummary summarize_requests(const ResultsReader& reader, const SloTargets& slo = {});
RequestSummary summarize_requests(const std::vector<RequestRecord>& records, const SloTargets& slo = {});

// Flattens a summary into named entries ("requests", "ttft_p99_s", ...) for /summary and the table.
std::vector<SummaryEntry> summary_entries(const RequestSummary& summary);

// Aligned plain text, one line per entry: "metric  value  unit" under a header line, values
// right-aligned with 6 significant digits.
std::string format_summary_table(const std::vector<SummaryEntry>& entries);

}  // namespace aif::analysis
