// Training jobs on a small fabric (sim/training_job): the simulated step equals the step model's closed form with
// the collectives' idle-fabric formulas, a checkpoint takes its bytes over the storage bottleneck, and two jobs
// whose gradient all-reduces share leaf-spine uplinks each run slower than alone. Expected values are worked out
// in the comments and printed beside the simulated ones.
//
// SimGrid allows one engine and one platform per process: the tests share them and run one after another on the
// simulated clock (each starts its jobs a second after the previous test's end).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <simgrid/kernel/Timer.hpp>
#include <simgrid/s4u.hpp>
#include <string>
#include <vector>

#include "../support/aifsim_process.hpp"
#include "../support/simgrid_engine.hpp"
#include "../support/toy_training.hpp"
#include "aif/analysis/results.hpp"
#include "aif/models/fabric.hpp"
#include "aif/models/facility_power.hpp"
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
using aif::sim::PathCost;
using aif::sim::TrainingJob;

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

sg4::Engine& engine() { return aif::testing::simgrid_engine("test_training_job", {"--log=root.thresh:warning"}); }

World& world() { return aif::testing::toy::world(engine); }

double mean_step(const Recorded& r) {
  double sum = 0;
  for (const auto& s : r.steps) sum += s.end_s - s.start_s;
  return r.steps.empty() ? 0 : sum / static_cast<double>(r.steps.size());
}

void expect_rel(const char* what, double expected, double simulated, double rel, bool print = true) {
  if (print)
    std::printf("  %-42s closed form %.9g s, simulated %.9g s, rel. diff %.2e\n", what, expected, simulated,
                expected != 0 ? std::abs(simulated - expected) / expected : std::abs(simulated));
  EXPECT_NEAR(simulated, expected, rel * std::abs(expected)) << what;
}

}  // namespace

// dp 2, tp 1, pp 2 laid out by hand: stage 0 and stage 1 of replica 0 on GPUs 0 and 1 (server 0, leaf 0), of
// replica 1 on GPUs 8 and 9 (server 2, leaf 1). PP sends stay on NVLink: one GPU pair per flow, each on its own
// NVLinks: bandwidth 450 GB/s, latency 2 x 0.5 us. DP rings (0 <-> 8, 1 <-> 9) cross the spine: NIC, uplink,
// uplink, NIC = 4 us; 2 flows per direction on a 200 GB/s uplink leave each its NIC's 50 GB/s.
TEST(TrainingJob, IdleFabricStepEqualsClosedForm) {
  World& w = world();
  const auto p = params(2, 1, 2);
  JobLayout layout;
  layout.dp = 2;
  layout.tp = 1;
  layout.pp = 2;
  layout.gpus = {0, 8, 1, 9};  // (stage 0, dp 0), (stage 0, dp 1), (stage 1, dp 0), (stage 1, dp 1)
  for (bool overlap : {true, false}) {
    Recorded rec;
    JobConfig c = config(overlap ? "overlap" : "no-overlap", p, 3);
    c.overlap = overlap;
    TrainingJob job(0, c, p, layout, w.platform, 1e9, sinks(rec));
    job.start();
    engine().run();
    ASSERT_EQ(rec.steps.size(), 3u);
    const auto& m = job.model();
    aif::models::StepComm comm;
    comm.pp_forward_s =
        aif::sim::predict::ring_time(CollectiveOp::SEND, 2, m.pp_send_bytes, {NVLINK_BW, 2 * NVLINK_LAT});
    comm.pp_backward_s = comm.pp_forward_s;
    comm.dp_allreduce_s =
        aif::sim::predict::ring_time(CollectiveOp::ALL_REDUCE, 2, m.dp_allreduce_bytes, {NIC_BW, 4 * LINK_LAT});
    const auto t = aif::models::step_time(m, comm, overlap);
    std::printf("overlap %s: PP send %.4g B, DP all-reduce %.4g B per GPU\n", overlap ? "on" : "off", m.pp_send_bytes,
                m.dp_allreduce_bytes);
    for (const JobStepRecord& s : rec.steps) {
      const bool print = s.step == 0;  // every step is checked, the first printed
      expect_rel("step time", t.total_s, s.end_s - s.start_s, 1e-6, print);
      expect_rel("compute", t.compute_s, s.compute_s, 1e-6, print);
      expect_rel("communication", t.comm_s, s.comm_s, 1e-6, print);
      expect_rel("exposed communication", t.exposed_comm_s, s.exposed_comm_s, 1e-6, print);
      EXPECT_EQ(s.checkpoint_s, 0.0);
    }
    EXPECT_TRUE(job.finished());
    // Steps follow one another without gaps.
    for (size_t i = 1; i < rec.steps.size(); ++i) EXPECT_EQ(rec.steps[i].start_s, rec.steps[i - 1].end_s);
    ASSERT_GE(rec.events.size(), 2u);
    EXPECT_EQ(rec.events.front().kind, "job_start");
    EXPECT_EQ(rec.events.back().kind, "job_end");
  }
}

