// The site's power chain and policies through the aifsim binary, against numbers written out by hand.
#include <gtest/gtest.h>

#include <map>

#include "../support/aifsim_process.hpp"
#include "../support/results_summary.hpp"
#include "aif/analysis/results.hpp"

using namespace aif::testing;
using aif::analysis::ResultsReader;

namespace {

// The idle site of power_chain_idle.yaml (and power_battery.yaml) by hand, every level (docs/power.md).
struct IdleSite {
  double it, pdu, ups, cooling, facility;
};
IdleSite idle_site_by_hand() {
  // IT: 16 GPUs at the H100's idle 75 W + 2 servers x 2 kW = 5,200 W. Design IT P_d = 2 x (8 x 700 W + 2 kW).
  const double it = 16 * 75.0 + 2 * 2000.0, design = 2 * (8 * 700.0 + 2000.0);
  const double pdu = 0.01 * it;                                     // PDU loss fraction 1 %
  const double load = it + pdu, rated = 1.01 * design;              // UPS sized to (1 + PDU loss) x P_d
  const double ups = 0.01 * rated + 0.01 * load + 0.01 * rated * (load / rated) * (load / rated);
  const double cooling = 0.03 * design + (0.05 + 0.01 * (24 - 18)) * it;  // fixed + (free + 6 degrees x 0.01) x IT
  const double other = 0.01 * design;
  return {it, pdu, ups, cooling, it + pdu + ups + cooling + other};
}

}  // namespace

// No load for 1 h at 24 degC (tests/data/scenarios/power_chain_idle.yaml): every level by hand (docs/power.md).
TEST(PowerManager, ConstantLoadEnergyAtEveryLevelByHand) {
  const std::string dir = scratch_dir("power_idle");
  const auto run = run_aifsim("run " + source_path("tests/data/scenarios/power_chain_idle.yaml") + " -q -o " + dir +
                              "/p.h5");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto s = summary_of(ResultsReader(dir + "/p.h5"));
  const IdleSite site = idle_site_by_hand();
  const double it = site.it, pdu = site.pdu, ups = site.ups, cooling = site.cooling, facility = site.facility;
  std::printf("facility power: by hand %.3f W, simulated %.3f W (PUE %.5f)\n", facility,
              s.at("power.facility_energy") * 3.6e6 / 3600, facility / it);
  EXPECT_NEAR(s.at("power.it_energy"), it / 1000, 1e-9);
  EXPECT_NEAR(s.at("power.facility_energy"), facility / 1000, 1e-9);
  EXPECT_NEAR(s.at("power.cooling_energy"), cooling / 1000, 1e-9);
  EXPECT_NEAR(s.at("power.conversion_losses"), (pdu + ups) / 1000, 1e-9);
  EXPECT_NEAR(s.at("power.grid_energy"), facility / 1000, 1e-9);      // no solar, no battery
  EXPECT_NEAR(s.at("power.carbon"), facility / 1000 * 400 / 1000, 1e-9);  // 400 gCO2/kWh, in kg
  EXPECT_NEAR(s.at("power.cost"), facility / 1000 * 0.1, 1e-9);
  EXPECT_NEAR(s.at("facility_energy"), facility / 1000, 1e-9);  // the site summary follows the chain
  EXPECT_NEAR(s.at("power.peak_grid_draw"), facility / 1e6, 1e-12);
}

