// The site's power chain and policies through the aifsim binary, against numbers written out by hand.
#include <gtest/gtest.h>

#include <map>

#include "../support/aifsim_process.hpp"
#include "aif/analysis/results.hpp"

using namespace aif::testing;
using aif::analysis::ResultsReader;

namespace {

std::map<std::string, double> summary_of(const ResultsReader& r) {
  std::map<std::string, double> out;
  for (const auto& e : r.summary()) out[e.name] = e.value;
  return out;
}

}  // namespace

// No load for 1 h at 24 degC (tests/data/scenarios/power_chain_idle.yaml): every level by hand (docs/power.md).
TEST(PowerManager, ConstantLoadEnergyAtEveryLevelByHand) {
  const std::string dir = scratch_dir("power_idle");
  const auto run = run_aifsim("run " + source_path("tests/data/scenarios/power_chain_idle.yaml") + " -q -o " + dir +
                              "/p.h5");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const auto s = summary_of(ResultsReader(dir + "/p.h5"));
  // IT: 16 GPUs at the H100's idle 75 W + 2 servers x 2 kW = 5,200 W. Design IT P_d = 2 x (8 x 700 W + 2 kW).
  const double it = 16 * 75.0 + 2 * 2000.0, design = 2 * (8 * 700.0 + 2000.0);
  const double pdu = 0.01 * it;                                     // PDU loss fraction 1 %
  const double load = it + pdu, rated = 1.01 * design;              // UPS sized to (1 + PDU loss) x P_d
  const double ups = 0.01 * rated + 0.01 * load + 0.01 * rated * (load / rated) * (load / rated);
  const double cooling = 0.03 * design + (0.05 + 0.01 * (24 - 18)) * it;  // fixed + (free + 6 degrees x 0.01) x IT
  const double other = 0.01 * design;
  const double facility = it + pdu + ups + cooling + other;
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
