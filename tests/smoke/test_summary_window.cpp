// The summary covers exactly the window the time series show: for every bundled scenario, its totals and means are
// taken over [0, last sample] (the horizon plus the drain of the requests; a repair due hours later does not
// stretch it), and each summary energy is the integral of the power series that charts it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "../support/summary_window.hpp"

using namespace aif::testing;
using aif::analysis::ResultsReader;

namespace {

struct Case {
  std::string scenario;  // relative to the source tree
  std::string extra;     // shortened runs: --set simulation.duration=...
};

// The scenarios no other smoke test runs. The others are checked on the runs their own tests make: the default and
// the examples (test_scenarios_run.cpp, the examples at 10 simulated minutes), the energy and reliability ones
// (test_energy_scenarios.cpp, test_reliability_scenarios.cpp; rack_failure_peak's repair is 5 h past its horizon).
const std::vector<Case> kCases{
    {"scenarios/plans/chat_70b.yaml", ""},
    {"scenarios/validation/cpu-small-llama.yaml", ""},
};

// The `--set` overrides of a case, as load_scenario takes them.
std::vector<std::string> overrides(const std::string& extra) {
  std::vector<std::string> out;
  for (size_t at = extra.find("--set "); at != std::string::npos; at = extra.find("--set ", at + 1)) {
    const size_t from = at + 6, to = extra.find(' ', from);
    out.push_back(extra.substr(from, to == std::string::npos ? std::string::npos : to - from));
  }
  return out;
}

class SummaryWindow : public ::testing::TestWithParam<Case> {};

void PrintTo(const Case& c, std::ostream* os) { *os << c.scenario << " " << c.extra; }

}  // namespace

TEST_P(SummaryWindow, TotalsAndMeansCoverTheSeriesWindow) {
  const Case& c = GetParam();
  std::string name = c.scenario.substr(c.scenario.find('/') + 1);
  for (char& ch : name)
    if (ch == '/' || ch == '.') ch = '_';
  const ResultsReader r(run_scenario_file(scratch_dir("summary_window_" + name), c.scenario, "run", c.extra));
  expect_totals_cover_the_series_window(r, c.scenario, overrides(c.extra));
}

INSTANTIATE_TEST_SUITE_P(EveryScenario, SummaryWindow, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& param_info) {
                           const std::string& path = param_info.param.scenario;
                           std::string n = path.substr(path.find('/') + 1);
                           n = n.substr(0, n.rfind('.'));
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });
