// `aifsim trace`: the Chrome trace holds every engine step, job step and event of the results file, at their times.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "../support/aifsim_process.hpp"
#include "../support/results_summary.hpp"
#include "aif/analysis/results.hpp"

using namespace aif::testing;
using aif::analysis::ResultsReader;

namespace {

nlohmann::json trace_of(const std::string& results) {
  const auto r = run_aifsim("trace " + results + " -o " + results + ".json");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(results + ".json");
  return nlohmann::json::parse(in);
}

}  // namespace

TEST(ChromeTrace, EveryStepAndEventAtItsTime) {
  const std::string dir = scratch_dir("chrome_trace");
  // Engine steps: an iteration-level run; job steps and events: the shrink scenario.
  const std::string serving = run_scenario_file(dir, "tests/data/scenarios/reliability_failover.yaml", "serving",
                                                "--iteration-level --set simulation.duration=62s");
  const std::string training = run_scenario_file(dir, "tests/data/scenarios/ops_shrink.yaml", "training");
  for (const std::string& path : {serving, training}) {
    ResultsReader r(path);
    const auto trace = trace_of(path);
    const auto iterations = r.iterations();
    const auto steps = r.job_steps();
    const auto events = r.events();
    size_t x_replica = 0, x_job = 0, instants = 0;
    for (const auto& e : trace.at("traceEvents")) {
      const std::string ph = e.at("ph");
      if (ph == "X" && e.at("pid") == 1) {
        const auto& it = iterations.at(x_replica++);
        EXPECT_EQ(e.at("tid").get<int>(), it.replica);
        EXPECT_NEAR(e.at("ts").get<double>(), it.start_s * 1e6, 1e-6);
        EXPECT_NEAR(e.at("dur").get<double>(), it.duration_s * 1e6, 1e-6);
      } else if (ph == "X" && e.at("pid") == 2) {
        const auto& st = steps.at(x_job++);
        EXPECT_NEAR(e.at("dur").get<double>(), (st.end_s - st.start_s) * 1e6, 1e-6);
        EXPECT_NEAR(e.at("args").at("compute_s").get<double>(), st.compute_s, 1e-12);
      } else if (ph == "i") {
        EXPECT_NEAR(e.at("ts").get<double>(), events.at(instants++).time_s * 1e6, 1e-6);
      }
    }
    std::printf("%s: %zu engine steps, %zu job steps, %zu events\n", path.c_str(), x_replica, x_job, instants);
    EXPECT_EQ(x_replica, iterations.size());
    EXPECT_EQ(x_job, steps.size());
    EXPECT_EQ(instants, events.size());
  }
  EXPECT_NE(run_aifsim("trace " + dir + "/missing.h5").exit_code, 0);
}
