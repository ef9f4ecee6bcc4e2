// A 100,000-GPU rail-optimized fabric builds in seconds with bounded memory (no N x N tables) and routes by
// structure. Counts only are asserted; the build time, routing rate and peak memory are printed (docs/fabric.md).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "aif/models/fabric.hpp"

using aif::models::build_fabric;
using aif::models::Fabric;
using aif::models::FabricKind;
using aif::models::FabricParams;
using aif::models::LinkTier;
using aif::models::NodeRole;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Peak resident memory of this process, MiB (Linux /proc; 0 elsewhere).
double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      double kib = 0;
      status >> kib;
      return kib / 1024;
    }
  }
  return 0;
}

}  // namespace

TEST(FabricScale, RailOptimized100kGpus) {
  // 12,500 servers x 8 GPUs = 100,000 GPUs; scalable units of 25 servers (500 units, 4,000 rail switches), 64 spines;
  // 1,000 storage nodes, 25 per storage leaf (40 leaves).
  FabricParams p;
  p.kind = FabricKind::RAIL_OPTIMIZED;
  p.servers = 12500;
  p.gpus_per_server = 8;
  p.servers_per_leaf = 25;
  p.spines = 64;
  p.storage_nodes = 1000;
  p.storage_nodes_per_leaf = 25;
  const double rss_before = peak_rss_mib();
  const auto t0 = std::chrono::steady_clock::now();
  const Fabric f = build_fabric(p);
  const double build_s = seconds_since(t0);

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
  const auto t1 = std::chrono::steady_clock::now();
  size_t hops = 0;
  const int routes = 1000000;
  for (int64_t i = 0; i < routes; ++i) {
    const auto a = f.gpu_vertex(static_cast<int>(i * 7919 % 100000));
    const auto b = f.gpu_vertex(static_cast<int>((i * 104729 + 1) % 100000));
    hops += f.route(a, b, static_cast<uint64_t>(i)).size();
  }
  const double route_s = seconds_since(t1);
  EXPECT_GT(hops, 0u);

  const auto t2 = std::chrono::steady_clock::now();
  const double bisection = f.bisection_bandwidth();
  const double bisection_s = seconds_since(t2);
  // Non-blocking: 50,000 GPUs x 50 GB/s = 2.5 PB/s.
  EXPECT_DOUBLE_EQ(bisection, 2.5e15);
  EXPECT_EQ(f.diameter_hops(), 4);

  std::printf("100,000-GPU rail-optimized fabric: %d vertices, %d links\n", f.num_vertices(), f.num_links());
  std::printf("  build %.2f s, peak RSS %.0f MiB (%.0f MiB before)\n", build_s, peak_rss_mib(), rss_before);
  std::printf("  %d routes in %.2f s (%.0f ns each)\n", routes, route_s, route_s / routes * 1e9);
  std::printf("  bisection %.3g B/s (by hand 2.5e15) in %.2f s\n", bisection, bisection_s);
}

namespace {

// Mean time of one route between pseudo-random GPU pairs, ns.
double route_ns(const Fabric& f, int routes) {
  const int64_t n = f.num_gpus();
  size_t hops = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < routes; ++i) {
    const auto a = f.gpu_vertex(static_cast<int>(i * 7919 % n));
    const auto b = f.gpu_vertex(static_cast<int>((i * 104729 + 1) % n));
    hops += f.route(a, b, static_cast<uint64_t>(i)).size();
  }
  EXPECT_GT(hops, 0u);
  return seconds_since(t0) / routes * 1e9;
}

}  // namespace

TEST(FabricScale, FatTreeAndDragonfly100kGpus) {
  // 3 tiers: 12,500 servers, 4 per leaf (3,125 leaves), 25 leaves per pod (125 pods x 8 spines), 64 cores.
  FabricParams ft;
  ft.kind = FabricKind::FAT_TREE;
  ft.tiers = 3;
  ft.servers = 12500;
  ft.gpus_per_server = 8;
  ft.servers_per_leaf = 4;
  ft.leaves_per_pod = 25;
  ft.spines = 8;
  ft.cores = 64;
  auto t0 = std::chrono::steady_clock::now();
  const Fabric tree = build_fabric(ft);
  const double tree_s = seconds_since(t0);
  EXPECT_EQ(tree.count(NodeRole::LEAF), 3125);
  EXPECT_EQ(tree.count(NodeRole::SPINE), 1000);
  EXPECT_EQ(tree.count(LinkTier::UPLINK), 3125 * 8);
  EXPECT_EQ(tree.count(LinkTier::CORE), 1000 * 64);
  EXPECT_EQ(tree.diameter_hops(), 6);
  std::printf("100,000-GPU 3-tier fat-tree: build %.2f s, %.0f ns per route, peak RSS %.0f MiB\n", tree_s,
              route_ns(tree, 300000), peak_rss_mib());

  // Dragonfly: 4 servers per router (3,125 routers), 25 routers per group (125 groups), 5 global links each:
  // 125 ports per group join the 124 others once.
  FabricParams df;
  df.kind = FabricKind::DRAGONFLY;
  df.servers = 12500;
  df.gpus_per_server = 8;
  df.servers_per_leaf = 4;
  df.routers_per_group = 25;
  df.global_links_per_router = 5;
  t0 = std::chrono::steady_clock::now();
  const Fabric fly = build_fabric(df);
  const double fly_s = seconds_since(t0);
  EXPECT_EQ(fly.count(NodeRole::ROUTER), 3125);
  EXPECT_EQ(fly.count(LinkTier::LOCAL), 125 * 25 * 24 / 2);
  EXPECT_EQ(fly.count(LinkTier::GLOBAL), 125 * 124 / 2);
  t0 = std::chrono::steady_clock::now();
  const int diameter = fly.diameter_hops();
  const double diameter_s = seconds_since(t0);
  EXPECT_EQ(diameter, 5);  // NIC, local, global, local, NIC
  std::printf("100,000-GPU dragonfly: build %.2f s, %.0f ns per route, diameter in %.2f s, peak RSS %.0f MiB\n", fly_s,
              route_ns(fly, 300000), diameter_s, peak_rss_mib());
}
