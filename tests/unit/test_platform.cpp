// SimGrid platform built from a leaf-spine topology: hosts, every GPU-to-GPU route (links, latency, bottleneck) and
// transfer times on an idle and a shared fabric, all against values worked out by hand.
//
// SimGrid allows one engine per process: every test here but the scale test shares one engine and one platform,
// created on first use. The scale test runs in a child process of its own (a "threadsafe" death test re-executes
// this binary with only that test selected), so it gets a fresh engine.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <simgrid/s4u.hpp>

#include "aif/models/topology.hpp"
#include "aif/sim/platform.hpp"

namespace sg4 = simgrid::s4u;
using aif::models::LeafSpineParams;

namespace {

// 4 racks x 2 servers x 4 GPUs = 32 GPUs, 2 spines, 8:1 oversubscription.
// Per direction: NVLink 900/2 = 450 GB/s, NIC 50 GB/s, uplink (2 * 4 * 50 GB/s) / 8 / 2 = 25 GB/s.
constexpr double NVLINK_BW = 450e9;
constexpr double NIC_BW = 50e9;
constexpr double UPLINK_BW = 25e9;
constexpr double LINK_LAT = 1e-6;
constexpr double NVLINK_LAT = 0.5e-6;

LeafSpineParams small_params() {
  LeafSpineParams p;
  p.racks = 4;
  p.servers_per_rack = 2;
  p.gpus_per_server = 4;
  p.spines = 2;
  p.oversubscription = 8;
  p.nvlink_bandwidth = 900e9;
  p.nic_bandwidth = NIC_BW;
  p.link_latency_s = LINK_LAT;
  p.nvlink_latency_s = NVLINK_LAT;
  return p;
}

// Engine::Engine(int*, char**) keeps pointers into argv: give it storage that lives as long as the process.
sg4::Engine& engine() {
  static std::vector<std::string> args = [] {
    std::vector<std::string> a{"test_platform"};
    for (const std::string& c : aif::sim::simgrid_config_args()) a.push_back(c);
    return a;
  }();
  static std::vector<char*> argv = [] {
    std::vector<char*> v;
    for (std::string& s : args) v.push_back(s.data());
    v.push_back(nullptr);
    return v;
  }();
  static int argc = static_cast<int>(args.size());
  static sg4::Engine* e = new sg4::Engine(&argc, argv.data());  // never destroyed: one engine per process
  return *e;
}

struct Fixture {
  aif::models::Topology topology = aif::models::build_leaf_spine(small_params());
  aif::sim::Platform platform;
};

Fixture& fixture() {
  static Fixture* f = [] {
    engine();
    auto* fx = new Fixture;
    fx->platform = aif::sim::build_platform(fx->topology);
    return fx;
  }();
  return *f;
}

std::string names(const std::vector<sg4::Link*>& links) {
  std::string s;
  for (const sg4::Link* l : links) s += std::string(l->get_cname()) + " ";
  return s;
}

}  // namespace

