// Failures and restarts of training jobs (TrainingJob::interrupt) on the small fabric of test_training_job.cpp:
// the roll-back to the last checkpoint, lost work and downtime by hand, a failure while down, a failure during a
// pause, ETTR under a Poisson failure process against the closed form, and network: analytic against flows.
// Expected values are worked out in the comments and printed beside the simulated ones.
//
// SimGrid allows one engine and one platform per process: the tests share them and run one after another on the
// simulated clock (each starts its job a second after the previous test's end).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <simgrid/kernel/Timer.hpp>
#include <simgrid/s4u.hpp>
#include <string>
#include <vector>

#include "../support/simgrid_engine.hpp"
#include "../support/toy_training.hpp"
#include "aif/analysis/results.hpp"
#include "aif/models/fabric.hpp"
#include "aif/models/training.hpp"
#include "aif/world/collectives.hpp"
#include "aif/world/platform.hpp"
#include "aif/world/training_job.hpp"

namespace sg4 = simgrid::s4u;
using aif::analysis::EventRecord;
using aif::analysis::JobStepRecord;
using aif::sim::CollectiveOp;
using aif::sim::JobConfig;
using aif::sim::JobLayout;
using aif::sim::TrainingJob;
using simgrid::kernel::timer::Timer;

namespace {

using aif::testing::toy::LINK_LAT;
using aif::testing::toy::NIC_BW;
using aif::testing::toy::NVLINK_BW;
using aif::testing::toy::NVLINK_LAT;
using aif::testing::toy::STORAGE_BW;
using aif::testing::toy::fabric_params;
using aif::testing::toy::params;
using aif::testing::toy::config;
using aif::testing::toy::Recorded;
using aif::testing::toy::sinks;
using aif::testing::toy::World;

// Times the kernel advanced the simulated clock: the engine's event rounds.
int64_t time_advances = 0;

sg4::Engine& engine() {
  static sg4::Engine* e = [] {
    sg4::Engine* x = &aif::testing::simgrid_engine("test_training_failures", {"--log=root.thresh:warning"});
    sg4::Engine::on_time_advance_cb([](double) { ++time_advances; });
    return x;
  }();
  return *e;
}

World& world() { return aif::testing::toy::world(engine); }

// dp 2, tp 1, pp 2 by hand (as in test_training_job.cpp): PP on NVLink, DP rings across the spine.
JobLayout layout_2x1x2() {
  JobLayout l;
  l.dp = 2;
  l.tp = 1;
  l.pp = 2;
  l.gpus = {0, 8, 1, 9};
  return l;
}

// One GPU: dp = tp = pp = 1 (no PP sends, no all-reduce): a step is a compute phase and the optimizer step.
JobLayout layout_1() {
  JobLayout l;
  l.gpus = {0};
  return l;
}

void expect_rel(const char* what, double expected, double simulated, double rel) {
  std::printf("  %-46s by hand %.9g, simulated %.9g, rel. diff %.2e\n", what, expected, simulated,
              expected != 0 ? std::abs(simulated - expected) / std::abs(expected) : std::abs(simulated));
  EXPECT_NEAR(simulated, expected, rel * std::abs(expected) + 1e-12) << what;
}

// The step time of the 2 x 1 x 2 job on an idle fabric (test_training_job.cpp: the flows give it to 1e-6).
double idle_step_2x1x2(const aif::models::TrainingStep& m, bool overlap) {
  aif::models::StepComm comm;
  comm.pp_forward_s = aif::sim::predict::ring_time(CollectiveOp::SEND, 2, m.pp_send_bytes, {NVLINK_BW, 2 * NVLINK_LAT});
  comm.pp_backward_s = comm.pp_forward_s;
  comm.dp_allreduce_s =
      aif::sim::predict::ring_time(CollectiveOp::ALL_REDUCE, 2, m.dp_allreduce_bytes, {NIC_BW, 4 * LINK_LAT});
  return aif::models::step_time(m, comm, overlap).total_s;
}

// wall = productive + checkpoints kept + lost work + downtime (no pause). Within `slack` when the run stops at the
// horizon: wall ends there, and a step that ends past it (the engine runs on here) still counts as kept.
void expect_time_adds_up(const TrainingJob& job, double slack = 0) {
  const auto r = job.reliability();
  double ckpt = 0;
  for (const auto& e : job.summary())
    if (e.name == "job." + job.config().name + ".checkpoint_time") ckpt = e.value;
  const double sum = r.productive_s + ckpt + r.lost_work_s + r.downtime_s;
  if (slack == 0) {
    expect_rel("wall = productive + checkpoints + lost + down", r.wall_s, sum, 1e-9);
  } else {
    std::printf("  %-46s %.9g, sum %.9g (within %.3g)\n", "wall = productive + checkpoints + lost + down", r.wall_s,
                sum, slack);
    EXPECT_NEAR(sum, r.wall_s, slack);
  }
}

}  // namespace

