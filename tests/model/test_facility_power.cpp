// The power chain (models/facility_power.hpp) against values worked out by hand from its equations: energy at every
// level for a constant load, PUE at given loads and temperatures, a battery cycle, the GPU clock under a cap.
// Each check prints the hand value next to the model's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "../support/expect_hand.hpp"
#include "aif/models/facility_power.hpp"
#include "aif/models/signals.hpp"

using namespace aif::models;
using aif::testing::expect_hand;
using aif::testing::expect_invalid;

namespace {

FacilityPowerParams site(double design_it_w) {
  FacilityPowerParams p;  // every other parameter at its default
  p.design_it_w = design_it_w;
  return p;
}

const GpuPowerParams H100{75, 380, 700};  // idle, decode, prefill (splitwise-sim, data/hardware.yaml)

}  // namespace

// 8 MW of IT in a 10 MW (design) hall for 2 h at 25 C, with 1 MW of solar, the battery giving 0.5 MW and a carbon
// intensity rising linearly from 300 to 500 gCO2/kWh over the 2 h. By hand with the default parameters:
//   PDU loss 1 % x 8 MW = 80 kW; UPS load 8.08 MW, rating 1.01 x 10 MW = 10.1 MW:
//   UPS loss = 1 % x 10.1 MW + 1 % x 8.08 MW + 1 % x 10.1 MW x (8.08 / 10.1)^2 = 101 + 80.8 + 64.64 = 246.44 kW
//   cooling = 3 % x 10 MW + (0.05 + 0.01 x (25 - 18)) x 8 MW = 300 + 960 = 1,260 kW; other = 1 % x 10 MW = 100 kW
//   facility = 8,000 + 80 + 246.44 + 1,260 + 100 = 9,686.44 kW, PUE 1.210805
//   grid = 9,686.44 - 1,000 - 500 = 8,186.44 kW; carbon = 8,186.44 kW x 2 h x mean 400 g/kWh = 6,549,152 g
TEST(FacilityPower, ConstantLoadEnergyAtEveryLevel) {
  const double hours = 2, dt = hours * 3600;
  const FacilityPowerModel model(site(10e6));
  const FacilityPower f = model.facility_power(8e6, 25);
  expect_hand("IT energy [J]", 8e6 * dt, f.it_w * dt);
  expect_hand("PDU loss energy [J]", 80e3 * dt, f.pdu_loss_w * dt);
  expect_hand("UPS loss energy [J]", 246.44e3 * dt, f.ups_loss_w * dt);
  expect_hand("cooling energy [J]", 1260e3 * dt, f.cooling_w * dt);
  expect_hand("other energy [J]", 100e3 * dt, f.other_w * dt);
  expect_hand("facility energy [J]", 9686.44e3 * dt, f.facility_w * dt);
  expect_hand("PUE", 9686.44 / 8000, f.pue);
  expect_hand("UPS load fraction", 8.08 / 10.1, f.ups_load_fraction);

  const SolarPlant solar(2e6, TimeSeries::constant(0.5));
  BatteryParams bp;
  bp.capacity_j = 10 * 3.6e9;  // 10 MWh
  bp.max_charge_w = bp.max_discharge_w = 2e6;
  Battery battery(bp);
  const double stored_before = battery.stored_j();
  const double battery_w = battery.apply(0.5e6, dt);
  const double grid_w = f.facility_w - solar.power_w(0) - battery_w;
  expect_hand("solar energy [J]", 1e6 * dt, solar.energy_j(0, dt));
  expect_hand("battery energy at the site [J]", 0.5e6 * dt, battery_w * dt);
  expect_hand("battery energy from storage [J]", 0.5e6 * dt / 0.95, stored_before - battery.stored_j(), 1e-9);
  expect_hand("grid energy [J]", 8186.44e3 * dt, grid_w * dt);
  const TimeSeries carbon({{0, 300}, {dt, 500}});
  // Power constant over the interval: carbon = P x integral of the intensity / 3.6e6 (W s -> kWh).
  expect_hand("carbon [g]", 8186.44 * hours * 400, grid_w * carbon.integral(0, dt) / 3.6e6, 1e-12);
  expect_hand("carbon via integral_product [g]", 8186.44 * hours * 400,
              TimeSeries::constant(grid_w).integral_product(carbon, 0, dt) / 3.6e6, 1e-12);
}

