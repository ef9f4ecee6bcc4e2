// The scenarios of scenarios/energy run in full and show what their README says they show. Each takes about 30 s.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "../support/aifsim_process.hpp"
#include "../support/in_glossary.hpp"
#include "../support/results_summary.hpp"
#include "../support/summary_window.hpp"
#include "aif/analysis/results.hpp"

using namespace aif::testing;
using aif::analysis::ResultsReader;

namespace {

std::string run_energy(const std::string& name, const std::string& extra = "") {
  return run_scenario_file(scratch_dir("energy_" + name), "scenarios/energy/" + name + ".yaml", "run", extra);
}

// Median of a column of the WattTime file, read here independently of aifsim's signal reader.
double median_of_column(const std::string& path, size_t column) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  std::vector<double> values;
  while (std::getline(in, line)) {
    std::stringstream row(line);
    std::string cell;
    for (size_t i = 0; i <= column && std::getline(row, cell, ','); ++i) {
    }
    if (!cell.empty()) values.push_back(std::stod(cell));
  }
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

}  // namespace

// 9 MW connection: never exceeded at any sample; the battery gives all it holds before any GPU is capped; the
// training job is capped (its steps slow down), the interactive services keep their SLOs.
TEST(EnergyScenarios, GridCapWithBatteryHoldsTheLimitBatteryFirstTrainingFirst) {
  ResultsReader r(run_energy("grid_cap_battery"));
  expect_every_name_in_the_glossary(r, "grid_cap_battery");
  expect_totals_cover_the_series_window(r, "scenarios/energy/grid_cap_battery.yaml");
  const auto s = summary_of(r);
  const auto time = r.series_time();
  const auto grid = r.series_values("grid_draw"), soc = r.series_values("battery_soc");
  double empty_at = -1;
  for (size_t i = 0; i < time.size(); ++i) {
    EXPECT_LE(grid[i], 9e6) << "t = " << time[i];
    if (empty_at < 0 && soc[i] <= 0.1 + 1e-12) empty_at = time[i];
  }
  EXPECT_NEAR(s.at("power.battery_discharged"), 1000 * 0.8 * 0.95, 1e-6);  // 1 MWh between soc 0.9 and 0.1
  ASSERT_GT(empty_at, 0);
  double first_cap = -1;
  for (const auto& e : r.events()) {
    if (e.kind != "power_cap") continue;
    if (first_cap < 0) first_cap = e.time_s;
    EXPECT_EQ(e.detail.find("replica"), std::string::npos) << "an interactive replica was capped: " << e.detail;
  }
  ASSERT_GT(first_cap, 0) << "the limit never bound: the scenario no longer shows capping";
  EXPECT_GE(first_cap, empty_at - 10);  // samples are 10 s apart
  EXPECT_GT(s.at("job.pretrain-405b.step_time_p99"), 1.2 * s.at("job.pretrain-405b.step_time_p50"));
  EXPECT_EQ(s.at("chat.slo_attainment"), 1);
  EXPECT_EQ(s.at("assistant.slo_attainment"), 1);
  std::printf("peak grid draw %.3f MW; battery empty at %.0f s, first cap at %.0f s; step p50 %.1f s, p99 %.1f s\n",
              s.at("power.peak_grid_draw"), empty_at, first_cap, s.at("job.pretrain-405b.step_time_p50"),
              s.at("job.pretrain-405b.step_time_p99"));
}

// 17:00-18:00 event: met; the job pauses after its step in flight and resumes at the end; batch waits.
TEST(EnergyScenarios, DemandResponseDayIsMetByPausingTrainingAndDeferringBatch) {
  ResultsReader r(run_energy("demand_response_day"));
  expect_every_name_in_the_glossary(r, "demand_response_day");
  expect_totals_cover_the_series_window(r, "scenarios/energy/demand_response_day.yaml");
  const auto s = summary_of(r);
  EXPECT_EQ(s.at("power.demand_response_events"), 1);
  EXPECT_EQ(s.at("power.demand_response_met"), 1);
  double pause = -1, resume = -1;
  for (const auto& e : r.events()) {
    if (e.kind == "job_pause" && pause < 0) pause = e.time_s;
    if (e.kind == "job_resume" && resume < 0) resume = e.time_s;
  }
  // After the step in flight (about 2 min) and a checkpoint.
  EXPECT_GE(pause, 7200);
  EXPECT_LE(pause, 7200 + 300);
  EXPECT_GE(resume, 10800);
  EXPECT_LE(resume, 10800 + 2);
  EXPECT_GT(s.at("batch.ttft_p99"), 1800);  // held through the event
  EXPECT_EQ(s.at("chat.slo_attainment"), 1);
  EXPECT_EQ(s.at("assistant.slo_attainment"), 1);
}

// A month of WattTime CAISO North: every deferrable job finishes within 3 days of its start, and its active energy
// ran at or under the month's median intensity, the threshold it waits for.
TEST(EnergyScenarios, CarbonAwareMonthRunsDeferrableWorkInCleanerHoursWithinDeadlines) {
  ResultsReader r(run_energy("carbon_aware_month"));
  expect_every_name_in_the_glossary(r, "carbon_aware_month");
  expect_totals_cover_the_series_window(r, "scenarios/energy/carbon_aware_month.yaml");
  const auto s = summary_of(r);
  const double median = median_of_column(source_path("data/grid/vessim_watttime_example.csv"), 1);
  std::map<std::string, double> start;
  for (const auto& e : r.events()) {
    if (e.kind == "job_start") start[e.target] = e.time_s;
    if (e.kind == "job_end") {
      ASSERT_TRUE(start.count(e.target)) << e.target;
      EXPECT_LE(e.time_s, start[e.target] + 3 * 86400) << e.target;
    }
  }
  EXPECT_EQ(start.size(), 4u);
  for (int week = 1; week <= 4; ++week) {
    const std::string job = "job.finetune-week" + std::to_string(week);
    EXPECT_EQ(s.at(job + ".steps"), 6000) << job;
    EXPECT_LE(s.at(job + ".active_carbon_intensity"), median) << job;
    std::printf("%s: active energy at %.1f gCO2/kWh (month's median %.1f)\n", job.c_str(),
                s.at(job + ".active_carbon_intensity"), median);
  }
  EXPECT_LE(s.at("batch.active_carbon_intensity"), median);
  // Held requests never lost: finished + unfinished = arrived.
  EXPECT_EQ(s.at("finished") + s.at("unfinished") + s.at("rejected"), s.at("requests"));
}
