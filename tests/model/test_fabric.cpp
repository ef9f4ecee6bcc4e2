// Network fabric model: counts, routes (against Boost.Graph BFS), ECMP spread, failures, bisection, diameter and
// oversubscription, each checked against values worked out by hand (printed next to the computed ones).
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/filtered_graph.hpp>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "../support/test_seed.hpp"
#include "aif/models/fabric.hpp"

using aif::models::build_fabric;
using aif::models::Fabric;
using aif::models::FabricKind;
using aif::models::FabricParams;
using aif::models::Hop;
using aif::models::LinkTier;
using aif::models::NodeRole;

namespace {

constexpr double GBps = 1e9;

FabricParams fat_tree(int servers, int servers_per_leaf, int gpus_per_server, int spines, double oversubscription = 1) {
  FabricParams p;
  p.kind = FabricKind::FAT_TREE;
  p.servers = servers;
  p.servers_per_leaf = servers_per_leaf;
  p.gpus_per_server = gpus_per_server;
  p.spines = spines;
  p.oversubscription = oversubscription;
  p.nic_bandwidth = 50 * GBps;
  return p;
}

// 32 servers x 8 GPUs, 2 servers per leaf: 16 leaves in 4 pods of 4, 2 spines per pod, 4 cores.
FabricParams three_tier(double oversubscription = 1, double core_oversubscription = 1) {
  FabricParams p = fat_tree(32, 2, 8, 2, oversubscription);
  p.tiers = 3;
  p.leaves_per_pod = 4;
  p.cores = 4;
  p.core_oversubscription = core_oversubscription;
  return p;
}

// 8 servers x 8 GPUs; scalable units of 4 servers (2 units, 16 rail switches), 4 spines.
FabricParams rail(int servers = 8, int unit = 4, int spines = 4) {
  FabricParams p = fat_tree(servers, unit, 8, spines);
  p.kind = FabricKind::RAIL_OPTIMIZED;
  return p;
}

// 64 servers x 4 GPUs, 2 servers per router: 32 routers in 8 groups of 4, 2 global links per router.
FabricParams dragonfly(int servers = 64, int routers_per_group = 4, int global_links = 2) {
  FabricParams p;
  p.kind = FabricKind::DRAGONFLY;
  p.servers = servers;
  p.gpus_per_server = 4;
  p.servers_per_leaf = 2;
  p.routers_per_group = routers_per_group;
  p.global_links_per_router = global_links;
  p.nic_bandwidth = 50 * GBps;
  return p;
}

FabricParams with_storage(FabricParams p, int nodes = 20, int per_leaf = 8) {
  p.storage_nodes = nodes;
  p.storage_nodes_per_leaf = per_leaf;
  return p;
}

// The vertex a link leads to from `from`.
int other_end(const Fabric& f, int link, int from) {
  const auto& l = f.link(link);
  return l.low == from ? l.high : l.low;
}

// A route is a walk from a to b: each hop's direction matches the vertex it leaves from.
void expect_walk(const Fabric& f, int a, int b, const std::vector<Hop>& hops) {
  int at = a;
  for (const Hop& h : hops) {
    const auto& l = f.link(h.link);
    ASSERT_TRUE(l.low == at || l.high == at) << "hop " << l.id << " does not touch " << f.node(at).name;
    EXPECT_EQ(h.up, l.low == at) << "direction of link " << l.id;
    at = other_end(f, h.link, at);
  }
  EXPECT_EQ(at, b) << f.node(a).name << " -> " << f.node(b).name << " ends at " << f.node(at).name;
}

// Breadth-first hop distances from `a` over the network alone: no NVLink, no failed link or switch, and no storage
// leaf as a transit node except the ends' own (they carry no transit traffic by design).
std::vector<int> network_bfs(const Fabric& f, int a, int b) {
  const auto& g = f.graph();
  const auto own_leaf = [&](int v) {
    return f.node(v).role == NodeRole::STORAGE ? *boost::adjacent_vertices(v, g).first : size_t(-1);
  };
  const size_t leaf_a = own_leaf(a), leaf_b = own_leaf(b);
  auto edge_ok = [&](const auto& e) { return g[e].tier != LinkTier::NVLINK && f.link_up(g[e].id); };
  auto vertex_ok = [&](size_t v) {
    const NodeRole r = f.node(v).role;
    if (r == NodeRole::GPU || r == NodeRole::STORAGE) return true;  // degree 1 without NVLink: never transit
    if (r == NodeRole::STORAGE_LEAF && v != leaf_a && v != leaf_b) return false;
    return f.switch_up(v);
  };
  using EdgePred = std::function<bool(aif::models::FabricGraph::edge_descriptor)>;
  using VertexPred = std::function<bool(size_t)>;
  boost::filtered_graph<aif::models::FabricGraph, EdgePred, VertexPred> net(g, EdgePred(edge_ok),
                                                                            VertexPred(vertex_ok));
  std::vector<int> dist(boost::num_vertices(g), -1);
  dist[a] = 0;
  boost::breadth_first_search(
      net, static_cast<size_t>(a),
      boost::visitor(boost::make_bfs_visitor(boost::record_distances(dist.data(), boost::on_tree_edge()))));
  return dist;
}

std::vector<int> endpoints(const Fabric& f) {
  std::vector<int> v;
  for (int g = 0; g < f.num_gpus(); ++g) v.push_back(static_cast<int>(f.gpu_vertex(g)));
  for (int s = 0; s < f.num_storage(); ++s) v.push_back(static_cast<int>(f.storage_vertex(s)));
  return v;
}

bool same_domain(const Fabric& f, int a, int b) {
  return a < f.num_gpus() && b < f.num_gpus() && f.nvlink_domain_of_gpu(a) == f.nvlink_domain_of_gpu(b);
}

// Route of every sampled pair equals the BFS distance over the network (NVLink pairs: 2 hops over NVLink).
void expect_routes_minimal(const Fabric& f, int pairs, unsigned seed) {
  const std::vector<int> ends = endpoints(f);
  SCOPED_TRACE("pairs from seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, ends.size() - 1);
  int checked = 0;
  for (int i = 0; i < pairs; ++i) {
    const int a = ends[pick(rng)], b = ends[pick(rng)];
    if (a == b) continue;
    SCOPED_TRACE(f.node(a).name + " -> " + f.node(b).name);
    const bool nvlink =
        same_domain(f, a, b) && f.nvlink_link(a) >= 0 && f.link_up(f.nvlink_link(a)) && f.link_up(f.nvlink_link(b));
    const std::vector<int> dist = network_bfs(f, a, b);
    std::vector<Hop> hops;
    try {
      hops = f.route(a, b, static_cast<uint64_t>(i));
    } catch (const std::runtime_error&) {
      EXPECT_FALSE(nvlink);
      EXPECT_EQ(dist[b], -1) << "route found nothing but BFS reaches it in " << dist[b];
      continue;
    }
    expect_walk(f, a, b, hops);
    if (nvlink) {
      ASSERT_EQ(hops.size(), 2u);
      EXPECT_EQ(f.link(hops[0].link).tier, LinkTier::NVLINK);
    } else {
      EXPECT_EQ(static_cast<int>(hops.size()), dist[b]);
      for (const Hop& h : hops) EXPECT_TRUE(f.link_up(h.link));
    }
    ++checked;
  }
  EXPECT_GT(checked, pairs / 2);
}

int max_route_hops(const Fabric& f) {
  int worst = 0;
  for (int a = 0; a < f.num_gpus(); ++a)
    for (int b = 0; b < f.num_gpus(); ++b)
      if (a != b && (f.num_nvlink_domains() == 1 || !same_domain(f, a, b)))
        worst = std::max(worst, static_cast<int>(f.route(a, b).size()));
  return worst;
}

void print(const char* what, double by_hand, double computed) {
  std::printf("  %-58s by hand %-12g computed %g\n", what, by_hand, computed);
}

}  // namespace

// ---- counts ---------------------------------------------------------------------------------------------------

TEST(Fabric, FatTreeTwoTierCounts) {
  // 4 leaves x 4 servers x 8 GPUs, 4 spines: 128 GPUs, 16 NVSwitches, 128 NVLinks + 128 NICs + 4 x 4 uplinks.
  const Fabric f = build_fabric(fat_tree(16, 4, 8, 4));
  EXPECT_EQ(f.num_gpus(), 128);
  EXPECT_EQ(f.num_servers(), 16);
  EXPECT_EQ(f.count(NodeRole::NVSWITCH), 16);
  EXPECT_EQ(f.count(NodeRole::LEAF), 4);
  EXPECT_EQ(f.count(NodeRole::SPINE), 4);
  EXPECT_EQ(f.count(NodeRole::CORE), 0);
  EXPECT_EQ(f.count(LinkTier::NVLINK), 128);
  EXPECT_EQ(f.count(LinkTier::NIC), 128);
  EXPECT_EQ(f.count(LinkTier::UPLINK), 16);
  EXPECT_EQ(f.num_links(), 128 + 128 + 16);
  EXPECT_EQ(f.num_vertices(), 128 + 16 + 4 + 4);
  EXPECT_EQ(static_cast<int>(boost::num_edges(f.graph())), f.num_links());
  for (int g : {0, 9, 127}) {
    EXPECT_EQ(static_cast<int>(f.gpu_vertex(g)), g);  // GPUs first: vertex index == GPU id
    EXPECT_EQ(f.node(f.gpu_vertex(g)).index, g);
    EXPECT_EQ(f.server_of_gpu(g), g / 8);
    EXPECT_EQ(f.leaf_of_gpu(g), g / 32);
    EXPECT_EQ(f.endpoint_id(f.gpu_vertex(g)), g);
  }
  EXPECT_EQ(f.node(f.gpu_vertex(9)).name, "s1g1");
  // Uplink of a leaf with 32 GPUs x 50 GB/s, non-blocking, over 4 spines: 400 GB/s each.
  const int up = f.link_between(f.vertex(NodeRole::LEAF, 2), f.vertex(NodeRole::SPINE, 3));
  ASSERT_GE(up, 0);
  EXPECT_DOUBLE_EQ(f.link(up).bandwidth, 400 * GBps);
  EXPECT_EQ(f.link(up).tier, LinkTier::UPLINK);
  EXPECT_EQ(f.link(f.nvlink_link(0)).bandwidth, 450 * GBps);  // 900 GB/s both directions added
  EXPECT_THROW(f.gpu_vertex(128), std::out_of_range);
  EXPECT_THROW(f.link(f.num_links()), std::out_of_range);
  for (int id = 0; id < f.num_links(); ++id) ASSERT_EQ(f.link(id).id, id);
}

TEST(Fabric, FatTreeThreeTierCounts) {
  const Fabric f = build_fabric(three_tier());
  // 16 leaves x 2 spines of their pod = 32 uplinks; 8 spines x 4 cores = 32 core links.
  EXPECT_EQ(f.count(NodeRole::LEAF), 16);
  EXPECT_EQ(f.count(NodeRole::SPINE), 8);
  EXPECT_EQ(f.count(NodeRole::CORE), 4);
  EXPECT_EQ(f.count(LinkTier::UPLINK), 32);
  EXPECT_EQ(f.count(LinkTier::CORE), 32);
  // Leaf 5 is in pod 1: it reaches pod 1's spines (2, 3) and no other.
  EXPECT_GE(f.link_between(f.vertex(NodeRole::LEAF, 5), f.vertex(NodeRole::SPINE, 2)), 0);
  EXPECT_GE(f.link_between(f.vertex(NodeRole::LEAF, 5), f.vertex(NodeRole::SPINE, 3)), 0);
  EXPECT_EQ(f.link_between(f.vertex(NodeRole::LEAF, 5), f.vertex(NodeRole::SPINE, 0)), -1);
  EXPECT_EQ(f.node(f.vertex(NodeRole::SPINE, 3)).name, "pod1spine1");
}

TEST(Fabric, RailOptimizedCounts) {
  const Fabric f = build_fabric(rail());
  // 2 scalable units x 8 rails = 16 rail switches, each to 4 spines.
  EXPECT_EQ(f.count(NodeRole::LEAF), 16);
  EXPECT_EQ(f.count(LinkTier::UPLINK), 64);
  for (int g = 0; g < f.num_gpus(); ++g) {
    const int unit = f.server_of_gpu(g) / 4, rail_index = g % 8;
    ASSERT_EQ(f.leaf_of_gpu(g), unit * 8 + rail_index) << g;
  }
  EXPECT_EQ(f.node(f.vertex(NodeRole::LEAF, 11)).name, "su1rail3");
}

TEST(Fabric, DragonflyCounts) {
  const Fabric f = build_fabric(dragonfly());
  // 8 groups x (4 choose 2) = 48 local links; 4 routers x 2 ports = 8 >= 7 other groups: one round of 28 pairs.
  EXPECT_EQ(f.count(NodeRole::ROUTER), 32);
  EXPECT_EQ(f.count(NodeRole::LEAF), 0);
  EXPECT_EQ(f.count(LinkTier::LOCAL), 48);
  EXPECT_EQ(f.count(LinkTier::GLOBAL), 28);
  // Every pair of groups is joined, and no router has more global links than it has ports.
  std::set<std::pair<int, int>> joined;
  std::map<int, int> ports;
  for (int id = 0; id < f.num_links(); ++id) {
    const auto& l = f.link(id);
    if (l.tier != LinkTier::GLOBAL) continue;
    const int ga = f.node(l.low).index / 4, gb = f.node(l.high).index / 4;
    EXPECT_NE(ga, gb);
    joined.insert({std::min(ga, gb), std::max(ga, gb)});
    ++ports[l.low], ++ports[l.high];
  }
  EXPECT_EQ(joined.size(), 28u);
  for (const auto& [router, n] : ports) EXPECT_LE(n, 2) << f.node(router).name;
}

TEST(Fabric, StorageCounts) {
  // 20 nodes, 8 per leaf: 3 storage leaves (8, 8, 4), each hanging off the top tier.
  const Fabric two = build_fabric(with_storage(fat_tree(16, 4, 8, 4)));
  EXPECT_EQ(two.count(NodeRole::STORAGE), 20);
  EXPECT_EQ(two.count(NodeRole::STORAGE_LEAF), 3);
  EXPECT_EQ(two.count(LinkTier::STORAGE), 20);
  EXPECT_EQ(two.count(LinkTier::UPLINK), 16 + 3 * 4);  // leaves' + storage leaves' to the 4 spines
  EXPECT_EQ(two.endpoint_id(two.storage_vertex(7)), 7);
  EXPECT_EQ(two.node(two.storage_vertex(7)).name, "storage7");
  // The last storage leaf holds 4 nodes x 50 GB/s over 4 spines: 50 GB/s per uplink.
  const int up = two.link_between(two.vertex(NodeRole::STORAGE_LEAF, 2), two.vertex(NodeRole::SPINE, 0));
  EXPECT_DOUBLE_EQ(two.link(up).bandwidth, 50 * GBps);
  const Fabric three = build_fabric(with_storage(three_tier()));
  EXPECT_EQ(three.count(LinkTier::UPLINK), 32 + 3 * 4);  // storage leaves to the 4 cores
  EXPECT_GE(three.link_between(three.vertex(NodeRole::STORAGE_LEAF, 0), three.vertex(NodeRole::CORE, 3)), 0);
  const Fabric df = build_fabric(with_storage(dragonfly()));
  EXPECT_EQ(df.count(LinkTier::UPLINK), 3 * 8);  // one router per group
}

TEST(Fabric, CopiesRouteLikeTheOriginal) {
  Fabric original = build_fabric(fat_tree(16, 4, 8, 4));
  const Fabric copy = original;
  const Fabric moved = std::move(original);
  for (uint64_t flow = 0; flow < 20; ++flow) {
    const auto a = copy.route(0, 127, flow), b = moved.route(0, 127, flow);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].link, b[i].link);
  }
}

