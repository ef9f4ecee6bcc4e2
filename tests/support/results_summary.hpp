// The /summary of a results file as a name -> value map, for tests that compare many metrics.
#pragma once
#include <cmath>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "aif/analysis/results.hpp"
#include "aifsim_process.hpp"

namespace aif::testing {

inline std::map<std::string, double> summary_of(const aif::analysis::ResultsReader& r) {
  std::map<std::string, double> out;
  for (const auto& e : r.summary()) out[e.name] = e.value;
  return out;
}

// One summary metric the run must have written (a failure of the calling test when it did not; NaN then).
inline double summary_metric(const aif::analysis::ResultsReader& r, const std::string& name) {
  const auto v = r.summary_value(name);
  EXPECT_TRUE(v.has_value()) << "summary has no " << name;
  return v.value_or(std::nan(""));
}

// `aifsim run` of a scenario of the source tree (`scenario`, relative to it) with extra arguments, into
// dir/name.h5; a non-zero exit fails the calling test. Returns the results path.
inline std::string run_scenario_file(const std::string& dir, const std::string& scenario, const std::string& name,
                                     const std::string& extra = "") {
  const std::string out = dir + "/" + name + ".h5";
  const auto run = run_aifsim("run " + source_path(scenario) + " -q " + extra + " -o " + out);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  return out;
}

}  // namespace aif::testing
