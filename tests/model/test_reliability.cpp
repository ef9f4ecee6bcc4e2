// Failures, repairs and operations through the aifsim binary, against closed forms and numbers by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "../support/aifsim_process.hpp"
#include "../support/results_summary.hpp"
#include "aif/analysis/results.hpp"

using namespace aif::testing;
using aif::analysis::Outcome;
using aif::analysis::ResultsReader;

namespace {

std::string run_scenario(const std::string& dir, const std::string& scenario, const std::string& name,
                         const std::string& extra = "") {
  return run_scenario_file(dir, "tests/data/scenarios/" + scenario, name, extra);
}

// The number N in a detail "... N request(s) ...".
int requests_in(const std::string& detail) {
  const auto at = detail.find(" request(s)");
  if (at == std::string::npos) return 0;
  auto start = detail.rfind(' ', at - 1);
  return std::stoi(detail.substr(start + 1, at - start - 1));
}

}  // namespace

// 512 GPUs with a per-GPU MTBF of 100 h over 100 h: a Poisson count of mean 512; the 99.9 % two-sided bounds are
// mean +- 3.29 sqrt(mean) = 512 +- 74.4 (normal approximation, fine at this mean). Two seeds.
TEST(Reliability, GpuFailureCountIsWithinPoissonBounds) {
  const std::string dir = scratch_dir("reliability_poisson");
  for (const char* seed : {"1", "2"}) {
    ResultsReader r(run_scenario(dir, "reliability_gpu_poisson.yaml", std::string("s") + seed,
                                 std::string("--set failures.seed=") + seed));
    const auto s = summary_of(r);
    const double mean = 512, half = 3.29 * std::sqrt(mean);
    std::printf("seed %s: %.0f GPU failures; by hand %.0f +- %.1f (99.9 %%)\n", seed, s.at("failures.count"), mean, half);
    EXPECT_NEAR(s.at("failures.count"), mean, half);
    EXPECT_EQ(s.at("failures.class.gpu"), s.at("failures.count"));  // every other class is off
    EXPECT_EQ(s.at("failures.repairs"), s.at("failures.count"));    // each repaired within the run (1 s)
  }
}

// Five failures one second apart, 10 s of repair each, two technicians: FIFO by hand.
TEST(Reliability, RepairCrewQueueMatchesTheHandSchedule) {
  const std::string dir = scratch_dir("reliability_crew");
  ResultsReader r(run_scenario(dir, "reliability_repair_crew.yaml", "run"));
  const auto s = summary_of(r);
  std::vector<double> ends;
  std::map<std::string, double> up;
  for (const auto& e : r.events()) {
    if (e.kind == "incident_end") ends.push_back(e.time_s);
    if (e.kind == "replica_up") up[e.target] = e.time_s;
  }
  const std::vector<double> by_hand{10, 11, 20, 21, 30};
  ASSERT_EQ(ends.size(), by_hand.size());
  for (size_t i = 0; i < ends.size(); ++i) {
    std::printf("server %zu back at %.1f s, by hand %.1f s\n", i, ends[i], by_hand[i]);
    EXPECT_DOUBLE_EQ(ends[i], by_hand[i]);
  }
  EXPECT_DOUBLE_EQ(s.at("failures.mean_repair_wait"), (0 + 0 + 8 + 8 + 16) / 5.0);
  EXPECT_DOUBLE_EQ(s.at("failures.max_repair_wait"), 16);
  EXPECT_DOUBLE_EQ(s.at("failures.mttr"), (10 + 10 + 18 + 18 + 26) / 5.0);  // failure -> back, each
  // Each server's replica (tp 8) serves again at its server's repair (replica_start 0 s).
  EXPECT_DOUBLE_EQ(up.at("chat/4"), 30);
  // Availability of the service: replica-seconds down / (8 replicas x 60 s).
  const double down = 10 + 10 + 18 + 18 + 26;
  EXPECT_NEAR(s.at("chat.availability"), 1 - down / (8 * 60.0), 1e-12);
}

// Rack 0 isolated for 2 minutes under load: with retry every request finishes; with drop every request is either
// finished or dropped, and the dropped ones are exactly those the failed replicas held.
TEST(Reliability, FailoverLosesNoRequest) {
  const std::string dir = scratch_dir("reliability_failover");
  int lost_retry = -1;
  {
    ResultsReader r(run_scenario(dir, "reliability_failover.yaml", "retry"));
    const auto s = summary_of(r);
    int lost = 0, downs = 0;
    for (const auto& e : r.events())
      if (e.kind == "replica_down") {
        ++downs;
        lost += requests_in(e.detail);
      }
    EXPECT_EQ(downs, 16);
    EXPECT_GT(lost, 0);
    EXPECT_EQ(s.at("chat.requests_retried"), lost);
    EXPECT_EQ(s.at("finished"), s.at("requests"));
    EXPECT_EQ(s.at("dropped"), 0);
    size_t finished = 0;
    for (const auto& q : r.requests()) finished += q.outcome == Outcome::FINISHED;
    EXPECT_EQ(static_cast<double>(finished), s.at("requests"));
    // 16 of 32 replicas down for 120 s of the run (300 s and the drain after it).
    EXPECT_NEAR(s.at("chat.availability"), 1 - 16 * 120.0 / (32 * s.at("simulated_time")), 1e-9);
    std::printf("retry: %d requests moved off the isolated rack, all %.0f finished\n", lost, s.at("requests"));
    lost_retry = lost;
  }
  {
    ResultsReader r(run_scenario(dir, "reliability_failover.yaml", "drop", "--set ops.inference.on_failure=drop"));
    const auto s = summary_of(r);
    int lost = 0;
    for (const auto& e : r.events())
      if (e.kind == "replica_down") lost += requests_in(e.detail);
    size_t dropped = 0, finished = 0;
    for (const auto& q : r.requests()) {
      dropped += q.outcome == Outcome::DROPPED;
      finished += q.outcome == Outcome::FINISHED;
    }
    EXPECT_GT(lost, 0);
    EXPECT_EQ(static_cast<double>(dropped), lost);
    EXPECT_EQ(s.at("dropped"), lost);
    EXPECT_EQ(s.at("chat.requests_dropped"), lost);
    EXPECT_EQ(static_cast<double>(finished + dropped), s.at("requests"));
    std::printf("drop: %d requests dropped (as many as the failed replicas held), %zu finished\n", lost, finished);
    EXPECT_EQ(lost, lost_retry);  // the two runs are the same up to the failure
  }
}

// A job failing every hour (8 GPUs x MTBF 8 h), checkpoint every c = 600 s taking w = 30 s, restart o = 30 s:
// ETTR = c / ((e^((c + w) / M) - 1)(M + o)) (renewal-reward; docs/failures.md). Statistical error: the lost share
// (1 - ETTR) is known to about 1 / sqrt(interruptions) of itself.
TEST(Reliability, JobEttrMatchesTheClosedForm) {
  const std::string dir = scratch_dir("reliability_ettr");
  ResultsReader r(run_scenario(dir, "reliability_ettr.yaml", "run"));
  const auto s = summary_of(r);
  const double m = 3600, c = 600, w = 30, o = 30;
  const double ettr = c / ((std::exp((c + w) / m) - 1) * (m + o));
  const double n = s.at("job.tune.interruptions");
  const double sigma = (1 - ettr) / std::sqrt(n);
  std::printf("ETTR: simulated %.4f, closed form %.4f (+- %.4f at 1 sigma, %.0f interruptions)\n",
              s.at("job.tune.ettr"), ettr, sigma, n);
  EXPECT_GT(n, 200);
  EXPECT_NEAR(s.at("job.tune.ettr"), ettr, 4 * sigma);
}

// A rollout on idle replicas, by hand: canary down at 60 s, serving at 80 s, verdict at 140 s, then one replica at a
// time, each 30 s after the previous serves again: 160, 210, 260 s; done at 290 s. A failing canary is rolled back
// at 140 s (serving again at 160 s) and nothing else restarts.
TEST(Reliability, RolloutCanaryThenRollingReplacementByHand) {
  const std::string dir = scratch_dir("ops_rollout");
  {
    ResultsReader r(run_scenario(dir, "ops_rollout.yaml", "good"));
    std::vector<std::pair<std::string, double>> up;
    double done = -1, passed = -1;
    for (const auto& e : r.events()) {
      if (e.kind == "replica_up") up.emplace_back(e.target, e.time_s);
      if (e.kind == "rollout_done") done = e.time_s;
      if (e.kind == "rollout_canary_passed") passed = e.time_s;
    }
    const std::vector<std::pair<std::string, double>> by_hand{{"chat/0", 80}, {"chat/1", 160}, {"chat/2", 210}, {"chat/3", 260}};
    EXPECT_EQ(up, by_hand);
    EXPECT_DOUBLE_EQ(passed, 140);
    EXPECT_DOUBLE_EQ(done, 290);
  }
  {
    ResultsReader r(run_scenario(dir, "ops_rollout.yaml", "bad", "--set ops.rollouts[0].canary_fails=true"));
    std::vector<std::pair<std::string, double>> up;
    double rollback = -1;
    for (const auto& e : r.events()) {
      if (e.kind == "replica_up") up.emplace_back(e.target, e.time_s);
      if (e.kind == "rollout_rollback") rollback = e.time_s;
      EXPECT_NE(e.kind, "rollout_done");
    }
    const std::vector<std::pair<std::string, double>> by_hand{{"chat/0", 80}, {"chat/0", 160}};
    EXPECT_EQ(up, by_hand);
    EXPECT_DOUBLE_EQ(rollback, 140);
  }
}

