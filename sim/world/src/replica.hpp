// One serving replica: the shared scheduler driven by SimGrid timers (private to sim/world).
//
// Two ways to advance, with equal per-request times (a test holds them equal):
//  - iteration level: one timer per scheduler step;
//  - fast (DESIGN principle 2): when the next steps are "steady" (every running request
//    decodes one token, nothing can join), their durations are summed in a tight loop and a
//    single timer is set for the end of the window, the first step in which a request finishes.
//    An arrival inside the window cuts it at the next step boundary, where it can join.
//
// Clock (power caps, DVFS): set_clock_fraction() takes effect at the next step boundary. A step in flight keeps the
// time and power it was planned with; a steady window in flight is cut at the first step boundary at or after now
// (the same cut as an arrival's) and the steps after it are planned at the new clock, so both modes agree.
//
// Failure (fail / restore, what failover builds on): the GPUs stop at `now`. A step that ended by now has run (in
// fast mode the window's steps that ended at or before now, their outcomes recorded as usual; at iteration level a
// step ending exactly at now, whichever of its timer and the failure SimGrid runs first), so both modes lose the same
// tokens. The step in flight is lost: its energy and busy time count up to now, its tokens do not, and it is not
// counted in steps(). Every request held (queued, running, or received by a DECODE replica) leaves the scheduler with
// its KV blocks and is returned in id order, with the tokens it had produced (lost with the KV cache). The replica's
// timer is removed: nothing fires into it. While down it draws 0 W (gpu_power_w is 0; gpu_energy_j stops at the
// failure), runs no step, and arrive()/arrive_prefilled() throw std::logic_error; finalize() adds nothing and records
// nothing. A clock set while down applies after restore(), from which it is idle and empty (the caller may
// set_loading while weights load). The caller records dropped requests (dropped_record) or retries them elsewhere
// with the same id and arrival.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "aif/analysis/results.hpp"
#include "aif/models/perf.hpp"
#include "aif/models/power.hpp"
#include "aif/models/serving.hpp"

namespace simgrid::kernel::timer {
class Timer;
}

namespace aif::sim {

struct IncomingRequest;

struct ReplicaSinks {
  std::function<void(const analysis::RequestRecord&)> request_done;
  // PREFILL replicas: a request's prompt is prefilled and its first token generated at `first_token_s`; the caller
  // moves its KV to a decode replica (arrive_prefilled there).
  std::function<void(const IncomingRequest&, double first_token_s, int replica)> prefill_done;
  std::function<void(const analysis::EventRecord&)> event;
  std::function<void(const analysis::IterationRecord&)> iteration;  // empty: do not record steps
  uint64_t* timer_events = nullptr;  // counts timer callbacks (the run's event count)
};

// How a replica's GPUs draw power: the GPU power model (models/power.hpp), the work of each step it needs (FLOPs and
// bytes; null for a perf model without a shape, e.g. constant: then a busy GPU draws the model's floor) and the GPU
// power limit (per GPU, as `nvidia-smi -pl` sets it; 0 = none beyond the TDP).
struct ReplicaPower {
  models::GpuPowerModel gpu;
  std::shared_ptr<const models::StepWorkModel> work;
  double gpu_power_limit_w = 0;
  ReplicaPower(models::GpuPowerModel gpu_model, std::shared_ptr<const models::StepWorkModel> step_work = nullptr,
               double limit_w = 0)
      : gpu(std::move(gpu_model)), work(std::move(step_work)), gpu_power_limit_w(limit_w) {}
  ReplicaPower(const models::GpuPowerParams& phase) : gpu(phase) {}  // NOLINT: a phase model (tests)
};

struct IncomingRequest {
  models::RequestId id;
  int32_t workload;
  double arrival_s;
  int32_t prompt_tokens;
  int32_t output_tokens;
  int32_t prefix_group = -1;  // shared prefix (the workload's; -1: none) and its length in tokens
  int32_t prefix_tokens = 0;
  std::shared_ptr<const std::vector<uint64_t>> prefix_chain = nullptr;  // the prompt's content (models::Arrival)
  int32_t chain_block_tokens = 0;
  int32_t cached_tokens = 0;  // a prefilled request: the prompt tokens the prefill replica's cache spared
};

// What a failed replica held: enough to retry the request elsewhere (same id and arrival) or record it dropped.
struct LostRequest {
  IncomingRequest request;   // as first given
  double first_token_s;      // NaN when no token came yet
  int32_t generated_tokens;  // produced before the failure (lost with the KV cache)
  int32_t preemptions;
};

// COMBINED: prefill and decode on the same replica. With prefill/decode disaggregation a PREFILL replica computes
// prompts and first tokens only, and a DECODE replica continues requests whose KV it receives.
enum class ReplicaRole { COMBINED, PREFILL, DECODE };

class Replica {
 public:
  Replica(int index, int service, std::string name, const models::SchedulerLimits& limits,
          const models::PerfModel& perf, ReplicaPower power, int gpus, bool fast,
          ReplicaSinks sinks, ReplicaRole role = ReplicaRole::COMBINED);
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  // A request reaches the replica at the current simulated time. An idle replica does not start
  // at once: the caller delivers every request of the same instant, then calls start_if_idle(), so
  // that simultaneous arrivals share the first step as they would in a real engine's queue.
  void arrive(const IncomingRequest& request);
  // DECODE replicas: a request prefilled elsewhere, whose KV has just arrived (its first token came at first_token_s).
  void arrive_prefilled(const IncomingRequest& request, double first_token_s);
  void start_if_idle();
  // While loading (model weights on their way from storage) the replica queues requests but runs no step.
  void set_loading(bool loading);
  bool loading() const { return loading_; }
  ReplicaRole role() const { return role_; }

