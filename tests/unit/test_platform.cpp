// SimGrid platform built from a models::Fabric: hosts, links, GPU-to-GPU routes (links, latency, bottleneck),
// transfer times on an idle and a shared fabric, and link failures, all against values worked out by hand.
//
// SimGrid allows one engine and one platform per process: every test here but the rail-optimized build shares one
// engine and one fat-tree platform, created on first use. The rail-optimized build runs in a child process of its own
// (a "threadsafe" death test re-executes this binary with only that test selected), so it gets a fresh engine.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <simgrid/Exception.hpp>
#include <simgrid/s4u.hpp>

#include "../support/simgrid_engine.hpp"
#include "aif/models/fabric.hpp"
#include "aif/world/platform.hpp"

namespace sg4 = simgrid::s4u;
using aif::models::Fabric;
using aif::models::FabricKind;
using aif::models::FabricParams;
using aif::models::Hop;
using aif::models::LinkTier;

namespace {

// 8 servers x 4 GPUs = 32 GPUs, 2 servers per leaf (4 leaves), 2 spines, 8:1 oversubscription, 2 storage nodes.
// Per direction: NVLink 900/2 = 450 GB/s, NIC 50 GB/s, uplink (2 servers * 4 GPUs * 50 GB/s) / 8 / 2 spines = 25 GB/s.
constexpr double NVLINK_BW = 450e9;
constexpr double NIC_BW = 50e9;
constexpr double UPLINK_BW = 25e9;
constexpr double LINK_LAT = 1e-6;
constexpr double NVLINK_LAT = 0.5e-6;
constexpr double GB = 1e9;

FabricParams small_params() {
  FabricParams p;
  p.kind = FabricKind::FAT_TREE;
  p.servers = 8;
  p.gpus_per_server = 4;
  p.servers_per_leaf = 2;
  p.spines = 2;
  p.oversubscription = 8;
  p.nvlink_bandwidth = 900e9;
  p.nic_bandwidth = NIC_BW;
  p.link_latency_s = LINK_LAT;
  p.nvlink_latency_s = NVLINK_LAT;
  p.storage_nodes = 2;
  return p;
}

sg4::Engine& engine() { return aif::testing::simgrid_engine("test_platform"); }

struct Fixture {
  Fabric fabric = aif::models::build_fabric(small_params());
  aif::sim::Platform platform;
};

Fixture& fixture() {
  static Fixture* f = [] {
    engine();
    auto* fx = new Fixture;
    fx->platform = aif::sim::build_platform(fx->fabric);
    return fx;
  }();
  return *f;
}

std::string names(const std::vector<sg4::Link*>& links) {
  std::string s;
  for (const sg4::Link* l : links) s += l->get_name() + " ";
  return s;
}

std::string names(const aif::sim::Platform& p, const std::vector<Hop>& hops) {
  std::string s;
  for (const Hop& h : hops) s += p.link(h)->get_name() + " ";
  return s;
}

std::vector<sg4::Link*> route(const aif::sim::Platform& p, int a, int b, double* latency) {
  std::vector<sg4::Link*> links;
  *latency = 0;
  p.gpus[static_cast<size_t>(a)]->route_to(p.gpus[static_cast<size_t>(b)], links, latency);
  return links;
}

int leaf_of(int gpu) { return gpu / 8; }

}  // namespace

