// Congestion on the SimGrid fabric: flows and collectives sharing links get the rates max-min fair sharing gives,
// worked out by hand. Every simulation runs in a child process of its own (tests/support/sim_child.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <vector>

#include <simgrid/s4u.hpp>

#include "../support/sim_child.hpp"
#include "aif/models/fabric.hpp"
#include "aif/world/collectives.hpp"
#include "aif/world/platform.hpp"

namespace sg4 = simgrid::s4u;
using aif::models::FabricKind;
using aif::models::FabricParams;
using aif::sim::CollectiveOp;
using aif::sim::CollectiveResult;
using aif::sim::PathCost;
using aif::testing::run_simulation_in_child;
namespace predict = aif::sim::predict;

namespace {

constexpr double NIC_BW = 50e9;
constexpr double HOP = 1e-6;
constexpr double GB = 1e9;

// 8 servers x 4 GPUs, 2 servers per leaf (4 leaves of 8 GPUs, 400 GB/s of NICs each), one spine. With one spine there
// is no ECMP choice: every flow between leaves crosses its leaf's single uplink, of 400 GB/s / oversubscription.
FabricParams one_spine(double oversubscription) {
  FabricParams p;
  p.kind = FabricKind::FAT_TREE;
  p.servers = 8;
  p.gpus_per_server = 4;
  p.servers_per_leaf = 2;
  p.spines = 1;
  p.oversubscription = oversubscription;
  p.nic_bandwidth = NIC_BW;
  p.link_latency_s = HOP;
  return p;
}

// Starts one actor per entry of `jobs` at time 0, each running its job; returns the job results (time, busbw).
using Job = std::function<CollectiveResult(const aif::sim::Platform&)>;
std::vector<double> simulate_together(const FabricParams& params, const std::vector<std::vector<Job>>& phases) {
  return run_simulation_in_child([&] {
    aif::models::Fabric fabric = aif::models::build_fabric(params);
    const aif::sim::Platform platform = aif::sim::build_platform(fabric);
    std::vector<double> out;
    // A driver runs the phases one after another; the jobs of a phase run concurrently, one actor each.
    sg4::Actor::create("driver", platform.gpus[0], [&] {
      for (const std::vector<Job>& phase : phases) {
        std::vector<CollectiveResult> results(phase.size());
        std::vector<sg4::ActorPtr> actors;
        for (size_t j = 0; j < phase.size(); j++)
          actors.push_back(sg4::Actor::create("job" + std::to_string(j), platform.gpus[0],
                                              [&, j] { results[j] = phase[j](platform); }));
        for (const sg4::ActorPtr& a : actors) a->join();
        for (const CollectiveResult& r : results) {
          out.push_back(r.time_s);
          out.push_back(r.busbw);
        }
      }
    });
    sg4::Engine::get_instance()->run();
    return out;
  });
}

void expect_close(double simulated, double predicted, const char* what) {
  std::printf("%-48s simulated %.9f s  by hand %.9f s\n", what, simulated, predicted);
  EXPECT_NEAR(simulated, predicted, 1e-9 * predicted + 2e-9) << what;
}

Job send(int a, int b, double bytes) {
  return [=](const aif::sim::Platform& p) { return aif::sim::send(p, a, b, bytes); };
}

}  // namespace

// 8:1 oversubscribed leaves: a 50 GB/s uplink. One flow from leaf 0 to leaf 1 alone gets it all; two flows from
// different GPUs (different NICs) share it, 25 GB/s each.
TEST(Congestion, TwoFlowsOnOneBottleneckGetHalfEach) {
  const double uplink = 8 * NIC_BW / 8;
  const std::vector<double> out =
      simulate_together(one_spine(8), {{send(0, 8, 10 * GB)}, {send(0, 8, 10 * GB), send(5, 13, 10 * GB)}});
  ASSERT_EQ(out.size(), 6u);
  const double alpha = 4 * HOP;  // NIC, uplink, uplink, NIC
  expect_close(out[0], alpha + 10 * GB / uplink, "one flow alone");
  expect_close(out[2], alpha + 10 * GB / (uplink / 2), "first of two flows sharing the uplink");
  expect_close(out[4], alpha + 10 * GB / (uplink / 2), "second of two flows sharing the uplink");
}

// Permutation: GPU i of the first half (leaves 0, 1) sends to GPU i + 16 (leaves 2, 3), all at once. The fabric's
// bisection bandwidth is min(16 NICs, 2 leaves' uplinks): non-blocking 800 GB/s, so every flow runs at its NIC's
// 50 GB/s; 4:1 oversubscribed, each leaf's 100 GB/s uplink carries 8 flows: 12.5 GB/s each, a quarter.
TEST(Congestion, PermutationGetsTheBisectionBandwidth) {
  for (double over : {1.0, 4.0}) {
    std::vector<Job> flows;
    for (int i = 0; i < 16; i++) flows.push_back(send(i, i + 16, 10 * GB));
    const std::vector<double> out = run_simulation_in_child([&] {
      aif::models::Fabric fabric = aif::models::build_fabric(one_spine(over));
      const double bisection = fabric.bisection_bandwidth();
      const aif::sim::Platform platform = aif::sim::build_platform(fabric);
      std::vector<double> times(flows.size());
      for (size_t j = 0; j < flows.size(); j++)
        sg4::Actor::create("flow" + std::to_string(j), platform.gpus[0],
                           [&, j] { times[j] = flows[j](platform).time_s; });
      sg4::Engine::get_instance()->run();
      times.push_back(bisection);
      return times;
    });
    ASSERT_EQ(out.size(), 17u);
    const double bisection = out[16];
    EXPECT_DOUBLE_EQ(bisection, 16 * NIC_BW / over);
    double makespan = 0;
    for (int i = 0; i < 16; i++) makespan = std::max(makespan, out[static_cast<size_t>(i)]);
    const double aggregate = 16 * 10 * GB / (makespan - 4 * HOP);
    std::printf("oversubscription %.0f:1: permutation throughput %.1f GB/s, bisection bandwidth %.1f GB/s\n", over,
                aggregate / 1e9, bisection / 1e9);
    expect_close(makespan, 4 * HOP + 10 * GB / (NIC_BW / over),
                 over == 1 ? "permutation, non-blocking" : "permutation, 4:1");
    EXPECT_NEAR(aggregate, bisection, 1e-6 * bisection);
  }
}

