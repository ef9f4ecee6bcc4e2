// The GPU validation sets as scenarios (docs/validation-gpu.md explains each choice made here).
#include "aif/studies/validate_gpu.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "aif/analysis/results.hpp"
#include "aif/analysis/serving_metrics.hpp"
#include "aif/models/perf.hpp"
#include "aif/scenario/scenario.hpp"
#include "aif/models/arrivals.hpp"
#include "aif/models/perf.hpp"
#include "aif/scenario/scenario.hpp"
#include "aif/inputs/csv_text.hpp"

namespace aif::sim {

namespace {

// A CSV data file with a header and double-quoted fields (commas inside quotes), columns by name.
class DataCsv {
 public:
  explicit DataCsv(std::string path) : path_(std::move(path)) {
    std::ifstream in(path_, std::ios::binary);
    if (!in) throw ScenarioError(path_, 0, "", "cannot open this validation data file");
    std::string line;
    int number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (csv::trim(line).empty()) continue;
      std::vector<std::string> fields = split(line, number);
      if (names_.empty()) {
        names_ = fields;
        continue;
      }
      if (fields.size() != names_.size())
        throw ScenarioError(path_, number, "", "expected " + std::to_string(names_.size()) + " fields, found " +
                                                   std::to_string(fields.size()));
      rows_.push_back({number, std::move(fields)});
    }
    if (rows_.empty()) throw ScenarioError(path_, number, "", "no rows");
  }
  size_t size() const { return rows_.size(); }
  const std::string& text(size_t row, const std::string& column) const {
    const auto it = std::find(names_.begin(), names_.end(), column);
    if (it == names_.end()) throw ScenarioError(path_, 1, column, "missing column '" + column + "'");
    return rows_[row].second[static_cast<size_t>(it - names_.begin())];
  }
  double number(size_t row, const std::string& column) const {
    double v = 0;
    if (!csv::parse_double(text(row, column), v))
      throw ScenarioError(path_, rows_[row].first, column, "expected a number, found '" + text(row, column) + "'");
    return v;
  }

