// Leaf-spine topology graph: counts, capacities, paths and diameter checked against values worked out by hand.
#include <gtest/gtest.h>

#include <limits>
#include <set>
#include <stdexcept>
#include <string>

#include "aif/models/topology.hpp"

using aif::models::build_leaf_spine;
using aif::models::LeafSpineParams;
using aif::models::LinkTier;
using aif::models::NodeKind;
using aif::models::Topology;

namespace {

LeafSpineParams params(int racks, int servers_per_rack, int gpus_per_server, int spines, double oversubscription) {
  LeafSpineParams p;
  p.racks = racks;
  p.servers_per_rack = servers_per_rack;
  p.gpus_per_server = gpus_per_server;
  p.spines = spines;
  p.oversubscription = oversubscription;
  p.nvlink_bandwidth = 900e9;
  p.nic_bandwidth = 50e9;
  p.link_latency_s = 1e-6;
  p.nvlink_latency_s = 0.5e-6;
  return p;
}

int hops(const Topology& t, int gpu_a, int gpu_b) {
  return static_cast<int>(t.shortest_path(t.gpu_vertex(gpu_a), t.gpu_vertex(gpu_b)).size());
}

}  // namespace

struct CountCase {
  int racks, servers_per_rack, gpus_per_server, spines;
  int gpus, nvswitches, leaves, links;  // by hand
};

TEST(Topology, CountsMatchHandComputation) {
  // links = NVLink (1 per GPU) + NIC (1 per GPU) + uplinks (racks * spines).
  const CountCase cases[] = {
      {2, 4, 8, 2, 64, 8, 2, 64 + 64 + 4},
      {1, 1, 1, 1, 1, 1, 1, 1 + 1 + 1},
      {3, 2, 4, 5, 24, 6, 3, 24 + 24 + 15},
      {5, 25, 8, 16, 1000, 125, 5, 1000 + 1000 + 80},
  };
  for (const CountCase& c : cases) {
    SCOPED_TRACE(std::to_string(c.racks) + "x" + std::to_string(c.servers_per_rack) + "x" +
                 std::to_string(c.gpus_per_server) + " spines=" + std::to_string(c.spines));
    const Topology t = build_leaf_spine(params(c.racks, c.servers_per_rack, c.gpus_per_server, c.spines, 1.0));
    EXPECT_EQ(t.count(NodeKind::GPU), c.gpus);
    EXPECT_EQ(t.count(NodeKind::NVSWITCH), c.nvswitches);
    EXPECT_EQ(t.count(NodeKind::LEAF), c.leaves);
    EXPECT_EQ(t.count(NodeKind::SPINE), c.spines);
    EXPECT_EQ(t.num_vertices(), c.gpus + c.nvswitches + c.leaves + c.spines);
    EXPECT_EQ(t.num_edges(), c.links);
    EXPECT_EQ(t.count(LinkTier::NVLINK) + t.count(LinkTier::NIC) + t.count(LinkTier::UPLINK), c.links);

    // The same counts, tallied from the graph's own vertex and edge properties.
    int kind_count[4] = {0, 0, 0, 0};
    std::set<std::string> names;
    for (auto [it, end] = boost::vertices(t.graph()); it != end; ++it) {
      kind_count[static_cast<int>(t.node(*it).kind)]++;
      names.insert(t.node(*it).name);
    }
    EXPECT_EQ(kind_count[static_cast<int>(NodeKind::GPU)], c.gpus);
    EXPECT_EQ(kind_count[static_cast<int>(NodeKind::SPINE)], c.spines);
    EXPECT_EQ(static_cast<int>(names.size()), t.num_vertices()) << "vertex names must be unique";
    int tier_count[3] = {0, 0, 0};
    for (auto [it, end] = boost::edges(t.graph()); it != end; ++it) tier_count[static_cast<int>(t.link(*it).tier)]++;
    EXPECT_EQ(tier_count[static_cast<int>(LinkTier::NVLINK)], c.gpus);
    EXPECT_EQ(tier_count[static_cast<int>(LinkTier::NIC)], c.gpus);
    EXPECT_EQ(tier_count[static_cast<int>(LinkTier::UPLINK)], c.racks * c.spines);
  }
}

