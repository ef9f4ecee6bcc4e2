#include "calibrate.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include "aif/inputs/calibration.hpp"
#include "aif/studies/calibration_fit.hpp"
#include "aif/inputs/device_profile.hpp"
#include "aif/studies/device_profile_convert.hpp"
#include "aif/scenario/scenario.hpp"

namespace aif::cli {

namespace {

// Runs argv[0] with the arguments (no shell), echoing the command; returns its exit status.
int run_program(const std::vector<std::string>& args) {
  std::string shown;
  for (const auto& a : args) shown += (shown.empty() ? "" : " ") + a;
  std::cout << "running  " << shown << "\n" << std::flush;
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("cannot start " + args[0] + ": fork failed");
  if (pid == 0) {
    execv(argv[0], argv.data());
    std::perror(args[0].c_str());
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) throw std::runtime_error("lost track of " + args[0]);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A tool of the same build tree: <build>/kernels/<name>, next to <build>/sim/aifsim.
std::string sibling_tool(const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path self = fs::read_symlink("/proc/self/exe");
  const fs::path tool = self.parent_path().parent_path() / "kernels" / name;
  if (!fs::is_regular_file(tool) || access(tool.c_str(), X_OK) != 0) {
    throw aif::sim::ScenarioError(tool.string(), 0, "",
                                  name + " not found: aifsim calibrate runs the kernels of the same build tree; "
                                         "configure with -DAIF_BUILD_KERNELS=ON and build the target " + name);
  }
  return tool.string();
}

// kbench's table -> the engine's profile -> step-overhead fit -> the table with the fit in its header.
int run_cpu_calibrate(const CalibrateOptions& o) {
  namespace fs = std::filesystem;
  const auto catalog = aif::sim::load_model_catalog(aif::sim::data_dir() + "/models.yaml");
  const auto arch = catalog.find(o.model);
  if (arch == catalog.end()) {
    std::string names;
    for (const auto& [name, m] : catalog) names += (names.empty() ? "" : ", ") + name;
    std::cerr << "error: --model " << o.model << ": not in the model catalog (" << names << ")\n";
    return 2;
  }
  const std::string kbench = o.table.empty() ? sibling_tool("aifsim-kbench") : "";
  const std::string engine = o.fit_from.empty() ? sibling_tool("aifsim-engine") : "";
  const std::string out =
      o.output.empty() ? aif::sim::data_dir() + "/calibration/" + o.device + "-" + o.model + ".csv" : o.output;
  const std::string table_tmp = out + ".kbench.tmp";
  const std::string profile_h5 =
      (fs::temp_directory_path() / ("aifsim-calibrate-" + std::to_string(getpid()) + ".h5")).string();
  const std::string threads = std::to_string(o.threads);
  // Intermediate files go, whatever happens; only the final rename leaves something at `out`.
  struct Cleanup {
    std::vector<std::string> paths;
    ~Cleanup() {
      std::error_code ignored;
      for (const auto& p : paths) fs::remove(p, ignored);
    }
  } cleanup{{table_tmp, out + ".tmp", profile_h5}};

  if (o.table.empty() && run_program({kbench, "--backend", "cpu", "--model", o.model, "--grid", o.grid, "--threads",
                                      threads, "-o", table_tmp}) != 0) {
    throw std::runtime_error("aifsim-kbench failed; no table written");
  }
  const std::string measured = o.table.empty() ? table_tmp : o.table;  // a table measured before keeps its rows
  aif::sim::read_calibration_csv(measured);  // checked before the engine runs
  if (o.fit_from.empty() && run_program({engine, "profile", "--backend", "cpu", "--model", o.model, "--threads",
                                         threads, "-o", profile_h5}) != 0) {
    throw std::runtime_error("aifsim-engine profile failed; no table written");
  }
  const aif::sim::CalibratedTable written =
      aif::sim::write_calibrated_table(measured, arch->second, o.fit_from.empty() ? profile_h5 : o.fit_from, out);
  const aif::sim::StepOverhead& fit = written.fit;
  std::printf("fit      %zu steps: per step %.3f ms, per sequence %.2f us, per token %.3f us, per decode key %.4f us, "
              "per prefill pair %.3f ns\n",
              fit.iterations, fit.per_step_s * 1e3, fit.per_seq_s * 1e6, fit.per_token_s * 1e6, fit.per_key_s * 1e6,
              fit.per_prefill_pair_s * 1e9);
  std::printf("         step-time MAPE %.2f%% (operators only) -> %.2f%% (with the overhead)\n",
              100 * fit.mape_before, 100 * fit.mape_after);
  std::printf("outliers %zu left out: %s\n", written.outliers.lines.size(), written.outliers_text.c_str());
  std::printf("wrote    %s (%zu rows)\n", out.c_str(), written.rows);
  return 0;
}

// Public GPU kernel measurements -> data/calibration/<device>.csv.
int run_gpu_conversion(const CalibrateOptions& o) {
  if (o.from.size() != 2 || o.from[0] != "aiconfigurator") {
    std::cerr << "error: --from " << (o.from.empty() ? "" : o.from[0])
              << ": the converter reads AIConfigurator's tables: --from aiconfigurator DIR\n";
    return 2;
  }
  if (o.vidur.empty()) {
    std::cerr << "error: --from aiconfigurator also needs --vidur DIR (elementwise operators and send/recv)\n";
    return 2;
  }
  sim::ProfileSources src;
  src.aiconfigurator = o.from[1];
  src.vidur = o.vidur;
  src.device = o.device;
  src.aiconfigurator_ref = o.aiconfigurator_ref;
  src.vidur_ref = o.vidur_ref;
  for (const auto& [name, arch] : sim::load_model_catalog(sim::data_dir() + "/models.yaml")) src.models.push_back(arch);
  const std::string out = o.output.empty() ? sim::data_dir() + "/calibration/" + o.device + ".csv" : o.output;
  // The provenance names the inputs by role, not by where they are on this machine.
  src.command = "aifsim calibrate --from aiconfigurator AICONFIGURATOR_SYSTEMS_DATA --vidur VIDUR_REPO --device " +
                o.device + " --aiconfigurator-ref " + o.aiconfigurator_ref + " --vidur-ref " + o.vidur_ref;
  const size_t rows = sim::write_device_profile(src, out);
  std::printf("wrote    %s (%zu rows)\n", out.c_str(), rows);
  return 0;
}

}  // namespace

CLI::App* add_calibrate_command(CLI::App& app, CalibrateOptions& o) {
  CLI::App* c = app.add_subcommand(
      "calibrate",
      "Write a device profile: time this CPU (aifsim-kbench and the engine's step overhead), or convert public GPU "
      "kernel measurements (--from aiconfigurator)");
  c->add_option("--device", o.device,
                "Device: cpu-local (this machine's CPU) or, with --from, a catalog GPU (A100-80GB, H100-SXM, H200-SXM)");
  c->add_option("--model", o.model, "CPU: model whose shapes are timed (key of data/models.yaml)");
  c->add_option("--grid", o.grid, "CPU: operator grid: tiny (tests), small (CI) or full")
      ->check(CLI::IsMember({"tiny", "small", "full"}));
  c->add_option("-o,--output", o.output,
                "Table to write; default data/calibration/<device>-<model>.csv (CPU), <device>.csv (GPU)");
  c->add_option("--threads", o.threads, "CPU threads (0: all)")->check(CLI::NonNegativeNumber);
  c->add_option("--table", o.table, "CPU: reuse this measured table instead of running aifsim-kbench");
  c->add_option("--fit-from", o.fit_from,
                "CPU: fit the step overhead on the steps of this results file (e.g. an aifsim-engine serve run) "
                "instead of an aifsim-engine profile run");
  c->add_option("--from", o.from, "GPU: the measurements' kind (aiconfigurator) and its systems/data folder")
      ->expected(2);
  c->add_option("--vidur", o.vidur, "GPU: Vidur's repository folder (elementwise operators, send/recv)");
  c->add_option("--aiconfigurator-ref", o.aiconfigurator_ref, "GPU: the AIConfigurator commit, for the provenance");
  c->add_option("--vidur-ref", o.vidur_ref, "GPU: the Vidur commit, for the provenance");
  return c;
}

int run_calibrate(const CalibrateOptions& o) {
  if (!o.from.empty()) return run_gpu_conversion(o);
  if (o.device != "cpu-local") {
    std::cerr << "error: --device " << o.device
              << ": only cpu-local is measured here; GPU profiles come from public measurements "
                 "(--from aiconfigurator DIR --vidur DIR)\n";
    return 2;
  }
  return run_cpu_calibrate(o);
}

}  // namespace aif::cli
