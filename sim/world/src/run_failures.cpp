// Failures: reliability wired to the replicas and jobs; what a failed replica's requests do; a replica's return.
#include "run.hpp"

namespace aif::sim {

void Run::build_reliability() {
  std::vector<std::vector<int>> replica_gpus, job_gpus, service_replicas(services_.size());
  for (size_t r = 0; r < replicas_.size(); ++r) {
    std::vector<int> gpus;
    for (int g = 0; g < replicas_[r]->gpus(); ++g) gpus.push_back(replica_first_gpu_[r] + g);
    replica_gpus.push_back(std::move(gpus));
    service_replicas[static_cast<size_t>(replicas_[r]->service_index())].push_back(static_cast<int>(r));
  }
  for (const auto& job : jobs_) job_gpus.push_back(job->layout().gpus);
  ReliabilityHooks hooks;
  hooks.fail_replicas = [this](const std::vector<int>& r, const std::string& cause) { fail_replicas(r, cause); };
  hooks.restore_replica = [this](int r, bool replacement) { restore_replica(r, replacement); };
  hooks.interrupt_job = [this](int j, const std::string& cause, double restart_at) {
    jobs_[static_cast<size_t>(j)]->interrupt(cause, restart_at);
  };
  hooks.reschedule_job = [this](int j, double restart_at) { jobs_[static_cast<size_t>(j)]->set_restart_at(restart_at); };
  hooks.job_dp_replicas_in = [this](int j, const std::vector<int>& gpus) {
    return jobs_[static_cast<size_t>(j)]->dp_replicas_in(gpus);
  };
  hooks.job_dp = [this](int j) { return jobs_[static_cast<size_t>(j)]->layout().dp; };
  hooks.set_job_lost_dp = [this](int j, int lost) { jobs_[static_cast<size_t>(j)]->set_lost_dp_replicas(lost); };
  hooks.event = [this](const analysis::EventRecord& e) { writer_.add_event(e); };
  hooks.events = &events_;
  reliability_ = std::make_unique<Reliability>(sc_, fabric_, replica_gpus, job_gpus, std::move(service_replicas),
                                               std::move(hooks));
}

void Run::retry_or_drop(Service& svc, const IncomingRequest& request, const analysis::RequestRecord& dropped,
                        std::vector<Replica*>& touched) {
  if (sc_.ops.on_failure == FailedRequestPolicy::DROP) {
    ++svc.dropped;
    on_request_done(dropped);
    return;
  }
  ++svc.retried;
  if (!any_live(svc.entry)) {
    svc.orphans.push_back(request);
    return;
  }
  Replica& replica = route(svc, simgrid::s4u::Engine::get_clock(), request);
  replica.arrive(request);
  touched.push_back(&replica);
}

// Every replica of the outage goes down first, then their requests move: none lands on a replica about to fail.
void Run::fail_replicas(const std::vector<int>& indices, const std::string& cause) {
  const double now = simgrid::s4u::Engine::get_clock();
  std::vector<std::pair<Replica*, std::vector<LostRequest>>> lost;
  for (int index : indices) {
    Replica& replica = *replicas_[static_cast<size_t>(index)];
    if (replica.down()) continue;
    lost.emplace_back(&replica, replica.fail(now));
    writer_.add_event({now, "replica_down", replica.name(),
                       cause + "; " + std::to_string(lost.back().second.size()) + " request(s) " +
                           (sc_.ops.on_failure == FailedRequestPolicy::RETRY ? "retried" : "dropped")});
  }
  std::vector<Replica*> touched;
  for (const auto& [replica, requests] : lost) {
    Service& svc = services_[static_cast<size_t>(replica->service_index())];
    for (const LostRequest& l : requests)
      retry_or_drop(svc, l.request, replica->dropped_record(l, replica->service_index()), touched);
  }
  for (Replica* r : touched) r->start_if_idle();
}

void Run::restore_replica(int index, bool replacement) {
  Replica& replica = *replicas_[static_cast<size_t>(index)];
  if (!replica.down() || parked_[static_cast<size_t>(index)]) return;  // a parked replica stays off
  replica.restore(simgrid::s4u::Engine::get_clock());
  bring_back(replica, "replica_up", replacement ? "replacement on a spare server" : "repaired");
}

bool Run::loads_weights(const ServiceConfig& cfg) const {
  return cfg.load_weights == ServiceConfig::WeightLoading::ON ||
         (cfg.load_weights == ServiceConfig::WeightLoading::AUTO && fabric_.num_storage() > 0);
}

void Run::bring_back(Replica& replica, const std::string& kind, const std::string& why) {
  const double now = simgrid::s4u::Engine::get_clock();
  Service& svc = services_[static_cast<size_t>(replica.service_index())];
  const bool load = loads_weights(*svc.config);
  writer_.add_event({now, kind, replica.name(), why + (load ? "; loading weights from storage" : "")});
  if (load) load_weights(replica, *svc.config);
  std::vector<Replica*> touched;
  while (!svc.orphans.empty() && any_live(svc.entry)) {
    Replica& r = route(svc, now, svc.orphans.front());
    r.arrive(svc.orphans.front());
    svc.orphans.pop_front();
    touched.push_back(&r);
  }
  for (Replica* r : touched) r->start_if_idle();
}

}  // namespace aif::sim
