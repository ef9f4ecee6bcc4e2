#include "replica.hpp"

#include <simgrid/kernel/Timer.hpp>
#include <simgrid/s4u/Engine.hpp>

#include <algorithm>
#include <limits>
#include <cmath>
#include <stdexcept>

#include "aif/models/facility_power.hpp"

namespace aif::sim {

using analysis::Outcome;
using analysis::RequestRecord;

Replica::Replica(int index, int service, std::string name, const models::SchedulerLimits& limits,
                 const models::PerfModel& perf, ReplicaPower power, int gpus, bool fast,
                 ReplicaSinks sinks, ReplicaRole role)
    : index_(index),
      service_(service),
      name_(std::move(name)),
      scheduler_(limits),
      perf_(perf),
      power_(std::move(power)),
      gpus_(gpus),
      fast_(fast),
      sinks_(std::move(sinks)),
      role_(role),
      clock_(perf.clock_fraction()) {
  if (role_ == ReplicaRole::PREFILL && !sinks_.prefill_done)
    throw std::invalid_argument(name_ + ": a prefill replica needs a prefill_done sink");
}

void Replica::set_timer(double date, std::function<void()> callback) {
  uint64_t* counter = sinks_.timer_events;
  timer_ = simgrid::kernel::timer::Timer::set(date, [this, counter, cb = std::move(callback)]() {
    timer_ = nullptr;
    if (counter) ++*counter;
    cb();
  });
}

void Replica::arrive(const IncomingRequest& r) {
  if (down_) throw std::logic_error(name_ + ": a request for a replica that is down");
  // A prefill replica generates the first token only; a one-token request ends there.
  const int output_here = role_ == ReplicaRole::PREFILL ? 1 : r.output_tokens;
  // A prompt whose content the trace names is cached by content; otherwise by the workload's shared prefix, if any.
  if (r.prefix_chain && scheduler_.limits().prefix_caching) {
    admit(r, std::nan(""),
          scheduler_.add_request(r.id, r.prompt_tokens, output_here,
                                 models::prompt_block_hashes(*r.prefix_chain, r.chain_block_tokens,
                                                             scheduler_.limits().block_size, r.prompt_tokens)));
    return;
  }
  admit(r, std::nan(""),
        scheduler_.add_request(r.id, r.prompt_tokens, output_here, r.prefix_group, r.prefix_tokens));
}

void Replica::arrive_prefilled(const IncomingRequest& r, double first_token_s) {
  if (down_) throw std::logic_error(name_ + ": a request for a replica that is down");
  if (role_ != ReplicaRole::DECODE) throw std::logic_error(name_ + ": only a decode replica takes prefilled requests");
  admit(r, first_token_s, scheduler_.add_prefilled_request(r.id, r.prompt_tokens, r.output_tokens));
}

void Replica::set_loading(bool loading) {
  loading_ = loading;
  if (!loading_) start_if_idle();
}

void Replica::admit(const IncomingRequest& r, double first_token_s, bool accepted) {
  const double now = simgrid::s4u::Engine::get_clock();
  if (!accepted) {
    sinks_.request_done(record(r.id, Meta{r.workload, r.arrival_s, std::nan(""), r.prompt_tokens, r.output_tokens},
                               Outcome::REJECTED));
    sinks_.event({now, "request_rejected", name_,
                  "request " + std::to_string(r.id) + " needs " + std::to_string(r.prompt_tokens + r.output_tokens) +
                      " tokens of KV cache; the replica holds " +
                      std::to_string(static_cast<int64_t>(scheduler_.blocks().num_blocks()) *
                                     scheduler_.blocks().block_size())});
    return;
  }
  meta_.emplace(r.id, Meta{r.workload, r.arrival_s, first_token_s, r.prompt_tokens, r.output_tokens, r.prefix_chain,
                           r.chain_block_tokens, r.cached_tokens});
  // The request may join at the first step boundary at or after now.
  cut_window(now);
}

void Replica::cut_window(double now) {
  if (!busy_ || !in_window_ || window_cut_) return;
  const auto it = std::lower_bound(window_end_.begin(), window_end_.end(), now);
  const int steps = static_cast<int>(it - window_end_.begin()) + 1;
  if (steps < static_cast<int>(window_end_.size())) {
    timer_->remove();
    timer_ = nullptr;
    window_cut_ = true;
    set_timer(window_end_[static_cast<size_t>(steps - 1)], [this, steps] { end_window(steps); });
  }
}

void Replica::set_clock_fraction(double clock_fraction) {
  if (!(clock_fraction > 0 && clock_fraction <= 1))
    throw std::invalid_argument(name_ + ": clock fraction must be in (0, 1], got " + std::to_string(clock_fraction));
  if (clock_fraction == clock_) return;  // no cut: the event stream of an unchanged clock stays as it was
  clock_ = clock_fraction;
  // A normal step in flight ends as planned and the next one is planned at the new clock; a window's later steps
  // were planned at the old clock, so it ends at the next boundary.
  cut_window(simgrid::s4u::Engine::get_clock());
}

Replica::PlannedStep Replica::plan_step(const models::BatchShape& shape, double clock_fraction) const {
  const models::StepWork work = power_.work ? power_.work->work(shape) : models::StepWork{};
  auto at = [&](double clock) {
    PlannedStep p{perf_.iteration_at_clock(shape, clock), 0, clock, work};
    // KV reloaded from host memory (over the GPUs' host links) and from disk (through the drives) comes in before
    // the step computes, one after the other (not overlapped).
    p.cost.seconds += static_cast<double>(shape.reload_tokens - shape.reload_disk_tokens) * reload_s_per_token_ +
                      static_cast<double>(shape.reload_disk_tokens) * disk_reload_s_per_token_;
    p.power_w = power_.gpu.step_w(work, p.cost, clock) * gpus_;
    return p;
  };
  PlannedStep step = at(clock_fraction);
  const double limit = power_.gpu_power_limit_w * gpus_;
  if (limit > 0 && step.power_w > limit) {
    // The power limit lowers this step's clock until it fits; its time follows from the perf model at that clock.
    const double lowest = std::min(clock_fraction, power_.gpu.dvfs().min_clock_fraction);
    const double f = models::highest_clock_within(limit, lowest,
                                                  [&](double c) { return at(std::min(c, clock_fraction)).power_w; });
    step = at(std::min(f, clock_fraction));
  }
  return step;
}

void Replica::start_if_idle() {
  if (down_ || busy_ || loading_ || scheduler_.idle()) return;
  const double now = simgrid::s4u::Engine::get_clock();
  const double idle_j = power_.gpu.idle_w() * gpus_ * (now - idle_since_);
  energy_j_ += idle_j;
  idle_energy_j_ += idle_j;
  begin_step(now);
}

void Replica::go_idle(double now) {
  busy_ = false;
  idle_since_ = now;
}

void Replica::begin_step(double now) {
  if (down_) return;  // a sink failed the replica while its outcomes were being recorded
  busy_ = true;
  if (scheduler_.idle()) return go_idle(now);
  if (fast_ && expert_flow_bytes_per_token_ == 0) {
    const int steady = scheduler_.steady_steps();
    if (steady >= 2) {
      in_window_ = true;
      window_cut_ = false;
      window_start_ = now;
      window_end_.resize(static_cast<size_t>(steady));
      window_duration_.resize(static_cast<size_t>(steady));
      window_power_w_.resize(static_cast<size_t>(steady));
      window_shape_.resize(static_cast<size_t>(steady));
      double t = now;
      for (int i = 0; i < steady; ++i) {
        window_shape_[static_cast<size_t>(i)] = scheduler_.steady_shape(i);
        const PlannedStep step = plan_step(window_shape_[static_cast<size_t>(i)], clock_);
        t = t + step.cost.seconds;  // the same additions the iteration-level mode makes, in the same order
        window_end_[static_cast<size_t>(i)] = t;
        window_duration_[static_cast<size_t>(i)] = step.cost.seconds;
        window_power_w_[static_cast<size_t>(i)] = step.power_w;
      }
      set_timer(window_end_.back(), [this, steady] { end_window(steady); });
      return;
    }
  }
  plan_ = scheduler_.schedule();
  for (models::RequestId id : plan_.preempted)
    sinks_.event({now, "preemption", name_, "request " + std::to_string(id) + " preempted (recompute): KV cache full"});
  if (plan_.empty()) {
    // Only the sole running request was preempted; it is first in the queue now and fits alone.
    plan_ = scheduler_.schedule();
    if (plan_.empty()) throw std::logic_error(name_ + ": scheduler made no progress");
  }
  const PlannedStep step = plan_step(plan_.shape, clock_);
  step_start_ = now;
  step_end_ = now + step.cost.seconds;
  step_power_w_ = step.power_w;
  step_clock_ = step.clock;
  step_work_ = step.work;
  step_open_ = true;
  const double flow_bytes = expert_flow_bytes_per_token_ * static_cast<double>(plan_.shape.num_tokens);
  if (flow_bytes > 0) {
    // The tokens cross to the other servers' experts first; the step ends its computed time after the last byte.
    step_end_ = std::numeric_limits<double>::infinity();
    const uint64_t serial = ++step_serial_;
    const double rest = step.cost.seconds;
    start_expert_flows_(flow_bytes, [this, serial, rest](double end) {
      if (serial != step_serial_ || down_) return;
      step_end_ = end + rest;
      set_timer(step_end_, [this] { end_step(); });
    });
    return;
  }
  set_timer(step_end_, [this] { end_step(); });
}

void Replica::end_step() {
  const double now = simgrid::s4u::Engine::get_clock();
  finish_step(now);
  begin_step(now);
}

void Replica::finish_step(double now) {
  const double duration = step_end_ - step_start_;
  energy_j_ += step_power_w_ * duration;
  busy_s_ += duration;
  ++steps_;
  step_tokens_ += plan_.shape.num_tokens;
  if (sinks_.iteration) {
    analysis::IterationRecord it;
    it.replica = index_;
    it.start_s = step_start_;
    it.duration_s = duration;
    it.num_seqs = plan_.shape.num_seqs;
    it.prefill_tokens = static_cast<int32_t>(plan_.shape.prefill_tokens);
    it.decode_tokens = plan_.shape.decode_seqs;
    for (const auto& c : plan_.chunks) it.context_tokens += c.context_before;
    it.prefill_seqs = plan_.shape.prefill_seqs;
    it.sampled_seqs = plan_.shape.sampled_seqs;
    it.attended_pairs = plan_.shape.attended_pairs;
    it.prefill_attended_pairs = plan_.shape.prefill_attended_pairs;
    it.gpu_energy_j = step_power_w_ * duration;
    it.clock_fraction = step_clock_;
    it.gpu_flops = step_work_.flops();
    it.gpu_bytes = step_work_.bytes();
    sinks_.iteration(it);
  }
  step_open_ = false;  // accounted for: a fail() from a sink finds no step in flight
  record_outcomes(scheduler_.complete(plan_), now);
}

void Replica::end_window(int steps) {
  const double now = simgrid::s4u::Engine::get_clock();
  for (int i = 0; i < steps; ++i) {
    energy_j_ += window_power_w_[static_cast<size_t>(i)] * window_duration_[static_cast<size_t>(i)];
    busy_s_ += window_duration_[static_cast<size_t>(i)];
    step_tokens_ += window_shape_[static_cast<size_t>(i)].num_tokens;
  }
  steps_ += steps;
  in_window_ = false;
  record_outcomes(scheduler_.advance_steady(steps), now);
  begin_step(now);
}

RequestRecord Replica::record(models::RequestId id, const Meta& m, analysis::Outcome outcome) const {
  RequestRecord rec;
  rec.id = id;
  rec.workload = m.workload;
  rec.service = service_;
  rec.replica = index_;
  rec.arrival_s = m.arrival_s;
  rec.first_token_s = m.first_token_s;
  rec.prompt_tokens = m.prompt_tokens;
  rec.output_tokens = m.output_tokens;
  rec.outcome = outcome;
  return rec;
}

void Replica::record_outcomes(const std::vector<models::SeqOutcome>& outcomes, double now) {
  for (const models::SeqOutcome& o : outcomes) {
    if (down_) return;  // fail() from a sink returned the rest
    Meta& m = meta_.at(o.id);
    if (o.first_token) m.first_token_s = now;
    if (!o.finished) continue;
    if (role_ == ReplicaRole::PREFILL && m.output_tokens > 1) {
      IncomingRequest handoff{o.id, m.workload, m.arrival_s, m.prompt_tokens, m.output_tokens};
      handoff.cached_tokens = o.cached_tokens;
      const double first_token_s = m.first_token_s;
      meta_.erase(o.id);
      sinks_.prefill_done(handoff, first_token_s, index_);
      continue;
    }
    RequestRecord rec = record(o.id, m, Outcome::FINISHED);
    rec.finish_s = now;
    rec.generated_tokens = o.generated;
    rec.preemptions = o.preemptions;
    rec.cached_tokens = std::max(o.cached_tokens, m.prefill_cached_tokens);
    meta_.erase(o.id);
    sinks_.request_done(rec);
  }
}

int Replica::window_steps_done(double now) const {
  if (!in_window_) return 0;
  return static_cast<int>(std::upper_bound(window_end_.begin(), window_end_.end(), now) - window_end_.begin());
}

int64_t Replica::outstanding_tokens(double now) const {
  // Inside a window the scheduler still holds the state of its start: each finished steady
  // step generated one token per running request.
  return scheduler_.outstanding_tokens() - static_cast<int64_t>(window_steps_done(now)) * running();
}

double Replica::gpu_power_w(double now) const {
  if (down_) return 0;
  if (!busy_) return power_.gpu.idle_w() * gpus_;
  if (in_window_) {
    const size_t i = std::min(static_cast<size_t>(window_steps_done(now)), window_power_w_.size() - 1);
    return window_power_w_[i];
  }
  return step_power_w_;
}

double Replica::gpu_power_at_clock_w(double now, double clock_fraction) const {
  if (down_) return 0;
  if (!busy_) return power_.gpu.idle_w() * gpus_;
  if (in_window_) {
    const size_t i = std::min(static_cast<size_t>(window_steps_done(now)), window_shape_.size() - 1);
    return plan_step(window_shape_[i], clock_fraction).power_w;
  }
  return plan_step(plan_.shape, clock_fraction).power_w;
}

double Replica::gpu_energy_at_j(double now) const {
  if (down_) return energy_j_;
  if (!busy_) return energy_j_ + power_.gpu.idle_w() * gpus_ * std::max(0.0, now - idle_since_);
  double j = energy_j_;
  if (in_window_) {
    const int done = window_steps_done(now);
    for (int i = 0; i < done; ++i)
      j += window_power_w_[static_cast<size_t>(i)] * window_duration_[static_cast<size_t>(i)];
    const double partial_start = done == 0 ? window_start_ : window_end_[static_cast<size_t>(done - 1)];
    if (static_cast<size_t>(done) < window_end_.size())
      j += window_power_w_[static_cast<size_t>(done)] * std::max(0.0, now - partial_start);
  } else if (step_open_) {
    j += step_power_w_ * std::max(0.0, now - step_start_);
  }
  return j;
}

// Energy up to `end` (idle, the step in flight, a window's steps and its partial one) and the outcomes of the window
// steps that ended by then; the replica is idle afterwards.
void Replica::close_books(double end) {
  if (!busy_) {
    const double idle_j = power_.gpu.idle_w() * gpus_ * std::max(0.0, end - idle_since_);
    energy_j_ += idle_j;
    idle_energy_j_ += idle_j;
  } else if (in_window_) {
    const int done = window_steps_done(end);
    for (int i = 0; i < done; ++i) {
      energy_j_ += window_power_w_[static_cast<size_t>(i)] * window_duration_[static_cast<size_t>(i)];
      busy_s_ += window_duration_[static_cast<size_t>(i)];
    }
    const double partial_start = done == 0 ? window_start_ : window_end_[static_cast<size_t>(done - 1)];
    if (static_cast<size_t>(done) < window_end_.size()) {
      energy_j_ += window_power_w_[static_cast<size_t>(done)] * (end - partial_start);
      busy_s_ += end - partial_start;
    }
    steps_ += done;
    if (done > 0) record_outcomes(scheduler_.advance_steady(done), window_end_[static_cast<size_t>(done - 1)]);
  } else if (step_open_) {
    energy_j_ += step_power_w_ * (end - step_start_);
    busy_s_ += end - step_start_;
    step_open_ = false;
  }
  busy_ = false;
  in_window_ = false;
}

void Replica::finalize(double end) {
  ++step_serial_;  // flows still out end with the run
  if (timer_) {
    timer_->remove();
    timer_ = nullptr;
  }
  if (down_) return;  // its requests went back at fail(); it drew nothing since
  close_books(end);
  // Whatever is still queued or running did not finish within the run.
  std::vector<models::RequestId> ids;
  ids.reserve(meta_.size());
  for (const auto& kv : meta_) ids.push_back(kv.first);
  std::sort(ids.begin(), ids.end());  // deterministic record order
  for (models::RequestId id : ids) {
    const models::SeqState* s = scheduler_.find(id);
    RequestRecord rec = record(id, meta_.at(id), Outcome::UNFINISHED);
    rec.generated_tokens = s ? s->generated : 0;
    rec.preemptions = s ? s->preemptions : 0;
    rec.cached_tokens = s ? std::max(0, s->cached_tokens) : 0;
    sinks_.request_done(rec);
  }
  meta_.clear();
}

std::vector<LostRequest> Replica::fail(double now) {
  if (down_) throw std::logic_error(name_ + ": fails while already down");
  ++step_serial_;  // the step's flows in flight are lost with it
  if (timer_) {
    timer_->remove();
    timer_ = nullptr;
  }
  // A step that ends at this very instant has run, whichever of its timer and the failure SimGrid orders first (a
  // steady window keeps such a step too, in close_books): both modes and both orders lose the same tokens.
  if (busy_ && step_open_ && step_end_ <= now) finish_step(step_end_);
  close_books(now);
  std::vector<models::RequestId> ids;
  ids.reserve(meta_.size());
  for (const auto& kv : meta_) ids.push_back(kv.first);
  std::sort(ids.begin(), ids.end());
  std::vector<LostRequest> lost;
  lost.reserve(ids.size());
  for (models::RequestId id : ids) {
    const Meta& m = meta_.at(id);
    const models::SeqState* s = scheduler_.find(id);
    IncomingRequest again{id, m.workload, m.arrival_s, m.prompt_tokens, m.output_tokens};
    again.prefix_chain = m.prefix_chain;
    again.chain_block_tokens = m.chain_block_tokens;
    lost.push_back({again,
                    m.first_token_s,
                    s ? static_cast<int32_t>(s->generated) : 0,
                    s ? static_cast<int32_t>(s->preemptions) : 0});
  }
  meta_.clear();
  replaced_.evictions += scheduler_.prefix_evictions();
  replaced_.host_reload_tokens += scheduler_.host_reload_tokens();
  replaced_.host_offloads += scheduler_.host_offloads();
  replaced_.disk_reload_tokens += scheduler_.disk_reload_tokens();
  replaced_.disk_offloads += scheduler_.disk_offloads();
  replaced_.verifications += scheduler_.verifications();
  replaced_.drafts_proposed += scheduler_.drafts_proposed();
  replaced_.drafts_accepted += scheduler_.drafts_accepted();
  scheduler_ = models::Scheduler(scheduler_.limits());  // the KV cache and every queue go with the GPUs
  down_ = true;
  down_since_ = now;
  return lost;
}

void Replica::restore(double now) {
  if (!down_) throw std::logic_error(name_ + ": restored while not down");
  down_s_ += std::max(0.0, now - down_since_);
  down_ = false;
  draining_ = false;
  busy_ = false;
  idle_since_ = now;
}

analysis::RequestRecord Replica::dropped_record(const LostRequest& lost, int32_t service) const {
  RequestRecord rec;
  rec.id = lost.request.id;
  rec.workload = lost.request.workload;
  rec.service = service;
  rec.replica = index_;
  rec.arrival_s = lost.request.arrival_s;
  rec.first_token_s = lost.first_token_s;
  rec.prompt_tokens = lost.request.prompt_tokens;
  rec.output_tokens = lost.request.output_tokens;
  rec.generated_tokens = lost.generated_tokens;
  rec.preemptions = lost.preemptions;
  rec.outcome = Outcome::DROPPED;
  return rec;
}

}  // namespace aif::sim