TEST(Topology, EdgeCapacitiesAndLatencies) {
  // 2 racks x 4 servers x 8 GPUs, 2 spines, 4:1 oversubscription.
  const Topology t = build_leaf_spine(params(2, 4, 8, 2, 4.0));
  EXPECT_DOUBLE_EQ(t.link(t.nvlink_edge(13)).bandwidth, 450e9);  // 900 GB/s both directions / 2
  EXPECT_DOUBLE_EQ(t.link(t.nvlink_edge(13)).latency_s, 0.5e-6);
  EXPECT_EQ(t.link(t.nvlink_edge(13)).tier, LinkTier::NVLINK);
  EXPECT_DOUBLE_EQ(t.link(t.nic_edge(13)).bandwidth, 50e9);
  EXPECT_DOUBLE_EQ(t.link(t.nic_edge(13)).latency_s, 1e-6);
  // Uplink: 4 servers * 8 GPUs * 50 GB/s = 1.6 TB/s down, / 4 = 400 GB/s up, over 2 spines = 200 GB/s each.
  for (int r = 0; r < 2; r++)
    for (int s = 0; s < 2; s++) {
      EXPECT_DOUBLE_EQ(t.link(t.uplink_edge(r, s)).bandwidth, 200e9);
      EXPECT_EQ(t.link(t.uplink_edge(r, s)).tier, LinkTier::UPLINK);
    }
}

TEST(Topology, GpuIndexing) {
  const Topology t = build_leaf_spine(params(3, 2, 4, 2, 1.0));
  // Rack-major: rack 2, server 1, gpu 3 -> (2*2 + 1)*4 + 3 = 23, the last GPU.
  const auto v = t.gpu_vertex(2, 1, 3);
  EXPECT_EQ(t.gpu_id(v), 23);
  EXPECT_EQ(t.server_of(v), 5);
  EXPECT_EQ(t.rack_of(v), 2);
  EXPECT_EQ(t.node(v).kind, NodeKind::GPU);
  EXPECT_EQ(t.node(v).rack, 2);
  EXPECT_EQ(t.node(v).server, 5);
  EXPECT_EQ(t.node(v).gpu, 3);
  EXPECT_EQ(t.node(v).name, "r2s1g3");
  EXPECT_EQ(t.gpu_vertex(1, 0, 2), t.gpu_vertex(10));
  EXPECT_EQ(t.node(t.nvswitch_vertex(5)).kind, NodeKind::NVSWITCH);
  EXPECT_EQ(t.node(t.leaf_vertex(2)).name, "leaf2");
  EXPECT_EQ(t.node(t.spine_vertex(1)).kind, NodeKind::SPINE);
  // The NVLink edge of GPU 23 joins it to the NVSwitch of server 5, its NIC edge to leaf 2.
  const auto nv = t.nvlink_edge(23);
  EXPECT_EQ(boost::source(nv, t.graph()) + boost::target(nv, t.graph()), v + t.nvswitch_vertex(5));
  const auto nic = t.nic_edge(23);
  EXPECT_EQ(boost::source(nic, t.graph()) + boost::target(nic, t.graph()), v + t.leaf_vertex(2));
  EXPECT_THROW(t.gpu_vertex(3, 0, 0), std::out_of_range);
  EXPECT_THROW(t.gpu_vertex(0, 2, 0), std::out_of_range);
  EXPECT_THROW(t.gpu_vertex(0, 0, 4), std::out_of_range);
  EXPECT_THROW(t.gpu_vertex(24), std::out_of_range);
  EXPECT_THROW(t.gpu_id(t.leaf_vertex(0)), std::invalid_argument);
}

