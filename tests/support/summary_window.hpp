// The summary covers exactly the window the time series show (sim/world/src/run_sampling.cpp): totals and means are
// taken over [0, last sample] (the horizon plus the drain of the requests; a repair due hours later does not stretch
// it), and each summary energy is the integral of the power series that charts it. Checked on every bundled
// scenario: by tests/smoke/test_summary_window.cpp, and by the energy and reliability scenario tests on the runs
// they make anyway.
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "aif/analysis/results.hpp"
#include "aif/models/power.hpp"
#include "aif/scenario/scenario.hpp"
#include "aifsim_process.hpp"
#include "results_summary.hpp"

namespace aif::testing {

// Left step integral of a sampled power series, J: sample i stands for [t_i, t_{i+1}) (the last one for no time),
// which is how the run's own books count the power of a control instant until the next one.
inline double step_integral(const std::vector<double>& t, const std::vector<double>& w, double sign = 0) {
  double j = 0;
  for (size_t i = 0; i + 1 < t.size(); ++i) {
    const double p = sign > 0 ? std::max(0.0, w[i]) : sign < 0 ? std::max(0.0, -w[i]) : w[i];
    j += p * (t[i + 1] - t[i]);
  }
  return j;
}

// How far the step integral of samples may be from the exact energy. On an interval [t_i, t_{i+1}) the power moves
// from w_i to w_{i+1}; if it stays between the two the step integral is off by at most |w_{i+1} - w_i| (t_{i+1} - t_i)
// there. Faster swings inside an interval (a training step's compute and communication phases, bursts of requests)
// go beyond the two samples, but they also show up as sample-to-sample differences of the same size, and their
// errors take either sign: summed over N intervals they grow like sqrt(N) while this bound grows like N. The bound
// is 0 for a series that does not move (idle, a flat cap), so any difference there is a real mismatch.
inline double sampling_bound(const std::vector<double>& t, const std::vector<double>& w, double sign = 0) {
  auto part = [sign](double v) { return sign > 0 ? std::max(0.0, v) : sign < 0 ? std::max(0.0, -v) : v; };
  double b = 0;
  for (size_t i = 0; i + 2 < t.size(); ++i) b += std::abs(part(w[i + 1]) - part(w[i])) * (t[i + 1] - t[i]);
  // The last interval: its end sample is the last one.
  if (t.size() >= 2) b += std::abs(part(w.back()) - part(w[w.size() - 2])) * (t.back() - t[t.size() - 2]);
  return b;
}

// `r` is a run of `scenario` (relative to the source tree) with these --set overrides.
inline void expect_totals_cover_the_series_window(const aif::analysis::ResultsReader& r, const std::string& scenario,
                                                  const std::vector<std::string>& overrides = {}) {
  const auto s = summary_of(r);
  const std::vector<double> t = r.series_time();
  ASSERT_GE(t.size(), 2u);
  ASSERT_EQ(t.front(), 0.0);
  const double window = s.at("simulated_time");
  // The window is the span of the series, to the last bit: both are the time of the last sample.
  EXPECT_EQ(window, t.back()) << scenario;
  // Means are totals over that window (kWh -> kJ: x 3600; kW = kJ / s).
  EXPECT_NEAR(s.at("mean_facility_power"), s.at("facility_energy") * 3600 / window,
              1e-12 * s.at("mean_facility_power"));
  EXPECT_NEAR(s.at("throughput"), s.at("finished") / window, 1e-12 * s.at("throughput"));

  // Each summary energy (kWh) against the series that charts it. With the power chain on, the site's facility
  // energy is the chain's, charted by facility_power_chain (facility_power stays IT x the constant PUE).
  const bool chain = s.count("power.facility_energy") > 0;
  struct Pair {
    std::string energy, series;
    double sign;  // 0: the series; +1 / -1: its positive / negative part (battery discharge / charge)
  };
  std::vector<Pair> pairs{{"gpu_energy", "gpu_power", 0},
                          {"it_energy", "it_power", 0},
                          {"facility_energy", chain ? "facility_power_chain" : "facility_power", 0}};
  if (chain) {
    pairs.push_back({"power.it_energy", "it_power_chain", 0});
    pairs.push_back({"power.facility_energy", "facility_power_chain", 0});
    pairs.push_back({"power.grid_energy", "grid_draw", 0});
    pairs.push_back({"power.solar_energy", "solar_power", 0});
    pairs.push_back({"power.battery_discharged", "battery_power", +1});
    pairs.push_back({"power.battery_charged", "battery_power", -1});
  }
  // A training job books a compute phase's energy when the phase ends (TrainingJob::compute_energy_j), while the
  // series show its GPUs busy as it runs: the phase in flight at the end of the window is in the series only. At
  // most one step's critical-path compute (its longest in /jobs) on each of the job's GPUs at busy minus idle power.
  const aif::sim::Scenario sc = aif::sim::load_scenario(source_path(scenario), overrides);
  const aif::models::GpuPowerParams power = aif::models::GpuPowerParams::from_device(sc.device);
  const double extra_w = aif::models::gpu_busy_power(power, 1.0) - power.idle_w;
  std::vector<double> longest_compute(sc.jobs.size(), 0.0);
  for (const auto& step : r.job_steps())
    longest_compute.at(static_cast<size_t>(step.job)) =
        std::max(longest_compute.at(static_cast<size_t>(step.job)), step.compute_s);
  double phase_in_flight_j = 0;
  for (size_t j = 0; j < sc.jobs.size(); ++j)
    phase_in_flight_j += sc.jobs[j].dp * sc.jobs[j].tp * sc.jobs[j].pp * extra_w * longest_compute[j];
  for (const Pair& p : pairs) {
    const std::vector<double> w = r.series_values(p.series);
    const double summary_j = s.at(p.energy) * 3.6e6;
    const double series_j = step_integral(t, w, p.sign);
    // The GPU-side energies (gpu_power, and it_power and facility_power = IT x PUE built on it) carry the phase in
    // flight; the power chain books every control instant's measured power and has no such term.
    const bool gpu_side = p.energy == "gpu_energy" || p.energy == "it_energy" || (p.energy == "facility_energy" && !chain);
    const double pue = p.energy == "facility_energy" ? sc.facility.pue : 1.0;
    const double bound = sampling_bound(t, w, p.sign) + (gpu_side ? pue * phase_in_flight_j : 0.0);
    std::printf("%-48s %-24s summary %12.4f kWh  series %12.4f kWh  bound %9.4f kWh\n", scenario.c_str(),
                p.energy.c_str(), summary_j / 3.6e6, series_j / 3.6e6, bound / 3.6e6);
    // The summary rounds through kWh (a double: no loss worth counting) and the sums add rounding of 1e-12 relative.
    EXPECT_LE(std::abs(summary_j - series_j), bound + 1e-9 * std::abs(summary_j) + 1e-6)
        << scenario << ": " << p.energy << " vs the integral of " << p.series;
  }
}

}  // namespace aif::testing