// ---- routes ---------------------------------------------------------------------------------------------------

TEST(Fabric, RoutesAreMinimumHopForEveryKind) {
  const std::vector<std::pair<std::string, FabricParams>> cases = {
      {"fat-tree 2 tiers", with_storage(fat_tree(16, 4, 8, 4))},
      {"fat-tree 2 tiers, 1-GPU servers", with_storage(fat_tree(12, 3, 1, 3), 5, 2)},
      {"fat-tree 3 tiers", with_storage(three_tier())},
      {"rail-optimized", with_storage(rail())},
      {"dragonfly", with_storage(dragonfly())},
      {"dragonfly, 2 groups, 3 rounds", with_storage(dragonfly(16, 4, 2), 6, 4)},
      {"dragonfly, few ports (two-global shortcuts)", with_storage(dragonfly(96, 3, 5))},
  };
  for (const auto& [name, params] : cases) {
    SCOPED_TRACE(name);
    expect_routes_minimal(build_fabric(params), 400, 7);
  }
}

TEST(Fabric, HopCountsByHand) {
  const Fabric f = build_fabric(fat_tree(16, 4, 8, 4));
  // Same server: NVLink up, NVLink down. Same leaf: NIC, NIC. Different leaves: NIC, uplink, uplink, NIC.
  EXPECT_EQ(f.route(0, 7).size(), 2u);
  EXPECT_EQ(f.link(f.route(0, 7)[0].link).tier, LinkTier::NVLINK);
  EXPECT_EQ(f.route(0, 8).size(), 2u);
  EXPECT_EQ(f.link(f.route(0, 8)[0].link).tier, LinkTier::NIC);
  EXPECT_EQ(f.route(0, 127).size(), 4u);
  EXPECT_TRUE(f.route(5, 5).empty());

  const Fabric t = build_fabric(three_tier());
  EXPECT_EQ(t.route(0, 8).size(), 2u);    // same leaf (servers 0, 1)
  EXPECT_EQ(t.route(0, 40).size(), 4u);   // leaf 0 to leaf 2, same pod
  EXPECT_EQ(t.route(0, 255).size(), 6u);  // pod 0 to pod 3 through a core

  // Rail-optimized: GPU 3 of servers 0 and 1 share rail 3 of unit 0: 2 hops. Other rail or other unit: 4.
  const Fabric r = build_fabric(rail());
  EXPECT_EQ(r.route(3, 11).size(), 2u);
  EXPECT_EQ(r.route(3, 12).size(), 4u);  // rail 3 -> rail 4 (server 1, GPU 4) through a spine
  EXPECT_EQ(r.route(3, 35).size(), 4u);  // rail 3 of unit 0 -> rail 3 of unit 1
  EXPECT_EQ(r.route(3, 5).size(), 2u);   // same server: NVLink
  EXPECT_EQ(r.link(r.route(3, 5)[0].link).tier, LinkTier::NVLINK);

  // Dragonfly: same router 2, same group 3 (NIC, local, NIC), other group 3 to 5.
  const Fabric d = build_fabric(dragonfly());
  EXPECT_EQ(d.route(0, 4).size(), 2u);  // servers 0 and 1 on router 0 (different NVLink domains)
  EXPECT_EQ(d.route(0, 8).size(), 3u);  // router 0 -> router 1
  const size_t other_group = d.route(0, 100).size();
  EXPECT_GE(other_group, 3u);
  EXPECT_LE(other_group, 5u);
}

