// Serving figures computed the way published measurements define them, from a run's /requests and /iterations, so
// that a simulated run can be set beside a measured one (aifsim validate-gpu, docs/validation-gpu.md).
#pragma once
#include <cstddef>
#include <vector>

#include "aif/analysis/results.hpp"

namespace aif::analysis {

struct LatencySummary {
  double mean = 0, p50 = 0, p90 = 0;
  size_t count = 0;
};
// Mean and percentiles (linear interpolation between order statistics, numpy's default) of the values.
LatencySummary summarize_latencies(std::vector<double> values);

// ML.ENERGY's figures of a saturated run (every request sent at t = 0), as its aggregation script defines them
// (ml-energy/leaderboard-v2, benchmark/llm_text_generation/chat/scripts/aggregate_leaderboard_data.py):
// - avg_tpot_s: the mean over engine steps that decode of the step's mean inter-token latency, the time since each
//   decoding sequence's previous token (prefill steps run between two decode steps count into it);
// - throughput: output tokens of the steady state (until the waiting queue first empties: the last request's first
//   token) over its duration;
// - avg_batch: mean sequences per decode step of the steady state;
// - gpu_power_w: the replica's GPU energy over the steps of the steady state (IterationRecord::gpu_energy_j) over its
//   duration, all its GPUs (NaN when the steps carry no energy). ML.ENERGY's energy per request is this power over
//   the request rate, throughput / mean output tokens.
struct SaturatedRunFigures {
  double avg_tpot_s = 0;
  double throughput_tokens_per_s = 0;
  double avg_batch = 0;
  double gpu_power_w = 0;
  double gpu_flops = 0, gpu_bytes = 0;  // the steady state's work on each GPU
  double steady_end_s = 0;
  size_t decode_steps = 0;
};
// steps: every engine step of one replica (any order); requests: the run's finished requests.
SaturatedRunFigures saturated_run_figures(std::vector<IterationRecord> steps, const std::vector<RequestRecord>& requests);

// Output tokens per second in bins of bin_s from t = 0: bin k holds the tokens of the steps ending in
// [k bin_s, (k + 1) bin_s) (a step's tokens come out at its end), over `bins` bins.
std::vector<double> output_tokens_per_second(const std::vector<IterationRecord>& steps, double bin_s, size_t bins);

}  // namespace aif::analysis
