// aifsim command line: a thin front end over aif::sim and aif::analysis.
// Exit codes: 0 success, 2 bad input (scenario, trace, option), 1 any other failure.
#include <CLI/CLI.hpp>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "aif/analysis/fingerprint.hpp"
#include "aif/analysis/summary.hpp"
#include "aif/sim/calibration.hpp"
#include "aif/sim/scenario.hpp"
#include "aif/sim/simulation.hpp"
#include "aif/sim/validate.hpp"
#include "aif/analysis/chrome_trace.hpp"
#include "report.hpp"
#include "plan.hpp"
#include "sweep.hpp"
#include "topo.hpp"

namespace {

// Set by SIGTERM / SIGINT under --partial-on-stop; the run checks it between slices.
std::atomic<bool> g_stop_requested{false};

std::string default_output(const std::string& scenario) {
  return "results/" + std::filesystem::path(scenario).stem().string() + ".h5";
}

std::string join_args(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
  return s;
}

// ---- aifsim calibrate ---------------------------------------------------------------------------------------------

struct CalibrateOptions {
  std::string device = "cpu-local";
  std::string model = "small-llama";
  std::string grid = "small";
  std::string output;  // default <data dir>/calibration/<device>-<model>.csv
  int threads = 0;     // 0: all cores
  std::string table;     // reuse this measured table instead of running kbench (its old fit is replaced)
  std::string fit_from;  // fit the overhead on this results file's /iterations instead of a profile run
};

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
int run_calibrate(const CalibrateOptions& o) {
  namespace fs = std::filesystem;
  if (o.device != "cpu-local") {
    std::cerr << "error: --device " << o.device << ": no device machine here; only cpu-local\n";
    return 2;
  }
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
  const std::string table_tmp = out + ".kbench.tmp", final_tmp = out + ".tmp";
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
  } cleanup{{table_tmp, final_tmp, profile_h5}};

  if (o.table.empty()) {
    if (run_program({kbench, "--backend", "cpu", "--model", o.model, "--grid", o.grid, "--threads", threads, "-o",
                     table_tmp}) != 0) {
      throw std::runtime_error("aifsim-kbench failed; no table written");
    }
  } else {
    // A table measured before: keep its rows and provenance, drop an earlier fit.
    aif::sim::read_calibration_csv(o.table);
    std::ifstream src(o.table);
    std::ofstream dst(table_tmp);
    for (std::string l; std::getline(src, l);) {
      const bool old_fit = l.rfind("# iteration_overhead_s:", 0) == 0 || l.rfind("# overhead_", 0) == 0;
      if (!old_fit) dst << l << "\n";
    }
  }
  const aif::models::CalibrationTable table = aif::sim::read_calibration_csv(table_tmp);
  if (o.fit_from.empty() && run_program({engine, "profile", "--backend", "cpu", "--model", o.model, "--threads",
                                         threads, "-o", profile_h5}) != 0) {
    throw std::runtime_error("aifsim-engine profile failed; no table written");
  }
  const aif::sim::StepOverhead fit =
      aif::sim::fit_step_overhead(table, arch->second, o.fit_from.empty() ? profile_h5 : o.fit_from);

  // The fit goes at the end of the '# key: value' header, before the column header.
  std::ifstream in(table_tmp);
  std::ofstream os(final_tmp);
  std::string line;
  bool inserted = false;
  char values[256];
  std::snprintf(values, sizeof values,
                "# iteration_overhead_s: %.6e\n# overhead_per_seq_s: %.6e\n# overhead_per_token_s: %.6e\n"
                "# overhead_per_key_s: %.6e\n"
                "# overhead_fit: %zu profile steps, step-time median APE %.2f%% without the overhead, %.2f%% with it\n",
                fit.per_step_s, fit.per_seq_s, fit.per_token_s, fit.per_key_s, fit.iterations, 100 * fit.mape_before,
                100 * fit.mape_after);
  while (std::getline(in, line)) {
    if (!inserted && !line.empty() && line[0] != '#') {
      os << values;
      inserted = true;
    }
    os << line << "\n";
  }
  os.close();
  if (!os) throw std::runtime_error("cannot write " + final_tmp);
  aif::sim::read_calibration_csv(final_tmp);  // what is renamed into place reads back
  fs::rename(final_tmp, out);
  std::printf("fit      %zu steps: per step %.3f ms, per sequence %.2f us, per token %.3f us, per decode key %.4f us\n",
              fit.iterations, fit.per_step_s * 1e3, fit.per_seq_s * 1e6, fit.per_token_s * 1e6, fit.per_key_s * 1e6);
  std::printf("         step-time MAPE %.2f%% (operators only) -> %.2f%% (with the overhead)\n",
              100 * fit.mape_before, 100 * fit.mape_after);
  std::printf("wrote    %s (%zu rows)\n", out.c_str(), table.rows.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"aifsim: discrete-event simulator of an AI factory (GPU racks, fabric, power, serving)"};
  app.set_version_flag("--version", std::string("aifsim ") + AIF_VERSION);
  app.require_subcommand(1);

