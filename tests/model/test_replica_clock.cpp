// A replica's GPU clock changed while the simulation runs (Replica::set_clock_fraction, what the power manager
// calls): fast mode and iteration-level stepping still agree request by request, a step in flight keeps its planned
// end, and a cap lowers prefill throughput by the perf model's factor while a decode-heavy batch barely slows.
//
// White-box test of a class private to sim/ (hence the relative include). Each run is a SimGrid engine with kernel
// timers only (arrivals, clock changes), in a forked child (tests/support/sim_child.hpp: one engine per process).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <simgrid/kernel/Timer.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/NetZone.hpp>
#include <stdexcept>
#include <vector>

#include "../../sim/world/src/replica.hpp"
#include "../support/sim_child.hpp"
#include "aif/models/perf.hpp"
#include "aif/models/power.hpp"

using aif::analysis::RequestRecord;
using aif::models::BatchShape;
using aif::models::GpuPowerParams;
using aif::models::RooflinePerfModel;
using aif::models::SchedulerLimits;
using aif::sim::IncomingRequest;
using aif::sim::Replica;

namespace {

struct Arrival {
  double t;
  int32_t prompt, output;
};
struct ClockChange {
  double t, clock;
};

struct RunResult {
  std::vector<RequestRecord> requests;  // by id
  double energy_j = 0, steps = 0, events = 0, sampled_power_w = 0;
};

const GpuPowerParams POWER{100, 400, 700};  // idle, decode (memory-bound), prefill (compute-bound), W

// Runs one replica (one GPU) through `arrivals` (ids 0, 1, ... in that order; those of one instant delivered
// together, then the replica started, as sim/simulation does) with the clock set to `initial_clock` before the start
// and changed at the given times; samples gpu_power_w at `sample_t` (if >= 0).
RunResult run_replica(const aif::models::PerfModel& perf, const SchedulerLimits& limits, bool fast,
                      const std::vector<Arrival>& arrivals, double initial_clock,
                      const std::vector<ClockChange>& changes, double sample_t = -1) {
  const std::vector<double> out = aif::testing::run_simulation_in_child([&] {
    // The engine runs only with a platform: one host, never used (the replica is timed by kernel timers).
    simgrid::s4u::create_full_zone("replica-test")->create_host("host", 1e9)->seal();
    std::vector<RequestRecord> done;
    uint64_t events = 0;
    aif::sim::ReplicaSinks sinks;
    sinks.request_done = [&done](const RequestRecord& r) { done.push_back(r); };
    sinks.event = [](const aif::analysis::EventRecord&) {};
    sinks.timer_events = &events;
    Replica replica(0, 0, "r0", limits, perf, POWER, 1, fast, sinks);
    replica.set_clock_fraction(initial_clock);
    using simgrid::kernel::timer::Timer;
    for (size_t i = 0; i < arrivals.size();) {
      size_t j = i;
      while (j < arrivals.size() && arrivals[j].t == arrivals[i].t) ++j;
      Timer::set(arrivals[i].t, [&replica, &arrivals, i, j] {
        for (size_t k = i; k < j; ++k)
          replica.arrive(IncomingRequest{static_cast<aif::models::RequestId>(k), 0, arrivals[k].t, arrivals[k].prompt,
                                         arrivals[k].output});
        replica.start_if_idle();
      });
      i = j;
    }
    for (const ClockChange& c : changes) Timer::set(c.t, [&replica, c] { replica.set_clock_fraction(c.clock); });
    double sampled = 0;
    if (sample_t >= 0) Timer::set(sample_t, [&] { sampled = replica.gpu_power_w(sample_t); });
    simgrid::s4u::Engine::get_instance()->run();
    replica.finalize(simgrid::s4u::Engine::get_clock());
    std::sort(done.begin(), done.end(), [](const RequestRecord& a, const RequestRecord& b) { return a.id < b.id; });
    std::vector<double> v{replica.gpu_energy_j(), static_cast<double>(replica.steps()), static_cast<double>(events),
                          sampled};
    for (const RequestRecord& r : done) {
      v.push_back(static_cast<double>(r.id));
      v.push_back(r.first_token_s);
      v.push_back(r.finish_s);
      v.push_back(r.generated_tokens);
      v.push_back(r.outcome == aif::analysis::Outcome::FINISHED ? 1 : 0);
    }
    return v;
  });
  RunResult r;
  r.energy_j = out.at(0);
  r.steps = out.at(1);
  r.events = out.at(2);
  r.sampled_power_w = out.at(3);
  for (size_t k = 4; k + 4 < out.size(); k += 5) {
    RequestRecord rec;
    rec.id = static_cast<int64_t>(out[k]);
    rec.first_token_s = out[k + 1];
    rec.finish_s = out[k + 2];
    rec.generated_tokens = static_cast<int32_t>(out[k + 3]);
    rec.outcome = out[k + 4] == 1 ? aif::analysis::Outcome::FINISHED : aif::analysis::Outcome::UNFINISHED;
    r.requests.push_back(rec);
  }
  return r;
}

aif::models::ModelArch llama_8b() {
  aif::models::ModelArch m;
  m.name = "8b";
  m.layers = 32;
  m.hidden = 4096;
  m.heads = 32;
  m.kv_heads = 8;
  m.head_dim = 128;
  m.ffn = 14336;
  m.vocab = 128256;
  return m;
}

aif::models::RooflineParams roofline(double peak_bf16) {
  aif::models::DeviceSpec d;
  d.name = "gpu";
  d.peak_flops["bf16"] = peak_bf16;
  d.hbm_bandwidth = 3.35e12;
  d.nvlink_bandwidth = 900e9;
  return {d, llama_8b()};
}

SchedulerLimits limits(int max_batched_tokens) {
  SchedulerLimits l;
  l.max_num_batched_tokens = max_batched_tokens;
  l.num_blocks = 200000;
  return l;
}

// One 4,096-token prompt (no prefix) as the scheduler plans it: every pair of the causal chunk, one sampled row.
BatchShape prefill_4096() {
  BatchShape s;
  s.num_seqs = s.prefill_seqs = s.sampled_seqs = 1;
  s.num_tokens = s.prefill_tokens = 4096;
  s.attended_pairs = s.prefill_attended_pairs = 4096.0 * 4097 / 2;
  s.kv_read_tokens = 4096;
  return s;
}

}  // namespace

