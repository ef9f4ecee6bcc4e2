// Fabric scale benchmark (not a test; prints numbers, asserts nothing):
//  (a) builds the SimGrid platform of a 100,000-GPU rail-optimized fabric: build wall time, peak RSS, route query
//      time (Fabric::route alone and SimGrid's Host::route_to through the platform's zone);
//  (b) simulates the data-parallel gradient all-reduces of a 1,024-GPU training job on that fabric for 100 steps:
//      a 70B-parameter model in bf16 sharded by tensor parallelism 8 leaves 17.5 GB of gradients per GPU, reduced
//      over each of the 8 DP groups (GPU k of each of the job's 128 servers; one rail), all 8 groups at once.
//      Each DP group's GPUs sit in 128 different NVLink domains, so the hierarchical all-reduce is its cross-domain
//      ring. Reports wall time and simulated time against the idle-fabric closed form.
//
// Usage: fabric_scale [--gpus N] [--su SERVERS] [--spines N] [--job-gpus N] [--tp N] [--steps N] [--bytes B]
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <simgrid/s4u.hpp>

#include "aif/models/fabric.hpp"
#include "aif/world/collectives.hpp"
#include "aif/world/platform.hpp"

namespace sg4 = simgrid::s4u;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;  // Linux: KiB
}

double current_rss_mb() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long pages = 0, resident = 0;
  const int n = std::fscanf(f, "%ld %ld", &pages, &resident);
  std::fclose(f);
  return n == 2 ? resident * (sysconf(_SC_PAGESIZE) / 1048576.0) : 0;
}

