#include "steptime.hpp"

#include <cstdio>
#include <sstream>

#include "aif/scenario/perf_factory.hpp"
#include "aif/scenario/scenario.hpp"

namespace aif::cli {

CLI::App* add_steptime_command(CLI::App& app, SteptimeOptions& o) {
  CLI::App* c = app.add_subcommand("steptime",
                                   "Step time of a model on a GPU at chosen decode batches and prefill lengths, and "
                                   "where it goes (the perf model a scenario would use)");
  c->add_option("--gpu", o.gpu, "Catalog device (data/hardware.yaml)");
  c->add_option("--model", o.model, "Catalog model (data/models.yaml)");
  c->add_option("--dtype", o.dtype, "Weights dtype (bf16, fp8, ...)");
  c->add_option("--tp", o.tp, "Tensor-parallel GPUs per stage")->check(CLI::PositiveNumber);
  c->add_option("--pp", o.pp, "Pipeline stages")->check(CLI::PositiveNumber);
  c->add_option("--engine", o.engine, "Serving engine (data/engines.yaml)");
  c->add_option("--perf", o.perf, "roofline or calibrated (default: calibrated where the GPU has a profile)");
  c->add_option("--decode", o.decode, "Decode batch sizes")->delimiter(',');
  c->add_option("--context", o.context, "Keys per decoding sequence")->check(CLI::PositiveNumber);
  c->add_option("--prefill", o.prefill, "Prefill chunk lengths (one sequence each)")->delimiter(',');
  c->add_option("--prefix", o.prefix, "Cached tokens before each prefill chunk")->check(CLI::NonNegativeNumber);
  c->add_flag("--eager", o.eager, "The engine without CUDA graphs (vLLM's enforce_eager)");
  return c;
}

int run_steptime(const SteptimeOptions& o) {
  const int gpus = o.tp * o.pp, servers = (gpus + 7) / 8;
  std::ostringstream y;
  y << "hardware: {gpu: " << o.gpu << "}\n"
    << "facility: {racks: 1, servers_per_rack: " << servers << ", gpus_per_server: " << 8
    << "}\nservices:\n  - {name: service, model: " << o.model << ", dtype: " << o.dtype << ", tp: " << o.tp
    << ", pp: " << o.pp << ", engine: "
    << (o.eager ? "{name: " + o.engine + ", cuda_graphs: false}" : o.engine)
    << (o.perf.empty() ? "" : ", perf: " + o.perf) << "}\n";
  const sim::Scenario sc = sim::load_scenario_text(y.str(), "<steptime>");
  const sim::ServiceConfig& svc = sc.services.front();
  const auto perf = sim::make_perf_model(sc, svc);
  const auto* composed = dynamic_cast<const models::ComposedPerfModel*>(perf.get());
  std::printf("%s %s tp %d%s on %s: %s\n", o.model.c_str(), o.dtype.c_str(), o.tp,
              o.pp > 1 ? (" pp " + std::to_string(o.pp)).c_str() : "", o.gpu.c_str(),
              sim::perf_provenance(sc, svc).c_str());
  std::printf("%-22s %10s %12s %9s %9s %9s %9s %9s %6s\n", "step", "time ms", "tokens/s", "gemm", "attn", "elemw",
              "comm", "engine", "graph");
  auto row = [&](const std::string& name, const models::BatchShape& s, double tokens) {
    const double t = perf->iteration(s).seconds;
    std::printf("%-22s %10.3f %12.0f", name.c_str(), 1e3 * t, tokens / t);
    if (composed) {
      const models::StepBreakdown b = composed->breakdown(s);
      std::printf(" %9.3f %9.3f %9.3f %9.3f %9.3f %6s", 1e3 * b.gemm, 1e3 * b.attention, 1e3 * b.elementwise,
                  1e3 * b.communication, 1e3 * b.engine, b.cuda_graph ? "yes" : "no");
    }
    std::printf("\n");
  };
  for (int b : o.decode) {
    models::BatchShape s;
    s.num_seqs = s.decode_seqs = s.sampled_seqs = b;
    s.num_tokens = b;
    s.attended_pairs = s.kv_read_tokens = static_cast<double>(b) * (o.context + 1);
    row("decode " + std::to_string(b) + " x " + std::to_string(o.context), s, b);
  }
  for (int n : o.prefill) {
    models::BatchShape s;
    s.num_seqs = s.prefill_seqs = s.sampled_seqs = 1;
    s.num_tokens = s.prefill_tokens = n;
    s.attended_pairs = s.prefill_attended_pairs = static_cast<double>(n) * o.prefix + n * (n + 1.0) / 2;
    s.kv_read_tokens = o.prefix + n;
    row("prefill " + std::to_string(n) + (o.prefix ? " after " + std::to_string(o.prefix) : ""), s, n);
  }
  std::printf("(ms per step; tokens/s: decode tokens or prompt tokens per second of this step)\n");
  return 0;
}

}  // namespace aif::cli
