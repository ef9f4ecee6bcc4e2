// What a run will produce, estimated from the scenario before it starts (aifsim run refuses a run beyond the
// limits, aifsim validate prints the estimate, the progress line shows it against what happens). Estimates are
// expected values or upper bounds, said per field; docs/reliability.md gives the formulas.
#pragma once
#include <cstdint>
#include <string>

#include "aif/scenario/scenario.hpp"

namespace aif::sim {

struct RunEstimate {
  double requests = 0;       // expected arrivals within the duration (trace rows, at most; turns of conversations)
  double samples = 0;        // rows of each time series: duration / sample_interval + 1
  int series = 0;            // time series (the run's fixed set, the power model's, four per service)
  double events = 0;         // engine events: ~4 per request in fast mode; iteration-level, one per step (bound)
  double iteration_rows = 0; // /iterations rows (iteration-level only): steps, bounded by tokens and step rate
  double results_bytes = 0;  // the results file, uncompressed
  double memory_bytes = 0;   // the run's peak memory beyond a fixed base: trace rows held, write buffers
  // The scenario key that drives the largest part of results_bytes, and how to bring it down.
  std::string largest_key, largest_advice;
};

struct RunLimits {
  double max_results_bytes = 50e9;  // a results file larger than this is refused (about 500M requests)
  double max_samples = 1e8;         // time-series rows (a year at 0.3 s)
  double max_memory_bytes = 0;      // 0: this machine's physical memory
};

RunEstimate estimate_run(const Scenario& scenario, bool iteration_level);

// What one request costs in memory while it has arrived and is not done (its place in a queue, its KV blocks, its
// record): the slope of peak RSS against requests held in an overloaded run (1.2M held: 404 MB, 4.8M: 1,432 MB).
constexpr double BYTES_PER_HELD_REQUEST = 300;
// The most requests a run may hold at once (RunOptions::max_requests_held): half the memory limit at
// BYTES_PER_HELD_REQUEST each. Services that keep up hold a few thousand; a load they cannot serve piles up.
int64_t max_requests_held(const RunLimits& limits = {});

// ScenarioError (at the key that drives the excess, naming the limit, the estimate and what to change, and the
// flag --no-limits) when the estimate exceeds a limit.
void check_run_limits(const Scenario& scenario, const RunEstimate& estimate, const RunLimits& limits = {});

// One line: "~1.2M requests, 360 samples x 36 series, ~5M events, results ~130 MB, memory ~40 MB".
std::string describe(const RunEstimate& estimate);

}  // namespace aif::sim
