// Capacity planning: the cheapest deployment of one service that meets its SLOs (aifsim plan, docs/plan.md).
// The plan file (YAML, paths relative to it):
//
//   base: ../examples/poisson.yaml        # the workload and everything not searched
//   set: {workloads[0].arrival.rate: 20/s}  # applied to every candidate (e.g. next year's load)
//   service: llm                          # the service whose deployment is searched
//   space:                                # lists of values; replicas also as {from, to}
//     gpu: [H100-SXM, A100-80GB]          # hardware.gpu
//     tp: [1, 2]                          # services[s].tp
//     replicas: {from: 1, to: 8}          # services[s].replicas
//     max_num_seqs: [64, 256]             # services[s].scheduler.max_num_seqs
//     max_num_batched_tokens: [8192]      # services[s].scheduler.max_num_batched_tokens
//     clock_fraction: [1.0, 0.8]          # a GPU power cap as the core clock it leaves (services[s].perf)
//   slo:
//     ttft: {p99: 500ms}                  # ttft / tpot / e2e, any percentile pNN or pNN.N
//     tpot: {p99: 50ms}
//     availability: 0.999                 # finished / arrived requests of the service
//   cost:
//     gpu_hour: {H100-SXM: 2.5}           # per GPU-hour, or capex per GPU + amortization (+ opex_gpu_hour)
//     energy_per_kwh: 0.12                # facility energy (PUE included)
//     currency: USD
//   failure: {racks_down: 1}              # also check each candidate with racks 0.. down for the whole run
//   search: {max_cost_ratio: 2}           # simulate candidates up to this multiple of the cheapest feasible cost
//
// The facility is sized to each candidate: the fewest racks of the base's servers_per_rack x gpus_per_server that
// hold every service's replicas (and jobs); cost counts the GPUs of those racks.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "aif/scenario/scenario.hpp"

namespace aif::sim {

struct PlanSlo {
  std::string metric;   // ttft, tpot or e2e
  double percentile = 99;
  double max_s = 0;
  std::string name() const;  // "ttft_p99"
};

struct PlanCost {
  std::map<std::string, double> gpu_hour;  // device -> price per GPU-hour
  std::map<std::string, double> capex;     // device -> price per GPU, spread over amortization_h
  double amortization_h = 0;
  double opex_gpu_hour = 0;                // with capex: running cost per GPU-hour besides energy
  double energy_per_kwh = 0;
  std::string currency = "USD";
  // Price of one GPU-hour of `device` (energy apart); throws std::out_of_range for a device without a price.
  double gpu_hourly(const std::string& device) const;
};

struct PlanDimension {
  std::string name;                 // gpu, tp, replicas, max_num_seqs, max_num_batched_tokens, clock_fraction
  std::vector<std::string> values;  // YAML scalars as the scenario takes them
};

struct PlanConfig {
  std::string path, base_path;
  std::vector<std::string> overrides;  // `set`, as key=value
  std::shared_ptr<const Scenario> base;  // the base scenario with `set`, loaded once
  std::string service;
  size_t service_index = 0;
  std::vector<PlanDimension> space;
  std::vector<PlanSlo> slos;
  double availability_min = -1;  // < 0: no availability SLO
  PlanCost cost;
  int racks_down = 0;
  double max_cost_ratio = 2;
};

// Reads and checks the plan (its base scenario loads with `set`, the service exists, every device has a price).
// Throws ScenarioError naming the plan file, line and key.
PlanConfig load_plan(const std::string& path);

struct PlanCandidate {
  std::string id;                                         // "c0007"
  std::vector<std::pair<std::string, std::string>> settings;  // dimension -> value, in space order
  std::vector<std::string> overrides;                     // set + the settings as scenario keys + facility.racks
  std::string gpu;
  int racks = 0, gpus = 0;                                // the facility sized to it
  double gpu_cost_per_h = 0;                              // gpus x hourly price: a lower bound of its cost
  std::string invalid;                                    // non-empty: its scenario does not load (why)
  std::shared_ptr<const Scenario> scenario;               // its scenario, loaded once (null when invalid)
};

// Every combination of the space, in a fixed order, each with its facility and GPU cost; candidates whose scenario
// does not load carry the reason.
std::vector<PlanCandidate> enumerate_candidates(const PlanConfig& plan);

// The overrides that take racks 0 .. racks_down-1 down for the whole run (an incident of kind failure).
std::vector<std::string> failure_overrides(const PlanConfig& plan, const Scenario& candidate);

// Bounds from the perf model, before any simulation (docs/plan.md has the argument for each):
//  - min_step_s: the shortest step a replica can take (one sequence, one token of context); every first token and
//    every later token waits at least one step, so a latency SLO below it cannot be met;
//  - the highest rates the replicas reach: output tokens/s in full batches of the shortest decode steps (bounded by
//    the KV cache), prompt tokens/s in full chunks; utilization = the larger ratio of the offered rates (the
//    service's own arrival draws over the run) to these;
//  - above 1, a fluid bound on each request's wait (requests are admitted and prefilled first come, first served)
//    gives a lower bound of the TTFT and E2E percentiles; the candidate is infeasible when one exceeds its SLO.
struct AnalyticBound {
  double min_step_s = 0;
  double offered_tokens_per_s = 0, capacity_tokens_per_s = 0, utilization = 0;
  double backlog_wait_s = 0;  // the largest TTFT / E2E percentile bound (0 when utilization <= 1)
  std::string infeasible;     // non-empty: why no simulation can meet the SLOs
};
AnalyticBound analytic_bound(const PlanConfig& plan, const Scenario& candidate);

// What one run gives the plan: the service's latency percentiles (requests that did not finish count as infinitely
// late), availability (finished / arrived), facility energy and the cost per hour of the candidate.
struct PlanOutcome {
  std::map<std::string, double> latency_s;  // PlanSlo::name() -> value
  double availability = 0;
  double facility_energy_kwh = 0;
  double duration_h = 0;
  double cost_per_h = 0;
  bool meets = false;
  std::string misses;  // the first SLO missed, with both numbers
};
PlanOutcome measure_plan_run(const PlanConfig& plan, const PlanCandidate& candidate, const std::string& results_path);

}  // namespace aif::sim
