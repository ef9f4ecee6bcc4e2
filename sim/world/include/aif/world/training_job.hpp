// Training and fine-tuning jobs in the simulation: where their ranks run (placement) and one SimGrid actor per job
// that steps through the optimizer steps.
//
// A step follows models::step_time's timeline. Compute and the TP all-reduces (inside an NVLink domain, where no
// other traffic goes) are SimGrid timers of the step model's durations; everything that crosses the fabric is a
// SimGrid communication sharing links with all other traffic:
//   - PP sends: one micro-batch's activations from every stage to the next (all dp x tp x (pp - 1) GPU pairs at
//     once), then its gradients back; measured once per step and counted for each of the m + pp - 1 slots;
//   - DP gradient all-reduce: one collective per (stage, tp rank) group, all groups at once (one short-lived helper
//     actor per group, as collectives block their caller), started at the last micro-batch's backward pass when
//     `overlap`, else after it;
//   - checkpoint every N steps: every GPU writes its share of the checkpoint to a storage node (round-robin over the
//     storage nodes), all at once, and training waits for the last byte.
// Flows started at once: a job's PP round and checkpoint start one flow per GPU; the DP all-reduces as many as the
// collectives make (about one per GPU for ring and hierarchical).
//
// Clock (power caps, DVFS): set_clock_fraction() applies at once, as a GPU's firmware enforces a cap within
// milliseconds. Forward and backward passes (FLOP-bound: the step model times them at peak x efficiency) stretch by
// 1 / clock; the optimizer step (HBM-bound), TP all-reduces, PP sends, the DP all-reduce and checkpoints do not
// follow the core clock. A compute phase in progress (the pipeline phase, the backward pass overlapped with the DP
// all-reduce) keeps the share of it already done and runs the rest at the new clock: the phase's compute and its
// clock-independent part are taken as evenly mixed over it.
//
// Failures (interrupt()): a compute phase stops at once; a communication or checkpoint in flight finishes first (3.32
// handles killed flows badly), accounted as if the job had stopped at the failure. Everything since the last
// completed checkpoint is lost: the step count rolls back to it (to 0 without checkpoints), and the job waits until
// its restart time (decided by operations: spares or repair) before it resumes from there. Checkpoints come every
// `every_steps` steps or, with `every`, after the step that brings the progress (step time, checkpoints excluded)
// since the last one to at least that. ETTR = the time of the steps kept / the job's wall time (first start to its
// end or the horizon); checkpoint writing, lost work and downtime are the rest (and pauses: a pause's idle time is
// neither lost work nor downtime). The job_interrupt event is written at the failure (cause, steps and GPU-hours
// lost), job_restart when the job runs again. Compute phases, the optimizer step and, with network: analytic, the
// PP sends and DP all-reduce stop at once. /jobs/steps keeps the rows of lost steps (they ran): after a restart the
// step numbers start again from the checkpoint's, so a step number can appear more than once. A failure while down
// counts as another interruption (event too) and moves the restart to the later of the two times; failures before
// the start or after the actor stopped are ignored. docs/training-failures.md has the details.
//
// network: analytic sends no flows: PP sends and the DP all-reduce take their idle-fabric closed forms
// (collectives.hpp predict::, each crossing NIC, uplink, downlink, NIC), checkpoints their write_time; the phases are
// timers as above, so clocks, pauses and failures work alike. For long runs at scale (weeks of a 16,384-GPU job).
//
// The actor stops after `steps` steps, or before starting a step at or after the horizon (simulation.duration).
// A run without drain stops the engine at the horizon, possibly mid-step: that step is not recorded, and SimGrid
// 3.32 prints "Process called exit when leaving - Skipping cleanups" for the actor left (harmless; killing it
// mid-communication instead leaves flows in the solver and is worse in 3.32).
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <simgrid/s4u/ConditionVariable.hpp>
#include <simgrid/s4u/Mutex.hpp>

#include "aif/analysis/results.hpp"
#include "aif/models/fabric.hpp"
#include "aif/models/facility_power.hpp"
#include "aif/models/training.hpp"
#include "aif/world/collectives.hpp"
#include "aif/world/platform.hpp"
#include "aif/scenario/scenario.hpp"

namespace aif::sim {

// The GPUs of a job's ranks. Rank (stage, dp rank, tp rank) runs on gpus[(stage * dp + dp_rank) * tp + tp_rank];
// a TP group is always in one NVLink domain (a server unless fabric.nvlink_domain_gpus makes it larger).
struct JobLayout {
  int dp = 1, tp = 1, pp = 1;
  std::vector<int> gpus;