TEST(Fabric, Nvl72DomainSpansServers) {
  // 36 servers of 4 GPUs, NVLink domains of 72 GPUs (18 servers) as in GB200 NVL72; one leaf per 18 servers.
  FabricParams p = fat_tree(36, 18, 4, 2);
  p.nvlink_domain_gpus = 72;
  const Fabric f = build_fabric(p);
  EXPECT_EQ(f.count(NodeRole::NVSWITCH), 2);
  EXPECT_EQ(f.count(LinkTier::NVLINK), 144);
  EXPECT_EQ(f.num_nvlink_domains(), 2);
  EXPECT_EQ(f.nvlink_domain_of_gpu(71), 0);
  EXPECT_EQ(f.nvlink_domain_of_gpu(72), 1);
  // GPU 0 (server 0) and GPU 4 (server 1): different servers, same domain: NVLink, 2 hops.
  const auto hops = f.route(0, 4);
  ASSERT_EQ(hops.size(), 2u);
  EXPECT_EQ(f.link(hops[0].link).tier, LinkTier::NVLINK);
  EXPECT_EQ(f.link(hops[1].link).tier, LinkTier::NVLINK);
  EXPECT_EQ(f.route(0, 71).size(), 2u);
  EXPECT_EQ(f.route(0, 72).size(), 4u);  // other domain, other leaf: NIC, uplink, uplink, NIC
  EXPECT_EQ(f.diameter_hops(), 4);
}

