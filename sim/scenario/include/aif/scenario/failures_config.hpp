// The scenario's `failures` and `ops` sections as plain typed structs (SI units: s). The failure model itself
// (classes, default rates derived from published figures, repair crew) is models/failure.hpp; these structs only
// say what the scenario changes.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace aif::sim {

// One failure class's overrides (failures.classes.<name>): unset fields keep the model's defaults.
struct FailureClassOverride {
  std::optional<double> mtbf_s;         // per unit; 0 = never fails
  std::optional<bool> weibull;          // distribution: exponential (false) or weibull (true)
  std::optional<double> weibull_shape;
  std::optional<double> detection_s;
  std::optional<double> repair_median_s;
  std::optional<double> repair_sigma;
};

// A scripted incident: capacity removed for a time, whatever the random failures do.
enum class IncidentKind { FAILURE, BAD_ROLLOUT, SECURITY_ISOLATION, MAINTENANCE };
const char* to_string(IncidentKind kind);  // "failure", "bad_rollout", "security_isolation", "maintenance"

struct IncidentTarget {
  enum class Kind { RACK, SERVER, GPU, LEAF, SERVICE } kind = Kind::SERVER;
  int index = -1;         // rack, server, GPU or leaf switch index
  std::string service;    // Kind::SERVICE: every replica of it
  std::string text;       // as written ("rack/3"), for /events
};

struct IncidentConfig {
  double at_s = 0;
  double duration_s = 0;
  IncidentKind kind = IncidentKind::FAILURE;
  std::vector<IncidentTarget> targets;
  std::string cause;      // for /events; default: the kind
};

struct FailuresConfig {
  bool present = false;
  uint64_t seed = 0;        // default: simulation.seed
  double scale = 1;         // multiplies every class's failure rate (0: incidents only)
  std::map<std::string, FailureClassOverride> classes;  // by class name: gpu, host, switch, link, pdu, cooling, software
  int technicians = 0;      // repair crew size (0: unlimited)
  int spare_servers = 0;    // servers held back (the last ones of the facility) to replace failed ones
  std::vector<IncidentConfig> incidents;
};

enum class FailedRequestPolicy { RETRY, DROP };

struct AutoscalerConfig {
  std::string service;
  size_t service_index = 0;
  enum class Metric { UTILIZATION, QUEUE } metric = Metric::UTILIZATION;
  // UTILIZATION: share of the replicas' time running a step (it saturates early under continuous batching);
  // QUEUE: requests in a replica (running + waiting) per replica, the concurrency target of KServe-style scalers.
  double target = 0.7;
  int min_replicas = 1, max_replicas = 1;
  double interval_s = 30;       // how often it looks
  double cooldown_s = 300;      // no scale-down within this of the last change
};

struct RolloutConfig {
  std::string service;
  size_t service_index = 0;
  double at_s = 0;
  double canary_share = 0.1;    // of the replicas, first (at least one)
  double canary_duration_s = 600;
  double step_s = 120;          // one more replica every step after the canary passes
  bool canary_fails = false;    // a bad version: the canary is caught and rolled back
};

struct OpsConfig {
  FailedRequestPolicy on_failure = FailedRequestPolicy::RETRY;  // requests of a failed replica
  bool replace_on_spare = true;       // start a replacement replica on a spare server (weights loaded) or wait for repair
  double replica_start_s = 60;        // starting a replacement (process, weights when not loaded over the fabric)
  double restart_overhead_s = 600;    // a training job from failure detection to running again (on spares)
  bool job_restart_on_spares = true;  // false: wait for the repair (or shrink)
  bool job_restart_shrink = false;    // restart_on: shrink: without the failed DP replicas until the repair
  std::vector<AutoscalerConfig> autoscalers;
  std::vector<RolloutConfig> rollouts;
};

}  // namespace aif::sim
