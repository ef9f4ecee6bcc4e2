// Failures, repairs and scripted incidents during a run, and what they take down (private to sim/world).
//
// Random failures come from models::FailureProcess per component class (models/failure.hpp: defaults derived from
// published figures, overridden by the scenario's `failures.classes`), one process per class over its units:
//   gpu     per GPU                the replica or job using it
//   host    per server             everything on the server's GPUs
//   software per server            the same; repaired by a restart
//   link    per GPU NIC link       a training job using the GPU (replicas keep serving inside their server)
//   switch  per edge switch        every GPU whose NIC reaches it is cut off the fabric (routes avoid it)
//   pdu, cooling per rack          the whole rack
// A failed unit stays down until repaired: detection delay, then a repair that waits for a free technician
// (models::RepairCrew, FIFO) and takes a sampled time. A unit that fails again while down is not counted twice.
// Scripted incidents take their targets down at a time for a duration, without the repair crew.
//
// What the run does about it (ops): a failed replica's requests are retried elsewhere or dropped (Run), the router
// skips it, and a replacement starts on a spare server after detection + replica_start (+ weight loading) when one
// is free, else it comes back when its hardware is repaired. A training job is interrupted and restarts from its
// last checkpoint after detection + restart_overhead on spares, or after the repair (+ restart_overhead).
// Spare servers are the last `failures.spare_servers` servers of the facility (placement leaves them free); one is
// taken per replacement or restart and given back when the failed server is repaired (it becomes the new spare).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "aif/analysis/results.hpp"
#include "aif/models/fabric.hpp"
#include "aif/models/failure.hpp"
#include "aif/scenario/scenario.hpp"

namespace aif::sim {

// What the run lets the reliability model do (Run implements them).
struct ReliabilityHooks {
  // All of them fail at once (none of them takes another's retried requests).
  std::function<void(const std::vector<int>& replicas, const std::string& cause)> fail_replicas;
  // Back (repaired, or on a replacement): the replica serves again from now (after loading weights if it does).
  std::function<void(int replica, bool replacement)> restore_replica;
  std::function<void(int job, const std::string& cause, double restart_at_s)> interrupt_job;
  // Shrink policy: how many of a job's DP replicas have GPUs among these, and how many it runs without now.
  std::function<int(int job, const std::vector<int>& gpus)> job_dp_replicas_in;
  std::function<int(int job)> job_dp;
  std::function<void(int job, int lost)> set_job_lost_dp;
  // A job interrupted with restart_at = +inf (waiting for a repair) learns when it may restart.
  std::function<void(int job, double restart_at_s)> reschedule_job;
  std::function<void(const analysis::EventRecord&)> event;
  uint64_t* events = nullptr;
};

class Reliability {
 public:
  // replica_gpus[r] / job_gpus[j]: the GPUs each replica and job uses; service_replicas[s]: the replicas of
  // scenario.services[s]. Throws ScenarioError for a leaf target that the fabric does not have.
  Reliability(const Scenario& scenario, models::Fabric& fabric, const std::vector<std::vector<int>>& replica_gpus,
              const std::vector<std::vector<int>>& job_gpus, std::vector<std::vector<int>> service_replicas,
              ReliabilityHooks hooks);
  bool enabled() const { return enabled_; }
  void start();
  // failures.* summary: counts by class and cause, MTTR, repair waits, spares used; availability per service
  // (`service_replicas[s]`: the replica indices of service s, by name).
  std::vector<analysis::SummaryEntry> summary(double end) const;
  // Whether a failure or incident holds replica r down now.
  bool replica_held(int replica) const { return replica_outages_[static_cast<size_t>(replica)] > 0; }
  // Seconds replica r was down up to `now`.
  double replica_down_s(int replica, double now) const;

 private:
  struct ClassState {
    models::FailureClass cls;
    std::unique_ptr<models::FailureProcess> process;
    std::vector<bool> down;  // per unit
    int units = 0;
  };
  struct Outage {
    std::set<int> replicas, jobs;  // still held down by this outage
    std::vector<int> gpus;
    std::string cause;
    int spares_taken = 0;          // spare servers its consumers moved to (given back when it ends)
    std::set<int> waiting_jobs;    // told restart_at = +inf: told again when this outage ends
    std::map<int, int> shrunk;     // job -> DP replicas it runs without until this outage ends
  };
  void schedule_next(size_t c);
  void on_failure(size_t c, const models::FailureEvent& e);
  // Takes the GPUs down for `cause`; returns the id of the outage (ended by end_outage).
  // ready_s: when operations know (detection); can_replace: spares help (not for a switch: the rail is down).
  // A repair done: its wait for a technician and the time from the failure to service again (the MTTR's terms).
  void count_repair(double wait_s, double failure_to_service_s);
  int begin_outage(const std::vector<int>& gpus, bool jobs_only, const std::string& cause, double ready_s,
                   bool can_replace);
  void end_outage(int id, double now);
  void replica_down(int r, double now);
  // Brings replica r back `delay_s` from now unless it fails again meanwhile.
  void schedule_restore(int r, double delay_s, bool replacement);
  std::vector<int> gpus_of(const ClassState& s, int unit) const;
  void log(double t, const std::string& kind, const std::string& target, const std::string& detail) const;

  const Scenario& sc_;
  models::Fabric& fabric_;
  std::vector<int> gpu_replica_, gpu_job_;
  std::vector<std::vector<int>> service_replicas_;
  ReliabilityHooks hooks_;
  bool enabled_ = false;
  std::vector<ClassState> classes_;
  std::unique_ptr<models::RepairCrew> crew_;
  std::vector<std::vector<int>> switch_gpus_;  // edge switch index -> GPUs whose NIC reaches it
  std::vector<models::Fabric::Vertex> switch_vertex_;
  int spares_free_ = 0;
  std::map<int, Outage> outages_;
  int next_outage_ = 0;
  std::vector<int> replica_outages_;     // outages holding each replica down
  std::vector<uint64_t> replica_token_;  // bumped at each failure: a restore scheduled before it is void
  std::vector<double> replica_down_since_, replica_down_total_;
  std::vector<int> job_outages_;         // outages a job waits for (restart after the last one's repair)
  std::vector<int> job_lost_dp_;         // shrink policy: DP replicas each job runs without
  uint64_t repair_index_ = 0;
  // Totals.
  std::map<std::string, int64_t> by_class_, by_cause_;
  int64_t failures_ = 0, incidents_ = 0, repairs_ = 0, replacements_ = 0, replica_failures_ = 0, job_interrupts_ = 0;
  double repair_time_total_s_ = 0, repair_wait_total_s_ = 0, repair_wait_max_s_ = 0;
};

}  // namespace aif::sim
