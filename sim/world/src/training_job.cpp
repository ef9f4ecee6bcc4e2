#include "aif/world/training_job.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <memory>
#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Comm.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <sstream>
#include <stdexcept>

#include "aif/analysis/stats.hpp"
#include "aif/inputs/units.hpp"

namespace aif::sim {

namespace sg4 = simgrid::s4u;

std::vector<int> JobLayout::dp_group(int stage, int tp_rank) const {
  std::vector<int> group;
  group.reserve(static_cast<size_t>(dp));
  for (int d = 0; d < dp; ++d) group.push_back(gpu(stage, d, tp_rank));
  return group;
}

namespace {

using Slot = std::vector<int>;  // the tp GPUs of one TP group, in one NVLink domain

// Free TP groups per leaf, leaves in index order, NVLink domains (servers unless the fabric makes them larger) in id
// order inside a leaf. A group's leaf is its first GPU's.
std::map<int, std::vector<Slot>> free_slots_by_leaf(const models::Fabric& fabric, int tp,
                                                    const std::vector<bool>& free) {
  const models::FabricParams& p = fabric.params();
  const int domain = p.nvlink_domain_gpus > 0 ? p.nvlink_domain_gpus : p.gpus_per_server;
  std::map<int, std::vector<Slot>> by_leaf;
  for (int first = 0; first < fabric.num_gpus(); first += domain) {
    Slot slot;
    for (int gpu = first; gpu < first + domain; ++gpu) {
      if (!free[static_cast<size_t>(gpu)]) continue;
      slot.push_back(gpu);
      if (static_cast<int>(slot.size()) == tp) {
        by_leaf[fabric.leaf_of_gpu(slot.front())].push_back(slot);
        slot.clear();
      }
    }
  }
  return by_leaf;
}

std::vector<Slot> ordered_slots(JobPlacement placement, std::map<int, std::vector<Slot>> by_leaf) {
  std::vector<Slot> out;
  switch (placement) {
    case JobPlacement::PACKED: {
      // Servers in id order, whatever their leaf.
      for (auto& [leaf, slots] : by_leaf) out.insert(out.end(), slots.begin(), slots.end());
      std::sort(out.begin(), out.end());
      break;
    }
    case JobPlacement::SPREAD: {
      for (size_t round = 0;; ++round) {
        bool any = false;
        for (auto& [leaf, slots] : by_leaf) {
          if (round < slots.size()) {
            out.push_back(slots[round]);
            any = true;
          }
        }
        if (!any) break;
      }
      break;
    }
    case JobPlacement::TOPOLOGY_AWARE: {
      std::vector<std::pair<int, std::vector<Slot>*>> leaves;
      for (auto& [leaf, slots] : by_leaf) leaves.emplace_back(leaf, &slots);
      // The fullest leaves first: the fewer leaves a job spans, the less of its traffic crosses the spines.
      std::stable_sort(leaves.begin(), leaves.end(),
                       [](const auto& a, const auto& b) { return a.second->size() > b.second->size(); });
      for (auto& [leaf, slots] : leaves) out.insert(out.end(), slots->begin(), slots->end());
      break;
    }
  }
  return out;
}

}  // namespace

JobLayout place_job(const JobConfig& job, const models::Fabric& fabric, std::vector<bool>& free) {
  if (static_cast<int>(free.size()) != fabric.num_gpus())
    throw std::invalid_argument("place_job: free has " + std::to_string(free.size()) + " entries for " +
                                std::to_string(fabric.num_gpus()) + " GPUs");
  const std::vector<Slot> slots = ordered_slots(job.placement, free_slots_by_leaf(fabric, job.tp, free));
  const size_t needed = static_cast<size_t>(job.dp) * job.pp;
  if (slots.size() < needed) {
    throw std::runtime_error("job " + job.name + " needs " + std::to_string(needed) + " groups of " +
                             std::to_string(job.tp) + " free GPUs in one NVLink domain (dp " + std::to_string(job.dp) +
                             " x pp " + std::to_string(job.pp) + ", tp " + std::to_string(job.tp) + ") but only " +
                             std::to_string(slots.size()) + " such groups are free");
  }
  JobLayout layout;
  layout.dp = job.dp;
  layout.tp = job.tp;
  layout.pp = job.pp;
  layout.gpus.assign(needed * static_cast<size_t>(job.tp), -1);
  const bool stage_major = job.placement == JobPlacement::TOPOLOGY_AWARE;
  size_t next = 0;
  for (int outer = 0; outer < (stage_major ? job.pp : job.dp); ++outer) {
    for (int inner = 0; inner < (stage_major ? job.dp : job.pp); ++inner) {
      const int stage = stage_major ? outer : inner, replica = stage_major ? inner : outer;
      const Slot& slot = slots[next++];
      for (int t = 0; t < job.tp; ++t) {
        layout.gpus[static_cast<size_t>((stage * job.dp + replica) * job.tp + t)] = slot[static_cast<size_t>(t)];
        free[static_cast<size_t>(slot[static_cast<size_t>(t)])] = false;
      }
    }
  }
  return layout;
}

std::vector<JobLayout> place_jobs(const Scenario& scenario, const models::Fabric& fabric, std::vector<bool>& free) {
  std::vector<JobLayout> layouts;
  for (size_t i = 0; i < scenario.jobs.size(); ++i) {
    try {
      layouts.push_back(place_job(scenario.jobs[i], fabric, free));
    } catch (const std::runtime_error& e) {
      throw ScenarioError(scenario.source_path, 0, "jobs[" + std::to_string(i) + "].parallelism",
                          std::string(e.what()) + " after the services and the jobs before it took theirs");
    }
  }
  return layouts;
}

TrainingJob::TrainingJob(int index, JobConfig config, models::TrainingParams params, JobLayout layout,
                         const Platform& platform, double horizon_s, TrainingJobSinks sinks,
                         CollectiveOptions collective_options)
    : index_(index),
      config_(std::move(config)),
      model_(models::plan_training_step(params)),
      layout_(std::move(layout)),
      platform_(platform),
      horizon_s_(horizon_s),
      sinks_(std::move(sinks)),
      collective_options_(collective_options) {
  if (static_cast<int>(layout_.gpus.size()) != model_.gpus())
    throw std::invalid_argument("TrainingJob " + config_.name + ": the layout has " +
                                std::to_string(layout_.gpus.size()) + " GPUs, the job needs " +
                                std::to_string(model_.gpus()));
  if (config_.checkpoint.enabled() && config_.checkpoint.write_time_s <= 0 && platform_.storage.empty())
    throw std::invalid_argument("TrainingJob " + config_.name + ": checkpoints need storage nodes on the platform");
}

void TrainingJob::start() {
  clock_mutex_ = sg4::Mutex::create();
  clock_changed_ = sg4::ConditionVariable::create();
  sg4::Actor::create("job/" + config_.name, platform_.gpus.at(static_cast<size_t>(layout_.gpus.front())),
                     [this] { run(); });
}

void TrainingJob::event(const std::string& kind, const std::string& detail) const {
  if (sinks_.event) sinks_.event({sg4::Engine::get_clock(), kind, "job/" + config_.name, detail});
}

namespace {

// Idle-fabric cost of one flow between two GPUs: NVLink inside a domain, else NIC, uplink, downlink, NIC.
PathCost path_between(const models::Fabric& fabric, int a, int b) {
  const models::FabricParams& f = fabric.params();
  if (fabric.nvlink_domain_of_gpu(a) == fabric.nvlink_domain_of_gpu(b))
    return {f.nvlink_bandwidth / 2, 2 * f.nvlink_latency_s};
  return {f.nic_bandwidth, 4 * f.link_latency_s};
}

}  // namespace

double TrainingJob::analytic_pp_s() const {
  if (analytic_pp_s_ >= 0) return analytic_pp_s_;
  analytic_pp_s_ = analytic_pp_uncached_s();
  return analytic_pp_s_;
}

double TrainingJob::analytic_dp_s() const {
  if (analytic_dp_s_ >= 0) return analytic_dp_s_;
  analytic_dp_s_ = analytic_dp_uncached_s();
  return analytic_dp_s_;
}

double TrainingJob::analytic_pp_uncached_s() const {
  if (layout_.pp <= 1) return 0;
  const PathCost path = path_between(*platform_.fabric, layout_.gpu(0, 0, 0), layout_.gpu(1, 0, 0));
  return predict::ring_time(CollectiveOp::SEND, 2, model_.pp_send_bytes, path, collective_options_.step_overhead_s);
}

double TrainingJob::analytic_dp_uncached_s() const {
  if (layout_.dp <= 1) return 0;
  const models::Fabric& fabric = *platform_.fabric;
  double slowest = 0;
  for (int st = 0; st < layout_.pp; ++st) {
    const std::vector<int> group = layout_.dp_group(st, 0);
    const double bytes = model_.stages[static_cast<size_t>(st)].grad_bytes;
    const PathCost inter = path_between(fabric, group[0], group[1]);
    double t = 0;
    std::map<int, int> per_domain;
    for (int g : group) ++per_domain[fabric.nvlink_domain_of_gpu(g)];
    const int domains = static_cast<int>(per_domain.size()), per = per_domain.begin()->second;
    switch (config_.allreduce) {
      case JobAllreduce::RING:
        t = predict::ring_time(CollectiveOp::ALL_REDUCE, layout_.dp, bytes, inter, collective_options_.step_overhead_s);
        break;
      case JobAllreduce::TREE:
        t = predict::tree_all_reduce_time(layout_.dp, bytes, inter, collective_options_.step_overhead_s);
        break;
      case JobAllreduce::HIERARCHICAL:
        if (domains == 1 || per == 1 || domains * per != layout_.dp) {
          t = predict::ring_time(CollectiveOp::ALL_REDUCE, layout_.dp, bytes, inter, collective_options_.step_overhead_s);
        } else {
          const models::FabricParams& f = fabric.params();
          t = predict::hierarchical_all_reduce_time(domains, per, bytes, {f.nvlink_bandwidth / 2, 2 * f.nvlink_latency_s},
                                                    {f.nic_bandwidth, 4 * f.link_latency_s},
                                                    collective_options_.pipelined, collective_options_.step_overhead_s);
        }
        break;
    }
    slowest = std::max(slowest, t);
  }
  return slowest;
}

double TrainingJob::pp_round(bool forward) {
  if (config_.network == JobConfig::Network::ANALYTIC) {
    const double t = analytic_pp_s();
    if (t > 0) run_phase(0, t);  // no flow in flight: a failure stops it at once
    return t;
  }
  const double t0 = sg4::Engine::get_clock();
  const auto bytes = static_cast<uint64_t>(std::llround(model_.pp_send_bytes));
  std::vector<sg4::CommPtr> comms;
  comms.reserve(static_cast<size_t>(layout_.dp * layout_.tp * (layout_.pp - 1)));
  for (int s = 0; s + 1 < layout_.pp; ++s) {
    for (int d = 0; d < layout_.dp; ++d) {
      for (int t = 0; t < layout_.tp; ++t) {
        const int a = layout_.gpu(s, d, t), b = layout_.gpu(s + 1, d, t);
        comms.push_back(sg4::Comm::sendto_async(platform_.gpus[static_cast<size_t>(forward ? a : b)],
                                                platform_.gpus[static_cast<size_t>(forward ? b : a)], bytes));
      }
    }
  }
  sg4::Comm::wait_all(comms);
  // One step of a SEND in the collectives' model: latency, bytes, and the per-step overhead.
  if (collective_options_.step_overhead_s > 0) sg4::this_actor::sleep_for(collective_options_.step_overhead_s);
  return sg4::Engine::get_clock() - t0;
}

double TrainingJob::dp_allreduce(double window_full_s) {
  const double t0 = sg4::Engine::get_clock();
  if (config_.network == JobConfig::Network::ANALYTIC) {
    const double dp = analytic_dp_s();
    if (window_full_s > 0) run_phase(window_full_s, 0);
    window_s_ = sg4::Engine::get_clock() - t0;
    const double rest = dp - window_s_;
    if (!interrupted_ && rest > 0) run_phase(0, rest);  // the all-reduce outlasts the overlapped backward pass
    return dp;
  }
  if (layout_.dp == 1) {
    if (window_full_s > 0) run_phase(window_full_s, 0);
    window_s_ = sg4::Engine::get_clock() - t0;
    return 0;
  }
  // Collectives block their caller: one helper actor per (stage, tp rank) group runs them side by side.
  auto times = std::make_shared<std::vector<double>>(static_cast<size_t>(layout_.pp * layout_.tp), 0.0);
  std::vector<sg4::ActorPtr> helpers;
  for (int s = 0; s < layout_.pp; ++s) {
    for (int t = 0; t < layout_.tp; ++t) {
      const std::vector<int> group = layout_.dp_group(s, t);
      const double bytes = model_.stages[static_cast<size_t>(s)].grad_bytes;
      const size_t slot = static_cast<size_t>(s * layout_.tp + t);
      helpers.push_back(
          sg4::Actor::create("job/" + config_.name + "/dp" + std::to_string(slot),
                             platform_.gpus[static_cast<size_t>(group.front())], [this, group, bytes, slot, times] {
                               CollectiveResult r;
                               switch (config_.allreduce) {
                                 case JobAllreduce::RING:
                                   r = all_reduce_ring(platform_, group, bytes, collective_options_);
                                   break;
                                 case JobAllreduce::TREE:
                                   r = all_reduce_tree(platform_, group, bytes, collective_options_);
                                   break;
                                 case JobAllreduce::HIERARCHICAL:
                                   r = all_reduce_hierarchical(platform_, group, bytes, collective_options_);
                                   break;
                               }
                               (*times)[slot] = r.time_s;
                             }));
    }
  }
  if (window_full_s > 0) run_phase(window_full_s, 0);
  window_s_ = sg4::Engine::get_clock() - t0;
  for (const auto& helper : helpers) helper->join();
  return *std::max_element(times->begin(), times->end());
}

double TrainingJob::checkpoint() {
  const double t0 = sg4::Engine::get_clock();
  if (config_.checkpoint.write_time_s > 0) {
    run_phase(0, config_.checkpoint.write_time_s);  // a failure cuts it short: then it does not count
    return sg4::Engine::get_clock() - t0;
  }
  const size_t per_stage = static_cast<size_t>(layout_.dp * layout_.tp);
  const size_t storage = platform_.storage.size();
  std::vector<sg4::CommPtr> comms;
  comms.reserve(layout_.gpus.size());
  for (size_t k = 0; k < layout_.gpus.size(); ++k) {
    const auto bytes = static_cast<uint64_t>(std::llround(model_.stages[k / per_stage].checkpoint_bytes));
    comms.push_back(sg4::Comm::sendto_async(platform_.gpus[static_cast<size_t>(layout_.gpus[k])],
                                            platform_.storage[k % storage], bytes));
  }
  sg4::Comm::wait_all(comms);
  return sg4::Engine::get_clock() - t0;
}

void TrainingJob::set_clock_fraction(double clock_fraction) {
  if (!(clock_fraction > 0 && clock_fraction <= 1))
    throw std::invalid_argument("TrainingJob " + config_.name + ": clock fraction must be in (0, 1], got " +
                                std::to_string(clock_fraction));
  if (clock_fraction == clock_) return;
  clock_ = clock_fraction;
  if (clock_changed_) clock_changed_->notify_all();  // from a timer (maestro) too: the job's phase wakes at once
}

void TrainingJob::run_phase(double compute_full_s, double fixed_s) {
  const double gpus = static_cast<double>(model_.gpus());
  double done = 0;  // share of the phase done
  while (done < 1) {
    if (clock_ != step_clock_) {
      step_clock_ = clock_;
      compute_share_ = idle_compute_share(step_clock_);
    }
    const double f = step_clock_;
    const double duration = compute_full_s / f + fixed_s;
    if (duration <= 0) return;
    const double t0 = sg4::Engine::get_clock();
    const double end = t0 + (1 - done) * duration;
    {
      std::unique_lock<sg4::Mutex> lock(*clock_mutex_);
      while (clock_ == f && !interrupted_ && sg4::Engine::get_clock() < end)
        if (clock_changed_->wait_until(lock, end) == std::cv_status::timeout) break;
    }
    const double now = sg4::Engine::get_clock();
    const double share = now >= end ? 1 - done : std::min(1 - done, (now - t0) / duration);
    // The phase is critical-path time over all slots; a GPU computes in micro_batches of them (the rest: bubbles).
    const double gpu_s = gpus * share * compute_full_s / f * model_.micro_batches / model_.slots();
    compute_gpu_s_ += gpu_s;
    compute_gpu_s_by_clock_[f] += gpu_s;
    done = now >= end ? 1 : done + share;
    if (interrupted_) return;
  }
}

namespace {

// Power above idle of one GPU computing at `clock`.
double compute_power_above_idle_w(const models::GpuPowerModel& power, double clock) {
  return power.compute_bound_w(clock) - power.idle_w();
}

}  // namespace

double TrainingJob::compute_power_w_now(const models::GpuPowerModel& power) const {
  return compute_share_now() * compute_power_above_idle_w(power, running_ ? clock_ : step_clock_);
}

double TrainingJob::compute_power_w_at(const models::GpuPowerModel& power, double f) const {
  return compute_share_now() * compute_power_above_idle_w(power, f);
}

double TrainingJob::compute_energy_j(const models::GpuPowerModel& power) const {
  double joules = 0;
  for (const auto& [clock, gpu_s] : compute_gpu_s_by_clock_) joules += compute_power_above_idle_w(power, clock) * gpu_s;
  return joules;
}

double TrainingJob::idle_compute_share(double clock) const {
  models::TrainingStep m = model_;
  for (models::StageCost& s : m.stages) {
    s.forward_s /= clock;
    s.backward_s /= clock;
  }
  const double gpu_compute = m.micro_batches * (m.forward_s() + m.backward_s()) + m.optimizer_s();
  const double idle_step = models::step_time(m, {}, config_.overlap).total_s;
  return idle_step > 0 ? std::min(1.0, gpu_compute / idle_step) : 0;
}

void TrainingJob::run() {
  if (config_.start_s > sg4::Engine::get_clock()) sg4::this_actor::sleep_until(config_.start_s);
  {
    std::ostringstream detail;
    const models::StepTime idle = models::step_time(model_, {}, config_.overlap);
    detail << to_string(config_.kind) << " of " << config_.model << " on " << model_.gpus() << " GPUs (dp "
           << layout_.dp << " x tp " << layout_.tp << " x pp " << layout_.pp << ", " << to_string(config_.placement)
           << " from GPU " << layout_.gpus.front() << "); " << model_.micro_batches
           << " micro-batches per step, forward " << units::seconds_text(model_.forward_s()) << ", backward "
           << units::seconds_text(model_.backward_s()) << ", TP " << units::seconds_text(model_.tp_comm_s())
           << " per micro-batch; step without fabric traffic " << units::seconds_text(idle.total_s);
    if (clock_ < 1) detail << " (all at full clock; the clock is " << clock_ << ")";
    event("job_start", detail.str());
  }
  const double slots = model_.slots();
  const double full_clock_slot_compute = model_.forward_s() + model_.backward_s();
  step_clock_ = clock_;
  compute_share_ = idle_compute_share(step_clock_);
  running_ = true;
  mark_good(sg4::Engine::get_clock());
  while (steps_done_ < config_.steps) {
    if (interrupted_) {
      if (!handle_interrupt()) break;
      continue;
    }
    if (pause_requested_ && sg4::Engine::get_clock() < horizon_s_) wait_while_paused();
    if (interrupted_) continue;
    const double start = sg4::Engine::get_clock();
    if (start >= horizon_s_) break;
    if (first_start_s_ < 0) first_start_s_ = start;
    const int64_t step = steps_done_;
    if (clock_ != step_clock_) {
      step_clock_ = clock_;
      compute_share_ = idle_compute_share(step_clock_);
    }
    // 1F1B: the PP sends of one slot over the fabric now, the rest of the pipeline phase as one timer whose
    // forward and backward passes follow the clock (run_phase); the optimizer step is HBM-bound and keeps its time.
    double pf = 0, pb = 0;
    if (layout_.pp > 1) {
      pf = pp_round(true);
      pb = pp_round(false);
    }
    if (interrupted_) continue;
    const double slot_comm = model_.tp_comm_s() + pf + pb;
    // Each GPU computes its stage's micro-batches (slots x slot compute on the critical path); with overlap the last
    // backward pass runs beside the DP all-reduce.
    const double window_full = config_.overlap ? model_.backward_s() : 0;
    const double compute_full = slots * full_clock_slot_compute * work_scale_ - window_full;
    const double fixed = slots * slot_comm - (pf + pb);
    run_phase(compute_full, fixed);
    if (interrupted_) continue;
    const double dp_start = sg4::Engine::get_clock();
    const double dp = dp_allreduce(window_full);
    if (interrupted_) continue;
    const double dp_phase = sg4::Engine::get_clock() - dp_start;
    run_phase(0, model_.optimizer_s());  // HBM-bound: no clock stretch; a failure stops it at once
    if (interrupted_) continue;
    compute_gpu_s_ += model_.gpus() * model_.optimizer_s();
    compute_gpu_s_by_clock_[step_clock_] += model_.gpus() * model_.optimizer_s();
    analysis::JobStepRecord record;
    record.job = index_;
    record.step = step;
    record.start_s = start;
    // Communication does not follow the clock: what is left of the step is compute on the critical path.
    record.comm_s = slots * slot_comm + dp;
    record.exposed_comm_s = slots * slot_comm + std::max(0.0, dp_phase - window_s_);
    record.compute_s = (sg4::Engine::get_clock() - start) - record.exposed_comm_s;
    ++steps_done_;
    ++steps_since_checkpoint_;
    progress_since_checkpoint_s_ += sg4::Engine::get_clock() - start;
    if (checkpoint_due()) {
      record.checkpoint_s = checkpoint();
      if (!interrupted_) {
        ++checkpoints_;
        checkpoint_s_ += record.checkpoint_s;
        rel_.productive_s += progress_since_checkpoint_s_;
        progress_since_checkpoint_s_ = 0;
        steps_since_checkpoint_ = 0;
        steps_at_checkpoint_ = steps_done_;
        mark_good(sg4::Engine::get_clock());
        std::ostringstream detail;
        detail.precision(6);
        detail << "after step " << step << ": " << model_.checkpoint_bytes / 1e9 << " GB from " << model_.gpus()
               << " GPUs";
        if (config_.checkpoint.write_time_s > 0)
          detail << " in " << units::seconds_text(record.checkpoint_s);
        else
          detail << " to " << platform_.storage.size() << " storage nodes in "
                 << units::seconds_text(record.checkpoint_s);
        event("checkpoint", detail.str());
      }
    }
    record.end_s = sg4::Engine::get_clock();
    step_s_.push_back(record.end_s - record.start_s);
    // Of the GPUs' time in this step, the share spent computing (at the clock it ends at; that of the next step).
    const double gpu_compute = model_.micro_batches * full_clock_slot_compute / step_clock_ + model_.optimizer_s();
    const double busy = record.end_s - record.start_s - record.checkpoint_s;
    if (busy > 0) compute_share_ = std::min(1.0, gpu_compute / busy);
    exposed_comm_s_ += record.exposed_comm_s;
    last_end_s_ = record.end_s;
    if (sinks_.step) sinks_.step(record);
  }
  running_ = false;
  ended_ = true;
  finished_ = steps_done() == config_.steps;
  if (finished_) {  // the work since the last checkpoint is kept: nothing will fail it now
    rel_.productive_s += progress_since_checkpoint_s_;
    progress_since_checkpoint_s_ = 0;
  }
  std::ostringstream detail;
  detail << steps_done() << " of " << config_.steps << " steps"
         << (finished_ ? "" : " (stopped at the simulation horizon)");
  event("job_end", detail.str());
}

bool TrainingJob::checkpoint_due() const {
  const JobCheckpointConfig& c = config_.checkpoint;
  if (c.every_steps > 0) return steps_since_checkpoint_ >= c.every_steps;
  if (c.every_s > 0) return progress_since_checkpoint_s_ >= c.every_s * (1 - 1e-12);
  return false;
}

void TrainingJob::interrupt(const std::string& cause, double restart_at_s) {
  const double now = sg4::Engine::get_clock();
  if (first_start_s_ < 0 && now < config_.start_s) return;  // not started: nothing to lose
  if (finished_ || ended_) return;                          // done, or stopped at the horizon
  ++rel_.interruptions;
  ++rel_.by_cause[cause];
  if (down_) {
    restart_at_s_ = std::max(restart_at_s_, restart_at_s);
    event("job_interrupt", cause + "; already down: restart no earlier than " + units::seconds_text(restart_at_s_));
  } else {
    down_ = true;
    interrupted_ = true;
    failed_at_s_ = now;
    restart_at_s_ = restart_at_s;
    interrupt_cause_ = cause;
    running_ = false;
    // What is lost is known now: a step or checkpoint still finishing its flows does not count (see run()).
    const int64_t lost_steps = steps_done_ - steps_at_checkpoint_;
    const double lost_s = work_since_good_s(now);
    rel_.lost_work_s += lost_s;
    std::ostringstream detail;
    detail.precision(6);
    detail << cause << "; " << lost_steps << " step(s) since the last checkpoint lost (" << lost_s << " s, "
           << model_.gpus() * lost_s / 3600 << " GPU-hours); back to step " << steps_at_checkpoint_;
    event("job_interrupt", detail.str());
  }
  if (clock_changed_) clock_changed_->notify_all();
}

double TrainingJob::work_since_good_s(double now) const {
  double idle = paused_idle_s_;
  if (pause_idle_from_s_ >= 0) idle += now - pause_idle_from_s_;
  return std::max(0.0, now - last_good_s_ - idle);
}

void TrainingJob::mark_good(double now) {
  last_good_s_ = now;
  paused_idle_s_ = 0;
}

void TrainingJob::set_lost_dp_replicas(int lost) {
  if (lost < 0 || lost >= layout_.dp)
    throw std::invalid_argument("TrainingJob " + config_.name + ": lost DP replicas must be in [0, dp)");
  work_scale_ = static_cast<double>(layout_.dp) / (layout_.dp - lost);
}

int TrainingJob::dp_replicas_in(const std::vector<int>& gpus) const {
  std::set<int> hit(gpus.begin(), gpus.end()), ranks;
  for (int st = 0; st < layout_.pp; ++st)
    for (int d = 0; d < layout_.dp; ++d)
      for (int t = 0; t < layout_.tp; ++t)
        if (hit.count(layout_.gpu(st, d, t))) ranks.insert(d);
  return static_cast<int>(ranks.size());
}

void TrainingJob::set_restart_at(double restart_at_s) {
  restart_at_s_ = restart_at_s;
  if (clock_changed_) clock_changed_->notify_all();
}

// At a phase boundary after interrupt(): roll back to the last checkpoint and wait for the restart time. Returns
// false when the horizon comes first.
bool TrainingJob::handle_interrupt() {
  const double failed = failed_at_s_;
  steps_done_ = steps_at_checkpoint_;
  steps_since_checkpoint_ = 0;
  progress_since_checkpoint_s_ = 0;
  running_ = false;
  {
    std::unique_lock<sg4::Mutex> lock(*clock_mutex_);
    while (sg4::Engine::get_clock() < std::min(restart_at_s_, horizon_s_)) {
      if (std::isinf(restart_at_s_))
        clock_changed_->wait_until(lock, horizon_s_);
      else
        clock_changed_->wait_until(lock, std::min(restart_at_s_, horizon_s_));
    }
  }
  const double now = sg4::Engine::get_clock();
  if (now >= horizon_s_ && restart_at_s_ > now) return false;  // still down at the horizon (reliability() closes)
  rel_.downtime_s += now - failed;
  down_ = false;
  interrupted_ = false;
  mark_good(now);
  running_ = true;
  event("job_restart",
        "from step " + std::to_string(steps_done_) + " after " + units::seconds_text(now - failed) + " down");
  return true;
}

TrainingJob::Reliability TrainingJob::reliability() const {
  Reliability r = rel_;
  if (first_start_s_ < 0) return r;
  const double end = finished_ ? last_end_s_ : std::min(sg4::Engine::get_clock(), horizon_s_);
  r.wall_s = end - first_start_s_;
  if (down_)  // down at the end: its outage so far (its lost work was counted at the failure)
    r.downtime_s += std::max(0.0, end - failed_at_s_);
  else
    r.productive_s += progress_since_checkpoint_s_;  // kept: no failure came before the end
  return r;
}

void TrainingJob::pause() { pause_requested_ = true; }

void TrainingJob::resume() { pause_requested_ = false; }

// Between two steps: checkpoint (when there is storage), then idle until resume() or the horizon. The job looks at
// the flag once a second: a resume takes effect within a second.
void TrainingJob::wait_while_paused() {
  const double t0 = sg4::Engine::get_clock();
  double checkpoint_s = 0;
  // network: analytic sends no flows: without a write_time the pause writes no checkpoint.
  const bool can_write = config_.checkpoint.write_time_s > 0 ||
                         (config_.network == JobConfig::Network::FLOWS && !platform_.storage.empty());
  if (can_write && steps_since_checkpoint_ > 0) {
    checkpoint_s = checkpoint();
    if (!interrupted_) {  // the pause's checkpoint keeps the progress so far
      rel_.productive_s += progress_since_checkpoint_s_;
      progress_since_checkpoint_s_ = 0;
      steps_since_checkpoint_ = 0;
      steps_at_checkpoint_ = steps_done_;
      mark_good(sg4::Engine::get_clock());
    }
  }
  const bool was_running = running_;
  running_ = false;
  paused_ = true;
  pause_idle_from_s_ = sg4::Engine::get_clock();  // idle: not work a failure could lose
  event("job_pause", "after " + std::to_string(steps_done()) + " steps" +
                         (checkpoint_s > 0 ? "; checkpoint written in " + units::seconds_text(checkpoint_s) : ""));
  while (pause_requested_ && sg4::Engine::get_clock() < horizon_s_) sg4::this_actor::sleep_for(1.0);
  // Idle time up to a failure in the pause (the downtime counts from there) or to the resume.
  const double idle_end = interrupted_ ? std::max(pause_idle_from_s_, failed_at_s_) : sg4::Engine::get_clock();
  paused_idle_s_ += idle_end - pause_idle_from_s_;
  pause_idle_from_s_ = -1;
  paused_ = false;
  running_ = was_running;
  event("job_resume", "after a pause of " + units::seconds_text(sg4::Engine::get_clock() - t0));
}

double TrainingJob::remaining_s() const {
  const int64_t left = config_.steps - steps_done();
  if (left <= 0) return 0;
  double mean = models::step_time(model_, {}, config_.overlap).total_s;
  if (!step_s_.empty()) {
    double total = 0;
    for (double s : step_s_) total += s;
    mean = total / static_cast<double>(step_s_.size());
  }
  return static_cast<double>(left) * mean;
}

double TrainingJob::busy_gpu_s() const {
  return first_start_s_ < 0 ? 0 : model_.gpus() * (last_end_s_ - first_start_s_);
}

std::vector<analysis::SummaryEntry> TrainingJob::summary() const {
  std::vector<analysis::SummaryEntry> out;
  const std::string n = "job." + config_.name + ".";
  auto add = [&](const std::string& name, double value, const std::string& unit) {
    out.push_back({n + name, value, unit});
  };
  const analysis::LatencyStats stats = analysis::latency_stats(step_s_);
  double total = 0;
  for (double s : step_s_) total += s;
  const double steps = static_cast<double>(step_s_.size());  // run, lost ones included (the step statistics)
  const double nan = std::nan("");
  add("steps", static_cast<double>(steps_done_), "1");      // kept: the job's progress
  add("steps_run", steps, "1");
  add("step_time_mean", stats.mean, "s");
  add("step_time_p50", stats.p50, "s");
  add("step_time_p99", stats.p99, "s");
  add("comm_share", total > 0 ? exposed_comm_s_ / total : nan, "1");
  add("bubble_fraction", model_.bubble_fraction(), "1");
  add("tokens_per_s", total > 0 ? steps * model_.tokens_per_step / total : nan, "tokens/s");
  add("achieved_flops_share",
      total > 0 ? steps * model_.model_flops_per_step / (total * model_.gpus() * model_.peak_flops) : nan, "1");
  add("checkpoints", static_cast<double>(checkpoints_), "1");
  add("checkpoint_time", checkpoint_s_, "s");
  const Reliability r = reliability();
  add("interruptions", static_cast<double>(r.interruptions), "1");
  add("ettr", r.wall_s > 0 ? r.ettr() : nan, "1");
  add("lost_gpu_hours", r.lost_gpu_hours(model_.gpus()), "GPU-h");
  add("downtime", r.downtime_s, "s");
  for (const auto& [cause, count] : r.by_cause) {
    std::string key = cause;
    for (size_t at; (at = key.find(": ")) != std::string::npos;) key.replace(at, 2, ".");
    for (char& ch : key)
      if (ch == ' ' || ch == '/') ch = '_';
    add("interruptions." + key, static_cast<double>(count), "1");
  }
  add("goodput_tokens_per_s", r.wall_s > 0 ? static_cast<double>(steps_done_) * model_.tokens_per_step / r.wall_s : nan,
      "tokens/s");
  return out;
}

}  // namespace aif::sim