  std::string scenario_path, output;
  std::vector<std::string> sets;
  int64_t seed = -1;
  bool quiet = false, iteration_level = false, no_progress = false;

  CLI::App* run = app.add_subcommand("run", "Simulate a scenario and write a results file");
  run->add_option("scenario", scenario_path, "Scenario file (YAML)")->required();
  run->add_option("-o,--output", output, "Results file (HDF5); default results/<scenario name>.h5");
  run->add_option("--set", sets, "Override a scenario value: key.path=value (repeatable)");
  run->add_option("--seed", seed, "Random seed (overrides simulation.seed)")->check(CLI::NonNegativeNumber);
  run->add_flag("--iteration-level", iteration_level, "One event per scheduler iteration (reference mode)");
  run->add_flag("-q,--quiet", quiet, "Print nothing but errors");
  run->add_flag("--no-progress", no_progress, "No progress bar even on a terminal");
  bool progress_json = false, partial_on_stop = false;
  run->add_flag("--progress-json", progress_json,
                "One JSON object per line on stdout as the run progresses (what aifsim-gui reads)");
  run->add_flag("--partial-on-stop", partial_on_stop,
                "On SIGTERM or SIGINT stop at the next slice and still write the results, marked partial");

  std::string validate_path;
  std::vector<std::string> validate_sets;
  CLI::App* validate = app.add_subcommand("validate", "Check a scenario file and exit (0 valid, 2 invalid)");
  validate->add_option("scenario", validate_path, "Scenario file (YAML)")->required();
  validate->add_option("--set", validate_sets, "Override a scenario value: key.path=value (repeatable)");

  std::string measured_path, vscenario, vout, vreport;
  std::vector<std::string> vsets;
  CLI::App* vagainst = app.add_subcommand(
      "validate-against", "Simulate the requests of a real engine run (aifsim-engine serve) and compare with it");
  vagainst->add_option("measured", measured_path, "Results file written by aifsim-engine serve")->required();
  vagainst->add_option("--scenario", vscenario, "Scenario template (e.g. scenarios/validation/cpu-small-llama.yaml)")
      ->required();
  vagainst->add_option("-o,--output", vout, "Simulated results file; default results/<measured name>.sim.h5");
  vagainst->add_option("--report", vreport, "Also write the comparison as Markdown to this file");
  vagainst->add_option("--set", vsets, "Override a scenario value: key.path=value (repeatable)");

  aif::cli::TopoOptions topo_options;
  CLI::App* topo = aif::cli::add_topo_command(app, topo_options);

  std::string trace_results, trace_out;
  CLI::App* trace = app.add_subcommand(
      "trace", "Export a results file's timeline as a Chrome trace (chrome://tracing, Perfetto): steps, job steps, events");
  trace->add_option("results", trace_results, "Results file (HDF5)")->required();
  trace->add_option("-o,--output", trace_out, "Trace file (JSON); default <results>.trace.json");

  aif::cli::SweepOptions sweep_options;
  CLI::App* sweep = aif::cli::add_sweep_command(app, sweep_options);

  aif::cli::PlanOptions plan_options;
  CLI::App* plan = aif::cli::add_plan_command(app, plan_options);
  aif::cli::ReportOptions report_options;
  CLI::App* report_cmd = aif::cli::add_report_command(app, report_options);
  aif::cli::CompareOptions compare_options;
  CLI::App* compare = aif::cli::add_compare_command(app, compare_options);

