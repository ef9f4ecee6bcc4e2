// `aifsim fit-power`: fit the GPU power model (docs/power.md) on ML.ENERGY's measured runs of the fit models and write
// data/power/gpu_power_fit.csv (the figures) and gpu_power_fit_runs.csv (each run: measured, work rates, predicted).
#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace aif::cli {

struct FitPowerOptions {
  std::string mlenergy_flat;  // ml-energy/leaderboard-v2's flat table (llm_v2_flat.csv)
  std::string output;         // default: data/power/gpu_power_fit.csv of the bundled data folder
};

CLI::App* add_fit_power_command(CLI::App& app, FitPowerOptions& options);
int run_fit_power(const FitPowerOptions& options);

}  // namespace aif::cli
