#include "aif/models/facility_power.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

#include "param_check.hpp"

namespace aif::models {

namespace {

using detail::INF;
using detail::number;
using detail::require;

}  // namespace

// ---- GPU -----------------------------------------------------------------------------------------------------------

namespace {

void check_dvfs(const DvfsParams& d) {
  require("DvfsParams.exponent", d.exponent, 0, INF, true, true, "a finite number > 0");
  require("DvfsParams.min_clock_fraction", d.min_clock_fraction, 0, 1, true, false, "a fraction in (0, 1]");
}

}  // namespace

double gpu_power_at_clock(const GpuPowerParams& p, double compute_share, double clock_fraction,
                          const DvfsParams& dvfs) {
  check_dvfs(dvfs);
  require("gpu_power_at_clock: compute_share", compute_share, 0, 1, false, false, "a share in [0, 1]");
  require("gpu_power_at_clock: clock_fraction", clock_fraction, 0, 1, true, false, "a fraction in (0, 1]");
  const double busy = gpu_busy_power(p, compute_share);
  return p.idle_w + (busy - p.idle_w) * std::pow(clock_fraction, dvfs.exponent);
}

double clock_for_power_cap(const GpuPowerParams& p, double compute_share, double cap_w, const DvfsParams& dvfs) {
  check_dvfs(dvfs);
  require("clock_for_power_cap: compute_share", compute_share, 0, 1, false, false, "a share in [0, 1]");
  require("clock_for_power_cap: cap_w", cap_w, 0, INF, false, true, "a finite power >= 0 W");
  const double busy = gpu_busy_power(p, compute_share);
  if (cap_w >= busy) return 1.0;
  const double dynamic = busy - p.idle_w;
  const double x = dynamic > 0 ? (cap_w - p.idle_w) / dynamic : 0.0;
  if (x <= 0) return dvfs.min_clock_fraction;
  return std::max(dvfs.min_clock_fraction, std::pow(x, 1.0 / dvfs.exponent));
}

// ---- UPS and cooling -----------------------------------------------------------------------------------------------

double ups_loss_w(const UpsParams& ups, double load_w) {
  require("UpsParams.rated_w", ups.rated_w, 0, INF, true, true, "a finite rating > 0 W");
  require("ups_loss_w: load_w", load_w, 0, INF, false, true, "a finite load >= 0 W");
  const double r = ups.rated_w;
  const double x = load_w / r;
  return ups.no_load_fraction * r + ups.proportional_fraction * load_w + ups.square_fraction * r * x * x;
}

double cooling_w_per_it_w(const CoolingParams& c, double outdoor_c) {
  require("cooling_w_per_it_w: outdoor_c", outdoor_c, -INF, INF, true, true, "a finite temperature");
  const double above = std::max(0.0, outdoor_c - c.free_cooling_below_c);
  return std::min(c.max_w_per_it_w, c.free_w_per_it_w + c.w_per_it_w_per_degree * above);
}

namespace {

void check_facility(const FacilityPowerParams& p) {
  require("FacilityPowerParams.design_it_w", p.design_it_w, 0, INF, true, true, "a finite power > 0 W");
  require("FacilityPowerParams.pdu_loss_fraction", p.pdu_loss_fraction, 0, 0.5, false, true, "a fraction in [0, 0.5)");
  require("UpsParams.rated_w", p.ups.rated_w, 0, INF, false, true, "a finite rating >= 0 W (0 = sized to the design)");
  require("UpsParams.no_load_fraction", p.ups.no_load_fraction, 0, 0.5, false, true, "a fraction in [0, 0.5)");
  require("UpsParams.proportional_fraction", p.ups.proportional_fraction, 0, 0.5, false, true,
          "a fraction in [0, 0.5)");
  require("UpsParams.square_fraction", p.ups.square_fraction, 0, 0.5, false, true, "a fraction in [0, 0.5)");
  const CoolingParams& c = p.cooling;
  require("CoolingParams.free_cooling_below_c", c.free_cooling_below_c, -100, 100, false, false,
          "a temperature between -100 and 100 C");
  require("CoolingParams.free_w_per_it_w", c.free_w_per_it_w, 0, 5, false, false, "a ratio in [0, 5]");
  require("CoolingParams.w_per_it_w_per_degree", c.w_per_it_w_per_degree, 0, 1, false, false,
          "a ratio per degree in [0, 1]");
  require("CoolingParams.max_w_per_it_w", c.max_w_per_it_w, c.free_w_per_it_w, 5, false, false,
          "a ratio between free_w_per_it_w and 5");
  require("CoolingParams.fixed_fraction", c.fixed_fraction, 0, 1, false, false, "a fraction in [0, 1]");
  require("FacilityPowerParams.other_fraction", p.other_fraction, 0, 1, false, false, "a fraction in [0, 1]");
}

// The UPS with its rating filled in: (1 + f) P_d when not given.
UpsParams sized_ups(const FacilityPowerParams& p) {
  UpsParams ups = p.ups;
  if (ups.rated_w == 0) ups.rated_w = (1 + p.pdu_loss_fraction) * p.design_it_w;
  return ups;
}

}  // namespace

FacilityPowerModel::FacilityPowerModel(const FacilityPowerParams& params) : params_(params) {
  check_facility(params_);
  params_.ups = sized_ups(params_);
}

FacilityPower FacilityPowerModel::facility_power(double it_w, double outdoor_c) const {
  require("facility_power: it_w", it_w, 0, INF, false, true, "a finite power >= 0 W");
  const FacilityPowerParams& p = params_;
  FacilityPower out;
  out.it_w = it_w;
  out.pdu_loss_w = p.pdu_loss_fraction * it_w;
  const double ups_load = it_w + out.pdu_loss_w;
  out.ups_loss_w = ups_loss_w(p.ups, ups_load);
  out.cooling_w = p.cooling.fixed_fraction * p.design_it_w + cooling_w_per_it_w(p.cooling, outdoor_c) * it_w;
  out.other_w = p.other_fraction * p.design_it_w;
  out.facility_w = it_w + out.pdu_loss_w + out.ups_loss_w + out.cooling_w + out.other_w;
  out.pue = it_w > 0 ? out.facility_w / it_w : 0.0;
  out.it_load_fraction = it_w / p.design_it_w;
  out.ups_load_fraction = ups_load / p.ups.rated_w;
  return out;
}

double FacilityPowerModel::it_power_for_facility(double facility_w, double outdoor_c) const {
  require("it_power_for_facility: facility_w", facility_w, 0, INF, false, true, "a finite power >= 0 W");
  const FacilityPowerParams& p = params_;
  // facility(P) = A P^2 + B P + C0 with (f = PDU loss fraction, a, b, c the UPS terms, R its rating):
  //   A = c (1 + f)^2 / R,  B = (1 + f)(1 + b) + c(T),  C0 = a R + (k_fixed + k_other) P_d
  const double f = p.pdu_loss_fraction, r = p.ups.rated_w;
  const double a2 = p.ups.square_fraction * (1 + f) * (1 + f) / r;
  const double b1 = (1 + f) * (1 + p.ups.proportional_fraction) + cooling_w_per_it_w(p.cooling, outdoor_c);
  const double c0 = p.ups.no_load_fraction * r + (p.cooling.fixed_fraction + p.other_fraction) * p.design_it_w;
  const double budget = facility_w - c0;
  if (budget <= 0) return 0.0;
  // Positive root in the form without cancellation: 2 D / (B + sqrt(B^2 + 4 A D)), D = F - C0.
  return 2 * budget / (b1 + std::sqrt(b1 * b1 + 4 * a2 * budget));
}

double free_cooling_for_pue(const FacilityPowerParams& params, double pue) {
  check_facility(params);
  require("free_cooling_for_pue: pue", pue, 1, 10, false, false, "a PUE in [1, 10]");
  const FacilityPowerParams& p = params;
  const UpsParams ups = sized_ups(p);
  const double d = p.design_it_w;
  // At full load with free cooling: PUE = 1 + f + loss((1 + f) P_d) / P_d + k_fixed + c_free + k_other.
  const double without = 1 + p.pdu_loss_fraction + ups_loss_w(ups, (1 + p.pdu_loss_fraction) * d) / d +
                         p.cooling.fixed_fraction + p.other_fraction;
  const double c_free = pue - without;
  if (c_free < 0)
    throw std::invalid_argument("free_cooling_for_pue: PUE " + number(pue) +
                                " at full load is below what the electrical losses and fixed loads alone give (" +
                                number(without) + ")");
  if (c_free > p.cooling.max_w_per_it_w)
    throw std::invalid_argument(
        "free_cooling_for_pue: PUE " + number(pue) + " needs free cooling of " + number(c_free) +
        " W per IT W, above CoolingParams.max_w_per_it_w = " + number(p.cooling.max_w_per_it_w));
  return c_free;
}

// ---- solar ---------------------------------------------------------------------------------------------------------

SolarPlant::SolarPlant(double installed_w, TimeSeries profile)
    : installed_w_(installed_w), profile_(std::move(profile)) {
  require("SolarPlant: installed_w", installed_w, 0, INF, false, true, "a finite power >= 0 W");
  for (const TimeSeries::Point& x : profile_.points())
    if (!(x.value >= 0 && x.value <= 1))
      throw std::invalid_argument("SolarPlant: the profile is normalised output in [0, 1], but at t = " +
                                  number(x.time_s) + " s it is " + number(x.value));
}

// ---- battery -------------------------------------------------------------------------------------------------------

Battery::Battery(const BatteryParams& params) : params_(params) {
  const BatteryParams& p = params_;
  require("BatteryParams.capacity_j", p.capacity_j, 0, INF, true, true, "a finite energy > 0 J");
  require("BatteryParams.max_charge_w", p.max_charge_w, 0, INF, false, true, "a finite power >= 0 W");
  require("BatteryParams.max_discharge_w", p.max_discharge_w, 0, INF, false, true, "a finite power >= 0 W");
  require("BatteryParams.charge_efficiency", p.charge_efficiency, 0, 1, true, false, "an efficiency in (0, 1]");
  require("BatteryParams.discharge_efficiency", p.discharge_efficiency, 0, 1, true, false, "an efficiency in (0, 1]");
  require("BatteryParams.soc_min", p.soc_min, 0, 1, false, true, "a fraction in [0, 1)");
  require("BatteryParams.soc_max", p.soc_max, p.soc_min, 1, true, false, "a fraction in (soc_min, 1]");
  require("BatteryParams.initial_soc", p.initial_soc, p.soc_min, p.soc_max, false, false,
          "a fraction in [soc_min, soc_max]");
  min_j_ = p.soc_min * p.capacity_j;
  max_j_ = p.soc_max * p.capacity_j;
  stored_j_ = std::clamp(p.initial_soc * p.capacity_j, min_j_, max_j_);
}

double Battery::site_power_w(double requested_w) const {
  require("Battery: requested_w", requested_w, -INF, INF, true, true, "a finite power");
  if (requested_w > 0) return stored_j_ <= min_j_ ? 0.0 : std::min(requested_w, params_.max_discharge_w);
  if (requested_w < 0) return stored_j_ >= max_j_ ? 0.0 : std::max(requested_w, -params_.max_charge_w);
  return 0.0;
}

double Battery::time_to_limit(double requested_w) const {
  const double p = site_power_w(requested_w);
  if (p > 0) return deliverable_j() / p;
  if (p < 0) return absorbable_j() / -p;
  return INF;
}

double Battery::deliverable_j() const { return (stored_j_ - min_j_) * params_.discharge_efficiency; }

double Battery::absorbable_j() const { return (max_j_ - stored_j_) / params_.charge_efficiency; }

double Battery::apply(double requested_w, double dt_s) {
  require("Battery::apply: dt_s", dt_s, 0, INF, false, true, "a finite duration >= 0 s");
  const double p = site_power_w(requested_w);
  if (dt_s == 0 || p == 0) return p;
  const double limit_s = time_to_limit(requested_w);
  if (dt_s >= limit_s) {
    // The bound is reached within dt: land on it exactly (no rounding drift) and idle for the rest of dt.
    stored_j_ = p > 0 ? min_j_ : max_j_;
    return p * limit_s / dt_s;
  }
  if (p > 0)
    stored_j_ -= p * dt_s / params_.discharge_efficiency;
  else
    stored_j_ += -p * dt_s * params_.charge_efficiency;
  stored_j_ = std::clamp(stored_j_, min_j_, max_j_);
  return p;
}

}  // namespace aif::models