// 40 requests arrive over 2 s on a device with a low FLOP/s peak (60 TFLOP/s), so that decode batches above ~10-18
// sequences are compute-bound and the clock moves steady windows as well as prefills. The clock changes four times,
// each at an instant that is no step boundary (an irrational-looking time), some inside steady windows.
TEST(ReplicaClock, FastModeEqualsIterationLevelAcrossClockChanges) {
  const RooflinePerfModel perf(roofline(60e12));
  std::vector<Arrival> arrivals;
  for (int i = 0; i < 40; ++i)
    arrivals.push_back({0.05 * i + 0.001 * (i % 7), 32 + (i * 937) % 256, 50 + (i * 383) % 400});
  const std::vector<ClockChange> changes{
      {0.6180339887, 0.55}, {1.4142135623, 0.8}, {2.2360679775, 1.0}, {3.1415926535, 0.4}};
  const RunResult fast = run_replica(perf, limits(2048), true, arrivals, 1.0, changes);
  const RunResult slow = run_replica(perf, limits(2048), false, arrivals, 1.0, changes);
  const RunResult uncapped = run_replica(perf, limits(2048), true, arrivals, 1.0, {});
  ASSERT_EQ(fast.requests.size(), arrivals.size());
  ASSERT_EQ(slow.requests.size(), arrivals.size());
  double max_diff = 0, max_shift = 0;
  for (size_t i = 0; i < arrivals.size(); ++i) {
    const RequestRecord &a = fast.requests[i], &b = slow.requests[i];
    ASSERT_EQ(a.id, b.id);
    ASSERT_EQ(a.outcome, aif::analysis::Outcome::FINISHED);
    ASSERT_EQ(b.outcome, aif::analysis::Outcome::FINISHED);
    EXPECT_EQ(a.generated_tokens, b.generated_tokens);
    EXPECT_NEAR(a.first_token_s, b.first_token_s, 1e-9 * std::max(1.0, b.first_token_s)) << "request " << a.id;
    EXPECT_NEAR(a.finish_s, b.finish_s, 1e-9 * std::max(1.0, b.finish_s)) << "request " << a.id;
    max_diff = std::max({max_diff, std::abs(a.first_token_s - b.first_token_s), std::abs(a.finish_s - b.finish_s)});
    max_shift = std::max(max_shift, std::abs(a.finish_s - uncapped.requests[i].finish_s));
  }
  std::printf(
      "last finish: fast %.9f s, iteration-level %.9f s, never capped %.9f s; largest difference between "
      "modes %.2e s\n",
      fast.requests.back().finish_s, slow.requests.back().finish_s, uncapped.requests.back().finish_s, max_diff);
  std::printf("steps: fast %.0f, iteration-level %.0f; events: fast %.0f, iteration-level %.0f (%.1fx fewer)\n",
              fast.steps, slow.steps, fast.events, slow.events, slow.events / fast.events);
  std::printf("GPU energy: fast %.6f J, iteration-level %.6f J, never capped %.6f J\n", fast.energy_j, slow.energy_j,
              uncapped.energy_j);
  EXPECT_EQ(fast.steps, slow.steps);
  EXPECT_NEAR(fast.energy_j, slow.energy_j, 1e-9 * slow.energy_j);
  EXPECT_LT(fast.events * 3, slow.events) << "fast mode should still use steady windows";
  // The caps matter: requests finish noticeably later than never capped, and the GPU spends less energy.
  EXPECT_GT(max_shift, 0.1);
  EXPECT_LT(fast.energy_j, uncapped.energy_j);
}

