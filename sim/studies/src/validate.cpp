#include "aif/studies/validate.hpp"

#include <cmath>
#include <filesystem>
#include <optional>

#include "aif/scenario/scenario.hpp"
#include "aif/world/simulation.hpp"

namespace aif::sim {

models::BatchShape batch_shape_of(const analysis::IterationRecord& r) {
  models::BatchShape s;
  s.num_seqs = r.num_seqs;
  s.num_tokens = static_cast<int64_t>(r.prefill_tokens) + r.decode_tokens;
  s.prefill_tokens = r.prefill_tokens;
  s.decode_seqs = r.decode_tokens;  // one token per decoding sequence
  s.prefill_seqs = r.prefill_seqs;
  s.sampled_seqs = r.sampled_seqs;
  s.attended_pairs = r.attended_pairs;
  s.prefill_attended_pairs = r.prefill_attended_pairs;
  s.kv_read_tokens = static_cast<double>(r.context_tokens) + static_cast<double>(s.num_tokens);
  return s;
}

namespace {

std::string meta_value(const std::map<std::string, std::string>& meta, const std::string& key,
                       const std::string& file) {
  auto it = meta.find(key);
  if (it == meta.end())
    throw ScenarioError(file, 0, "/meta/" + key, "the measured results file does not say its " + key +
                                                     " (written by aifsim-engine serve)");
  return it->second;
}

}  // namespace

EngineComparison compare_with_engine_run(const EngineComparisonOptions& o) {
  EngineComparison result;
  std::map<std::string, std::string> meta;
  double last_arrival = 0;
  std::optional<analysis::ResultsReader> measured;
  try {
    measured.emplace(o.measured_path);
    meta = measured->meta();
    measured->for_each_request_chunk([&](const std::vector<analysis::RequestRecord>& rows) {
      for (const auto& r : rows) last_arrival = std::max(last_arrival, r.arrival_s);
    });
  } catch (const analysis::ResultsError& e) {
    throw ScenarioError(o.measured_path, 0, "", e.what());
  }
  // Configure the service as the engine was, and replay exactly its requests.
  const std::string& f = o.measured_path;
  result.applied = {
      "services[0].model=" + meta_value(meta, "model", f),
      "services[0].scheduler.num_blocks=" + meta_value(meta, "kv_blocks", f),
      "services[0].scheduler.block_size=" + meta_value(meta, "block_size", f),
      "services[0].scheduler.max_num_seqs=" + meta_value(meta, "max_num_seqs", f),
      "services[0].scheduler.max_num_batched_tokens=" + meta_value(meta, "max_batched_tokens", f),
      "services[0].scheduler.chunked_prefill=" + meta_value(meta, "chunked_prefill", f),
      "workloads[0].arrival.kind=trace",
      "workloads[0].arrival.format=results-h5",
      "workloads[0].arrival.path=" + std::filesystem::absolute(o.measured_path).string(),
      "workloads[0].arrival.rate_scale=1",
      "simulation.duration=" + std::to_string(static_cast<long>(std::ceil(last_arrival)) + 1) + "s",
      "simulation.drain=true",
  };
  std::vector<std::string> sets = result.applied;
  sets.insert(sets.end(), o.overrides.begin(), o.overrides.end());
  const Scenario scenario = load_scenario(o.scenario_path, sets);

  RunOptions run;
  run.output_path = o.simulated_path;
  run.fidelity = Fidelity::ITERATION;
  run.command_line = "aifsim validate-against " + o.measured_path + " --scenario " + o.scenario_path;
  run_simulation(scenario, run);

  analysis::ResultsReader simulated(o.simulated_path);
  result.metrics = analysis::compare_request_metrics(*measured, simulated);
  const std::vector<analysis::IterationRecord> steps = measured->iterations();
  const auto perf = make_perf_model(scenario, scenario.services.front());
  std::vector<double> predicted;
  predicted.reserve(steps.size());
  for (const auto& s : steps) predicted.push_back(perf->iteration(batch_shape_of(s)).seconds);
  result.steps = analysis::compare_iterations(steps, predicted);
  return result;
}

}  // namespace aif::sim
