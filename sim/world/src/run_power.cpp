// Power: the power manager wired to every consumer of the site (replicas, jobs, spare GPUs, servers).
#include "run.hpp"

namespace aif::sim {

void Run::build_power_manager() {
  const int per_server = sc_.facility.gpus_per_server;
  const int per_rack = sc_.facility.servers_per_rack * per_server;
  const models::GpuPowerModel& gpu = gpu_power_;
  // A constant server overhead is part of each rack's static power; the server model's depends on the GPUs' power
  // (PowerManager::set_rack_input below).
  const bool constant = sc_.facility.server_power_constant;
  std::vector<double> static_rack_w(static_cast<size_t>(sc_.facility.racks),
                                    constant ? sc_.facility.server_overhead_w * sc_.facility.servers_per_rack : 0.0);
  std::vector<bool> used(platform_.gpus.size(), false);
  std::vector<PowerConsumer> consumers;
  for (size_t i = 0; i < replicas_.size(); ++i) {
    Replica* r = replicas_[i].get();
    const int first = replica_first_gpu_[i];
    for (int g = first; g < first + r->gpus(); ++g) used[static_cast<size_t>(g)] = true;
    PowerConsumer k;
    k.name = "replica " + r->name();
    k.group = sc_.services[static_cast<size_t>(r->service_index())].name;
    k.overhead_w = constant ? sc_.facility.server_overhead_w * r->gpus() / per_server : 0.0;
    k.priority = sc_.services[static_cast<size_t>(r->service_index())].priority;
    std::map<int, int> racks;  // a replica with pipeline stages on several servers may span racks
    for (int g = first; g < first + r->gpus(); ++g) ++racks[g / per_rack];
    k.rack_gpus.assign(racks.begin(), racks.end());
    k.gpus = r->gpus();
    k.power_w = [r](double now) { return r->gpu_power_w(now); };
    k.clock = [r] { return r->clock_fraction(); };
    k.power_at_clock = [r](double now, double f) { return r->gpu_power_at_clock_w(now, f); };
    k.set_clock = [r](double f) { r->set_clock_fraction(f); };
    consumers.push_back(std::move(k));
  }
  for (const auto& job_ptr : jobs_) {
    TrainingJob* job = job_ptr.get();
    PowerConsumer k;
    k.name = "job " + job->config().name;
    k.group = "job." + job->config().name;
    k.overhead_w =
        constant ? sc_.facility.server_overhead_w * static_cast<double>(job->layout().gpus.size()) / per_server : 0.0;
    k.training = true;
    k.priority = job->config().priority;
    std::map<int, int> racks;
    for (int g : job->layout().gpus) {
      used[static_cast<size_t>(g)] = true;
      ++racks[g / per_rack];
    }
    k.rack_gpus.assign(racks.begin(), racks.end());
    k.gpus = static_cast<int>(job->layout().gpus.size());
    k.power_w = [job, &gpu](double) {
      return static_cast<double>(job->layout().gpus.size()) * (gpu.idle_w() + job->compute_power_w_now(gpu));
    };
    k.power_at_clock = [job, &gpu](double, double f) {
      return static_cast<double>(job->layout().gpus.size()) * (gpu.idle_w() + job->compute_power_w_at(gpu, f));
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
    if (!used[g]) static_rack_w[g / static_cast<size_t>(per_rack)] += gpu.idle_w();
  try {
    power_ = std::make_unique<PowerManager>(sc_, std::move(consumers), std::move(static_rack_w), gpu,
                                            [this](const analysis::EventRecord& e) { writer_.add_event(e); }, &events_);
  } catch (const std::invalid_argument& e) {
    // The chain's parameters together (e.g. a free-cooling PUE below what the fixed losses alone give).
    throw ScenarioError(sc_.source_path, 0, "facility.power", e.what());
  }
  if (!constant)
    power_->set_rack_input([this](double rack_gpu_w) { return rack_input_w(rack_gpu_w); }, per_rack);
  power_->set_after_tick([this](double now) { release_held(now); });
  power_->set_keep_going([this](double next) {
    return next <= sc_.simulation.duration_s || (sc_.simulation.drain && work_left());
  });
}

// Failures and incidents (reliability.hpp) act on the run through these hooks.

double Run::rack_input_w(double rack_gpu_w) const {
  // The servers of a rack are taken as evenly loaded: the rack's GPU power split over them.
  const double servers = sc_.facility.servers_per_rack;
  return servers * server_input_w(sc_.facility, sc_.device, rack_gpu_w / servers);
}

double Run::servers_extra_w(double now) const {
  if (sc_.facility.server_power_constant) return servers_overhead_w_;
  const size_t per_rack = static_cast<size_t>(sc_.facility.servers_per_rack * sc_.facility.gpus_per_server);
  std::vector<double> rack_gpu_w = rack_spare_idle_w_;
  for (size_t i = 0; i < replicas_.size(); ++i) {
    const Replica& r = *replicas_[i];
    const double per_gpu = r.gpu_power_w(now) / r.gpus();
    for (int g = replica_first_gpu_[i]; g < replica_first_gpu_[i] + r.gpus(); ++g)
      rack_gpu_w[static_cast<size_t>(g) / per_rack] += per_gpu;
  }
  for (const auto& job : jobs_) {
    const double extra = job->compute_power_w_now(gpu_power_);  // above idle, per GPU; idle is in the spare power
    for (int g : job->layout().gpus) rack_gpu_w[static_cast<size_t>(g) / per_rack] += extra;
  }
  double extra_w = 0;
  for (double w : rack_gpu_w) extra_w += rack_input_w(w) - w;
  return extra_w;
}

}  // namespace aif::sim