// The same job writes a checkpoint after every step. GPU k (layout order) writes its share to storage node k % 2:
// each node takes one share of each stage, over its 10 GB/s link (the storage leaf's 20 GB/s uplink carries both
// nodes' flows, no tighter). Route: NIC, uplink, storage-leaf uplink, storage link = 4 us.
//   time = 4 us + (share of stage 0 + share of stage 1) / 10 GB/s.
TEST(TrainingJob, CheckpointTakesBytesOverTheStorageBottleneck) {
  World& w = world();
  const auto p = params(2, 1, 2);
  JobLayout layout;
  layout.dp = 2;
  layout.tp = 1;
  layout.pp = 2;
  layout.gpus = {0, 8, 1, 9};
  Recorded rec;
  JobConfig c = config("ckpt", p, 2);
  c.checkpoint.every_steps = 1;
  TrainingJob job(0, c, p, layout, w.platform, 1e9, sinks(rec));
  job.start();
  engine().run();
  ASSERT_EQ(rec.steps.size(), 2u);
  const auto& m = job.model();
  const double per_node = m.stages[0].checkpoint_bytes + m.stages[1].checkpoint_bytes;
  std::printf("checkpoint %.4g B in all, %.4g B per storage node\n", m.checkpoint_bytes, per_node);
  EXPECT_NEAR(2 * per_node, m.checkpoint_bytes, 1e-9 * m.checkpoint_bytes);
  const double expected = 4 * LINK_LAT + per_node / STORAGE_BW;
  for (const JobStepRecord& s : rec.steps) {
    const bool print = s.step == 0;
    expect_rel("checkpoint", expected, s.checkpoint_s, 1e-6, print);
    expect_rel("step = compute + exposed comm + checkpoint", s.compute_s + s.exposed_comm_s + s.checkpoint_s,
               s.end_s - s.start_s, 1e-9, print);
  }
  int checkpoints = 0;
  for (const auto& e : rec.events) checkpoints += e.kind == "checkpoint";
  EXPECT_EQ(checkpoints, 2);
  for (const auto& e : job.summary()) {
    if (e.name == "job.ckpt.checkpoints") {
      EXPECT_EQ(e.value, 2);
    }
  }
}

