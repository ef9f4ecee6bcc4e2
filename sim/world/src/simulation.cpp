#include "aif/world/simulation.hpp"

#include <simgrid/kernel/Timer.hpp>
#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <stdexcept>

#include "aif/analysis/stats.hpp"
#include "aif/models/arrivals.hpp"
#include "aif/models/fabric.hpp"
#include "aif/world/platform.hpp"
#include "aif/inputs/trace.hpp"
#include "link_monitor.hpp"
#include "power_manager.hpp"
#include "reliability.hpp"
#include "aif/world/training_job.hpp"
#include "replica.hpp"
#include "transfer.hpp"

namespace aif::sim {

namespace {

using Clock = std::chrono::steady_clock;
using simgrid::kernel::timer::Timer;

std::string service_key(size_t i) { return "services[" + std::to_string(i) + "]"; }

}  // namespace

std::unique_ptr<models::ArrivalProcess> make_arrivals(const Scenario& sc, const WorkloadConfig& w, size_t index) {
  const ArrivalConfig& a = w.arrival;
  const uint64_t stream = index;
  const double horizon = sc.simulation.duration_s;
  auto lengths = [](const LengthDist& d) {
    models::LengthDistribution out;
    switch (d.kind) {
      case LengthDist::Kind::FIXED: out = models::LengthDistribution::fixed(static_cast<int32_t>(d.value)); break;
      case LengthDist::Kind::UNIFORM:
        out = models::LengthDistribution::uniform(static_cast<int32_t>(d.min), static_cast<int32_t>(d.max));
        break;
      case LengthDist::Kind::LOGNORMAL:
        out = models::LengthDistribution::lognormal(d.median, d.sigma, static_cast<int32_t>(d.min),
                                                     static_cast<int32_t>(d.max));
        break;
    }
    return out;
  };
  models::ArrivalLimits limits{horizon, a.max_requests};
  switch (a.kind) {
    case ArrivalConfig::Kind::POISSON:
      return models::make_poisson(a.rate_per_s, lengths(a.prompt_tokens), lengths(a.output_tokens), sc.simulation.seed,
                                  stream, limits);
    case ArrivalConfig::Kind::GAMMA:
      return models::make_gamma(a.rate_per_s, a.cv, lengths(a.prompt_tokens), lengths(a.output_tokens),
                                sc.simulation.seed, stream, limits);
    case ArrivalConfig::Kind::DIURNAL:
      return models::make_diurnal(a.rate_per_s, a.diurnal_curve, a.diurnal_period_s, lengths(a.prompt_tokens),
                                  lengths(a.output_tokens), sc.simulation.seed, stream, limits);
    case ArrivalConfig::Kind::TRACE: {
      std::vector<TraceRecord> rows;
      switch (a.trace_format) {
        case ArrivalConfig::TraceFormat::AZURE_CSV: rows = read_azure_csv(a.trace_path); break;
        case ArrivalConfig::TraceFormat::MOONCAKE_JSONL: rows = read_mooncake_jsonl(a.trace_path); break;
        case ArrivalConfig::TraceFormat::RESULTS_H5: rows = read_results_requests(a.trace_path); break;
        case ArrivalConfig::TraceFormat::CSV: rows = read_csv_trace(a.trace_path); break;
      }
      std::vector<models::Arrival> arrivals;
      arrivals.reserve(rows.size());
      for (const TraceRecord& r : rows) arrivals.push_back({r.time_s, r.prompt_tokens, r.output_tokens});
      return models::make_trace_replay(std::move(arrivals), a.rate_scale, limits);
    }
  }
  throw std::logic_error("unknown arrival kind");
}

namespace {

std::string format_hms(double s) {
  const long t = static_cast<long>(s);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  return buf;
}

// The whole run's state. Lives on the stack of run_simulation; timers point into it.
class Run {
 public:
  Run(const Scenario& sc, const RunOptions& opt) : sc_(sc), opt_(opt), writer_(opt.output_path) {}

  RunReport execute();

 private:
  struct Service {
    const ServiceConfig* config;
    std::unique_ptr<models::PerfModel> perf;
    std::vector<Replica*> replicas;  // all of them (energy, summaries)
    std::vector<Replica*> entry;     // where arrivals go: every replica, or the prefill ones when disaggregated
    std::vector<Replica*> decode;    // disaggregated: where prefilled requests continue
    size_t next_rr = 0, next_rr_decode = 0;
    double kv_bytes_per_token = 0;
    int64_t kv_transfers = 0;
    double kv_transfer_bytes = 0;
    analysis::QuantileSketch kv_transfer_s;
    analysis::QuantileSketch ttft, tpot, e2e;
    int64_t arrived = 0, finished = 0, slo_met = 0, output_tokens = 0;
    int64_t retried = 0, dropped = 0;     // requests of failed replicas
    std::deque<IncomingRequest> orphans;  // waiting for a live replica (every one of the service is down)
  };

  void build();
  void place_replicas();
  void place_training_jobs();
  void start_workload(size_t index);
  void schedule_next_arrival(size_t index);
  void schedule_pending_arrival(size_t index);  // a timer for pending_[index], if any
  Replica& route(Service& svc, double now);
  static Replica& pick(std::vector<Replica*>& replicas, size_t& next_rr, RouterPolicy policy, double now);
  void on_prefill_done(const IncomingRequest& r, double first_token_s, int replica);
  void load_weights(Replica& replica, const ServiceConfig& cfg);
  void on_request_done(const analysis::RequestRecord& r);
  void build_power_manager();
  void build_reliability();
  void fail_replicas(const std::vector<int>& replicas, const std::string& cause);
  void restore_replica(int replica, bool replacement);
  // A request that lost its replica: to another live one of its service (from scratch: its KV is gone), held until
  // one is back, or dropped (ops.inference.on_failure).
  void retry_or_drop(Service& svc, const IncomingRequest& request, const analysis::RequestRecord& dropped,
                     std::vector<Replica*>& touched);
  static bool any_live(const std::vector<Replica*>& replicas);
  void restart_prefilled(Service& svc, const IncomingRequest& r, double first_token_s, int replica);
  bool loads_weights(const ServiceConfig& cfg) const;
  // A replica serves again: its weights over the storage network when the service loads them, then the requests
  // that found the whole service down.
  void bring_back(Replica& replica, const std::string& kind, const std::string& why);
  // Autoscaling and rollouts (ops.autoscaler, ops.rollouts).
  void start_ops();
  void autoscale(size_t which);
  void park(Replica& replica, const std::string& why);
  void unpark_after(Replica& replica, double delay_s, const std::string& kind, const std::string& why);
  // Drain the replica (nothing new routed to it), take it down when empty (or after 2 min, retrying what is left),
  // bring it back replica_start later: a restart with a new version. `done` runs when it serves again.
  void restart_replica(Replica& replica, const std::string& why, std::function<void()> done);
  void rollout_step(size_t which, size_t next);
  void deliver(size_t workload, const models::Arrival& a, std::vector<Replica*>& touched);
  void release_held(double now);
  void sample();
  std::vector<analysis::SummaryEntry> summarize(double end);
  bool work_left() const;
  // The time of the last sample (the end of the window the summary covers; -1 until then), and the reliability
  // figures as they stood then.
  double series_end_s_ = -1;
  std::vector<analysis::SummaryEntry> window_reliability_;

