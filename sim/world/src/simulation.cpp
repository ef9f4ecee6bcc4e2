#include "aif/world/simulation.hpp"

#include "run.hpp"

namespace aif::sim {

std::unique_ptr<models::ArrivalProcess> make_arrivals(const Scenario& sc, const WorkloadConfig& w, size_t index) {
  const ArrivalConfig& a = w.arrival;
  const uint64_t stream = index;
  const double horizon = sc.simulation.duration_s;
  auto lengths = [](const LengthDist& d) {
    models::LengthDistribution out;
    switch (d.kind) {
      case LengthDist::Kind::FIXED: out = models::LengthDistribution::fixed(static_cast<int32_t>(d.value)); break;
      case LengthDist::Kind::UNIFORM:
        out = models::LengthDistribution::uniform(static_cast<int32_t>(d.min), static_cast<int32_t>(d.max));
        break;
      case LengthDist::Kind::LOGNORMAL:
        out = models::LengthDistribution::lognormal(d.median, d.sigma, static_cast<int32_t>(d.min),
                                                     static_cast<int32_t>(d.max));
        break;
    }
    return out;
  };
  models::ArrivalLimits limits{horizon, a.max_requests};
  if (w.conversation.present() && a.kind != ArrivalConfig::Kind::TRACE) {
    // The first turns come from the arrival process (without the request limit, which counts every turn).
    WorkloadConfig first = w;
    first.conversation = {};
    first.arrival.max_requests = -1;
    models::ConversationSpec spec;
    spec.turns = lengths(w.conversation.turns);
    spec.think_time_s = w.conversation.think_time_s;
    spec.think_time_exponential = w.conversation.think_time_exponential;
    spec.messages = lengths(a.prompt_tokens);
    spec.answers = lengths(a.output_tokens);
    spec.system_prompt_tokens = w.conversation.system_prompt_tokens;
    spec.system_prompts = w.conversation.system_prompts;
    return models::make_conversations(make_arrivals(sc, first, index), spec, sc.simulation.seed, stream, limits);
  }
  switch (a.kind) {
    case ArrivalConfig::Kind::POISSON:
      return models::make_poisson(a.rate_per_s, lengths(a.prompt_tokens), lengths(a.output_tokens), sc.simulation.seed,
                                  stream, limits);
    case ArrivalConfig::Kind::GAMMA:
      return models::make_gamma(a.rate_per_s, a.cv, lengths(a.prompt_tokens), lengths(a.output_tokens),
                                sc.simulation.seed, stream, limits);
    case ArrivalConfig::Kind::DIURNAL:
      return models::make_diurnal(a.rate_per_s, a.diurnal_curve, a.diurnal_period_s, lengths(a.prompt_tokens),
                                  lengths(a.output_tokens), sc.simulation.seed, stream, limits);
    case ArrivalConfig::Kind::TRACE: {
      const std::vector<TraceRecord>& rows = *sc.traces.at(a.trace_path);  // read when the scenario loaded
      std::vector<models::Arrival> arrivals;
      arrivals.reserve(rows.size());
      for (const TraceRecord& r : rows) {
        arrivals.push_back({r.time_s, r.prompt_tokens, r.output_tokens});
        if (!r.block_ids.empty()) {
          arrivals.back().prefix_chain = std::make_shared<const std::vector<uint64_t>>(models::chain_block_ids(r.block_ids));
          arrivals.back().chain_block_tokens = r.block_tokens;
        }
      }
      return models::make_trace_replay(std::move(arrivals), a.rate_scale, limits);
    }
  }
  throw std::logic_error("unknown arrival kind");
}

RunReport Run::execute() {
  const auto wall0 = Clock::now();
  build();
  writer_.write_meta({{"tool", "aifsim"},
                      {"tool_version", opt_.tool_version},
                      {"scenario_path", sc_.source_path},
                      {"scenario", sc_.source_text},
                      {"seed", std::to_string(sc_.simulation.seed)},
                      {"fidelity", fast_ ? "fast" : "iteration"},
                      {"command_line", opt_.command_line},
                      {"device", sc_.gpu}});
  for (const Service& svc : services_) {
    const bool calibrated = svc.config->perf.kind == PerfConfig::Kind::CALIBRATED;
    const std::string provenance = perf_provenance(sc_, *svc.config);
    writer_.write_meta({{"service." + svc.config->name + ".perf", svc.perf->describe()},
                        {"service." + svc.config->name + ".calibrated",
                         (calibrated ? "true: " : "false: ") + provenance},
                        {"service." + svc.config->name + ".engine", svc.config->engine.name}});
    perf_notes_.emplace_back(svc.config->name, provenance);
  }
  std::vector<analysis::SeriesSpec> series{{"gpu_power", "W", "all GPUs of the site"},
                                           {"it_power", "W", "GPUs plus server overhead"},
                                           {"facility_power", "W", "IT power times PUE"},
                                           {"busy_gpus", "1", "GPUs of replicas running a step and of running training jobs"},
                                           {"running_requests", "1", "requests in a running batch"},
                                           {"waiting_requests", "1", "requests queued at replicas"},
                                           {"arrived_requests", "1", "cumulative arrivals"},
                                           {"finished_requests", "1", "cumulative finished requests"}};
  for (analysis::SeriesSpec& spec : links_->series()) series.push_back(std::move(spec));
  for (analysis::SeriesSpec& spec : power_->series()) series.push_back(std::move(spec));
  // Per service: its GPUs' power, and the GPU energy of each sample interval per output token and per request of the
  // requests finished in it (NaN when none finished).
  for (const Service& svc : services_) {
    const std::string n = "service." + svc.config->name + ".";
    series.push_back({n + "gpu_power", "W", "all GPUs of its replicas"});
    series.push_back({n + "energy_per_output_token", "J/token",
                      "GPU energy of the interval over the output tokens of the requests finished in it"});
    series.push_back({n + "energy_per_request", "J", "GPU energy of the interval over the requests finished in it"});
    if (svc.config->scheduler.prefix_caching)
      series.push_back({n + "prefix_cache_hit_rate", "1",
                        "prompt tokens the prefix cache spared over the prompt tokens of the requests finished in the "
                        "interval"});
  }
  writer_.define_series(series);
  // The power manager's control instant at 0 comes first: a deferrable job is held before its first step.
  power_->start();
  reliability_->start();
  start_ops();
  for (size_t w = 0; w < sc_.workloads.size(); ++w) start_workload(w);
  if (!jobs_.empty()) {
    std::vector<std::string> names;
    for (const auto& job : jobs_) names.push_back(job->config().name);
    writer_.define_jobs(names);
    for (const auto& job : jobs_) job->start();
  }
  Timer::set(0.0, [this] { sample(); });

  auto& engine = *simgrid::s4u::Engine::get_instance();
  const double duration = sc_.simulation.duration_s;
  auto stop_asked = [this] { return opt_.stop_requested && opt_.stop_requested->load(); };
  bool stopped = false;
  if (opt_.progress || opt_.progress_json || opt_.stop_requested || opt_.max_requests_held > 0) {
    const int slices = 200;
    for (int i = 1; i <= slices; ++i) {  // all of them: training jobs keep running when no request is left
      if (stop_asked() || !backlog_.empty()) {
        stopped = true;
        break;
      }
      const double until = duration * i / slices;
      engine.run_until(until);
      const double wall = std::chrono::duration<double>(Clock::now() - wall0).count();
      const double frac = static_cast<double>(i) / slices;
      report_progress(until, frac, wall);
    }
    if (opt_.progress) std::fprintf(stderr, "\n");
  } else {
    engine.run_until(duration);
  }
  // The drain runs whole (a stop asked for now lets the in-flight requests finish): run_until slices would leave
  // the clock at a slice boundary instead of the last event, and the results would differ from an unsliced run.
  if (sc_.simulation.drain && !stopped) engine.run();  // let in-flight requests finish
  // The engine's end, which the run_end event reports (it ran on to the last pending event: a repair due after the
  // horizon, say), and the end of the window the series and the summary cover: their last sample, taken at the
  // horizon or, with a drain, at the first sampling instant with no request left; for a stopped run, the stop.
  const double engine_end = stopped ? simgrid::s4u::Engine::get_clock()
                            : sc_.simulation.drain ? std::max(duration, simgrid::s4u::Engine::get_clock())
                                                   : duration;
  const double end = stopped || series_end_s_ < 0 ? engine_end : series_end_s_;
  power_->close_window(end);  // a stopped run: its books end at the stop (no-op when the last sample closed them)
  if (stopped) {
    writer_.write_meta({{"partial", "1"}, {"partial_end_s", std::to_string(end)}});
    writer_.add_event({end, "run_stopped", "site",
                       (backlog_.empty() ? "stopped on request" : "stopped: " + backlog_ + ";") + " at " +
                           std::to_string(end) + " s of " + std::to_string(duration) + " s: partial results"});
  }
  for (const auto& r : replicas_) r->finalize(end);
  // Deferrable arrivals still held by the power policies at the end never reached a replica: unfinished, not lost.
  for (size_t w = 0; w < held_.size(); ++w) {
    for (const models::Arrival& a : held_[w]) {
      Service& svc = services_[workload_service_[w]];
      ++svc.arrived;
      ++arrived_;
      ++in_flight_;
      analysis::RequestRecord record;
      record.id = next_request_id_++;
      record.workload = static_cast<int32_t>(w);
      record.service = static_cast<int32_t>(workload_service_[w]);
      record.arrival_s = a.time_s;
      record.prompt_tokens = a.prompt_tokens;
      record.output_tokens = a.output_tokens;
      record.outcome = analysis::Outcome::UNFINISHED;
      on_request_done(record);
    }
    held_[w].clear();
  }
  held_count_ = 0;
  // Requests waiting for a service whose replicas were all down at the end: unfinished too.
  for (size_t s = 0; s < services_.size(); ++s) {
    for (const IncomingRequest& q : services_[s].orphans) {
      analysis::RequestRecord record;
      record.id = q.id;
      record.workload = q.workload;
      record.service = static_cast<int32_t>(s);
      record.arrival_s = q.arrival_s;
      record.prompt_tokens = q.prompt_tokens;
      record.output_tokens = q.output_tokens;
      record.outcome = analysis::Outcome::UNFINISHED;
      on_request_done(record);
    }
    services_[s].orphans.clear();
  }
  const double wall = std::chrono::duration<double>(Clock::now() - wall0).count();
  RunReport report;
  report.summary = summarize(end);
  report.perf = perf_notes_;
  report.fingerprint = writer_.fingerprint();
  report.events = events_;
  report.simulated_s = end;
  report.partial = stopped;
  report.stop_reason = backlog_;
  report.wall_s = wall;
  report.requests = arrived_;
  writer_.add_event({engine_end, "run_end", "site", "simulated " + std::to_string(engine_end) + " s"});
  // The links of the shared tiers that carried the most, with their utilization over every sampling interval.
  std::vector<analysis::LinkUsageRecord> busiest;
  for (const LinkMonitor::LinkTotal& t : links_->busiest(16)) {
    const models::FabricLink& fl = fabric_.link(t.link);
    analysis::LinkUsageRecord rec;
    rec.name = platform_.link(models::Hop{t.link, t.up})->get_name();
    rec.tier = tier_name(fl.tier);
    rec.bandwidth = fl.bandwidth;
    rec.bytes = t.bytes;
    rec.mean_util = end > 0 ? t.bytes / (end * fl.bandwidth) : 0;
    rec.peak_util = t.peak_util;
    rec.util = links_->series_of(t.link, t.up);
    busiest.push_back(std::move(rec));
  }
  writer_.set_busiest_links(std::move(busiest));
  if (power_->enabled()) {
    rack_power_.hall = power_->rack_halls();
    writer_.set_rack_power(std::move(rack_power_));
  }
  report.perf = perf_notes_;
  report.fingerprint = writer_.fingerprint();
  writer_.finish(report.summary);
  return report;
}

RunReport run_simulation(const Scenario& scenario, const RunOptions& options) {
  // SimGrid reads its configuration from argv; the engine is created once per process.
  std::vector<std::string> args{"aifsim", "--log=root.thresh:warning"};
  for (const std::string& a : simgrid_config_args()) args.push_back(a);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  int argc = static_cast<int>(argv.size());
  auto engine = std::make_unique<simgrid::s4u::Engine>(&argc, argv.data());
  auto run = std::make_unique<Run>(scenario, options);
  RunReport report = run->execute();
  // Actors still alive (a stopped run; training jobs cut at the horizon, or waiting out a restart past it) hold locks
  // and wait on the run's condition variables. They go first, killed from the maestro while the run and the hosts
  // they stand on still exist: SimGrid 3.32's engine destructor frees the hosts before it kills what is left, and an
  // engine left to the process exit is torn down by an atexit handler after the static timer heap it reads has
  // been destroyed (the segmentation fault every stopped run ended with). The run's results are written by now:
  // its pending timers are dropped unrun, so that letting the dying actors unwind fires nothing into the run.
  if (engine->get_actor_count() > 0) {
    auto& timers = simgrid::kernel::timer::kernel_timers();
    while (!timers.empty()) timers.top().second->remove();
    simgrid::s4u::Actor::kill_all();
    engine->run_until(simgrid::s4u::Engine::get_clock());  // the killed actors unwind; the clock does not move
    if (engine->get_actor_count() > 0)
      throw std::logic_error("run_simulation: " + std::to_string(engine->get_actor_count()) +
                             " actors survived the teardown");
  }
  run.reset();
  engine.reset();
  return report;
}

}  // namespace aif::sim
