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

#include "../tests/support/fabric_100k.hpp"
#include "aif/models/fabric.hpp"

using aif::models::build_fabric;
using aif::models::Fabric;
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

  measure("100,000-GPU rail-optimized", aif::testing::rail_optimized_100k(), routes);
  measure("100,000-GPU 3-tier fat-tree", aif::testing::fat_tree_100k(), routes);
  measure("100,000-GPU dragonfly", aif::testing::dragonfly_100k(), routes);
  return 0;
}