// The same permutation on a non-blocking fabric with 4 spines (4 uplinks of 100 GB/s per leaf): the fabric hashes
// each flow onto one uplink (ECMP), and 8 flows on 4 uplinks collide, so the permutation gets less than the bisection
// bandwidth. All flows have the same size, so max-min sharing ends the last one when the busiest link has carried
// its bytes: makespan = latency + max over links (bytes routed over it / its bandwidth), from the fabric's routes.
TEST(Congestion, EcmpCollisionsCostBisectionBandwidth) {
  FabricParams params = one_spine(1);
  params.spines = 4;
  const aif::models::Fabric fabric = aif::models::build_fabric(params);
  std::map<std::pair<int, bool>, double> load;  // (link, up) -> bytes
  for (int i = 0; i < 16; i++)
    for (const aif::models::Hop& h : fabric.route(fabric.gpu_vertex(i), fabric.gpu_vertex(i + 16)))
      load[{h.link, h.up}] += 10 * GB;
  double busiest = 0;
  for (const auto& [link, bytes] : load) busiest = std::max(busiest, bytes / fabric.link(link.first).bandwidth);
  const std::vector<double> out = run_simulation_in_child([&] {
    aif::models::Fabric f = aif::models::build_fabric(params);
    const aif::sim::Platform platform = aif::sim::build_platform(f);
    std::vector<double> times(16);
    for (int j = 0; j < 16; j++)
      sg4::Actor::create("flow" + std::to_string(j), platform.gpus[0], [&, j] {
        times[static_cast<size_t>(j)] = aif::sim::send(platform, j, j + 16, 10 * GB).time_s;
      });
    sg4::Engine::get_instance()->run();
    return times;
  });
  ASSERT_EQ(out.size(), 16u);
  const double makespan = *std::max_element(out.begin(), out.end());
  expect_close(makespan, 4 * HOP + busiest, "permutation, 4 spines, ECMP");
  const double aggregate = 16 * 10 * GB / (makespan - 4 * HOP);
  std::printf("4 spines, ECMP: permutation throughput %.1f GB/s of a %.1f GB/s bisection (%.0f %%)\n", aggregate / 1e9,
              fabric.bisection_bandwidth() / 1e9, 100 * aggregate / fabric.bisection_bandwidth());
  EXPECT_LE(aggregate, fabric.bisection_bandwidth() * (1 + 1e-9));
}

// Two all-reduce rings of 4 GPUs over leaves 0 and 1 (one spine, 8:1: a 50 GB/s uplink each way per leaf).
// Ring A alternates leaves, s0g0 -> s2g0 -> s0g1 -> s2g1: all 4 edges cross, 2 per uplink direction.
// Ring B crosses twice, s1g0 -> s1g1 -> s3g0 -> s3g1: its two same-server edges run on NVLink, the other 2 cross,
// 1 per uplink direction. Every ring edge carries V = 2*3/4 S.
// Alone: A's crossing flows share each uplink two ways (25 GB/s); B's crossing flow has an uplink (and its NICs) to
// itself (50 GB/s). Together each uplink direction carries 3 flows: 50/3 GB/s each (max-min: the NICs, 50 GB/s,
// are not saturated), all 3 of the same size, so they end together. A slows by 25 / (50/3) = 1.5 in its bandwidth
// term, B by 3.
TEST(Congestion, RingsSharingSpineUplinksSlowEachOther) {
  const double uplink = 8 * NIC_BW / 8;
  const double s = 8 * GB;
  const std::vector<int> ring_a = {0, 8, 1, 9}, ring_b = {4, 5, 12, 13};
  auto ring = [](std::vector<int> gpus, double bytes) -> Job {
    return [=](const aif::sim::Platform& p) { return aif::sim::all_reduce_ring(p, gpus, bytes); };
  };
  const std::vector<double> out =
      simulate_together(one_spine(8), {{ring(ring_a, s)}, {ring(ring_b, s)}, {ring(ring_a, s), ring(ring_b, s)}});
  ASSERT_EQ(out.size(), 8u);
  const PathCost crossing_alone_a{uplink / 2, 4 * HOP}, crossing_alone_b{uplink, 4 * HOP};
  const PathCost crossing_shared{uplink / 3, 4 * HOP};
  const double a_alone = predict::ring_time(CollectiveOp::ALL_REDUCE, 4, s, crossing_alone_a);
  const double b_alone = predict::ring_time(CollectiveOp::ALL_REDUCE, 4, s, crossing_alone_b);
  const double shared = predict::ring_time(CollectiveOp::ALL_REDUCE, 4, s, crossing_shared);
  expect_close(out[0], a_alone, "ring A alone");
  expect_close(out[2], b_alone, "ring B alone");
  expect_close(out[4], shared, "ring A beside ring B");
  expect_close(out[6], shared, "ring B beside ring A");
  std::printf("slowdown: ring A x%.3f (bandwidth term x1.5), ring B x%.3f (x3)\n", out[4] / out[0], out[6] / out[2]);
  EXPECT_GT(out[4], out[0]);
  EXPECT_GT(out[6], out[2]);
}
