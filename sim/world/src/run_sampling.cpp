// Sampling and summary: the time series every sample, and the totals over the window they cover.
#include "run.hpp"

namespace aif::sim {

void Run::sample() {
  const double now = simgrid::s4u::Engine::get_clock();
  double gpu_w = 0;
  int busy_gpus = 0, running = 0, waiting = 0;
  for (const auto& r : replicas_) {
    gpu_w += r->gpu_power_w(now);
    if (r->busy()) busy_gpus += r->gpus();
    running += r->running();
    waiting += r->waiting();
  }
  gpu_w += spare_gpus_idle_w_;  // job GPUs included: their compute is added at busy power below
  for (const auto& job : jobs_) {
    const double n = static_cast<double>(job->layout().gpus.size());
    // At the job's clock (a power cap slows and cools it), with the power figures summarize() books its energy at.
    gpu_w += n * job->compute_power_w_now(gpu_power_);
    if (job->compute_share_now() > 0) busy_gpus += static_cast<int>(n);
  }
  servers_extra_j_ += servers_extra_sampled_w_ * (now - servers_extra_sampled_at_);
  servers_extra_sampled_w_ = servers_extra_w(now);
  servers_extra_sampled_at_ = now;
  const double it_w = gpu_w + servers_extra_sampled_w_;
  last_facility_w_ = it_w * sc_.facility.pue;
  last_busy_gpus_ = busy_gpus;
  last_running_ = running;
  last_waiting_ = waiting;
  std::vector<double> values{gpu_w,
                             it_w,
                             it_w * sc_.facility.pue,
                             static_cast<double>(busy_gpus),
                             static_cast<double>(running),
                             static_cast<double>(waiting),
                             static_cast<double>(arrived_),
                             static_cast<double>(finished_)};
  for (double v : links_->sample(now)) values.push_back(v);
  for (double v : power_->sample(now)) values.push_back(v);
  for (Service& svc : services_) {
    double power_w = 0, energy_j = 0;
    for (const Replica* r : svc.replicas) power_w += r->gpu_power_w(now), energy_j += r->gpu_energy_at_j(now);
    const double interval_j = energy_j - svc.sampled_energy_j;
    const int64_t tokens = svc.output_tokens - svc.sampled_output_tokens, done = svc.finished - svc.sampled_finished;
    values.push_back(power_w);
    values.push_back(tokens > 0 ? interval_j / static_cast<double>(tokens) : std::nan(""));
    values.push_back(done > 0 ? interval_j / static_cast<double>(done) : std::nan(""));
    svc.sampled_energy_j = energy_j, svc.sampled_output_tokens = svc.output_tokens, svc.sampled_finished = svc.finished;
    if (svc.config->scheduler.prefix_caching) {
      const int64_t prompt = svc.prompt_tokens - svc.sampled_prompt_tokens;
      values.push_back(prompt > 0 ? static_cast<double>(svc.cached_tokens - svc.sampled_cached_tokens) /
                                        static_cast<double>(prompt)
                                  : std::nan(""));
      svc.sampled_prompt_tokens = svc.prompt_tokens, svc.sampled_cached_tokens = svc.cached_tokens;
    }
  }
  if (power_->enabled()) {
    // Before the manager's first control instant a rack has no measured power yet: NaN, not a made-up 0.
    const std::vector<double>& racks = power_->rack_power_w();
    for (size_t r = 0; r < static_cast<size_t>(sc_.facility.racks); ++r)
      rack_power_.watts.push_back(r < racks.size() ? static_cast<float>(racks[r]) : std::nanf(""));
  }
  writer_.add_sample(now, values);
  const double next = now + sc_.simulation.sample_interval_s;
  const double horizon = sc_.simulation.duration_s;
  const bool more = next <= horizon || (sc_.simulation.drain && work_left());
  // The series reach the horizon even when it falls between two sampling instants (a last, shorter interval).
  const double at = more ? next : now < horizon ? horizon : -1;
  if (at >= 0) {
    Timer::set(at, [this] {
      ++events_;
      sample();
    });
    return;
  }
  // The last sample ends the window that every total and mean of the summary covers: what comes after it (a repair
  // due hours later, a replacement's weights) is in /events but adds nothing to the summary.
  series_end_s_ = now;
  power_->close_window(now);
  window_reliability_ = reliability_->summary(now);
}

std::vector<analysis::SummaryEntry> Run::summarize(double end) {
  std::vector<analysis::SummaryEntry> out;
  auto add = [&](const std::string& name, double value, const std::string& unit) { out.push_back({name, value, unit}); };
  analysis::QuantileSketch ttft, tpot, e2e;
  int64_t met = 0;
  for (const Service& s : services_) {
    ttft.merge(s.ttft);
    tpot.merge(s.tpot);
    e2e.merge(s.e2e);
    met += s.slo_met;
  }
  double gpu_j = 0, busy_gpu_s = 0;
  for (const auto& r : replicas_) {
    gpu_j += r->gpu_energy_j();
    busy_gpu_s += r->busy_s() * r->gpus();
  }
  const double total_gpus = static_cast<double>(platform_.gpus.size());
  gpu_j += spare_gpus_idle_w_ * end;
  for (const auto& job : jobs_) {
    gpu_j += job->compute_energy_j(gpu_power_);
    busy_gpu_s += job->compute_gpu_s();
  }
  // A constant overhead exactly; the server model as the series chart it (constant between samples).
  const double it_j = gpu_j + (sc_.facility.server_power_constant ? servers_overhead_w_ * end : servers_extra_j_);
  // With the power chain on, facility energy comes from it (losses and cooling at the outdoor temperature), not from
  // the constant facility.pue.
  const double facility_j = sc_.facility_power.enabled ? power_->facility_energy_j() : it_j * sc_.facility.pue;
  add("requests", static_cast<double>(arrived_), "1");
  add("finished", static_cast<double>(finished_), "1");
  add("rejected", static_cast<double>(rejected_), "1");
  add("unfinished", static_cast<double>(unfinished_), "1");
  add("dropped", static_cast<double>(dropped_), "1");
  add("simulated_time", end, "s");
  add("throughput", end > 0 ? finished_ / end : 0, "req/s");
  add("input_tokens_per_s", end > 0 ? input_tokens_ / end : 0, "tokens/s");
  add("output_tokens_per_s", end > 0 ? output_tokens_ / end : 0, "tokens/s");
  for (auto [name, sk] : {std::pair<const char*, analysis::QuantileSketch*>{"ttft", &ttft}, {"tpot", &tpot},
                          {"e2e", &e2e}}) {
    const std::string n = name;
    add(n + "_mean", sk->mean(), "s");
    add(n + "_p50", sk->quantile(50), "s");
    add(n + "_p90", sk->quantile(90), "s");
    add(n + "_p99", sk->quantile(99), "s");
  }
  add("slo_attainment", arrived_ > 0 ? static_cast<double>(met) / static_cast<double>(arrived_) : std::nan(""), "1");
  add("gpu_utilization", end > 0 ? busy_gpu_s / (total_gpus * end) : 0, "1");
  add("gpu_energy", gpu_j / 3.6e6, "kWh");
  add("it_energy", it_j / 3.6e6, "kWh");
  add("facility_energy", facility_j / 3.6e6, "kWh");
  add("mean_facility_power", end > 0 ? facility_j / end / 1e3 : 0, "kW");
  add("energy_per_output_token", output_tokens_ > 0 ? facility_j / static_cast<double>(output_tokens_) : std::nan(""),
      "J/token");
  add("events", static_cast<double>(events_), "1");
  // Per service: the figures a planner compares between deployments.
  for (const Service& s : services_) {
    const std::string n = s.config->name + ".";
    double svc_j = 0;
    for (const Replica* r : s.replicas) svc_j += r->gpu_energy_j();
    add(n + "requests", static_cast<double>(s.arrived), "1");
    add(n + "finished", static_cast<double>(s.finished), "1");
    add(n + "ttft_p99", s.ttft.quantile(99), "s");
    add(n + "tpot_p99", s.tpot.quantile(99), "s");
    add(n + "e2e_p99", s.e2e.quantile(99), "s");
    add(n + "slo_attainment", s.arrived > 0 ? static_cast<double>(s.slo_met) / static_cast<double>(s.arrived) : std::nan(""),
        "1");
    add(n + "gpu_energy_per_output_token",
        s.output_tokens > 0 ? svc_j / static_cast<double>(s.output_tokens) : std::nan(""), "J/token");
    // Where its GPUs' energy and time went: busy running steps, up and idle, down (failed or parked).
    double idle_j = 0, svc_busy_gpu_s = 0, down_gpu_s = 0, gpus = 0;
    for (const Replica* r : s.replicas) {
      idle_j += r->idle_energy_j();
      svc_busy_gpu_s += r->busy_s() * r->gpus();
      down_gpu_s += r->down_s(end) * r->gpus();
      gpus += r->gpus();
    }
    add(n + "gpu_energy", svc_j / 3.6e6, "kWh");
    add(n + "gpu_energy_idle", idle_j / 3.6e6, "kWh");
    add(n + "gpu_energy_per_request", s.finished > 0 ? svc_j / static_cast<double>(s.finished) : std::nan(""), "J");
    add(n + "gpu_power_busy", svc_busy_gpu_s > 0 ? (svc_j - idle_j) / svc_busy_gpu_s : std::nan(""), "W");
    const double gpu_s = gpus * end;
    add(n + "gpu_busy_share", gpu_s > 0 ? svc_busy_gpu_s / gpu_s : std::nan(""), "1");
    add(n + "gpu_down_share", gpu_s > 0 ? down_gpu_s / gpu_s : std::nan(""), "1");
    add(n + "gpu_idle_share", gpu_s > 0 ? 1 - (svc_busy_gpu_s + down_gpu_s) / gpu_s : std::nan(""), "1");
    if (s.config->scheduler.prefix_caching) {
      int64_t evictions = 0;
      for (const Replica* r : s.replicas) evictions += r->prefix_evictions();
      add(n + "prefix_cache_hit_rate",
          s.prompt_tokens > 0 ? static_cast<double>(s.cached_tokens) / static_cast<double>(s.prompt_tokens) : std::nan(""),
          "1");
      add(n + "prefix_cached_tokens", static_cast<double>(s.cached_tokens), "tokens");
      add(n + "prefix_cache_evictions", static_cast<double>(evictions), "blocks");
      // A KV tier's books: blocks written to it, tokens reloaded from it, and both as bytes.
      auto tier = [&](const std::string& name, const char* written_name, auto reloaded_of, auto written_of) {
        int64_t reloaded = 0, written = 0;
        for (const Replica* r : s.replicas) reloaded += reloaded_of(*r), written += written_of(*r);
        add(n + name + "_" + written_name, static_cast<double>(written), "blocks");
        add(n + name + "_reloaded_tokens", static_cast<double>(reloaded), "tokens");
        add(n + name + "_traffic", static_cast<double>(written * s.config->scheduler.block_size + reloaded) *
                                       s.kv_bytes_per_token, "B");
      };
      if (s.config->kv_host_bytes > 0)
        tier("kv_host", "offloaded_blocks", [](const Replica& r) { return r.host_reload_tokens(); },
             [](const Replica& r) { return r.host_offloads(); });
      if (s.config->kv_disk_bytes > 0)
        tier("kv_disk", "written_blocks", [](const Replica& r) { return r.disk_reload_tokens(); },
             [](const Replica& r) { return r.disk_offloads(); });
    }
    if (s.config->speculative.tokens > 0) {
      int64_t verifications = 0, proposed = 0, accepted = 0;
      for (const Replica* r : s.replicas)
        verifications += r->verifications(), proposed += r->drafts_proposed(), accepted += r->drafts_accepted();
      add(n + "spec_acceptance_rate", proposed > 0 ? static_cast<double>(accepted) / static_cast<double>(proposed)
                                                   : std::nan(""), "1");
      add(n + "spec_tokens_per_step", verifications > 0 ? static_cast<double>(verifications + accepted) /
                                                              static_cast<double>(verifications)
                                                        : std::nan(""), "tokens");
    }
    if (s.config->dp > 1) {
      // Expert parallelism across attention ranks: every step's tokens go to their experts and back in each layer.
      int64_t tokens = 0;
      for (const Replica* r : s.replicas) tokens += r->step_tokens();
      const models::ModelArch& m = sc_.models.at(s.config->model);
      add(n + "expert_alltoall_bytes",
          static_cast<double>(tokens) * m.layers *
              models::ComposedPerfModel::alltoall_bytes_per_token(m, composed_options(*s.config)),
          "B");
    }
    if (s.config->disaggregated()) {
      add(n + "kv_transfers", static_cast<double>(s.kv_transfers), "1");
      add(n + "kv_transfer_bytes", s.kv_transfer_bytes, "B");
      add(n + "kv_transfer_p50", s.kv_transfer_s.quantile(50), "s");
      add(n + "kv_transfer_p99", s.kv_transfer_s.quantile(99), "s");
    }
  }
  // The fabric: what each tier of links carried and how busy it was on average over the run.
  for (const LinkMonitor::TierTotal& t : links_->tier_totals(end)) {
    const std::string n = "fabric." + tier_name(t.tier) + ".";
    add(n + "bytes", t.bytes, "B");
    add(n + "mean_utilization", t.mean_util, "1");
  }
  // The most loaded shared link (its name and series are in /links): how close the fabric came to a bottleneck.
  const auto top = links_->busiest(1);
  add("fabric.busiest_link_peak_utilization", top.empty() ? 0.0 : top.front().peak_util, "1");
  add("fabric.busiest_link_mean_utilization",
      top.empty() || end <= 0 ? 0.0 : top.front().bytes / (end * fabric_.link(top.front().link).bandwidth), "1");
  for (const auto& job : jobs_) {
    for (analysis::SummaryEntry& e : job->summary()) out.push_back(std::move(e));
  }
  std::map<std::string, double> tokens_by_service;
  for (const Service& s : services_) tokens_by_service[s.config->name] = static_cast<double>(s.output_tokens);
  for (analysis::SummaryEntry& e : series_end_s_ >= 0 ? window_reliability_ : reliability_->summary(end))
    out.push_back(std::move(e));
  if (reliability_->enabled()) {
    for (const Service& s : services_) {
      add(s.config->name + ".requests_retried", static_cast<double>(s.retried), "1");
      add(s.config->name + ".requests_dropped", static_cast<double>(s.dropped), "1");
    }
  }
  for (analysis::SummaryEntry& e : power_->summary(end, static_cast<double>(output_tokens_), tokens_by_service))
    out.push_back(std::move(e));
  return out;
}

}  // namespace aif::sim