  // The GPUs' core clock as a fraction of the maximum, in (0, 1] (else std::invalid_argument), from the next step
  // boundary on: step times come from PerfModel::iteration_at_clock, busy power from models::GpuPowerModel::step_w at
  // that clock (power.hpp).
  // A change at the very instant of a step boundary lands on either side of it, as SimGrid orders the two events.
  void set_clock_fraction(double clock_fraction);
  // The clock set last (the perf model's own at the start); the step in flight may still run at the previous one.
  double clock_fraction() const { return clock_; }

  // State as of simulated time `now` (the same in both modes).
  int running() const { return static_cast<int>(scheduler_.num_running()); }
  int waiting() const { return static_cast<int>(scheduler_.num_waiting()); }
  // Cached KV blocks handed out again for other content (prefix caching by content), over the run.
  int64_t prefix_evictions() const { return replaced_.evictions + scheduler_.prefix_evictions(); }
  // Expert all-to-alls across servers as fabric flows: each step first moves bytes_per_token x its tokens from every
  // GPU to the other servers' GPUs through `start` (which calls `done(end_time)` once they are in, in an actor's
  // context), then computes for the rest of its time. Such a replica takes every step singly.
  using FlowStarter = std::function<void(double bytes_per_gpu, std::function<void(double)> done)>;
  void set_expert_flows(double bytes_per_token, FlowStarter start) {
    expert_flow_bytes_per_token_ = bytes_per_token;
    start_expert_flows_ = std::move(start);
  }
  // The KV tiers under HBM: seconds a token reloaded from host memory (or disk) adds to the step that reloads it;
  // tokens reloaded and blocks written over the run.
  void set_reload_s_per_token(double host_s, double disk_s = 0) {
    reload_s_per_token_ = host_s;
    disk_reload_s_per_token_ = disk_s;
  }
  int64_t host_reload_tokens() const { return replaced_.host_reload_tokens + scheduler_.host_reload_tokens(); }
  int64_t host_offloads() const { return replaced_.host_offloads + scheduler_.host_offloads(); }
  int64_t disk_reload_tokens() const { return replaced_.disk_reload_tokens + scheduler_.disk_reload_tokens(); }
  int64_t disk_offloads() const { return replaced_.disk_offloads + scheduler_.disk_offloads(); }
  // Speculative decoding: verify chunks, drafts proposed and accepted, over the run.
  int64_t verifications() const { return replaced_.verifications + scheduler_.verifications(); }
  int64_t drafts_proposed() const { return replaced_.drafts_proposed + scheduler_.drafts_proposed(); }
  int64_t drafts_accepted() const { return replaced_.drafts_accepted + scheduler_.drafts_accepted(); }
  bool prefix_caching() const { return scheduler_.limits().prefix_caching; }
  // Prompt tokens of a request with these block hashes its prefix cache holds now.
  int64_t cached_prefix_tokens(const std::vector<uint64_t>& block_hashes) const {
    return scheduler_.cached_prefix_tokens(block_hashes);
  }
  int64_t outstanding_tokens(double now) const;
  double gpu_power_w(double now) const;  // all of the replica's GPUs
  // All of its GPUs had the step in flight run at clock fraction f (a power manager sizing a cut); idle: idle power.
  double gpu_power_at_clock_w(double now, double clock_fraction) const;
  bool busy() const { return busy_; }

  // Close the books at `end`: idle energy up to it, partial step energy when cut off, and the
  // records of requests still in flight (outcome UNFINISHED).
  void finalize(double end);
  // Failure at `now`, the current simulated time (semantics at the top of this file): the requests held, in id order.
  // Failing a down replica throws std::logic_error.
  std::vector<LostRequest> fail(double now);
  // Repaired or replaced: idle and empty from now (the caller may set_loading while weights load). Throws
  // std::logic_error when the replica is not down.
  void restore(double now);
  bool down() const { return down_; }
  // Draining (scale-down, rollouts): the router sends it nothing new; it finishes what it holds.
  void set_draining(bool draining) { draining_ = draining; }
  bool accepting() const { return !down_ && !draining_; }
  bool empty() const { return !busy_ && scheduler_.idle(); }
  // The DROPPED record of a request this replica lost: this replica's index, the given service, the request's arrival
  // and first token (NaN when none came), its tokens and preemptions; no finish time.
  analysis::RequestRecord dropped_record(const LostRequest& lost, int32_t service) const;

