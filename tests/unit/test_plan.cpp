// Capacity planning pieces without simulating: the cost model, the candidates and their facility, the analytic
// bounds (worked out by hand on a constant-step service), the Pareto front (against brute force), bad plan files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include "../support/aifsim_process.hpp"
#include "../support/test_seed.hpp"
#include "aif/analysis/report.hpp"
#include "aif/studies/plan.hpp"
#include "aif/scenario/scenario.hpp"

using namespace aif::testing;
namespace fs = std::filesystem;
using aif::sim::PlanConfig;

namespace {

PlanConfig constant_plan() { return aif::sim::load_plan(source_path("tests/data/plans/constant.plan.yaml")); }

}  // namespace

TEST(PlanCost, GpuHourAndCapexByHand) {
  aif::sim::PlanCost rent;
  rent.gpu_hour = {{"H100-SXM", 2.5}};
  EXPECT_DOUBLE_EQ(rent.gpu_hourly("H100-SXM"), 2.5);
  EXPECT_THROW(rent.gpu_hourly("A100-80GB"), std::out_of_range);
  aif::sim::PlanCost own;
  own.capex = {{"H100-SXM", 30000}};
  own.amortization_h = 4 * 8760;  // four years
  own.opex_gpu_hour = 0.25;
  EXPECT_DOUBLE_EQ(own.gpu_hourly("H100-SXM"), 30000.0 / 35040.0 + 0.25);  // 1.1062 per GPU-hour
}

TEST(PlanCost, CapexFromAPlanFile) {
  const std::string dir = scratch_dir("plan_capex");
  const std::string path = dir + "/capex.plan.yaml";
  std::ofstream(path) << "base: " << source_path("tests/data/scenarios/plan_constant.yaml") << "\n"
                      << "service: llm\nspace: {replicas: [1]}\nslo: {availability: 0.9}\n"
                      << "cost: {capex: {H100-SXM: 26280}, amortization: 1095d, opex_gpu_hour: 0.5, currency: EUR}\n";
  const PlanConfig plan = aif::sim::load_plan(path);
  // 1095 d = 3 years = 26,280 h: 26,280 per GPU is 1 per hour, plus the opex.
  EXPECT_DOUBLE_EQ(plan.cost.gpu_hourly("H100-SXM"), 1.5);
  EXPECT_EQ(plan.cost.currency, "EUR");
}

TEST(PlanCandidates, OneRackPerGpuHereSoCostFollowsReplicas) {
  const PlanConfig plan = constant_plan();
  const auto candidates = aif::sim::enumerate_candidates(plan);
  ASSERT_EQ(candidates.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    const auto& c = candidates[static_cast<size_t>(i)];
    EXPECT_TRUE(c.invalid.empty()) << c.invalid;
    EXPECT_EQ(c.settings.at(0), std::make_pair(std::string("replicas"), std::to_string(i + 1)));
    EXPECT_EQ(c.racks, i + 1);  // 1 GPU per rack, tp 1
    EXPECT_EQ(c.gpus, i + 1);
    EXPECT_DOUBLE_EQ(c.gpu_cost_per_h, (i + 1) * 1.0);
    EXPECT_NE(std::find(c.overrides.begin(), c.overrides.end(), "facility.racks=" + std::to_string(i + 1)),
              c.overrides.end());
  }
  // The stated failure: the first rack down from 0 s for the run's 10 s, appended to the scenario's incidents.
  const auto sc = aif::sim::load_scenario(plan.base_path, candidates[1].overrides);
  const auto failure = aif::sim::failure_overrides(plan, sc);
  ASSERT_EQ(failure.size(), 1u);
  auto with = candidates[1].overrides;
  with.push_back(failure[0]);
  const auto down = aif::sim::load_scenario(plan.base_path, with);
  ASSERT_EQ(down.failures.incidents.size(), 1u);
  EXPECT_EQ(down.failures.incidents[0].at_s, 0.0);
  EXPECT_EQ(down.failures.incidents[0].duration_s, 10.0);
  ASSERT_EQ(down.failures.incidents[0].targets.size(), 1u);
  EXPECT_EQ(down.failures.incidents[0].targets[0].text, "rack/0");
}

