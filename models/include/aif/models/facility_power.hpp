// The power chain from the GPU to the grid: GPU power under a clock cap, power distribution and UPS losses,
// cooling as a function of IT load and outdoor temperature, on-site solar and a battery. Pure functions and small
// state (the battery); the simulator's power manager strings them together (docs/power.md has the equations with
// sources and the defaults' derivation). Units: W, J, s, degrees Celsius, fractions in [0, 1].
// Invalid parameters throw std::invalid_argument naming the parameter and the value found.
#pragma once
#include <limits>

#include "aif/models/power.hpp"
#include "aif/models/signals.hpp"

namespace aif::models {

// ---- GPU under a clock cap (DVFS) ----------------------------------------------------------------------------------

// DvfsParams: power.hpp.

// Power of a busy GPU at clock fraction f in (0, 1] (1 = uncapped boost clock):
//   P(s, f) = idle + (busy(s) - idle) x f^alpha,  busy(s) = gpu_busy_power(p, s) (power.hpp).
// An idle GPU draws idle_w at any clock. Throws when f is outside (0, 1] or compute_share outside [0, 1].
double gpu_power_at_clock(const GpuPowerParams& p, double compute_share, double clock_fraction,
                          const DvfsParams& dvfs = {});

// The highest clock fraction whose power fits under cap_w: the inverse of gpu_power_at_clock,
//   f = ((cap - idle) / (busy(s) - idle))^(1 / alpha),
// clamped to [min_clock_fraction, 1]: 1 when the uncapped power already fits (cap >= busy(s), or busy == idle),
// min_clock_fraction when even that clock exceeds the cap (then the GPU draws more than cap_w: the caller must act
// elsewhere, e.g. pause work). Throws on a negative or non-finite cap.
double clock_for_power_cap(const GpuPowerParams& p, double compute_share, double cap_w, const DvfsParams& dvfs = {});

// ---- power distribution and UPS ------------------------------------------------------------------------------------

// The three-term loss model of UPS and transformers (Rasmussen, "Electrical Efficiency Modeling for Data Centers",
// APC/Schneider White Paper 113; also The Green Grid's UPS efficiency work), with L the UPS output (W) and R its
// rating:
//   loss(L) = a R + b L + c R (L / R)^2
// a: no-load (fixed) loss; b: proportional loss; c: square-law (I^2 R) loss at full load.
// Defaults describe a modern double-conversion UPS: efficiency L / (L + loss) = 97.1 % at full load, 96.6 % at half
// load, 94.2 % at 20 % load (legacy units were ~93 % at full load, APC White Paper 108).
struct UpsParams {
  double rated_w = 0;                   // output rating R; 0 = size it to the design load (FacilityPowerParams)
  double no_load_fraction = 0.01;       // a, of R
  double proportional_fraction = 0.01;  // b, of L
  double square_fraction = 0.01;        // c, of R at L = R
};

// loss(L) above; L may exceed R (the formula continues; FacilityPower reports the load fraction).
double ups_loss_w(const UpsParams& ups, double load_w);

// ---- cooling and the rest of the facility --------------------------------------------------------------------------

// Cooling power with IT power P_IT, design IT power P_d, outdoor temperature T (degrees C):
//   cooling = k_fixed P_d + c(T) P_IT
//   c(T) = min(c_max, c_free + g max(0, T - T_free))
// Below T_free the economizer (free cooling) removes the heat with fans and pumps only (c_free); above it chillers
// add power growing linearly with the temperature difference (g per degree) up to c_max. k_fixed is the part that
// runs whatever the load (CRAH/CDU fans and pumps at minimum speed, controls), which is why PUE rises at low load.
// With the defaults and the other facility loads, PUE at full IT load is 1.13 with free cooling, 1.25 at 30 C and
// 1.30 at 35 C; at half load 1.18 with free cooling. For scale: Google's fleet-wide trailing-twelve-month PUE is
// ~1.10 (2023 environmental report), Meta's ~1.08; the Uptime Institute's 2023 survey average is 1.58 (mostly older
// enterprise sites). T_free = 18 C is the bottom of ASHRAE's recommended supply-air range (18-27 C): below it outside
// air (or a dry cooler) suffices with a few degrees of approach.
struct CoolingParams {
  double free_cooling_below_c = 18;     // T_free
  double free_w_per_it_w = 0.05;        // c_free: cooling W per IT W with free cooling
  double w_per_it_w_per_degree = 0.01;  // g: added per degree C above T_free
  double max_w_per_it_w = 0.35;         // c_max: all chillers at full power
  double fixed_fraction = 0.03;         // k_fixed, of the design IT power
};

// c(T) above.
double cooling_w_per_it_w(const CoolingParams& cooling, double outdoor_c);

struct FacilityPowerParams {
  double design_it_w = 0;           // P_d: IT power at full load (every GPU busy); > 0
  double pdu_loss_fraction = 0.01;  // PDU transformers and distribution: loss = f P_IT
  UpsParams ups;                    // carries PDU input L = (1 + f) P_IT; rated_w 0 = (1 + f) P_d
  CoolingParams cooling;
  double other_fraction = 0.01;  // lighting, offices, security, building management: k_other P_d, constant
};

// One evaluation of the chain:
//   pdu_loss = f P_IT;  L = P_IT + pdu_loss;  ups_loss = loss(L);  cooling as above;  other = k_other P_d
//   facility = P_IT + pdu_loss + ups_loss + cooling + other;  PUE = facility / P_IT (0 when P_IT = 0: undefined)
struct FacilityPower {
  double it_w = 0;
  double pdu_loss_w = 0;
  double ups_loss_w = 0;
  double cooling_w = 0;
  double other_w = 0;
  double facility_w = 0;
  double pue = 0;
  double it_load_fraction = 0;   // P_IT / P_d
  double ups_load_fraction = 0;  // L / R (above 1: the UPS is overloaded)
};

class FacilityPowerModel {
 public:
  explicit FacilityPowerModel(const FacilityPowerParams& params);  // validates; sizes the UPS when rated_w is 0