TEST(Topology, BisectionBandwidthByHand) {
  // 4 racks x 2 servers x 8 GPUs, NIC 50 GB/s, 2 spines. Each rack sends 16 * 50 GB/s = 800 GB/s down.
  // 1:1 -> each leaf has 800 GB/s of uplinks (400 GB/s per spine). Splitting 2 racks | 2 racks, each spine has
  // 2 * 400 GB/s to either side, so it crosses 800 GB/s whichever side it joins: 2 spines * 800 = 1.6 TB/s,
  // i.e. half the GPUs times their NIC bandwidth (full bisection).
  const Topology full = build_leaf_spine(params(4, 2, 8, 2, 1.0));
  const double expected_full = 1.6e12;
  EXPECT_DOUBLE_EQ(full.bisection_bandwidth(), expected_full) << "expected " << expected_full;
  EXPECT_DOUBLE_EQ(full.bisection_bandwidth(), 0.5 * full.num_gpus() * 50e9);
  // 4:1 -> a quarter of that.
  const Topology over = build_leaf_spine(params(4, 2, 8, 2, 4.0));
  const double expected_over = 0.4e12;
  EXPECT_DOUBLE_EQ(over.bisection_bandwidth(), expected_over) << "expected " << expected_over;
  // 2 racks x 4 x 8, 3 spines, 1:1: the cut crosses one leaf's uplinks: 32 * 50 GB/s = 1.6 TB/s.
  EXPECT_DOUBLE_EQ(build_leaf_spine(params(2, 4, 8, 3, 1.0)).bisection_bandwidth(), 1.6e12);
  // More racks than the exhaustive limit (22 racks x 1 server x 2 GPUs, 2:1): 11 leaves' uplinks of 50 GB/s total.
  EXPECT_DOUBLE_EQ(build_leaf_spine(params(22, 1, 2, 2, 2.0)).bisection_bandwidth(), 11 * 50e9);
  EXPECT_THROW(build_leaf_spine(params(3, 2, 8, 2, 1.0)).bisection_bandwidth(), std::domain_error);
  EXPECT_THROW(build_leaf_spine(params(1, 2, 8, 2, 1.0)).bisection_bandwidth(), std::domain_error);
}

TEST(Topology, ShortestPathHops) {
  const Topology t = build_leaf_spine(params(2, 4, 8, 2, 1.0));
  // Same server: GPU - NVSwitch - GPU. (GPU - leaf - GPU is also 2 hops; the wider NVLink must win the tie.)
  const auto same_server = t.shortest_path(t.gpu_vertex(0, 1, 2), t.gpu_vertex(0, 1, 5));
  ASSERT_EQ(same_server.size(), 2u);
  EXPECT_EQ(t.link(same_server[0]).tier, LinkTier::NVLINK);
  EXPECT_EQ(t.link(same_server[1]).tier, LinkTier::NVLINK);
  // Same rack, other server: GPU - leaf - GPU.
  const auto same_rack = t.shortest_path(t.gpu_vertex(0, 0, 0), t.gpu_vertex(0, 3, 7));
  ASSERT_EQ(same_rack.size(), 2u);
  EXPECT_EQ(t.link(same_rack[0]).tier, LinkTier::NIC);
  // Other rack: GPU - leaf - spine - leaf - GPU.
  const auto other_rack = t.shortest_path(t.gpu_vertex(0, 0, 0), t.gpu_vertex(1, 2, 3));
  ASSERT_EQ(other_rack.size(), 4u);
  const LinkTier tiers[] = {LinkTier::NIC, LinkTier::UPLINK, LinkTier::UPLINK, LinkTier::NIC};
  for (size_t i = 0; i < 4; i++) EXPECT_EQ(t.link(other_rack[i]).tier, tiers[i]) << "hop " << i;
  // The edges chain from a to b.
  auto v = t.gpu_vertex(0, 0, 0);
  for (const auto& e : other_rack) {
    const auto s = boost::source(e, t.graph());
    v = s == v ? boost::target(e, t.graph()) : s;
  }
  EXPECT_EQ(v, t.gpu_vertex(1, 2, 3));
  EXPECT_TRUE(t.shortest_path(v, v).empty());
  // Switch to switch: leaf 0 - spine - leaf 1.
  EXPECT_EQ(t.shortest_path(t.leaf_vertex(0), t.leaf_vertex(1)).size(), 2u);
  EXPECT_EQ(hops(t, 8, 9), 2);
}