// dp 2, tp 4: a replica per server, spread over leaves 0 and 1 (only their GPUs are free), so every DP ring edge
// crosses the spine. Alone: 4 flows each way on a leaf's 200 GB/s uplink, 50 GB/s each (NIC-bound). Two such jobs
// at once (the second on the other server of each leaf): 8 flows, 25 GB/s each: both slower.
TEST(TrainingJob, JobsSharingSpineUplinksAreEachSlowerThanAlone) {
  World& w = world();
  const auto p = params(2, 4, 1);
  std::vector<bool> free(static_cast<size_t>(w.fabric.num_gpus()), false);
  for (int g = 0; g < 16; ++g) free[static_cast<size_t>(g)] = true;  // leaves 0 and 1
  JobConfig a = config("a", p, 2), b = config("b", p, 2);
  a.placement = b.placement = aif::sim::JobPlacement::SPREAD;
  a.overlap = b.overlap = false;
  const JobLayout la = aif::sim::place_job(a, w.fabric, free);
  const JobLayout lb = aif::sim::place_job(b, w.fabric, free);
  // Spread: TP groups alternate between leaf 0 and leaf 1.
  EXPECT_EQ(la.gpus, (std::vector<int>{0, 1, 2, 3, 8, 9, 10, 11}));
  EXPECT_EQ(lb.gpus, (std::vector<int>{4, 5, 6, 7, 12, 13, 14, 15}));

  Recorded alone;
  {
    TrainingJob job(0, a, p, la, w.platform, 1e9, sinks(alone));
    job.start();
    engine().run();
  }
  Recorded ra, rb;
  {
    a.start_s = b.start_s = sg4::Engine::get_clock() + 1;
    TrainingJob ja(0, a, p, la, w.platform, 1e9, sinks(ra));
    TrainingJob jb(1, b, p, lb, w.platform, 1e9, sinks(rb));
    ja.start();
    jb.start();
    engine().run();
    const auto& m = ja.model();
    const auto dp = [&](double bandwidth) {
      return aif::sim::predict::ring_time(CollectiveOp::ALL_REDUCE, 2, m.dp_allreduce_bytes, {bandwidth, 4 * LINK_LAT});
    };
    const auto step = [&](double bandwidth) {
      aif::models::StepComm comm;
      comm.dp_allreduce_s = dp(bandwidth);
      return aif::models::step_time(m, comm, false).total_s;
    };
    expect_rel("alone: step (NIC-bound all-reduce)", step(NIC_BW), mean_step(alone), 1e-6);
    expect_rel("together, job a: step (uplink shared by 8 flows)", step(NIC_BW / 2), mean_step(ra), 1e-6);
    expect_rel("together, job b", step(NIC_BW / 2), mean_step(rb), 1e-6);
  }
  EXPECT_GT(mean_step(ra), mean_step(alone) * 1.05);
  EXPECT_GT(mean_step(rb), mean_step(alone) * 1.05);
}

// Placement policies on an empty 8-server fabric, dp 4, tp 2, pp 2 (8 TP groups of 2 GPUs).
TEST(TrainingJobPlacement, PoliciesOrderRanksAsDocumented) {
  World& w = world();
  const auto p = params(4, 2, 2);
  auto place = [&](aif::sim::JobPlacement policy, std::vector<bool> free) {
    JobConfig c = config("p", p, 1);
    c.placement = policy;
    return aif::sim::place_job(c, w.fabric, free);
  };
  const std::vector<bool> all(32, true);
  // Packed, replica-major: replica 0's stages on server 0 (GPUs 0-1, 2-3), replica 1's on server 1, ...
  const JobLayout packed = place(aif::sim::JobPlacement::PACKED, all);
  EXPECT_EQ(packed.gpu(0, 0, 0), 0);
  EXPECT_EQ(packed.gpu(1, 0, 0), 2);
  EXPECT_EQ(packed.gpu(0, 1, 0), 4);
  EXPECT_EQ(packed.gpu(1, 3, 1), 15);
  // Spread: TP groups round-robin over the 4 leaves (servers 0, 2, 4, 6, then their second groups ...).
  const JobLayout spread = place(aif::sim::JobPlacement::SPREAD, all);
  EXPECT_EQ(spread.gpu(0, 0, 0), 0);
  EXPECT_EQ(spread.gpu(1, 0, 0), 8);
  EXPECT_EQ(spread.gpu(0, 1, 0), 16);
  EXPECT_EQ(spread.gpu(1, 1, 0), 24);
  EXPECT_EQ(spread.gpu(0, 2, 0), 2);
  // Topology-aware, stage-major, fullest leaf first: with leaf 0 half taken, leaves 1 and 2 come first; stage 0's
  // DP group fills leaf 1 (servers 2, 3), stage 1's leaf 2.
  std::vector<bool> some = all;
  for (int g = 0; g < 4; ++g) some[static_cast<size_t>(g)] = false;
  const JobLayout aware = place(aif::sim::JobPlacement::TOPOLOGY_AWARE, some);
  EXPECT_EQ(aware.dp_group(0, 0), (std::vector<int>{8, 10, 12, 14}));
  EXPECT_EQ(aware.dp_group(1, 1), (std::vector<int>{17, 19, 21, 23}));
  // A job of 16 TP groups of 2 takes all 32 GPUs; then not even one more group fits.
  JobConfig big = config("big", params(16, 2, 1), 1);
  std::vector<bool> free = all;
  EXPECT_NO_THROW(aif::sim::place_job(big, w.fabric, free));
  EXPECT_EQ(std::count(free.begin(), free.end(), true), 0);
  big.dp = 1;
  EXPECT_THROW(aif::sim::place_job(big, w.fabric, free), std::runtime_error);
}