// 32 H100 under heavy load behind a 27 kW connection (tests/data/scenarios/power_capping.yaml): the grid draw stays
// under the limit at every sample, the low-priority service is the one slowed down, and without the limit the same
// load would draw more.
TEST(PowerManager, CappingKeepsGridDrawUnderTheLimitLowestPriorityFirst) {
  const std::string dir = scratch_dir("power_capping");
  const std::string scenario = source_path("tests/data/scenarios/power_capping.yaml");
  auto run = run_aifsim("run " + scenario + " -q -o " + dir + "/capped.h5");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  run = run_aifsim("run " + scenario + " -q --set grid.connection_limit=1MW -o " + dir + "/free.h5");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  ResultsReader capped(dir + "/capped.h5"), free(dir + "/free.h5");
  const auto grid = capped.series_values("grid_draw");
  ASSERT_GT(grid.size(), 100u);
  double peak = 0;
  for (double w : grid) {
    EXPECT_LE(w, 27e3);
    peak = std::max(peak, w);
  }
  double free_peak = 0;
  for (double w : free.series_values("grid_draw")) free_peak = std::max(free_peak, w);
  std::printf("grid draw peak: %.1f W capped (limit 27,000 W), %.1f W without the limit\n", peak, free_peak);
  EXPECT_GT(free_peak, 27e3);
  const auto s = summary_of(capped), f = summary_of(free);
  EXPECT_GT(s.at("power.cap_actions"), 0);
  // by_priority: the batch service (priority 1) is capped, the interactive one (9) keeps its speed.
  EXPECT_GT(s.at("batch.tpot_p99"), 1.5 * f.at("batch.tpot_p99"));
  EXPECT_LT(s.at("interactive.tpot_p99"), 1.1 * f.at("interactive.tpot_p99"));
  int caps = 0;
  for (const auto& e : capped.events())
    if (e.kind == "power_cap") {
      ++caps;
      EXPECT_EQ(e.detail.find("replica interactive"), std::string::npos) << e.detail;
    }
  EXPECT_GT(caps, 0);
}

// A 2-minute demand-response event asking 5 kW less (tests/data/scenarios/power_demand_response.yaml) is met by
// capping, and the mean draw over the window is under the target the event start recorded.
TEST(PowerManager, DemandResponseEventIsMetAndRecorded) {
  const std::string dir = scratch_dir("power_dr");
  const auto run = run_aifsim("run " + source_path("tests/data/scenarios/power_demand_response.yaml") + " -q -o " +
                              dir + "/dr.h5");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  ResultsReader r(dir + "/dr.h5");
  const auto s = summary_of(r);
  EXPECT_EQ(s.at("power.demand_response_events"), 1);
  EXPECT_EQ(s.at("power.demand_response_met"), 1);
  int starts = 0, ends = 0;
  for (const auto& e : r.events()) {
    if (e.kind == "demand_response_start") {
      ++starts;
      EXPECT_DOUBLE_EQ(e.time_s, 120);
    }
    if (e.kind == "demand_response_end") {
      ++ends;
      EXPECT_DOUBLE_EQ(e.time_s, 240);
      EXPECT_NE(e.detail.find("met"), std::string::npos);
    }
  }
  EXPECT_EQ(starts, 1);
  EXPECT_EQ(ends, 1);
}

// ---- whole runs of each policy ------------------------------------------------------------------------------------

namespace {

// Runs a scenario of tests/data/scenarios with extra arguments and returns the results file's path.
std::string run_scenario(const std::string& dir, const std::string& scenario, const std::string& name,
                         const std::string& extra = "") {
  return run_scenario_file(dir, "tests/data/scenarios/" + scenario, name, extra);
}

}  // namespace

