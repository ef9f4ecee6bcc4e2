// `aifsim calibrate`: device profiles for the operator-composed perf model.
//   --device cpu-local: time this machine's CPU with aifsim-kbench and fit the reference engine's step overhead;
//   --from aiconfigurator DIR --vidur DIR --device <GPU>: convert public GPU kernel measurements into a device profile
//     (data/calibration/<GPU>.csv, docs/calibration-format.md).
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace aif::cli {

struct CalibrateOptions {
  std::string device = "cpu-local";
  std::string model = "small-llama";
  std::string grid = "small";
  std::string output;     // default <data dir>/calibration/<device>-<model>.csv (CPU) or <device>.csv (GPU)
  int threads = 0;        // 0: all cores
  std::string table;      // reuse this measured table instead of running kbench (its old fit is replaced)
  std::string fit_from;   // fit the overhead on this results file's /iterations instead of a profile run
  std::vector<std::string> from;  // {"aiconfigurator", DIR}: convert public GPU measurements in DIR (systems/data, CSV)
  std::string vidur;      // Vidur's repository folder (data/profiling/...)
  std::string aiconfigurator_ref = "(commit not given)", vidur_ref = "(commit not given)";
};

CLI::App* add_calibrate_command(CLI::App& app, CalibrateOptions& options);
int run_calibrate(const CalibrateOptions& options);

}  // namespace aif::cli
