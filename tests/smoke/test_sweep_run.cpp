// `aifsim sweep` end to end: points as processes, the tables, resuming, and a failing point.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "../support/aifsim_process.hpp"
#include "aif/analysis/results.hpp"
#include "aif/analysis/sweep_table.hpp"

using namespace aif::testing;
namespace fs = std::filesystem;

namespace {

int lines_of(const fs::path& p) {
  std::ifstream in(p);
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

}  // namespace

TEST(SweepRun, RunsResumesAndTabulates) {
  const std::string dir = scratch_dir("sweep_run");
  const std::string cmd = "sweep " + source_path("scenarios/sweeps/replicas_by_rate.yaml") + " -o " + dir;
  auto r = run_aifsim(cmd + " --jobs 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("18 points (0 done before, 18 to run"), std::string::npos) << r.output;
  EXPECT_EQ(lines_of(fs::path(dir) / "sweep.csv"), 1 + 18);
  EXPECT_EQ(lines_of(fs::path(dir) / "sweep_summary.csv"), 1 + 6);
  // The HDF5 table holds the same points, and each metric is its point's own summary value.
  const auto h5 = aif::analysis::read_sweep_table(dir + "/sweep.h5");
  ASSERT_EQ(h5.ids.size(), 18u);
  ASSERT_EQ(h5.axes.size(), 2u);
  EXPECT_EQ(h5.axes[0].first, "services[0].replicas");
  EXPECT_EQ(h5.axes[1].second[3], "4/s");  // p0001-s0
  EXPECT_EQ(h5.seeds[2], 3u);
  for (size_t i : {0u, 7u, 17u}) {
    aif::analysis::ResultsReader point(dir + "/points/" + h5.ids[i] + ".h5");
    EXPECT_EQ(h5.values.at("requests")[i], *point.summary_value("requests")) << h5.ids[i];
    EXPECT_EQ(h5.statuses[i], "ok");
  }
  EXPECT_EQ(h5.units.at("ttft_p99"), "s");
  // The same command again runs nothing; a lost point is run again, alone.
  r = run_aifsim(cmd);
  EXPECT_NE(r.output.find("(18 done before, 0 to run"), std::string::npos) << r.output;
  fs::remove(fs::path(dir) / "points" / "p0003-s1.h5");
  r = run_aifsim(cmd);
  EXPECT_NE(r.output.find("(17 done before, 1 to run"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("p0003-s1 done"), std::string::npos) << r.output;
}

TEST(SweepRun, AFailedPointIsRecordedAndTheOthersRun) {
  const std::string dir = scratch_dir("sweep_fail");
  const auto r = run_aifsim("sweep " + source_path("tests/data/sweeps/failing_point.yaml") + " -o " + dir);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(fs::exists(fs::path(dir) / "points" / "p0000.h5"));
  EXPECT_TRUE(fs::exists(fs::path(dir) / "points" / "p0001.error"));
  std::ifstream table(fs::path(dir) / "sweep.csv");
  std::string header, first, second;
  std::getline(table, header);
  std::getline(table, first);
  std::getline(table, second);
  EXPECT_NE(first.find(",ok,"), std::string::npos) << first;
  EXPECT_NE(second.find(",failed"), std::string::npos) << second;
}