// PUE = 1 + f + loss((1 + f) x P_IT) / P_IT + (k_fixed + k_other) P_d / P_IT + c(T), with the defaults
// (f = 0.01, UPS a = b = c = 0.01 at R = 1.01 P_d, k_fixed = 0.03, k_other = 0.01, c(T) = min(0.35, 0.05 + 0.01 (T -
// 18)+)).
TEST(FacilityPower, PueFollowsTheEquation) {
  const FacilityPowerModel model(site(1e6));
  auto pue = [&](double load, double t) { return model.facility_power(load * 1e6, t).pue; };
  // Full load: 1 + 0.01 + 0.0303 + 0.03 + 0.01 + c(T).
  expect_hand("full load, 10 C (free cooling)", 1.1303, pue(1, 10));
  expect_hand("full load, 18 C (threshold)", 1.1303, pue(1, 18));
  expect_hand("full load, 30 C", 1.2503, pue(1, 30));
  expect_hand("full load, 35 C", 1.3003, pue(1, 35));
  expect_hand("full load, 60 C (chillers at max)", 1.4303, pue(1, 60));
  // Half load, free cooling: (0.5 + 0.005 + 0.017675 + 0.055 + 0.01) / 0.5.
  expect_hand("half load, 10 C", 0.587675 / 0.5, pue(0.5, 10));
  // 20 % load: UPS loss 0.0101 + 0.00202 + 0.000404; (0.2 + 0.002 + 0.012524 + 0.04 + 0.01) / 0.2.
  expect_hand("20 % load, 10 C", 0.264524 / 0.2, pue(0.2, 10));
  expect_hand("20 % load, 30 C", (0.264524 + 0.12 * 0.2) / 0.2, pue(0.2, 30));
  EXPECT_GT(pue(0.2, 10), pue(0.5, 10));          // fixed loads: PUE rises at low load
  EXPECT_EQ(model.facility_power(0, 20).pue, 0);  // undefined without IT load, reported as 0

  // The inverse: the IT power that fits a facility budget.
  for (double load : {0.0, 0.1, 0.5, 0.9, 1.0, 1.2})
    for (double t : {5.0, 25.0, 40.0}) {
      const double facility = model.facility_power(load * 1e6, t).facility_w;
      EXPECT_NEAR(model.it_power_for_facility(facility, t), load * 1e6, 1e-6) << load << " " << t;
    }
  EXPECT_EQ(model.it_power_for_facility(1000, 20), 0);  // below the fixed loads

  // A scenario's "PUE 1.2 at full load with free cooling" maps to c_free = 1.2 - 1.1303 + 0.05.
  FacilityPowerParams target = site(1e6);
  target.cooling.free_w_per_it_w = free_cooling_for_pue(target, 1.2);
  expect_hand("c_free for PUE 1.2", 0.1197, target.cooling.free_w_per_it_w);
  expect_hand("PUE with that c_free", 1.2, FacilityPowerModel(target).facility_power(1e6, 0).pue);
  expect_invalid([&] { free_cooling_for_pue(site(1e6), 1.05); }, "below what the electrical losses");
}

TEST(FacilityPower, UpsLossIsTheThreeTermModel) {
  UpsParams ups;
  ups.rated_w = 1e6;
  // 0.01 R + 0.01 L + 0.01 R (L / R)^2 at L = R, R / 2, R / 5: efficiencies 97.1 %, 96.6 %, 94.2 % (header).
  expect_hand("loss at full load [W]", 30e3, ups_loss_w(ups, 1e6));
  expect_hand("loss at half load [W]", 17.5e3, ups_loss_w(ups, 0.5e6));
  expect_hand("loss at no load [W]", 10e3, ups_loss_w(ups, 0));
  expect_hand("efficiency at 20 % load", 0.2 / 0.2124, 0.2e6 / (0.2e6 + ups_loss_w(ups, 0.2e6)));
}

