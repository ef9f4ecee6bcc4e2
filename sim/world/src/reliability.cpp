#include "reliability.hpp"

#include <simgrid/kernel/Timer.hpp>
#include <simgrid/s4u/Engine.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace aif::sim {

namespace {

using simgrid::kernel::timer::Timer;

constexpr double NEVER = std::numeric_limits<double>::infinity();

std::string fmt_s(double s) {
  char buf[64];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%.2f h", s / 3600);
  else
    std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

// The scenario's overrides over a default class; `scale` multiplies the failure rate.
models::FailureClass with_overrides(models::FailureClass c, const FailuresConfig& f) {
  if (const auto it = f.classes.find(c.name); it != f.classes.end()) {
    const FailureClassOverride& o = it->second;
    if (o.mtbf_s) c.mtbf_s = *o.mtbf_s;
    if (o.weibull) c.distribution = *o.weibull ? models::FailureDistribution::WEIBULL : models::FailureDistribution::EXPONENTIAL;
    if (o.weibull_shape) c.weibull_shape = *o.weibull_shape;
    if (o.detection_s) c.detection_s = *o.detection_s;
    if (o.repair_median_s) c.repair_median_s = *o.repair_median_s;
    if (o.repair_sigma) c.repair_sigma = *o.repair_sigma;
  }
  if (f.scale <= 0) c.mtbf_s = 0;  // never
  else if (c.mtbf_s > 0) c.mtbf_s /= f.scale;
  return c;
}

}  // namespace

Reliability::Reliability(const Scenario& scenario, models::Fabric& fabric,
                         const std::vector<std::vector<int>>& replica_gpus, const std::vector<std::vector<int>>& job_gpus,
                         std::vector<std::vector<int>> service_replicas, ReliabilityHooks hooks)
    : sc_(scenario), fabric_(fabric), service_replicas_(std::move(service_replicas)), hooks_(std::move(hooks)) {
  enabled_ = sc_.failures.present;
  const size_t gpus = static_cast<size_t>(fabric_.num_gpus());
  gpu_replica_.assign(gpus, -1);
  gpu_job_.assign(gpus, -1);
  for (size_t r = 0; r < replica_gpus.size(); ++r)
    for (int g : replica_gpus[r]) gpu_replica_[static_cast<size_t>(g)] = static_cast<int>(r);
  for (size_t j = 0; j < job_gpus.size(); ++j)
    for (int g : job_gpus[j]) gpu_job_[static_cast<size_t>(g)] = static_cast<int>(j);
  replica_outages_.assign(replica_gpus.size(), 0);
  replica_down_since_.assign(replica_gpus.size(), -1);
  replica_down_total_.assign(replica_gpus.size(), 0);
  replica_token_.assign(replica_gpus.size(), 0);
  job_outages_.assign(job_gpus.size(), 0);
  job_lost_dp_.assign(job_gpus.size(), 0);
  if (!enabled_) return;
  // Edge switches: the first switch each GPU's NIC reaches.
  std::map<int, int> switch_index;
  for (int g = 0; g < static_cast<int>(gpus); ++g) {
    const int leaf = fabric_.leaf_of_gpu(g);
    auto [it, added] = switch_index.emplace(leaf, static_cast<int>(switch_gpus_.size()));
    if (added) {
      switch_gpus_.emplace_back();
      const models::FabricLink& nic = fabric_.link(fabric_.nic_link(g));
      const auto gv = static_cast<int>(fabric_.gpu_vertex(g));
      switch_vertex_.push_back(static_cast<models::Fabric::Vertex>(nic.low == gv ? nic.high : nic.low));
    }
    switch_gpus_[static_cast<size_t>(it->second)].push_back(g);
  }
  const int servers = sc_.facility.racks * sc_.facility.servers_per_rack;
  uint64_t stream = 0;
  for (const models::FailureClass& base : models::default_failure_classes()) {
    ClassState s;
    s.cls = with_overrides(base, sc_.failures);
    switch (s.cls.domain) {
      case models::FailureDomain::GPU:
      case models::FailureDomain::LINK:
        s.units = static_cast<int>(gpus);
        break;
      case models::FailureDomain::HOST:
      case models::FailureDomain::SOFTWARE:
        s.units = servers;
        break;
      case models::FailureDomain::SWITCH:
        s.units = static_cast<int>(switch_gpus_.size());
        break;
      case models::FailureDomain::PDU:
      case models::FailureDomain::COOLING:
        s.units = sc_.facility.racks;
        break;
    }
    // The default switch rate is for an edge switch with 64 GPU ports (docs/failures.md): the fabric's switches fail
    // in proportion to the GPUs they serve, so that the site's switch failures per GPU stay the published ones.
    const auto o = sc_.failures.classes.find("switch");
    const bool switch_rate_given = o != sc_.failures.classes.end() && o->second.mtbf_s.has_value();
    if (s.cls.domain == models::FailureDomain::SWITCH && !switch_rate_given && s.units > 0 && s.cls.mtbf_s > 0)
      s.cls.mtbf_s *= 64.0 / (static_cast<double>(gpus) / s.units);
    s.down.assign(static_cast<size_t>(s.units), false);
    s.process = std::make_unique<models::FailureProcess>(s.cls, s.units, sc_.failures.seed, 1000 + stream++);
    classes_.push_back(std::move(s));
  }
  crew_ = std::make_unique<models::RepairCrew>(sc_.failures.technicians);
  spares_free_ = sc_.failures.spare_servers;
  for (size_t i = 0; i < sc_.failures.incidents.size(); ++i)
    for (const IncidentTarget& t : sc_.failures.incidents[i].targets)
      if (t.kind == IncidentTarget::Kind::LEAF && t.index >= static_cast<int>(switch_gpus_.size()))
        throw ScenarioError(sc_.source_path, 0, "failures.incidents[" + std::to_string(i) + "].target",
                            "leaf index " + std::to_string(t.index) + " out of range: the fabric has " +
                                std::to_string(switch_gpus_.size()) + " edge switches");
}

void Reliability::log(double t, const std::string& kind, const std::string& target, const std::string& detail) const {
  if (hooks_.event) hooks_.event({t, kind, target, detail});
}

void Reliability::start() {
  if (!enabled_) return;
  for (size_t c = 0; c < classes_.size(); ++c) schedule_next(c);
  for (const IncidentConfig& inc : sc_.failures.incidents) {
    std::vector<int> gpus;
    std::string targets;
    const int per_server = sc_.facility.gpus_per_server, per_rack = per_server * sc_.facility.servers_per_rack;
    for (const IncidentTarget& t : inc.targets) {
      targets += (targets.empty() ? "" : ", ") + t.text;
      switch (t.kind) {
        case IncidentTarget::Kind::GPU:
          gpus.push_back(t.index);
          break;
        case IncidentTarget::Kind::SERVER:
          for (int g = 0; g < per_server; ++g) gpus.push_back(t.index * per_server + g);
          break;
        case IncidentTarget::Kind::RACK:
          for (int g = 0; g < per_rack; ++g) gpus.push_back(t.index * per_rack + g);
          break;
        case IncidentTarget::Kind::LEAF:
          for (int g : switch_gpus_[static_cast<size_t>(t.index)]) gpus.push_back(g);
          break;
        case IncidentTarget::Kind::SERVICE:
          for (size_t s = 0; s < sc_.services.size(); ++s)
            if (sc_.services[s].name == t.service)
              for (int r : service_replicas_[s])
                for (size_t g = 0; g < gpu_replica_.size(); ++g)
                  if (gpu_replica_[g] == r) gpus.push_back(static_cast<int>(g));
          break;
      }
    }
    const IncidentConfig* incident = &inc;
    bool to_switch = false;
    for (const IncidentTarget& t : inc.targets) to_switch |= t.kind == IncidentTarget::Kind::LEAF;
    Timer::set(inc.at_s, [this, incident, gpus, targets, to_switch] {
      if (hooks_.events) ++*hooks_.events;
      ++incidents_;
      const double now = incident->at_s;
      log(now, "incident_start", targets,
          std::string(to_string(incident->kind)) + ": " + incident->cause + " for " + fmt_s(incident->duration_s));
      // A bad version is not fixed by moving it to spares, nor a cut-off switch; the other kinds move to spares.
      const bool can_replace = incident->kind != IncidentKind::BAD_ROLLOUT && !to_switch;
      const int id = begin_outage(gpus, false, incident->cause, now, can_replace);
      auto finish = [this, incident, id, targets](double end) {
        if (hooks_.events) ++*hooks_.events;
        log(end, "incident_end", targets, std::string(to_string(incident->kind)) + ": capacity back");
        end_outage(id, end);
      };
      if (incident->kind == IncidentKind::FAILURE) {
        // A failure is a repair of `duration` for the crew: it may wait for a free technician.
        // Named copies, not a structured binding: lambdas capture them (C++17 does not let them capture bindings).
        const auto slot = crew_->schedule(now, incident->duration_s);
        const double start = slot.first, end = slot.second;
        log(now, "repair_scheduled", targets,
            "starts at " + fmt_s(start) + (start > now ? " (waiting " + fmt_s(start - now) + " for a technician)" : "") +
                ", done at " + fmt_s(end));
        // Counted when done, like a random failure's repair: one due after the window is not in its totals.
        Timer::set(end, [this, finish, end, wait = start - now, took = end - now] {
          count_repair(wait, took);
          finish(end);
        });
      } else {
        Timer::set(now + incident->duration_s, [finish, end = now + incident->duration_s] { finish(end); });
      }
    });
  }
}

void Reliability::schedule_next(size_t c) {
  const double t = classes_[c].process->peek_time();
  if (!(t < sc_.simulation.duration_s)) return;
  Timer::set(t, [this, c] {
    if (hooks_.events) ++*hooks_.events;
    const models::FailureEvent e = classes_[c].process->next();
    on_failure(c, e);
    schedule_next(c);
  });
}

std::vector<int> Reliability::gpus_of(const ClassState& s, int unit) const {
  const int per_server = sc_.facility.gpus_per_server, per_rack = per_server * sc_.facility.servers_per_rack;
  std::vector<int> gpus;
  switch (s.cls.domain) {
    case models::FailureDomain::GPU:
    case models::FailureDomain::LINK:
      gpus.push_back(unit);
      break;
    case models::FailureDomain::HOST:
    case models::FailureDomain::SOFTWARE:
      for (int g = 0; g < per_server; ++g) gpus.push_back(unit * per_server + g);
      break;
    case models::FailureDomain::SWITCH:
      gpus = switch_gpus_[static_cast<size_t>(unit)];
      break;
    case models::FailureDomain::PDU:
    case models::FailureDomain::COOLING:
      for (int g = 0; g < per_rack; ++g) gpus.push_back(unit * per_rack + g);
      break;
  }
  return gpus;
}

void Reliability::on_failure(size_t c, const models::FailureEvent& e) {
  ClassState& s = classes_[c];
  const size_t unit = static_cast<size_t>(e.unit);
  if (s.down[unit]) return;  // already down: it cannot fail again before its repair
  const double now = e.time_s;
  s.down[unit] = true;
  ++failures_;
  ++by_class_[s.cls.name];
  ++by_cause_[e.cause];
  const std::string target = s.cls.name + "/" + std::to_string(e.unit);
  const bool is_switch = s.cls.domain == models::FailureDomain::SWITCH;
  if (is_switch) fabric_.set_switch_up(switch_vertex_[unit], false);
  const double ready = now + s.cls.detection_s;
  const std::vector<int> gpus = gpus_of(s, e.unit);
  const int id = begin_outage(gpus, s.cls.domain == models::FailureDomain::LINK, s.cls.name + ": " + e.cause, ready,
                              !is_switch);
  log(now, "failure", target, e.cause + "; " + std::to_string(gpus.size()) + " GPU(s) down; detected at " + fmt_s(ready));
  const double duration = models::sample_repair_s(s.cls, sc_.failures.seed, 2000 + c, repair_index_++);
  // The crew takes repairs in the order they become ready: ask it at detection time.
  Timer::set(ready, [this, c, unit, id, target, duration, ready, is_switch, now] {
    if (hooks_.events) ++*hooks_.events;
    const auto slot = crew_->schedule(ready, duration);
    const double start = slot.first, finish = slot.second;
    log(ready, "failure_detected", target,
        "repair starts at " + fmt_s(start) + (start > ready ? " (waiting " + fmt_s(start - ready) + " for a technician)" : "") +
            ", takes " + fmt_s(duration));
    Timer::set(start, [this, target, start, finish] {
      if (hooks_.events) ++*hooks_.events;
      log(start, "repair_start", target, "a technician on it until " + fmt_s(finish));
    });
    Timer::set(finish, [this, c, unit, id, target, finish, is_switch, now, wait = start - ready] {
      if (hooks_.events) ++*hooks_.events;
      ClassState& st = classes_[c];
      st.down[unit] = false;
      count_repair(wait, finish - now);  // failure -> back in service
      if (is_switch) fabric_.set_switch_up(switch_vertex_[unit], true);
      log(finish, "repair_done", target, st.cls.name + " back in service");
      end_outage(id, finish);
    });
  });
}

void Reliability::count_repair(double wait_s, double failure_to_service_s) {
  ++repairs_;
  repair_wait_total_s_ += wait_s;
  repair_wait_max_s_ = std::max(repair_wait_max_s_, wait_s);
  repair_time_total_s_ += failure_to_service_s;
}

int Reliability::begin_outage(const std::vector<int>& gpus, bool jobs_only, const std::string& cause, double ready_s,
                              bool can_replace) {
  const double now = simgrid::s4u::Engine::get_clock();
  const int id = next_outage_++;
  Outage& o = outages_[id];
  o.gpus = gpus;
  o.cause = cause;
  for (int g : gpus) {
    if (!jobs_only && gpu_replica_[static_cast<size_t>(g)] >= 0) o.replicas.insert(gpu_replica_[static_cast<size_t>(g)]);
    if (gpu_job_[static_cast<size_t>(g)] >= 0) o.jobs.insert(gpu_job_[static_cast<size_t>(g)]);
  }
  // Spares: one per server of the outage, all or none (a half-replaced outage would need bookkeeping per server).
  std::set<int> servers;
  for (int g : gpus) servers.insert(g / sc_.facility.gpus_per_server);
  const int need = static_cast<int>(servers.size());
  const bool wants = (sc_.ops.replace_on_spare && !o.replicas.empty()) || (sc_.ops.job_restart_on_spares && !o.jobs.empty());
  const bool use_spares = can_replace && wants && need > 0 && spares_free_ >= need;
  if (use_spares) {
    spares_free_ -= need;
    o.spares_taken = need;
    log(now, "spares_taken", "site",
        std::to_string(need) + " spare server(s) for " + cause + "; " + std::to_string(spares_free_) + " left");
  }
  std::vector<int> failing;
  for (int r : o.replicas) {
    ++replica_failures_;
    ++replica_token_[static_cast<size_t>(r)];
    if (replica_outages_[static_cast<size_t>(r)]++ == 0) {
      replica_down(r, now);
      failing.push_back(r);
    }
  }
  if (!failing.empty() && hooks_.fail_replicas) hooks_.fail_replicas(failing, cause);
  for (int j : o.jobs) {
    ++job_interrupts_;
    const bool spares = use_spares && sc_.ops.job_restart_on_spares;
    // Shrink: restart at once without the DP replicas this outage took, while the job keeps at least one.
    int lost = 0;
    if (!spares && sc_.ops.job_restart_shrink && hooks_.job_dp_replicas_in && hooks_.job_dp && hooks_.set_job_lost_dp) {
      lost = hooks_.job_dp_replicas_in(j, gpus);
      if (job_lost_dp_[static_cast<size_t>(j)] + lost >= hooks_.job_dp(j)) lost = 0;  // nothing left to run on
    }
    const bool restart_now = spares || lost > 0;
    if (hooks_.interrupt_job) hooks_.interrupt_job(j, cause, restart_now ? ready_s + sc_.ops.restart_overhead_s : NEVER);
    if (lost > 0) {
      job_lost_dp_[static_cast<size_t>(j)] += lost;
      o.shrunk[j] = lost;
      hooks_.set_job_lost_dp(j, job_lost_dp_[static_cast<size_t>(j)]);
      log(now, "job_shrink", "job/" + sc_.jobs[static_cast<size_t>(j)].name,
          "restarts without " + std::to_string(lost) + " DP replica(s) until the repair (" +
              std::to_string(job_lost_dp_[static_cast<size_t>(j)]) + " missing)");
    } else if (!spares) {
      o.waiting_jobs.insert(j);
      ++job_outages_[static_cast<size_t>(j)];
    }
  }
  if (use_spares && sc_.ops.replace_on_spare) {
    // The replicas move to the spares: no outage holds them any more (their old hardware is repaired separately).
    for (int r : o.replicas) {
      ++replacements_;
      for (auto& [other_id, other] : outages_)
        if (other_id != id) other.replicas.erase(r);
      replica_outages_[static_cast<size_t>(r)] = 0;
      schedule_restore(r, ready_s - now + sc_.ops.replica_start_s, true);
    }
    o.replicas.clear();
  }
  return id;
}

void Reliability::end_outage(int id, double now) {
  auto it = outages_.find(id);
  if (it == outages_.end()) return;
  Outage& o = it->second;
  for (int r : o.replicas)
    if (--replica_outages_[static_cast<size_t>(r)] == 0) schedule_restore(r, sc_.ops.replica_start_s, false);
  for (int j : o.waiting_jobs)
    if (--job_outages_[static_cast<size_t>(j)] == 0 && hooks_.reschedule_job)
      hooks_.reschedule_job(j, now + sc_.ops.restart_overhead_s);
  for (const auto& [j, lost] : o.shrunk) {  // the job takes its DP replicas back from its next step
    job_lost_dp_[static_cast<size_t>(j)] -= lost;
    if (hooks_.set_job_lost_dp) hooks_.set_job_lost_dp(j, job_lost_dp_[static_cast<size_t>(j)]);
  }
  if (o.spares_taken > 0) spares_free_ += o.spares_taken;  // the repaired servers become the spares
  outages_.erase(it);
}

void Reliability::replica_down(int r, double now) { replica_down_since_[static_cast<size_t>(r)] = now; }

void Reliability::schedule_restore(int r, double delay_s, bool replacement) {
  const uint64_t token = replica_token_[static_cast<size_t>(r)];
  const double at = simgrid::s4u::Engine::get_clock() + delay_s;
  Timer::set(at, [this, r, token, at, replacement] {
    if (hooks_.events) ++*hooks_.events;
    const size_t i = static_cast<size_t>(r);
    if (token != replica_token_[i] || replica_outages_[i] > 0) return;  // failed again meanwhile
    double& since = replica_down_since_[i];
    if (since >= 0) replica_down_total_[i] += at - since;
    since = -1;
    if (hooks_.restore_replica) hooks_.restore_replica(r, replacement);
  });
}

double Reliability::replica_down_s(int replica, double now) const {
  const double since = replica_down_since_[static_cast<size_t>(replica)];
  return replica_down_total_[static_cast<size_t>(replica)] + (since >= 0 ? now - since : 0);
}

std::vector<analysis::SummaryEntry> Reliability::summary(double end) const {
  std::vector<analysis::SummaryEntry> out;
  if (!enabled_) return out;
  auto add = [&](const std::string& name, double value, const std::string& unit) { out.push_back({name, value, unit}); };
  add("failures.count", static_cast<double>(failures_), "1");
  for (const auto& [name, n] : by_class_) add("failures.class." + name, static_cast<double>(n), "1");
  for (const auto& [name, n] : by_cause_) add("failures.cause." + name, static_cast<double>(n), "1");
  add("failures.incidents", static_cast<double>(incidents_), "1");
  add("failures.repairs", static_cast<double>(repairs_), "1");
  add("failures.mttr", repairs_ > 0 ? repair_time_total_s_ / static_cast<double>(repairs_) : 0, "s");
  add("failures.mean_repair_wait", repairs_ > 0 ? repair_wait_total_s_ / static_cast<double>(repairs_) : 0, "s");
  add("failures.max_repair_wait", repair_wait_max_s_, "s");
  add("failures.replica_failures", static_cast<double>(replica_failures_), "1");
  add("failures.replacements", static_cast<double>(replacements_), "1");
  add("failures.job_interruptions", static_cast<double>(job_interrupts_), "1");
  for (size_t s = 0; s < sc_.services.size(); ++s) {
    const auto& replicas = service_replicas_[s];
    if (replicas.empty() || end <= 0) continue;
    double down = 0;
    for (int r : replicas) down += replica_down_s(r, end);
    add(sc_.services[s].name + ".availability", 1 - down / (end * static_cast<double>(replicas.size())), "1");
  }
  return out;
}

}  // namespace aif::sim