  const Scenario& sc_;
  const RunOptions& opt_;
  analysis::ResultsWriter writer_;
  bool fast_ = true;
  models::Fabric fabric_;  // the platform routes on it: lives as long as the run
  Platform platform_;
  std::vector<Service> services_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  std::vector<int> replica_first_gpu_;  // global GPU id of each replica's first GPU (its tp x pp GPUs follow)
  std::vector<std::pair<std::string, std::string>> perf_notes_;  // service -> how its step times are computed
  std::unique_ptr<LinkMonitor> links_;
  std::unique_ptr<PowerManager> power_;
  std::unique_ptr<Reliability> reliability_;
  std::vector<bool> parked_;              // autoscaling: provisioned but off (scaled down)
  std::vector<bool> starting_;            // autoscaling: a scale-up on its way
  std::vector<double> last_busy_s_;       // per replica, at the autoscaler's last look
  std::vector<double> last_scale_s_;      // per autoscaler: time of its last change
  std::vector<std::deque<std::pair<double, int>>> recommendations_;  // per autoscaler: (time, desired) in the cool-down
  std::vector<std::vector<Replica*>> rollout_order_;  // per rollout: canaries first, then the rest
  analysis::RackPowerSeries rack_power_;  // watts grows by one row of racks per sample
  std::vector<std::deque<models::Arrival>> held_;  // per workload: deferrable arrivals held by the power policies
  int64_t held_count_ = 0;
  std::vector<std::unique_ptr<TrainingJob>> jobs_;
  std::vector<std::unique_ptr<models::ArrivalProcess>> arrivals_;
  std::vector<std::optional<models::Arrival>> pending_;
  std::vector<size_t> workload_service_;  // workload index -> service index
  int active_workloads_ = 0;
  int64_t next_request_id_ = 0;
  // The last sample, and the TTFTs of the requests finished since the last progress line, for the live view.
  std::vector<double> slice_ttft_;
  double last_facility_w_ = 0;
  int last_busy_gpus_ = 0, last_running_ = 0, last_waiting_ = 0;
  int64_t arrived_ = 0, finished_ = 0, rejected_ = 0, unfinished_ = 0, dropped_ = 0, in_flight_ = 0;
  int64_t input_tokens_ = 0, output_tokens_ = 0;
  uint64_t events_ = 0;
  double last_finish_ = 0;
  // Constant over the run, set by place_replicas(): GPUs no replica uses draw idle power; servers draw their overhead.
  double spare_gpus_idle_w_ = 0;
  double servers_overhead_w_ = 0;
};

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

void Run::place_replicas() {
  const int per_server = sc_.facility.gpus_per_server;
  const int servers = sc_.facility.racks * sc_.facility.servers_per_rack;
  std::vector<int> used(static_cast<size_t>(servers), 0);  // GPUs taken on each server, packed from GPU 0
  // Spare servers (failures.spare_servers, the last ones) wait for failures: nothing is placed on them.
  for (int s = servers - sc_.failures.spare_servers; s < servers; ++s) used[static_cast<size_t>(s)] = per_server;
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
    limits.max_num_seqs = cfg.scheduler.max_num_seqs;
    limits.max_num_batched_tokens = cfg.scheduler.max_num_batched_tokens;
    limits.block_size = cfg.scheduler.block_size;
    limits.chunked_prefill = cfg.scheduler.chunked_prefill;
    limits.num_blocks = kv_blocks(sc_, cfg, s);
    limits.max_model_len = max_model_len(sc_, cfg);
    limits.policy = cfg.engine.policy;  // load_scenario has checked the tables cover these limits
    limits.prefix_caching = cfg.scheduler.prefix_caching;
    // The KV cache stays in bf16 with fp8 weights, as vLLM's kv_cache_dtype auto (perf_factory.cpp: kv_blocks).
    svc.kv_bytes_per_token = sc_.models.at(cfg.model).kv_bytes_per_token(cfg.dtype == "fp8" ? 2.0 : models::dtype_bytes(cfg.dtype));
    int total = cfg.total_replicas();
    int initial = total;
    for (const AutoscalerConfig& a : sc_.ops.autoscalers)
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
        throw ScenarioError(sc_.source_path, 0, key,
                            "replica " + std::to_string(r) + " of " + cfg.name + " (tp " + std::to_string(cfg.tp) +
                                (cfg.pp > 1 ? " x pp " + std::to_string(cfg.pp) : "") +
                                ") does not fit: every server is full");
      const int first_gpu = used[static_cast<size_t>(server)];
      for (int k = server; k < server + span; ++k) used[static_cast<size_t>(k)] += span == 1 ? gpus : per_server;
      ReplicaRole role = ReplicaRole::COMBINED;
      std::string name = cfg.name + "/" + std::to_string(r);
      if (cfg.disaggregated()) {
        role = r < cfg.prefill_replicas ? ReplicaRole::PREFILL : ReplicaRole::DECODE;
        name = cfg.name + (role == ReplicaRole::PREFILL ? "/prefill/" + std::to_string(r)
                                                        : "/decode/" + std::to_string(r - cfg.prefill_replicas));
      }
      replicas_.push_back(std::make_unique<Replica>(static_cast<int>(replicas_.size()), static_cast<int>(s), name,
                                                    limits, *svc.perf, models::GpuPowerParams::from_device(sc_.device),
                                                    gpus, fast_, sinks, role));
      replica_first_gpu_.push_back(server * per_server + first_gpu);
      Replica* replica = replicas_.back().get();
      svc.replicas.push_back(replica);
      (role == ReplicaRole::DECODE ? svc.decode : svc.entry).push_back(replica);
      writer_.add_event({0.0, "replica_start", name,
                         "on " + platform_.gpu(server, first_gpu)->get_name() + ".." +
                             platform_.gpu(server + span - 1, (first_gpu + gpus - 1) % per_server)->get_name() + "; " +
                             std::to_string(limits.num_blocks) + " KV blocks of " + std::to_string(limits.block_size) +
                             " tokens; " + svc.perf->describe()});
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
  spare_gpus_idle_w_ = sc_.device.idle_w * (static_cast<int>(platform_.gpus.size()) - assigned);
  servers_overhead_w_ = sc_.facility.server_overhead_w * servers;
}

// Training and fine-tuning jobs take GPUs the replicas left free (training_job.hpp: placement policies); each runs
// as one actor. Their GPUs still count as spare in the power model.
void Run::place_training_jobs() {
  if (sc_.jobs.empty()) return;
  std::vector<bool> free(platform_.gpus.size(), true);
  const size_t spare_from = platform_.gpus.size() - static_cast<size_t>(sc_.failures.spare_servers) *
                                                        static_cast<size_t>(sc_.facility.gpus_per_server);
  for (size_t g = spare_from; g < free.size(); ++g) free[g] = false;
  for (size_t r = 0; r < replicas_.size(); ++r) {
    for (int g = 0; g < replicas_[r]->gpus(); ++g) free[static_cast<size_t>(replica_first_gpu_[r] + g)] = false;
  }
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

void Run::start_workload(size_t index) {
  for (size_t s = 0; s < sc_.services.size(); ++s)
    if (sc_.services[s].name == sc_.workloads[index].service) workload_service_.push_back(s);
  arrivals_.push_back(make_arrivals(sc_, sc_.workloads[index], index));
  pending_.emplace_back();
  ++active_workloads_;
  schedule_next_arrival(index);
}

void Run::schedule_next_arrival(size_t index) {
  pending_[index] = arrivals_[index]->next();
  schedule_pending_arrival(index);
}

void Run::schedule_pending_arrival(size_t index) {
  if (!pending_[index]) {
    --active_workloads_;
    return;
  }
  Timer::set(pending_[index]->time_s, [this, index] {
    ++events_;
    // Deliver every arrival of this instant before any idle replica starts its first step.
    const double now = pending_[index]->time_s;
    std::vector<Replica*> touched;
    const bool hold = sc_.workloads[index].deferrable && power_ && power_->hold_deferrable(now);
    while (pending_[index] && pending_[index]->time_s == now) {
      if (hold) {
        held_[index].push_back(*pending_[index]);  // released by release_held(), its arrival time kept
        ++held_count_;
      } else {
        deliver(index, *pending_[index], touched);
      }
      pending_[index] = arrivals_[index]->next();
    }
    for (Replica* r : touched) r->start_if_idle();
    schedule_pending_arrival(index);
  });
}

void Run::deliver(size_t index, const models::Arrival& a, std::vector<Replica*>& touched) {
  Service& svc = services_[workload_service_[index]];
  ++svc.arrived;
  ++arrived_;
  ++in_flight_;
  IncomingRequest request{next_request_id_++, static_cast<int32_t>(index), a.time_s, a.prompt_tokens,
                          a.output_tokens};
  if (const int prefix = sc_.workloads[index].shared_prefix_tokens; prefix > 0) {
    request.prefix_group = static_cast<int32_t>(index);  // one shared prefix per workload
    request.prefix_tokens = std::min(prefix, a.prompt_tokens);
  }
  if (!any_live(svc.entry)) {
    svc.orphans.push_back(request);  // the whole service is down: it waits for the first replica back
    return;
  }
  Replica& replica = route(svc, simgrid::s4u::Engine::get_clock());
  replica.arrive(request);
  touched.push_back(&replica);
}

// Held deferrable arrivals go once the policies let them, or when their deadline (arrival + deadline) has come.
void Run::release_held(double now) {
  if (held_count_ == 0) return;
  const bool hold = power_->hold_deferrable(now);
  std::vector<Replica*> touched;
  for (size_t w = 0; w < held_.size(); ++w) {
    const double deadline = sc_.workloads[w].deadline_s;
    while (!held_[w].empty() && (!hold || held_[w].front().time_s + deadline <= now)) {
      deliver(w, held_[w].front(), touched);
      held_[w].pop_front();
      --held_count_;
    }
  }
  for (Replica* r : touched) r->start_if_idle();
}

Replica& Run::route(Service& svc, double now) { return pick(svc.entry, svc.next_rr, svc.config->router, now); }

bool Run::any_live(const std::vector<Replica*>& replicas) {
  return std::any_of(replicas.begin(), replicas.end(), [](const Replica* r) { return r->accepting(); });
}

// Down replicas are skipped (the caller checks any_live first).
Replica& Run::pick(std::vector<Replica*>& replicas, size_t& next_rr, RouterPolicy policy, double now) {
  if (policy == RouterPolicy::ROUND_ROBIN) {
    for (size_t tries = 0; tries < replicas.size(); ++tries) {
      Replica& r = *replicas[next_rr];
      next_rr = (next_rr + 1) % replicas.size();
      if (r.accepting()) return r;
    }
    throw std::logic_error("Run::pick: every replica is down");
  }
  // Least outstanding tokens; ties go to the lowest index (deterministic).
  Replica* best = nullptr;
  int64_t best_tokens = 0;
  for (Replica* r : replicas) {
    if (!r->accepting()) continue;
    const int64_t t = r->outstanding_tokens(now);
    if (!best || t < best_tokens) best = r, best_tokens = t;
  }
  if (!best) throw std::logic_error("Run::pick: every replica is down");
  return *best;
}

// The prompt's KV cache moves from the prefill replica to a decode replica over the fabric: GPU i of one tensor-
// parallel group to GPU i of the other, each carrying its 1/tp share of the heads. The request joins the decode
// replica's queue once the last byte is in.
// A prefilled request whose KV has nowhere to go (no live decode replica, or it failed): retried from scratch or
// dropped, by ops.inference.on_failure.
void Run::restart_prefilled(Service& svc, const IncomingRequest& r, double first_token_s, int replica) {
  analysis::RequestRecord dropped;
  dropped.id = r.id;
  dropped.workload = r.workload;
  dropped.service = static_cast<int32_t>(&svc - services_.data());
  dropped.replica = replica;
  dropped.arrival_s = r.arrival_s;
  dropped.first_token_s = first_token_s;
  dropped.prompt_tokens = r.prompt_tokens;
  dropped.output_tokens = r.output_tokens;
  dropped.generated_tokens = 1;
  dropped.outcome = analysis::Outcome::DROPPED;
  std::vector<Replica*> touched;
  retry_or_drop(svc, r, dropped, touched);
  for (Replica* t : touched) t->start_if_idle();
}

void Run::on_prefill_done(const IncomingRequest& r, double first_token_s, int replica) {
  ++events_;
  const double now = simgrid::s4u::Engine::get_clock();
  Service& svc = services_[workload_service_[static_cast<size_t>(r.workload)]];
  if (!any_live(svc.decode)) {
    // No decode replica to take the KV: the request starts over when one is back (or is dropped).
    restart_prefilled(svc, r, first_token_s, replica);
    return;
  }
  Replica& dst = pick(svc.decode, svc.next_rr_decode, svc.config->router, now);
  const int tp = svc.config->gpus_per_replica();  // each GPU holds its heads (and its stage's layers) of the KV
  const double bytes = r.prompt_tokens * svc.kv_bytes_per_token;
  std::vector<Flow> flows;
  for (int i = 0; i < tp; ++i)
    flows.push_back({platform_.gpus[static_cast<size_t>(replica_first_gpu_[static_cast<size_t>(replica)] + i)],
                     platform_.gpus[static_cast<size_t>(replica_first_gpu_[static_cast<size_t>(dst.index())] + i)],
                     bytes / tp});
  start_transfer("kv-" + std::to_string(r.id), std::move(flows),
                 [this, &svc, &dst, r, first_token_s, bytes](double start, double end) {
                   ++events_;
                   ++svc.kv_transfers;
                   svc.kv_transfer_bytes += bytes;
                   svc.kv_transfer_s.add(end - start);
                   if (dst.down()) {  // failed while the KV was on its way: start over elsewhere
                     restart_prefilled(svc, r, first_token_s, dst.index());
                     return;
                   }
                   dst.arrive_prefilled(r, first_token_s);
                   dst.start_if_idle();
                 });
}

// Each GPU of the replica reads its 1/(tp pp) share of the weights from a storage node (spread over the nodes by GPU);
// the replica serves once every share is in.
void Run::load_weights(Replica& replica, const ServiceConfig& cfg) {
  if (fabric_.num_storage() == 0)
    throw ScenarioError(sc_.source_path, 0, service_key(static_cast<size_t>(&cfg - sc_.services.data())) + ".load_weights",
                        "loading weights needs storage nodes in the fabric (fabric.storage_nodes)");
  const double bytes =
      sc_.models.at(cfg.model).parameters() * models::dtype_bytes(cfg.dtype) / cfg.gpus_per_replica();
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

void Run::on_request_done(const analysis::RequestRecord& r) {
  writer_.add_request(r);
  --in_flight_;
  Service& svc = services_[static_cast<size_t>(r.service)];
  if (r.outcome == analysis::Outcome::REJECTED) ++rejected_;
  if (r.outcome == analysis::Outcome::UNFINISHED) ++unfinished_;
  if (r.outcome == analysis::Outcome::DROPPED) ++dropped_;
  if (r.outcome != analysis::Outcome::FINISHED) return;
  ++finished_;
  ++svc.finished;
  input_tokens_ += r.prompt_tokens;
  output_tokens_ += r.generated_tokens;
  svc.output_tokens += r.generated_tokens;
  last_finish_ = std::max(last_finish_, r.finish_s);
  const double ttft = r.first_token_s - r.arrival_s, e2e = r.finish_s - r.arrival_s;
  if (opt_.progress_json) slice_ttft_.push_back(ttft);
  svc.ttft.add(ttft);
  svc.e2e.add(e2e);
  double tpot = 0;
  if (r.generated_tokens > 1) {
    tpot = (r.finish_s - r.first_token_s) / (r.generated_tokens - 1);
    svc.tpot.add(tpot);
  }
  const SloConfig& slo = svc.config->slo;
  const bool met = (slo.ttft_s <= 0 || ttft <= slo.ttft_s) && (slo.e2e_s <= 0 || e2e <= slo.e2e_s) &&
                   (slo.tpot_s <= 0 || r.generated_tokens <= 1 || tpot <= slo.tpot_s);
  if (met) ++svc.slo_met;
}

bool Run::work_left() const { return active_workloads_ > 0 || in_flight_ > 0 || held_count_ > 0; }

// Every replica and training job becomes a consumer the power manager can measure and slow down; what no consumer
// accounts for (server overhead, spare GPUs at idle) is static power per rack.
void Run::build_power_manager() {
  const int per_server = sc_.facility.gpus_per_server;
  const int per_rack = sc_.facility.servers_per_rack * per_server;
  const models::GpuPowerParams gpu = models::GpuPowerParams::from_device(sc_.device);
  std::vector<double> static_rack_w(static_cast<size_t>(sc_.facility.racks),
                                    sc_.facility.server_overhead_w * sc_.facility.servers_per_rack);
  std::vector<bool> used(platform_.gpus.size(), false);
  std::vector<PowerConsumer> consumers;
  for (size_t i = 0; i < replicas_.size(); ++i) {
    Replica* r = replicas_[i].get();
    const int first = replica_first_gpu_[i];
    for (int g = first; g < first + r->gpus(); ++g) used[static_cast<size_t>(g)] = true;
    PowerConsumer k;
    k.name = "replica " + r->name();
    k.group = sc_.services[static_cast<size_t>(r->service_index())].name;
    k.overhead_w = sc_.facility.server_overhead_w * r->gpus() / per_server;
    k.priority = sc_.services[static_cast<size_t>(r->service_index())].priority;
    std::map<int, int> racks;  // a replica with pipeline stages on several servers may span racks
    for (int g = first; g < first + r->gpus(); ++g) ++racks[g / per_rack];
    k.rack_gpus.assign(racks.begin(), racks.end());
    k.gpus = r->gpus();
    k.power_w = [r](double now) { return r->gpu_power_w(now); };
    k.clock = [r] { return r->clock_fraction(); };
    k.set_clock = [r](double f) { r->set_clock_fraction(f); };
    consumers.push_back(std::move(k));
  }
  for (const auto& job_ptr : jobs_) {
    TrainingJob* job = job_ptr.get();
    PowerConsumer k;
    k.name = "job " + job->config().name;
    k.group = "job." + job->config().name;
    k.overhead_w = sc_.facility.server_overhead_w * static_cast<double>(job->layout().gpus.size()) / per_server;
    k.training = true;
    k.priority = job->config().priority;
    std::map<int, int> racks;
    for (int g : job->layout().gpus) {
      used[static_cast<size_t>(g)] = true;
      ++racks[g / per_rack];
    }
    k.rack_gpus.assign(racks.begin(), racks.end());
    k.gpus = static_cast<int>(job->layout().gpus.size());
    k.power_w = [job, gpu](double) {
      return static_cast<double>(job->layout().gpus.size()) * (gpu.idle_w + job->compute_power_w_now(gpu));
    };
    k.clock = [job] { return job->clock_fraction(); };
    k.set_clock = [job](double f) { job->set_clock_fraction(f); };
    k.pause = [job] { job->pause(); };
    k.resume = [job] { job->resume(); };
    k.deferrable = job->config().deferrable;
    k.deadline_s = job->config().start_s + job->config().deadline_s;  // absolute: finish by start + deadline
    k.remaining_s = [job] { return job->remaining_s(); };
    k.done = [job] { return job->finished(); };
    k.start_s = job->config().start_s;
    consumers.push_back(std::move(k));
  }
  for (size_t g = 0; g < used.size(); ++g)
    if (!used[g]) static_rack_w[g / static_cast<size_t>(per_rack)] += gpu.idle_w;
  try {
    power_ = std::make_unique<PowerManager>(sc_, std::move(consumers), std::move(static_rack_w), gpu,
                                            [this](const analysis::EventRecord& e) { writer_.add_event(e); }, &events_);
  } catch (const std::invalid_argument& e) {
    // The chain's parameters together (e.g. a free-cooling PUE below what the fixed losses alone give).
    throw ScenarioError(sc_.source_path, 0, "facility.power", e.what());
  }
  power_->set_after_tick([this](double now) { release_held(now); });
  power_->set_keep_going([this](double next) {
    return next <= sc_.simulation.duration_s || (sc_.simulation.drain && work_left());
  });
}

// Failures and incidents (reliability.hpp) act on the run through these hooks.
void Run::build_reliability() {
  std::vector<std::vector<int>> replica_gpus, job_gpus, service_replicas(services_.size());
  for (size_t r = 0; r < replicas_.size(); ++r) {
    std::vector<int> gpus;
    for (int g = 0; g < replicas_[r]->gpus(); ++g) gpus.push_back(replica_first_gpu_[r] + g);
    replica_gpus.push_back(std::move(gpus));
    service_replicas[static_cast<size_t>(replicas_[r]->service_index())].push_back(static_cast<int>(r));
  }
  for (const auto& job : jobs_) job_gpus.push_back(job->layout().gpus);
  ReliabilityHooks hooks;
  hooks.fail_replicas = [this](const std::vector<int>& r, const std::string& cause) { fail_replicas(r, cause); };
  hooks.restore_replica = [this](int r, bool replacement) { restore_replica(r, replacement); };
  hooks.interrupt_job = [this](int j, const std::string& cause, double restart_at) {
    jobs_[static_cast<size_t>(j)]->interrupt(cause, restart_at);
  };
  hooks.reschedule_job = [this](int j, double restart_at) { jobs_[static_cast<size_t>(j)]->set_restart_at(restart_at); };
  hooks.job_dp_replicas_in = [this](int j, const std::vector<int>& gpus) {
    return jobs_[static_cast<size_t>(j)]->dp_replicas_in(gpus);
  };
  hooks.job_dp = [this](int j) { return jobs_[static_cast<size_t>(j)]->layout().dp; };
  hooks.set_job_lost_dp = [this](int j, int lost) { jobs_[static_cast<size_t>(j)]->set_lost_dp_replicas(lost); };
  hooks.event = [this](const analysis::EventRecord& e) { writer_.add_event(e); };
  hooks.events = &events_;
  reliability_ = std::make_unique<Reliability>(sc_, fabric_, replica_gpus, job_gpus, std::move(service_replicas),
                                               std::move(hooks));
}

void Run::retry_or_drop(Service& svc, const IncomingRequest& request, const analysis::RequestRecord& dropped,
                        std::vector<Replica*>& touched) {
  if (sc_.ops.on_failure == FailedRequestPolicy::DROP) {
    ++svc.dropped;
    on_request_done(dropped);
    return;
  }
  ++svc.retried;
  if (!any_live(svc.entry)) {
    svc.orphans.push_back(request);
    return;
  }
  Replica& replica = route(svc, simgrid::s4u::Engine::get_clock());
  replica.arrive(request);
  touched.push_back(&replica);
}

// Every replica of the outage goes down first, then their requests move: none lands on a replica about to fail.
void Run::fail_replicas(const std::vector<int>& indices, const std::string& cause) {
  const double now = simgrid::s4u::Engine::get_clock();
  std::vector<std::pair<Replica*, std::vector<LostRequest>>> lost;
  for (int index : indices) {
    Replica& replica = *replicas_[static_cast<size_t>(index)];
    if (replica.down()) continue;
    lost.emplace_back(&replica, replica.fail(now));
    writer_.add_event({now, "replica_down", replica.name(),
                       cause + "; " + std::to_string(lost.back().second.size()) + " request(s) " +
                           (sc_.ops.on_failure == FailedRequestPolicy::RETRY ? "retried" : "dropped")});
  }
  std::vector<Replica*> touched;
  for (const auto& [replica, requests] : lost) {
    Service& svc = services_[static_cast<size_t>(replica->service_index())];
    for (const LostRequest& l : requests)
      retry_or_drop(svc, l.request, replica->dropped_record(l, replica->service_index()), touched);
  }
  for (Replica* r : touched) r->start_if_idle();
}

void Run::restore_replica(int index, bool replacement) {
  Replica& replica = *replicas_[static_cast<size_t>(index)];
  if (!replica.down() || parked_[static_cast<size_t>(index)]) return;  // a parked replica stays off
  replica.restore(simgrid::s4u::Engine::get_clock());
  bring_back(replica, "replica_up", replacement ? "replacement on a spare server" : "repaired");
}

bool Run::loads_weights(const ServiceConfig& cfg) const {
  return cfg.load_weights == ServiceConfig::WeightLoading::ON ||
         (cfg.load_weights == ServiceConfig::WeightLoading::AUTO && fabric_.num_storage() > 0);
}

void Run::bring_back(Replica& replica, const std::string& kind, const std::string& why) {
  const double now = simgrid::s4u::Engine::get_clock();
  Service& svc = services_[static_cast<size_t>(replica.service_index())];
  const bool load = loads_weights(*svc.config);
  writer_.add_event({now, kind, replica.name(), why + (load ? "; loading weights from storage" : "")});
  if (load) load_weights(replica, *svc.config);
  std::vector<Replica*> touched;
  while (!svc.orphans.empty() && any_live(svc.entry)) {
    Replica& r = route(svc, now);
    r.arrive(svc.orphans.front());
    svc.orphans.pop_front();
    touched.push_back(&r);
  }
  for (Replica* r : touched) r->start_if_idle();
}

// ---- autoscaling and rollouts ----------------------------------------------------------------------------------

void Run::start_ops() {
  last_busy_s_.assign(replicas_.size(), 0.0);
  last_scale_s_.assign(sc_.ops.autoscalers.size(), -1e300);
  recommendations_.resize(sc_.ops.autoscalers.size());
  for (size_t a = 0; a < sc_.ops.autoscalers.size(); ++a) {
    const double first = sc_.ops.autoscalers[a].interval_s;
    if (first <= sc_.simulation.duration_s) Timer::set(first, [this, a] { autoscale(a); });
  }
  rollout_order_.resize(sc_.ops.rollouts.size());
  for (size_t k = 0; k < sc_.ops.rollouts.size(); ++k) {
    Timer::set(sc_.ops.rollouts[k].at_s, [this, k] {
      ++events_;
      const RolloutConfig& ro = sc_.ops.rollouts[k];
      Service& svc = services_[ro.service_index];
      std::vector<Replica*>& order = rollout_order_[k];
      for (Replica* r : svc.replicas)
        if (!r->down()) order.push_back(r);
      const size_t canaries =
          std::max<size_t>(1, static_cast<size_t>(std::ceil(ro.canary_share * static_cast<double>(order.size()))));
      const double now = simgrid::s4u::Engine::get_clock();
      writer_.add_event({now, "rollout_start", "service/" + ro.service,
                         std::to_string(order.size()) + " replicas: " + std::to_string(canaries) + " canary first, " +
                             (ro.canary_fails ? "a bad version (the canary will fail)" : "a good version")});
      auto remaining = std::make_shared<size_t>(std::min(canaries, order.size()));
      for (size_t i = 0; i < canaries && i < order.size(); ++i) {
        restart_replica(*order[i], "rollout canary", [this, k, remaining, canaries] {
          if (--*remaining > 0) return;
          const RolloutConfig& canary_cfg = sc_.ops.rollouts[k];
          const double served = simgrid::s4u::Engine::get_clock();
          writer_.add_event({served, "rollout_canary", "service/" + canary_cfg.service,
                             "canary serving; verdict in " + format_hms(canary_cfg.canary_duration_s)});
          Timer::set(served + canary_cfg.canary_duration_s, [this, k, canaries] {
            ++events_;
            const RolloutConfig& verdict_cfg = sc_.ops.rollouts[k];
            const double t = simgrid::s4u::Engine::get_clock();
            if (verdict_cfg.canary_fails) {
              writer_.add_event({t, "rollout_rollback", "service/" + verdict_cfg.service,
                                 "canary failed its checks: " + std::to_string(canaries) + " replica(s) back to the old version"});
              for (size_t c = 0; c < canaries && c < rollout_order_[k].size(); ++c)
                restart_replica(*rollout_order_[k][c], "rollback", [] {});
              return;
            }
            writer_.add_event({t, "rollout_canary_passed", "service/" + verdict_cfg.service, "rolling out to the rest"});
            rollout_step(k, canaries);
          });
        });
      }
    });
  }
}

void Run::rollout_step(size_t k, size_t next) {
  const RolloutConfig& ro = sc_.ops.rollouts[k];
  const std::vector<Replica*>& order = rollout_order_[k];
  if (next >= order.size()) {
    writer_.add_event({simgrid::s4u::Engine::get_clock(), "rollout_done", "service/" + ro.service,
                       std::to_string(order.size()) + " replicas on the new version"});
    return;
  }
  // One replica at a time: the next starts `step` after this one serves again.
  restart_replica(*order[next], "rollout", [this, k, next] {
    const double at = simgrid::s4u::Engine::get_clock() + sc_.ops.rollouts[k].step_s;
    Timer::set(at, [this, k, next] {
      ++events_;
      rollout_step(k, next + 1);
    });
  });
}

void Run::restart_replica(Replica& replica, const std::string& why, std::function<void()> done) {
  const double begun = simgrid::s4u::Engine::get_clock();
  replica.set_draining(true);
  writer_.add_event({begun, "replica_draining", replica.name(), why});
  auto poll = std::make_shared<std::function<void()>>();
  *poll = [this, &replica, why, done, begun, poll] {
    ++events_;
    const double now = simgrid::s4u::Engine::get_clock();
    if (replica.down()) {  // failed meanwhile: the failure path brings it back
      done();
      return;
    }
    if (!replica.empty() && now - begun < 120) {
      Timer::set(now + 1, [poll] { (*poll)(); });
      return;
    }
    const std::vector<LostRequest> left = replica.fail(now);
    Service& svc = services_[static_cast<size_t>(replica.service_index())];
    std::vector<Replica*> touched;
    for (const LostRequest& l : left) retry_or_drop(svc, l.request, replica.dropped_record(l, replica.service_index()), touched);
    for (Replica* r : touched) r->start_if_idle();
    writer_.add_event({now, "replica_restarting", replica.name(),
                       why + "; drained in " + format_hms(now - begun) +
                           (left.empty() ? "" : "; " + std::to_string(left.size()) + " request(s) moved")});
    Timer::set(now + sc_.ops.replica_start_s, [this, &replica, why, done] {
      ++events_;
      const double t = simgrid::s4u::Engine::get_clock();
      if (!replica.down()) return;
      replica.restore(t);
      bring_back(replica, "replica_up", why);
      done();
    });
  };
  (*poll)();
}

void Run::park(Replica& replica, const std::string& why) {
  const double now = simgrid::s4u::Engine::get_clock();
  const std::vector<LostRequest> left = replica.fail(now);  // empty: it was drained
  parked_[static_cast<size_t>(replica.index())] = true;
  Service& svc = services_[static_cast<size_t>(replica.service_index())];
  std::vector<Replica*> touched;
  for (const LostRequest& l : left) retry_or_drop(svc, l.request, replica.dropped_record(l, replica.service_index()), touched);
  for (Replica* r : touched) r->start_if_idle();
  writer_.add_event({now, "replica_parked", replica.name(), why});
}

void Run::unpark_after(Replica& replica, double delay_s, const std::string& kind, const std::string& why) {
  const size_t i = static_cast<size_t>(replica.index());
  starting_[i] = true;
  Timer::set(simgrid::s4u::Engine::get_clock() + delay_s, [this, &replica, i, kind, why] {
    ++events_;
    starting_[i] = false;
    if (!parked_[i] || reliability_->replica_held(static_cast<int>(i))) return;
    parked_[i] = false;
    replica.restore(simgrid::s4u::Engine::get_clock());
    bring_back(replica, kind, why);
  });
}

// Every interval: the metric over the serving replicas, the replica count it asks for (clamped to [min, max]),
// scale-ups at once (each serves after replica_start + weights), scale-downs by draining, not within the cool-down.
void Run::autoscale(size_t which) {
  ++events_;
  const AutoscalerConfig& a = sc_.ops.autoscalers[which];
  Service& svc = services_[a.service_index];
  const double now = simgrid::s4u::Engine::get_clock();
  int live = 0, starting = 0;
  double busy = 0, waiting = 0;
  for (Replica* r : svc.replicas) {
    const size_t i = static_cast<size_t>(r->index());
    if (r->accepting()) {
      ++live;
      busy += r->busy_s() - last_busy_s_[i];
      waiting += r->waiting() + r->running();  // requests in the replica: its concurrency
    }
    if (starting_[i]) ++starting;
    last_busy_s_[i] = r->busy_s();
    if (!r->down() && !r->accepting() && r->empty() && !parked_[i]) {
      // A scale-down's drained replica: off now.
      park(*r, "scaled down, drained");
    }
  }
  waiting += static_cast<double>(svc.orphans.size());
  const double metric = a.metric == AutoscalerConfig::Metric::UTILIZATION
                            ? (live > 0 ? busy / (live * a.interval_s) : 1.0)
                            : (live > 0 ? waiting / live : waiting);
  const double load = a.metric == AutoscalerConfig::Metric::UTILIZATION ? live * metric : waiting;
  int desired = static_cast<int>(std::ceil(load / a.target - 1e-9));
  desired = std::clamp(desired, a.min_replicas, a.max_replicas);
  // Scale down only to the highest count asked for over the cool-down (a stabilization window, as Kubernetes'
  // HPA does): one quiet look does not remove replicas a busy minute needed.
  auto& recent = recommendations_[which];
  recent.emplace_back(now, desired);
  while (!recent.empty() && recent.front().first < now - a.cooldown_s) recent.pop_front();
  int stable = desired;
  for (const auto& [t, d] : recent) stable = std::max(stable, d);
  const int current = live + starting;
  char detail[200];
  if (desired > current) {
    int added = 0;
    for (Replica* r : svc.replicas) {
      const size_t i = static_cast<size_t>(r->index());
      if (added == desired - current) break;
      if (!parked_[i] || starting_[i] || reliability_->replica_held(r->index())) continue;
      ++added;
      std::snprintf(detail, sizeof detail, "%s %.3g (target %.3g): %d -> %d replicas",
                    a.metric == AutoscalerConfig::Metric::UTILIZATION ? "utilization" : "requests per replica", metric,
                    a.target, current, desired);
      unpark_after(*r, sc_.ops.replica_start_s, "scale_up", detail);
    }
    if (added > 0) last_scale_s_[which] = now;
  } else if (stable < live && now - last_scale_s_[which] >= a.cooldown_s) {
    desired = stable;
    // Drain the least loaded, highest-index replicas first.
    std::vector<Replica*> candidates;
    for (Replica* r : svc.replicas)
      if (r->accepting()) candidates.push_back(r);
    std::stable_sort(candidates.begin(), candidates.end(), [now](Replica* x, Replica* y) {
      const int64_t tx = x->outstanding_tokens(now), ty = y->outstanding_tokens(now);
      return tx != ty ? tx < ty : x->index() > y->index();
    });
    std::snprintf(detail, sizeof detail, "%s %.3g (target %.3g): %d -> %d replicas",
                  a.metric == AutoscalerConfig::Metric::UTILIZATION ? "utilization" : "requests per replica", metric,
                  a.target, live, desired);
    for (int k = 0; k < live - desired; ++k) {
      candidates[static_cast<size_t>(k)]->set_draining(true);
      writer_.add_event({now, "scale_down", candidates[static_cast<size_t>(k)]->name(), detail});
    }
    last_scale_s_[which] = now;
  }
  const double next = now + a.interval_s;
  if (next <= sc_.simulation.duration_s) Timer::set(next, [this, which] { autoscale(which); });
}

void Run::sample() {
  const double now = simgrid::s4u::Engine::get_clock();
  double gpu_w = 0;
  int busy_gpus = 0, running = 0, waiting = 0;
  for (const auto& r : replicas_) {
    gpu_w += r->gpu_power_w(now);
    if (r->busy()) busy_gpus += r->gpus();
    running += r->running();
    waiting += r->waiting();
  }
  gpu_w += spare_gpus_idle_w_;  // job GPUs included: their compute is added at busy power below
  for (const auto& job : jobs_) {
    const double n = static_cast<double>(job->layout().gpus.size());
    // At the job's clock (a power cap slows and cools it), with the power figures summarize() books its energy at.
    gpu_w += n * job->compute_power_w_now(models::GpuPowerParams::from_device(sc_.device));
    if (job->compute_share_now() > 0) busy_gpus += static_cast<int>(n);
  }
  const double it_w = gpu_w + servers_overhead_w_;
  last_facility_w_ = it_w * sc_.facility.pue;
  last_busy_gpus_ = busy_gpus;
  last_running_ = running;
  last_waiting_ = waiting;
  std::vector<double> values{gpu_w,
                             it_w,
                             it_w * sc_.facility.pue,
                             static_cast<double>(busy_gpus),
                             static_cast<double>(running),
                             static_cast<double>(waiting),
                             static_cast<double>(arrived_),
                             static_cast<double>(finished_)};
  for (double v : links_->sample(now)) values.push_back(v);
  for (double v : power_->sample(now)) values.push_back(v);
  if (power_->enabled()) {
    // Before the manager's first control instant a rack has no measured power yet: NaN, not a made-up 0.
    const std::vector<double>& racks = power_->rack_power_w();
    for (size_t r = 0; r < static_cast<size_t>(sc_.facility.racks); ++r)
      rack_power_.watts.push_back(r < racks.size() ? static_cast<float>(racks[r]) : std::nanf(""));
  }
  writer_.add_sample(now, values);
  const double next = now + sc_.simulation.sample_interval_s;
  const double horizon = sc_.simulation.duration_s;
  const bool more = next <= horizon || (sc_.simulation.drain && work_left());
  // The series reach the horizon even when it falls between two sampling instants (a last, shorter interval).
  const double at = more ? next : now < horizon ? horizon : -1;
  if (at >= 0) {
    Timer::set(at, [this] {
      ++events_;
      sample();
    });
    return;
  }
  // The last sample ends the window that every total and mean of the summary covers: what comes after it (a repair
  // due hours later, a replacement's weights) is in /events but adds nothing to the summary.
  series_end_s_ = now;
  power_->close_window(now);
  window_reliability_ = reliability_->summary(now);
}

std::vector<analysis::SummaryEntry> Run::summarize(double end) {
  std::vector<analysis::SummaryEntry> out;
  auto add = [&](const std::string& name, double value, const std::string& unit) { out.push_back({name, value, unit}); };
  analysis::QuantileSketch ttft, tpot, e2e;
  int64_t met = 0;
  for (const Service& s : services_) {
    ttft.merge(s.ttft);
    tpot.merge(s.tpot);
    e2e.merge(s.e2e);
    met += s.slo_met;
  }
  double gpu_j = 0, busy_gpu_s = 0;
  for (const auto& r : replicas_) {
    gpu_j += r->gpu_energy_j();
    busy_gpu_s += r->busy_s() * r->gpus();
  }
  const double total_gpus = static_cast<double>(platform_.gpus.size());
  gpu_j += spare_gpus_idle_w_ * end;
  for (const auto& job : jobs_) {
    gpu_j += job->compute_energy_j(models::GpuPowerParams::from_device(sc_.device));
    busy_gpu_s += job->compute_gpu_s();
  }
  const double it_j = gpu_j + servers_overhead_w_ * end;
  // With the power chain on, facility energy comes from it (losses and cooling at the outdoor temperature), not from
  // the constant facility.pue.
  const double facility_j = sc_.facility_power.enabled ? power_->facility_energy_j() : it_j * sc_.facility.pue;
  add("requests", static_cast<double>(arrived_), "1");
  add("finished", static_cast<double>(finished_), "1");
  add("rejected", static_cast<double>(rejected_), "1");
  add("unfinished", static_cast<double>(unfinished_), "1");
  add("dropped", static_cast<double>(dropped_), "1");
  add("simulated_time", end, "s");
  add("throughput", end > 0 ? finished_ / end : 0, "req/s");
  add("input_tokens_per_s", end > 0 ? input_tokens_ / end : 0, "tokens/s");
  add("output_tokens_per_s", end > 0 ? output_tokens_ / end : 0, "tokens/s");
  for (auto [name, sk] : {std::pair<const char*, analysis::QuantileSketch*>{"ttft", &ttft}, {"tpot", &tpot},
                          {"e2e", &e2e}}) {
    const std::string n = name;
    add(n + "_mean", sk->mean(), "s");
    add(n + "_p50", sk->quantile(50), "s");
    add(n + "_p90", sk->quantile(90), "s");
    add(n + "_p99", sk->quantile(99), "s");
  }
  add("slo_attainment", arrived_ > 0 ? static_cast<double>(met) / static_cast<double>(arrived_) : std::nan(""), "1");
  add("gpu_utilization", end > 0 ? busy_gpu_s / (total_gpus * end) : 0, "1");
  add("gpu_energy", gpu_j / 3.6e6, "kWh");
  add("it_energy", it_j / 3.6e6, "kWh");
  add("facility_energy", facility_j / 3.6e6, "kWh");
  add("mean_facility_power", end > 0 ? facility_j / end / 1e3 : 0, "kW");
  add("energy_per_output_token", output_tokens_ > 0 ? facility_j / static_cast<double>(output_tokens_) : std::nan(""),
      "J/token");
  add("events", static_cast<double>(events_), "1");
  // Per service: the figures a planner compares between deployments.
  for (const Service& s : services_) {
    const std::string n = s.config->name + ".";
    double svc_j = 0;
    for (const Replica* r : s.replicas) svc_j += r->gpu_energy_j();
    add(n + "requests", static_cast<double>(s.arrived), "1");
    add(n + "finished", static_cast<double>(s.finished), "1");
    add(n + "ttft_p99", s.ttft.quantile(99), "s");
    add(n + "tpot_p99", s.tpot.quantile(99), "s");
    add(n + "e2e_p99", s.e2e.quantile(99), "s");
    add(n + "slo_attainment", s.arrived > 0 ? static_cast<double>(s.slo_met) / static_cast<double>(s.arrived) : std::nan(""),
        "1");
    add(n + "gpu_energy_per_output_token",
        s.output_tokens > 0 ? svc_j / static_cast<double>(s.output_tokens) : std::nan(""), "J/token");
    if (s.config->disaggregated()) {
      add(n + "kv_transfers", static_cast<double>(s.kv_transfers), "1");
      add(n + "kv_transfer_bytes", s.kv_transfer_bytes, "B");
      add(n + "kv_transfer_p50", s.kv_transfer_s.quantile(50), "s");
      add(n + "kv_transfer_p99", s.kv_transfer_s.quantile(99), "s");
    }
  }
  // The fabric: what each tier of links carried and how busy it was on average over the run.
  for (const LinkMonitor::TierTotal& t : links_->tier_totals(end)) {
    const std::string n = "fabric." + tier_name(t.tier) + ".";
    add(n + "bytes", t.bytes, "B");
    add(n + "mean_utilization", t.mean_util, "1");
  }
  // The most loaded shared link (its name and series are in /links): how close the fabric came to a bottleneck.
  const auto top = links_->busiest(1);
  add("fabric.busiest_link_peak_utilization", top.empty() ? 0.0 : top.front().peak_util, "1");
  add("fabric.busiest_link_mean_utilization",
      top.empty() || end <= 0 ? 0.0 : top.front().bytes / (end * fabric_.link(top.front().link).bandwidth), "1");
  for (const auto& job : jobs_) {
    for (analysis::SummaryEntry& e : job->summary()) out.push_back(std::move(e));
  }
  std::map<std::string, double> tokens_by_service;
  for (const Service& s : services_) tokens_by_service[s.config->name] = static_cast<double>(s.output_tokens);
  for (analysis::SummaryEntry& e : series_end_s_ >= 0 ? window_reliability_ : reliability_->summary(end))
    out.push_back(std::move(e));
  if (reliability_->enabled()) {
    for (const Service& s : services_) {
      add(s.config->name + ".requests_retried", static_cast<double>(s.retried), "1");
      add(s.config->name + ".requests_dropped", static_cast<double>(s.dropped), "1");
    }
  }
  for (analysis::SummaryEntry& e : power_->summary(end, static_cast<double>(output_tokens_), tokens_by_service))
    out.push_back(std::move(e));
  return out;
}

RunReport Run::execute() {
  const auto wall0 = Clock::now();
  build();
  writer_.write_meta({{"tool", "aifsim"},
                      {"tool_version", opt_.tool_version},
                      {"scenario_path", sc_.source_path},
                      {"scenario", sc_.source_text},
                      {"seed", std::to_string(sc_.simulation.seed)},
                      {"fidelity", fast_ ? "fast" : "iteration"},
                      {"command_line", opt_.command_line},
                      {"device", sc_.gpu}});
  for (const Service& svc : services_) {
    const bool calibrated = svc.config->perf.kind == PerfConfig::Kind::CALIBRATED;
    const std::string provenance = perf_provenance(sc_, *svc.config);
    writer_.write_meta({{"service." + svc.config->name + ".perf", svc.perf->describe()},
                        {"service." + svc.config->name + ".calibrated",
                         (calibrated ? "true: " : "false: ") + provenance},
                        {"service." + svc.config->name + ".engine", svc.config->engine.name}});
    perf_notes_.emplace_back(svc.config->name, provenance);
  }
  std::vector<analysis::SeriesSpec> series{{"gpu_power", "W", "all GPUs of the site"},
                                           {"it_power", "W", "GPUs plus server overhead"},
                                           {"facility_power", "W", "IT power times PUE"},
                                           {"busy_gpus", "1", "GPUs of replicas running a step and of running training jobs"},
                                           {"running_requests", "1", "requests in a running batch"},
                                           {"waiting_requests", "1", "requests queued at replicas"},
                                           {"arrived_requests", "1", "cumulative arrivals"},
                                           {"finished_requests", "1", "cumulative finished requests"}};
  for (analysis::SeriesSpec& spec : links_->series()) series.push_back(std::move(spec));
  for (analysis::SeriesSpec& spec : power_->series()) series.push_back(std::move(spec));
  writer_.define_series(series);
  // The power manager's control instant at 0 comes first: a deferrable job is held before its first step.
  power_->start();
  reliability_->start();
  start_ops();
  for (size_t w = 0; w < sc_.workloads.size(); ++w) start_workload(w);
  if (!jobs_.empty()) {
    std::vector<std::string> names;
    for (const auto& job : jobs_) names.push_back(job->config().name);
    writer_.define_jobs(names);
    for (const auto& job : jobs_) job->start();
  }
  Timer::set(0.0, [this] { sample(); });

  auto& engine = *simgrid::s4u::Engine::get_instance();
  const double duration = sc_.simulation.duration_s;
  auto stop_asked = [this] { return opt_.stop_requested && opt_.stop_requested->load(); };
  bool stopped = false;
  if (opt_.progress || opt_.progress_json || opt_.stop_requested) {
    const int slices = 200;
    for (int i = 1; i <= slices; ++i) {  // all of them: training jobs keep running when no request is left
      if (stop_asked()) {
        stopped = true;
        break;
      }
      const double until = duration * i / slices;
      engine.run_until(until);
      const double wall = std::chrono::duration<double>(Clock::now() - wall0).count();
      const double frac = static_cast<double>(i) / slices;
      const double eta = frac > 0 ? wall * (1 - frac) / frac : 0.0;
      if (opt_.progress) {
        const int bar = static_cast<int>(frac * 30);
        std::fprintf(stderr, "\r[%s%s] %3.0f%%  sim %s / %s  %.2fM events/s  ETA %.0fs ",
                     std::string(bar, '#').c_str(), std::string(30 - bar, ' ').c_str(), frac * 100,
                     format_hms(until).c_str(), format_hms(duration).c_str(), wall > 0 ? events_ / wall / 1e6 : 0.0,
                     eta);
      }
      if (opt_.progress_json) {
        // p50 / p99 TTFT of the requests that finished in this slice (NaN, written null, when none did).
        double ttft_p50 = std::nan(""), ttft_p99 = std::nan("");
        if (!slice_ttft_.empty()) {
          ttft_p50 = analysis::percentile(slice_ttft_, 50);
          ttft_p99 = analysis::percentile(slice_ttft_, 99);
          slice_ttft_.clear();
        }
        // NaN has no JSON spelling: written null. Doubles print at full precision (the reader parses them back).
        auto number = [](double v) { return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v); };
        const nlohmann::json line{{"ttft_p50_s", number(ttft_p50)},
                                  {"ttft_p99_s", number(ttft_p99)},
                                  {"sim_s", until},
                                  {"duration_s", duration},
                                  {"fraction", frac},
                                  {"wall_s", wall},
                                  {"eta_s", eta},
                                  {"events", static_cast<unsigned long long>(events_)},
                                  {"arrived", static_cast<long long>(arrived_)},
                                  {"finished", static_cast<long long>(finished_)},
                                  {"in_flight", static_cast<long long>(in_flight_)},
                                  {"facility_power_w", number(last_facility_w_)},
                                  {"busy_gpus", last_busy_gpus_},
                                  {"running", last_running_},
                                  {"waiting", last_waiting_}};
        std::fputs((line.dump() + "\n").c_str(), stdout);
        std::fflush(stdout);
      }
    }
    if (opt_.progress) std::fprintf(stderr, "\n");
  } else {
    engine.run_until(duration);
  }
  // The drain runs whole (a stop asked for now lets the in-flight requests finish): run_until slices would leave
  // the clock at a slice boundary instead of the last event, and the results would differ from an unsliced run.
  if (sc_.simulation.drain && !stopped) engine.run();  // let in-flight requests finish
  // The engine's end, which the run_end event reports (it ran on to the last pending event: a repair due after the
  // horizon, say), and the end of the window the series and the summary cover: their last sample, taken at the
  // horizon or, with a drain, at the first sampling instant with no request left; for a stopped run, the stop.
  const double engine_end = stopped ? simgrid::s4u::Engine::get_clock()
                            : sc_.simulation.drain ? std::max(duration, simgrid::s4u::Engine::get_clock())
                                                   : duration;
  const double end = stopped || series_end_s_ < 0 ? engine_end : series_end_s_;
  power_->close_window(end);  // a stopped run: its books end at the stop (no-op when the last sample closed them)
  if (stopped) {
    writer_.write_meta({{"partial", "1"}, {"partial_end_s", std::to_string(end)}});
    writer_.add_event({end, "run_stopped", "site", "stopped on request at " + std::to_string(end) + " s of " +
                                                       std::to_string(duration) + " s: partial results"});
  }
  for (const auto& r : replicas_) r->finalize(end);
  // Deferrable arrivals still held by the power policies at the end never reached a replica: unfinished, not lost.
  for (size_t w = 0; w < held_.size(); ++w) {
    for (const models::Arrival& a : held_[w]) {
      Service& svc = services_[workload_service_[w]];
      ++svc.arrived;
      ++arrived_;
      ++in_flight_;
      analysis::RequestRecord record;
      record.id = next_request_id_++;
      record.workload = static_cast<int32_t>(w);
      record.service = static_cast<int32_t>(workload_service_[w]);
      record.arrival_s = a.time_s;
      record.prompt_tokens = a.prompt_tokens;
      record.output_tokens = a.output_tokens;
      record.outcome = analysis::Outcome::UNFINISHED;
      on_request_done(record);
    }
    held_[w].clear();
  }
  held_count_ = 0;
  // Requests waiting for a service whose replicas were all down at the end: unfinished too.
  for (size_t s = 0; s < services_.size(); ++s) {
    for (const IncomingRequest& q : services_[s].orphans) {
      analysis::RequestRecord record;
      record.id = q.id;
      record.workload = q.workload;
      record.service = static_cast<int32_t>(s);
      record.arrival_s = q.arrival_s;
      record.prompt_tokens = q.prompt_tokens;
      record.output_tokens = q.output_tokens;
      record.outcome = analysis::Outcome::UNFINISHED;
      on_request_done(record);
    }
    services_[s].orphans.clear();
  }
  const double wall = std::chrono::duration<double>(Clock::now() - wall0).count();
  RunReport report;
  report.summary = summarize(end);
  report.perf = perf_notes_;
  report.fingerprint = writer_.fingerprint();
  report.events = events_;
  report.simulated_s = end;
  report.partial = stopped;
  report.wall_s = wall;
  report.requests = arrived_;
  writer_.add_event({engine_end, "run_end", "site", "simulated " + std::to_string(engine_end) + " s"});
  // The links of the shared tiers that carried the most, with their utilization over every sampling interval.
  std::vector<analysis::LinkUsageRecord> busiest;
  for (const LinkMonitor::LinkTotal& t : links_->busiest(16)) {
    const models::FabricLink& fl = fabric_.link(t.link);
    analysis::LinkUsageRecord rec;
    rec.name = platform_.link(models::Hop{t.link, t.up})->get_name();
    rec.tier = tier_name(fl.tier);
    rec.bandwidth = fl.bandwidth;
    rec.bytes = t.bytes;
    rec.mean_util = end > 0 ? t.bytes / (end * fl.bandwidth) : 0;
    rec.peak_util = t.peak_util;
    rec.util = links_->series_of(t.link, t.up);
    busiest.push_back(std::move(rec));
  }
  writer_.set_busiest_links(std::move(busiest));
  if (power_->enabled()) {
    rack_power_.hall = power_->rack_halls();
    writer_.set_rack_power(std::move(rack_power_));
  }
  report.perf = perf_notes_;
  report.fingerprint = writer_.fingerprint();
  writer_.finish(report.summary);
  return report;
}

}  // namespace

RunReport run_simulation(const Scenario& scenario, const RunOptions& options) {
  // SimGrid reads its configuration from argv; the engine is created once per process.
  std::vector<std::string> args{"aifsim", "--log=root.thresh:warning"};
  for (const std::string& a : simgrid_config_args()) args.push_back(a);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  int argc = static_cast<int>(argv.size());
  auto engine = std::make_unique<simgrid::s4u::Engine>(&argc, argv.data());
  auto run = std::make_unique<Run>(scenario, options);
  RunReport report = run->execute();
  // Actors still alive (a stopped run; training jobs cut at the horizon, or waiting out a restart past it) hold locks
  // and wait on the run's condition variables. They go first, killed from the maestro while the run and the hosts
  // they stand on still exist: SimGrid 3.32's engine destructor frees the hosts before it kills what is left, and an
  // engine left to the process exit is torn down by an atexit handler after the static timer heap it reads has
  // been destroyed (the segmentation fault every stopped run ended with). The run's results are written by now:
  // its pending timers are dropped unrun, so that letting the dying actors unwind fires nothing into the run.
  if (engine->get_actor_count() > 0) {
    auto& timers = simgrid::kernel::timer::kernel_timers();
    while (!timers.empty()) timers.top().second->remove();
    simgrid::s4u::Actor::kill_all();
    engine->run_until(simgrid::s4u::Engine::get_clock());  // the killed actors unwind; the clock does not move
    if (engine->get_actor_count() > 0)
      throw std::logic_error("run_simulation: " + std::to_string(engine->get_actor_count()) +
                             " actors survived the teardown");
  }
  run.reset();
  engine.reset();
  return report;
}

}  // namespace aif::sim