// 1 MWh battery, SoC 10..90 %, starting empty (10 %); charge at most 1 MW, discharge at most 2 MW;
// eta_c = 0.9, eta_d = 0.95. By hand:
//   room to fill: 0.8 x 3.6e9 = 2.88e9 J stored = 3.2e9 J from the site; at 1 MW that takes 3,200 s.
//   back out: 2.88e9 x 0.95 = 2.736e9 J at the site = 3.2e9 x 0.9 x 0.95; at 2 MW that takes 1,368 s.
TEST(FacilityPower, BatteryCycleReturnsEnergyTimesBothEfficiencies) {
  BatteryParams p;
  p.capacity_j = 3.6e9;
  p.max_charge_w = 1e6;
  p.max_discharge_w = 2e6;
  p.charge_efficiency = 0.9;
  p.discharge_efficiency = 0.95;
  p.initial_soc = 0.1;
  Battery b(p);
  EXPECT_EQ(b.site_power_w(5e6), 0);      // empty: nothing to give
  EXPECT_EQ(b.site_power_w(-5e6), -1e6);  // clipped to the charge limit
  expect_hand("time to full [s]", 3200, b.time_to_limit(-5e6));

  // Charge in uneven steps, the last one past the bound: the power holds, then stops exactly at 90 %.
  double from_site = 0;
  for (double dt : {100.0, 1000.0, 2000.0, 1000.0}) from_site += -b.apply(-5e6, dt) * dt;
  expect_hand("energy taken from the site [J]", 3.2e9, from_site, 1e-12);
  expect_hand("SoC after charging", 0.9, b.soc());
  EXPECT_EQ(b.stored_j(), 0.9 * 3.6e9);
  EXPECT_EQ(b.apply(-1e6, 10), 0);  // full: absorbs nothing
  expect_hand("mean power over a step past full", 0, b.apply(-1e6, 10));

  expect_hand("time to empty [s]", 1368, b.time_to_limit(5e6));
  double to_site = 0;
  for (double dt : {1.0, 367.0, 500.0, 2000.0}) {
    const double w = b.apply(5e6, dt);
    EXPECT_LE(w, 2e6);
    to_site += w * dt;
  }
  expect_hand("energy returned to the site [J]", 3.2e9 * 0.9 * 0.95, to_site, 1e-12);
  expect_hand("round trip", 0.9 * 0.95, to_site / from_site, 1e-12);
  EXPECT_EQ(b.stored_j(), 0.1 * 3.6e9);
  EXPECT_EQ(b.apply(1e6, 10), 0);

  expect_invalid(
      [] {
        BatteryParams q;
        q.capacity_j = 1;
        q.charge_efficiency = 1.2;
        Battery x(q);
      },
      "BatteryParams.charge_efficiency: expected an efficiency in (0, 1], found 1.2");
  expect_invalid(
      [] {
        BatteryParams q;
        q.capacity_j = 1;
        q.initial_soc = 0.05;
        Battery x(q);
      },
      "BatteryParams.initial_soc");
  expect_invalid([] { Battery x(BatteryParams{}); }, "BatteryParams.capacity_j");
}

TEST(FacilityPower, SolarIsInstalledPowerTimesTheProfile) {
  // 2 MW peak, a profile rising 0 -> 1 -> 0 over 2 h (linear): 2 MW x 3,600 s.
  const SolarPlant s(2e6, TimeSeries({{0, 0}, {3600, 1}, {7200, 0}}));
  expect_hand("solar power at 30 min [W]", 1e6, s.power_w(1800));
  expect_hand("solar energy over the day [J]", 7.2e9, s.energy_j(-3600, 10800));
  expect_invalid([] { SolarPlant(1e6, TimeSeries({{0, 0.5}, {10, 1.5}})); }, "at t = 10 s it is 1.5");
}

// P = idle + (busy - idle) f^2.5. H100 prefill at 80 % clock: 75 + 625 x 0.8^2.5 = 75 + 625 x 0.5724334022.
TEST(FacilityPower, ClockForPowerCapInvertsPowerAtClock) {
  expect_hand("H100 prefill at 0.8 clock [W]", 75 + 625 * 0.5724334022399462, gpu_power_at_clock(H100, 1, 0.8));
  expect_hand("H100 decode at full clock [W]", 380, gpu_power_at_clock(H100, 0, 1));
  const DvfsParams dvfs;
  for (double share : {0.0, 0.3, 1.0})
    for (double f : {0.3, 0.45, 0.7, 0.99, 1.0}) {
      const double w = gpu_power_at_clock(H100, share, f);
      EXPECT_NEAR(clock_for_power_cap(H100, share, w), f, 1e-12) << share << " " << f;
    }
  EXPECT_EQ(clock_for_power_cap(H100, 1, 800), 1.0);                     // the cap is above the uncapped power
  EXPECT_EQ(clock_for_power_cap(H100, 1, 80), dvfs.min_clock_fraction);  // below what the lowest clock draws
  EXPECT_EQ(clock_for_power_cap(H100, 1, 0), dvfs.min_clock_fraction);
  // A 400 W cap on prefill: f = (325 / 625)^(1 / 2.5) = 0.52^0.4.
  expect_hand("clock for a 400 W prefill cap", std::pow(0.52, 0.4), clock_for_power_cap(H100, 1, 400));
  expect_invalid([] { gpu_power_at_clock(H100, 1, 0); }, "clock_fraction: expected a fraction in (0, 1]");
  expect_invalid([] { clock_for_power_cap(H100, 1.5, 300); }, "compute_share");
}