TEST(Fabric, EcmpSpreadsFlowsOverSpines) {
  // 1,000 flows between two leaves over 4 spines: uniform is 250 each; a binomial's standard deviation is
  // sqrt(1000 x 1/4 x 3/4) = 13.7, so +-50 (3.6 sigma) is the bound.
  const Fabric f = build_fabric(fat_tree(16, 4, 8, 4));
  std::map<int, int> per_spine;
  for (uint64_t flow = 0; flow < 1000; ++flow) {
    const auto hops = f.route(0, 127, flow);
    ASSERT_EQ(hops.size(), 4u);
    ++per_spine[f.link(hops[1].link).high];
    EXPECT_EQ(f.link(hops[1].link).high, f.link(hops[2].link).high);  // up and down through the same spine
  }
  ASSERT_EQ(per_spine.size(), 4u);
  for (const auto& [spine, n] : per_spine) {
    std::printf("  %s: %d flows (uniform 250)\n", f.node(spine).name.c_str(), n);
    EXPECT_NEAR(n, 250, 50) << f.node(spine).name;
  }
  // Pairs spread too: GPU pairs between two leaves with flow 0.
  std::map<int, int> by_pair;
  for (int a = 0; a < 32; ++a)
    for (int b = 96; b < 128; ++b) ++by_pair[f.link(f.route(a, b)[1].link).high];
  for (const auto& [spine, n] : by_pair) EXPECT_NEAR(n, 256, 56) << f.node(spine).name;  // 1024 pairs / 4
  // Deterministic: the same (a, b, flow) always takes the same path.
  EXPECT_EQ(f.route(3, 99, 42)[1].link, f.route(3, 99, 42)[1].link);
}

