// What the GUI shows of one results file, read once through aif::analysis (the GUI computes nothing the simulator
// does not record: series, events, rack power, latencies from /requests). No Qt here: plain data, testable alone.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "aif/analysis/results.hpp"

namespace aif::gui {

struct SeriesData {
  std::string name, unit, description;
  std::vector<double> values;  // one per RunData::time_s
};

// Latency percentiles in windows of arrival time (finished requests; analysis::latency_windows, as the HTML report).
struct LatencyOverTime {
  double window_s = 0;  // width of each window
  std::vector<double> window_mid_s;
  std::map<std::string, std::vector<double>> values;  // "ttft_p50", "ttft_p99", "tpot_p50", "tpot_p99", "e2e_p99"
};

struct RunData {
  std::string path;
  std::map<std::string, std::string> meta;
  bool partial = false;      // /meta partial = 1: a stopped run
  std::vector<analysis::SummaryEntry> summary;
  std::vector<double> time_s;
  std::vector<SeriesData> series;
  std::vector<analysis::EventRecord> events;
  std::optional<analysis::RackPowerSeries> rack_power;
  LatencyOverTime latency;
  // Sorted latencies of finished requests for the CDF charts: all of them up to CDF_POINTS, else CDF_POINTS
  // quantiles of a streaming sketch.
  std::vector<double> ttft_s, tpot_s, e2e_s;
  // Facility shape for the topology view (from the scenario text in /meta; 0 when it cannot be read).
  int racks = 0, servers_per_rack = 0, gpus_per_server = 0;

  static constexpr size_t CDF_POINTS = 1000;
  static constexpr int LATENCY_WINDOWS = 60;

  const SeriesData* find(const std::string& name) const;
  double end_s() const { return time_s.empty() ? 0 : time_s.back(); }
  // The sample index at or before time t (0 before the first sample).
  size_t sample_at(double t) const;
};

// Reads a results file. A missing, damaged or foreign file gives nullopt and one message in *error (the file and
// what is wrong), never an exception or a crash.
std::optional<RunData> load_run(const std::string& path, std::string* error);

// The latency windows of the requests that arrived in [from_s, to_s] of a results file, `windows` of them over that
// range: the Charts tab recomputes them when the view zooms. nullopt when the file cannot be read again.
std::optional<LatencyOverTime> latency_over_time(const std::string& path, double from_s, double to_s, int windows);

// State of racks and servers at time t from the events: a failure/incident on "rack/i" or "server/i" down until the
// matching repair. Returns the down racks and down servers (global server index).
struct DownState {
  std::vector<bool> rack_down, server_down;
};
DownState down_at(const RunData& run, double t);

// Series as CSV: time_s and one column per series (name [unit]).
std::string series_csv(const RunData& run);

}  // namespace aif::gui
