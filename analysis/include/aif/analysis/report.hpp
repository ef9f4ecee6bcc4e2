// Self-contained HTML reports (`aifsim report`): one file, inline CSS, charts as inline SVG (svg_chart.hpp), no
// scripts, fonts or images, nothing fetched when it is opened. What each chart shows: docs/report.md.
// Each chart sits in <figure class="chart" id="chart-<name>">; the ids are listed below so that tests and users can
// find them.
//
// Results file (write_results_report): a headline (partial banner, key figures, key events); chart-power (power
// levels and grid draw against the grid limit when the file has those series), chart-battery (state of charge),
// chart-carbon, chart-price; chart-latency-ttft, -tpot, -e2e (p50 and p99 per time window, requests by arrival time,
// log axis); chart-cdf-ttft, -tpot, -e2e (log axis); chart-load (running and waiting requests), chart-busy-gpus,
// chart-fabric (link utilization by tier); chart-events (a lane per event kind)
// and the event table; the summary table (each metric with its glossary meaning); the run's metadata and scenario
// text. Time charts share one time unit and mark the events of event_markers.hpp.
// Sweep folder (write_sweep_report): chart-axis-<i>-<metric> (metric mean with its 95 % CI over seeds against each
// numeric axis), chart-frontier (cost or energy against TTFT p99, Pareto-optimal points highlighted), the table of
// axis combinations and the table of points (failed points with their error).
//
// Both write "<path>.tmp" and rename it to <path>; ResultsError for an unreadable input or an unwritable output.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "aif/analysis/results.hpp"

namespace aif::analysis {

struct ReportOptions {
  size_t max_points_per_line = 2000;  // time series longer than this are downsampled (min/max per bucket)
  int latency_windows = 40;           // time windows of the latency-over-time charts
  size_t cdf_exact_max = 2000;        // up to this many values a CDF is drawn exactly, step by step; above it,
                                      // from a quantile sketch at cdf_quantiles evenly spaced probabilities
  size_t cdf_quantiles = 1000;
  size_t events_per_kind_max = 2000;  // events timeline: markers per kind (evenly thinned beyond)
  size_t event_rows_max = 500;        // rows of the event table
  size_t request_chunk_rows = 65536;  // /requests is streamed this many rows at a time
};

struct ReportInfo {
  size_t charts = 0;
  size_t bytes = 0;
};

ReportInfo write_results_report(const ResultsReader& results, const std::string& path, const ReportOptions& options = {});

// dir: an `aifsim sweep` output folder (sweep.h5, points/<id>.error for failed points).
ReportInfo write_sweep_report(const std::string& dir, const std::string& path, const ReportOptions& options = {});

// Capacity plan folder (`aifsim plan -o DIR`, plan.csv and plan.md): the answer (plan.md), chart-plan-cost (cost per
// hour against the first SLO metric of every simulated candidate: meeting the SLOs or not, the frontier as a line),
// chart-plan-cost-failure (the same with the stated failure, when the plan has one), and every candidate's row.
// ResultsError when DIR has no readable plan.csv.
ReportInfo write_plan_report(const std::string& dir, const std::string& path);

// The (x, y) points that no other point beats on both (smaller or equal in both and smaller in one); NaN points are
// never optimal; equal optimal points are all kept. Indices into x/y, in increasing x. O(n log n).
std::vector<size_t> pareto_front(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace aif::analysis
