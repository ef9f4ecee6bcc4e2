// The estimate made before a run (aif/scenario/run_estimate.hpp) against closed forms, and the refusal of a run
// beyond the limits: the key to change, its line, the limit and the way past it.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "aif/inputs/input_error.hpp"
#include "aif/scenario/run_estimate.hpp"
#include "aif/scenario/scenario.hpp"

using aif::sim::ScenarioError;

namespace {

const std::string SOURCE_DIR = AIF_SOURCE_DIR;

}  // namespace

TEST(RunEstimate, RequestsAndSamplesFollowTheScenario) {
  // scenarios/examples/poisson.yaml: 5 requests/s for 10 min, a sample every 5 s, one service.
  const auto sc = aif::sim::load_scenario(SOURCE_DIR + "/scenarios/examples/poisson.yaml");
  const auto e = aif::sim::estimate_run(sc, false);
  EXPECT_DOUBLE_EQ(e.requests, 5.0 * 600);
  EXPECT_DOUBLE_EQ(e.samples, 600.0 / 5 + 1);
  EXPECT_EQ(e.series, 33 + 4);  // the fixed series and four for the one service
  EXPECT_DOUBLE_EQ(e.events, 4 * 3000.0);
  EXPECT_DOUBLE_EQ(e.iteration_rows, 0);
  // Rows of 65 bytes per request (id 8, 3 indices 12, 3 times 24, 4 counts 16, outcome 1, cached tokens 4) and 8 per sample.
  EXPECT_DOUBLE_EQ(e.results_bytes, 3000 * 65.0 + 121 * 37 * 8.0);
  // Iteration-level: at most a step per output token (3,000 x 128 = 384,000) and at most 200 steps a second per
  // replica (2 replicas x 600 s x 200 = 240,000, the smaller bound here).
  const auto it = aif::sim::estimate_run(sc, true);
  EXPECT_DOUBLE_EQ(it.iteration_rows, 240000.0);
  EXPECT_DOUBLE_EQ(it.events, it.iteration_rows + 2 * 3000);
}

TEST(RunEstimate, ConversationsAndDiurnalCurvesAndCaps) {
  const std::string base = SOURCE_DIR + "/scenarios/examples/poisson.yaml";
  // Each arrival opens a conversation of 3 turns.
  auto sc = aif::sim::load_scenario(base, {"workloads[0].conversation={turns: 3, think_time: 10s}"});
  EXPECT_DOUBLE_EQ(aif::sim::estimate_run(sc, false).requests, 3 * 3000.0);
  // A diurnal curve's mean relative rate (0.5 here) scales the peak rate.
  sc = aif::sim::load_scenario(base, {"workloads[0].arrival={kind: diurnal, rate: 4/s, curve: [0.25, 0.75], "
                                      "period: 10min, prompt_tokens: 10, output_tokens: 10}"});
  EXPECT_DOUBLE_EQ(aif::sim::estimate_run(sc, false).requests, 4 * 0.5 * 600);
  // max_requests caps any kind.
  sc = aif::sim::load_scenario(base, {"workloads[0].arrival.max_requests=100"});
  EXPECT_DOUBLE_EQ(aif::sim::estimate_run(sc, false).requests, 100);
}

TEST(RunEstimate, ARunBeyondTheLimitsIsRefusedAtTheKeyToChange) {
  const std::string path = SOURCE_DIR + "/scenarios/examples/poisson.yaml";
  // A sample every microsecond for 10 minutes: 6e8 rows per series, above 1e8.
  auto sc = aif::sim::load_scenario(path, {"simulation.sample_interval=1us"});
  try {
    aif::sim::check_run_limits(sc, aif::sim::estimate_run(sc, false));
    FAIL() << "accepted";
  } catch (const ScenarioError& e) {
    EXPECT_EQ(e.key_path(), "simulation.sample_interval");
    EXPECT_EQ(e.line(), 6);  // where poisson.yaml writes it
    EXPECT_NE(std::string(e.what()).find("600M rows per time series, above the limit of 100M"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("--no-limits"), std::string::npos);
  }
  // 1e7 requests/s (the largest rate a scenario takes) for 10 minutes: 6e9 rows of 65 bytes, 390 GB.
  sc = aif::sim::load_scenario(path, {"workloads[0].arrival.rate=1e7/s"});
  try {
    aif::sim::check_run_limits(sc, aif::sim::estimate_run(sc, false));
    FAIL() << "accepted";
  } catch (const ScenarioError& e) {
    EXPECT_EQ(e.key_path(), "workloads[0].arrival.rate");
    EXPECT_EQ(e.line(), 28);
    EXPECT_NE(std::string(e.what()).find("about 390 GB, above the limit of 50 GB"), std::string::npos) << e.what();
  }
  // Limits are settings: the same scenario passes under larger ones.
  aif::sim::RunLimits generous;
  generous.max_results_bytes = 1e12;
  EXPECT_NO_THROW(aif::sim::check_run_limits(sc, aif::sim::estimate_run(sc, false), generous));
}

// The bound on requests held is half the memory limit at 300 bytes a request: 6 GB -> 3 GB / 300 B = 10,000,000.
TEST(RunEstimate, RequestsHeldBoundIsHalfTheMemoryAtThreeHundredBytesEach) {
  aif::sim::RunLimits limits;
  limits.max_memory_bytes = 6e9;
  EXPECT_EQ(aif::sim::max_requests_held(limits), 10000000);
}