TEST(Fabric, EcmpSpreadsOverCoresAndGlobalLinks) {
  // 3 tiers, pod 0 -> pod 3: 4 cores, 1,000 flows, uniform 250 (+-50 as above).
  const Fabric t = build_fabric(three_tier());
  std::map<int, int> per_core;
  for (uint64_t flow = 0; flow < 1000; ++flow) ++per_core[t.link(t.route(0, 255, flow)[2].link).high];
  ASSERT_EQ(per_core.size(), 4u);
  for (const auto& [core, n] : per_core) EXPECT_NEAR(n, 250, 50) << t.node(core).name;

  // Dragonfly with 2 groups of 4 routers and 2 ports each: 8 global links join the groups; router 0 owns 2 of them.
  const Fabric d = build_fabric(dragonfly(16, 4, 2));
  ASSERT_EQ(d.count(LinkTier::GLOBAL), 8);
  std::map<int, int> per_global;
  for (uint64_t flow = 0; flow < 1000; ++flow)
    for (const Hop& h : d.route(0, 32, flow))
      if (d.link(h.link).tier == LinkTier::GLOBAL) ++per_global[h.link];
  // Router 0 (GPU 0) to router 4 (GPU 32): 2 direct global links of cost 1, 500 flows each (+-60).
  ASSERT_EQ(per_global.size(), 2u);
  for (const auto& [link, n] : per_global) EXPECT_NEAR(n, 500, 60) << link;
}

