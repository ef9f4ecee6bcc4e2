// Simulated vs measured (aifsim validate-against): run the simulator on the requests a real engine
// served, with the engine's scheduler limits, and compare. (Three things are called "validate" here: checking an
// input (`aifsim validate`: load_scenario, expand_sweep's check_scenarios, ModelShape::check_consistent); comparing
// the simulator with a run of the project's reference engine (this file: compare_with_engine_run); and comparing it
// with published GPU measurements (`aifsim validate-gpu`, validate_gpu.hpp).)
#pragma once
#include <string>
#include <vector>

#include "aif/analysis/results.hpp"
#include "aif/analysis/validate.hpp"
#include "aif/models/serving.hpp"

namespace aif::sim {

// The batch composition a measured (or simulated) step record describes.
models::BatchShape batch_shape_of(const analysis::IterationRecord& record);

struct EngineComparisonOptions {
  std::string measured_path;            // results file of `aifsim-engine serve`
  std::string scenario_path;            // template: one service, calibrated perf (scenarios/validation/)
  std::string simulated_path;           // where the simulation's results go
  std::vector<std::string> overrides;   // extra --set values
};

struct EngineComparison {
  std::vector<analysis::MetricComparison> metrics;
  analysis::IterationComparison steps;
  std::vector<std::string> applied;     // the --set values derived from the measured run
};

// Reads the engine configuration from the measured file's /meta, simulates its /requests with the
// scenario's first service configured like the engine (KV blocks, block size, batch limits) in
// iteration-level mode, and compares requests and steps. Throws ScenarioError for bad input.
EngineComparison compare_with_engine_run(const EngineComparisonOptions& options);

}  // namespace aif::sim
