// `aifsim plan` end to end on the constant-step plan whose answer is known by hand (tests/data/plans): the
// candidate pruned by the bound really misses, 2 replicas are chosen, 3 with a rack down; resume; --jobs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "../support/aifsim_process.hpp"
#include "aif/analysis/plan_table.hpp"
#include "aif/analysis/results.hpp"
#include "aif/studies/plan.hpp"

using namespace aif::testing;
namespace fs = std::filesystem;

namespace {

// plan.csv as id -> column -> cell, read through the table's one reader (aif/analysis/plan_table.hpp).
std::map<std::string, std::map<std::string, std::string>> read_plan_csv(const std::string& path) {
  const auto cells = aif::analysis::plan_table_cells(aif::analysis::read_plan_table(path));
  std::map<std::string, std::map<std::string, std::string>> rows;
  for (size_t r = 1; r < cells.size(); ++r)
    for (size_t c = 0; c < cells.front().size(); ++c) rows[cells[r][0]][cells.front()[c]] = cells[r][c];
  return rows;
}

}  // namespace

TEST(PlanRun, ChoosesTheCandidatesWorkedOutByHand) {
  const std::string dir = scratch_dir("plan_run");
  const std::string cmd = "plan " + source_path("tests/data/plans/constant.plan.yaml") + " -o " + dir;
  auto r = run_aifsim(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rows = read_plan_csv(dir + "/plan.csv");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows["c0000"]["status"], "pruned: analytic bound");
  EXPECT_EQ(rows["c0001"]["status"], "simulated");
  EXPECT_EQ(rows["c0001"]["meets"], "yes");
  EXPECT_EQ(rows["c0001"]["n1.meets"], "no");  // one replica left: as slow as c0000
  EXPECT_EQ(rows["c0002"]["n1.meets"], "yes");
  EXPECT_EQ(rows["c0001"]["chosen"], "yes");
  EXPECT_EQ(rows["c0002"]["chosen"], "with failure");
  EXPECT_EQ(rows["c0001"]["cost_per_h"], "2");  // 2 GPUs at 1 per hour, energy free here
  EXPECT_NE(r.output.find("**c0001**: replicas 2; 2 rack(s), 2 GPUs, **2.00 USD/h**"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(dir + "/plan.md"));
  // The plan's own measure of a run equals the summary's (the recorder's percentile of the same requests).
  const aif::sim::PlanConfig plan = aif::sim::load_plan(source_path("tests/data/plans/constant.plan.yaml"));
  const auto candidates = aif::sim::enumerate_candidates(plan);
  const auto out = aif::sim::measure_plan_run(plan, candidates[1], dir + "/points/c0001.h5");
  aif::analysis::ResultsReader results(dir + "/points/c0001.h5");
  EXPECT_NEAR(out.latency_s.at("ttft_p99"), *results.summary_value("llm.ttft_p99"), 1e-3 * out.latency_s.at("ttft_p99"));
  EXPECT_EQ(out.availability, 1.0);
  // Rerun: nothing simulated again, the same table.
  const std::string before = read_bytes(dir + "/plan.csv");
  r = run_aifsim(cmd);
  EXPECT_NE(r.output.find("0 runs now, 4 reused"), std::string::npos) << r.output;
  EXPECT_EQ(read_bytes(dir + "/plan.csv"), before);
  // The plan's report: the answer, a cost chart with and without the failure (one marker per simulated candidate:
  // c0001 and c0002; with the failure the same two runs), every candidate in the table.
  r = run_aifsim("report " + dir + " -o " + dir + "/plan.html");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string html = read_bytes(dir + "/plan.html");
  auto figure = [&](const std::string& id) {
    const size_t at = html.find("id=\"chart-" + id + "\"");
    return at == std::string::npos ? std::string() : html.substr(at, html.find("</figure>", at) - at);
  };
  auto count = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count(figure("plan-cost"), "<circle class=\"series"), 2u);
  EXPECT_EQ(count(figure("plan-cost-failure"), "<circle class=\"series"), 2u);
  EXPECT_EQ(count(html, "<tr"), 1u + 3u);  // header + candidates
  EXPECT_NE(html.find("Cheapest meeting them with 1 rack(s) down"), std::string::npos);
  // Two at a time: the same table.
  const std::string dir2 = scratch_dir("plan_run_jobs2");
  r = run_aifsim("plan " + source_path("tests/data/plans/constant.plan.yaml") + " -o " + dir2 + " --jobs 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_bytes(dir2 + "/plan.csv"), before);
}

// --check-pruned simulates the pruned candidate too and says that it misses (the bound holds).
TEST(PlanRun, CheckPrunedSimulatesThePrunedCandidates) {
  const std::string dir = scratch_dir("plan_check_pruned");
  const auto r = run_aifsim("plan " + source_path("tests/data/plans/constant.plan.yaml") + " -o " + dir +
                            " --check-pruned");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("check c0000"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1 pruned candidate(s) simulated, every one misses the SLOs"), std::string::npos) << r.output;
  EXPECT_NE(read_bytes(dir + "/plan.csv").find("checked: simulated, it misses (ttft_p99"), std::string::npos);
}

// The pruned candidate, simulated anyway: it misses the SLO, and by at least the bound the planner gave.
TEST(PlanRun, APrunedCandidateMissesWhenSimulated) {
  const std::string dir = scratch_dir("plan_pruned");
  const auto r = run_aifsim("run " + source_path("tests/data/scenarios/plan_constant.yaml") + " -q -o " + dir +
                            "/one.h5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  aif::analysis::ResultsReader results(dir + "/one.h5");
  const double p99 = *results.summary_value("llm.ttft_p99");
  std::printf("1 replica simulated: p99 TTFT %.4f s; planner's lower bound 1.96025 s; SLO 1 s\n", p99);
  EXPECT_GE(p99, 1.96025);
  EXPECT_GT(p99, 1.0);
}