TEST(Platform, HostsAndLinks) {
  const Fixture& f = fixture();
  const aif::sim::Platform& p = f.platform;
  EXPECT_EQ(engine().get_host_count(), 32u + 2u);
  ASSERT_EQ(p.num_gpus(), 32);
  ASSERT_EQ(p.storage.size(), 2u);
  EXPECT_EQ(p.servers, 8);
  EXPECT_EQ(p.gpus_per_server, 4);
  EXPECT_EQ(p.fabric, &f.fabric);
  // One split-duplex link (2 SimGrid links) per fabric link, plus SimGrid's own __loopback__.
  ASSERT_EQ(p.links.size(), static_cast<size_t>(f.fabric.num_links()));
  EXPECT_EQ(engine().get_link_count(), 2u * static_cast<size_t>(f.fabric.num_links()) + 1u);
  for (int server = 0; server < 8; server++)
    for (int local = 0; local < 4; local++) {
      const int id = server * 4 + local;
      sg4::Host* h = p.gpu(server, local);
      ASSERT_EQ(h, p.gpus[static_cast<size_t>(id)]);
      EXPECT_EQ(h->get_name(), f.fabric.node(f.fabric.gpu_vertex(id)).name);
      EXPECT_EQ(h->get_core_count(), 1);
      EXPECT_DOUBLE_EQ(h->get_speed(), 1e15);
    }
  for (int s = 0; s < 2; s++)
    EXPECT_EQ(p.storage[static_cast<size_t>(s)]->get_name(), f.fabric.node(f.fabric.storage_vertex(s)).name);
  EXPECT_THROW(p.gpu(8, 0), std::out_of_range);
  EXPECT_THROW(p.gpu(0, 4), std::out_of_range);
  EXPECT_THROW(p.link(Hop{f.fabric.num_links(), true}), std::out_of_range);
  // Every SimGrid link carries its fabric link's name, bandwidth per direction and latency.
  for (int id = 0; id < f.fabric.num_links(); id++) {
    const aif::models::FabricLink& fl = f.fabric.link(id);
    const std::string name = f.fabric.node(static_cast<Fabric::Vertex>(fl.low)).name + "-" +
                             f.fabric.node(static_cast<Fabric::Vertex>(fl.high)).name;
    const sg4::Link* up = p.link(Hop{id, true});
    const sg4::Link* down = p.link(Hop{id, false});
    EXPECT_EQ(up->get_name(), name + "_UP");
    EXPECT_EQ(down->get_name(), name + "_DOWN");
    EXPECT_DOUBLE_EQ(up->get_bandwidth(), fl.bandwidth);
    EXPECT_DOUBLE_EQ(down->get_bandwidth(), fl.bandwidth);
    EXPECT_DOUBLE_EQ(up->get_latency(), fl.latency_s);
    EXPECT_EQ(up->get_sharing_policy(), sg4::Link::SharingPolicy::SHARED);
    // Storage leaves' uplinks are sized for their nodes (non-blocking), the GPU leaves' by the oversubscription.
    const bool gpu_leaf = f.fabric.node(static_cast<Fabric::Vertex>(fl.low)).role == aif::models::NodeRole::LEAF;
    const double expected_bw = fl.tier == LinkTier::NVLINK               ? NVLINK_BW
                               : fl.tier == LinkTier::NIC                ? NIC_BW
                               : fl.tier == LinkTier::UPLINK && gpu_leaf ? UPLINK_BW
                                                                         : fl.bandwidth;
    EXPECT_DOUBLE_EQ(fl.bandwidth, expected_bw) << name;
  }
  EXPECT_EQ(p.link(Hop{f.fabric.nic_link(5), true})->get_name(), "s1g1-leaf0_UP");
}

