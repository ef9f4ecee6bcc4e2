// aifsim-engine: the reference inference engine.
//   serve: replay a trace in real time and write a results file (/requests, /iterations) like the simulator's.
//   bench: throughput over prompt length x generated length x parallel sequences.
//   profile: closed-loop steps covering decode, prefill chunks and mixed steps, for `aifsim calibrate`.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

#include "aif/analysis/results.hpp"
#include "aif/kernels/backend.hpp"
#include "aif/kernels/profile.hpp"
#include "aif/kernels/replay.hpp"
#include "app_common.hpp"

namespace ak = aif::kernels;
namespace aa = aif::analysis;

namespace {

struct Common {
  std::string backend = "cpu";
  std::string model = "tiny-llama";
  std::string models_file = ak::app::default_models_path();
  int threads = 0;
  uint64_t seed = 1;
  double kv_gib = 1.0;
  int block_size = 16;
  int max_num_seqs = 64;
  int max_batched_tokens = 2048;
  bool chunked_prefill = true;
  bool prefix_caching = false;
};

void add_common(CLI::App* app, Common& c) {
  app->add_option("--backend", c.backend, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app->add_option("--model", c.model, "model name in the catalog");
  app->add_option("--models-file", c.models_file, "model catalog (YAML)");
  app->add_option("--threads", c.threads, "CPU threads for OpenBLAS and TBB (0: all)");
  app->add_option("--seed", c.seed, "weights and prompt seed");
  app->add_option("--kv-gib", c.kv_gib, "KV cache size, GiB")->check(CLI::PositiveNumber);
  app->add_option("--block-size", c.block_size, "tokens per KV block")->check(CLI::PositiveNumber);
  app->add_option("--max-num-seqs", c.max_num_seqs, "sequences per step")->check(CLI::PositiveNumber);
  app->add_option("--max-batched-tokens", c.max_batched_tokens, "token budget per step")->check(CLI::PositiveNumber);
  app->add_option("--chunked-prefill", c.chunked_prefill, "split long prompts over steps (true/false)");
  app->add_option("--prefix-caching", c.prefix_caching,
                  "reuse the KV of prompt blocks whose tokens an earlier request computed (true/false; default false)");
}

ak::EngineConfig engine_config(const Common& c, const ak::ModelShape& shape) {
  ak::EngineConfig cfg;
  cfg.seed = c.seed;
  cfg.limits.block_size = c.block_size;
  cfg.limits.num_blocks = ak::blocks_for_memory(shape, c.block_size, c.kv_gib * 1073741824.0);
  cfg.limits.max_num_seqs = c.max_num_seqs;
  cfg.limits.max_num_batched_tokens = c.max_batched_tokens;
  cfg.limits.max_model_len = shape.max_context;
  cfg.limits.chunked_prefill = c.chunked_prefill;
  cfg.limits.prefix_caching = c.prefix_caching;
  if (cfg.limits.num_blocks < 1) throw std::runtime_error("--kv-gib too small for one KV block");
  return cfg;
}

std::string round_trip_text(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

// /meta: everything a simulator needs to rebuild this engine configuration (docs/kernels.md).
std::vector<std::pair<std::string, std::string>> engine_meta(const Common& c, const ak::ModelShape& shape,
                                                             const ak::Backend& backend, const ak::EngineConfig& cfg,
                                                             const std::string& command) {
  const int threads = c.threads > 0 ? c.threads : static_cast<int>(std::thread::hardware_concurrency());
  return {{"tool", "aifsim-engine"},
          {"command", command},
          {"model", shape.name},
          {"backend", backend.name()},
          {"device", backend.device_description()},
          {"threads", std::to_string(threads)},
          {"seed", std::to_string(c.seed)},
          {"sampling", "greedy"},
          {"kv_gib", round_trip_text(c.kv_gib)},
          {"kv_blocks", std::to_string(cfg.limits.num_blocks)},
          {"block_size", std::to_string(cfg.limits.block_size)},
          {"max_num_seqs", std::to_string(cfg.limits.max_num_seqs)},
          {"max_batched_tokens", std::to_string(cfg.limits.max_num_batched_tokens)},
          {"chunked_prefill", cfg.limits.chunked_prefill ? "true" : "false"},
          {"prefix_caching", cfg.limits.prefix_caching ? "true" : "false"},
          {"max_model_len", std::to_string(cfg.limits.max_model_len)},
          {"date", ak::app::now_iso8601()}};
}

// Writes /requests, /iterations, /summary and the given /meta; returns the number of finished requests.
int write_results(const std::string& out_path, const std::vector<std::pair<std::string, std::string>>& meta,
                  const ak::ReplayResult& res) {
  aa::ResultsWriter w(out_path);
  w.write_meta(meta);
  int finished = 0;
  double ttft_sum = 0;
  long generated = 0;
  for (const ak::ReplayRequest& r : res.requests) {
    aa::RequestRecord rec;
    rec.id = r.id;
    rec.workload = 0;
    rec.service = 0;
    rec.replica = r.rejected ? -1 : 0;
    rec.arrival_s = r.arrival_s;
    rec.first_token_s = r.first_token_s;
    rec.finish_s = r.finish_s;
    rec.prompt_tokens = r.prompt_tokens;  // as served: after the --max-prompt / --max-output clamps
    rec.output_tokens = r.output_tokens;
    rec.generated_tokens = r.generated_tokens;
    rec.preemptions = r.preemptions;
    rec.cached_tokens = r.cached_tokens;
    rec.outcome = r.rejected ? aa::Outcome::REJECTED
                             : (std::isnan(r.finish_s) ? aa::Outcome::UNFINISHED : aa::Outcome::FINISHED);
    if (rec.outcome == aa::Outcome::FINISHED) ++finished, ttft_sum += r.first_token_s - r.arrival_s;
    generated += r.generated_tokens;
    w.add_request(rec);
  }
  for (const ak::ReplayIteration& it : res.iterations) {
    aa::IterationRecord rec;
    rec.replica = 0;
    rec.start_s = it.start_s;
    rec.duration_s = it.duration_s;
    rec.num_seqs = it.num_seqs;
    rec.prefill_tokens = it.prefill_tokens;
    rec.decode_tokens = it.decode_tokens;
    rec.context_tokens = it.context_tokens;
    rec.prefill_seqs = it.prefill_seqs;
    rec.sampled_seqs = it.sampled_seqs;
    rec.attended_pairs = it.attended_pairs;
    rec.prefill_attended_pairs = it.prefill_attended_pairs;
    rec.forward_s = it.forward_s;
    w.add_iteration(rec);
  }
  w.finish({{"requests", double(res.requests.size()), "1"},
            {"finished", double(finished), "1"},
            {"wall_time", res.wall_s, "s"},
            {"generated_tokens", double(generated), "1"},
            {"output_throughput", generated / res.wall_s, "token/s"},
            {"mean_ttft", finished ? ttft_sum / finished : std::nan(""), "s"},
            {"iterations", double(res.iterations.size()), "1"}});
  std::cerr << finished << "/" << res.requests.size() << " finished in " << res.wall_s << " s; wrote " << out_path
            << "\n";
  return finished;
}

int serve(const Common& c, const std::string& trace_path, double rate_scale, size_t max_requests, int max_prompt,
          int max_output, const std::string& out_path, const std::string& command) {
  const ak::ModelShape shape = ak::app::load_model(c.models_file, c.model);
  auto trace = ak::app::read_trace(trace_path, max_requests);
  auto backend = ak::make_backend(c.backend, c.threads);
  std::cerr << "model " << shape.name << " on " << backend->device_description() << "\n";
  const ak::HostWeights weights = ak::make_weights(shape, c.seed);
  ak::Model model(*backend, weights);
  const ak::EngineConfig cfg = engine_config(c, shape);
  ak::Engine engine(model, cfg);
  ak::ReplayOptions opt;
  opt.rate_scale = rate_scale;
  opt.max_prompt_tokens = max_prompt;
  opt.max_output_tokens = max_output;
  opt.prompt_seed = c.seed;
  std::cerr << trace.size() << " requests, " << cfg.limits.num_blocks << " KV blocks of " << c.block_size
            << " tokens\n";
  const ak::ReplayResult res = ak::replay(engine, trace, opt);
  auto meta = engine_meta(c, shape, *backend, cfg, command);
  meta.insert(meta.end(), {{"mode", "serve"},
                           {"trace", trace_path},
                           {"max_requests", std::to_string(max_requests)},
                           {"rate_scale", round_trip_text(rate_scale)},
                           {"max_prompt_tokens", std::to_string(max_prompt)},
                           {"max_output_tokens", std::to_string(max_output)}});
  const int finished = write_results(out_path, meta, res);
  return finished == static_cast<int>(res.requests.size()) ? 0 : 3;
}

int profile(const Common& c, const std::string& out_path, const std::string& command) {
  const ak::ModelShape shape = ak::app::load_model(c.models_file, c.model);
  auto backend = ak::make_backend(c.backend, c.threads);
  std::cerr << "model " << shape.name << " on " << backend->device_description() << "\n";
  const ak::HostWeights weights = ak::make_weights(shape, c.seed);
  ak::Model model(*backend, weights);
  const ak::EngineConfig cfg = engine_config(c, shape);
  const auto phases = ak::default_profile_phases(shape.max_context);
  const ak::ReplayResult res = ak::run_profile(model, cfg, phases, c.seed);
  auto meta = engine_meta(c, shape, *backend, cfg, command);
  // Each phase runs its own engine with its own step budget; max_num_seqs / max_batched_tokens above are the
  // base values. The phases are listed so that a simulator can replay the same closed batches.
  std::string plan;
  for (const auto& p : phases)
    plan += (plan.empty() ? "" : ";") + p.name + ":requests=" + std::to_string(p.requests) +
            ",prompt=" + std::to_string(p.prompt) + ",output=" + std::to_string(p.output) +
            ",max_batched_tokens=" + std::to_string(p.max_batched_tokens) +
            ",arrival_gap_s=" + round_trip_text(p.arrival_gap_s);
  meta.insert(meta.end(), {{"mode", "profile"}, {"trace", "synthetic profile (closed loop)"},
                           {"profile_phases", plan}, {"rate_scale", "1"}, {"max_prompt_tokens", "0"},
                           {"max_output_tokens", "0"}});
  write_results(out_path, meta, res);
  double busy = 0;
  for (const auto& it : res.iterations) busy += it.duration_s;
  std::cerr << res.iterations.size() << " steps, " << busy << " s of steps\n";
  return 0;
}

int bench(const Common& c, const std::vector<int>& prompts, const std::vector<int>& outputs,
          const std::vector<int>& batches, const std::string& csv_path) {
  const ak::ModelShape shape = ak::app::load_model(c.models_file, c.model);
  auto backend = ak::make_backend(c.backend, c.threads);
  const ak::HostWeights weights = ak::make_weights(shape, c.seed);
  ak::Model model(*backend, weights);
  std::ofstream csv;
  if (!csv_path.empty()) {
    csv.open(csv_path);
    csv << "# aifsim-engine bench; model " << shape.name << "; " << backend->device_description() << "; "
        << ak::app::now_iso8601() << "\n";
    csv << "prompt,output,batch,wall_s,prefill_s,decode_s,prefill_tokens_per_s,decode_tokens_per_s,"
           "total_tokens_per_s\n";
  }
  std::printf("model %s on %s\n%8s %8s %6s %10s %14s %14s %14s\n", shape.name.c_str(),
              backend->device_description().c_str(), "prompt", "output", "batch", "wall_s", "prefill_tok/s",
              "decode_tok/s", "total_tok/s");
  for (int p : prompts)
    for (int o : outputs)
      for (int b : batches) {
        Common cc = c;
        cc.max_num_seqs = std::max(c.max_num_seqs, b);
        ak::Engine engine(model, engine_config(cc, shape));
        std::vector<ak::TraceRequest> trace;
        for (int i = 0; i < b; ++i) trace.push_back({i, 0.0, p, o});
        ak::ReplayOptions opt;
        opt.real_time = false;
        const ak::ReplayResult res = ak::replay(engine, trace, opt);
        double prefill_s = 0, decode_s = 0;
        long prefill_tok = 0, decode_tok = 0;
        for (const auto& it : res.iterations) {
          // Steps that only decode measure decode speed; any step with prompt work counts as prefill.
          if (it.prefill_tokens > 0)
            prefill_s += it.duration_s, prefill_tok += it.prefill_tokens;
          else
            decode_s += it.duration_s, decode_tok += it.decode_tokens;
        }
        const double total = double(b) * (p + o) / res.wall_s;
        const double pf = prefill_s > 0 ? prefill_tok / prefill_s : 0, dc = decode_s > 0 ? decode_tok / decode_s : 0;
        std::printf("%8d %8d %6d %10.3f %14.1f %14.1f %14.1f\n", p, o, b, res.wall_s, pf, dc, total);
        if (csv) csv << p << "," << o << "," << b << "," << res.wall_s << "," << prefill_s << "," << decode_s << ","
                     << pf << "," << dc << "," << total << "\n";
      }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"aifsim-engine: the reference LLM inference engine (seeded synthetic weights)"};
  app.require_subcommand(1);
  std::string command;
  // The program by its name, not the path it ran from: the line is written into files the repository keeps.
  for (int i = 0; i < argc; ++i)
    command += (i ? " " + std::string(argv[i]) : std::filesystem::path(argv[0]).filename().string());

  Common sc;
  std::string trace, out;
  double rate_scale = 1.0;
  size_t max_requests = 0;
  int max_prompt = 0, max_output = 0;
  auto* serve_cmd = app.add_subcommand("serve", "replay a trace in real time, write a results file");
  add_common(serve_cmd, sc);
  serve_cmd->add_option("--trace", trace, "request trace: Azure 2023 CSV or Mooncake JSONL (.jsonl)")->required()->check(CLI::ExistingFile);
  serve_cmd->add_option("--rate-scale", rate_scale, "arrival-rate multiplier (>1: faster)")->check(CLI::PositiveNumber);
  serve_cmd->add_option("--max-requests", max_requests, "first N requests only (0: all)");
  serve_cmd->add_option("--max-prompt", max_prompt, "clamp prompt lengths (0: no clamp)");
  serve_cmd->add_option("--max-output", max_output, "clamp output lengths (0: no clamp)");
  serve_cmd->add_option("-o,--output", out, "results file (HDF5)")->required();

  Common bc;
  std::vector<int> prompts{128}, outputs{32}, batches{1, 8, 32};
  std::string csv;
  auto* bench_cmd = app.add_subcommand("bench", "throughput over prompt x output x parallel sequences");
  add_common(bench_cmd, bc);
  bench_cmd->add_option("--prompt", prompts, "prompt lengths")->delimiter(',');
  bench_cmd->add_option("--output-len", outputs, "generated lengths")->delimiter(',');
  bench_cmd->add_option("--batch", batches, "parallel sequences")->delimiter(',');
  bench_cmd->add_option("--csv", csv, "also write the table as CSV");
  Common pc;
  pc.model = "small-llama";
  std::string profile_out;
  auto* profile_cmd = app.add_subcommand("profile", "closed-loop steps over batch, context and chunk sizes (for calibrate)");
  add_common(profile_cmd, pc);
  profile_cmd->add_option("-o,--output", profile_out, "results file (HDF5): /iterations and /meta")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    if (*serve_cmd) return serve(sc, trace, rate_scale, max_requests, max_prompt, max_output, out, command);
    if (*profile_cmd) return profile(pc, profile_out, command);
    return bench(bc, prompts, outputs, batches, csv);
  } catch (const std::exception& e) {
    std::cerr << "aifsim-engine: error: " << e.what() << "\n";
    return 2;
  }
}