  int gpu(int stage, int dp_rank, int tp_rank) const {
    return gpus[static_cast<size_t>((stage * dp + dp_rank) * tp + tp_rank)];
  }
  // The dp GPUs that all-reduce the gradients of one (stage, tp rank), in ring order (dp rank 0, 1, ...).
  std::vector<int> dp_group(int stage, int tp_rank) const;
};

// Chooses a job's GPUs among those with free[gpu] true, and marks them false. Units of choice are TP groups: tp free
// GPUs of one NVLink domain. Policies (JobPlacement):
//   PACKED          servers in id order; ranks replica-major (each DP replica's pipeline on consecutive servers)
//   SPREAD          TP groups taken round-robin over the leaves; ranks replica-major
//   TOPOLOGY_AWARE  leaves with the most free TP groups first; ranks stage-major (each stage's DP groups on
//                   consecutive servers, so the largest traffic, the gradient all-reduce, stays on as few leaves as
//                   possible)
// "Leaf" is the switch a server's first GPU's NIC reaches (Fabric::leaf_of_gpu). Throws std::runtime_error saying
// how many TP groups are free when the job does not fit.
JobLayout place_job(const JobConfig& job, const models::Fabric& fabric, std::vector<bool>& free);

// Places the scenario's jobs in order on the GPUs left free (free[gpu] true; services take theirs first, see
// Run::place_replicas), marking those it takes. Throws ScenarioError naming jobs[i].parallelism when one does not fit.
std::vector<JobLayout> place_jobs(const Scenario& scenario, const models::Fabric& fabric, std::vector<bool>& free);

struct TrainingJobSinks {
  std::function<void(const analysis::JobStepRecord&)> step;  // one per finished step
  std::function<void(const analysis::EventRecord&)> event;   // job_start, checkpoint, job_end
};

class TrainingJob {
 public:
  // `index` is the job's index in the scenario (JobStepRecord::job). The platform must outlive the job.
  TrainingJob(int index, JobConfig config, models::TrainingParams params, JobLayout layout, const Platform& platform,
              double horizon_s, TrainingJobSinks sinks, CollectiveOptions collective_options = {});

  // Creates the job's actor, which waits until config.start_s. Call once, before the engine runs.
  void start();

  const JobConfig& config() const { return config_; }
  const models::TrainingStep& model() const { return model_; }
  const JobLayout& layout() const { return layout_; }
  int64_t steps_done() const { return steps_done_; }  // kept: rolled back to the last checkpoint at a failure
  bool finished() const { return finished_; }
  // GPU-seconds the job held its GPUs so far (from start to its last step's end).
  double busy_gpu_s() const;
  // GPU-seconds spent computing in the steps done (forward, backward, optimizer; not pipeline bubbles nor waits for
  // communication): what the job adds to its GPUs' idle energy at busy power.
  double compute_gpu_s() const { return compute_gpu_s_; }
  // Share of its GPUs' time the job spends computing now: that of its last step (of the step model on an idle fabric
  // before the first one, and for the first step at a new clock) while it runs, 0 before its start and after its end.
  double compute_share_now() const { return running_ ? compute_share_ : 0.0; }

  // The GPUs' core clock as a fraction of the maximum, in (0, 1] (else std::invalid_argument), from now on, also for
  // the rest of the compute phase in progress (see the top of this file).
  void set_clock_fraction(double clock_fraction);
  double clock_fraction() const { return clock_; }
  // Demand response and carbon-aware deferral: pause() lets the step in progress finish, writes a checkpoint when
  // the job can write one (a write_time, or storage with network: flows), then holds the job (its GPUs idle) until
  // resume(). Idempotent. A failure during a pause loses the work before it, not the pause.
  void pause();
  void resume();
  // A failure in the job's GPUs now (see the top of this file). restart_at_s: when it may run again (+inf: until
  // set_restart_at). A failure while already down counts and keeps the later restart time.
  void interrupt(const std::string& cause, double restart_at_s);
  void set_restart_at(double restart_at_s);
  // Shrink policy: `lost` of the job's dp replicas are gone until repaired; the others take their micro-batches (the
  // global batch stays), so each step's compute stretches by dp / (dp - lost) from the next step on. lost < dp.
  void set_lost_dp_replicas(int lost);
  // How many distinct DP replicas have a GPU among `gpus`.
  int dp_replicas_in(const std::vector<int>& gpus) const;
  bool down() const { return down_; }
  struct Reliability {
    int64_t interruptions = 0;
    std::map<std::string, int64_t> by_cause;
    double lost_work_s = 0;   // wall time of work thrown away (since the last checkpoint, at each failure)
    double downtime_s = 0;    // failure -> running again
    double productive_s = 0;  // wall time of the steps kept (checkpoint writes excluded)
    double wall_s = 0;        // first start -> end or horizon
    double ettr() const { return wall_s > 0 ? productive_s / wall_s : 0; }
    double lost_gpu_hours(int gpus) const { return gpus * (lost_work_s + downtime_s) / 3600; }
  };
  Reliability reliability() const;
  bool paused() const { return paused_; }
  // Time the remaining steps would take at the mean step time so far (the step model's before the first step).
  double remaining_s() const;
  // Power and energy above idle: a GPU computing at clock f draws models::gpu_power_at_clock(power, 1, f, dvfs)
  // (exactly gpu_busy_power(power, 1) at f = 1), else idle.
  // Mean power above idle of one of its GPUs now: compute_share_now() x (that at the current clock - idle).
  double compute_power_w_now(const models::GpuPowerModel& power) const;
  // Energy above idle of all its GPUs over the steps done; (busy - idle) x compute_gpu_s() while the clock stays 1.
  double compute_energy_j(const models::GpuPowerModel& power) const;
  // Mean power above idle of one of its GPUs had it run at clock f now (a power manager sizing a cut).
  double compute_power_w_at(const models::GpuPowerModel& power, double f) const;