// The example scenario through the CLI: /jobs/steps agrees with the summary and with itself.
TEST(TrainingJobRun, ExampleScenarioWritesStepsThatAddUp) {
  const std::string dir = aif::testing::scratch_dir("training_example");
  const auto r = aif::testing::run_aifsim("run " + aif::testing::source_path("scenarios/examples/training.yaml") +
                                          " -q --set simulation.duration=10min -o " + dir + "/t.h5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const aif::analysis::ResultsReader res(dir + "/t.h5");
  ASSERT_EQ(res.job_names(), (std::vector<std::string>{"pretrain-70b", "tune-8b"}));
  const auto steps = res.job_steps();
  std::vector<int64_t> count(2, 0);
  std::vector<double> total(2, 0);
  std::vector<double> last_end(2, -1);
  for (const JobStepRecord& s : steps) {
    ASSERT_GE(s.job, 0);
    ASSERT_LT(s.job, 2);
    const auto j = static_cast<size_t>(s.job);
    EXPECT_EQ(s.step, count[j]);
    if (last_end[j] >= 0) {
      EXPECT_EQ(s.start_s, last_end[j]);
    }
    EXPECT_NEAR(s.end_s - s.start_s, s.compute_s + s.exposed_comm_s + s.checkpoint_s, 1e-9 * (s.end_s - s.start_s));
    EXPECT_LE(s.exposed_comm_s, s.comm_s * (1 + 1e-12));
    last_end[j] = s.end_s;
    total[j] += s.end_s - s.start_s;
    ++count[j];
  }
  // The fine-tuning job starts at 5 min; no step starts at or after the 10 min horizon.
  for (const JobStepRecord& s : steps) {
    EXPECT_LT(s.start_s, 600.0);
    EXPECT_GE(s.start_s, s.job == 1 ? 300.0 : 0.0);
  }
  const char* names[] = {"pretrain-70b", "tune-8b"};
  for (size_t j = 0; j < 2; ++j) {
    const std::string n = std::string("job.") + names[j] + ".";
    ASSERT_GT(count[j], 0);
    EXPECT_EQ(*res.summary_value(n + "steps"), static_cast<double>(count[j]));
    EXPECT_NEAR(*res.summary_value(n + "step_time_mean"), total[j] / count[j], 1e-9 * total[j]);
    const double share = *res.summary_value(n + "achieved_flops_share");
    std::printf("%s: %lld steps, mean %.4f s, achieved FLOP/s share %.3f, tokens/s %.0f\n", names[j],
                static_cast<long long>(count[j]), total[j] / count[j], share, *res.summary_value(n + "tokens_per_s"));
    // Below the compute efficiency (0.5, 0.4): the bubble and exposed communication only take away.
    EXPECT_GT(share, 0.0);
    EXPECT_LT(share, j == 0 ? 0.5 : 0.4);
  }
  int starts = 0, ends = 0;
  for (const auto& e : res.events()) {
    starts += e.kind == "job_start";
    ends += e.kind == "job_end";
  }
  EXPECT_EQ(starts, 2);
  EXPECT_EQ(ends, 2);
}

// A clock change (power cap) at half-way through step 0 of the first test's job: step 0 keeps its clock; steps 1
// and 2 start after the call and run their forward and backward passes at half clock, 2x as long. The optimizer
// step is HBM-bound and keeps its time, so compute_s = slots x 2 (forward + backward) + optimizer, just under 2x.
// Each step equals the closed form of the step model with forward and backward stretched by 1 / 0.5 (the DP
// all-reduce hides behind the longer last backward pass). Power and energy above idle follow
// models::gpu_power_at_clock at each step's clock.
// A cap applies at once, as GPU firmware enforces it within milliseconds: the clock drops half-way through step 0's
// pipeline phase, whose second half then runs at the new clock; steps 1 and 2 run at it from their start.
TEST(TrainingJob, AClockChangeMidStepSlowsTheRestOfItsCompute) {
  World& w = world();
  const auto p = params(2, 1, 2);
  JobLayout layout;
  layout.dp = 2;
  layout.tp = 1;
  layout.pp = 2;
  layout.gpus = {0, 8, 1, 9};
  Recorded rec;
  const JobConfig c = config("capped", p, 3);
  TrainingJob job(0, c, p, layout, w.platform, 1e9, sinks(rec));
  const auto& m = job.model();
  aif::models::StepComm comm;
  comm.pp_forward_s = aif::sim::predict::ring_time(CollectiveOp::SEND, 2, m.pp_send_bytes, {NVLINK_BW, 2 * NVLINK_LAT});
  comm.pp_backward_s = comm.pp_forward_s;
  comm.dp_allreduce_s =
      aif::sim::predict::ring_time(CollectiveOp::ALL_REDUCE, 2, m.dp_allreduce_bytes, {NIC_BW, 4 * LINK_LAT});
  aif::models::TrainingStep halved = m;
  for (auto& s : halved.stages) {
    s.forward_s /= 0.5;
    s.backward_s /= 0.5;
  }
  const auto half = aif::models::step_time(halved, comm, true);
  const aif::models::GpuPowerParams power{100, 400, 700};
  const double extra_full = 700 - 100, extra_half = aif::models::gpu_power_at_clock(power, 1.0, 0.5) - 100;
  EXPECT_EQ(job.clock_fraction(), 1.0);
  EXPECT_THROW(job.set_clock_fraction(0), std::invalid_argument);
  EXPECT_THROW(job.set_clock_fraction(1.5), std::invalid_argument);
  // Step 0 by hand: PP rounds (pfb), then the pipeline phase: compute slots x (F + B) - B (the last backward pass
  // overlaps the DP all-reduce) stretched by 1 / clock, mixed evenly with the clock-free slots x (TP + PP) - pfb.
  const double slots = m.slots(), fb = m.forward_s() + m.backward_s(), b = m.backward_s();
  const double pfb = comm.pp_forward_s + comm.pp_backward_s;
  const double fixed = slots * (m.tp_comm_s() + pfb) - pfb;
  const double phase_full = (slots * fb - b) + fixed, phase_half = (slots * fb - b) / 0.5 + fixed;
  const double change = pfb + 0.5 * phase_full;  // half-way through the phase, from the step's start
  using simgrid::kernel::timer::Timer;
  Timer::set(c.start_s + change, [&job] { job.set_clock_fraction(0.5); });
  const double step0 = pfb + 0.5 * phase_full + 0.5 * phase_half + std::max(b / 0.5, comm.dp_allreduce_s) + m.optimizer_s();
  // Half-way through step 2: the share measured in step 1 at the new clock, at the new clock's power.
  double sampled_w = -1;
  Timer::set(c.start_s + step0 + 1.5 * half.total_s, [&job, &sampled_w, power] { sampled_w = job.compute_power_w_now(power); });
  job.start();
  engine().run();
  ASSERT_EQ(rec.steps.size(), 3u);
  EXPECT_EQ(job.clock_fraction(), 0.5);
  // Compute on the critical path: half the phase's compute at full clock, its other half at half clock, the
  // overlapped backward pass and the optimizer step after the change.
  const double compute0 = 0.5 * (slots * fb - b) + 0.5 * (slots * fb - b) / 0.5 + b / 0.5 + m.optimizer_s();
  expect_rel("step 0 time (clock halved mid-phase)", step0, rec.steps[0].end_s - rec.steps[0].start_s, 1e-6);
  expect_rel("step 0 compute", compute0, rec.steps[0].compute_s, 1e-6);
  const double full_clock_step0 = slots * fb + m.optimizer_s();
  std::printf("  step 0 compute %.9g s: between %.9g s (all at full clock) and %.9g s (all at half clock)\n",
              rec.steps[0].compute_s, full_clock_step0, half.compute_s);
  EXPECT_GT(rec.steps[0].compute_s, full_clock_step0);
  EXPECT_LT(rec.steps[0].compute_s, half.compute_s);
  const double by_hand_half = slots * fb / 0.5 + m.optimizer_s();
  for (size_t i = 1; i < 3; ++i) {
    expect_rel("compute at half clock", by_hand_half, rec.steps[i].compute_s, 1e-9, i == 1);
    expect_rel("compute at half clock (closed form)", half.compute_s, rec.steps[i].compute_s, 1e-9, i == 1);
    expect_rel("step time at half clock", half.total_s, rec.steps[i].end_s - rec.steps[i].start_s, 1e-6, i == 1);
    expect_rel("exposed communication at half clock", half.exposed_comm_s, rec.steps[i].exposed_comm_s, 1e-6, i == 1);
  }
  // GPU-seconds of compute: a GPU computes in micro_batches of the slots (the rest are bubbles), plus the optimizer.
  const double busy = m.micro_batches / slots;
  const double gpus = m.gpus();
  const double at_full0 = busy * 0.5 * (slots * fb - b);
  const double at_half0 = busy * (0.5 * (slots * fb - b) / 0.5 + b / 0.5) + m.optimizer_s();
  const double gpu_half = m.micro_batches * fb / 0.5 + m.optimizer_s();
  expect_rel("compute GPU-seconds", gpus * (at_full0 + at_half0 + 2 * gpu_half), job.compute_gpu_s(), 1e-9);
  const double energy = extra_full * gpus * at_full0 + extra_half * gpus * (at_half0 + 2 * gpu_half);
  std::printf(
      "  energy above idle: by hand %.6g J, job %.6g J (a GPU computing at half clock draws %.2f W above "
      "idle, %.0f W at full clock)\n",
      energy, job.compute_energy_j(power), extra_half, extra_full);
  EXPECT_NEAR(job.compute_energy_j(power), energy, 1e-9 * energy);
  const double share_step1 = gpu_half / (rec.steps[1].end_s - rec.steps[1].start_s);
  std::printf("  power above idle in step 2: by hand %.6f W (share %.4f), job %.6f W\n", share_step1 * extra_half,
              share_step1, sampled_w);
  EXPECT_NEAR(sampled_w, share_step1 * extra_half, 1e-9 * extra_half);
  EXPECT_EQ(job.compute_power_w_now(power), 0.0);  // ended
}