TEST(Platform, RoutesFollowTheFabric) {
  const Fixture& f = fixture();
  const aif::sim::Platform& p = f.platform;
  int checked[3] = {0, 0, 0};
  for (int a = 0; a < 32; a++)
    for (int b = 0; b < 32; b++) {
      if (a == b) continue;
      const std::string na = p.gpus[static_cast<size_t>(a)]->get_name();
      const std::string nb = p.gpus[static_cast<size_t>(b)]->get_name();
      double latency = 0;
      const std::vector<sg4::Link*> links = route(p, a, b, &latency);
      std::string expected;
      double expected_latency = 0, expected_bottleneck = 0;
      if (a / 4 == b / 4) {  // same server: NVLink up to the NVSwitch and down
        expected = names(p, {{f.fabric.nvlink_link(a), true}, {f.fabric.nvlink_link(b), false}});
        expected_latency = 2 * NVLINK_LAT;
        expected_bottleneck = NVLINK_BW;
        checked[0]++;
      } else if (leaf_of(a) == leaf_of(b)) {  // same leaf: NIC up to the leaf, NIC down
        expected = names(p, {{f.fabric.nic_link(a), true}, {f.fabric.nic_link(b), false}});
        expected_latency = 2 * LINK_LAT;
        expected_bottleneck = NIC_BW;
        checked[1]++;
      } else {  // other leaf: NIC, uplink to one spine, the other leaf's uplink from the same spine, NIC
        ASSERT_EQ(links.size(), 4u) << na << " -> " << nb << ": " << names(links);
        const std::string up = links[1]->get_name();
        const std::string spine = up.substr(up.find('-') + 1, up.rfind("_UP") - up.find('-') - 1);
        const Fabric::Vertex spine_v = f.fabric.vertex(aif::models::NodeRole::SPINE, spine.back() - '0');
        ASSERT_EQ(f.fabric.node(spine_v).name, spine);
        const int up_a = f.fabric.link_between(f.fabric.vertex(aif::models::NodeRole::LEAF, leaf_of(a)), spine_v);
        const int up_b = f.fabric.link_between(f.fabric.vertex(aif::models::NodeRole::LEAF, leaf_of(b)), spine_v);
        expected = names(p, {{f.fabric.nic_link(a), true}, {up_a, true}, {up_b, false}, {f.fabric.nic_link(b), false}});
        expected_latency = 4 * LINK_LAT;
        expected_bottleneck = UPLINK_BW;
        checked[2]++;
      }
      ASSERT_EQ(names(links), expected) << na << " -> " << nb;
      EXPECT_DOUBLE_EQ(latency, expected_latency) << na << " -> " << nb;
      double bottleneck = 1e300;
      for (const sg4::Link* l : links) bottleneck = std::min(bottleneck, l->get_bandwidth());
      EXPECT_DOUBLE_EQ(bottleneck, expected_bottleneck) << na << " -> " << nb;
      // SimGrid's route is the fabric's own route.
      EXPECT_EQ(names(links), names(p, f.fabric.route(f.fabric.gpu_vertex(a), f.fabric.gpu_vertex(b))));
    }
  EXPECT_EQ(checked[0], 32 * 3);
  EXPECT_EQ(checked[1], 32 * 4);
  EXPECT_EQ(checked[2], 32 * 24);
  // Storage nodes hang off every spine through their storage leaf.
  std::vector<sg4::Link*> links;
  double latency = 0;
  p.storage[0]->route_to(p.gpus[0], links, &latency);
  EXPECT_EQ(links.size(), 4u) << names(links);
  EXPECT_DOUBLE_EQ(latency, 4 * LINK_LAT);
  // A host to itself: SimGrid's loopback.
  links.clear();
  p.gpus[3]->route_to(p.gpus[3], links, &latency);
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0]->get_name(), "__loopback__");
}

TEST(Platform, FailedLinksAreRoutedAround) {
  Fixture& f = fixture();
  aif::sim::Platform& p = f.platform;
  // GPU 0 (leaf 0) -> GPU 8 (leaf 1): fail the uplink its route takes; the route moves to the other spine.
  double latency = 0;
  const std::string before = names(route(p, 0, 8, &latency));
  const std::vector<Hop> hops = f.fabric.route(f.fabric.gpu_vertex(0), f.fabric.gpu_vertex(8));
  ASSERT_EQ(hops.size(), 4u);
  const int uplink = hops[1].link;
  p.set_link_state(uplink, false);
  EXPECT_FALSE(f.fabric.link_up(uplink));
  EXPECT_FALSE(p.link(Hop{uplink, true})->is_on());
  EXPECT_FALSE(p.link(Hop{uplink, false})->is_on());
  const std::string after = names(route(p, 0, 8, &latency));
  std::printf("route before: %s\nroute after failing %s: %s\n", before.c_str(),
              p.links[static_cast<size_t>(uplink)]->get_cname(), after.c_str());
  EXPECT_NE(before, after);
  EXPECT_EQ(after.find(p.link(Hop{uplink, true})->get_name()), std::string::npos);
  EXPECT_DOUBLE_EQ(latency, 4 * LINK_LAT);  // still two tiers up and down
  // A GPU whose NIC is down cannot leave its server (GPUs do not forward between servers).
  p.set_link_state(f.fabric.nic_link(1), false);
  std::vector<sg4::Link*> links;
  EXPECT_THROW(p.gpus[1]->route_to(p.gpus[9], links, &latency), std::runtime_error);
  // NVLink still works.
  EXPECT_EQ(route(p, 1, 2, &latency).size(), 2u);
  // Repairs restore the original routes.
  p.set_link_state(f.fabric.nic_link(1), true);
  p.set_link_state(uplink, true);
  EXPECT_TRUE(p.link(Hop{uplink, true})->is_on());
  EXPECT_EQ(names(route(p, 0, 8, &latency)), before);
  EXPECT_THROW(p.set_link_state(-1, false), std::out_of_range);
}

