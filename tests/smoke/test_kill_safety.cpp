// Runs, sweeps and plans killed at random moments (SIGKILL: no handler runs) leave no final file half-written: a
// results file, table or report either is absent or reads whole. The .tmp files a kill leaves are truncated and
// reused by the next command to the same output, which completes with nothing left over. A run stopped by SIGTERM
// without --partial-on-stop (a batch system's limit) exits 128 + 15 and leaves nothing at all.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../support/aifsim_process.hpp"
#include "aif/analysis/results.hpp"
#include "aif/analysis/sweep_table.hpp"

using namespace aif::testing;
namespace fs = std::filesystem;

namespace {

// Starts aifsim with `args` (output to /dev/null) and returns its pid.
pid_t start(const std::vector<std::string>& args) {
  const pid_t pid = fork();
  if (pid == 0) {
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    std::vector<std::string> all{aifsim_binary()};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Wall seconds a whole command takes here (the kills land uniformly within it).
double timed(const std::vector<std::string>& args) {
  const auto t0 = std::chrono::steady_clock::now();
  int status = 0;
  waitpid(start(args), &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A results file that exists reads whole: its tables open and its fingerprint matches its rows.
void expect_whole_results(const fs::path& path) {
  if (!fs::exists(path)) return;
  const aif::analysis::ResultsReader r(path.string());
  const auto stored = r.stored_fingerprint();
  ASSERT_TRUE(stored.has_value()) << path;
  EXPECT_EQ(*stored, r.compute_fingerprint()) << path;
}

// Files under `dir` with this extension.
std::vector<fs::path> files_with(const fs::path& dir, const std::string& extension) {
  std::vector<fs::path> found;
  if (fs::exists(dir))
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (e.path().extension() == extension) found.push_back(e.path());
  return found;
}

// Kills `args` `times` times, each after a uniformly drawn share of `whole_s`, and checks the outputs each time.
template <class Check>
void kill_at_random(const std::vector<std::string>& args, double whole_s, int times, unsigned seed, Check check) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> at(0, whole_s);
  for (int k = 0; k < times; ++k) {
    const double delay = at(rng);
    const pid_t pid = start(args);
    std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    SCOPED_TRACE("kill " + std::to_string(k) + " after " + std::to_string(delay) + " s");
    check();
  }
}

}  // namespace

TEST(KillSafety, ARunKilledAnywhereLeavesNoHalfWrittenResults) {
  const std::string dir = scratch_dir("kill_run");
  const fs::path out = dir + "/r.h5";
  const std::vector<std::string> args{"run", source_path("scenarios/examples/poisson.yaml"), "-o", out.string(), "-q"};
  const double whole = timed(args);
  fs::remove(out);
  kill_at_random(args, whole * 1.2, 20, 7, [&] { expect_whole_results(out); });
  // The next run reuses the .tmp a kill left, completes, and leaves none.
  ASSERT_EQ(run_aifsim("run " + args[1] + " -o " + out.string() + " -q").exit_code, 0);
  expect_whole_results(out);
  EXPECT_TRUE(files_with(dir, ".tmp").empty());
}

TEST(KillSafety, SigtermWithoutPartialOnStopLeavesNothing) {
  const std::string dir = scratch_dir("term_run");
  const fs::path out = dir + "/r.h5";
  // A run of an hour of the default scenario: long enough to be stopped in the middle.
  const pid_t pid = start({"run", source_path("scenarios/default.yaml"), "-o", out.string(), "-q"});
  for (int i = 0; i < 500 && !fs::exists(out.string() + ".tmp"); ++i) usleep(10000);
  ASSERT_TRUE(fs::exists(out.string() + ".tmp")) << "the run did not start writing";
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM) << status;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out.string() + ".tmp"));
}

TEST(KillSafety, ASweepKilledAnywhereStopsItsPointsAndResumes) {
  const std::string dir = scratch_dir("kill_sweep");
  const std::vector<std::string> args{"sweep", source_path("tests/data/sweeps/slow_points.yaml"), "-o", dir, "--jobs", "2"};
  const double whole = timed(args);
  fs::remove_all(dir);
  kill_at_random(args, whole, 6, 11, [&] {
    // The kernel stops the points (PR_SET_PDEATHSIG): none runs on, writing into the folder.
    for (int i = 0; i < 100 && processes_with(dir + "/points/") > 0; ++i) usleep(10000);
    EXPECT_EQ(processes_with(dir + "/points/"), 0);
    for (const fs::path& p : files_with(dir + "/points", ".h5")) expect_whole_results(p);
    if (fs::exists(dir + "/sweep.h5")) {
      EXPECT_NO_THROW(aif::analysis::read_sweep_table(dir + "/sweep.h5"));
    }
  });
  const auto r = run_aifsim("sweep " + args[1] + " -o " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(files_with(dir + "/points", ".set").size(), 8u);
  EXPECT_TRUE(files_with(dir, ".tmp").empty());
  EXPECT_TRUE(fs::exists(dir + "/sweep.csv"));
}

TEST(KillSafety, APlanKilledAnywhereResumesToTheSameAnswer) {
  const std::string whole_dir = scratch_dir("plan_whole"), dir = scratch_dir("kill_plan");
  const std::string plan = source_path("tests/data/plans/constant.plan.yaml");
  const double whole = timed({"plan", plan, "-o", whole_dir});
  kill_at_random({"plan", plan, "-o", dir}, whole, 6, 13, [&] {
    for (const fs::path& p : files_with(dir + "/points", ".h5")) expect_whole_results(p);
  });
  const auto r = run_aifsim("plan " + plan + " -o " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(read_bytes(dir + "/plan.csv"), read_bytes(whole_dir + "/plan.csv"));
  EXPECT_TRUE(files_with(dir, ".tmp").empty());
}
