// `aifsim sweep` end to end: points as processes, the tables, resuming, and a failing point.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

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

namespace {

// mpirun from OpenMPI, allowed to run as root (CI containers) and to start more ranks than cores.
std::string mpirun(int ranks) {
  return "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np " + std::to_string(ranks) +
         " --oversubscribe " + aifsim_binary() + " ";
}

// A visible skip where mpirun is missing or aifsim was built without MPI.
std::string mpi_unavailable() {
  if (run_command("command -v mpirun").exit_code != 0) return "mpirun not installed (Debian: openmpi-bin)";
  const auto probe = run_aifsim("sweep " + source_path("scenarios/sweeps/replicas_by_rate.yaml") +
                                " -o " + scratch_dir("sweep_mpi_probe") + " --mpi --dry-run");
  if (probe.output.find("built without MPI") != std::string::npos) return "aifsim built without MPI";
  return "";
}

}  // namespace

// `mpirun -np 2 aifsim sweep --mpi` gives the very tables of a local `--jobs 2` sweep (each point's results are its
// own run's, whoever ran it), both ranks take points, and a rerun resumes as locally.
TEST(SweepRun, MpiRanksShareThePointsAndGiveTheLocalTables) {
  if (const std::string why = mpi_unavailable(); !why.empty()) GTEST_SKIP() << why;
  const std::string sweep = source_path("scenarios/sweeps/replicas_by_rate.yaml");
  const std::string local = scratch_dir("sweep_mpi_local"), mpi = scratch_dir("sweep_mpi");
  auto r = run_aifsim("sweep " + sweep + " -o " + local + " --jobs 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = run_command(mpirun(2) + "sweep " + sweep + " -o " + mpi + " --mpi");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("18 points (0 done before, 18 to run, 1 at a time on each of 2 MPI ranks)"),
            std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" done on rank 0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(" done on rank 1"), std::string::npos) << r.output;
  EXPECT_EQ(read_bytes(local + "/sweep.csv"), read_bytes(mpi + "/sweep.csv"));
  EXPECT_EQ(read_bytes(local + "/sweep_summary.csv"), read_bytes(mpi + "/sweep_summary.csv"));
  // Resume: a lost point is run again, alone, by some rank; the rest is skipped.
  fs::remove(fs::path(mpi) / "points" / "p0004-s2.h5");
  r = run_command(mpirun(2) + "sweep " + sweep + " -o " + mpi + " --mpi");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("(17 done before, 1 to run"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[1/1] p0004-s2 done on rank"), std::string::npos) << r.output;
  EXPECT_EQ(read_bytes(local + "/sweep.csv"), read_bytes(mpi + "/sweep.csv"));
}

TEST(SweepRun, MpiFailedPointsAndBadSweepFiles) {
  if (const std::string why = mpi_unavailable(); !why.empty()) GTEST_SKIP() << why;
  const std::string dir = scratch_dir("sweep_mpi_fail");
  auto r = run_command(mpirun(2) + "sweep " + source_path("tests/data/sweeps/failing_point.yaml") + " -o " + dir +
                       " --mpi");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(fs::path(dir) / "points" / "p0000.h5"));
  EXPECT_TRUE(fs::exists(fs::path(dir) / "points" / "p0001.error"));
  EXPECT_NE(r.output.find("p0001 FAILED on rank"), std::string::npos) << r.output;
  // A bad sweep file: every rank stops, and the message is printed once.
  r = run_command(mpirun(2) + "sweep " + source_path("tests/data/bad_scenarios/01_unknown_top_key.yaml") + " -o " +
                  scratch_dir("sweep_mpi_bad") + " --mpi");
  EXPECT_NE(r.exit_code, 0);
  const std::string message = "unknown key 'simulaton'";
  const size_t first = r.output.find(message);
  ASSERT_NE(first, std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(message, first + 1), std::string::npos) << "printed twice:\n" << r.output;
}

// A results file marked partial (a stopped run) is not a finished point: the sweep runs it again.
TEST(SweepRun, APartialPointIsRunAgain) {
  const std::string dir = scratch_dir("sweep_partial");
  const std::string cmd = "sweep " + source_path("tests/data/sweeps/failing_point.yaml") + " -o " + dir;
  run_aifsim(cmd);
  // Replace p0000's results by a stopped run (any scenario: the sweep's check must see that it is partial; the
  // 54-day training scenario takes far longer than the 1 s before the stop).
  const std::string point = dir + "/points/p0000.h5";
  const auto stopped = run_command("timeout -s TERM 1 " + aifsim_binary() + " run " +
                                   source_path("scenarios/reliability/llama3-scale.yaml") +
                                   " --partial-on-stop -q -o " + point);
  aif::analysis::ResultsReader before(point);
  ASSERT_EQ(before.meta()["partial"], "1") << stopped.output;
  const auto r = run_aifsim(cmd);
  EXPECT_NE(r.output.find("(0 done before, 2 to run"), std::string::npos) << r.output;
  aif::analysis::ResultsReader after(point);
  EXPECT_EQ(after.meta().count("partial"), 0u);
}

// SIGTERM to a sweep (kill, a batch system's limit) stops its running points too: no orphan run is left writing
// into the folder, and the same command then finishes with the tables of an uninterrupted sweep.
TEST(SweepRun, AStoppedSweepLeavesNoRunBehindAndResumes) {
  const std::string sweep = source_path("tests/data/sweeps/slow_points.yaml");
  const std::string whole = scratch_dir("sweep_whole"), dir = scratch_dir("sweep_stopped");
  ASSERT_EQ(run_aifsim("sweep " + sweep + " -o " + whole).exit_code, 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::string self = aifsim_binary(), out = dir;
    freopen("/dev/null", "w", stdout);
    execl(self.c_str(), self.c_str(), "sweep", sweep.c_str(), "-o", out.c_str(), "--jobs", "2", nullptr);
    _exit(127);
  }
  auto done_points = [&] {
    int n = 0;
    if (fs::exists(dir + "/points"))
      for (const auto& e : fs::directory_iterator(dir + "/points")) n += e.path().extension() == ".set";
    return n;
  };
  for (int i = 0; i < 3000 && done_points() < 2; ++i) usleep(10000);
  ASSERT_GE(done_points(), 2) << "the sweep did not get going";
  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  const int finished_before = done_points();
  // No `aifsim run` writing into the folder survives the sweep: they had a SIGTERM and are gone within 0.2 s (a
  // point takes about 0.3 s, so orphans left to finish on their own would still be seen).
  auto runs_left = [&] { return processes_with(dir + "/points/"); };
  for (int i = 0; i < 20 && runs_left() > 0; ++i) usleep(10000);
  EXPECT_EQ(runs_left(), 0);
  int to_resume_from = finished_before;
  if (finished_before < 8) {
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM) << status;
  } else {
    // Every point finished before the stop reached the sweep (a slow machine between the polls): it exited 0, or
    // was stopped while writing its tables. Losing two points' markers leaves the resume below two points to run
    // all the same.
    EXPECT_TRUE(WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 128 + SIGTERM)) << status;
    std::vector<fs::path> markers;
    for (const auto& e : fs::directory_iterator(dir + "/points"))
      if (e.path().extension() == ".set") markers.push_back(e.path());
    std::sort(markers.begin(), markers.end());
    ASSERT_EQ(markers.size(), 8u);
    fs::remove(markers[6]);
    fs::remove(markers[7]);
    to_resume_from = 6;
  }
  const auto r = run_aifsim("sweep " + sweep + " -o " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("(" + std::to_string(to_resume_from) + " done before"), std::string::npos) << r.output;
  EXPECT_EQ(read_bytes(dir + "/sweep.csv"), read_bytes(whole + "/sweep.csv"));
}