// Runs last among the shared-engine tests (gtest runs tests in file order): it runs the engine.
TEST(Platform, TransfersTakeLatencyPlusSizeOverBottleneck) {
  Fixture& f = fixture();
  aif::sim::Platform& p = f.platform;
  // Two GPU pairs from leaf 0 to leaf 1 whose routes cross the same spine (distinct NICs at both ends): they share
  // that spine's two uplinks (25 GB/s each way) and get 12.5 GB/s each.
  int a1 = -1, b1 = -1, a2 = -1, b2 = -1;
  auto spine_of = [&](int a, int b) { return f.fabric.route(f.fabric.gpu_vertex(a), f.fabric.gpu_vertex(b))[1].link; };
  for (int a = 0; a < 8 && a2 < 0; a++)
    for (int b = 8; b < 16 && a2 < 0; b++) {
      if (a1 < 0) {
        a1 = a, b1 = b;
      } else if (a != a1 && b != b1 && spine_of(a, b) == spine_of(a1, b1)) {
        a2 = a, b2 = b;
      }
    }
  ASSERT_GE(a2, 0) << "no two leaf-0 -> leaf-1 routes share a spine";
  struct Flow {
    std::string what;
    sg4::Host* src;
    sg4::Host* dst;
    double expected_s;  // duration from its start, by hand
    double measured_s = -1;
  };
  // Phase 1: alone on the fabric, leaf 0 -> leaf 2: 4 hops of 1 us, then 1 GB at the 25 GB/s uplink.
  std::vector<Flow> alone = {{"leaf0->leaf2 alone", p.gpu(0, 0), p.gpu(4, 3), 4 * LINK_LAT + GB / UPLINK_BW}};
  // Phase 2, all started together: two flows share uplinks (12.5 GB/s each); an NVLink flow and a same-leaf flow use
  // links nobody else uses.
  std::vector<Flow> shared = {
      {"leaf0->leaf1 #1", p.gpus[static_cast<size_t>(a1)], p.gpus[static_cast<size_t>(b1)],
       4 * LINK_LAT + GB / (UPLINK_BW / 2)},
      {"leaf0->leaf1 #2", p.gpus[static_cast<size_t>(a2)], p.gpus[static_cast<size_t>(b2)],
       4 * LINK_LAT + GB / (UPLINK_BW / 2)},
      {"nvlink", p.gpu(6, 1), p.gpu(6, 2), 2 * NVLINK_LAT + GB / NVLINK_BW},
      {"same leaf", p.gpu(6, 3), p.gpu(7, 0), 2 * LINK_LAT + GB / NIC_BW},
  };
  // Phase 3: a flow whose uplink fails half-way fails; one started after the failure takes the other spine and
  // arrives at full speed; one with no path left cannot start.
  bool failed_in_flight = false;
  double rerouted_s = -1;
  bool no_path_threw = false;
  sg4::Actor::create("driver", p.gpu(7, 3), [&] {
    for (std::vector<Flow>* phase : {&alone, &shared}) {
      const double start = sg4::Engine::get_clock();
      std::vector<sg4::CommPtr> comms;
      for (Flow& fl : *phase) comms.push_back(sg4::Comm::sendto_async(fl.src, fl.dst, static_cast<uint64_t>(GB)));
      for (size_t i = 0; i < comms.size(); i++) {
        comms[i]->wait();
        (*phase)[i].measured_s = comms[i]->get_finish_time() - start;
      }
    }
    const std::vector<Hop> hops = f.fabric.route(f.fabric.gpu_vertex(0), f.fabric.gpu_vertex(8));
    sg4::CommPtr doomed = sg4::Comm::sendto_async(p.gpus[0], p.gpus[8], static_cast<uint64_t>(GB));
    sg4::this_actor::sleep_for(0.01);
    p.set_link_state(hops[1].link, false);
    try {
      doomed->wait();
    } catch (const simgrid::NetworkFailureException&) {
      failed_in_flight = true;
    }
    const double start = sg4::Engine::get_clock();
    sg4::Comm::sendto_async(p.gpus[0], p.gpus[8], static_cast<uint64_t>(GB))->wait();
    rerouted_s = sg4::Engine::get_clock() - start;
    p.set_link_state(hops[1].link, true);
    // No path at all (the source's NIC is down): starting the transfer throws in this actor.
    p.set_link_state(f.fabric.nic_link(1), false);
    try {
      sg4::Comm::sendto_async(p.gpus[1], p.gpus[9], 1000)->wait();
    } catch (const std::runtime_error&) {
      no_path_threw = true;
    }
    p.set_link_state(f.fabric.nic_link(1), true);
  });
  engine().run();
  for (const std::vector<Flow>* phase : {&alone, &shared})
    for (const Flow& fl : *phase) {
      std::printf("%-20s expected %.9f s  simulated %.9f s\n", fl.what.c_str(), fl.expected_s, fl.measured_s);
      EXPECT_NEAR(fl.measured_s, fl.expected_s, 1e-9 * fl.expected_s) << fl.what;
    }
  EXPECT_TRUE(failed_in_flight);
  EXPECT_NEAR(rerouted_s, 4 * LINK_LAT + GB / UPLINK_BW, 1e-9);
  EXPECT_TRUE(no_path_threw);
}

