#include "aif/scenario/perf_factory.hpp"

#include <algorithm>
#include <cmath>

#include "aif/models/kernel_tables.hpp"

namespace aif::sim {

namespace {

std::string service_key(size_t i) { return "services[" + std::to_string(i) + "]"; }

}  // namespace

int kv_blocks(const Scenario& sc, const ServiceConfig& svc, size_t index) {
  if (svc.scheduler.num_blocks > 0) return svc.scheduler.num_blocks;
  const models::ModelArch& m = sc.models.at(svc.model);
  const double weights = replica_weight_bytes(svc, sc.models);
  // The KV cache's dtype: with auto, bf16 whatever the weights (vLLM's kv_cache_dtype auto follows the activations).
  double per_token = m.kv_bytes_per_token(models::dtype_bytes(svc.kv_dtype()));
  if (svc.speculative.method == ServiceConfig::Speculative::Method::DRAFT) {
    // The draft model shares the GPUs (its weights are in replica_weight_bytes) and keeps a KV cache of every
    // request beside the target's.
    const models::ModelArch& d = sc.models.at(svc.speculative.draft_model);
    per_token += d.kv_bytes_per_token(models::dtype_bytes(svc.kv_dtype()));
  }
  const double free_hbm = sc.device.hbm_bytes * svc.gpus_per_replica() - weights;
  const double per_block = per_token * svc.scheduler.block_size;
  const double blocks = std::floor(free_hbm * svc.scheduler.kv_memory_fraction / per_block);
  if (!(blocks >= 1))
    throw ScenarioError(sc.source_path, 0, service_key(index) + ".model",
                        "the weights of " + svc.model + " (" + std::to_string(weights / 1e9) +
                            " GB) leave no room for a KV cache on " + std::to_string(svc.gpus_per_replica()) + " x " +
                            sc.gpu);
  return static_cast<int>(std::min(blocks, 2e9));
}

std::unique_ptr<models::PerfModel> make_perf_model(const Scenario& sc, const ServiceConfig& svc) {
  if (svc.speculative.method == ServiceConfig::Speculative::Method::DRAFT) {
    // The draft model runs on the same GPUs with the same perf model kind and layout.
    ServiceConfig target = svc, draft = svc;
    target.speculative = {};
    draft.speculative = {};
    draft.model = svc.speculative.draft_model;
    draft.expert_parallel = false;
    draft.dp = 1;
    return std::make_unique<models::DraftedPerfModel>(make_perf_model(sc, target), make_perf_model(sc, draft));
  }
  const models::ModelArch& arch = sc.models.at(svc.model);
  const double nvlink = sc.fabric.nvlink_bandwidth > 0 ? sc.fabric.nvlink_bandwidth : sc.device.nvlink_bandwidth;
  switch (svc.perf.kind) {
    case PerfConfig::Kind::CONSTANT: return std::make_unique<models::ConstantPerfModel>(svc.perf.constant_iteration_s);
    case PerfConfig::Kind::CALIBRATED: {
      if (svc.perf.table == PerfConfig::Table::KBENCH) {
        models::CalibratedOptions o;
        o.iteration_overhead_s = svc.perf.iteration_overhead_s;
        o.overhead_per_seq_s = svc.perf.overhead_per_seq_s;
        o.overhead_per_token_s = svc.perf.overhead_per_token_s;
        o.overhead_per_key_s = svc.perf.overhead_per_key_s;
        o.overhead_per_prefill_pair_s = svc.perf.overhead_per_prefill_pair_s;
        o.clock_fraction = svc.perf.clock_fraction;
        if (nvlink > 0) o.allreduce_bandwidth = nvlink / 2;
        o.activation_bytes = models::dtype_bytes(svc.dtype);
        return std::make_unique<models::CalibratedPerfModel>(sc.calibration_tables.at(svc.perf.table_key), arch,
                                                             svc.tp, o);
      }
      models::KernelTableOptions o;
      o.dtype = svc.dtype;
      o.kv_dtype = svc.kv_dtype() == "fp8" ? "fp8" : "bf16";  // attention was measured with these two caches
      o.stages_across_servers = svc.tp * svc.pp > sc.facility.gpus_per_server;
      o.nic_bandwidth = sc.fabric.nic_bandwidth;
      o.expert_parallel = svc.expert_parallel;
      o.dp = svc.dp;
      o.gpus_per_server = sc.facility.gpus_per_server;
      o.alltoall_across_servers_by_flows = expert_flow_bytes_per_token(sc, svc) > 0;
      auto ops = std::make_shared<models::KernelTableOperators>(sc.device_profiles.at(svc.perf.table_key), sc.device,
                                                                 arch, svc.tp, o);
      return std::make_unique<models::ComposedPerfModel>(ops, arch, composed_options(svc), svc.engine);
    }
    case PerfConfig::Kind::ROOFLINE: break;
  }
  models::RooflineParams p;
  p.device = sc.device;
  p.model = arch;
  p.dtype = svc.dtype;
  p.tp = svc.tp;
  p.pp = svc.pp;
  p.dp = svc.dp;
  if (svc.kv_cache_dtype != "auto") p.kv_dtype = svc.kv_cache_dtype;
  p.stage_send_bandwidth = svc.tp * svc.pp > sc.facility.gpus_per_server ? sc.fabric.nic_bandwidth : nvlink / 2;
  if (sc.fabric.nvlink_bandwidth > 0) p.allreduce_bandwidth = sc.fabric.nvlink_bandwidth / 2;
  p.iteration_overhead_s = svc.perf.iteration_overhead_s;
  p.clock_fraction = svc.perf.clock_fraction;
  return std::make_unique<models::RooflinePerfModel>(p);
}

models::ComposedOptions composed_options(const ServiceConfig& svc) {
  models::ComposedOptions c;
  c.tp = svc.tp;
  c.pp = svc.pp;
  c.dp = svc.dp;
  c.clock_fraction = svc.perf.clock_fraction;
  c.activation_bytes = 2;  // bf16 activations, fp8 weights included
  return c;
}

double expert_flow_bytes_per_token(const Scenario& sc, const ServiceConfig& svc) {
  const int ep = svc.tp * svc.dp, local = std::min(ep, sc.facility.gpus_per_server);
  if (svc.dp <= 1 || svc.pp != 1 || ep <= local || svc.perf.kind != PerfConfig::Kind::CALIBRATED ||
      svc.perf.table == PerfConfig::Table::KBENCH)
    return 0;
  const models::ModelArch& m = sc.models.at(svc.model);
  // Per GPU and token of the step: its rank's share (1 / (dp tp)) of the token's bytes, the share of them bound for
  // the GPUs of other servers, in every layer.
  const double per_call =
      models::ComposedPerfModel::alltoall_bytes_per_token(m, composed_options(svc)) / (svc.dp * svc.tp);
  return per_call * m.layers * static_cast<double>(ep - local) / (ep - 1);
}

int max_model_len(const Scenario& sc, const ServiceConfig& svc) {
  const int model = sc.models.at(svc.model).max_context;
  return svc.scheduler.max_model_len > 0 ? std::min(svc.scheduler.max_model_len, model) : model;
}

models::StepLimits service_step_limits(const Scenario& sc, size_t index) {
  const ServiceConfig& svc = sc.services.at(index);
  models::StepLimits l;
  // dp attention ranks: one scheduler for the replica, each limit dp times a rank's.
  l.max_tokens = svc.scheduler.max_num_batched_tokens * svc.dp;
  l.max_seqs = svc.scheduler.max_num_seqs * svc.dp;
  l.max_context = max_model_len(sc, svc);
  l.max_kv_tokens = static_cast<int64_t>(kv_blocks(sc, svc, index)) * svc.scheduler.block_size;
  l.max_context = static_cast<int>(std::min<int64_t>(l.max_context, l.max_kv_tokens));
  return l;
}

void check_service_perf(const Scenario& sc, size_t index, const std::string& file, int line) {
  const ServiceConfig& svc = sc.services.at(index);
  if (svc.perf.kind != PerfConfig::Kind::CALIBRATED) return;
  const std::string key = service_key(index) + ".perf";
  std::unique_ptr<models::PerfModel> perf;
  try {
    perf = make_perf_model(sc, svc);
  } catch (const std::invalid_argument& e) {
    throw ScenarioError(file, line, key, e.what());
  }
  const models::StepLimits limits = service_step_limits(sc, index);
  try {
    const models::PerfModel* target = perf.get();
    if (const auto* d = dynamic_cast<const models::DraftedPerfModel*>(target)) target = &d->target();
    if (const auto* c = dynamic_cast<const models::CalibratedPerfModel*>(target))
      c->check_coverage(limits.max_tokens, limits.max_seqs, limits.max_context);
    else if (const auto* m = dynamic_cast<const models::ComposedPerfModel*>(target))
      m->check_coverage(limits);
  } catch (const std::out_of_range& e) {
    throw ScenarioError(file, line, key,
                        std::string(e.what()) + " (service limits: max_num_batched_tokens " +
                            std::to_string(limits.max_tokens) + ", max_num_seqs " + std::to_string(limits.max_seqs) +
                            ", context " + std::to_string(limits.max_context) + ")");
  }
}

std::string perf_provenance(const Scenario& sc, const ServiceConfig& svc) {
  switch (svc.perf.kind) {
    case PerfConfig::Kind::CONSTANT: return "constant step time (chosen)";
    case PerfConfig::Kind::CALIBRATED:
      if (svc.perf.table == PerfConfig::Table::KBENCH) return "calibrated: measured kbench table of this CPU";
      return "calibrated: " + sc.gpu + " kernel tables measured in vLLM, engine " + svc.engine.name;
    case PerfConfig::Kind::ROOFLINE: break;
  }
  return svc.perf.chosen ? "roofline from published figures (chosen)"
                         : "roofline from published figures (" + svc.perf.note + ")";
}

}  // namespace aif::sim