// Flows, 8 steps, a checkpoint of w = 40 s (write_time) after every 3 steps; step time T (the idle-fabric closed
// form). The job starts at t0; the checkpoint after step 2 ends at t0 + 3T + w; step 3 ends at t0 + 4T + w; the
// failure comes half-way through step 4 (its pipeline phase, a compute phase), at f = t0 + 4.5T + w:
//   steps 4 -> 3 (step 3 lost), lost work = f - (t0 + 3T + w) = 1.5T, restart at r = f + 10 s: downtime 10 s;
//   then steps 3..7 again, a checkpoint after step 5: end = r + 5T + w; kept: 8T of steps;
//   rows in /jobs/steps: 4 + 5 = 9 (step numbers 0 1 2 3 3 4 5 6 7).
TEST(TrainingFailures, OneInterruptRollsBackToTheCheckpoint) {
  World& w = world();
  const auto p = params(2, 1, 2);
  Recorded rec;
  JobConfig c = config("one", p, 8);
  c.checkpoint.every_steps = 3;
  c.checkpoint.write_time_s = 40;
  TrainingJob job(0, c, p, layout_2x1x2(), w.platform, 1e9, sinks(rec));
  const double t = idle_step_2x1x2(job.model(), c.overlap), ck = 40, t0 = c.start_s;
  const double f = t0 + 4.5 * t + ck, r = f + 10;
  int64_t steps_at_failure = -1, steps_after = -1;
  Timer::set(f, [&] {
    steps_at_failure = job.steps_done();
    job.interrupt("gpu: xid 79", r);
    steps_after = job.steps_done();
  });
  int64_t steps_while_down = -1;
  bool down_while_down = false;
  Timer::set(f + 5, [&] {
    steps_while_down = job.steps_done();
    down_while_down = job.down();
  });
  job.start();
  engine().run();
  std::printf("step time T = %.9g s, failure at t0 + %.9g s\n", t, f - t0);
  EXPECT_EQ(steps_at_failure, 4);
  EXPECT_EQ(steps_after, 4);  // the roll-back happens on the job's actor, at once
  EXPECT_EQ(steps_while_down, 3);
  EXPECT_TRUE(down_while_down);
  EXPECT_TRUE(job.finished());
  EXPECT_EQ(job.steps_done(), 8);
  EXPECT_FALSE(job.down());
  const auto rel = job.reliability();
  EXPECT_EQ(rel.interruptions, 1);
  EXPECT_EQ(rel.by_cause.at("gpu: xid 79"), 1);
  expect_rel("lost work 1.5 T", 1.5 * t, rel.lost_work_s, 1e-6);
  expect_rel("downtime", 10, rel.downtime_s, 1e-9);
  expect_rel("productive 8 T", 8 * t, rel.productive_s, 1e-6);
  const double end = r + 5 * t + ck;
  expect_rel("wall", end - t0, rel.wall_s, 1e-9);
  expect_rel("ETTR", 8 * t / (end - t0), rel.ettr(), 1e-6);
  expect_rel("lost GPU-hours", 4 * (1.5 * t + 10) / 3600, rel.lost_gpu_hours(4), 1e-6);
  expect_time_adds_up(job);
  // Rows: the lost step 3 stays (it ran); after the restart the numbers start again from the checkpoint's.
  ASSERT_EQ(rec.steps.size(), 9u);
  const std::vector<int64_t> numbers{0, 1, 2, 3, 3, 4, 5, 6, 7};
  for (size_t i = 0; i < numbers.size(); ++i) EXPECT_EQ(rec.steps[i].step, numbers[i]);
  EXPECT_NEAR(rec.steps[4].start_s, r, 1e-9);
  EXPECT_NEAR(rec.steps.back().end_s, end, 1e-6 * (end - t0));
  EXPECT_EQ(rec.steps[2].checkpoint_s, ck);
  EXPECT_EQ(rec.steps[6].checkpoint_s, ck);  // step 5, the second time
  // Events: the interrupt at the failure, the restart at r.
  const auto interrupts = rec.of("job_interrupt"), restarts = rec.of("job_restart");
  ASSERT_EQ(interrupts.size(), 1u);
  ASSERT_EQ(restarts.size(), 1u);
  std::printf("  %s @ %.6f: %s\n  %s @ %.6f: %s\n", interrupts[0]->kind.c_str(), interrupts[0]->time_s,
              interrupts[0]->detail.c_str(), restarts[0]->kind.c_str(), restarts[0]->time_s, restarts[0]->detail.c_str());
  EXPECT_DOUBLE_EQ(interrupts[0]->time_s, f);
  EXPECT_DOUBLE_EQ(restarts[0]->time_s, r);
  EXPECT_NE(interrupts[0]->detail.find("gpu: xid 79; 1 step(s)"), std::string::npos);
  EXPECT_NE(interrupts[0]->detail.find("back to step 3"), std::string::npos);
  EXPECT_EQ(rec.of("checkpoint").size(), 2u);
  // Events in time order.
  for (size_t i = 1; i < rec.events.size(); ++i) EXPECT_LE(rec.events[i - 1].time_s, rec.events[i].time_s);
}

