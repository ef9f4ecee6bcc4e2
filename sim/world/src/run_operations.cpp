// Operations: autoscaling and rollouts (ops.autoscaler, ops.rollouts).
#include "run.hpp"

namespace aif::sim {

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
  // The poll re-arms itself through a weak reference: the pending timer holds the only strong one, so the closure
  // is freed once draining ends (a self-capturing shared_ptr was a cycle: LeakSanitizer found it).
  auto poll = std::make_shared<std::function<void()>>();
  const std::weak_ptr<std::function<void()>> self = poll;
  *poll = [this, &replica, why, done, begun, self] {
    ++events_;
    const double now = simgrid::s4u::Engine::get_clock();
    if (replica.down()) {  // failed meanwhile: the failure path brings it back
      done();
      return;
    }
    if (!replica.empty() && now - begun < 120) {
      Timer::set(now + 1, [again = self.lock()] { (*again)(); });
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

}  // namespace aif::sim