 private:
  std::vector<std::string> split(const std::string& line, int number) const {
    std::vector<std::string> out(1);
    bool quoted = false;
    for (char c : line) {
      if (c == '"') quoted = !quoted;
      else if (c == ',' && !quoted) out.emplace_back();
      else out.back() += c;
    }
    if (quoted) throw ScenarioError(path_, number, "", "unbalanced double quote");
    return out;
  }
  std::string path_;
  std::vector<std::string> names_;
  std::vector<std::pair<int, std::vector<std::string>>> rows_;
};

std::string nine_digits(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

std::string trace_text(const std::vector<std::array<double, 3>>& rows) {
  std::string t = "arrival_s,prompt_tokens,output_tokens\n";
  for (const auto& r : rows) t += nine_digits(r[0]) + "," + nine_digits(r[1]) + "," + nine_digits(r[2]) + "\n";
  return t;
}

// ---- blis: four vLLM 0.11 runs on one H100 ------------------------------------------------------------------------

// The run the vllm-0.11 engine overhead was fitted on (scripts/fit_engine_vllm011.sh): the only Llama-2-7B run, with no
// shared prefix and no prefix-cache hits, decode-heavy; the three CodeLlama-34B runs validate.
const char* const BLIS_FIT_RUN = "jan21-llama7b-train-1";

void blis_cases(const std::string& dir, bool quick, std::vector<GpuValidationCase>& out) {
  const DataCsv runs(dir + "/runs.csv"), requests(dir + "/requests.csv");
  for (size_t r = 0; r < runs.size(); ++r) {
    const std::string exp = runs.text(r, "experiment");
    if (quick && exp != "jan20-codellama-prefill-1") continue;
    GpuValidationCase c;
    c.set = "blis";
    c.name = exp;
    c.kind = GpuValidationCase::Kind::REQUESTS;
    c.fit = exp == BLIS_FIT_RUN;
    std::vector<std::array<double, 3>> trace;
    for (size_t i = 0; i < requests.size(); ++i) {
      if (requests.text(i, "experiment") != exp) continue;
      trace.push_back({requests.number(i, "arrival_s"), requests.number(i, "prompt_tokens"),
                       requests.number(i, "completion_tokens")});
      c.measured_ttft_s.push_back(requests.number(i, "ttft_s"));
      c.measured_e2e_s.push_back(requests.number(i, "e2e_s"));
    }
    c.trace_csv = trace_text(trace);
    // The shared prefix: the load generator's prefix_tokens (vLLM's prefix cache also serves preempted requests their
    // own released blocks: jan20-codellama-train-1's 27.3 % hits without a shared prefix).
    const double prefix = runs.number(r, "prefix_tokens");
    const double duration = std::ceil(trace.back()[0]) + 1;
    const std::string model = runs.text(r, "model");
    c.description = model + " TP" + runs.text(r, "tp") + ", max_num_seqs " + runs.text(r, "max_num_seqs") +
                    ", max_num_batched_tokens " + runs.text(r, "max_num_batched_tokens") + ", " +
                    std::to_string(trace.size()) + " requests" +
                    (prefix > 0 ? ", shared prefix " + nine_digits(prefix) + " tokens" : "");
    std::ostringstream y;
    y << "description: \"BLIS vLLM 0.11 run " << exp << " replayed (data/validation/blis_vllm011)\"\n"
      << "simulation: {duration: " << nine_digits(duration) << "s, seed: 1, sample_interval: 10s, drain: true}\n"
      << "hardware: {gpu: H100-SXM}\n"
      << "facility: {racks: 1, servers_per_rack: 1, gpus_per_server: 8}\n"
      << "services:\n"
      << "  - name: vllm\n"
      << "    model: " << model << "\n"
      << "    tp: " << runs.text(r, "tp") << "\n"
      << "    replicas: 1\n"
      << "    engine: vllm-0.11\n"
      << "    scheduler: {max_num_seqs: " << runs.text(r, "max_num_seqs")
      << ", max_num_batched_tokens: " << runs.text(r, "max_num_batched_tokens") << ", block_size: 16"
      << ", num_blocks: " << runs.text(r, "kv_cache_blocks") << ", max_model_len: " << runs.text(r, "max_model_len")
      << ", chunked_prefill: true, prefix_caching: " << runs.text(r, "enable_prefix_caching") << "}\n"
      << "workloads:\n"
      << "  - name: requests\n"
      << "    service: vllm\n"
      << "    shared_prefix_tokens: " << nine_digits(prefix) << "\n"
      << "    arrival: {kind: trace, format: csv, path: trace.csv}\n";
    c.scenario_yaml = y.str();
    out.push_back(std::move(c));
  }
}

// ---- mlenergy: saturated vLLM 0.5.4 runs ---------------------------------------------------------------------------

// Output lengths: ShareGPT's response-length distribution (200 quantiles) scaled so that the lengths drawn, capped at
// the client's max_tokens, average the run's measured average output.
std::vector<int> output_lengths(const std::vector<double>& q, const std::vector<double>& tokens, size_t n, double mean,
                                int cap, uint64_t seed) {
  models::RandomStream rng(seed, 0);
  std::vector<double> base(n);
  for (double& b : base) {
    const double u = rng.uniform();
    const size_t i = static_cast<size_t>(std::upper_bound(q.begin(), q.end(), u) - q.begin());
    if (i == 0) b = tokens.front();
    else if (i >= q.size()) b = tokens.back();
    else b = tokens[i - 1] + (u - q[i - 1]) / (q[i] - q[i - 1]) * (tokens[i] - tokens[i - 1]);
  }
  auto lengths = [&](double scale) {
    std::vector<int> out(n);
    for (size_t i = 0; i < n; ++i) out[i] = std::clamp(static_cast<int>(std::lround(base[i] * scale)), 1, cap);
    return out;
  };
  auto average = [&](double scale) {
    const std::vector<int> l = lengths(scale);
    double s = 0;
    for (int v : l) s += v;
    return s / static_cast<double>(n);
  };
  double lo = 0.01, hi = 100;  // the average grows with the scale
  for (int it = 0; it < 100; ++it) {
    const double mid = std::sqrt(lo * hi);
    (average(mid) < mean ? lo : hi) = mid;
  }
  return lengths(hi);
}

// An ML.ENERGY run replayed: every request at t = 0 with the given prompt and output lengths, on one replica of vLLM
// 0.5 with the run's batch limit. vLLM 0.5 with pipeline stages runs pp virtual engines of max_num_seqs each (ML.ENERGY's
// Max BS is their sum); without chunked prefill the token budget is max(max_model_len, 2048) = 4096 per virtual engine.
void saturated_replay(GpuValidationCase& c, const std::string& source, const std::string& model, int tp, int pp,
                      int max_bs, const std::vector<double>& prompts, const std::vector<int>& outputs) {
  std::vector<std::array<double, 3>> trace;
  for (size_t i = 0; i < outputs.size(); ++i) {
    // vLLM refuses prompt + max_tokens beyond max_model_len 4096: the prompts here are far shorter.
    const double prompt = prompts[i % prompts.size()];
    trace.push_back({0.0, prompt, static_cast<double>(std::min<double>(outputs[i], 4096 - prompt))});
  }
  c.trace_csv = trace_text(trace);
  c.gpus = tp * pp;
  std::ostringstream y;
  y << "description: \"ML.ENERGY v2 " << c.name << " replayed (" << source << ")\"\n"
    << "simulation: {duration: 1s, seed: 1, sample_interval: 1s, fidelity: iteration, drain: true}\n"
    << "hardware: {gpu: H100-SXM}\n"
    << "facility: {racks: 1, servers_per_rack: " << std::max(1, tp * pp / 8) << ", gpus_per_server: 8}\n"
    << "fabric: {kind: leaf-spine, nic_bandwidth: 400Gbps, spines: 1}\n"
    << "services:\n"
    << "  - name: vllm\n"
    << "    model: " << model << "\n"
    << "    tp: " << tp << "\n"
    << (pp > 1 ? "    pp: " + std::to_string(pp) + "\n" : "")
    << "    replicas: 1\n"
    << "    engine: vllm-0.5\n"
    << "    scheduler: {max_num_seqs: " << max_bs << ", max_num_batched_tokens: " << 4096 * pp
    << ", block_size: 16, max_model_len: 4096, kv_memory_fraction: 0.95, prefix_caching: false}\n"
    << "workloads:\n"
    << "  - name: requests\n"
    << "    service: vllm\n"
    << "    arrival: {kind: trace, format: csv, path: trace.csv}\n";
  c.scenario_yaml = y.str();
}

std::string run_name(const std::string& task, const std::string& model, int tp, int pp, int max_bs) {
  return task + "-" + model + "-tp" + std::to_string(tp) + (pp > 1 ? "-pp" + std::to_string(pp) : "") + "-bs" +
         std::to_string(max_bs);
}

std::string run_description(const std::string& task, const std::string& model, int tp, int pp, int max_bs, size_t n) {
  return task + ", " + model + " TP" + std::to_string(tp) + (pp > 1 ? " PP" + std::to_string(pp) : "") +
         ", max batch " + std::to_string(max_bs) + ", " + std::to_string(n) + " requests at once";
}

// For set mlenergy-power: the device the runs are replayed on and the model catalog.
struct PowerReplay {
  models::DeviceSpec device;
  std::map<std::string, models::ModelArch> models;
};

// `power`: the same runs as set mlenergy-power, kind POWER (null: set mlenergy, kind SATURATED).
void mlenergy_cases(const std::string& dir, bool quick, const PowerReplay* power, std::vector<GpuValidationCase>& out) {
  const DataCsv runs(dir + "/h100.csv"), chat(dir + "/chat_prompts.csv"), code(dir + "/code_prompts.csv");
  const DataCsv quantiles(dir + "/output_lengths.csv");
  std::vector<double> q, tokens;
  for (size_t i = 0; i < quantiles.size(); ++i) q.push_back(quantiles.number(i, "q")), tokens.push_back(quantiles.number(i, "tokens"));
  for (size_t r = 0; r < runs.size(); ++r) {
    const std::string task = runs.text(r, "task"), model = runs.text(r, "model");
    const int tp = static_cast<int>(runs.number(r, "tp")), pp = static_cast<int>(runs.number(r, "pp"));
    const int max_bs = static_cast<int>(runs.number(r, "max_bs"));
    if (quick && !(model == "Llama-3.1-8B" && max_bs == 128)) continue;
    GpuValidationCase c;
    c.set = power ? "mlenergy-power" : "mlenergy";
    c.name = run_name(task, model, tp, pp, max_bs);
    c.kind = power ? GpuValidationCase::Kind::POWER : GpuValidationCase::Kind::SATURATED;
    c.measured_energy_per_request_j = runs.number(r, "energy_per_req_j");
    c.mean_output_tokens = runs.number(r, "avg_output_tokens");
    c.measured_tpot_s = runs.number(r, "avg_tpot_s");
    c.measured_throughput = runs.number(r, "token_tput_per_s");
    c.measured_batch = runs.number(r, "avg_bs");
    // The benchmark client sends every request at once: chat, 500 ShareGPT first turns x 4; code, HumanEval x 10.
    const bool is_chat = task == "chat";
    const DataCsv& prompt_file = is_chat ? chat : code;
    const int copies = is_chat ? 4 : 10, cap = is_chat ? 1024 : 512;
    const size_t n = prompt_file.size() * copies;
    std::vector<double> prompts;
    for (size_t i = 0; i < prompt_file.size(); ++i) prompts.push_back(prompt_file.number(i, "prompt_tokens_est"));
    const std::vector<int> outputs = output_lengths(q, tokens, n, c.mean_output_tokens, cap, 1000 + r);
    c.description = run_description(task, model, tp, pp, max_bs, n);
    c.tp = tp, c.pp = pp;
    for (double p : prompts) c.mean_prompt_tokens += p / static_cast<double>(prompts.size());
    if (power) c.device = power->device, c.model = power->models.at(model);
    saturated_replay(c, "data/validation/mlenergy", model, tp, pp, max_bs, prompts, outputs);
    out.push_back(std::move(c));
  }
}

// ---- llmservingsim: vLLM throughput over time, Llama-3.1-70B TP4 on H100 ------------------------------------------

void llmservingsim_cases(const std::string& dir, bool quick, std::vector<GpuValidationCase>& out) {
  const DataCsv configs(dir + "/configs.csv"), measured(dir + "/throughput_measured.csv");
  const DataCsv reference(dir + "/throughput_llmservingsim.csv");
  const DataCsv requests(dir + "/sharegpt300.csv");
  std::vector<std::array<double, 3>> trace;
  for (size_t i = 0; i < requests.size(); ++i)
    trace.push_back({requests.number(i, "arrival_s"), requests.number(i, "prompt_tokens"),
                     requests.number(i, "output_tokens")});
  for (size_t r = 0; r < configs.size(); ++r) {
    const std::string name = configs.text(r, "config");
    if (configs.text(r, "model") == "not-replayed") continue;  // SM: Mixtral on a request file not extracted
    if (quick && name != "SD+PC") continue;
    GpuValidationCase c;
    c.set = "llmservingsim";
    c.name = name;
    c.kind = GpuValidationCase::Kind::THROUGHPUT;
    for (size_t i = 0; i < measured.size(); ++i)
      if (measured.text(i, "config") == name && measured.number(i, "time_s") >= 1)
        c.measured_per_second.push_back(measured.number(i, "tokens_per_s"));
    for (size_t i = 0; i < reference.size(); ++i)
      if (reference.text(i, "config") == name && reference.number(i, "time_s") >= 1)
        c.reference_per_second.push_back(reference.number(i, "tokens_per_s"));
    c.trace_csv = trace_text(trace);
    const bool disaggregated = configs.text(r, "pd_type").find("prefill") != std::string::npos;
    const int instances = static_cast<int>(configs.number(r, "instances"));
    c.description = name + ": " + configs.text(r, "model") + " TP" + configs.text(r, "tp") + ", " +
                    (disaggregated ? "one prefill and one decode instance" : std::to_string(instances) + " instance(s)") +
                    (configs.text(r, "prefix_caching") == "true" ? ", prefix caching" : "") +
                    ", 300 ShareGPT requests at 10 req/s";
    std::ostringstream y;
    y << "description: \"LLMServingSim figure 5 " << name << " (vLLM on H100) replayed (data/validation/llmservingsim)\"\n"
      << "simulation: {duration: 40s, seed: 1, sample_interval: 1s, fidelity: iteration, drain: true}\n"
      << "hardware: {gpu: H100-SXM}\n"
      << "facility: {racks: 1, servers_per_rack: 1, gpus_per_server: 8}\n"
      << "fabric: {kind: leaf-spine, nic_bandwidth: 400Gbps, spines: 1}\n"
      << "services:\n"
      << "  - name: vllm\n"
      << "    model: " << configs.text(r, "model") << "\n"
      << "    tp: " << configs.text(r, "tp") << "\n"
      << (disaggregated ? "    disaggregation: {prefill_replicas: 1, decode_replicas: 1}\n"
                        : "    replicas: " + std::to_string(instances) + "\n")
      << "    router: round-robin\n"
      << "    engine: {name: vllm-0.11, cuda_graphs: false}\n"
      << "    scheduler: {max_num_seqs: 256, max_num_batched_tokens: 2048, block_size: 16, max_model_len: 2048"
      << ", prefix_caching: " << configs.text(r, "prefix_caching") << "}\n"
      << "workloads:\n"
      << "  - name: sharegpt\n"
      << "    service: vllm\n"
      << "    arrival: {kind: trace, format: csv, path: trace.csv}\n";
    c.scenario_yaml = y.str();
    out.push_back(std::move(c));
  }
}

}  // namespace

std::vector<GpuValidationCase> gpu_validation_cases(const std::string& data_dir, const std::string& set, bool quick) {
  std::vector<GpuValidationCase> cases;
  const std::string v = data_dir + "/validation";
  if (set.empty() || set == "blis") blis_cases(v + "/blis_vllm011", quick, cases);
  if (set.empty() || set == "mlenergy") mlenergy_cases(v + "/mlenergy", quick, nullptr, cases);
  if (set == "mlenergy-power") {
    // The GPU power model's inputs: the replayed device and each run's architecture.
    const PowerReplay power{load_hardware_catalog(data_dir + "/hardware.yaml").at("H100-SXM"),
                            load_model_catalog(data_dir + "/models.yaml")};
    mlenergy_cases(v + "/mlenergy", quick, &power, cases);
  }
  if (set.empty() || set == "llmservingsim") llmservingsim_cases(v + "/llmservingsim", quick, cases);
  return cases;
}

models::GpuPowerSample saturated_run_sample(const models::ModelArch& model, int tp, int pp, double mean_prompt_tokens,
                                            double energy_per_request_j, double throughput_tokens_per_s,
                                            double mean_output_tokens, double tpot_s) {
  const models::StepWorkModel work(model, 2.0, tp, pp);  // bf16 / fp16 weights and KV cache, as served
  const models::StepWork request = work.request_work(mean_prompt_tokens, mean_output_tokens);
  const double request_rate = throughput_tokens_per_s / mean_output_tokens;
  models::GpuPowerSample s;
  s.measured_w = energy_per_request_j * request_rate / (tp * pp);
  s.flops_per_s = request_rate * request.flops();
  s.bytes_per_s = request_rate * request.bytes() + work.weight_bytes_per_step() / tpot_s;
  return s;
}

// The benchmark's mean prompt lengths (data/validation/README.md, "Token counts"): ShareGPT first turns with the Llama
// 3.1 chat template, HumanEval prompts. A description of the workload, not a measurement of power.
const std::map<std::string, double> MEAN_PROMPT_TOKENS = {{"chat", 132.3}, {"code", 153.5}};

std::vector<PowerFitRun> power_fit_runs(const std::string& flat_csv, const std::string& measured_gpu,
                                        const std::map<std::string, models::ModelArch>& fit_models) {
  const DataCsv runs(flat_csv);
  std::vector<PowerFitRun> out;
  for (size_t r = 0; r < runs.size(); ++r) {
    const auto model = fit_models.find(runs.text(r, "Model"));
    if (runs.text(r, "GPU") != measured_gpu || model == fit_models.end()) continue;
    const std::string task = runs.text(r, "task");
    const int tp = static_cast<int>(runs.number(r, "TP")), pp = static_cast<int>(runs.number(r, "PP"));
    const int max_bs = static_cast<int>(runs.number(r, "Max BS (reqs)"));
    PowerFitRun run;
    run.name = run_name(task, model->first.substr(model->first.find('/') + 1), tp, pp, max_bs);
    run.model = model->first;
    run.gpus = tp * pp;
    run.sample = saturated_run_sample(model->second, tp, pp, MEAN_PROMPT_TOKENS.at(task),
                                      runs.number(r, "Energy/req (J)"), runs.number(r, "Token tput (tok/s)"),
                                      runs.number(r, "Avg Output Tokens"), runs.number(r, "Avg TPOT (s)"));
    out.push_back(std::move(run));
  }
  if (out.empty()) throw ScenarioError(flat_csv, 0, "GPU", "no run of a fit model on " + measured_gpu);
  return out;
}

std::vector<GpuValidationMetric> evaluate_gpu_case(const GpuValidationCase& c, const std::string& results_h5) {
  const analysis::ResultsReader results(results_h5);
  std::vector<analysis::RequestRecord> finished;
  for (const analysis::RequestRecord& r : results.requests())
    if (r.outcome == analysis::Outcome::FINISHED) finished.push_back(r);
  std::vector<GpuValidationMetric> m;
  switch (c.kind) {
    case GpuValidationCase::Kind::REQUESTS: {
      std::vector<double> ttft, e2e;
      for (const auto& r : finished) ttft.push_back(r.first_token_s - r.arrival_s), e2e.push_back(r.finish_s - r.arrival_s);
      const auto mt = analysis::summarize_latencies(c.measured_ttft_s), st = analysis::summarize_latencies(ttft);
      const auto me = analysis::summarize_latencies(c.measured_e2e_s), se = analysis::summarize_latencies(e2e);
      m = {{"ttft_mean", "s", mt.mean, st.mean}, {"ttft_p50", "s", mt.p50, st.p50}, {"ttft_p90", "s", mt.p90, st.p90},
           {"e2e_mean", "s", me.mean, se.mean},  {"e2e_p50", "s", me.p50, se.p50},  {"e2e_p90", "s", me.p90, se.p90}};
      break;
    }
    case GpuValidationCase::Kind::SATURATED: {
      const auto f = analysis::saturated_run_figures(results.iterations(), finished);
      m = {{"avg_tpot", "s", c.measured_tpot_s, f.avg_tpot_s},
           {"throughput", "tokens/s", c.measured_throughput, f.throughput_tokens_per_s},
           {"avg_batch", "seqs", c.measured_batch, f.avg_batch, true}};
      break;
    }
    case GpuValidationCase::Kind::POWER: {
      // ML.ENERGY: average power = energy per request x requests per second, requests per second = throughput / mean
      // output tokens (per GPU below). Simulated: the GPU energy of the steady state over its duration.
      const auto f = analysis::saturated_run_figures(results.iterations(), finished);
      const models::GpuPowerSample sample =
          saturated_run_sample(c.model, c.tp, c.pp, c.mean_prompt_tokens, c.measured_energy_per_request_j,
                               c.measured_throughput, c.mean_output_tokens, c.measured_tpot_s);
      // The power model alone: the run's work over its measured time, as if the step times were right.
      models::IterationCost second;
      second.seconds = 1;
      models::StepWork work;
      work.linear_flops = sample.flops_per_s;
      work.linear_bytes = sample.bytes_per_s;
      const double at_measured_time_w = models::GpuPowerModel(c.device).step_w(work, second, 1.0);
      m = {{"gpu_power", "W", sample.measured_w, f.gpu_power_w / c.gpus},
           {"energy_per_request", "J", c.measured_energy_per_request_j,
            f.gpu_power_w * c.mean_output_tokens / f.throughput_tokens_per_s},
           {"gpu_power_at_measured_time", "W", sample.measured_w, at_measured_time_w},
           {"avg_tpot", "s", c.measured_tpot_s, f.avg_tpot_s, true},
           {"throughput", "tokens/s", c.measured_throughput, f.throughput_tokens_per_s, true}};
      break;
    }
    case GpuValidationCase::Kind::THROUGHPUT: {
      const size_t n = c.measured_per_second.size() + 60;
      const std::vector<double> sim = analysis::output_tokens_per_second(results.iterations(), 1.0, n);
      // Duration: the second in which the last token came out; steady throughput: the mean over 10-30 s, while
      // requests keep arriving at 10 per second.
      auto last_nonzero = [](const std::vector<double>& v) {
        for (size_t i = v.size(); i-- > 0;)
          if (v[i] > 0) return static_cast<double>(i + 1);
        return 0.0;
      };
      auto window = [](const std::vector<double>& v, size_t from, size_t to) {
        double s = 0;
        for (size_t i = from; i < to && i < v.size(); ++i) s += v[i];
        return s / static_cast<double>(to - from);
      };
      // The curve: the median over the seconds whose measured throughput is at least a tenth of its peak of the
      // relative difference second by second (reported as the simulated value, the measured one being 0).
      const double peak = *std::max_element(c.measured_per_second.begin(), c.measured_per_second.end());
      auto curve_diff = [&](const std::vector<double>& predicted) {
        std::vector<double> rel;
        for (size_t i = 0; i < c.measured_per_second.size(); ++i)
          if (c.measured_per_second[i] >= 0.1 * peak)
            rel.push_back(std::fabs((i < predicted.size() ? predicted[i] : 0.0) - c.measured_per_second[i]) /
                          c.measured_per_second[i]);
        std::sort(rel.begin(), rel.end());
        return rel.empty() ? std::nan("") : rel[rel.size() / 2];
      };
      const double curve = curve_diff(sim);
      m = {{"duration", "s", last_nonzero(c.measured_per_second), last_nonzero(sim)},
           {"throughput_10_30s", "tokens/s", window(c.measured_per_second, 9, 29), window(sim, 9, 29)},
           {"per_second_median_abs_diff", "ratio", 0, curve}};
      if (!c.reference_per_second.empty())
        m.push_back({"per_second_median_abs_diff_llmservingsim", "ratio", 0, curve_diff(c.reference_per_second), true});
      break;
    }
  }
  return m;
}

}  // namespace aif::sim