// The same failure at f; a second one while down at f + 5 wants the job back at f + 25 (later: it waits), a third
// at f + 6 wants f + 7 (earlier: the later time stays). Downtime 25 s, 3 interruptions, the lost work once.
// Then a failure waiting for a repair (+inf) that operations reschedule at f + 40 to f + 45: downtime 45 s.
TEST(TrainingFailures, AFailureWhileDownExtendsTheDowntime) {
  World& w = world();
  const auto p = params(2, 1, 2);
  for (bool repair : {false, true}) {
    Recorded rec;
    JobConfig c = config(repair ? "repair" : "twice", p, 8);
    c.checkpoint.every_steps = 3;
    c.checkpoint.write_time_s = 40;
    TrainingJob job(0, c, p, layout_2x1x2(), w.platform, 1e9, sinks(rec));
    const double t = idle_step_2x1x2(job.model(), c.overlap), ck = 40, t0 = c.start_s;
    const double f = t0 + 4.5 * t + ck;
    double r = 0;
    if (!repair) {
      r = f + 25;
      Timer::set(f, [&] { job.interrupt("gpu", f + 10); });
      Timer::set(f + 5, [&] { job.interrupt("host", f + 25); });
      Timer::set(f + 6, [&] { job.interrupt("gpu", f + 7); });
    } else {
      r = f + 45;
      Timer::set(f, [&] { job.interrupt("switch", std::numeric_limits<double>::infinity()); });
      Timer::set(f + 40, [&] { job.set_restart_at(f + 45); });
    }
    job.start();
    engine().run();
    std::printf("%s:\n", repair ? "waiting for a repair" : "three failures");
    const auto rel = job.reliability();
    EXPECT_EQ(job.steps_done(), 8);
    EXPECT_EQ(rel.interruptions, repair ? 1 : 3);
    if (!repair) {
      EXPECT_EQ(rel.by_cause.at("gpu"), 2);
      EXPECT_EQ(rel.by_cause.at("host"), 1);
    }
    expect_rel("downtime", r - f, rel.downtime_s, 1e-9);
    expect_rel("lost work 1.5 T (once)", 1.5 * t, rel.lost_work_s, 1e-6);
    expect_rel("wall", r + 5 * t + ck - t0, rel.wall_s, 1e-6);
    expect_time_adds_up(job);
    const auto restarts = rec.of("job_restart");
    ASSERT_EQ(restarts.size(), 1u);
    EXPECT_DOUBLE_EQ(restarts[0]->time_s, r);
    EXPECT_EQ(rec.of("job_interrupt").size(), static_cast<size_t>(rel.interruptions));
    EXPECT_EQ(rec.steps.size(), 9u);
  }
}