TEST(Fabric, RoutesAvoidFailedLinksAndSwitches) {
  Fabric f = build_fabric(fat_tree(16, 4, 8, 4));
  const auto spine0 = f.vertex(NodeRole::SPINE, 0);
  f.set_switch_up(spine0, false);
  const int leaf0_spine1 = f.link_between(f.vertex(NodeRole::LEAF, 0), f.vertex(NodeRole::SPINE, 1));
  f.set_link_up(leaf0_spine1, false);
  std::map<int, int> per_spine;
  for (uint64_t flow = 0; flow < 900; ++flow) {
    const auto hops = f.route(0, 127, flow);
    ASSERT_EQ(hops.size(), 4u);
    for (const Hop& h : hops) ASSERT_NE(h.link, leaf0_spine1);
    ++per_spine[f.link(hops[1].link).high];
  }
  // Spines 2 and 3 are left for leaf 0: 450 each.
  EXPECT_EQ(per_spine.count(spine0), 0u);
  ASSERT_EQ(per_spine.size(), 2u);
  for (const auto& [spine, n] : per_spine) EXPECT_NEAR(n, 450, 60) << f.node(spine).name;
  EXPECT_FALSE(f.link_up(leaf0_spine1));
  EXPECT_FALSE(f.switch_up(spine0));

  // A failed NVLink sends the same-server flow through the leaf.
  f.set_link_up(f.nvlink_link(1), false);
  const auto detour = f.route(1, 2);
  ASSERT_EQ(detour.size(), 2u);
  EXPECT_EQ(f.link(detour[0].link).tier, LinkTier::NIC);

  // Leaf 0 loses its last uplinks: nothing leaves it; the error names both ends.
  for (int s = 2; s < 4; ++s)
    f.set_link_up(f.link_between(f.vertex(NodeRole::LEAF, 0), f.vertex(NodeRole::SPINE, s)), false);
  try {
    f.route(0, 127);
    ADD_FAILURE() << "expected no route";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("s0g0"), std::string::npos) << what;
    EXPECT_NE(what.find("s15g7"), std::string::npos) << what;
  }
  EXPECT_EQ(f.route(0, 8).size(), 2u);  // same leaf still works
  // Repairs bring the original routes back.
  f.set_switch_up(spine0, true);
  EXPECT_EQ(f.route(0, 127).size(), 4u);
  EXPECT_EQ(f.link(f.route(0, 127)[1].link).high, spine0);

  EXPECT_THROW(f.set_switch_up(f.gpu_vertex(0), false), std::invalid_argument);
  EXPECT_THROW(f.set_link_up(-1, false), std::out_of_range);
  EXPECT_THROW(f.route(f.vertex(NodeRole::LEAF, 0), 3), std::invalid_argument);
}

TEST(Fabric, RoutesUnderRandomFailuresMatchBfs) {
  // Random links and switches down: every route is still a shortest surviving path (or none exists).
  const std::vector<std::pair<std::string, FabricParams>> cases = {
      {"fat-tree 2 tiers", with_storage(fat_tree(16, 4, 8, 4))},
      {"fat-tree 3 tiers", with_storage(three_tier())},
      {"rail-optimized", with_storage(rail())},
      {"dragonfly", with_storage(dragonfly())},
  };
  for (const auto& [name, params] : cases) {
    SCOPED_TRACE(name);
    Fabric f = build_fabric(params);
    AIF_TEST_SEED(seed, 11);
    std::mt19937 rng(static_cast<std::mt19937::result_type>(seed));
    std::vector<int> network;
    for (int id = 0; id < f.num_links(); ++id)
      if (f.link(id).tier != LinkTier::NIC && f.link(id).tier != LinkTier::STORAGE) network.push_back(id);
    std::shuffle(network.begin(), network.end(), rng);
    for (size_t i = 0; i < network.size() / 5; ++i) f.set_link_up(network[i], false);  // a fifth of them
    const int switch_count = f.count(NodeRole::SPINE) + f.count(NodeRole::CORE) + f.count(NodeRole::ROUTER);
    if (switch_count > 4) {
      const int first =
          static_cast<int>(f.gpu_vertex(0)) + f.num_gpus() + f.count(NodeRole::NVSWITCH) + f.count(NodeRole::LEAF);
      f.set_switch_up(first + 1, false);
    }
    expect_routes_minimal(f, 300, 5);
  }
}

// ---- analytic -------------------------------------------------------------------------------------------------