// Closed batches on H100 figures (989 TFLOP/s bf16, 3.35 TB/s), Llama-3.1-8B.
//  - 16 prompts of 4,096 tokens, one output token each, one prompt per step (4,096-token budget): every step is the
//    same FLOP-bound prefill, so the batch takes 16 x step(clock) and its finish time stretches by exactly the
//    perf model's factor step(0.6) / step(1) (= 1 / 0.6): prefill throughput falls by that factor.
//  - The same, capped to 0.6 at 2.5 steps in: the step in flight ends at its planned time (3 x step(1)), the 13 after
//    it take step(0.6) each.
//  - Busy power at clock 0.6 during a FLOP-bound step: idle + (prefill - idle) x 0.6^2.5.
TEST(ReplicaClock, CapLowersPrefillThroughputByThePerfModelsFactor) {
  const RooflinePerfModel perf(roofline(989e12));
  const std::vector<Arrival> batch(16, Arrival{0.0, 4096, 1});
  const double t1 = perf.iteration_at_clock(prefill_4096(), 1.0).seconds;
  const double t6 = perf.iteration_at_clock(prefill_4096(), 0.6).seconds;
  const double predicted = t6 / t1;
  const RunResult full = run_replica(perf, limits(4096), true, batch, 1.0, {});
  const RunResult capped = run_replica(perf, limits(4096), true, batch, 0.6, {}, 5.5 * t6);
  const RunResult midway = run_replica(perf, limits(4096), false, batch, 1.0, {{2.5 * t1, 0.6}});
  ASSERT_EQ(full.requests.size(), 16u);
  ASSERT_EQ(capped.requests.size(), 16u);
  ASSERT_EQ(midway.requests.size(), 16u);
  const double end_full = full.requests.back().finish_s, end_capped = capped.requests.back().finish_s;
  std::printf(
      "16 x 4096-token prefills: %.6f s at full clock, %.6f s at 0.6; finish ratio %.9f, perf model %.9f "
      "(1 / 0.6 = %.9f); throughput %.2f -> %.2f req/s\n",
      end_full, end_capped, end_capped / end_full, predicted, 1 / 0.6, 16 / end_full, 16 / end_capped);
  EXPECT_NEAR(end_full, 16 * t1, 1e-9 * end_full);
  EXPECT_NEAR(end_capped / end_full, predicted, 1e-9);
  EXPECT_NEAR(predicted, 1 / 0.6, 1e-9);
  for (int k = 0; k < 16; ++k) {
    const double expected = k < 3 ? (k + 1) * t1 : 3 * t1 + (k - 2) * t6;
    EXPECT_NEAR(midway.requests[static_cast<size_t>(k)].finish_s, expected, 1e-9) << "request " << k;
  }
  std::printf("capped 2.5 steps in: request 2 ends at %.6f s (planned %.6f s), request 3 at %.6f s (%.6f s)\n",
              midway.requests[2].finish_s, 3 * t1, midway.requests[3].finish_s, 3 * t1 + t6);
  const double expected_w = POWER.idle_w + (POWER.prefill_w - POWER.idle_w) * std::pow(0.6, 2.5);
  std::printf("busy power at clock 0.6: %.3f W (by hand %.3f W; %.0f W at full clock)\n", capped.sampled_power_w,
              expected_w, POWER.prefill_w);
  EXPECT_NEAR(capped.sampled_power_w, expected_w, 1e-9 * expected_w);
  EXPECT_NEAR(capped.energy_j, 16 * t6 * expected_w, 1e-9 * capped.energy_j);
  EXPECT_NEAR(full.energy_j, 16 * t1 * POWER.prefill_w, 1e-9 * full.energy_j);
}