// Peak shaving on the idle site (power_battery.yaml), by hand: the battery covers facility - 5 kW until it has given
// (0.8 - 0.2) x 1 kWh x 0.9 at the site, then the grid takes it all; charging from soc 0.2 to 0.9 below an 8 kW
// recharge line takes (0.9 - 0.2) x 1 kWh / 0.9 from the site. Energy balances at the site in both runs, and the
// cycle returns charge x eta_c x eta_d.
TEST(PowerManager, BatteryPeakShavingAndRechargeConserveEnergyByHand) {
  const std::string dir = scratch_dir("power_battery");
  const IdleSite site = idle_site_by_hand();
  const double p = site.facility, t = 3600, kwh = 3.6e6;
  // Discharge.
  {
    ResultsReader r(run_scenario(dir, "power_battery.yaml", "discharge"));
    const auto s = summary_of(r);
    const double delivered = (0.8 - 0.2) * kwh * 0.9;  // J at the site
    const double empty_at = delivered / (p - 5000);    // s: about 1,174
    std::printf("discharge: %.6f W for %.1f s; delivered %.6f kWh (by hand %.6f)\n", p - 5000, empty_at,
                s.at("power.battery_discharged"), delivered / kwh);
    EXPECT_NEAR(s.at("power.battery_discharged"), delivered / kwh, 1e-9);
    EXPECT_NEAR(s.at("power.battery_charged"), 0, 1e-12);
    EXPECT_NEAR(s.at("power.facility_energy"), p * t / kwh, 1e-9);
    EXPECT_NEAR(s.at("power.grid_energy"), (p * t - delivered) / kwh, 1e-9);
    EXPECT_NEAR(s.at("power.grid_energy"), s.at("power.facility_energy") - s.at("power.battery_discharged"), 1e-9);
    EXPECT_NEAR(s.at("power.carbon"), (p * t - delivered) / kwh * 0.4, 1e-9);
    EXPECT_NEAR(s.at("power.peak_grid_draw"), p / 1e6, 1e-12);  // once the battery is empty
    const auto time = r.series_time();
    const auto grid = r.series_values("grid_draw"), soc = r.series_values("battery_soc");
    for (size_t i = 0; i < time.size(); ++i) {
      if (time[i] + 1 < empty_at) {
        EXPECT_NEAR(grid[i], 5000, 1e-6) << "t = " << time[i];
      }
      if (time[i] > empty_at + 1) {
        EXPECT_NEAR(grid[i], p, 1e-6) << "t = " << time[i];
        EXPECT_NEAR(soc[i], 0.2, 1e-12) << "t = " << time[i];
      }
    }
  }
  // Recharge from soc_min under an 8 kW line.
  {
    ResultsReader r(run_scenario(dir, "power_battery.yaml", "charge",
                                 "--set grid.battery.initial_soc=0.2 --set policies.peak_shaving.threshold=8kW"));
    const auto s = summary_of(r);
    const double absorbed = (0.9 - 0.2) * kwh / 0.9;  // J from the site
    std::printf("charge: %.6f W for %.1f s; absorbed %.6f kWh (by hand %.6f)\n", 8000 - p, absorbed / (8000 - p),
                s.at("power.battery_charged"), absorbed / kwh);
    EXPECT_NEAR(s.at("power.battery_charged"), absorbed / kwh, 1e-9);
    EXPECT_NEAR(s.at("power.grid_energy"), (p * t + absorbed) / kwh, 1e-9);
    EXPECT_NEAR(s.at("power.peak_grid_draw"), 8000 / 1e6, 1e-9);
    EXPECT_NEAR(r.series_values("battery_soc").back(), 0.9, 1e-12);
    // One cycle over the same SoC span: energy back at the site / energy taken from it = eta_c x eta_d.
    const double back_per_soc = (0.8 - 0.2) * kwh * 0.9 / 0.6, in_per_soc = absorbed / 0.7;
    EXPECT_NEAR(back_per_soc / in_per_soc, 0.9 * 0.9, 1e-12);
    EXPECT_NEAR(s.at("power.battery_charged") / 0.7 * 0.81, 0.54 / 0.6, 1e-9);  // the two runs agree
  }
}

// power_capping_battery.yaml: the battery shaves the draw to 26 kW while it can; clocks are capped only once it is
// empty, and the grid draw stays under the 29 kW connection at every sample.
TEST(PowerManager, BatteryFirstThenCappingKeepsTheLimit) {
  const std::string dir = scratch_dir("power_capping_battery");
  ResultsReader r(run_scenario(dir, "power_capping_battery.yaml", "run"));
  const auto s = summary_of(r);
  const double deliverable = (0.9 - 0.1) * 0.5 * 0.95;  // kWh at the site
  EXPECT_NEAR(s.at("power.battery_discharged"), deliverable, 1e-9);
  const auto time = r.series_time();
  const auto grid = r.series_values("grid_draw"), soc = r.series_values("battery_soc");
  double empty_at = -1;
  for (size_t i = 0; i < time.size(); ++i) {
    EXPECT_LE(grid[i], 29e3) << "t = " << time[i];
    if (empty_at < 0 && soc[i] <= 0.1 + 1e-12) empty_at = time[i];
  }
  ASSERT_GT(empty_at, 0) << "the battery never emptied: the scenario no longer tests capping after it";
  double first_cap = -1;
  for (const auto& e : r.events())
    if (e.kind == "power_cap" && first_cap < 0) first_cap = e.time_s;
  std::printf("battery empty by the sample at %.0f s; first power cap at %.0f s; peak grid draw %.1f W\n", empty_at,
              first_cap, s.at("power.peak_grid_draw") * 1e6);
  ASSERT_GT(first_cap, 0);
  // The sample after the battery's last joule is at most one sample interval (5 s) late.
  EXPECT_GE(first_cap, empty_at - 5);
  EXPECT_GT(s.at("power.cap_actions"), 0);
}

