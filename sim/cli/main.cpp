// aifsim command line: a thin front end over aif::sim and aif::analysis.
// Exit codes: 0 success, 2 bad input (scenario, trace, option, results file), 1 any other failure. A run stopped by SIGTERM or
// SIGINT under --partial-on-stop exits 0 once its partial results are written (the done line says partial); without
// it, such a run exits 128 + the signal at once and leaves no results file, not even a partial one.
#include <CLI/CLI.hpp>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "aif/analysis/fingerprint.hpp"
#include "aif/analysis/glossary.hpp"
#include "aif/analysis/summary.hpp"
#include "aif/inputs/calibration.hpp"
#include "aif/scenario/run_estimate.hpp"
#include "aif/scenario/scenario.hpp"
#include "aif/world/simulation.hpp"
#include "aif/studies/validate.hpp"
#include "aif/analysis/chrome_trace.hpp"
#include "calibrate.hpp"
#include "steptime.hpp"
#include "validate_gpu.hpp"
#include "fit_power.hpp"
#include "compare_kernels.hpp"
#include "report.hpp"
#include "plan.hpp"
#include "sweep.hpp"
#include "topo.hpp"

namespace {

// Set by SIGTERM / SIGINT under --partial-on-stop; the run checks it between slices.
std::atomic<bool> g_stop_requested{false};
// Without --partial-on-stop, SIGTERM / SIGINT end the run at once: the handler removes the results file being
// written ("<output>.tmp"; unlink is async-signal-safe) and exits 128 + the signal, so that nothing half-written
// is left. A SIGKILL leaves the .tmp file, which the next run to the same output truncates and reuses.
char g_tmp_path[4096] = "";

std::string default_output(const std::string& scenario) {
  return "results/" + std::filesystem::path(scenario).stem().string() + ".h5";
}

// Edit distance (insertions, deletions, substitutions; a swap of neighbours counts one): how far a mistyped
// subcommand is from a real one.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

// "aifsim rnu": CLI11 would say only that a subcommand is required. Names the closest subcommand instead (within two
// edits, or a prefix), or lists them all.
int unknown_subcommand(const CLI::App& app, const std::string& word) {
  std::string best, names;
  size_t best_distance = 3;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    const std::string& name = sub->get_name();
    names += (names.empty() ? "" : ", ") + name;
    const size_t distance = name.rfind(word, 0) == 0 ? 1 : edit_distance(word, name);
    if (distance < best_distance) best_distance = distance, best = name;
  }
  std::cerr << "error: '" << word << "' is not an aifsim command";
  if (!best.empty()) std::cerr << "; did you mean '" << best << "'?";
  std::cerr << "\ncommands: " << names << " (aifsim --help)\n";
  return 2;
}

std::string join_args(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
  return s;
}

