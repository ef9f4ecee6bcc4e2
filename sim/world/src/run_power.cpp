// Power: the power manager wired to every consumer of the site (replicas, jobs, spare GPUs, servers).
#include "run.hpp"

namespace aif::sim {

void Run::build_power_manager() {
  const int per_server = sc_.facility.gpus_per_server;
  const int per_rack = sc_.facility.servers_per_rack * per_server;
  const models::GpuPowerParams gpu = models::GpuPowerParams::from_device(sc_.device);
  std::vector<double> static_rack_w(static_cast<size_t>(sc_.facility.racks),
                                    sc_.facility.server_overhead_w * sc_.facility.servers_per_rack);
  std::vector<bool> used(platform_.gpus.size(), false);
  std::vector<PowerConsumer> consumers;
  for (size_t i = 0; i < replicas_.size(); ++i) {
    Replica* r = replicas_[i].get();
    const int first = replica_first_gpu_[i];
    for (int g = first; g < first + r->gpus(); ++g) used[static_cast<size_t>(g)] = true;
    PowerConsumer k;
    k.name = "replica " + r->name();
    k.group = sc_.services[static_cast<size_t>(r->service_index())].name;
    k.overhead_w = sc_.facility.server_overhead_w * r->gpus() / per_server;
    k.priority = sc_.services[static_cast<size_t>(r->service_index())].priority;
    std::map<int, int> racks;  // a replica with pipeline stages on several servers may span racks
    for (int g = first; g < first + r->gpus(); ++g) ++racks[g / per_rack];
    k.rack_gpus.assign(racks.begin(), racks.end());
    k.gpus = r->gpus();
    k.power_w = [r](double now) { return r->gpu_power_w(now); };
    k.clock = [r] { return r->clock_fraction(); };
    k.set_clock = [r](double f) { r->set_clock_fraction(f); };
    consumers.push_back(std::move(k));
  }
  for (const auto& job_ptr : jobs_) {
    TrainingJob* job = job_ptr.get();
    PowerConsumer k;
    k.name = "job " + job->config().name;
    k.group = "job." + job->config().name;
    k.overhead_w = sc_.facility.server_overhead_w * static_cast<double>(job->layout().gpus.size()) / per_server;
    k.training = true;
    k.priority = job->config().priority;
    std::map<int, int> racks;
    for (int g : job->layout().gpus) {
      used[static_cast<size_t>(g)] = true;
      ++racks[g / per_rack];
    }
    k.rack_gpus.assign(racks.begin(), racks.end());
    k.gpus = static_cast<int>(job->layout().gpus.size());
    k.power_w = [job, gpu](double) {
      return static_cast<double>(job->layout().gpus.size()) * (gpu.idle_w + job->compute_power_w_now(gpu));
    };
    k.clock = [job] { return job->clock_fraction(); };
    k.set_clock = [job](double f) { job->set_clock_fraction(f); };
    k.pause = [job] { job->pause(); };
    k.resume = [job] { job->resume(); };
    k.deferrable = job->config().deferrable;
    k.deadline_s = job->config().start_s + job->config().deadline_s;  // absolute: finish by start + deadline
    k.remaining_s = [job] { return job->remaining_s(); };
    k.done = [job] { return job->finished(); };
    k.start_s = job->config().start_s;
    consumers.push_back(std::move(k));
  }
  for (size_t g = 0; g < used.size(); ++g)
    if (!used[g]) static_rack_w[g / static_cast<size_t>(per_rack)] += gpu.idle_w;
  try {
    power_ = std::make_unique<PowerManager>(sc_, std::move(consumers), std::move(static_rack_w), gpu,
                                            [this](const analysis::EventRecord& e) { writer_.add_event(e); }, &events_);
  } catch (const std::invalid_argument& e) {
    // The chain's parameters together (e.g. a free-cooling PUE below what the fixed losses alone give).
    throw ScenarioError(sc_.source_path, 0, "facility.power", e.what());
  }
  power_->set_after_tick([this](double now) { release_held(now); });
  power_->set_keep_going([this](double next) {
    return next <= sc_.simulation.duration_s || (sc_.simulation.drain && work_left());
  });
}

// Failures and incidents (reliability.hpp) act on the run through these hooks.

}  // namespace aif::sim