// power_rack_limit.yaml: rack 0 (the hot service) is held under its 10 kW limit at every sample, only its
// replicas are capped, and the hall series and the per-rack matrix add up to the IT power.
TEST(PowerManager, RackLimitCapsOnlyThatRackAndLevelsAddUp) {
  const std::string dir = scratch_dir("power_rack_limit");
  ResultsReader r(run_scenario(dir, "power_rack_limit.yaml", "run"));
  const auto s = summary_of(r);
  const auto racks = r.rack_power();
  ASSERT_TRUE(racks.has_value());
  ASSERT_EQ(racks->racks(), 2u);
  EXPECT_EQ(racks->hall, (std::vector<int32_t>{0, 1}));
  const auto time = r.series_time();
  ASSERT_EQ(racks->samples(), time.size());
  const auto it = r.series_values("it_power_chain");
  const auto hall0 = r.series_values("hall_power_0"), hall1 = r.series_values("hall_power_1");
  double peak0 = 0;
  for (size_t i = 0; i < time.size(); ++i) {
    const double r0 = racks->at(i, 0), r1 = racks->at(i, 1);
    EXPECT_LE(r0, 10e3) << "t = " << time[i];
    peak0 = std::max(peak0, r0);
    EXPECT_NEAR(r0 + r1, it[i], 1e-6 * it[i]) << "t = " << time[i];  // float32 per rack
    EXPECT_NEAR(hall0[i], r0, 1e-6 * it[i]);
    EXPECT_NEAR(hall0[i] + hall1[i], it[i], 1e-9 * it[i]);
  }
  EXPECT_LE(s.at("power.rack_peak_max"), 10.0);
  EXPECT_GT(s.at("power.cap_actions"), 0);
  int caps = 0;
  for (const auto& e : r.events())
    if (e.kind == "power_cap") {
      ++caps;
      EXPECT_NE(e.detail.find("rack 0 draws"), std::string::npos) << e.detail;
      EXPECT_EQ(e.detail.find("replica cool"), std::string::npos) << e.detail;
    }
  EXPECT_GT(caps, 0);
  // Without the limit the same load draws more than 10 kW in rack 0.
  ResultsReader free(run_scenario(dir, "power_rack_limit.yaml", "free", "--set facility.power.rack_power_limit=20kW"));
  const auto free_racks = free.rack_power();
  double free_peak0 = 0;
  for (size_t i = 0; i < free_racks->samples(); ++i) free_peak0 = std::max(free_peak0, double{free_racks->at(i, 0)});
  std::printf("rack 0 peak at samples: %.1f W under the 10 kW limit, %.1f W without it\n", peak0, free_peak0);
  EXPECT_GT(free_peak0, 10e3);
  EXPECT_GT(s.at("hot.tpot_p99"), summary_of(free).at("hot.tpot_p99"));
}

