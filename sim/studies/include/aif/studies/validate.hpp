// Simulated vs measured (aifsim validate-against): run the simulator on the requests a real engine
// served, with the engine's scheduler limits, and compare.
#pragma once
#include <string>
#include <vector>

#include "aif/analysis/results.hpp"
#include "aif/analysis/validate.hpp"
#include "aif/models/serving.hpp"

namespace aif::sim {

// The batch composition a measured (or simulated) step record describes.
models::BatchShape batch_shape_of(const analysis::IterationRecord& record);

struct ValidationOptions {
  std::string measured_path;            // results file of `aifsim-engine serve`
  std::string scenario_path;            // template: one service, calibrated perf (scenarios/validation/)
  std::string simulated_path;           // where the simulation's results go
  std::vector<std::string> overrides;   // extra --set values
};

struct ValidationResult {
  std::vector<analysis::MetricComparison> metrics;
  analysis::IterationComparison steps;
  std::vector<std::string> applied;     // the --set values derived from the measured run
};

// Reads the engine configuration from the measured file's /meta, simulates its /requests with the
// scenario's first service configured like the engine (KV blocks, block size, batch limits) in
// iteration-level mode, and compares requests and steps. Throws ScenarioError for bad input.
ValidationResult validate_against(const ValidationOptions& options);

}  // namespace aif::sim