  const std::string& name() const { return name_; }
  int index() const { return index_; }
  int gpus() const { return gpus_; }
  int service_index() const { return service_; }
  double gpu_energy_j() const { return energy_j_; }
  // Of gpu_energy_j, what its GPUs drew while up and idle (no step to run, or loading weights); the rest is its steps'.
  double idle_energy_j() const { return idle_energy_j_; }
  // gpu_energy_j as it stands at `now`, the idle time or the step in flight counted up to now (a sample's view).
  double gpu_energy_at_j(double now) const;
  // Seconds the replica was down (failed, or parked for an autoscaler) up to `now`.
  double down_s(double now) const { return down_s_ + (down_ ? std::max(0.0, now - down_since_) : 0.0); }
  double busy_s() const { return busy_s_; }
  int64_t steps() const { return steps_; }
  // Tokens of all the steps it has run (prefill chunks and decode tokens): what the expert all-to-alls scale with.
  int64_t step_tokens() const { return step_tokens_; }

 private:
  struct Meta {
    int32_t workload;
    double arrival_s;
    double first_token_s;
    int32_t prompt_tokens;
    int32_t output_tokens;
    std::shared_ptr<const std::vector<uint64_t>> prefix_chain = nullptr;  // kept for a retry elsewhere
    int32_t chain_block_tokens = 0;
    int32_t prefill_cached_tokens = 0;  // prefilled elsewhere: what that replica's cache spared of the prompt
  };
  void begin_step(double now);
  void end_step();
  // The normal step in flight has run (energy, busy time, iteration record, outcomes); the next is not begun.
  void finish_step(double now);
  void end_window(int steps);
  analysis::RequestRecord record(models::RequestId id, const Meta& meta, analysis::Outcome outcome) const;
  void admit(const IncomingRequest& r, double first_token_s, bool accepted);
  void record_outcomes(const std::vector<models::SeqOutcome>& outcomes, double now);
  void set_timer(double date, std::function<void()> callback);
  // Ends a steady window in flight at the first step boundary at or after now, so the next step can change.
  void cut_window(double now);
  // A step's time and the power of all the replica's GPUs while it runs: at the set clock, or lower where the GPU
  // power limit needs it (the step's own clock; the limit holds within the step, as GPU firmware holds it).
  struct PlannedStep {
    models::IterationCost cost;
    double power_w = 0;
    double clock = 1;
    models::StepWork work;  // per GPU
  };
  PlannedStep plan_step(const models::BatchShape& shape, double clock_fraction) const;
  void go_idle(double now);
  void close_books(double end);
  int window_steps_done(double now) const;  // window steps whose end is <= now

  int index_;
  int service_;
  std::string name_;
  models::Scheduler scheduler_;
  struct CacheCounts {
    int64_t evictions = 0, host_reload_tokens = 0, host_offloads = 0;
    int64_t disk_reload_tokens = 0, disk_offloads = 0;
    int64_t verifications = 0, drafts_proposed = 0, drafts_accepted = 0;
  } replaced_;  // the prefix cache's and speculative decoding's counts of the schedulers a failure replaced
  double reload_s_per_token_ = 0, disk_reload_s_per_token_ = 0;
  double expert_flow_bytes_per_token_ = 0;
  FlowStarter start_expert_flows_;
  uint64_t step_serial_ = 0;  // names the step whose flows are out: a failure or the run's end forgets them
  const models::PerfModel& perf_;
  ReplicaPower power_;
  int gpus_;
  bool fast_;
  ReplicaSinks sinks_;
  ReplicaRole role_;
  bool loading_ = false;
  bool down_ = false;
  bool draining_ = false;
  double clock_;  // fraction of the maximum clock that new steps run at
  std::unordered_map<models::RequestId, Meta> meta_;

  bool busy_ = false;
  double idle_since_ = 0;
  double energy_j_ = 0;  // all of the replica's GPUs
  double idle_energy_j_ = 0;
  double down_s_ = 0, down_since_ = 0;
  double busy_s_ = 0;
  int64_t steps_ = 0;
  int64_t step_tokens_ = 0;
  simgrid::kernel::timer::Timer* timer_ = nullptr;

  // A normal step in flight.
  models::StepPlan plan_;
  double step_start_ = 0, step_end_ = 0, step_power_w_ = 0, step_clock_ = 1;
  models::StepWork step_work_;
  bool step_open_ = false;  // planned and not yet accounted for
  // A steady window in flight: step i ends at window_end_[i] and draws window_power_w_[i].
  bool in_window_ = false;
  bool window_cut_ = false;
  double window_start_ = 0;
  std::vector<double> window_end_, window_duration_, window_power_w_;
  std::vector<models::BatchShape> window_shape_;
};

}  // namespace aif::sim