TEST(Fabric, BisectionBandwidthByHand) {
  std::printf("bisection bandwidth (bytes/s, one direction):\n");
  // Non-blocking 2 tiers, 4 leaves x 4 servers x 8 GPUs at 50 GB/s: 64 GPUs each side x 50 GB/s = 3.2 TB/s.
  const double nb = build_fabric(fat_tree(16, 4, 8, 4)).bisection_bandwidth();
  print("fat-tree 2 tiers, non-blocking (64 x 50 GB/s)", 3.2e12, nb);
  EXPECT_DOUBLE_EQ(nb, 3.2e12);
  // 4:1 oversubscribed leaves: a quarter.
  const double over = build_fabric(fat_tree(16, 4, 8, 4, 4)).bisection_bandwidth();
  print("fat-tree 2 tiers, 4:1", 0.8e12, over);
  EXPECT_DOUBLE_EQ(over, 0.8e12);
  // One leaf: the halves meet in the leaf, each GPU's NIC is the limit: 64 x 50 GB/s.
  const double one_leaf = build_fabric(fat_tree(16, 16, 8, 2, 4)).bisection_bandwidth();
  print("fat-tree, one leaf (NICs limit)", 3.2e12, one_leaf);
  EXPECT_DOUBLE_EQ(one_leaf, 3.2e12);
  // 3 tiers, cores 2:1: 2 pods each side; a pod's uplink to the cores is its 64 GPUs x 50 GB/s / 2 = 1.6 TB/s.
  const double three = build_fabric(three_tier(1, 2)).bisection_bandwidth();
  print("fat-tree 3 tiers, cores 2:1 (2 pods x 1.6 TB/s)", 3.2e12, three);
  EXPECT_DOUBLE_EQ(three, 3.2e12);
  // Rail-optimized, non-blocking: unit 0 (32 GPUs) against unit 1: 32 x 50 GB/s.
  const double r = build_fabric(rail()).bisection_bandwidth();
  print("rail-optimized, 2 units of 32 GPUs", 1.6e12, r);
  EXPECT_DOUBLE_EQ(r, 1.6e12);
  // Dragonfly, 8 groups: groups 0-3 against 4-7 are joined by 4 x 4 = 16 global links of 4 x 50 = 200 GB/s, and each
  // link's router injects 8 x 50 = 400 GB/s, so the global links are the cut: 3.2 TB/s (the NICs would allow 6.4).
  const double d = build_fabric(dragonfly()).bisection_bandwidth();
  print("dragonfly, 16 global links x 200 GB/s", 3.2e12, d);
  EXPECT_DOUBLE_EQ(d, 3.2e12);
  // NVLink does not count: one NVL72-style domain spanning both halves on a 4:1 leaf pair still has 4:1 uplinks.
  FabricParams nvl = fat_tree(16, 8, 8, 4, 4);
  nvl.nvlink_domain_gpus = 128;
  const double with_nvlink = build_fabric(nvl).bisection_bandwidth();
  print("one NVLink domain over 2 leaves 4:1 (64 x 50 / 4)", 0.8e12, with_nvlink);
  EXPECT_DOUBLE_EQ(with_nvlink, 0.8e12);
  // A failed spine removes its share.
  Fabric failed = build_fabric(fat_tree(16, 4, 8, 4));
  failed.set_switch_up(failed.vertex(NodeRole::SPINE, 0), false);
  print("non-blocking with 1 of 4 spines down", 2.4e12, failed.bisection_bandwidth());
  EXPECT_DOUBLE_EQ(failed.bisection_bandwidth(), 2.4e12);
}

TEST(Fabric, DiameterByHandAndByAllRoutes) {
  struct Case {
    std::string name;
    FabricParams params;
    int by_hand;
  };
  FabricParams nvl = fat_tree(36, 18, 4, 2);
  nvl.nvlink_domain_gpus = 72;
  FabricParams single_domain = fat_tree(4, 2, 4, 2);
  single_domain.nvlink_domain_gpus = 16;
  const std::vector<Case> cases = {
      {"fat-tree 2 tiers (NIC, uplink, uplink, NIC)", fat_tree(16, 4, 8, 4), 4},
      {"one leaf (NIC, NIC)", fat_tree(4, 4, 8, 2), 2},
      {"fat-tree 3 tiers (through a core)", three_tier(), 6},
      {"rail-optimized", rail(), 4},
      {"NVL72 domains over 2 leaves", nvl, 4},
      {"one NVLink domain", single_domain, 2},
      {"dragonfly 8 groups (local, global, local)", dragonfly(), 5},
  };
  std::printf("diameter in hops:\n");
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Fabric f = build_fabric(c.params);
    const int d = f.diameter_hops();
    print(c.name.c_str(), c.by_hand, d);
    EXPECT_EQ(d, c.by_hand);
    EXPECT_EQ(d, max_route_hops(f));
  }
  // Dragonflies of other shapes: the diameter is the longest route, whatever the arrangement gives.
  for (const FabricParams& p : {dragonfly(16, 4, 2), dragonfly(96, 3, 5), dragonfly(64, 8, 1)}) {
    const Fabric f = build_fabric(p);
    EXPECT_EQ(f.diameter_hops(), max_route_hops(f));
  }
}

TEST(Fabric, OversubscriptionByTier) {
  const Fabric two = build_fabric(fat_tree(16, 4, 8, 4, 4));
  print("fat-tree 2 tiers: leaf", 4, two.oversubscription(NodeRole::LEAF));
  EXPECT_DOUBLE_EQ(two.oversubscription(NodeRole::LEAF), 4);
  EXPECT_DOUBLE_EQ(two.oversubscription(NodeRole::SPINE), 1);  // top tier
  EXPECT_DOUBLE_EQ(two.oversubscription(NodeRole::CORE), 1);
  const Fabric three = build_fabric(three_tier(2, 3));
  print("fat-tree 3 tiers: leaf", 2, three.oversubscription(NodeRole::LEAF));
  print("fat-tree 3 tiers: spine", 3, three.oversubscription(NodeRole::SPINE));
  EXPECT_NEAR(three.oversubscription(NodeRole::LEAF), 2, 1e-12);
  EXPECT_NEAR(three.oversubscription(NodeRole::SPINE), 3, 1e-12);
  FabricParams rp = rail();
  rp.oversubscription = 2;
  EXPECT_NEAR(build_fabric(rp).oversubscription(NodeRole::LEAF), 2, 1e-12);
  // Dragonfly routers: 256 GPUs x 50 GB/s of NICs over 28 global links x 2 ends x 200 GB/s = 12.8 / 11.2.
  const Fabric d = build_fabric(dragonfly());
  print("dragonfly: router (NIC / global)", 12.8 / 11.2, d.oversubscription(NodeRole::ROUTER));
  EXPECT_NEAR(d.oversubscription(NodeRole::ROUTER), 12.8 / 11.2, 1e-12);
  EXPECT_DOUBLE_EQ(d.oversubscription(NodeRole::LEAF), 1);
}

