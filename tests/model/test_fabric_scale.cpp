// A 100,000-GPU fabric of each kind builds without N x N tables and routes by structure: counts, hop counts and the
// closed-form bisection are asserted. The build time, routing rate and peak memory are measured by
// bench/bench_fabric_kinds.cpp (docs/fabric.md), not here.
#include <gtest/gtest.h>

#include <cstdint>

#include "../support/fabric_100k.hpp"
#include "aif/models/fabric.hpp"

using aif::models::build_fabric;
using aif::models::Fabric;
using aif::models::LinkTier;
using aif::models::NodeRole;

namespace {

// Routes between GPU pairs spread over the whole fabric (two fixed strides through the GPUs): each one has at least
// the two NIC hops of a path between servers and at most the fabric's diameter (asserted beside each call).
void expect_routes_within_diameter(const Fabric& f, size_t diameter, int routes) {
  const int64_t n = f.num_gpus();
  for (int64_t i = 0; i < routes; ++i) {
    const int a = static_cast<int>(i * 7919 % n), b = static_cast<int>((i * 104729 + 1) % n);
    if (a / 8 == b / 8) continue;  // same server (8 GPUs each): NVLink, not the fabric
    const size_t hops = f.route(f.gpu_vertex(a), f.gpu_vertex(b), static_cast<uint64_t>(i)).size();
    ASSERT_GE(hops, 2u) << "GPU " << a << " to " << b;
    ASSERT_LE(hops, diameter) << "GPU " << a << " to " << b;
  }
}

}  // namespace

TEST(FabricScale, RailOptimized100kGpus) {
  // 12,500 servers x 8 GPUs = 100,000 GPUs; scalable units of 25 servers (500 units, 4,000 rail switches), 64 spines;
  // 1,000 storage nodes, 25 per storage leaf (40 leaves).
  const Fabric f = build_fabric(aif::testing::rail_optimized_100k());

  EXPECT_EQ(f.num_gpus(), 100000);
  EXPECT_EQ(f.count(NodeRole::NVSWITCH), 12500);
  EXPECT_EQ(f.count(NodeRole::LEAF), 4000);
  EXPECT_EQ(f.count(NodeRole::SPINE), 64);
  EXPECT_EQ(f.count(NodeRole::STORAGE_LEAF), 40);
  EXPECT_EQ(f.count(NodeRole::STORAGE), 1000);
  EXPECT_EQ(f.count(LinkTier::NVLINK), 100000);
  EXPECT_EQ(f.count(LinkTier::NIC), 100000);
  EXPECT_EQ(f.count(LinkTier::UPLINK), 4000 * 64 + 40 * 64);
  EXPECT_EQ(f.count(LinkTier::STORAGE), 1000);
  EXPECT_EQ(f.num_vertices(), 100000 + 12500 + 4000 + 64 + 40 + 1000);

  // Routes by structure: same rail of a unit 2 hops, across units 4, GPU to storage 4.
  EXPECT_EQ(f.route(f.gpu_vertex(0), f.gpu_vertex(8)).size(), 2u);
  EXPECT_EQ(f.route(f.gpu_vertex(0), f.gpu_vertex(99999)).size(), 4u);
  EXPECT_EQ(f.route(f.gpu_vertex(12345), f.storage_vertex(999)).size(), 4u);
  // Non-blocking: 50,000 GPUs x 50 GB/s = 2.5 PB/s.
  EXPECT_DOUBLE_EQ(f.bisection_bandwidth(), 2.5e15);
  EXPECT_EQ(f.diameter_hops(), 4);
  expect_routes_within_diameter(f, 4, 10000);
}

TEST(FabricScale, FatTreeAndDragonfly100kGpus) {
  // 3 tiers: 12,500 servers, 4 per leaf (3,125 leaves), 25 leaves per pod (125 pods x 8 spines), 64 cores.
  const Fabric tree = build_fabric(aif::testing::fat_tree_100k());
  EXPECT_EQ(tree.count(NodeRole::LEAF), 3125);
  EXPECT_EQ(tree.count(NodeRole::SPINE), 1000);
  EXPECT_EQ(tree.count(LinkTier::UPLINK), 3125 * 8);
  EXPECT_EQ(tree.count(LinkTier::CORE), 1000 * 64);
  EXPECT_EQ(tree.diameter_hops(), 6);
  expect_routes_within_diameter(tree, 6, 10000);

  // Dragonfly: 4 servers per router (3,125 routers), 25 routers per group (125 groups), 5 global links each:
  // 125 ports per group join the 124 others once.
  const Fabric fly = build_fabric(aif::testing::dragonfly_100k());
  EXPECT_EQ(fly.count(NodeRole::ROUTER), 3125);
  EXPECT_EQ(fly.count(LinkTier::LOCAL), 125 * 25 * 24 / 2);
  EXPECT_EQ(fly.count(LinkTier::GLOBAL), 125 * 124 / 2);
  EXPECT_EQ(fly.diameter_hops(), 5);  // NIC, local, global, local, NIC
  expect_routes_within_diameter(fly, 5, 10000);
}