  CalibrateOptions copt;
  CLI::App* calibrate = app.add_subcommand(
      "calibrate", "Time the operators (aifsim-kbench) and the engine's step overhead here; write a calibration table");
  calibrate->add_option("--device", copt.device, "Device to calibrate (only cpu-local: this machine's CPU)");
  calibrate->add_option("--model", copt.model, "Model whose shapes are timed (key of data/models.yaml)");
  calibrate->add_option("--grid", copt.grid, "Operator grid: tiny (tests), small (CI) or full")
      ->check(CLI::IsMember({"tiny", "small", "full"}));
  calibrate->add_option("-o,--output", copt.output, "Table to write; default data/calibration/<device>-<model>.csv");
  calibrate->add_option("--threads", copt.threads, "CPU threads (0: all)")->check(CLI::NonNegativeNumber);
  calibrate->add_option("--table", copt.table, "Reuse this measured table instead of running aifsim-kbench");
  calibrate->add_option("--fit-from", copt.fit_from,
                        "Fit the step overhead on the steps of this results file (e.g. an aifsim-engine serve run) "
                        "instead of an aifsim-engine profile run");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  try {
    if (*validate) {
      const aif::sim::Scenario sc = aif::sim::load_scenario(validate_path, validate_sets);
      std::cout << validate_path << ": valid (" << sc.services.size() << " services, " << sc.workloads.size()
                << " workloads, " << sc.facility.racks * sc.facility.servers_per_rack * sc.facility.gpus_per_server
                << " GPUs)\n";
      return 0;
    }
    if (*calibrate) return run_calibrate(copt);
    if (*topo) return aif::cli::run_topo(topo_options);
    if (*sweep) return aif::cli::run_sweep(sweep_options);
    if (*plan) return aif::cli::run_plan(plan_options);
    if (*report_cmd) return aif::cli::run_report(report_options);
    if (*compare) return aif::cli::run_compare(compare_options);
    if (*trace) {
      const std::string out =
          trace_out.empty() ? (std::filesystem::path(trace_results).replace_extension(".trace.json")).string() : trace_out;
      const auto counts = aif::analysis::write_chrome_trace(aif::analysis::ResultsReader(trace_results), out);
      std::printf("trace    %s: %zu engine steps, %zu job steps, %zu events\n", out.c_str(), counts.iterations,
                  counts.job_steps, counts.events);
      return 0;
    }
    if (*vagainst) {
      aif::sim::ValidationOptions vo;
      vo.measured_path = measured_path;
      vo.scenario_path = vscenario;
      vo.simulated_path =
          vout.empty() ? "results/" + std::filesystem::path(measured_path).stem().string() + ".sim.h5" : vout;
      vo.overrides = vsets;
      const aif::sim::ValidationResult r = aif::sim::validate_against(vo);
      const std::string report = aif::analysis::format_validation_report(r.metrics, r.steps);
      std::cout << "measured " << measured_path << " vs simulated " << vo.simulated_path << "\n\n" << report;
      if (!vreport.empty()) {
        const std::string tmp = vreport + ".tmp";
        std::ofstream(tmp) << "Measured `" << measured_path << "` vs simulated `" << vo.simulated_path << "`\n\n"
                           << report;
        std::filesystem::rename(tmp, vreport);
      }
      return 0;
    }
    if (seed >= 0) sets.push_back("simulation.seed=" + std::to_string(seed));
    const aif::sim::Scenario sc = aif::sim::load_scenario(scenario_path, sets);
    aif::sim::RunOptions opt;
    opt.output_path = output.empty() ? default_output(scenario_path) : output;
    if (iteration_level) opt.fidelity = aif::sim::Fidelity::ITERATION;
    opt.progress = !quiet && !no_progress && !progress_json && isatty(fileno(stderr));
    opt.progress_json = progress_json;
    if (partial_on_stop) {
      struct sigaction action {};
      action.sa_handler = [](int) { g_stop_requested.store(true); };
      sigemptyset(&action.sa_mask);
      sigaction(SIGTERM, &action, nullptr);
      sigaction(SIGINT, &action, nullptr);
      opt.stop_requested = &g_stop_requested;
    }
    opt.tool_version = AIF_VERSION;
    opt.command_line = join_args(argc, argv);
    const aif::sim::RunReport rep = aif::sim::run_simulation(sc, opt);
    if (progress_json) {
      std::printf("{\"done\":true,\"partial\":%s,\"simulated_s\":%.9g,\"fingerprint\":\"%s\",\"results\":\"%s\"}\n",
                  rep.partial ? "true" : "false", rep.simulated_s,
                  aif::analysis::fingerprint_hex(rep.fingerprint).c_str(), opt.output_path.c_str());
      std::fflush(stdout);
    }
    if (!quiet && !progress_json) {
      std::cout << aif::analysis::format_summary_table(rep.summary);
      std::printf("fingerprint  %s\nresults      %s\n", aif::analysis::fingerprint_hex(rep.fingerprint).c_str(),
                  opt.output_path.c_str());
      rusage usage{};
      getrusage(RUSAGE_SELF, &usage);
      std::printf("wall time    %.2f s (%.0f events/s, %.0f requests/s, simulated/wall %.0fx, peak RSS %.0f MiB)\n",
                  rep.wall_s, rep.events / rep.wall_s, rep.requests / rep.wall_s, rep.simulated_s / rep.wall_s,
                  usage.ru_maxrss / 1024.0);
    }
    return 0;
  } catch (const aif::sim::ScenarioError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