TEST(Platform, HostsAndLinks) {
  const Fixture& f = fixture();
  const aif::sim::Platform& p = f.platform;
  EXPECT_EQ(engine().get_host_count(), 32u);
  ASSERT_EQ(p.num_gpus(), 32);
  EXPECT_EQ(p.servers, 8);
  EXPECT_EQ(p.racks, 4);
  EXPECT_EQ(p.gpus_per_server, 4);
  // Links: per GPU a split-duplex NVLink and NIC (SimGrid counts the _UP and _DOWN halves), per rack a leaf and
  // 2 split-duplex uplinks, 2 spines: 32 * 4 + 4 * (1 + 2 * 2) + 2 = 150, plus SimGrid's own __loopback__.
  EXPECT_EQ(engine().get_link_count(), 150u + 1u);
  EXPECT_NE(engine().link_by_name_or_null("__loopback__"), nullptr);
  for (int server = 0; server < 8; server++)
    for (int local = 0; local < 4; local++) {
      const int id = server * 4 + local;
      ASSERT_EQ(p.gpu(server, local), p.gpus[static_cast<size_t>(id)]);
      EXPECT_EQ(p.gpu(server, local)->get_name(), f.topology.node(f.topology.gpu_vertex(id)).name);
      EXPECT_EQ(p.gpu(server, local)->get_core_count(), 1);
      EXPECT_DOUBLE_EQ(p.gpu(server, local)->get_speed(), 1e15);
    }
  EXPECT_EQ(p.gpu(5, 2)->get_name(), "r2s1g2");  // server 5 = rack 2, server 1
  EXPECT_THROW(p.gpu(8, 0), std::out_of_range);
  EXPECT_THROW(p.gpu(0, 4), std::out_of_range);
  EXPECT_DOUBLE_EQ(p.nvlinks[3]->get_link_up()->get_bandwidth(), NVLINK_BW);
  EXPECT_DOUBLE_EQ(p.nics[3]->get_link_down()->get_bandwidth(), NIC_BW);
  EXPECT_DOUBLE_EQ(p.uplinks[5]->get_link_up()->get_bandwidth(), UPLINK_BW);
  EXPECT_EQ(p.spines[0]->get_sharing_policy(), sg4::Link::SharingPolicy::FATPIPE);
}

TEST(Platform, EveryRouteHasTheExpectedLinksAndLatency) {
  const Fixture& f = fixture();
  const aif::sim::Platform& p = f.platform;
  for (int a = 0; a < 32; a++)
    for (int b = 0; b < 32; b++) {
      if (a == b) continue;
      const int server_a = a / 4, server_b = b / 4, rack_a = a / 8, rack_b = b / 8;
      const std::string na = p.gpus[static_cast<size_t>(a)]->get_name();
      const std::string nb = p.gpus[static_cast<size_t>(b)]->get_name();
      std::string expected;
      double expected_latency = 0;
      double expected_bottleneck = 0;
      if (server_a == server_b) {
        expected = na + "-nvlink_UP " + nb + "-nvlink_DOWN ";
        expected_latency = 2 * NVLINK_LAT;
        expected_bottleneck = NVLINK_BW;
      } else if (rack_a == rack_b) {
        expected = na + "-nic_UP leaf" + std::to_string(rack_a) + " " + nb + "-nic_DOWN ";
        expected_latency = 2 * LINK_LAT;
        expected_bottleneck = NIC_BW;
      } else {
        const std::string spine = "spine" + std::to_string(f.topology.spine_for_racks(rack_a, rack_b));
        const std::string leaf_a = "leaf" + std::to_string(rack_a), leaf_b = "leaf" + std::to_string(rack_b);
        expected = na + "-nic_UP " + leaf_a + " " + leaf_a + "-" + spine + "_UP " + spine + " " + leaf_b + "-" +
                   spine + "_DOWN " + leaf_b + " " + nb + "-nic_DOWN ";
        expected_latency = 4 * LINK_LAT;
        expected_bottleneck = UPLINK_BW;
      }
      std::vector<sg4::Link*> links;
      double latency = 0;
      p.gpus[static_cast<size_t>(a)]->route_to(p.gpus[static_cast<size_t>(b)], links, &latency);
      ASSERT_EQ(names(links), expected) << na << " -> " << nb;
      EXPECT_DOUBLE_EQ(latency, expected_latency) << na << " -> " << nb;
      double bottleneck = 1e300;
      for (const sg4::Link* l : links) bottleneck = std::min(bottleneck, l->get_bandwidth());
      EXPECT_DOUBLE_EQ(bottleneck, expected_bottleneck) << na << " -> " << nb;
      // The platform routes on the topology's own route: same edges, same latency sum.
      double topo_latency = 0;
      for (const auto& e : f.topology.route(a, b)) topo_latency += f.topology.link(e).latency_s;
      EXPECT_DOUBLE_EQ(latency, topo_latency);
    }
}