// `aifsim glossary [NAME] [--markdown]`: one definition, or all of them.
int print_glossary(const std::string& name, bool markdown) {
  using aif::analysis::GlossaryKind;
  if (markdown || name.empty()) {
    if (markdown) {
      std::cout << aif::analysis::glossary_markdown();
    } else {
      for (const auto& e : aif::analysis::glossary())
        std::cout << e.pattern << " [" << e.unit << "]: " << e.definition << "\n";
    }
    return 0;
  }
  const aif::analysis::GlossaryEntry* e = aif::analysis::glossary_entry(name, GlossaryKind::SUMMARY);
  if (!e) e = aif::analysis::glossary_entry(name, GlossaryKind::SERIES);
  if (!e) {
    std::cerr << "error: '" << name << "' is no summary metric or series aifsim writes (aifsim glossary lists them)\n";
    return 2;
  }
  std::cout << name << " (" << e->title << ", " << e->unit << "): " << e->definition << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"aifsim: discrete-event simulator of an AI factory (GPU racks, fabric, power, serving)"};
  app.set_version_flag("--version", std::string("aifsim ") + AIF_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  aifsim run scenarios/default.yaml -o results/default.h5     simulate, print the summary, write the results\n"
      "  aifsim report results/default.h5                            the results as a self-contained HTML report\n"
      "Scenario format: scenarios/README.md and scenarios/scenario.schema.json (every key, with units and defaults).\n"
      "Results: docs/results-format.md. What each metric means: aifsim glossary (docs/glossary.md).\n"
      "aifsim COMMAND --help for a command's options.");

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
  int compression = 0;
  bool no_limits = false;
  run->add_flag("--no-limits", no_limits,
                "Run even when the estimate (requests, samples, results size, memory) exceeds the limits "
                "(docs/reliability.md)");
  int64_t max_held = -1;
  run->add_option("--max-requests-held", max_held,
                  "Stop the run (partial results, exit 2) when more requests than this have arrived and are not "
                  "done: the services cannot keep up. Default: half this machine's memory at 300 bytes a request; "
                  "--no-limits: no bound")
      ->check(CLI::PositiveNumber);
  run->add_option("--compress", compression,
                  "Deflate the results file's tables at this level, 1 (fast) to 9 (small); 0, the default, stores "
                  "them raw (fastest to write, largest)")
      ->check(CLI::Range(0, 9));
  run->add_flag("--progress-json", progress_json,
                "One JSON object per line on stdout as the run progresses (what aifsim-gui reads)");
  run->add_flag("--partial-on-stop", partial_on_stop,
                "On SIGTERM or SIGINT stop at the next slice, write the results marked partial and exit 0");

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

  aif::cli::ValidateGpuOptions validate_gpu_options;
  CLI::App* validate_gpu = aif::cli::add_validate_gpu_command(app, validate_gpu_options);
  aif::cli::FitPowerOptions fit_power_options;
  CLI::App* fit_power = aif::cli::add_fit_power_command(app, fit_power_options);
  aif::cli::SteptimeOptions steptime_options;
  CLI::App* steptime = aif::cli::add_steptime_command(app, steptime_options);
  aif::cli::CalibrateOptions calibrate_options;
  CLI::App* calibrate = aif::cli::add_calibrate_command(app, calibrate_options);
  aif::cli::CompareKernelsOptions compare_kernels_options;
  CLI::App* compare_kernels = aif::cli::add_compare_kernels_command(app, compare_kernels_options);

  std::string glossary_name;
  bool glossary_markdown = false;
  CLI::App* glossary = app.add_subcommand("glossary", "What a summary metric or a time series means (all of them without a name)");
  glossary->add_option("name", glossary_name, "A summary metric or series name, e.g. service.chat.ttft_p99");
  glossary->add_flag("--markdown", glossary_markdown, "The whole glossary as Markdown (docs/glossary.md)");

  if (argc > 1 && argv[1][0] != '-') {
    const std::string word = argv[1];
    const auto subs = static_cast<const CLI::App&>(app).get_subcommands([&](const CLI::App* sub) { return sub->get_name() == word; });
    if (subs.empty()) return unknown_subcommand(app, word);
  }
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
      const aif::sim::RunEstimate estimate =
          aif::sim::estimate_run(sc, sc.simulation.fidelity == aif::sim::Fidelity::ITERATION);
      std::cout << aif::sim::describe(estimate) << "\n";
      for (const std::string& warning : aif::sim::scenario_warnings(sc)) std::cout << "warning: " << warning << "\n";
      try {
        aif::sim::check_run_limits(sc, estimate);
      } catch (const aif::sim::ScenarioError& e) {
        std::cout << "warning: aifsim run would refuse it: " << e.what() << "\n";
      }
      return 0;
    }
    if (*glossary) return print_glossary(glossary_name, glossary_markdown);
    if (*calibrate) return aif::cli::run_calibrate(calibrate_options);
    if (*validate_gpu) return aif::cli::run_validate_gpu(validate_gpu_options);
    if (*fit_power) return aif::cli::run_fit_power(fit_power_options);
    if (*steptime) return aif::cli::run_steptime(steptime_options);
    if (*topo) return aif::cli::run_topo(topo_options);
    if (*sweep) return aif::cli::run_sweep(sweep_options);
    if (*plan) return aif::cli::run_plan(plan_options);
    if (*report_cmd) return aif::cli::run_report(report_options);
    if (*compare) return aif::cli::run_compare(compare_options);
    if (*compare_kernels) return aif::cli::run_compare_kernels(compare_kernels_options);
    if (*trace) {
      const std::string out =
          trace_out.empty() ? (std::filesystem::path(trace_results).replace_extension(".trace.json")).string() : trace_out;
      const auto counts = aif::analysis::write_chrome_trace(aif::analysis::ResultsReader(trace_results), out);
      std::printf("trace    %s: %zu engine steps, %zu job steps, %zu events\n", out.c_str(), counts.iterations,
                  counts.job_steps, counts.events);
      return 0;
    }
    if (*vagainst) {
      aif::sim::EngineComparisonOptions vo;
      vo.measured_path = measured_path;
      vo.scenario_path = vscenario;
      vo.simulated_path =
          vout.empty() ? "results/" + std::filesystem::path(measured_path).stem().string() + ".sim.h5" : vout;
      vo.overrides = vsets;
      const aif::sim::EngineComparison r = aif::sim::compare_with_engine_run(vo);
      const std::string report = aif::analysis::format_engine_comparison_report(r.metrics, r.steps);
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
    if (!quiet)
      for (const std::string& warning : aif::sim::scenario_warnings(sc)) std::cerr << "warning: " << warning << "\n";
    aif::sim::RunOptions opt;
    opt.output_path = output.empty() ? default_output(scenario_path) : output;
    opt.compression = compression;
    // Refuse a run whose output would not fit (samples, results size, memory) before anything is written.
    const aif::sim::RunEstimate estimate = aif::sim::estimate_run(
        sc, iteration_level || sc.simulation.fidelity == aif::sim::Fidelity::ITERATION);
    if (!no_limits) aif::sim::check_run_limits(sc, estimate);
    opt.estimated_requests = estimate.requests;
    opt.max_requests_held = max_held > 0 ? max_held : no_limits ? 0 : aif::sim::max_requests_held();
    if (iteration_level) opt.fidelity = aif::sim::Fidelity::ITERATION;
    opt.progress = !quiet && !no_progress && !progress_json && isatty(fileno(stderr));
    opt.progress_json = progress_json;
    {
      struct sigaction action {};
      if (partial_on_stop) {
        action.sa_handler = [](int) { g_stop_requested.store(true); };
        opt.stop_requested = &g_stop_requested;
      } else {
        std::snprintf(g_tmp_path, sizeof g_tmp_path, "%s.tmp", opt.output_path.c_str());
        action.sa_handler = [](int signo) {
          unlink(g_tmp_path);
          _exit(128 + signo);
        };
      }
      sigemptyset(&action.sa_mask);
      sigaction(SIGTERM, &action, nullptr);
      sigaction(SIGINT, &action, nullptr);
    }
    opt.tool_version = AIF_VERSION;
    opt.command_line = join_args(argc, argv);
    const aif::sim::RunReport rep = aif::sim::run_simulation(sc, opt);
    if (progress_json) {
      // The results path as a JSON string (quotes, backslashes and control characters escaped).
      const nlohmann::json done{{"done", true},
                                {"partial", rep.partial},
                                {"simulated_s", rep.simulated_s},
                                {"fingerprint", aif::analysis::fingerprint_hex(rep.fingerprint)},
                                {"results", opt.output_path}};
      std::fputs((done.dump() + "\n").c_str(), stdout);
      std::fflush(stdout);
    }
    if (!quiet && !progress_json) {
      std::cout << aif::analysis::format_summary_table(rep.summary);
      for (const auto& [service, how] : rep.perf) std::printf("perf model   %s: %s\n", service.c_str(), how.c_str());
      std::printf("fingerprint  %s\nresults      %s\n", aif::analysis::fingerprint_hex(rep.fingerprint).c_str(),
                  opt.output_path.c_str());
      rusage usage{};
      getrusage(RUSAGE_SELF, &usage);
      std::printf("wall time    %.2f s (%.0f events/s, %.0f requests/s, simulated/wall %.0fx, peak RSS %.0f MiB)\n",
                  rep.wall_s, rep.events / rep.wall_s, rep.requests / rep.wall_s, rep.simulated_s / rep.wall_s,
                  usage.ru_maxrss / 1024.0);
    }
    if (!rep.stop_reason.empty()) {
      std::cerr << "error: " << scenario_path << ": the run stopped early: " << rep.stop_reason
                << ". The services cannot keep up with the load: add replicas or lower the workloads' rates, raise "
                   "--max-requests-held, or run with --no-limits. Partial results: "
                << opt.output_path << "\n";
      return 2;
    }
    return 0;
  } catch (const aif::sim::ScenarioError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const aif::analysis::ResultsError& e) {  // a missing, foreign, damaged or other-version results file
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
