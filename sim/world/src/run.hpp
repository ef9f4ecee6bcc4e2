// The state of one run and its parts (private to sim/world). Run lives on the stack of run_simulation; timers point
// into it. Its members are defined by role: run_placement.cpp, run_requests.cpp, run_power.cpp, run_failures.cpp,
// run_operations.cpp, run_sampling.cpp, run_progress.cpp; simulation.cpp starts it, advances it with progress reports and stops it.
#pragma once

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
#include "aif/world/simulation.hpp"
#include "aif/models/arrivals.hpp"
#include "aif/models/fabric.hpp"
#include "aif/world/placement.hpp"
#include "aif/world/platform.hpp"
#include "aif/inputs/trace.hpp"
#include "link_monitor.hpp"
#include "power_manager.hpp"
#include "reliability.hpp"
#include "aif/world/training_job.hpp"
#include "replica.hpp"
#include "transfer.hpp"

namespace aif::sim {

using Clock = std::chrono::steady_clock;
using simgrid::kernel::timer::Timer;

inline std::string service_key(size_t i) { return "services[" + std::to_string(i) + "]"; }

// "hh:mm:ss" of a duration in seconds.
inline std::string format_hms(double s) {
  const long t = static_cast<long>(s);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  return buf;
}

// The whole run's state. Lives on the stack of run_simulation; timers point into it.
class Run {
 public:
  Run(const Scenario& sc, const RunOptions& opt) : sc_(sc), opt_(opt), writer_(opt.output_path, analysis::ResultsWriter::DEFAULT_CHUNK_ROWS, opt.compression), gpu_power_(sc.device) {}

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
    int64_t prompt_tokens = 0, cached_tokens = 0;  // of finished requests: prompt, and of it spared by the prefix cache
    int64_t retried = 0, dropped = 0;     // requests of failed replicas
    std::deque<IncomingRequest> orphans;  // waiting for a live replica (every one of the service is down)
    // At the last sample, for the per-interval energy series.
    double sampled_energy_j = 0;
    int64_t sampled_output_tokens = 0, sampled_finished = 0, sampled_prompt_tokens = 0, sampled_cached_tokens = 0;
  };

  void build();
  void place_replicas();
  void place_training_jobs();
  void start_workload(size_t index);
  void schedule_next_arrival(size_t index);
  void schedule_pending_arrival(size_t index);  // a timer for pending_[index], if any
  Replica& route(Service& svc, double now, const IncomingRequest& r);
  // prompt_blocks (cache-aware routing): least outstanding tokens less what each replica's prefix cache holds of them.
  static Replica& pick(std::vector<Replica*>& replicas, size_t& next_rr, RouterPolicy policy, double now,
                       const std::vector<uint64_t>* prompt_blocks = nullptr);
  void on_prefill_done(const IncomingRequest& r, double first_token_s, int replica);
  void load_weights(Replica& replica, const ServiceConfig& cfg);
  void on_request_done(const analysis::RequestRecord& r);
  void build_power_manager();
  // A rack's input power (its servers, evenly loaded) when its GPUs draw rack_gpu_w.
  double rack_input_w(double rack_gpu_w) const;
  // The servers' power beyond their GPUs now: the constant overhead, or the server model at each rack's GPU power.
  double servers_extra_w(double now) const;
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
  // After the slice of the run that ends at `until` (`frac` of it, `wall` seconds in): the progress bar and/or the
  // JSON progress line (run_progress.cpp).
  void report_progress(double until, double frac, double wall);
  // Notes (once) in backlog_ that the requests held passed RunOptions::max_requests_held; the run stops at its next
  // slice.
  void check_backlog(size_t workload, double now);
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
  std::vector<ReplicaSlot> replica_slots_;  // where place_replicas put them (place_training_jobs works around them)
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
  std::string backlog_;  // why the run must stop: requests held above RunOptions::max_requests_held
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
  double servers_overhead_w_ = 0;  // a constant server_overhead: all servers'
  std::vector<double> rack_spare_idle_w_;  // per rack, GPUs no replica holds, at idle
  // The servers' power beyond their GPUs (non-GPU parts, supply losses) at the last sample, and its energy so far
  // (held constant between samples, as the series chart it).
  double servers_extra_sampled_w_ = 0, servers_extra_j_ = 0, servers_extra_sampled_at_ = 0;
  models::GpuPowerModel gpu_power_;  // every GPU of the site (the scenario's device)
};
}  // namespace aif::sim