TEST(Platform, TransfersTakeLatencyPlusSizeOverBottleneck) {
  const Fixture& f = fixture();
  const aif::sim::Platform& p = f.platform;
  constexpr double GB = 1e9;
  // GPUs of rack 0 sending to rack 1 go through spine s01 (both uplinks of that spine).
  struct Flow {
    const char* what;
    sg4::Host* src;
    sg4::Host* dst;
    double expected_s;  // duration from its start, by hand
    double measured_s = -1;
  };
  // Phase 1: alone on the fabric, rack 0 -> rack 2: 4 hops of 1 us, then 1 GB at the 25 GB/s uplink.
  std::vector<Flow> alone = {{"rack0->rack2 alone", p.gpu(0, 0), p.gpu(4, 3), 4 * LINK_LAT + GB / UPLINK_BW}};
  // Phase 2, all started together: two flows share the rack0->rack1 uplinks (12.5 GB/s each); an NVLink flow and a
  // same-rack flow use links nobody else uses.
  std::vector<Flow> shared = {
      {"rack0->rack1 #1", p.gpu(0, 0), p.gpu(2, 0), 4 * LINK_LAT + GB / (UPLINK_BW / 2)},
      {"rack0->rack1 #2", p.gpu(1, 1), p.gpu(3, 2), 4 * LINK_LAT + GB / (UPLINK_BW / 2)},
      {"nvlink", p.gpu(0, 1), p.gpu(0, 2), 2 * NVLINK_LAT + GB / NVLINK_BW},
      {"same rack", p.gpu(0, 3), p.gpu(1, 0), 2 * LINK_LAT + GB / NIC_BW},
  };
  sg4::Actor::create("driver", p.gpu(7, 3), [&alone, &shared] {
    for (std::vector<Flow>* phase : {&alone, &shared}) {
      const double start = sg4::Engine::get_clock();
      std::vector<sg4::CommPtr> comms;
      for (Flow& fl : *phase) comms.push_back(sg4::Comm::sendto_async(fl.src, fl.dst, GB));
      for (size_t i = 0; i < comms.size(); i++) {
        comms[i]->wait();
        (*phase)[i].measured_s = comms[i]->get_finish_time() - start;
      }
    }
  });
  engine().run();
  for (const std::vector<Flow>* phase : {&alone, &shared})
    for (const Flow& fl : *phase) {
      std::printf("%-20s expected %.9f s  simulated %.9f s\n", fl.what, fl.expected_s, fl.measured_s);
      EXPECT_NEAR(fl.measured_s, fl.expected_s, 1e-9 * fl.expected_s) << fl.what;
    }
  (void)f;
}

TEST(Platform, ThousandGpusBuild) {
  // 5 racks x 25 servers x 8 GPUs = 1,000 GPUs, 125 servers, 4 spines, in a fresh process (see the top of the file).
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        engine();
        LeafSpineParams params = small_params();
        params.racks = 5;
        params.servers_per_rack = 25;
        params.gpus_per_server = 8;
        params.spines = 4;
        params.oversubscription = 1;
        const auto t0 = std::chrono::steady_clock::now();
        const aif::models::Topology topo = aif::models::build_leaf_spine(params);
        const aif::sim::Platform p = aif::sim::build_platform(topo);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::fprintf(stderr, "1000-GPU topology + platform built in %.3f s\n", seconds);
        std::vector<sg4::Link*> links;
        double latency = 0;
        p.gpus.front()->route_to(p.gpus.back(), links, &latency);
        const bool ok = engine().get_host_count() == 1000 && links.size() == 7 && latency == 4 * LINK_LAT;
        // The build time is printed for the reader; tests never assert wall-clock times (bench/ does).
        std::exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "1000-GPU topology \\+ platform built in");
}