// The backlog bound by hand. Steps take 10 ms whatever the batch; 4 sequences per replica: one replica produces at
// most 400 output tokens/s; 100 requests 0.1 s apart with 50 output tokens offer 500/s over the 10 s run
// (utilization 1.25). Request i is admitted no earlier than (50 i - 4 x 50) / 400 s (tokens owed before it, less
// those of the 4 requests a replica may still be decoding), so its wait is at least 0.025 i - 0.5 s (i > 20), plus
// one 10 ms step. p99 by linear interpolation between i = 98 (1.96 s) and 99 (1.985 s) at 0.01: 1.96025 s > 1 s.
TEST(PlanBounds, BacklogBoundByHandOnConstantSteps) {
  const PlanConfig plan = constant_plan();
  const auto candidates = aif::sim::enumerate_candidates(plan);
  const auto one = aif::sim::analytic_bound(plan, aif::sim::load_scenario(plan.base_path, candidates[0].overrides));
  std::printf("1 replica: min step %.6f s (by hand 0.01), capacity %.3f tokens/s (400), offered %.3f (500), "
              "utilization %.6f (1.25), p99 TTFT bound %.6f s (1.96025)\n",
              one.min_step_s, one.capacity_tokens_per_s, one.offered_tokens_per_s, one.utilization, one.backlog_wait_s);
  EXPECT_DOUBLE_EQ(one.min_step_s, 0.01);
  EXPECT_NEAR(one.capacity_tokens_per_s, 400, 1e-9);
  EXPECT_NEAR(one.offered_tokens_per_s, 500, 1e-9);
  EXPECT_NEAR(one.utilization, 1.25, 1e-12);
  EXPECT_NEAR(one.backlog_wait_s, 1.96025, 1e-9);
  EXPECT_NE(one.infeasible.find("ttft_p99 >= 1.96025 s"), std::string::npos) << one.infeasible;
  // Two replicas: 800 tokens/s, utilization 0.625, nothing to prune.
  const auto two = aif::sim::analytic_bound(plan, aif::sim::load_scenario(plan.base_path, candidates[1].overrides));
  EXPECT_NEAR(two.utilization, 0.625, 1e-12);
  EXPECT_TRUE(two.infeasible.empty()) << two.infeasible;
}

// The prefill bound counts only the prompt tokens no cache can spare. 100 identical 1,024-token prompts offer 102,400
// tokens over 10 s = 10,240/s against 64 tokens / 10 ms = 6,400/s: utilization 1.6 without prefix caching. With it,
// the first computes 1,024 and each later one at least its last block: both trace blocks were seen, so 2 x 512 / 16 =
// 64 blocks could be cached, at most (1,024 - 1) / 16 = 63 of them (one token is always computed): 16 tokens each.
// (1,024 + 99 x 16) / 10 s / 6,400 = 0.04075, above the decode side's 10 tokens/s / 400 = 0.025.
TEST(PlanBounds, PrefixCachingLowersThePrefillBoundByWhatACacheCanSpare) {
  const std::string dir = scratch_dir("plan_prefix_cache");
  for (const bool caching : {false, true}) {
    const std::string path = dir + "/p.plan.yaml";
    std::ofstream(path) << "base: " << source_path("tests/data/scenarios/plan_prefix_cache.yaml") << "\n"
                        << "set:\n  services[0].scheduler.prefix_caching: " << (caching ? "true" : "false") << "\n"
                        << "service: llm\nspace: {replicas: [1]}\nslo: {ttft: {p99: 1s}}\n"
                        << "cost: {gpu_hour: {H100-SXM: 1}}\n";
    const PlanConfig plan = aif::sim::load_plan(path);
    const auto c = aif::sim::enumerate_candidates(plan);
    const auto b = aif::sim::analytic_bound(plan, aif::sim::load_scenario(plan.base_path, c[0].overrides));
    EXPECT_NEAR(b.utilization, caching ? 0.04075 : 1.6, 1e-12) << (caching ? "with" : "without") << " caching";
    EXPECT_EQ(b.infeasible.empty(), caching) << b.infeasible;
  }
}

