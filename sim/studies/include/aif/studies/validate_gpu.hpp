// The GPU validation sets (data/validation/, docs/validation-gpu.md): measured vLLM runs on H100s, each turned into a
// scenario the simulator replays with the run's engine limits, and the figures to set beside the measured ones.
//   blis:          per-request latencies of four vLLM 0.11 runs on one H100 (TTFT and E2E mean, p50, p90);
//   mlenergy:      ML.ENERGY's saturated runs (vLLM 0.5.4): average TPOT and steady-state throughput per batch limit;
//   llmservingsim: vLLM throughput over time of Llama-3.1-70B TP4 deployments (one instance, two, disaggregated).
#pragma once
#include <string>
#include <vector>

namespace aif::sim {

struct GpuValidationMetric {
  std::string name;   // e.g. "ttft_p50"
  std::string unit;   // "s", "tokens/s"
  double measured = 0;
  double simulated = 0;
  bool context = false;  // shown for context, not one of the validated figures (not in the medians)
  // Relative error; a metric whose measured value is 0 is itself a relative difference (its simulated value).
  double error() const { return measured != 0 ? (simulated - measured) / measured : simulated; }
};

struct GpuValidationCase {
  enum class Kind { REQUESTS, SATURATED, THROUGHPUT };
  std::string set;             // blis | mlenergy | llmservingsim
  std::string name;            // unique within the set; a folder name
  std::string description;     // one line for the report
  Kind kind = Kind::REQUESTS;
  bool fit = false;            // the run the engine overhead was fitted on: reported apart, not validated
  std::string scenario_yaml;   // the scenario, naming its trace as "trace.csv" beside it
  std::string trace_csv;       // arrival_s,prompt_tokens,output_tokens
  // Measured figures: REQUESTS: per-request TTFT and E2E; SATURATED: avg TPOT and throughput; THROUGHPUT: the
  // measured output tokens per second, second by second from t = 1 (tokens of [t - 1, t)).
  std::vector<double> measured_ttft_s, measured_e2e_s;
  double measured_tpot_s = 0, measured_throughput = 0, measured_batch = 0;
  std::vector<double> measured_per_second;
  std::vector<double> reference_per_second;  // what another simulator predicted for the same run (context)
};

// The cases of the named sets ("" = all) from the validation data under data_dir (the bundled data/ folder). quick:
// the few short cases CI runs. Throws ScenarioError naming the data file and line on malformed data.
std::vector<GpuValidationCase> gpu_validation_cases(const std::string& data_dir, const std::string& set, bool quick);

// The simulated figures of a case from its results file, beside the measured ones.
std::vector<GpuValidationMetric> evaluate_gpu_case(const GpuValidationCase& c, const std::string& results_h5);

}  // namespace aif::sim