  // Throws on negative or non-finite IT power or a non-finite temperature.
  FacilityPower facility_power(double it_w, double outdoor_c) const;
  // The largest IT power whose facility power is at most facility_w (exact inverse: facility power is a quadratic,
  // increasing function of P_IT); 0 when even no IT load exceeds it (fixed losses, cooling and other loads).
  double it_power_for_facility(double facility_w, double outdoor_c) const;

  const FacilityPowerParams& params() const { return params_; }

 private:
  FacilityPowerParams params_;
};

// The free-cooling coefficient c_free that makes the PUE at full IT load (P_IT = P_d, T <= T_free) equal pue, with
// the other parameters as given: how a scenario's `pue_free_cooling` maps onto the model. (A scenario's PUE rise per
// degree at full load is g itself.) Throws when pue is too low for the electrical losses and fixed loads alone.
double free_cooling_for_pue(const FacilityPowerParams& params, double pue);

// ---- on-site solar -------------------------------------------------------------------------------------------------

// P_solar(t) = installed_w x profile(t), profile normalised to [0, 1] (e.g. vessim's PV series).
class SolarPlant {
 public:
  // Throws when installed_w is negative or non-finite, or a profile point lies outside [0, 1].
  SolarPlant(double installed_w, TimeSeries profile);
  double power_w(double t) const { return installed_w_ * profile_.at(t); }
  double energy_j(double t0, double t1) const { return installed_w_ * profile_.integral(t0, t1); }
  double installed_w() const { return installed_w_; }
  const TimeSeries& profile() const { return profile_; }

 private:
  double installed_w_;
  TimeSeries profile_;
};

// ---- battery -------------------------------------------------------------------------------------------------------

// Stored energy E in [soc_min C, soc_max C]. Power is on the site side (what the site's bus sees):
// discharging P > 0 draws P / eta_d from storage; charging P < 0 stores |P| eta_c. A full cycle that stores energy
// from the site and gives it back returns E_in eta_c eta_d. Power limits are site-side too.
// Defaults: eta_c = eta_d = 0.95 (round trip 0.9025), the upper end of Li-ion systems; NREL's Annual Technology
// Baseline assumes 85 % round trip for utility-scale batteries including auxiliaries. SoC bounds 10-90 % keep the
// cells in their long-life window.
struct BatteryParams {
  double capacity_j = 0;       // C (1 MWh = 3.6e9 J); > 0
  double max_charge_w = 0;     // site-side power drawn when charging; >= 0
  double max_discharge_w = 0;  // site-side power delivered when discharging; >= 0
  double charge_efficiency = 0.95;
  double discharge_efficiency = 0.95;
  double soc_min = 0.1;  // fractions of C, 0 <= soc_min < soc_max <= 1
  double soc_max = 0.9;
  double initial_soc = 0.5;  // within [soc_min, soc_max]
};

class Battery {
 public:
  explicit Battery(const BatteryParams& params);  // validates, names the wrong parameter

  // Power the battery would deliver (> 0) or absorb (< 0) at the site now for a request: clipped to
  // [-max_charge_w, max_discharge_w], and 0 in a direction where the SoC sits at its bound.
  double site_power_w(double requested_w) const;
  // Holds site_power_w(requested_w) constant for dt_s, or until the SoC reaches its bound (then 0 for the rest), and
  // updates the stored energy. Returns the mean site-side power over dt_s, so energy at the site = return x dt_s
  // exactly; split calls at time_to_limit to keep the power constant within each. dt_s = 0 returns site_power_w.
  double apply(double requested_w, double dt_s);
  // Seconds until the SoC reaches its bound at site_power_w(requested_w): (E - E_min) eta_d / P discharging,
  // (E_max - E) / (|P| eta_c) charging; +infinity when that power is 0.
  double time_to_limit(double requested_w) const;

  double stored_j() const { return stored_j_; }
  double soc() const { return stored_j_ / params_.capacity_j; }
  double deliverable_j() const;  // site-side energy until soc_min: (E - E_min) eta_d
  double absorbable_j() const;   // site-side energy until soc_max: (E_max - E) / eta_c
  const BatteryParams& params() const { return params_; }

 private:
  BatteryParams params_;
  double stored_j_;
  double min_j_, max_j_;
};

}  // namespace aif::models
