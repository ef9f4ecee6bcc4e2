// `aifsim plan PLAN.yaml -o DIR [--jobs N]`: the cheapest deployment of a service that meets its SLOs
// (aif/studies/plan.hpp, docs/plan.md). Candidates are pruned with the perf model, the rest simulated cheapest first as
// child `aifsim run` processes (DIR/points/<id>.h5, resumable like a sweep), each also with the stated failure
// (<id>-n1.h5) once it meets the SLOs without it. Writes DIR/plan.csv (every candidate) and DIR/plan.md (the choice
// with and without the failure, the cost-latency frontiers), and prints plan.md.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

namespace aif::cli {

struct PlanOptions {
  std::string plan;
  std::string output;
  int jobs = 1;
  bool dry_run = false;  // enumerate, bound and list the candidates; simulate none
  bool check_pruned = false;  // also simulate the candidates the perf model pruned, to check that they miss
  bool no_limits = false;     // each candidate runs with --no-limits
};

CLI::App* add_plan_command(CLI::App& app, PlanOptions& options);
// 0: a candidate meets the SLOs (with the stated failure if any); 1: none does, a run failed, or (--check-pruned) a
// pruned candidate met the SLOs when simulated; 2: bad plan file.
int run_plan(const PlanOptions& options);

}  // namespace aif::cli
