#include "report.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "aif/analysis/compare.hpp"
#include "aif/analysis/report.hpp"
#include "aif/analysis/results.hpp"

namespace aif::cli {

namespace fs = std::filesystem;

CLI::App* add_report_command(CLI::App& app, ReportOptions& options) {
  CLI::App* report = app.add_subcommand(
      "report", "Write a self-contained HTML report (charts, tables, scenario) of a results file, a sweep folder or a plan folder");
  report->add_option("input", options.input, "Results file (HDF5), or an `aifsim sweep` or `aifsim plan` output folder")->required();
  report->add_option("-o,--output", options.output, "HTML file; default <results>.html or <folder>/report.html");
  return report;
}

int run_report(const ReportOptions& o) {
  try {
    analysis::ReportInfo info;
    std::string out = o.output;
    std::error_code unreadable;  // a path the system refuses (too long) is no folder: the reader says why
    if (fs::is_directory(o.input, unreadable)) {
      if (out.empty()) out = (fs::path(o.input) / "report.html").string();
      info = fs::exists(fs::path(o.input) / "plan.csv", unreadable) ? analysis::write_plan_report(o.input, out)
                                                         : analysis::write_sweep_report(o.input, out);
    } else {
      if (out.empty()) out = fs::path(o.input).replace_extension(".html").string();
      const analysis::ResultsReader reader(o.input);
      info = analysis::write_results_report(reader, out);
    }
    std::printf("report   %s: %zu charts, %.1f KiB\n", out.c_str(), info.charts, info.bytes / 1024.0);
    return 0;
  } catch (const analysis::ResultsError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
}

CLI::App* add_compare_command(CLI::App& app, CompareOptions& options) {
  CLI::App* compare = app.add_subcommand(
      "compare", "Compare the summary metrics of two runs (or two sets of seed replicas), with a noise test");
  compare->add_option("files", options.a, "A.h5 B.h5, or the A replicas when --vs gives the B ones")->required();
  compare->add_option("--vs", options.b, "B replicas (results files of B over seeds)");
  compare->add_option("--noise", options.noise,
                      "Sweep folder of one configuration over seeds: its spread is the run-to-run noise");
  compare->add_option("--json", options.json, "Also write the comparison as JSON to this file");
  return compare;
}

int run_compare(const CompareOptions& o) {
  std::vector<std::string> a = o.a, b = o.b;
  if (b.empty()) {
    if (a.size() != 2) {
      std::cerr << "error: compare needs two results files (A.h5 B.h5), or A1.h5 ... --vs B1.h5 ...; got "
                << a.size() << "\n";
      return 2;
    }
    b = {a[1]};
    a.resize(1);
  }
  try {
    analysis::NoiseEstimate noise;
    if (!o.noise.empty()) noise = analysis::noise_from_sweep(o.noise);
    const analysis::RunComparison c = analysis::compare_runs(a, b, o.noise.empty() ? nullptr : &noise);
    std::cout << analysis::format_comparison(c);
    if (!o.json.empty()) {
      const std::string tmp = o.json + ".tmp";
      {
        std::ofstream out(tmp);
        out << analysis::comparison_json(c);
        if (!out) throw analysis::ResultsError(o.json + ": cannot write");
      }
      fs::rename(tmp, o.json);
    }
    return 0;
  } catch (const analysis::ResultsError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace aif::cli
