// Analytic properties of a Fabric: bisection bandwidth (max-flow), diameter, oversubscription, Graphviz output.
#include <algorithm>
#include <boost/graph/push_relabel_max_flow.hpp>
#include <boost/property_map/property_map.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ostream>
#include <vector>

#include "aif/models/fabric.hpp"

namespace aif::models {

namespace {

using FlowTraits = boost::adjacency_list_traits<boost::vecS, boost::vecS, boost::directedS>;
struct FlowArc {
  int64_t capacity = 0;  // bytes/s, rounded: integer capacities keep the max-flow exact
  int64_t residual = 0;
  FlowTraits::edge_descriptor reverse;
};
using FlowGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, boost::no_property, FlowArc>;

// An arc u -> v of `forward` and its reverse v -> u of `backward`, each the other's reverse in the residual graph.
void add_pair(FlowGraph& g, int u, int v, int64_t forward, int64_t backward) {
  const auto e = boost::add_edge(static_cast<size_t>(u), static_cast<size_t>(v), FlowArc{forward, 0, {}}, g).first;
  const auto r = boost::add_edge(static_cast<size_t>(v), static_cast<size_t>(u), FlowArc{backward, 0, {}}, g).first;
  g[e].reverse = r;
  g[r].reverse = e;
}

}  // namespace

double Fabric::bisection_bandwidth() const {
  if (num_gpus_ < 2) return 0;
  // Push-relabel, not Boykov-Kolmogorov: on a 100,000-GPU rail fabric (4,000 rail switches x 64 spines) it takes
  // 0.1 s where Boykov-Kolmogorov took 10 s.
  // Flow vertices: the network switches [first_switch_, first_sleaf_) (leaves, rail switches, routers, spines,
  // cores), then source and sink. A GPU has only its NIC once NVLink is excluded, so each half's GPUs fold into their
  // edge switch: source -> switch with the sum of its first-half NICs, switch -> sink with its second-half NICs.
  const int switches = first_sleaf_ - first_switch_;
  const int source = switches, sink = switches + 1;
  FlowGraph g(static_cast<size_t>(switches) + 2);
  std::vector<int64_t> from_source(static_cast<size_t>(switches), 0), to_sink(static_cast<size_t>(switches), 0);
  const int half = num_gpus_ / 2;
  for (int gpu = 0; gpu < num_gpus_; ++gpu) {
    const FabricLink& nic = links_[static_cast<size_t>(nic_base_ + gpu)];
    if (!alive(nic.id) || !alive_vertex(nic.high)) continue;
    (gpu < half ? from_source : to_sink)[nic.high - first_switch_] += std::llround(nic.bandwidth);
  }
  for (int s = 0; s < switches; ++s) {
    if (from_source[s] > 0) add_pair(g, source, s, from_source[s], 0);
    if (to_sink[s] > 0) add_pair(g, s, sink, to_sink[s], 0);
  }
  for (const FabricLink& l : links_) {
    const bool network = l.tier == LinkTier::UPLINK || l.tier == LinkTier::CORE || l.tier == LinkTier::LOCAL ||
                         l.tier == LinkTier::GLOBAL;
    // Storage leaves' uplinks are UPLINK too: they start at or above first_sleaf_ and stay out.
    if (!network || l.low >= first_sleaf_ || l.high >= first_sleaf_) continue;
    if (!alive(l.id) || !alive_vertex(l.low) || !alive_vertex(l.high)) continue;
    // A link carries c each way: two arcs, each with a zero-capacity reverse. Boost's push-relabel wants reverse arcs
    // of capacity 0; one pair of c both ways broke its flow invariant (its assertion, live in the sanitizer build).
    const int64_t c = std::llround(l.bandwidth);
    add_pair(g, l.low - first_switch_, l.high - first_switch_, c, 0);
    add_pair(g, l.high - first_switch_, l.low - first_switch_, c, 0);
  }

  const auto index = boost::get(boost::vertex_index, g);
  const int64_t flow = boost::push_relabel_max_flow(
      g, static_cast<size_t>(source), static_cast<size_t>(sink), boost::get(&FlowArc::capacity, g),
      boost::get(&FlowArc::residual, g), boost::get(&FlowArc::reverse, g), index);
  return static_cast<double>(flow);
}

// Largest router-to-router hop count of a dragonfly route, over router pairs that hold two GPUs of different NVLink
// domains (-1 if none). Routes are minimum-hop, so this is a breadth-first distance; it is at most 3 (local, global,
// local) because every pair of groups is joined, so a two-level search per router is enough.
int Fabric::dragonfly_router_distance_max() const {
  const int R = num_edge_switches_, a = routers_per_group_;
  const int gpus_per_router = params_.servers_per_leaf * params_.gpus_per_server;
  // The NVLink domain all GPUs of a router belong to, or -1 when it holds GPUs of several.
  std::vector<int> single(static_cast<size_t>(R));
  for (int r = 0; r < R; ++r) {
    const int first = r * gpus_per_router / domain_gpus_, last = ((r + 1) * gpus_per_router - 1) / domain_gpus_;
    single[r] = first == last ? first : -1;
  }
  std::vector<int> dist(static_cast<size_t>(R), -1);
  std::vector<int> seen;
  const auto neighbours = [&](int r, auto&& visit) {
    const int first = r / a * a;
    for (int k = first; k < first + a; ++k)
      if (k != r) visit(k);
    for (int i = global_begin_[r]; i < global_begin_[r + 1]; ++i) visit(global_of_router_[i].second - first_switch_);
  };
  int worst = -1;
  for (int u = 0; u < R && worst < 3; ++u) {
    for (int v : seen) dist[v] = -1;
    seen.clear();
    const auto mark = [&](int v, int d) {
      if (dist[v] < 0) dist[v] = d, seen.push_back(v);
    };
    mark(u, 0);
    neighbours(u, [&](int v) { mark(v, 1); });
    for (size_t i = 1, n1 = seen.size(); i < n1; ++i) neighbours(seen[i], [&](int v) { mark(v, 2); });
    for (int w = 0; w < R; ++w) {
      if (single[u] >= 0 && single[u] == single[w]) continue;
      worst = std::max(worst, dist[w] < 0 ? 3 : dist[w]);
    }
  }
  return worst;
}

int Fabric::diameter_hops() const {
  if (num_gpus_ < 2) return 0;
  const int domains = num_gpus_ / domain_gpus_;
  if (domains == 1) return 2;  // NVLink: GPU, NVSwitch, GPU
  // Two GPUs of different domains on different switches of a partition exist as soon as the partition has two
  // parts (leaves, pods): otherwise every GPU would share one domain. Their route climbs to the partition's top.
  switch (params_.kind) {
    case FabricKind::FAT_TREE:
      if (params_.tiers == 3 && num_edge_switches_ / leaves_per_pod_ > 1) return 6;
      return num_edge_switches_ > 1 ? 4 : 2;
    case FabricKind::RAIL_OPTIMIZED:
      return num_edge_switches_ > 1 ? 4 : 2;
    case FabricKind::DRAGONFLY:
      return 2 + std::max(0, dragonfly_router_distance_max());
  }
  return 0;
}

double Fabric::oversubscription(NodeRole tier) const {
  const auto role = [&](int v) { return graph_[static_cast<Vertex>(v)].role; };
  double down = 0, up = 0;
  for (const FabricLink& l : links_) {
    switch (tier) {
      case NodeRole::LEAF:
      case NodeRole::ROUTER:
        if (l.tier == LinkTier::NIC && role(l.high) == tier) down += l.bandwidth;
        if (tier == NodeRole::LEAF && l.tier == LinkTier::UPLINK && role(l.low) == NodeRole::LEAF) up += l.bandwidth;
        if (tier == NodeRole::ROUTER && l.tier == LinkTier::GLOBAL) up += 2 * l.bandwidth;  // both ends are routers
        break;
      case NodeRole::SPINE:
        if (l.tier == LinkTier::UPLINK && role(l.low) == NodeRole::LEAF && role(l.high) == NodeRole::SPINE)
          down += l.bandwidth;
        if (l.tier == LinkTier::CORE) up += l.bandwidth;
        break;
      default:
        return 1;
    }
  }
  return up > 0 && down > 0 ? down / up : 1;
}

namespace {

const char* colour(NodeRole role) {
  switch (role) {
    case NodeRole::GPU:
      return "#76b900";
    case NodeRole::NVSWITCH:
      return "#a0c4ff";
    case NodeRole::LEAF:
      return "#ffd6a5";
    case NodeRole::SPINE:
      return "#ffadad";
    case NodeRole::CORE:
      return "#bdb2ff";
    case NodeRole::ROUTER:
      return "#fdffb6";
    case NodeRole::STORAGE_LEAF:
      return "#caffbf";
    case NodeRole::STORAGE:
      return "#9bf6ff";
  }
  return "white";
}

}  // namespace

void Fabric::write_dot(std::ostream& out) const {
  out << "graph fabric {\n  // " << to_string(params_.kind) << ": " << num_gpus_ << " GPUs, " << num_links()
      << " links; edge labels: GB/s per direction\n  node [style=filled, shape=box, fontsize=10];\n";
  for (int v = 0; v < num_vertices(); ++v) {
    const FabricNode& n = graph_[static_cast<Vertex>(v)];
    out << "  \"" << n.name << "\" [fillcolor=\"" << colour(n.role) << "\""
        << (alive_vertex(v) ? "" : ", color=red, penwidth=2") << "];\n";
  }
  char bw[32];
  for (const FabricLink& l : links_) {
    std::snprintf(bw, sizeof bw, "%.4g", l.bandwidth / 1e9);
    out << "  \"" << graph_[static_cast<Vertex>(l.low)].name << "\" -- \"" << graph_[static_cast<Vertex>(l.high)].name
        << "\" [label=\"" << bw << "\"" << (alive(l.id) ? "" : ", color=red, style=dashed") << "];\n";
  }
  out << "}\n";
}

}  // namespace aif::models
