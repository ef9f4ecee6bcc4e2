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
#include "../support/fitted_gpu.hpp"
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

struct StepRecord {
  double duration_s, energy_j, clock;
};

struct RunResult {
  std::vector<RequestRecord> requests;  // by id
  std::vector<StepRecord> steps_run;    // iteration-level runs: every step, in order
  double energy_j = 0, steps = 0, events = 0, sampled_power_w = 0;
};

const GpuPowerParams POWER{100, 400, 700};  // idle, decode (memory-bound), prefill (compute-bound), W

// Runs one replica (one GPU) through `arrivals` (ids 0, 1, ... in that order; those of one instant delivered
// together, then the replica started, as sim/simulation does) with the clock set to `initial_clock` before the start
// and changed at the given times; samples gpu_power_w at `sample_t` (if >= 0).
RunResult run_replica(const aif::models::PerfModel& perf, const SchedulerLimits& limits, bool fast,
                      const std::vector<Arrival>& arrivals, double initial_clock,
                      const std::vector<ClockChange>& changes, double sample_t = -1,
                      const aif::sim::ReplicaPower& power = POWER) {
  const std::vector<double> out = aif::testing::run_simulation_in_child([&] {
    // The engine runs only with a platform: one host, never used (the replica is timed by kernel timers).
    simgrid::s4u::create_full_zone("replica-test")->create_host("host", 1e9)->seal();
    std::vector<RequestRecord> done;
    uint64_t events = 0;
    aif::sim::ReplicaSinks sinks;
    sinks.request_done = [&done](const RequestRecord& r) { done.push_back(r); };
    sinks.event = [](const aif::analysis::EventRecord&) {};
    sinks.timer_events = &events;
    std::vector<double> steps_run;
    sinks.iteration = [&steps_run](const aif::analysis::IterationRecord& it) {
      steps_run.insert(steps_run.end(), {it.duration_s, it.gpu_energy_j, it.clock_fraction});
    };
    Replica replica(0, 0, "r0", limits, perf, power, 1, fast, sinks);
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
                          sampled, static_cast<double>(steps_run.size() / 3)};
    v.insert(v.end(), steps_run.begin(), steps_run.end());
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
  const size_t n_steps = static_cast<size_t>(out.at(4));
  for (size_t i = 0; i < n_steps; ++i) r.steps_run.push_back({out.at(5 + 3 * i), out.at(6 + 3 * i), out.at(7 + 3 * i)});
  for (size_t k = 5 + 3 * n_steps; k + 4 < out.size(); k += 5) {
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

// ---- the fitted GPU power model on a replica (models/power.hpp) ---------------------------------------------------

namespace {

// The roofline's device with the round H100-like power figures (tests/support/fitted_gpu.hpp).
aif::sim::ReplicaPower fitted_power(double limit_w = 0) {
  return aif::sim::ReplicaPower(aif::models::GpuPowerModel(aif::testing::with_round_h100_power(roofline(989e12).device)),
                                std::make_shared<aif::models::StepWorkModel>(llama_8b(), 2.0, 1, 1), limit_w);
}

}  // namespace

// Eight requests of 16 prompt and 129 output tokens at once: one prefill step of 128 tokens, then 128 decode steps
// of batch 8. Each step's FLOPs and bytes counted here by hand (a second count, from the architecture), its time
// from the perf model; its power the fitted model's, P = min(700, 145 + 1.2e-12 F/t + min(220e-12 B/t, 380 - 145)).
// The replica's energy is the sum of P x t, and every step's record carries its own P x t.
TEST(ReplicaPower, EnergyIsTheFittedPowerTimesTimeStepByStep) {
  const RooflinePerfModel perf(roofline(989e12));
  const std::vector<Arrival> batch(8, Arrival{0.0, 16, 129});
  const RunResult run = run_replica(perf, limits(4096), false, batch, 1.0, {}, -1, fitted_power());
  ASSERT_EQ(run.requests.size(), 8u);
  ASSERT_EQ(run.steps_run.size(), 129u);
  // Llama-3.1-8B: layer parameters L (h q + 2 h kv + q h + 3 h ffn + 2 h), LM head vocab x h, KV 2 L kv 2 bytes.
  const double h = 4096, q = 4096, kv = 1024, L = 32;
  const double layer = L * (h * q + 2 * h * kv + q * h + 3 * h * 14336 + 2 * h), head = 128256 * h;
  const double kv_bytes = 2 * L * kv * 2, attn = 4 * L * 32 * 128;
  auto power = [](double flops, double bytes, double t) {
    return std::min(700.0, 145 + 1.2e-12 * flops / t + std::min(220e-12 * bytes / t, 380.0 - 145));
  };
  auto shape = [](int seqs, int64_t tokens, int prefill, double pairs, double kv_read) {
    aif::models::BatchShape s;
    s.num_seqs = seqs, s.num_tokens = tokens, s.prefill_tokens = prefill ? tokens : 0;
    s.prefill_seqs = prefill ? seqs : 0, s.decode_seqs = prefill ? 0 : seqs, s.sampled_seqs = seqs;
    s.attended_pairs = pairs, s.kv_read_tokens = kv_read;
    if (prefill) s.prefill_attended_pairs = pairs;
    return s;
  };
  double expected = 0;
  // The prefill: 128 tokens, 8 sampled rows, 8 x 16 x 17 / 2 pairs, 128 keys read and 128 written.
  {
    const double pairs = 8 * 16 * 17 / 2.0, t = perf.iteration(shape(8, 128, 1, pairs, 128)).seconds;
    const double p = power(2 * (layer * 128 + head * 8) + attn * pairs, (layer + head) * 2 + kv_bytes * 256, t);
    EXPECT_NEAR(run.steps_run[0].energy_j, p * t, 1e-9 * p * t);
    EXPECT_EQ(p, 700.0) << "the prefill step runs at the power limit";
    expected += p * t;
  }
  // Decode step j: 8 tokens, each attending to 16 + j keys (read) and writing its own.
  double decode_w = 0;
  for (int j = 1; j <= 128; ++j) {
    const double keys = 8.0 * (16 + j), t = perf.iteration(shape(8, 8, 0, keys, keys)).seconds;
    const double p = power(2 * (layer + head) * 8 + attn * keys, (layer + head) * 2 + kv_bytes * (keys + 8), t);
    EXPECT_NEAR(run.steps_run[static_cast<size_t>(j)].energy_j, p * t, 1e-9 * p * t) << "decode step " << j;
    EXPECT_NEAR(run.steps_run[static_cast<size_t>(j)].duration_s, t, 1e-12) << "decode step " << j;
    expected += p * t;
    decode_w = p;
  }
  std::printf("8 x (16 + 129 tokens): prefill at 700 W, last decode step at %.2f W; energy %.6f J (by hand %.6f J)\n",
              decode_w, run.energy_j, expected);
  EXPECT_GT(decode_w, 380) << "the byte term stops at the decode figure; the FLOPs add above it";
  EXPECT_LT(decode_w, 450);
  EXPECT_NEAR(run.energy_j, expected, 1e-9 * expected);
}

// A GPU power limit (services[].gpu_power_limit): every step's power stays under it, the step running at the highest
// clock that fits; a prefill-heavy batch slows by about 1 / clock, a decode-heavy one barely.
TEST(ReplicaPower, PowerLimitHoldsEveryStepAndSlowsPrefillMoreThanDecode) {
  const RooflinePerfModel perf(roofline(989e12));
  const std::vector<Arrival> prefills(16, Arrival{0.0, 4096, 1}), decodes(32, Arrival{0.0, 16, 256});
  double ratios[2];
  int k = 0;
  for (const auto* batch : {&prefills, &decodes}) {
    const RunResult free = run_replica(perf, limits(4096), false, *batch, 1.0, {}, -1, fitted_power());
    const RunResult capped = run_replica(perf, limits(4096), false, *batch, 1.0, {}, -1, fitted_power(300));
    double peak_free = 0;
    for (const StepRecord& s : free.steps_run) peak_free = std::max(peak_free, s.energy_j / s.duration_s);
    EXPECT_GT(peak_free, 300) << "the limit binds without it";
    for (const StepRecord& s : capped.steps_run) {
      EXPECT_LE(s.energy_j / s.duration_s, 300 * (1 + 1e-12)) << "every step under the limit, from its start";
      EXPECT_LT(s.clock, 1.0);
    }
    ratios[k++] = capped.requests.back().finish_s / free.requests.back().finish_s;
  }
  std::printf("under a 300 W limit: 16 x 4096-token prefills take %.3fx, 32 x (16 + 256) decodes %.4fx\n", ratios[0],
              ratios[1]);
  EXPECT_GT(ratios[0], 1.2);
  EXPECT_LT(ratios[1], 1.02);
  EXPECT_GT(ratios[0], ratios[1]);
}