TEST(PlanBounds, ALatencySloBelowTheShortestStepIsPruned) {
  const std::string dir = scratch_dir("plan_min_step");
  const std::string path = dir + "/tight.plan.yaml";
  std::ofstream(path) << "base: " << source_path("tests/data/scenarios/plan_constant.yaml") << "\n"
                      << "service: llm\nspace: {replicas: [5]}\nslo: {tpot: {p50: 9ms}}\n"
                      << "cost: {gpu_hour: {H100-SXM: 1}}\n";
  const PlanConfig plan = aif::sim::load_plan(path);
  const auto c = aif::sim::enumerate_candidates(plan);
  const auto b = aif::sim::analytic_bound(plan, aif::sim::load_scenario(plan.base_path, c[0].overrides));
  EXPECT_NE(b.infeasible.find("below the shortest step a replica can take (0.01 s)"), std::string::npos)
      << b.infeasible;
}

// analysis::pareto_front (the plan's and the sweep report's frontier) against brute force: a point is on the front
// when no other point is at most as costly and as slow, and strictly better in one of the two.
TEST(PlanFrontier, ParetoFrontEqualsBruteForce) {
  AIF_TEST_SEED(seed, 7);
  std::mt19937 rng(static_cast<std::mt19937::result_type>(seed));
  std::uniform_int_distribution<int> coarse(0, 20);  // ties on purpose
  for (int trial = 0; trial < 200; ++trial) {
    const size_t n = 1 + trial % 40;
    std::vector<double> cost(n), latency(n);
    for (size_t i = 0; i < n; ++i) cost[i] = coarse(rng), latency[i] = trial % 7 == 0 && i == 0 ? NAN : coarse(rng);
    std::set<size_t> expected;
    for (size_t i = 0; i < n; ++i) {
      if (std::isnan(latency[i])) continue;
      bool dominated = false;
      for (size_t j = 0; j < n; ++j) {
        if (std::isnan(latency[j])) continue;
        const bool no_worse = cost[j] <= cost[i] && latency[j] <= latency[i];
        const bool better = cost[j] < cost[i] || latency[j] < latency[i];
        dominated |= no_worse && better;
      }
      if (!dominated) expected.insert(i);
    }
    const std::vector<size_t> front = aif::analysis::pareto_front(cost, latency);
    EXPECT_EQ(std::set<size_t>(front.begin(), front.end()), expected) << "trial " << trial;
    for (size_t k = 1; k < front.size(); ++k) EXPECT_LE(cost[front[k - 1]], cost[front[k]]);  // by cost
  }
}

// tests/data/bad_plans: each file announces its error (`# expect: key | message`, `# expect-line: N`).
TEST(BadPlans, EachGivesItsErrorAtItsLine) {
  int files = 0;
  for (const auto& entry : fs::directory_iterator(source_path("tests/data/bad_plans"))) {
    std::ifstream in(entry.path());
    std::string line, key, message;
    int expect_line = -1;
    while (std::getline(in, line)) {
      if (line.rfind("# expect: ", 0) == 0) {
        const std::string rest = line.substr(10);
        key = rest.substr(0, rest.find(" | "));
        message = rest.substr(rest.find(" | ") + 3);
      }
      if (line.rfind("# expect-line: ", 0) == 0) expect_line = std::stoi(line.substr(15));
    }
    ASSERT_FALSE(key.empty()) << entry.path() << " has no '# expect:' line";
    ++files;
    try {
      aif::sim::load_plan(entry.path().string());
      ADD_FAILURE() << entry.path() << " loaded";
    } catch (const aif::sim::ScenarioError& e) {
      EXPECT_EQ(e.key_path(), key) << entry.path() << ": " << e.what();
      EXPECT_EQ(e.line(), expect_line) << entry.path() << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << entry.path() << ": " << e.what();
    }
  }
  EXPECT_GE(files, 11);
}