TEST(Fabric, WritesGraphviz) {
  const Fabric f = build_fabric(with_storage(rail(), 3, 2));
  std::ostringstream out;
  f.write_dot(out);
  const std::string dot = out.str();
  EXPECT_EQ(dot.rfind("graph fabric {", 0), 0u);
  EXPECT_EQ(dot.substr(dot.size() - 2), "}\n");
  size_t edges = 0;
  for (size_t at = dot.find(" -- "); at != std::string::npos; at = dot.find(" -- ", at + 1)) ++edges;
  EXPECT_EQ(edges, static_cast<size_t>(f.num_links()));
  for (const char* name : {"\"s0g0\"", "\"su1rail7\"", "\"spine3\"", "\"sleaf1\"", "\"storage2\"", "\"nvs7\""})
    EXPECT_NE(dot.find(name), std::string::npos) << name;
}

// ---- validation -----------------------------------------------------------------------------------------------

TEST(Fabric, InvalidParametersNameTheirField) {
  struct Bad {
    std::string field;
    FabricParams params;
  };
  std::vector<Bad> cases;
  const auto add = [&](const std::string& field, FabricParams p) { cases.push_back({field, p}); };
  FabricParams p = fat_tree(16, 3, 8, 4);
  add("servers_per_leaf", p);  // 3 does not divide 16
  p = fat_tree(16, 4, 8, 4);
  p.nvlink_domain_gpus = 12;
  add("nvlink_domain_gpus", p);  // not a multiple of 8
  p.nvlink_domain_gpus = 24;
  add("nvlink_domain_gpus", p);  // does not divide 128
  p = fat_tree(16, 4, 8, 0);
  add("spines", p);
  p = fat_tree(16, 4, 8, 4, 0.5);
  add("oversubscription", p);
  p = fat_tree(0, 4, 8, 4);
  add("servers", p);
  p = fat_tree(16, 4, 8, 4);
  p.tiers = 4;
  add("tiers", p);
  p.tiers = 2;
  p.cores = 4;
  add("cores", p);
  p = three_tier();
  p.leaves_per_pod = 3;
  add("leaves_per_pod", p);  // 16 leaves
  p = three_tier();
  p.cores = 0;
  add("cores", p);
  p = three_tier(1, 0.9);
  add("core_oversubscription", p);
  p = rail();
  p.tiers = 3;
  add("tiers", p);
  p = rail();
  p.local_bandwidth = 1e9;
  add("local_bandwidth", p);
  p = fat_tree(16, 4, 8, 4);
  p.nic_bandwidth = 0;
  add("nic_bandwidth", p);
  p = fat_tree(16, 4, 8, 4);
  p.link_latency_s = -1;
  add("link_latency_s", p);
  p = dragonfly();
  p.global_links_per_router = 1;  // 4 routers x 1 link cannot join 8 groups
  add("global_links_per_router", p);
  p = dragonfly();
  p.routers_per_group = 5;  // 32 routers
  add("routers_per_group", p);
  p = dragonfly();
  p.oversubscription = 2;
  add("oversubscription", p);
  p = with_storage(fat_tree(16, 4, 8, 4), 4, 0);
  add("storage_nodes_per_leaf", p);
  p = with_storage(fat_tree(16, 4, 8, 4), -1, 8);
  add("storage_nodes", p);
  p = fat_tree(1000001, 1, 100, 4);
  add("servers", p);  // over 100 million GPUs
  for (const Bad& c : cases) {
    try {
      build_fabric(c.params);
      ADD_FAILURE() << "accepted; expected an error on " << c.field;
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind(c.field + ": ", 0), 0u) << what;
      std::printf("  %s\n", what.c_str());
    }
    EXPECT_THROW(aif::models::check_fabric_params(c.params), std::invalid_argument) << c.field;
  }
  // The messages the scenario errors quote.
  p = fat_tree(16, 4, 8, 4);
  p.nvlink_domain_gpus = 12;
  EXPECT_THROW(
      {
        try {
          build_fabric(p);
        } catch (const std::invalid_argument& e) {
          EXPECT_STREQ(e.what(),
                       "nvlink_domain_gpus: 12 is not a multiple of gpus_per_server 8 (a domain is made of whole "
                       "servers)");
          throw;
        }
      },
      std::invalid_argument);
  p = dragonfly(72, 4, 1);  // 36 routers, 9 groups
  try {
    build_fabric(p);
    ADD_FAILURE();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).rfind("global_links_per_router: 4 routers x 1 global link cannot join 9 groups", 0),
              0u)
        << e.what();
  }
}
