// `aifsim report RESULTS.h5 | SWEEP_DIR [-o FILE]`: one self-contained HTML report (aif/analysis/report.hpp) of a
// results file (default <results>.html) or of a sweep folder (default DIR/report.html).
// `aifsim compare A.h5 B.h5` / `aifsim compare A1.h5 A2.h5 ... --vs B1.h5 B2.h5 ... [--noise SWEEP_DIR] [--json F]`:
// per summary metric A, B, B - A and whether the difference exceeds run-to-run noise (aif/analysis/compare.hpp).
// Both: exit 0, or 2 with one message naming the file for a missing, foreign or damaged input.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace aif::cli {

struct ReportOptions {
  std::string input;   // results file or sweep folder
  std::string output;  // default: <results>.html or <dir>/report.html
};
CLI::App* add_report_command(CLI::App& app, ReportOptions& options);
int run_report(const ReportOptions& options);

struct CompareOptions {
  std::vector<std::string> a;   // positional: A files (or A then B without --vs)
  std::vector<std::string> b;   // --vs
  std::string noise;            // --noise SWEEP_DIR
  std::string json;             // --json FILE
};
CLI::App* add_compare_command(CLI::App& app, CompareOptions& options);
int run_compare(const CompareOptions& options);

}  // namespace aif::cli