// network: analytic, one GPU, no checkpoints; pause() during step 2: step 2 finishes at t0 + 3T, the job idles; a
// failure in the pause at +10 s wants it back at +15 s; resume() at +19.5 s takes effect at the next 1 s poll, +20 s.
// Lost: the 3 steps' work (3T), not the pause; down from the failure until it runs again: 10 s; then 5 steps from 0.
// With analytic and no write_time the pause writes no checkpoint (it would need flows).
TEST(TrainingFailures, AFailureDuringAPauseLosesTheWorkNotThePause) {
  World& w = world();
  const auto p = params(1, 1, 1);
  Recorded rec;
  JobConfig c = config("paused", p, 5);
  c.network = JobConfig::Network::ANALYTIC;
  TrainingJob job(0, c, p, layout_1(), w.platform, 1e9, sinks(rec));
  const double t = aif::models::step_time(job.model(), {}, c.overlap).total_s, t0 = c.start_s;
  const double paused = t0 + 3 * t;
  Timer::set(t0 + 2.5 * t, [&] { job.pause(); });
  Timer::set(paused + 10, [&] { job.interrupt("gpu", paused + 15); });
  Timer::set(paused + 19.5, [&] { job.resume(); });
  job.start();
  engine().run();
  const auto rel = job.reliability();
  EXPECT_EQ(job.steps_done(), 5);
  ASSERT_EQ(rec.steps.size(), 8u);
  expect_rel("pause from", paused, rec.of("job_pause").at(0)->time_s, 1e-12);
  expect_rel("lost work 3 T", 3 * t, rel.lost_work_s, 1e-9);
  expect_rel("downtime", 10, rel.downtime_s, 1e-9);
  expect_rel("wall", 8 * t + 20, rel.wall_s, 1e-9);
  expect_rel("productive 5 T", 5 * t, rel.productive_s, 1e-9);
  EXPECT_EQ(rec.of("checkpoint").size(), 0u);
  EXPECT_NE(rec.of("job_pause").at(0)->detail.find("after 3 steps"), std::string::npos);
  EXPECT_EQ(rec.of("job_pause").at(0)->detail.find("checkpoint"), std::string::npos);
}

