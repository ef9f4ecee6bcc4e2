// Fabric model at 100,000 GPUs (not a test; prints numbers, asserts nothing): for the rail-optimized, 3-tier
// fat-tree and dragonfly fabrics of tests/model/test_fabric_scale.cpp (which checks their structure), the build wall
// time, the time of one Fabric::route between pseudo-random GPU pairs, the bisection and diameter computations, and
// the peak resident memory (docs/fabric.md).
//
// Usage: bench_fabric_kinds [ROUTES]   (route queries per fabric, default 1,000,000)
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "aif/models/fabric.hpp"

using aif::models::build_fabric;
using aif::models::Fabric;
using aif::models::FabricKind;
using aif::models::FabricParams;

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

// Mean time of one route between pseudo-random GPU pairs (two fixed strides through the GPUs), ns.
double route_ns(const Fabric& f, int64_t routes) {
  const int64_t n = f.num_gpus();
  size_t hops = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < routes; ++i) {
    const auto a = f.gpu_vertex(static_cast<int>(i * 7919 % n));
    const auto b = f.gpu_vertex(static_cast<int>((i * 104729 + 1) % n));
    hops += f.route(a, b, static_cast<uint64_t>(i)).size();
  }
  const double ns = seconds_since(t0) / static_cast<double>(routes) * 1e9;
  if (hops == 0) std::printf("  (no hops: the routes were empty)\n");
  return ns;
}

void measure(const char* name, const FabricParams& p, int64_t routes) {
  auto t0 = std::chrono::steady_clock::now();
  const Fabric f = build_fabric(p);
  const double build_s = seconds_since(t0);
  const double per_route_ns = route_ns(f, routes);
  t0 = std::chrono::steady_clock::now();
  const double bisection = f.bisection_bandwidth();
  const double bisection_s = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  const int diameter = f.diameter_hops();
  const double diameter_s = seconds_since(t0);
  std::printf(
      "%s: %d vertices, %d links; build %.2f s, %.0f ns per route (%lld routes), bisection %.3g B/s in %.2f s, "
      "diameter %d in %.2f s, peak RSS %.0f MiB\n",
      name, f.num_vertices(), f.num_links(), build_s, per_route_ns, static_cast<long long>(routes), bisection,
      bisection_s, diameter, diameter_s, peak_rss_mib());
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t routes = argc > 1 ? std::atoll(argv[1]) : 1000000;

  FabricParams rail;  // 12,500 servers x 8 GPUs, units of 25 servers, 64 spines, 1,000 storage nodes
  rail.kind = FabricKind::RAIL_OPTIMIZED;
  rail.servers = 12500;
  rail.gpus_per_server = 8;
  rail.servers_per_leaf = 25;
  rail.spines = 64;
  rail.storage_nodes = 1000;
  rail.storage_nodes_per_leaf = 25;
  measure("100,000-GPU rail-optimized", rail, routes);

  FabricParams tree;  // 3 tiers: 4 servers per leaf, 25 leaves per pod (125 pods x 8 spines), 64 cores
  tree.kind = FabricKind::FAT_TREE;
  tree.tiers = 3;
  tree.servers = 12500;
  tree.gpus_per_server = 8;
  tree.servers_per_leaf = 4;
  tree.leaves_per_pod = 25;
  tree.spines = 8;
  tree.cores = 64;
  measure("100,000-GPU 3-tier fat-tree", tree, routes);

  FabricParams fly;  // 4 servers per router, 25 routers per group (125 groups), 5 global links per router
  fly.kind = FabricKind::DRAGONFLY;
  fly.servers = 12500;
  fly.gpus_per_server = 8;
  fly.servers_per_leaf = 4;
  fly.routers_per_group = 25;
  fly.global_links_per_router = 5;
  measure("100,000-GPU dragonfly", fly, routes);
  return 0;
}
