// `aifsim steptime`: the step time of a service at chosen batch shapes, and where it goes (GEMMs, attention,
// elementwise, communication, the engine's CPU work): what a capacity planner checks before simulating.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace aif::cli {

struct SteptimeOptions {
  std::string gpu = "H100-SXM", model = "Llama-3.1-8B", dtype = "bf16", engine = "vllm-0.11", perf;
  int tp = 1, pp = 1;
  std::vector<int> decode = {1, 8, 32, 128};  // decode batch sizes
  int context = 1024;                          // keys per decoding sequence
  std::vector<int> prefill = {512, 2048};      // prompt chunk lengths (one sequence)
  int prefix = 0;                              // cached tokens before each prefill chunk
  bool eager = false;                          // the engine without CUDA graphs
};

CLI::App* add_steptime_command(CLI::App& app, SteptimeOptions& options);
int run_steptime(const SteptimeOptions& options);

}  // namespace aif::cli
