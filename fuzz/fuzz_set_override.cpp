// `--set key.path=value` options: each line of the bytes is one override, applied to a small valid scenario that
// has every section an override may reach into (facility power, services, workloads, jobs, grid, failures).
#include <sstream>
#include <vector>

#include "aif/scenario/scenario.hpp"
#include "fuzz_input.hpp"

namespace {

const char* const BASE = R"(simulation: {duration: 10min, seed: 1}
hardware: {gpu: H100-SXM}
facility: {racks: 2, servers_per_rack: 2, gpus_per_server: 8,
           power: {rack_power_limit: 40kW, cooling: {pue_free_cooling: 1.15, free_cooling_below_c: 18}}}
services:
  - name: chat
    model: Llama-3.1-8B
    replicas: 2
    slo: {ttft: 1s, tpot: 50ms}
workloads:
  - name: users
    service: chat
    arrival:
      kind: poisson
      rate: 2/s
      prompt_tokens: {dist: lognormal, median: 500, sigma: 0.5, max: 4000}
      output_tokens: 200
jobs:
  - name: tune
    kind: fine_tuning
    model: Llama-3.1-8B
    parallelism: {dp: 4, tp: 2}
    global_batch: 64
    micro_batch: 1
    seq_len: 2048
    steps: 10
grid:
  carbon_intensity_g_per_kwh: 400
  price_per_kwh: 0.1
failures:
  scale: 0
)";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> overrides;
  std::istringstream lines(std::string(reinterpret_cast<const char*>(data), size));
  for (std::string line; std::getline(lines, line);) overrides.push_back(line);
  aif::fuzz::expect_input_errors([&] { aif::sim::load_scenario_text(BASE, "base.yaml", overrides); });
  return 0;
}