// network: analytic gives the same steps as the flows on an idle fabric (test_training_job.cpp shows the flows equal
// the closed form to 1e-6), with and without overlap; a checkpoint with a write_time adds exactly that.
TEST(TrainingFailures, AnalyticNetworkEqualsFlowsOnAnIdleFabric) {
  World& w = world();
  const auto p = params(2, 1, 2);
  for (bool overlap : {true, false}) {
    Recorded flows, analytic;
    JobConfig c = config("flows", p, 3);
    c.overlap = overlap;
    c.checkpoint.every_steps = 2;
    c.checkpoint.write_time_s = 7;
    {
      TrainingJob job(0, c, p, layout_2x1x2(), w.platform, 1e9, sinks(flows));
      job.start();
      engine().run();
    }
    c.name = "analytic";
    c.network = JobConfig::Network::ANALYTIC;
    c.start_s = sg4::Engine::get_clock() + 1;
    const int64_t advances0 = time_advances;
    {
      TrainingJob job(0, c, p, layout_2x1x2(), w.platform, 1e9, sinks(analytic));
      job.start();
      engine().run();
      std::printf("overlap %s: closed form step %.9g s\n", overlap ? "on" : "off",
                  idle_step_2x1x2(job.model(), overlap));
    }
    std::printf("  analytic: %.1f clock advances per step (dp 2, pp 2)\n",
                static_cast<double>(time_advances - advances0) / 3);
    ASSERT_EQ(flows.steps.size(), 3u);
    ASSERT_EQ(analytic.steps.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      const auto &a = analytic.steps[i], &f = flows.steps[i];
      const bool print = i == 1;
      if (print) std::printf(" step %zu (flows as 'by hand'):\n", i);
      auto cmp = [&](const char* what, double x, double y) {
        if (print) expect_rel(what, x, y, 1e-6);
        else EXPECT_NEAR(y, x, 1e-6 * std::abs(x)) << what;
      };
      cmp("step time", f.end_s - f.start_s, a.end_s - a.start_s);
      cmp("compute", f.compute_s, a.compute_s);
      cmp("communication", f.comm_s, a.comm_s);
      cmp("exposed communication", f.exposed_comm_s, a.exposed_comm_s);
      // A difference of two clock readings: exact up to the rounding of the absolute times.
      EXPECT_NEAR(a.checkpoint_s, i == 1 ? 7.0 : 0.0, 1e-12);
      EXPECT_NEAR(f.checkpoint_s, i == 1 ? 7.0 : 0.0, 1e-12);
    }
  }
}

namespace {

// A job (analytic, one GPU, step time T) under failures of a Poisson process of mean M while it is up (a test-side
// timer chain; the clock of the process stops while the job is down), each restarting after o; checkpoints every c
// of progress taking w. Returns the job's ETTR and its standard error from `batches` equal spans of the run.
struct EttrRun {
  double ettr = 0, sigma = 0, interruptions = 0, downtime = 0, expected_failures = 0, steps_run = 0;
  double advances_per_step = 0;
  double wall_clock_s = 0;
};

EttrRun ettr_run(const std::string& name, bool by_time, int64_t k, double w_t, double o_t, double m_t, double spans,
                 uint64_t seed) {
  World& w = world();
  const auto p = params(1, 1, 1);
  Recorded rec;
  JobConfig c = config(name, p, int64_t{1} << 50);
  c.network = JobConfig::Network::ANALYTIC;
  c.overlap = false;
  aif::models::TrainingStep probe = aif::models::plan_training_step(p);
  const double t = aif::models::step_time(probe, {}, false).total_s;
  const double cw = w_t * t, o = o_t * t, m = m_t * t;
  if (by_time)
    c.checkpoint.every_s = k * t;
  else
    c.checkpoint.every_steps = k;
  c.checkpoint.write_time_s = cw;
  const double t0 = c.start_s, horizon = t0 + spans * m;
  rec.steps.reserve(static_cast<size_t>(spans * m_t * 1.05));
  TrainingJob job(0, c, p, layout_1(), w.platform, horizon, sinks(rec));
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> exp(1 / m);
  std::function<void(double)> next_failure = [&](double from) {
    const double at = from + exp(rng);
    if (at >= horizon) return;
    Timer::set(at, [&, at] {
      job.interrupt("poisson", at + o);
      next_failure(at + o);  // the process runs again when the job does
    });
  };
  next_failure(t0);
  // Batches: the job's kept time and wall time at equal spans of the run.
  const int batches = 40;
  std::vector<double> productive(batches + 1, 0), wall(batches + 1, 0);
  for (int b = 1; b <= batches; ++b) {
    Timer::set(t0 + (horizon - t0) * b / batches * (1 - 1e-12), [&, b] {
      const auto r = job.reliability();
      productive[static_cast<size_t>(b)] = r.productive_s;
      wall[static_cast<size_t>(b)] = r.wall_s;
    });
  }
  const int64_t advances0 = time_advances;
  const auto clock0 = std::chrono::steady_clock::now();
  job.start();
  engine().run();
  EttrRun out;
  out.wall_clock_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - clock0).count();
  const auto r = job.reliability();
  out.ettr = r.ettr();
  out.interruptions = static_cast<double>(r.interruptions);
  out.downtime = r.downtime_s;
  out.expected_failures = (r.wall_s - r.downtime_s) / m;
  out.steps_run = static_cast<double>(rec.steps.size());
  out.advances_per_step = static_cast<double>(time_advances - advances0) / out.steps_run;
  double sum = 0, sum2 = 0;
  for (int b = 1; b <= batches; ++b) {
    const double e = (productive[static_cast<size_t>(b)] - productive[static_cast<size_t>(b - 1)]) /
                     (wall[static_cast<size_t>(b)] - wall[static_cast<size_t>(b - 1)]);
    sum += e;
    sum2 += e * e;
  }
  const double mean = sum / batches, var = (sum2 - batches * mean * mean) / (batches - 1);
  out.sigma = std::sqrt(var / batches);
  std::printf("%s: T = %.6g s, c = %lld T (%s), w = %.0f T, o = %.0f T, M = %.0f T, horizon %.0f M\n", name.c_str(), t,
              static_cast<long long>(k), by_time ? "every" : "every_steps", w_t, o_t, m_t, spans);
  // Each outage lasts o, but one that runs past the horizon is cut there.
  std::printf("  downtime %.9g s, interruptions x o %.9g s\n", r.downtime_s, out.interruptions * o);
  EXPECT_LE(r.downtime_s, out.interruptions * o * (1 + 1e-12));
  EXPECT_GE(r.downtime_s, (out.interruptions - 1) * o * (1 - 1e-12));
  expect_time_adds_up(job, t);
  return out;
}

}  // namespace