  // "job.<name>.<metric>": steps, step_time_{mean,p50,p99} (s), comm_share (exposed communication / step time),
  // bubble_fraction, tokens_per_s, achieved_flops_share (model FLOP/s over the job's GPUs' peak), checkpoints and
  // checkpoint_time (s). Step statistics cover the steps done; NaN where none.
  std::vector<analysis::SummaryEntry> summary() const;

 private:
  void run();
  // One round of PP sends (forward when `forward`): every stage's GPUs to the next stage's (or back). Returns its time.
  double pp_round(bool forward);
  // network: analytic: a PP send and the slowest DP group's all-reduce on an idle fabric.
  double analytic_pp_s() const;
  double analytic_dp_s() const;  // both computed once (they depend on the layout and the model only)
  double analytic_pp_uncached_s() const;
  double analytic_dp_uncached_s() const;
  mutable double analytic_pp_s_ = -1, analytic_dp_s_ = -1;
  // All DP groups' gradient all-reduces, started now on helper actors; computes `window_full_s` (full-clock seconds of
  // the overlapped backward pass) meanwhile and waits for all. Returns the slowest all-reduce's time.
  double dp_allreduce(double window_full_s);
  // A phase of compute_full_s / clock of compute (on every GPU of the job) mixed with fixed_s that no clock changes;
  // a clock change mid-phase applies to the rest of it. Counts the compute GPU-seconds at each clock.
  void run_phase(double compute_full_s, double fixed_s);
  double checkpoint();
  void wait_while_paused();
  // Failure handling at a phase boundary: roll back, wait for the restart. Returns true when the step must restart.
  bool handle_interrupt();
  // Work (not pause) time since the last checkpoint or restart: what a failure now loses.
  double work_since_good_s(double now) const;
  void mark_good(double now);  // a checkpoint completed or the job (re)started now
  bool checkpoint_due() const;
  // compute_share_now() of a step at `clock` on an idle fabric (models::step_time with its compute stretched).
  double idle_compute_share(double clock) const;
  void event(const std::string& kind, const std::string& detail) const;

  int index_;
  JobConfig config_;
  models::TrainingStep model_;
  JobLayout layout_;
  const Platform& platform_;
  double horizon_s_;
  TrainingJobSinks sinks_;
  CollectiveOptions collective_options_;
  // Results so far.
  std::vector<double> step_s_;
  double exposed_comm_s_ = 0;
  double checkpoint_s_ = 0;
  int64_t checkpoints_ = 0;
  double first_start_s_ = -1, last_end_s_ = 0;
  bool finished_ = false;
  bool running_ = false;
  double compute_gpu_s_ = 0;
  double compute_share_ = 0;
  std::map<double, double> compute_gpu_s_by_clock_;  // clock -> GPU-seconds of compute of the steps done at it
  double clock_ = 1;                                 // now
  double step_clock_ = 1;                            // the clock run_phase is running at
  double window_s_ = 0;                              // the last overlapped backward pass's duration
  double work_scale_ = 1;                            // dp / (dp - lost replicas) under the shrink policy
  simgrid::s4u::MutexPtr clock_mutex_;               // with clock_changed_: wakes run_phase at a clock change
  simgrid::s4u::ConditionVariablePtr clock_changed_;
  bool pause_requested_ = false;
  bool paused_ = false;
  // Failures.
  bool interrupted_ = false, down_ = false;
  double failed_at_s_ = 0, restart_at_s_ = 0;
  std::string interrupt_cause_;
  int64_t steps_done_ = 0, steps_at_checkpoint_ = 0, steps_since_checkpoint_ = 0;
  double progress_since_checkpoint_s_ = 0;  // step time since the last checkpoint (lost at a failure)
  double last_good_s_ = 0;                  // end of the last checkpoint (or of the last restart)
  double paused_idle_s_ = 0;                // paused (idle) since last_good_s_: not work a failure loses
  double pause_idle_from_s_ = -1;           // start of the pause in progress, -1 when none
  bool ended_ = false;                      // the actor has stopped (steps done or horizon)
  Reliability rel_;
};

}  // namespace aif::sim