struct Args {
  int gpus = 100000;
  int su = 50;  // servers per scalable unit (rail switches serve one GPU of each)
  int spines = 32;
  int job_gpus = 1024;
  int tp = 8;
  int steps = 100;
  double bytes = 70e9 * 2 / 8;  // 70B parameters, bf16, sharded by tp 8
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--gpus")
      a.gpus = std::atoi(v);
    else if (k == "--su")
      a.su = std::atoi(v);
    else if (k == "--spines")
      a.spines = std::atoi(v);
    else if (k == "--job-gpus")
      a.job_gpus = std::atoi(v);
    else if (k == "--tp")
      a.tp = std::atoi(v);
    else if (k == "--steps")
      a.steps = std::atoi(v);
    else if (k == "--bytes")
      a.bytes = std::atof(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  std::vector<std::string> cfg{"fabric_scale"};
  for (const std::string& c : aif::sim::simgrid_config_args()) cfg.push_back(c);
  std::vector<char*> cargv;
  for (std::string& s : cfg) cargv.push_back(s.data());
  cargv.push_back(nullptr);
  int cargc = static_cast<int>(cfg.size());
  sg4::Engine engine(&cargc, cargv.data());

  // (a) The platform.
  aif::models::FabricParams p;
  p.kind = aif::models::FabricKind::RAIL_OPTIMIZED;
  p.gpus_per_server = 8;
  p.servers = args.gpus / p.gpus_per_server;
  p.servers_per_leaf = args.su;
  p.spines = args.spines;
  const double rss0 = current_rss_mb();
  auto t0 = Clock::now();
  aif::models::Fabric fabric = aif::models::build_fabric(p);
  const double fabric_s = seconds_since(t0);
  const double rss_fabric = current_rss_mb();
  t0 = Clock::now();
  const aif::sim::Platform platform = aif::sim::build_platform(fabric);
  const double platform_s = seconds_since(t0);
  const double rss_platform = current_rss_mb();
  std::printf("fabric: %d GPUs, %d servers, scalable units of %d servers, %d spines: %d vertices, %d links\n",
              fabric.num_gpus(), p.servers, p.servers_per_leaf, p.spines, fabric.num_vertices(), fabric.num_links());
  std::printf("build: fabric %.3f s (+%.0f MB), SimGrid platform %.3f s (+%.0f MB); %zu hosts, %zu SimGrid links\n",
              fabric_s, rss_fabric - rss0, platform_s, rss_platform - rss_fabric, engine.get_host_count(),
              engine.get_link_count());
  std::printf("peak RSS after build: %.0f MB\n", peak_rss_mb());

  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int> pick(0, fabric.num_gpus() - 1);
  constexpr int QUERIES = 200000;
  std::vector<std::pair<int, int>> pairs(QUERIES);
  for (auto& [a, b] : pairs) {
    a = pick(rng);
    do b = pick(rng);
    while (b == a);
  }
  size_t hops = 0;
  t0 = Clock::now();
  for (const auto& [a, b] : pairs) hops += fabric.route(fabric.gpu_vertex(a), fabric.gpu_vertex(b)).size();
  const double fabric_route_us = seconds_since(t0) / QUERIES * 1e6;
  std::vector<sg4::Link*> links;
  size_t sg_hops = 0;
  t0 = Clock::now();
  for (const auto& [a, b] : pairs) {
    links.clear();
    double latency = 0;
    platform.gpus[static_cast<size_t>(a)]->route_to(platform.gpus[static_cast<size_t>(b)], links, &latency);
    sg_hops += links.size();
  }
  const double sg_route_us = seconds_since(t0) / QUERIES * 1e6;
  std::printf("routes (%d random GPU pairs, %.2f hops on average): Fabric::route %.2f us, Host::route_to %.2f us\n",
              QUERIES, static_cast<double>(hops) / QUERIES, fabric_route_us, sg_route_us);
  if (sg_hops != hops)
    std::printf("WARNING: SimGrid routes differ from the fabric's (%zu vs %zu hops)\n", sg_hops, hops);

  // (b) The job: GPUs 0 .. job_gpus-1, TP groups = servers, DP group k = GPU k of every server of the job.
  const int servers = args.job_gpus / p.gpus_per_server;
  const int groups = args.tp;
  std::vector<std::vector<int>> dp(static_cast<size_t>(groups));
  for (int s = 0; s < servers; s++)
    for (int k = 0; k < groups; k++) dp[static_cast<size_t>(k)].push_back(s * p.gpus_per_server + k);
  std::vector<double> busy(static_cast<size_t>(groups), 0);
  std::vector<int> max_flows(static_cast<size_t>(groups), 0);
  for (int k = 0; k < groups; k++)
    sg4::Actor::create("dp" + std::to_string(k), platform.gpus[static_cast<size_t>(dp[static_cast<size_t>(k)][0])],
                       [&, k] {
                         for (int step = 0; step < args.steps; step++) {
                           const aif::sim::CollectiveResult r =
                               aif::sim::all_reduce_hierarchical(platform, dp[static_cast<size_t>(k)], args.bytes);
                           busy[static_cast<size_t>(k)] += r.time_s;
                           max_flows[static_cast<size_t>(k)] = r.max_flows;
                         }
                       });
  t0 = Clock::now();
  engine.run();
  const double run_s = seconds_since(t0);
  const double simulated = sg4::Engine::get_clock();
  // Idle fabric: a ring of `servers` ranks on one rail, 50 GB/s NICs; it crosses scalable units through a spine
  // (4 hops) when the job spans more than one unit, else 2 hops.
  const bool crosses = servers > args.su;
  const double per_step = aif::sim::predict::ring_time(aif::sim::CollectiveOp::ALL_REDUCE, servers, args.bytes,
                                                       {p.nic_bandwidth, (crosses ? 4 : 2) * p.link_latency_s});
  std::printf(
      "job: %d GPUs, tp %d, %d DP groups of %d GPUs (one rail each), %.2f GB per all-reduce, %d steps, "
      "%d concurrent flows\n",
      args.job_gpus, args.tp, groups, servers, args.bytes / 1e9, args.steps, groups * max_flows[0]);
  std::printf("simulated %.3f s (%.4f s per step; idle-fabric closed form %.4f s); wall %.3f s (%.1f ms per step)\n",
              simulated, simulated / args.steps, per_step, run_s, run_s / args.steps * 1e3);
  std::printf(
      "busbw per DP ring %.1f GB/s; peak RSS %.0f MB\n",
      args.bytes / (busy[0] / args.steps) * aif::sim::bus_factor(aif::sim::CollectiveOp::ALL_REDUCE, servers) / 1e9,
      peak_rss_mb());
  return 0;
}
