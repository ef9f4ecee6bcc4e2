// `aifsim validate-gpu`: replay the measured GPU serving runs of data/validation/ and report simulated against measured
// (docs/validation-gpu.md). Each case is a scenario run as a child `aifsim run` process, --jobs at a time.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace aif::cli {

struct ValidateGpuOptions {
  std::string set;         // blis | mlenergy | llmservingsim; "" = all
  bool quick = false;      // the few short cases CI runs
  std::string output = "results/validation-gpu";
  std::string report;      // write the Markdown report here (default <output>/report.md)
  std::string template_path;  // a Markdown file with a {{results}} line the tables replace (docs/validation-gpu.in.md)
  int jobs = 1;
  std::vector<std::string> cases;      // only these cases (by name); empty: all of the set
  std::vector<std::string> overrides;  // --set key.path=value for every case's run (e.g. the engine's overheads)
  bool fit_cases = true;               // also run the cases an engine was fitted on (reported apart)
};

CLI::App* add_validate_gpu_command(CLI::App& app, ValidateGpuOptions& options);
int run_validate_gpu(const ValidateGpuOptions& options);

}  // namespace aif::cli
