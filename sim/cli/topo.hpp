// `aifsim topo`: build a scenario's network fabric and report its analytic properties (counts, bisection bandwidth,
// diameter, oversubscription), optionally as Graphviz.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace aif::cli {

struct TopoOptions {
  std::string scenario;
  std::vector<std::string> sets;  // --set key.path=value
  std::string dot;                // --dot: Graphviz output file ("" = none)
  std::string json;               // --json: the fabric's counts and the placement as JSON ("-" = stdout)
};

// Registers the subcommand; `options` must outlive the parse.
CLI::App* add_topo_command(CLI::App& app, TopoOptions& options);

// Runs it, printing to stdout; returns the exit code. A bad scenario throws sim::ScenarioError (exit 2 in main).
int run_topo(const TopoOptions& options);

}  // namespace aif::cli
