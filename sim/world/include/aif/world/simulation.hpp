// Running one scenario: the SimGrid engine, the platform, the replicas, the workloads and
// the recorder. One run per process (SimGrid's engine is a process-wide singleton).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aif/analysis/results.hpp"
#include "aif/models/perf.hpp"
#include "aif/models/arrivals.hpp"
#include "aif/scenario/perf_factory.hpp"
#include "aif/scenario/scenario.hpp"

namespace aif::sim {

struct RunOptions {
  std::string output_path;              // results file (.h5); written to <path>.tmp then renamed
  int compression = 0;                  // deflate level of the results file's tables, 0 (none, fastest) to 9
  double estimated_requests = 0;        // shown by the progress line beside the arrivals (0: not shown)
  std::optional<Fidelity> fidelity;     // overrides simulation.fidelity
  bool progress = false;                // progress bar on stderr
  // One JSON object per line on stdout at each of 200 slices of the run (the GUI's live view): simulated time,
  // fraction, ETA, requests, power, queues. Keys in docs/results-format.md.
  bool progress_json = false;
  // Checked between slices: when it becomes true the run stops there, skips the drain, and the results file is
  // still written, with /meta partial = "1" and the simulated end time (aifsim run --partial-on-stop sets it from
  // SIGTERM / SIGINT). Asked for during the final drain, it lets the in-flight requests finish: complete results.
  const std::atomic<bool>* stop_requested = nullptr;
  // Above this many requests arrived and not yet done (waiting, running or held by the power policies), the run
  // stops at the next slice as a stop request would, with stop_reason saying which service fell behind: a scenario
  // whose load its services cannot serve would otherwise hold requests until memory runs out. 0: no bound.
  int64_t max_requests_held = 0;
  std::string tool_version = "";
  std::string command_line = "";        // stored in /meta
};

struct RunReport {
  std::vector<analysis::SummaryEntry> summary;
  uint64_t fingerprint = 0;
  uint64_t events = 0;                  // timer callbacks the engine ran
  double simulated_s = 0;
  bool partial = false;                 // stopped early by stop_requested or by max_requests_held
  std::string stop_reason;              // set when max_requests_held stopped it: the service, the count, the time
  double wall_s = 0;
  int64_t requests = 0;
  // Per service, how its step times are computed ("calibrated: ..." or "roofline ... (why)"), for the summary.
  std::vector<std::pair<std::string, std::string>> perf;
};

// Runs the scenario to completion and writes the results file. Throws ScenarioError for
// inconsistencies found while building (e.g. replicas that do not fit), std::runtime_error otherwise.
RunReport run_simulation(const Scenario& scenario, const RunOptions& options);

// The arrival process of workloads[index], exactly as a run draws it (seeded by simulation.seed, stream = index).
std::unique_ptr<models::ArrivalProcess> make_arrivals(const Scenario& scenario, const WorkloadConfig& workload,
                                                      size_t index);

}  // namespace aif::sim