TEST(Topology, RouteFollowsTheFabric) {
  const Topology t = build_leaf_spine(params(4, 2, 4, 3, 1.0));
  EXPECT_TRUE(t.route(5, 5).empty());
  const auto nv = t.route(0, 3);
  ASSERT_EQ(nv.size(), 2u);
  EXPECT_EQ(nv[0], t.nvlink_edge(0));
  EXPECT_EQ(nv[1], t.nvlink_edge(3));
  const auto rack = t.route(0, 7);  // server 0 -> server 1, both in rack 0
  ASSERT_EQ(rack.size(), 2u);
  EXPECT_EQ(rack[1], t.nic_edge(7));
  // Rack 0 -> rack 3: through one spine, the same one for the way back.
  const int spine = t.spine_for_racks(0, 3);
  EXPECT_EQ(spine, t.spine_for_racks(3, 0));
  ASSERT_GE(spine, 0);
  ASSERT_LT(spine, 3);
  const auto far = t.route(1, 30);
  ASSERT_EQ(far.size(), 4u);
  EXPECT_EQ(far[1], t.uplink_edge(0, spine));
  EXPECT_EQ(far[2], t.uplink_edge(3, spine));
  // Every route has as many hops as a shortest path.
  for (int a = 0; a < t.num_gpus(); a++)
    for (int b = 0; b < t.num_gpus(); b++)
      ASSERT_EQ(t.route(a, b).size(), static_cast<size_t>(hops(t, a, b))) << a << " -> " << b;
}

TEST(Topology, SpineChoiceSpreadsRackPairs) {
  // Not a balance guarantee, but a hash that sends every rack pair to one spine would be a bug.
  const Topology t = build_leaf_spine(params(16, 1, 1, 4, 1.0));
  std::set<int> used;
  for (int a = 0; a < 16; a++)
    for (int b = a + 1; b < 16; b++) used.insert(t.spine_for_racks(a, b));
  EXPECT_EQ(used.size(), 4u);
}

TEST(Topology, DiameterHops) {
  // Several racks: GPU - leaf - spine - leaf - GPU.
  EXPECT_EQ(build_leaf_spine(params(2, 4, 8, 2, 1.0)).diameter_hops(), 4);
  EXPECT_EQ(build_leaf_spine(params(5, 2, 2, 1, 4.0)).diameter_hops(), 4);
  // One rack: GPU - leaf - GPU or GPU - NVSwitch - GPU.
  EXPECT_EQ(build_leaf_spine(params(1, 4, 8, 2, 1.0)).diameter_hops(), 2);
  // A single GPU: no pair, 0 hops.
  EXPECT_EQ(build_leaf_spine(params(1, 1, 1, 1, 1.0)).diameter_hops(), 0);
}

TEST(Topology, InvalidParamsThrowNamingTheField) {
  auto expect_field = [](LeafSpineParams p, const std::string& field) {
    try {
      build_leaf_spine(p);
      ADD_FAILURE() << "no exception for bad " << field;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  const LeafSpineParams good = params(2, 4, 8, 2, 1.0);
  LeafSpineParams p = good;
  p.racks = 0;
  expect_field(p, "racks");
  p = good;
  p.servers_per_rack = -1;
  expect_field(p, "servers_per_rack");
  p = good;
  p.gpus_per_server = 0;
  expect_field(p, "gpus_per_server");
  p = good;
  p.spines = 0;
  expect_field(p, "spines");
  p = good;
  p.oversubscription = 0.5;
  expect_field(p, "oversubscription");
  p = good;
  p.nic_bandwidth = 0;
  expect_field(p, "nic_bandwidth");
  p = good;
  p.nvlink_bandwidth = -1;
  expect_field(p, "nvlink_bandwidth");
  p = good;
  p.link_latency_s = -1e-6;
  expect_field(p, "link_latency_s");
  p = good;
  p.nvlink_latency_s = std::numeric_limits<double>::quiet_NaN();
  expect_field(p, "nvlink_latency_s");
  p = good;
  p.racks = 100000;
  p.servers_per_rack = 100000;
  expect_field(p, "GPUs is too large");
  EXPECT_NO_THROW(build_leaf_spine(good));
}

TEST(Topology, DefaultConstructedIsEmpty) {
  const Topology t;
  EXPECT_EQ(t.num_gpus(), 0);
  EXPECT_EQ(t.num_racks(), 0);
  EXPECT_EQ(t.diameter_hops(), 0);
  EXPECT_THROW(t.gpu_vertex(0), std::out_of_range);
  EXPECT_THROW(t.bisection_bandwidth(), std::domain_error);
}