// A wave of load: the autoscaler adds replicas as it rises and drains them when it falls, never outside [2, 12],
// scales down no more often than its 2-minute cool-down, ends at its minimum, and loses no request.
TEST(Reliability, AutoscalerFollowsTheLoadWithinItsBounds) {
  const std::string dir = scratch_dir("ops_autoscale");
  ResultsReader r(run_scenario(dir, "ops_autoscale.yaml", "run"));
  const auto s = summary_of(r);
  EXPECT_EQ(s.at("finished"), s.at("requests"));
  int serving = 2, peak = 2, ups = 0;
  double last_down = -1e9;
  for (const auto& e : r.events()) {
    if (e.kind == "scale_up") {
      ++serving;
      ++ups;
    }
    if (e.kind == "replica_parked" && e.time_s > 0) --serving;
    if (e.kind == "scale_down") {
      if (e.time_s != last_down) {
        EXPECT_GE(e.time_s - last_down, 120) << "t = " << e.time_s;
      }
      last_down = e.time_s;
    }
    EXPECT_LE(serving, 12);
    EXPECT_GE(serving, 2);
    peak = std::max(peak, serving);
  }
  std::printf("scale-ups %d, peak %d replicas, %d at the end\n", ups, peak, serving);
  EXPECT_GT(peak, 4);
  EXPECT_EQ(serving, 2);
}

// Shrink: a job of 4 DP replicas loses one for 300 s and restarts 10 s later on the other three, whose steps compute
// 4/3 as much (the global batch stays); once the server is back, steps are as before.
TEST(Reliability, ShrinkRestartsOnFewerGpusWithLongerSteps) {
  const std::string dir = scratch_dir("ops_shrink");
  ResultsReader r(run_scenario(dir, "ops_shrink.yaml", "run"));
  const auto s = summary_of(r);
  EXPECT_EQ(s.at("job.tune.interruptions"), 1);
  double restart = -1;
  int shrinks = 0;
  for (const auto& e : r.events()) {
    if (e.kind == "job_restart") restart = e.time_s;
    if (e.kind == "job_shrink") ++shrinks;
  }
  EXPECT_EQ(shrinks, 1);
  EXPECT_NEAR(restart, 110, 1e-6);
  // Compute of a step less the optimizer: whole steps before 100 s, in (110, 400) and after 400 s.
  double before = -1, during = -1, after = -1;
  const auto steps = r.job_steps();
  for (size_t i = 1; i < steps.size(); ++i) {
    const auto& st = steps[i];
    if (st.checkpoint_s > 0) continue;
    if (st.end_s < 100 && before < 0) before = st.compute_s;
    if (st.start_s > 111 && st.end_s < 400 && during < 0) during = st.compute_s;
    if (st.start_s > 401 && after < 0) after = st.compute_s;
  }
  ASSERT_GT(before, 0);
  ASSERT_GT(during, 0);
  ASSERT_GT(after, 0);
  // By hand from the job's own description (job_start: micro-batches m, forward F, backward B per micro-batch):
  // a step's compute is m (F + B) x scale + the optimizer step, which does not scale, so the step on 3 of 4
  // replicas computes m (F + B) / 3 more.
  int m = 0;
  double f = 0, b = 0;
  for (const auto& e : r.events())
    if (e.kind == "job_start")
      std::sscanf(e.detail.substr(e.detail.find("); ") + 3).c_str(), "%d micro-batches per step, forward %lf s, backward %lf s",
                  &m, &f, &b);
  ASSERT_GT(m, 0);
  std::printf("step compute: %.6f s before, %.6f s on 3 of 4 replicas, %.6f s after; by hand +%.6f s (m %d, F %.6g, B %.6g)\n",
              before, during, after, m * (f + b) / 3, m, f, b);
  EXPECT_NEAR(during - before, m * (f + b) / 3, 1e-5);  // F and B printed to 6 digits
  EXPECT_NEAR(after, before, 1e-9 * before);
}
