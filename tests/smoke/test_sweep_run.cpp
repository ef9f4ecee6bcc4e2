// `aifsim sweep` end to end: points as processes, the tables, resuming, and a failing point.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "../support/aifsim_process.hpp"

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