TEST(Platform, BuildRejectsASecondPlatform) {
  Fixture& f = fixture();
  EXPECT_THROW(aif::sim::build_platform(f.fabric), std::logic_error);
}

TEST(Platform, RailOptimizedThousandGpus) {
  // 128 servers x 8 GPUs = 1,024 GPUs, scalable units of 16 servers (8 units, 64 rail switches), 8 spines, in a fresh
  // process (see the top of the file).
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        engine();
        FabricParams params = small_params();
        params.kind = FabricKind::RAIL_OPTIMIZED;
        params.servers = 128;
        params.gpus_per_server = 8;
        params.servers_per_leaf = 16;
        params.spines = 8;
        params.oversubscription = 1;
        params.storage_nodes = 0;
        Fabric fabric = aif::models::build_fabric(params);
        const aif::sim::Platform p = aif::sim::build_platform(fabric);
        // Each check on its own line of stderr when it fails, so the failure says which.
        int failed = 0;
        auto check = [&](bool ok, const std::string& what) {
          if (!ok) std::fprintf(stderr, "FAILED: %s\n", what.c_str());
          failed += !ok;
        };
        auto name_of = [](const std::vector<sg4::Link*>& links, size_t i) {
          return i < links.size() ? links[i]->get_name() : std::string("(no link ") + std::to_string(i) + ")";
        };
        check(engine().get_host_count() == 1024, "1,024 hosts, got " + std::to_string(engine().get_host_count()));
        // Same rail, same unit: NIC up to the rail switch and down; each GPU leaves through its own NIC.
        std::vector<sg4::Link*> links;
        double latency = 0;
        p.gpu(0, 3)->route_to(p.gpu(5, 3), links, &latency);
        std::fprintf(stderr, "same rail: %s\n", names(links).c_str());
        check(links.size() == 2, "same rail: 2 links");
        check(latency == 2 * LINK_LAT, "same rail: latency of 2 links");
        check(name_of(links, 0) == "s0g3-su0rail3_UP", "same rail: up from GPU 3 of server 0 to rail 3 of unit 0");
        check(name_of(links, 1) == "s5g3-su0rail3_DOWN", "same rail: down to GPU 3 of server 5");
        // Same rail, other unit: through a spine.
        links.clear();
        latency = 0;  // route_to adds to it
        p.gpu(0, 3)->route_to(p.gpu(100, 3), links, &latency);
        std::fprintf(stderr, "other unit: %s\n", names(links).c_str());
        check(links.size() == 4, "other unit: 4 links");
        check(latency == 4 * LINK_LAT, "other unit: latency of 4 links");
        check(name_of(links, 0) == "s0g3-su0rail3_UP", "other unit: up from GPU 3 of server 0 to rail 3 of unit 0");
        check(name_of(links, 3) == "s100g3-su6rail3_DOWN", "other unit: down from rail 3 of unit 6 to server 100");
        // Same server: NVLink.
        links.clear();
        latency = 0;
        p.gpu(7, 0)->route_to(p.gpu(7, 5), links, &latency);
        std::fprintf(stderr, "same server: %s(%g s)\n", names(links).c_str(), latency);
        check(links.size() == 2, "same server: 2 NVLink links");
        check(latency == 2 * NVLINK_LAT, "same server: latency of 2 NVLink links");
        std::fprintf(stderr, "%d checks failed\n", failed);
        std::exit(failed == 0 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "\n0 checks failed");
}
