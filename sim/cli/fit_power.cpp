#include "fit_power.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "aif/analysis/stats.hpp"
#include "aif/scenario/scenario.hpp"
#include "aif/studies/validate_gpu.hpp"
#include "files.hpp"

namespace aif::cli {

namespace fs = std::filesystem;

namespace {

// The measured GPU of ML.ENERGY's table -> the catalog devices whose fit it gives (the first: the GPU measured).
struct Measured {
  const char* gpu;
  std::vector<std::pair<std::string, std::string>> devices;  // (catalog key, note)
};
const Measured H100 = {"NVIDIA H100 80GB HBM3",
                       {{"H100-SXM", "measured"},
                        {"H200-SXM",
                         "derived: H100 SXM's figures (same GH100 die, board power limit 700 W; its HBM3e's own power "
                         "is not measured here)"}}};

std::string fixed(double v, int digits) {
  char b[48];
  std::snprintf(b, sizeof b, "%.*f", digits, v);
  return b;
}

}  // namespace

CLI::App* add_fit_power_command(CLI::App& app, FitPowerOptions& o) {
  CLI::App* c = app.add_subcommand(
      "fit-power", "Fit the GPU power model on ML.ENERGY's measured runs of the fit models (data/power/, docs/power.md)");
  c->add_option("--mlenergy-flat", o.mlenergy_flat, "ML.ENERGY leaderboard v2 flat table (llm_v2_flat.csv)")
      ->required();
  c->add_option("-o,--output", o.output, "The fit table to write (default: data/power/gpu_power_fit.csv)");
  return c;
}

int run_fit_power(const FitPowerOptions& o) {
  if (!fs::is_regular_file(o.mlenergy_flat))
    throw sim::ScenarioError(o.mlenergy_flat, 0, "", "no such file (ML.ENERGY's llm_v2_flat.csv)");
  const std::string output = o.output.empty() ? sim::data_dir() + "/power/gpu_power_fit.csv" : o.output;
  const std::string runs_output = output.substr(0, output.rfind(".csv")) + "_runs.csv";
  const auto hardware = sim::load_hardware_catalog(sim::data_dir() + "/hardware.yaml");
  const auto fit_models = sim::load_model_catalog(sim::data_dir() + "/power/fit_models.yaml");
  const std::vector<sim::PowerFitRun> runs = sim::power_fit_runs(o.mlenergy_flat, H100.gpu, fit_models);
  std::vector<models::GpuPowerSample> samples;
  std::set<std::string> models;
  for (const auto& r : runs) samples.push_back(r.sample), models.insert(r.model);
  const models::GpuPowerFitResult fit = models::fit_gpu_power(samples);
  std::vector<double> abs_errors;
  for (double e : fit.relative_errors) abs_errors.push_back(std::fabs(e));
  const double med = analysis::percentile(abs_errors, 50), worst = *std::max_element(abs_errors.begin(), abs_errors.end());
  // The line holds where the runs were; the simulator stops its byte term at the decode figure. Say whether any
  // fitted run reached it, and how far along the HBM bandwidth the runs went.
  const models::DeviceSpec& h100 = hardware.at(H100.devices.front().first);
  int above_decode = 0;
  double max_bytes = 0;
  for (const auto& s : samples) {
    above_decode += fit.fit.busy_floor_w + fit.fit.joules_per_byte * s.bytes_per_s > h100.decode_w ? 1 : 0;
    max_bytes = std::max(max_bytes, s.bytes_per_s);
  }

  std::ostringstream table_runs;
  table_runs << "# aifsim GPU power fit: the runs it was fitted on (" << fs::path(output).filename().string() << ")\n";
  table_runs << "# measured_w: ML.ENERGY's energy per request x requests per second / GPUs; tflop_per_s, hbm_tb_per_s: "
                "FLOPs and HBM bytes per GPU per second of the run (sim/studies/include/aif/studies/validate_gpu.hpp, "
                "saturated_run_sample)\n";
  table_runs << "run,gpus,measured_w,tflop_per_s,hbm_tb_per_s,predicted_w,error\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& s = samples[i];
    table_runs << runs[i].name << ',' << runs[i].gpus << ',' << fixed(s.measured_w, 2) << ','
               << fixed(s.flops_per_s / 1e12, 3) << ',' << fixed(s.bytes_per_s / 1e12, 4) << ','
               << fixed(s.measured_w * (1 + fit.relative_errors[i]), 2) << ',' << fixed(fit.relative_errors[i], 4)
               << '\n';
  }
  std::ostringstream table;
  table << "# aifsim GPU power fit, format_version 1 (docs/power.md)\n";
  table << "# source: ml-energy/leaderboard-v2@c3af7f31 data/llm_text_generation (flat table llm_v2_flat.csv), "
           "Apache-2.0: the "
        << H100.gpu << " runs of the " << models.size() << " models of data/power/fit_models.yaml\n";
  table << "# split: fitted on those models only, none of them in the catalog; the catalog's Llama 3.1 and Code Llama "
           "runs are the validation set (docs/validation-power.md)\n";
  table << "# model: P = busy_floor + e_flop F / t + e_byte B / t per GPU (F FLOPs, B HBM bytes over t seconds); the "
           "simulator stops the byte term at the catalog's decode power and the total at the TDP\n";
  table << "# range: the runs moved at most " << fixed(max_bytes / 1e12, 3) << " TB/s of HBM per GPU; "
        << above_decode << " of them above the decode power\n";
  table << "# runs: " << fs::path(runs_output).filename().string() << "\n";
  table << "# command: aifsim fit-power --mlenergy-flat MLENERGY_V2_FLAT_CSV\n";
  table << "device,measured_on,runs,models,busy_floor_w,pj_per_flop,pj_per_byte,fit_median_abs_error,"
           "fit_max_abs_error,note\n";
  for (const auto& [device, note] : H100.devices)
    table << device << ',' << H100.gpu << ',' << runs.size() << ',' << models.size() << ','
          << fixed(fit.fit.busy_floor_w, 1) << ',' << fixed(fit.fit.joules_per_flop * 1e12, 4) << ','
          << fixed(fit.fit.joules_per_byte * 1e12, 2) << ',' << fixed(med, 4) << ',' << fixed(worst, 4) << ",\""
          << note << "\"\n";
  write_atomically(runs_output, table_runs.str());
  write_atomically(output, table.str());
  std::printf("fit-power: %zu runs of %zu models on %s\nbusy floor %.1f W, %.4f pJ/FLOP, %.2f pJ/byte; relative "
              "error median %.1f %%, worst %.1f %% (%d runs above the decode power)\nwrote    %s\nwrote    %s\n",
              runs.size(), models.size(), H100.gpu, fit.fit.busy_floor_w, fit.fit.joules_per_flop * 1e12,
              fit.fit.joules_per_byte * 1e12, 100 * med, 100 * worst, above_decode, output.c_str(),
              runs_output.c_str());
  return 0;
}

}  // namespace aif::cli
