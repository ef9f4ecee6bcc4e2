// The GPU validation sets (data/validation/, docs/validation-gpu.md): measured vLLM runs on H100s, each turned into a
// scenario the simulator replays with the run's engine limits, and the figures to set beside the measured ones.
//   blis:          per-request latencies of four vLLM 0.11 runs on one H100 (TTFT and E2E mean, p50, p90);
//   mlenergy:      ML.ENERGY's saturated runs (vLLM 0.5.4): average TPOT and steady-state throughput per batch limit;
//   llmservingsim: vLLM throughput over time of Llama-3.1-70B TP4 deployments (one instance, two, disaggregated);
//   mlenergy-power: the mlenergy runs again, for the GPU power model: average GPU power and energy per request
//                  (docs/validation-power.md; not part of "all sets", which are the step-time validation).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "aif/models/power.hpp"

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
  enum class Kind { REQUESTS, SATURATED, THROUGHPUT, POWER };
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
  // POWER: ML.ENERGY's GPU energy per request (all GPUs of the replica), mean output tokens, the replica's GPUs and
  // the device replayed (its power model).
  double measured_energy_per_request_j = 0, mean_output_tokens = 0;
  int gpus = 0, tp = 1, pp = 1;
  models::DeviceSpec device;
  models::ModelArch model;
  double mean_prompt_tokens = 0;  // of the replayed trace
  std::vector<double> measured_per_second;
  std::vector<double> reference_per_second;  // what another simulator predicted for the same run (context)
};

// The cases of the named sets ("" = blis, mlenergy and llmservingsim) from the validation data under data_dir (the bundled data/ folder). quick:
// the few short cases CI runs. Throws ScenarioError naming the data file and line on malformed data.
std::vector<GpuValidationCase> gpu_validation_cases(const std::string& data_dir, const std::string& set, bool quick);

// The simulated figures of a case from its results file, beside the measured ones.
std::vector<GpuValidationMetric> evaluate_gpu_case(const GpuValidationCase& c, const std::string& results_h5);

// ---- the GPU power model: its fit (aifsim fit-power, data/power/) and its samples ------------------------------------

// A saturated run as the GPU power model sees it, per GPU: the measured average power (energy per request x requests
// per second / GPUs, requests per second = throughput / mean output) and the FLOP and HBM byte rates: the work of a
// request of the mean prompt and output lengths (StepWorkModel::request_work; the spread of the lengths is left out)
// times the request rate, plus the weights read once per step, a step per measured TPOT (a saturated run gives every
// running request one token per step).
models::GpuPowerSample saturated_run_sample(const models::ModelArch& model, int tp, int pp, double mean_prompt_tokens,
                                            double energy_per_request_j, double throughput_tokens_per_s,
                                            double mean_output_tokens, double tpot_s);

struct PowerFitRun {
  std::string name;  // task-model-tp-bs, as the validation cases are named
  std::string model;  // the leaderboard's model name
  int gpus = 0;
  models::GpuPowerSample sample;
};
// The fit's runs: ML.ENERGY's rows (its flat table llm_v2_flat.csv) of `measured_gpu` for the models of `fit_models`
// (data/power/fit_models.yaml, keyed by the leaderboard's model names: none of them a catalog model), prompts at the
// benchmark's mean length (chat 132.3, code 153.5 tokens). Throws ScenarioError naming the file, line and column on
// malformed data.
std::vector<PowerFitRun> power_fit_runs(const std::string& flat_csv, const std::string& measured_gpu,
                                        const std::map<std::string, models::ModelArch>& fit_models);

}  // namespace aif::sim