// 32 short prompts (16 tokens), 256 output tokens each: one small prefill step, then HBM-bound decode steps (batch
// 32 reads the 16 GB of weights in ~6 ms; its FLOPs take < 1 ms even at 60 % clock). The cap barely slows it.
TEST(ReplicaClock, CapBarelySlowsADecodeHeavyBatch) {
  const RooflinePerfModel perf(roofline(989e12));
  const std::vector<Arrival> batch(32, Arrival{0.0, 16, 256});
  const RunResult full = run_replica(perf, limits(4096), true, batch, 1.0, {});
  const RunResult capped = run_replica(perf, limits(4096), true, batch, 0.6, {});
  const double ratio = capped.requests.back().finish_s / full.requests.back().finish_s;
  std::printf("32 x (16 + 256 tokens): %.6f s at full clock, %.6f s at 0.6: %.4fx (prefill alone: %.4fx)\n",
              full.requests.back().finish_s, capped.requests.back().finish_s, ratio, 1 / 0.6);
  EXPECT_GE(ratio, 1.0);
  EXPECT_LT(ratio, 1.02);
}

TEST(ReplicaClock, ClockOutsideZeroToOneIsRefused) {
  const RooflinePerfModel perf(roofline(989e12));
  aif::models::RooflineParams p = roofline(989e12);
  p.clock_fraction = 0.7;
  const RooflinePerfModel slow(p);
  aif::sim::ReplicaSinks sinks;
  Replica r(0, 0, "r0", limits(4096), perf, POWER, 1, true, sinks);
  EXPECT_EQ(r.clock_fraction(), 1.0);
  for (double bad : {0.0, -1.0, 1.5, std::nan("")}) EXPECT_THROW(r.set_clock_fraction(bad), std::invalid_argument);
  EXPECT_EQ(r.clock_fraction(), 1.0);
  // A replica starts at its perf model's clock.
  Replica r7(1, 0, "r1", limits(4096), slow, POWER, 1, true, sinks);
  EXPECT_EQ(r7.clock_fraction(), 0.7);
}
