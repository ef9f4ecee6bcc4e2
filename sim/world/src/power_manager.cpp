#include "power_manager.hpp"

#include <simgrid/kernel/Timer.hpp>
#include <simgrid/s4u/Engine.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <stdexcept>

#include "aif/analysis/stats.hpp"
#include "aif/inputs/signals.hpp"

namespace aif::sim {

namespace {

using simgrid::kernel::timer::Timer;

std::string printf_text(const char* format, double a, double b = 0, double c = 0, double d = 0) {
  char buf[256];
  std::snprintf(buf, sizeof buf, format, a, b, c, d);
  return buf;
}

models::TimeSeries load_signal(const SignalConfig& s, double fallback) {
  if (!s.present) return models::TimeSeries::constant(fallback);
  if (s.path.empty()) return models::TimeSeries::constant(s.constant * s.scale);
  SignalCsvOptions options;
  options.outside = s.repeat ? models::Extrapolation::REPEAT : models::Extrapolation::HOLD;
  options.scale = s.scale;
  return read_signal_csv(s.path, s.column, options);
}

double median_of(const models::TimeSeries& s) {
  std::vector<double> v;
  for (const auto& p : s.points()) v.push_back(p.value);
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

models::BatteryParams battery_params(const BatteryConfig& b) {
  models::BatteryParams p;
  p.capacity_j = b.capacity_j;
  p.max_charge_w = b.max_charge_w;
  p.max_discharge_w = b.max_discharge_w;
  p.charge_efficiency = b.charge_efficiency;
  p.discharge_efficiency = b.discharge_efficiency;
  p.soc_min = b.soc_min;
  p.soc_max = b.soc_max;
  p.initial_soc = b.initial_soc;
  return p;
}

}  // namespace

PowerManager::PowerManager(const Scenario& scenario, std::vector<PowerConsumer> consumers,
                           std::vector<double> static_rack_w, models::GpuPowerModel gpu_power,
                           std::function<void(const analysis::EventRecord&)> event, uint64_t* events)
    : sc_(scenario),
      consumers_(std::move(consumers)),
      static_rack_w_(std::move(static_rack_w)),
      gpu_power_(std::move(gpu_power)),
      event_(std::move(event)),
      events_(events) {
  for (const PowerConsumer& k : consumers_)
    if (!k.power_at_clock) throw std::logic_error("power consumer " + k.name + " has no power_at_clock");
  const FacilityPowerConfig& f = sc_.facility_power;
  const GridConfig& g = sc_.grid;
  const PoliciesConfig& p = sc_.policies;
  chain_enabled_ = f.enabled;
  enabled_ = f.enabled || g.present || p.power_capping.enabled || !p.demand_response.empty() ||
             p.carbon_aware.enabled || p.peak_shaving.enabled;
  interval_s_ = p.control_interval_s > 0 ? p.control_interval_s : 1;
  if (chain_enabled_) facility_model_ = std::make_unique<models::FacilityPowerModel>(facility_power_params(sc_.facility, sc_.device, sc_.facility_power));
  outdoor_c_ = load_signal(f.outdoor_temperature_c, 20);
  carbon_ = load_signal(g.carbon_g_per_kwh, 0);
  price_ = load_signal(g.price_per_kwh, 0);
  solar_profile_ = load_signal(g.solar.profile, 0);
  if (g.battery.present) battery_ = std::make_unique<models::Battery>(battery_params(g.battery));
  // Capping order: training first (when asked), then the lowest priority; ties by name, for determinism.
  cap_order_.resize(consumers_.size());
  std::iota(cap_order_.begin(), cap_order_.end(), 0);
  const bool training_first = p.power_capping.order == CapOrder::TRAINING_FIRST;
  std::stable_sort(cap_order_.begin(), cap_order_.end(), [&](size_t a, size_t b) {
    const PowerConsumer& x = consumers_[a];
    const PowerConsumer& y = consumers_[b];
    if (training_first && x.training != y.training) return x.training;
    if (x.priority != y.priority) return x.priority < y.priority;
    return x.name < y.name;
  });
  rack_peak_w_.assign(static_rack_w_.size(), 0);
  const int per_hall = f.racks_per_hall > 0 ? f.racks_per_hall : 0;
  halls_ = per_hall > 0 ? (static_cast<int>(static_rack_w_.size()) + per_hall - 1) / per_hall : 0;
  for (const PowerConsumer& k : consumers_) groups_[k.group];
  deferred_.assign(consumers_.size(), false);
  set_power_w_.assign(consumers_.size(), -1);
  if (p.carbon_aware.enabled) {
    const models::TimeSeries& s = p.carbon_aware.signal == CarbonAwareConfig::Signal::CARBON ? carbon_ : price_;
    carbon_threshold_ = p.carbon_aware.threshold > 0 ? p.carbon_aware.threshold : median_of(s);
  }
}

void PowerManager::set_rack_input(std::function<double(double)> rack_input_w, int gpus_per_rack) {
  rack_input_w_ = std::move(rack_input_w);
  gpus_per_rack_ = gpus_per_rack;
}

void PowerManager::start() {
  if (!enabled_) return;
  // Deferral decided before any job takes its first step (the timer at 0 may run after the jobs' actors).
  apply_carbon_aware(0.0);
  Timer::set(0.0, [this] { tick(); });
}

PowerManager::Chain PowerManager::measure(double now) const {
  Chain c;
  c.rack_w = static_rack_w_;
  for (size_t i = 0; i < consumers_.size(); ++i) {
    const PowerConsumer& k = consumers_[i];
    const double w = set_power_w_[i] >= 0 ? set_power_w_[i] : k.power_w(now);
    c.consumer_w.push_back(w);
    for (const auto& [rack, gpus] : k.rack_gpus) c.rack_w[static_cast<size_t>(rack)] += w * gpus / k.gpus;
  }
  if (rack_input_w_) {
    c.rack_extra_w.resize(c.rack_w.size());
    for (size_t r = 0; r < c.rack_w.size(); ++r) {
      const double gpu_w = c.rack_w[r];
      c.rack_w[r] = rack_input_w_(gpu_w);
      c.rack_extra_w[r] = c.rack_w[r] - gpu_w;
    }
  }
  c.it_w = std::accumulate(c.rack_w.begin(), c.rack_w.end(), 0.0);
  if (chain_enabled_) {
    c.facility = facility_model_->facility_power(c.it_w, outdoor_c_.at(now));
  } else {
    c.facility = models::FacilityPower{};
    c.facility.it_w = c.it_w;
    c.facility.facility_w = c.it_w * sc_.facility.pue;
    c.facility.cooling_w = c.facility.facility_w - c.it_w;
    c.facility.pue = sc_.facility.pue;
  }
  c.solar_w = sc_.grid.solar.present ? sc_.grid.solar.installed_w * solar_profile_.at(now) : 0;
  c.grid_w = c.facility.facility_w - c.solar_w;
  return c;
}

// What the battery policy asks for: + discharge (W to the site), - charge.
double PowerManager::battery_request(const Chain& c) const {
  const PeakShavingConfig& ps = sc_.policies.peak_shaving;
  if (!battery_ || !ps.enabled) return 0;
  const double draw = c.facility.facility_w - c.solar_w;  // grid draw without the battery
  if (ps.smooth_training_swings && smooth_w_ >= 0) return draw - smooth_w_;  // follow the moving average
  if (draw > ps.threshold_w) return draw - ps.threshold_w;
  const double recharge = ps.recharge_below_w > 0 ? ps.recharge_below_w : ps.threshold_w;
  if (draw < recharge) return -(recharge - draw);
  return 0;
}

void PowerManager::tick() {
  if (events_) ++*events_;
  const double now = simgrid::s4u::Engine::get_clock();
  std::fill(set_power_w_.begin(), set_power_w_.end(), -1.0);
  Chain c = measure(now);
  if (effect_before_w_ >= 0) {
    log(now, "power_effect", "site",
        effect_what_ + printf_text(": grid draw %.4g MW before, %.4g MW one control interval later",
                                   effect_before_w_ / 1e6, c.grid_w / 1e6));
    effect_before_w_ = -1;
  }
  apply_demand_response(c, now);
  apply_carbon_aware(now);
  // What the battery will cover at this instant (peak shaving) is not capped away: capping starts when it runs out.
  double battery_plan_w = 0;
  if (battery_) {
    const double request = battery_request(c);
    if (request > 0) battery_plan_w = std::min(battery_->site_power_w(request), battery_->deliverable_j() / interval_s_);
  }
  apply_capping(c, now, battery_plan_w);
  c = measure(now);  // GPU power follows a new cap at once (the firmware enforces it within milliseconds)
  if (battery_) {
    const double request = battery_request(c);
    c.battery_w = battery_->apply(request, interval_s_);
    c.grid_w -= c.battery_w;
  }
  const double alpha = 1 - std::exp(-interval_s_ / 300.0);  // 5-minute moving average for swing smoothing
  smooth_w_ = smooth_w_ < 0 ? c.facility.facility_w - c.solar_w
                            : smooth_w_ + alpha * (c.facility.facility_w - c.solar_w - smooth_w_);
  // The last instant (no next one) closes the books: it covers no time.
  const bool more = !keep_going_ || keep_going_(now + interval_s_);
  if (!closed_) books_at_last_ = books();
  integrate(c, now, more ? interval_s_ : 0.0);
  last_ = c;
  last_time_ = now;
  have_last_ = true;
  if (after_tick_) after_tick_(now);
  if (more) Timer::set(now + interval_s_, [this] { tick(); });
}

void PowerManager::integrate(const Chain& c, double now, double dt) {
  // Demand response judges each event by its own accumulators: they go on after the window has closed.
  if (dr_active_ >= 0) {
    dr_energy_j_ += c.grid_w * dt;
    dr_time_s_ += dt;
  }
  if (closed_) return;
  add_to_books(c, now, dt);
  peak_grid_w_ = std::max(peak_grid_w_, c.grid_w);
  grid_samples_.push_back(c.grid_w);
  for (size_t r = 0; r < c.rack_w.size(); ++r) rack_peak_w_[r] = std::max(rack_peak_w_[r], c.rack_w[r]);
}

void PowerManager::add_to_books(const Chain& c, double now, double dt) {
  it_j_ += c.it_w * dt;
  facility_j_ += c.facility.facility_w * dt;
  cooling_j_ += c.facility.cooling_w * dt;
  losses_j_ += (c.facility.pdu_loss_w + c.facility.ups_loss_w) * dt;
  grid_j_ += c.grid_w * dt;
  solar_j_ += c.solar_w * dt;
  if (c.battery_w > 0) battery_out_j_ += c.battery_w * dt;
  if (c.battery_w < 0) battery_in_j_ -= c.battery_w * dt;
  // Power constant over [now, now + dt] times the signal's exact integral there.
  carbon_g_ += std::max(0.0, c.grid_w) / 3.6e6 * carbon_.integral(now, now + dt);
  cost_ += std::max(0.0, c.grid_w) / 3.6e6 * price_.integral(now, now + dt);
  const double limit = sc_.grid.connection_limit_w;
  if (limit > 0 && c.grid_w >= limit * (1 - 2 * sc_.policies.power_capping.headroom_fraction)) at_limit_s_ += dt;
  bool capped = false;
  for (const PowerConsumer& k : consumers_) capped |= k.clock() < 1;
  if (capped) capped_s_ += dt;
  total_s_ += dt;
  // Grid power attributed to each consumer's group in proportion to its IT power (GPUs + its servers' overhead).
  if (c.it_w > 0 && dt > 0) {
    const double carbon_kwh = carbon_.integral(now, now + dt) / 3.6e6;
    const double price_kwh = price_.integral(now, now + dt) / 3.6e6;
    const double grid = std::max(0.0, c.grid_w);
    for (size_t i = 0; i < consumers_.size(); ++i) {
      double overhead_w = consumers_[i].overhead_w;
      if (rack_input_w_)
        for (const auto& [rack, gpus] : consumers_[i].rack_gpus)
          overhead_w += c.rack_extra_w[static_cast<size_t>(rack)] * gpus / gpus_per_rack_;
      const double share = (c.consumer_w[i] + overhead_w) / c.it_w;
      GroupTotals& g = groups_[consumers_[i].group];
      g.grid_j += c.grid_w * share * dt;
      g.carbon_g += grid * share * carbon_kwh;
      g.cost += grid * share * price_kwh;
      const double active = std::max(0.0, c.consumer_w[i] - gpu_power_.idle_w() * consumers_[i].gpus) / c.it_w;
      g.active_grid_j += c.grid_w * active * dt;
      g.active_carbon_g += grid * active * carbon_kwh;
    }
  }
}

PowerManager::Books PowerManager::books() const {
  return Books{it_j_,    facility_j_, grid_j_,     solar_j_,   battery_out_j_, battery_in_j_, carbon_g_,
               cost_,    cooling_j_,  losses_j_,   at_limit_s_, capped_s_,     total_s_,      groups_};
}

void PowerManager::set_books(const Books& b) {
  it_j_ = b.it_j;
  facility_j_ = b.facility_j;
  grid_j_ = b.grid_j;
  solar_j_ = b.solar_j;
  battery_out_j_ = b.battery_out_j;
  battery_in_j_ = b.battery_in_j;
  carbon_g_ = b.carbon_g;
  cost_ = b.cost;
  cooling_j_ = b.cooling_j;
  losses_j_ = b.losses_j;
  at_limit_s_ = b.at_limit_s;
  capped_s_ = b.capped_s;
  total_s_ = b.total_s;
  groups_ = b.groups;
}

void PowerManager::close_window(double end) {
  if (!enabled_ || closed_) return;
  closed_ = true;
  if (!have_last_) return;
  // Undo the last instant's interval and count its power from that instant to the end of the window instead.
  set_books(books_at_last_);
  add_to_books(last_, last_time_, std::max(0.0, end - last_time_));
}

// Power of consumer k at clock f: the GPU power model over its work in flight (PowerConsumer::power_at_clock), and
// the highest clock at which it fits a target.
void PowerManager::apply_capping(const Chain& c, double now, double battery_w) {
  const PowerCappingConfig& pc = sc_.policies.power_capping;
  if (!pc.enabled) return;
  auto power_at = [&](const PowerConsumer& k, double f) { return k.power_at_clock(now, f); };
  auto clock_for = [&](const PowerConsumer& k, double p_target) {
    return models::highest_clock_within(p_target, pc.min_clock_fraction, [&](double f) { return power_at(k, f); });
  };
  // Site limit: the connection, or a demand-response target when capping is one of its methods.
  double limit = grid_limit_now();
  if (std::isnan(limit)) limit = sc_.grid.connection_limit_w;
  // IT watts per grid watt at the margin: the chain's slope (PUE-like), so that a cut in IT power is sized right.
  const double slope = c.it_w > 0 ? std::max(1.0, c.facility.facility_w / c.it_w) : 1.0;
  std::string actions;
  auto reduce = [&](double need_it_w, const std::function<bool(const PowerConsumer&)>& eligible, const std::string& why) {
    for (size_t i : cap_order_) {
      if (need_it_w <= 0) break;
      PowerConsumer& k = consumers_[i];
      if (!eligible(k) || k.clock() <= pc.min_clock_fraction + 1e-12) continue;
      const double p_now = k.power_w(now);
      const double floor_w = power_at(k, pc.min_clock_fraction);
      if (p_now - floor_w <= 0) continue;
      const double f = p_now - floor_w <= need_it_w ? pc.min_clock_fraction : clock_for(k, p_now - need_it_w);
      if (f >= k.clock() - 1e-9) continue;
      const double saved = p_now - power_at(k, f);
      set_power_w_[i] = p_now - saved;
      actions += (actions.empty() ? "" : "; ") + k.name +
                 printf_text(" clock %.2f -> %.2f (-%.1f kW)", k.clock(), f, saved / 1e3);
      k.set_clock(f);
      need_it_w -= saved;
      ++cap_actions_;
    }
    if (!actions.empty()) {
      last_cap_s_ = now;
      log(now, "power_cap", "site", why + ": " + actions);
      effect_before_w_ = c.grid_w;
      effect_what_ = "power_cap";
    }
    return need_it_w;
  };
  const double headroom = pc.headroom_fraction;
  if (const double draw = c.grid_w - battery_w; limit > 0 && draw > limit * (1 - headroom / 2)) {
    const double need = (draw - limit * (1 - headroom)) / slope;
    reduce(
        need, [](const PowerConsumer&) { return true; },
        printf_text("grid draw %.4g MW", draw / 1e6) +
            (battery_w > 0 ? printf_text(" (after %.4g MW from the battery)", battery_w / 1e6) : std::string()) +
            printf_text(" above %.4g MW (limit x (1 - headroom))", limit * (1 - headroom) / 1e6));
    return;
  }
  // Rack limits: only the consumers on the rack that is over.
  const double rack_limit = sc_.facility_power.rack_power_limit_w;
  if (rack_limit > 0) {
    bool any_over = false;
    for (size_t r = 0; r < c.rack_w.size(); ++r) {
      if (c.rack_w[r] <= rack_limit * (1 - headroom / 2)) continue;
      any_over = true;
      const int rack = static_cast<int>(r);
      actions.clear();
      reduce(
          c.rack_w[r] - rack_limit * (1 - headroom),
          [rack](const PowerConsumer& k) {
            for (const auto& [rk, g] : k.rack_gpus)
              if (rk == rack) return true;
            return false;
          },
          printf_text("rack %.0f draws %.4g kW, above %.4g kW", static_cast<double>(r), c.rack_w[r] / 1e3,
                      rack_limit * (1 - headroom) / 1e3));
    }
    if (any_over) return;  // every rack over its limit cut at this instant; raising waits for the next ones
  }
  // Room to give back: raise clocks in the reverse order, as far as the margin allows.
  if (limit <= 0 && rack_limit <= 0) return;
  if (now - last_cap_s_ < 10 * interval_s_) return;  // hysteresis in time: no cut-raise-cut at every instant
  double room_it_w = limit > 0 ? (limit * (1 - 2 * headroom) - c.grid_w) / slope : 1e300;
  if (room_it_w <= 0) return;
  // Each rack's own room under its limit: a raise spreads over the racks a consumer spans by its GPUs there.
  std::vector<double> rack_room(c.rack_w.size(), 1e300);
  if (rack_limit > 0)
    for (size_t r = 0; r < c.rack_w.size(); ++r) rack_room[r] = rack_limit * (1 - 2 * headroom) - c.rack_w[r];
  std::string raised;
  for (auto it = cap_order_.rbegin(); it != cap_order_.rend() && room_it_w > 0; ++it) {
    PowerConsumer& k = consumers_[*it];
    if (k.clock() >= 1) continue;
    double room_k = room_it_w;
    for (const auto& [rk, g] : k.rack_gpus)
      room_k = std::min(room_k, rack_room[static_cast<size_t>(rk)] * k.gpus / g);
    if (room_k <= 0) continue;
    // Raise only as far as the worst case allows (every GPU of it busy and compute-bound at the new clock): a
    // consumer idle at this instant would otherwise be uncapped in full and overshoot at its next step.
    auto worst_added = [&](double f) {
      return k.gpus * (gpu_power_.compute_bound_w(f) - gpu_power_.compute_bound_w(k.clock()));
    };
    double f = 1.0;
    if (worst_added(1.0) > room_k) {
      double lo = k.clock(), hi = 1.0;  // worst_added(lo) = 0 <= room < worst_added(hi)
      for (int step = 0; step < 40; ++step) {
        const double mid = (lo + hi) / 2;
        (worst_added(mid) <= room_k ? lo : hi) = mid;
      }
      f = lo;
    }
    if (f <= k.clock() + 1e-3) continue;
    const double added = worst_added(f);
    set_power_w_[*it] = power_at(k, f);
    raised += (raised.empty() ? "" : "; ") + k.name +
              printf_text(" clock %.2f -> %.2f (+%.1f kW)", k.clock(), f, added / 1e3);
    k.set_clock(f);
    room_it_w -= added;
    for (const auto& [rk, g] : k.rack_gpus) rack_room[static_cast<size_t>(rk)] -= added * g / k.gpus;
    ++cap_actions_;
  }
  if (!raised.empty()) {
    log(now, "power_uncap", "site", printf_text("grid draw %.4g MW leaves room: ", c.grid_w / 1e6) + raised);
    effect_before_w_ = c.grid_w;
    effect_what_ = "power_uncap";
  }
}

void PowerManager::apply_demand_response(const Chain& c, double now) {
  const auto& events = sc_.policies.demand_response;
  if (dr_active_ >= 0) {
    const DemandResponseEvent& e = events[static_cast<size_t>(dr_active_)];
    if (now < e.start_s + e.duration_s) return;
    // The window is over: was the mean draw at or under the target?
    const double mean = dr_time_s_ > 0 ? dr_energy_j_ / dr_time_s_ : c.grid_w;
    const bool met = mean <= dr_target_w_ * (1 + 1e-3);
    ++dr_events_;
    if (met) ++dr_met_;
    log(now, "demand_response_end", "site",
        printf_text("target %.4g MW; mean grid draw over the window %.4g MW: ", dr_target_w_ / 1e6, mean / 1e6) +
            (met ? "met" : "missed"));
    if (paused_for_dr_)
      for (PowerConsumer& k : consumers_)
        if (k.resume) k.resume();
    paused_for_dr_ = false;
    dr_active_ = -1;
  }
  for (size_t i = 0; i < events.size(); ++i) {
    const DemandResponseEvent& e = events[i];
    if (now < e.start_s || now >= e.start_s + e.duration_s) continue;
    dr_active_ = static_cast<int>(i);
    dr_target_w_ = std::max(0.0, c.grid_w - e.shed_w);
    dr_energy_j_ = dr_time_s_ = 0;
    std::string how;
    for (const std::string& m : e.methods) {
      if (m == "pause_training") {
        for (PowerConsumer& k : consumers_)
          if (k.pause) {
            k.pause();
            paused_for_dr_ = true;
          }
      }
      how += (how.empty() ? "" : ", ") + m;
    }
    log(now, "demand_response_start", "site",
        printf_text("shed %.4g MW for %.0f s: grid draw %.4g MW -> target %.4g MW", e.shed_w / 1e6, e.duration_s,
                    c.grid_w / 1e6, dr_target_w_ / 1e6) +
            " by " + how);
    effect_before_w_ = c.grid_w;
    effect_what_ = "demand_response_start";
    break;
  }
}

// Deferrable jobs run while the signal is at or under the threshold; above it they pause after their current step
// (with a checkpoint), unless pausing any longer would miss their deadline.
void PowerManager::apply_carbon_aware(double now) {
  const CarbonAwareConfig& ca = sc_.policies.carbon_aware;
  if (!ca.enabled) return;
  const models::TimeSeries& s = ca.signal == CarbonAwareConfig::Signal::CARBON ? carbon_ : price_;
  const double value = s.at(now);
  const char* what = ca.signal == CarbonAwareConfig::Signal::CARBON ? "carbon intensity" : "price";
  for (size_t i = 0; i < consumers_.size(); ++i) {
    PowerConsumer& k = consumers_[i];
    if (!k.deferrable || !k.pause || now < k.start_s || (k.done && k.done())) continue;
    const double slack = k.deadline_s - (now + (k.remaining_s ? k.remaining_s() : 0));
    const bool want_pause = value > carbon_threshold_ && slack > interval_s_ && dr_active_ < 0;
    if (want_pause && !deferred_[i]) {
      k.pause();
      deferred_[i] = true;
      log(now, "carbon_defer", k.name,
          std::string(what) + printf_text(" %.4g above the threshold %.4g; %.0f s of slack before the deadline", value,
                                          carbon_threshold_, slack));
    } else if (!want_pause && deferred_[i]) {
      k.resume();
      deferred_[i] = false;
      log(now, "carbon_resume", k.name,
          std::string(what) +
              printf_text(" %.4g (threshold %.4g); %.0f s of slack left", value, carbon_threshold_, slack));
    }
  }
}

bool PowerManager::hold_deferrable(double now) const {
  if (dr_active_ >= 0) {
    const auto& m = sc_.policies.demand_response[static_cast<size_t>(dr_active_)].methods;
    if (std::find(m.begin(), m.end(), "defer_batch") != m.end()) return true;
  }
  const CarbonAwareConfig& ca = sc_.policies.carbon_aware;
  if (!ca.enabled) return false;
  const models::TimeSeries& s = ca.signal == CarbonAwareConfig::Signal::CARBON ? carbon_ : price_;
  return s.at(now) > carbon_threshold_;
}

std::vector<analysis::SeriesSpec> PowerManager::series() const {
  if (!enabled_) return {};
  std::vector<analysis::SeriesSpec> out{{"rack_power_max", "W", "IT power of the most loaded rack"},
          {"it_power_chain", "W", "IT power seen by the power manager at its last control instant"},
          {"facility_power_chain", "W", "IT power plus UPS and distribution losses plus cooling"},
          {"pue", "1", "facility power / IT power"},
          {"solar_power", "W", "on-site solar production"},
          {"battery_power", "W", "battery to the site (+ discharging, - charging)"},
          {"battery_soc", "1", "battery state of charge (fraction of capacity)"},
          {"grid_draw", "W", "facility power - solar - battery"},
          {"carbon_intensity", "gCO2/kWh", "grid carbon intensity"},
          {"price", "1/kWh", "electricity price (scenario currency per kWh)"},
          {"outdoor_temperature", "degC", "outdoor temperature (cooling)"},
          {"min_clock_fraction", "1", "lowest GPU clock any consumer runs at"},
          {"grid_limit", "W", "grid limit in force: grid.connection_limit, lowered by an active demand-response cap "
                              "(NaN when there is none)"}};
  for (int h = 0; h < halls_; ++h)
    out.push_back({"hall_power_" + std::to_string(h), "W", "IT power of hall " + std::to_string(h)});
  return out;
}

// The limit apply_capping() holds the site to: the connection, or a demand-response target with the "cap" method.
double PowerManager::grid_limit_now() const {
  double limit = sc_.grid.connection_limit_w;
  if (dr_active_ >= 0) {
    const auto& m = sc_.policies.demand_response[static_cast<size_t>(dr_active_)].methods;
    if (std::find(m.begin(), m.end(), "cap") != m.end()) limit = limit > 0 ? std::min(limit, dr_target_w_) : dr_target_w_;
  }
  return limit > 0 ? limit : std::nan("");
}

std::vector<int32_t> PowerManager::rack_halls() const {
  const int per_hall = sc_.facility_power.racks_per_hall;
  std::vector<int32_t> halls(static_rack_w_.size(), 0);
  if (per_hall > 0)
    for (size_t r = 0; r < halls.size(); ++r) halls[r] = static_cast<int32_t>(r / static_cast<size_t>(per_hall));
  return halls;
}

std::vector<double> PowerManager::sample(double now) const {
  if (!enabled_) return {};
  double min_clock = 1;
  for (const PowerConsumer& k : consumers_) min_clock = std::min(min_clock, k.clock());
  const Chain& c = last_;
  const double rack_max = c.rack_w.empty() ? 0 : *std::max_element(c.rack_w.begin(), c.rack_w.end());
  std::vector<double> out{rack_max,
                          c.it_w,
                          c.facility.facility_w,
                          c.facility.pue,
                          c.solar_w,
                          c.battery_w,
                          battery_ ? battery_->soc() : std::nan(""),
                          c.grid_w,
                          carbon_.at(now),
                          price_.at(now),
                          outdoor_c_.at(now),
                          min_clock,
                          grid_limit_now()};
  std::vector<double> hall_w(static_cast<size_t>(halls_), 0.0);
  const std::vector<int32_t> halls = halls_ > 0 ? rack_halls() : std::vector<int32_t>{};
  for (size_t r = 0; r < halls.size() && r < c.rack_w.size(); ++r) hall_w[static_cast<size_t>(halls[r])] += c.rack_w[r];
  out.insert(out.end(), hall_w.begin(), hall_w.end());
  return out;
}

std::vector<analysis::SummaryEntry> PowerManager::summary(double end, double output_tokens,
                                                          const std::map<std::string, double>& tokens_by_group) const {
  std::vector<analysis::SummaryEntry> out;
  if (!enabled_) return out;
  (void)end;
  auto add = [&](const std::string& name, double value, const std::string& unit) { out.push_back({name, value, unit}); };
  const double joules_per_kwh = 3.6e6;
  add("power.it_energy", it_j_ / joules_per_kwh, "kWh");
  add("power.facility_energy", facility_j_ / joules_per_kwh, "kWh");
  add("power.cooling_energy", cooling_j_ / joules_per_kwh, "kWh");
  add("power.conversion_losses", losses_j_ / joules_per_kwh, "kWh");
  add("power.mean_pue", it_j_ > 0 ? facility_j_ / it_j_ : std::nan(""), "1");
  add("power.solar_energy", solar_j_ / joules_per_kwh, "kWh");
  add("power.battery_discharged", battery_out_j_ / joules_per_kwh, "kWh");
  add("power.battery_charged", battery_in_j_ / joules_per_kwh, "kWh");
  add("power.grid_energy", grid_j_ / joules_per_kwh, "kWh");
  add("power.peak_grid_draw", peak_grid_w_ / 1e6, "MW");
  add("power.p95_grid_draw", analysis::percentile(grid_samples_, 95) / 1e6, "MW");
  add("power.hours_at_limit", at_limit_s_ / 3600, "h");
  add("power.hours_capped", capped_s_ / 3600, "h");
  add("power.carbon", carbon_g_ / 1e3, "kgCO2");
  add("power.cost", cost_, sc_.grid.currency);
  add("power.carbon_per_output_token", output_tokens > 0 ? carbon_g_ / output_tokens : std::nan(""), "gCO2/token");
  add("power.grid_energy_per_output_token", output_tokens > 0 ? grid_j_ / output_tokens : std::nan(""), "J/token");
  add("power.cap_actions", cap_actions_, "1");
  add("power.rack_peak_max", rack_peak_w_.empty() ? 0 : *std::max_element(rack_peak_w_.begin(), rack_peak_w_.end()) / 1e3,
      "kW");
  add("power.demand_response_events", dr_events_, "1");
  add("power.demand_response_met", dr_met_, "1");
  for (const auto& [group, g] : groups_) {
    const std::string n = group + ".";
    add(n + "grid_energy", g.grid_j / joules_per_kwh, "kWh");
    add(n + "carbon", g.carbon_g / 1e3, "kgCO2");
    add(n + "energy_cost", g.cost, sc_.grid.currency);
    add(n + "active_grid_energy", g.active_grid_j / joules_per_kwh, "kWh");
    add(n + "active_carbon", g.active_carbon_g / 1e3, "kgCO2");
    add(n + "active_carbon_intensity",
        g.active_grid_j > 0 ? g.active_carbon_g / (g.active_grid_j / joules_per_kwh) : std::nan(""), "gCO2/kWh");
    if (const auto it = tokens_by_group.find(group); it != tokens_by_group.end()) {
      add(n + "grid_energy_per_output_token", it->second > 0 ? g.grid_j / it->second : std::nan(""), "J/token");
      add(n + "carbon_per_output_token", it->second > 0 ? g.carbon_g / it->second : std::nan(""), "gCO2/token");
    }
  }
  return out;
}

void PowerManager::log(double now, const std::string& kind, const std::string& target, const std::string& detail) const {
  if (event_) event_({now, kind, target, detail});
}

}  // namespace aif::sim