// power_carbon_aware.yaml by hand: the job waits for the clean hour and finishes within its deadline; the carbon
// saved is (500 - 100) g/kWh x PUE 1.25 x its energy above idle, that energy being gpu_energy minus 16 GPUs at idle.
TEST(PowerManager, CarbonAwareDeferralSavesTheCarbonComputedByHand) {
  const std::string dir = scratch_dir("power_carbon_aware");
  ResultsReader aware(run_scenario(dir, "power_carbon_aware.yaml", "aware"));
  ResultsReader plain(run_scenario(dir, "power_carbon_aware.yaml", "plain", "--set policies.carbon_aware.threshold=1000"));
  const auto a = summary_of(aware), b = summary_of(plain);
  ASSERT_EQ(a.at("job.tune.steps"), 900);
  ASSERT_EQ(b.at("job.tune.steps"), 900);
  EXPECT_NEAR(a.at("gpu_energy"), b.at("gpu_energy"), 1e-9 * b.at("gpu_energy"));  // the same work, moved
  const double above_idle_kwh = b.at("gpu_energy") - 16 * 75.0 * 3 * 3600 / 3.6e6;
  const double saved_by_hand = (500 - 100) / 1000.0 * 1.25 * above_idle_kwh;  // kg
  const double saved = b.at("power.carbon") - a.at("power.carbon");
  std::printf("carbon: %.5f kg plain, %.5f kg carbon-aware: saved %.5f kg, by hand %.5f kg\n", b.at("power.carbon"),
              a.at("power.carbon"), saved, saved_by_hand);
  // The manager integrates the job's mean power per step at 1 s control instants: steps of 1.3 s leave a small error.
  EXPECT_NEAR(saved, saved_by_hand, 0.01 * saved_by_hand);
  double resume = -1, end = -1;
  int defers = 0;
  for (const auto& e : aware.events()) {
    if (e.kind == "carbon_defer") {
      ++defers;
      EXPECT_EQ(e.time_s, 0);
    }
    if (e.kind == "carbon_resume") resume = e.time_s;
    if (e.kind == "job_end") end = e.time_s;
  }
  EXPECT_EQ(defers, 1);
  EXPECT_EQ(resume, 3601);  // the first control instant after the signal falls below 300 (3600.5 s)
  EXPECT_GT(end, resume);
  EXPECT_LE(end, 3 * 3600);  // the deadline: start + 3 h
  for (const auto& step : aware.job_steps()) EXPECT_GE(step.start_s, 3601);
}

// power_carbon_aware_batch.yaml: a deferrable request arriving in the dirty hour starts at the first control instant
// of the clean one or at its deadline, whichever comes first; the others start at once; none is lost.
TEST(PowerManager, CarbonAwareBatchRequestsWaitForCleanHoursWithinTheirDeadline) {
  const std::string dir = scratch_dir("power_carbon_aware_batch");
  ResultsReader r(run_scenario(dir, "power_carbon_aware_batch.yaml", "run"));
  const auto requests = r.requests();
  ASSERT_GT(requests.size(), 1000u);
  int held = 0;
  for (const auto& q : requests) {
    ASSERT_EQ(q.outcome, aif::analysis::Outcome::FINISHED) << "request " << q.id;
    // Released at the first control instant (1 s apart) at or after min(clean, deadline).
    const double release = q.arrival_s < 3600.5 ? std::min(3601.0, q.arrival_s + 1800) : q.arrival_s;
    EXPECT_GE(q.first_token_s, release - 1e-9) << "request " << q.id;
    EXPECT_LE(q.first_token_s, release + 1.0 + 1.0) << "request " << q.id;  // 1 s control instant + a prefill
    if (q.arrival_s < 3600.5) ++held;
  }
  EXPECT_GT(held, 500);
}

// A run that ends (without drain) while deferrable requests are still held reports each of them as unfinished,
// with no replica: none disappears from /requests or the summary.
TEST(PowerManager, RequestsStillHeldAtTheEndAreUnfinishedNotLost) {
  const std::string dir = scratch_dir("power_held_at_end");
  ResultsReader r(run_scenario(dir, "power_carbon_aware_batch.yaml", "run",
                               "--set simulation.duration=30min --set simulation.drain=false"));
  const auto s = summary_of(r);
  const auto requests = r.requests();
  // Every arrival of the dirty first 30 min waits for min(clean hour, arrival + 30 min): past the end.
  ASSERT_GT(requests.size(), 200u);
  for (const auto& q : requests) {
    EXPECT_EQ(q.outcome, aif::analysis::Outcome::UNFINISHED) << "request " << q.id;
    EXPECT_EQ(q.replica, -1);
    EXPECT_LT(q.arrival_s, 1800);
  }
  EXPECT_EQ(s.at("requests"), static_cast<double>(requests.size()));
  EXPECT_EQ(s.at("unfinished"), static_cast<double>(requests.size()));
  EXPECT_EQ(s.at("finished"), 0);
}