// ETTR = c / ((e^((c + w) / M) - 1)(M + o)) (renewal-reward: a segment of c + w up-time is done with probability
// e^(-(c + w)/M); each failure costs the up-time since the last checkpoint and o). The job's accounting makes the
// same assumptions: everything since the last checkpoint is lost, the restart comes o after the failure, failures
// only while up, checkpoints after exactly c = 20 T of progress (every_steps: 20, or every: 20 T). With w = 2T,
// o = 3T, M = 100 T: ETTR = 20 / ((e^0.22 - 1) 103) = 0.7889. 2000 M of up-time: ~2000 failures; the error of
// the simulated ETTR from 40 equal batches.
TEST(TrainingFailures, EttrUnderPoissonFailuresMatchesTheClosedForm) {
  const double k = 20, w_t = 2, o_t = 3, m_t = 100;
  const double expected = k / ((std::exp((k + w_t) / m_t) - 1) * (m_t + o_t));
  int seed = 1;
  for (bool by_time : {false, true}) {
    const EttrRun r = ettr_run(by_time ? "ettr-every" : "ettr-steps", by_time, static_cast<int64_t>(k), w_t, o_t, m_t,
                               2000, static_cast<uint64_t>(seed++));
    std::printf("  ETTR simulated %.5f +- %.5f (1 sigma, 40 batches), closed form %.5f: %.2f sigma; %.0f failures "
                "(%.0f +- %.0f expected from the up-time)\n",
                r.ettr, r.sigma, expected, (r.ettr - expected) / r.sigma, r.interruptions, r.expected_failures,
                std::sqrt(r.expected_failures));
    std::printf("  %.0f steps run, %.2f clock advances per step, %.2f s of wall-clock\n", r.steps_run,
                r.advances_per_step, r.wall_clock_s);
    EXPECT_GT(r.sigma, 0);
    EXPECT_NEAR(r.ettr, expected, 4 * r.sigma);
    // Failures while up: Poisson with mean up-time / M (99.9 %: 3.29 sigma).
    EXPECT_NEAR(r.interruptions, r.expected_failures, 3.29 * std::sqrt(r.expected_failures));
  }
}
