// Placement: the SimGrid platform, where each replica and training job runs, and weights loaded at start.
#include "run.hpp"

#include <algorithm>

#include "aif/models/mix64.hpp"
#include "aif/world/placement.hpp"

namespace aif::sim {

void Run::build() {
  fast_ = (opt_.fidelity ? *opt_.fidelity : sc_.simulation.fidelity) == Fidelity::FAST;
  fabric_ = models::build_fabric(fabric_params(sc_));
  init_link_load_plugin();
  platform_ = build_platform(fabric_);
  links_ = std::make_unique<LinkMonitor>(platform_);
  place_replicas();
  place_training_jobs();
  held_.resize(sc_.workloads.size());
  build_power_manager();
  build_reliability();
}

std::vector<ReplicaSlot> place_replica_slots(const Scenario& sc) {
  const int per_server = sc.facility.gpus_per_server;
  const int servers = sc.facility.racks * sc.facility.servers_per_rack;
  std::vector<int> used(static_cast<size_t>(servers), 0);  // GPUs taken on each server, packed from GPU 0
  // Spare servers (failures.spare_servers, the last ones) wait for failures: nothing is placed on them.
  for (int s = servers - sc.failures.spare_servers; s < servers; ++s) used[static_cast<size_t>(s)] = per_server;
  std::vector<ReplicaSlot> slots;
  for (size_t s = 0; s < sc.services.size(); ++s) {
    const ServiceConfig& cfg = sc.services[s];
    int total = cfg.total_replicas();
    for (const AutoscalerConfig& a : sc.ops.autoscalers)
      if (a.service_index == s) total = std::max(total, a.max_replicas);
    const int gpus = cfg.gpus_per_replica();
    // A replica within one server takes gpus of its free GPUs; a larger one (pipeline stages) whole free servers in a
    // row, so its GPUs keep consecutive ids.
    const int span = std::max(1, gpus / per_server);
    for (int r = 0; r < total; ++r) {
      int server = 0;
      auto fits = [&](int first) {
        if (first + span > servers) return false;
        if (span == 1) return used[static_cast<size_t>(first)] + gpus <= per_server;
        for (int k = first; k < first + span; ++k)
          if (used[static_cast<size_t>(k)] != 0) return false;
        return true;
      };
      while (server < servers && !fits(server)) ++server;
      const std::string key = service_key(s) + (cfg.disaggregated() ? ".disaggregation" : ".replicas");
      if (server == servers)
        throw ScenarioError(sc.source_path, 0, key,
                            "replica " + std::to_string(r) + " of " + cfg.name + " (tp " + std::to_string(cfg.tp) +
                                (cfg.pp > 1 ? " x pp " + std::to_string(cfg.pp) : "") +
                                ") does not fit: every server is full");
      const int first_gpu = used[static_cast<size_t>(server)];
      for (int k = server; k < server + span; ++k) used[static_cast<size_t>(k)] += span == 1 ? gpus : per_server;
      slots.push_back({s, r, server, first_gpu, span, gpus});
    }
  }
  return slots;
}

std::vector<bool> gpus_free_for_jobs(const Scenario& sc, const std::vector<ReplicaSlot>& slots) {
  const int per_server = sc.facility.gpus_per_server;
  std::vector<bool> free(static_cast<size_t>(sc.facility.racks * sc.facility.servers_per_rack * per_server), true);
  const size_t spare_from = free.size() - static_cast<size_t>(sc.failures.spare_servers) * static_cast<size_t>(per_server);
  for (size_t g = spare_from; g < free.size(); ++g) free[g] = false;
  for (const ReplicaSlot& slot : slots)
    for (int g = 0; g < slot.gpus; ++g) free[static_cast<size_t>(slot.server * per_server + slot.first_gpu + g)] = false;
  return free;
}

void Run::place_replicas() {
  const int per_server = sc_.facility.gpus_per_server;
  const int servers = sc_.facility.racks * sc_.facility.servers_per_rack;
  replica_slots_ = place_replica_slots(sc_);
  const std::vector<ReplicaSlot>& slots = replica_slots_;
  size_t next_slot = 0;
  ReplicaSinks sinks;
  sinks.request_done = [this](const analysis::RequestRecord& r) { on_request_done(r); };
  sinks.event = [this](const analysis::EventRecord& e) { writer_.add_event(e); };
  if (!fast_) sinks.iteration = [this](const analysis::IterationRecord& it) { writer_.add_iteration(it); };
  sinks.timer_events = &events_;
  sinks.prefill_done = [this](const IncomingRequest& r, double first_token_s, int replica) {
    on_prefill_done(r, first_token_s, replica);
  };
  services_.resize(sc_.services.size());
  for (size_t s = 0; s < sc_.services.size(); ++s) {
    const ServiceConfig& cfg = sc_.services[s];
    Service& svc = services_[s];
    svc.config = &cfg;
    svc.perf = make_perf_model(sc_, cfg);
    models::SchedulerLimits limits;
    // dp attention ranks of a mixture of experts step together under one scheduler with dp times a rank's limits.
    limits.max_num_seqs = cfg.scheduler.max_num_seqs * cfg.dp;
    limits.max_num_batched_tokens = cfg.scheduler.max_num_batched_tokens * cfg.dp;
    limits.block_size = cfg.scheduler.block_size;
    limits.chunked_prefill = cfg.scheduler.chunked_prefill;
    limits.num_blocks = kv_blocks(sc_, cfg, s);
    limits.max_model_len = max_model_len(sc_, cfg);
    limits.policy = cfg.engine.policy;  // load_scenario has checked the tables cover these limits
    limits.prefix_caching = cfg.scheduler.prefix_caching;
    limits.spec_tokens = cfg.speculative.tokens;
    limits.spec_acceptance = cfg.speculative.acceptance;
    limits.spec_seed = models::mix64(sc_.simulation.seed ^ (0x5eed0000ULL + s));  // each service its own draws
    // The KV cache's dtype (bf16 with fp8 weights under kv_cache_dtype auto, as vLLM; perf_factory.cpp: kv_blocks).
    svc.kv_bytes_per_token = sc_.models.at(cfg.model).kv_bytes_per_token(models::dtype_bytes(cfg.kv_dtype()));
    // The KV tiers under HBM in whole blocks. A reload of one token's KV from host memory moves its 1 / (tp x pp)
    // share over each GPU's link; from disk, the whole of it through the replica's drives.
    auto tier_blocks = [&](double bytes) {
      return static_cast<int>(std::min(2e9, std::floor(bytes / (svc.kv_bytes_per_token * cfg.scheduler.block_size))));
    };
    if (cfg.kv_host_bytes > 0) limits.host_blocks = tier_blocks(cfg.kv_host_bytes);
    if (cfg.kv_disk_bytes > 0) limits.disk_blocks = tier_blocks(cfg.kv_disk_bytes);
    const double reload_s_per_token =
        cfg.kv_host_bandwidth > 0 ? svc.kv_bytes_per_token / cfg.gpus_per_replica() / cfg.kv_host_bandwidth : 0;
    const double disk_s_per_token = cfg.kv_disk_bandwidth > 0 ? svc.kv_bytes_per_token / cfg.kv_disk_bandwidth : 0;
    const double expert_flow_per_token = expert_flow_bytes_per_token(sc_, cfg);
    // The FLOPs and HBM bytes of each step, for the GPU power model (a constant step time has no shape to count).
    std::shared_ptr<const models::StepWorkModel> work;
    if (cfg.perf.kind != PerfConfig::Kind::CONSTANT)
      work = std::make_shared<models::StepWorkModel>(sc_.models.at(cfg.model), models::dtype_bytes(cfg.dtype), cfg.tp,
                                                     cfg.pp, models::dtype_bytes(cfg.kv_dtype()), cfg.dp);
    int total = static_cast<int>(std::count_if(slots.begin(), slots.end(), [s](const ReplicaSlot& k) { return k.service == s; }));
    int initial = cfg.total_replicas();
    for (int r = 0; r < total; ++r) {
      const ReplicaSlot& slot = slots[next_slot++];
      const int server = slot.server, first_gpu = slot.first_gpu, span = slot.span, gpus = slot.gpus;
      ReplicaRole role = ReplicaRole::COMBINED;
      std::string name = cfg.name + "/" + std::to_string(r);
      if (cfg.disaggregated()) {
        role = r < cfg.prefill_replicas ? ReplicaRole::PREFILL : ReplicaRole::DECODE;
        name = cfg.name + (role == ReplicaRole::PREFILL ? "/prefill/" + std::to_string(r)
                                                        : "/decode/" + std::to_string(r - cfg.prefill_replicas));
      }
      replicas_.push_back(std::make_unique<Replica>(static_cast<int>(replicas_.size()), static_cast<int>(s), name,
                                                    limits, *svc.perf, ReplicaPower(gpu_power_, work, cfg.gpu_power_limit_w),
                                                    gpus, fast_, sinks, role));
      replica_first_gpu_.push_back(server * per_server + first_gpu);
      Replica* replica = replicas_.back().get();
      replica->set_reload_s_per_token(reload_s_per_token, disk_s_per_token);
      if (expert_flow_per_token > 0) {
        // GPU i of each server sends to GPU i of every other server of the replica (rail to rail): per step and GPU,
        // its bytes for the other servers in equal shares. gpus x (servers - 1) flows a step.
        const int first = replica_first_gpu_.back(), spanned = gpus / per_server;
        replica->set_expert_flows(expert_flow_per_token, [this, first, gpus, spanned, per_server, name = replica->name()](
                                                 double bytes, std::function<void(double)> done) {
          std::vector<Flow> flows;
          flows.reserve(static_cast<size_t>(gpus * (spanned - 1)));
          for (int i = 0; i < gpus; ++i)
            for (int other = 0; other < spanned; ++other)
              if (other != i / per_server)
                flows.push_back({platform_.gpus[static_cast<size_t>(first + i)],
                                 platform_.gpus[static_cast<size_t>(first + other * per_server + i % per_server)],
                                 bytes / (spanned - 1)});
          start_transfer("a2a-" + name, std::move(flows), [this, done = std::move(done)](double, double end) {
            ++events_;
            done(end);
          });
        });
      }
      svc.replicas.push_back(replica);
      (role == ReplicaRole::DECODE ? svc.decode : svc.entry).push_back(replica);
      writer_.add_event({0.0, "replica_start", name,
                         "on " + platform_.gpu(server, first_gpu)->get_name() + ".." +
                             platform_.gpu(server + span - 1, (first_gpu + gpus - 1) % per_server)->get_name() + "; " +
                             std::to_string(limits.num_blocks) + " KV blocks of " + std::to_string(limits.block_size) +
                             " tokens" +
                             (limits.host_blocks > 0 ? " (+ " + std::to_string(limits.host_blocks) + " in host memory)"
                                                     : "") +
                             "; " + svc.perf->describe()});
      const bool load = loads_weights(cfg);
      parked_.push_back(r >= initial);
      starting_.push_back(false);
      if (r >= initial) {
        replica->fail(0.0);  // provisioned for the autoscaler, off until it scales up
        writer_.add_event({0.0, "replica_parked", name, "provisioned for ops.autoscaler max; off until a scale-up"});
      } else if (load) {
        load_weights(*replica, cfg);
      }
    }
  }
  int assigned = 0;
  for (const auto& r : replicas_) assigned += r->gpus();
  spare_gpus_idle_w_ = gpu_power_.idle_w() * (static_cast<int>(platform_.gpus.size()) - assigned);
  servers_overhead_w_ = sc_.facility.server_overhead_w * servers;
  // Per rack, the idle power of the GPUs no replica holds (the server model's load).
  const int per_rack = sc_.facility.servers_per_rack * per_server;
  std::vector<bool> held(platform_.gpus.size(), false);
  for (size_t i = 0; i < replicas_.size(); ++i)
    for (int g = replica_first_gpu_[i]; g < replica_first_gpu_[i] + replicas_[i]->gpus(); ++g) held[static_cast<size_t>(g)] = true;
  rack_spare_idle_w_.assign(static_cast<size_t>(sc_.facility.racks), 0.0);
  for (size_t g = 0; g < held.size(); ++g)
    if (!held[g]) rack_spare_idle_w_[g / static_cast<size_t>(per_rack)] += gpu_power_.idle_w();
}

// Training and fine-tuning jobs take GPUs the replicas left free (training_job.hpp: placement policies); each runs
// as one actor. Their GPUs still count as spare in the power model.
void Run::place_training_jobs() {
  if (sc_.jobs.empty()) return;
  std::vector<bool> free = gpus_free_for_jobs(sc_, replica_slots_);
  const std::vector<JobLayout> layouts = place_jobs(sc_, fabric_, free);
  TrainingJobSinks sinks;
  sinks.step = [this](const analysis::JobStepRecord& s) { writer_.add_job_step(s); };
  sinks.event = [this](const analysis::EventRecord& e) { writer_.add_event(e); };
  for (size_t j = 0; j < sc_.jobs.size(); ++j) {
    const JobConfig& job = sc_.jobs[j];
    jobs_.push_back(std::make_unique<TrainingJob>(static_cast<int>(j), job, training_params(sc_, job, fabric_.params()),
                                                  layouts[j], platform_, sc_.simulation.duration_s, sinks));
  }
}

void Run::load_weights(Replica& replica, const ServiceConfig& cfg) {
  if (fabric_.num_storage() == 0)
    throw ScenarioError(sc_.source_path, 0, service_key(static_cast<size_t>(&cfg - sc_.services.data())) + ".load_weights",
                        "loading weights needs storage nodes in the fabric (fabric.storage_nodes)");
  const double bytes = replica_weight_bytes(cfg, sc_.models) / cfg.gpus_per_replica();
  const int first = replica_first_gpu_[static_cast<size_t>(replica.index())];
  std::vector<Flow> flows;
  for (int i = 0; i < cfg.gpus_per_replica(); ++i)
    flows.push_back({platform_.storage[static_cast<size_t>((first + i) % fabric_.num_storage())],
                     platform_.gpus[static_cast<size_t>(first + i)], bytes});
  replica.set_loading(true);
  start_transfer("weights-" + replica.name(), std::move(flows), [this, &replica, bytes, model = cfg.model](double start, double end) {
    ++events_;
    char detail[160];
    std::snprintf(detail, sizeof detail, "%.3g GB of %s weights per GPU from storage in %.3f s", bytes / 1e9,
                  model.c_str(), end - start);
    writer_.add_event({end, "replica_ready", replica.name(), detail});
    replica.set_loading(false);
  });
}

}  // namespace aif::sim
