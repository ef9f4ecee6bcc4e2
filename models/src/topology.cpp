#include "aif/models/topology.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include <boost/graph/breadth_first_search.hpp>
#include <boost/graph/dijkstra_shortest_paths.hpp>
#include <boost/property_map/function_property_map.hpp>

namespace aif::models {

const char* to_string(NodeKind kind) {
  switch (kind) {
    case NodeKind::GPU: return "GPU";
    case NodeKind::NVSWITCH: return "NVSWITCH";
    case NodeKind::LEAF: return "LEAF";
    case NodeKind::SPINE: return "SPINE";
  }
  return "?";
}

const char* to_string(LinkTier tier) {
  switch (tier) {
    case LinkTier::NVLINK: return "NVLINK";
    case LinkTier::NIC: return "NIC";
    case LinkTier::UPLINK: return "UPLINK";
  }
  return "?";
}

namespace {

void require_count(int value, const char* field) {
  if (value < 1)
    throw std::invalid_argument(std::string("LeafSpineParams.") + field + " must be >= 1, got " +
                                std::to_string(value));
}

void require_positive(double value, const char* field) {
  if (!(value > 0) || !std::isfinite(value))
    throw std::invalid_argument(std::string("LeafSpineParams.") + field + " must be a finite number > 0, got " +
                                std::to_string(value));
}

void require_non_negative(double value, const char* field) {
  if (!(value >= 0) || !std::isfinite(value))
    throw std::invalid_argument(std::string("LeafSpineParams.") + field + " must be a finite number >= 0, got " +
                                std::to_string(value));
}

void validate(const LeafSpineParams& p) {
  require_count(p.racks, "racks");
  require_count(p.servers_per_rack, "servers_per_rack");
  require_count(p.gpus_per_server, "gpus_per_server");
  require_count(p.spines, "spines");
  require_positive(p.nvlink_bandwidth, "nvlink_bandwidth");
  require_positive(p.nic_bandwidth, "nic_bandwidth");
  if (!(p.oversubscription >= 1) || !std::isfinite(p.oversubscription))
    throw std::invalid_argument("LeafSpineParams.oversubscription must be a finite number >= 1, got " +
                                std::to_string(p.oversubscription));
  require_non_negative(p.link_latency_s, "link_latency_s");
  require_non_negative(p.nvlink_latency_s, "nvlink_latency_s");
  // Vertex indices are ints: keep the whole graph well inside that range.
  const int64_t gpus = int64_t{p.racks} * p.servers_per_rack * p.gpus_per_server;
  if (gpus + int64_t{p.racks} * p.servers_per_rack + p.racks + p.spines > (int64_t{1} << 30))
    throw std::invalid_argument("LeafSpineParams: racks * servers_per_rack * gpus_per_server = " +
                                std::to_string(gpus) + " GPUs is too large");
}

// SplitMix64 finaliser (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014):
// a fixed, platform-independent mix so spine choices do not depend on the standard library's std::hash.
uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

int Topology::count(NodeKind kind) const {
  // Counted from the vertex layout, so that a default-constructed (empty) Topology reports zeros.
  switch (kind) {
    case NodeKind::GPU: return first_nvswitch_;
    case NodeKind::NVSWITCH: return first_leaf_ - first_nvswitch_;
    case NodeKind::LEAF: return first_spine_ - first_leaf_;
    case NodeKind::SPINE: return num_vertices() - first_spine_;
  }
  return 0;
}

int Topology::count(LinkTier tier) const {
  switch (tier) {
    case LinkTier::NVLINK:
    case LinkTier::NIC: return num_gpus();  // one NVLink port and one NIC per GPU
    case LinkTier::UPLINK: return count(NodeKind::LEAF) * count(NodeKind::SPINE);
  }
  return 0;
}

Topology::Vertex Topology::checked_vertex(int index, int count, int first, const char* what) const {
  if (index < 0 || index >= count)
    throw std::out_of_range(std::string(what) + " index " + std::to_string(index) + " out of range [0, " +
                            std::to_string(count) + ")");
  return static_cast<Vertex>(first + index);
}

Topology::Vertex Topology::gpu_vertex(int rack, int server, int gpu) const {
  checked_vertex(rack, params_.racks, 0, "rack");
  checked_vertex(server, params_.servers_per_rack, 0, "server in rack");
  checked_vertex(gpu, params_.gpus_per_server, 0, "gpu in server");
  return static_cast<Vertex>((rack * params_.servers_per_rack + server) * params_.gpus_per_server + gpu);
}

Topology::Vertex Topology::gpu_vertex(int global_gpu) const {
  return checked_vertex(global_gpu, num_gpus(), 0, "gpu");
}

Topology::Vertex Topology::nvswitch_vertex(int global_server) const {
  return checked_vertex(global_server, num_servers(), first_nvswitch_, "server");
}

Topology::Vertex Topology::leaf_vertex(int rack) const {
  return checked_vertex(rack, params_.racks, first_leaf_, "rack");
}

Topology::Vertex Topology::spine_vertex(int spine) const {
  return checked_vertex(spine, params_.spines, first_spine_, "spine");
}

int Topology::gpu_id(Vertex gpu) const {
  if (gpu >= static_cast<Vertex>(num_gpus()))
    throw std::invalid_argument("vertex " + std::to_string(gpu) + " is not a GPU");
  return static_cast<int>(gpu);
}

int Topology::server_of(Vertex gpu) const { return gpu_id(gpu) / params_.gpus_per_server; }

int Topology::rack_of(Vertex gpu) const { return server_of(gpu) / params_.servers_per_rack; }

Topology::Edge Topology::nvlink_edge(int global_gpu) const {
  const Vertex g = gpu_vertex(global_gpu);
  return boost::edge(g, nvswitch_vertex(server_of(g)), graph_).first;
}

Topology::Edge Topology::nic_edge(int global_gpu) const {
  const Vertex g = gpu_vertex(global_gpu);
  return boost::edge(g, leaf_vertex(rack_of(g)), graph_).first;
}

Topology::Edge Topology::uplink_edge(int rack, int spine) const {
  // Search from the spine: its degree is the number of racks, a leaf's is every GPU of the rack plus the spines.
  return boost::edge(spine_vertex(spine), leaf_vertex(rack), graph_).first;
}

int Topology::spine_for_racks(int rack_a, int rack_b) const {
  checked_vertex(rack_a, params_.racks, 0, "rack");
  checked_vertex(rack_b, params_.racks, 0, "rack");
  const auto lo = static_cast<uint64_t>(std::min(rack_a, rack_b));
  const auto hi = static_cast<uint64_t>(std::max(rack_a, rack_b));
  return static_cast<int>(mix64((lo << 32) | hi) % static_cast<uint64_t>(params_.spines));
}

std::vector<Topology::Edge> Topology::route(int gpu_a, int gpu_b) const {
  const Vertex a = gpu_vertex(gpu_a);
  const Vertex b = gpu_vertex(gpu_b);
  if (a == b) return {};
  if (server_of(a) == server_of(b)) return {nvlink_edge(gpu_a), nvlink_edge(gpu_b)};
  if (rack_of(a) == rack_of(b)) return {nic_edge(gpu_a), nic_edge(gpu_b)};
  const int spine = spine_for_racks(rack_of(a), rack_of(b));
  return {nic_edge(gpu_a), uplink_edge(rack_of(a), spine), uplink_edge(rack_of(b), spine), nic_edge(gpu_b)};
}

double Topology::bisection_bandwidth() const {
  const int racks = num_racks();
  if (racks == 0) throw std::domain_error("bisection_bandwidth: empty topology");
  if (racks % 2 != 0)
    throw std::domain_error("bisection_bandwidth: the GPUs cannot be halved along rack boundaries with " +
                            std::to_string(racks) + " racks (needs an even number)");
  // Rack of each vertex (-1 for spines, which are placed freely). Edges inside one rack never cross a rack-aligned
  // cut, so only the others are kept: edges between racks, and edges to a spine.
  auto vertex_rack = [&](Vertex v) { return graph_[v].rack; };
  struct CrossEdge {
    int rack_u, rack_v;  // rack_v == -1: v is spine number spine_v
    int spine_v;
    double bandwidth;
  };
  std::vector<CrossEdge> cross;
  for (auto [it, end] = boost::edges(graph_); it != end; ++it) {
    Vertex u = boost::source(*it, graph_);
    Vertex v = boost::target(*it, graph_);
    if (vertex_rack(u) < 0) std::swap(u, v);
    if (vertex_rack(u) < 0)
      throw std::logic_error("bisection_bandwidth: spine-to-spine edges are not supported");
    if (vertex_rack(u) == vertex_rack(v)) continue;
    const int spine = vertex_rack(v) < 0 ? static_cast<int>(v) - first_spine_ : -1;
    cross.push_back({vertex_rack(u), vertex_rack(v), spine, graph_[*it].bandwidth});
  }

  std::vector<double> to_side[2];  // per spine: capacity from racks on side 0 / side 1
  auto cut_capacity = [&](const std::vector<char>& side) {
    to_side[0].assign(static_cast<size_t>(params_.spines), 0.0);
    to_side[1].assign(static_cast<size_t>(params_.spines), 0.0);
    double crossing = 0;
    for (const CrossEdge& e : cross) {
      if (e.rack_v < 0)
        to_side[static_cast<size_t>(side[static_cast<size_t>(e.rack_u)])][static_cast<size_t>(e.spine_v)] +=
            e.bandwidth;
      else if (side[static_cast<size_t>(e.rack_u)] != side[static_cast<size_t>(e.rack_v)])
        crossing += e.bandwidth;
    }
    // Spines are not adjacent to each other, so each one independently joins the side it has more capacity to.
    for (size_t s = 0; s < to_side[0].size(); s++) crossing += std::min(to_side[0][s], to_side[1][s]);
    return crossing;
  };

  std::vector<char> side(static_cast<size_t>(racks), 0);
  std::fill(side.begin() + racks / 2, side.end(), 1);
  double best = cut_capacity(side);
  if (racks <= 20) {
    // Every balanced split with rack 0 on side 0 (the mirror images give the same cut): side 0 is {0} + a choice of
    // racks/2 - 1 racks among the others, enumerated as the lexicographic permutations of a 0/1 mask.
    std::vector<char> chosen(static_cast<size_t>(racks - 1), 1);
    std::fill(chosen.begin(), chosen.begin() + (racks / 2 - 1), 0);  // 0 = on side 0; smallest permutation first
    do {
      side[0] = 0;
      for (size_t i = 0; i < chosen.size(); i++) side[i + 1] = chosen[i];
      best = std::min(best, cut_capacity(side));
    } while (std::next_permutation(chosen.begin(), chosen.end()));
  }
  return best;
}

std::vector<Topology::Edge> Topology::shortest_path(Vertex a, Vertex b) const {
  const auto n = boost::num_vertices(graph_);
  if (a >= n || b >= n) throw std::out_of_range("shortest_path: vertex out of range");
  if (a == b) return {};
  // Weight = 1 hop + a tie-break below 1/(V+1) per edge, proportional to 1/bandwidth: a path has at most V-1 edges,
  // so the tie-breaks of a whole path add up to less than one hop and never beat a path with fewer hops.
  double min_bw = std::numeric_limits<double>::infinity();
  for (auto [it, end] = boost::edges(graph_); it != end; ++it) min_bw = std::min(min_bw, graph_[*it].bandwidth);
  const double tie = 1.0 / (static_cast<double>(n) + 1.0);
  auto weight = boost::make_function_property_map<Edge, double>(
      [&](const Edge& e) { return 1.0 + tie * min_bw / graph_[e].bandwidth; });

  std::vector<Vertex> pred(n);
  std::vector<double> dist(n);
  boost::dijkstra_shortest_paths(graph_, a,
                                 boost::weight_map(weight)
                                     .predecessor_map(boost::make_iterator_property_map(
                                         pred.begin(), boost::get(boost::vertex_index, graph_)))
                                     .distance_map(boost::make_iterator_property_map(
                                         dist.begin(), boost::get(boost::vertex_index, graph_))));
  if (pred[b] == b)
    throw std::invalid_argument("shortest_path: " + graph_[b].name + " cannot be reached from " + graph_[a].name);
  std::vector<Edge> path;
  for (Vertex v = b; v != a; v = pred[v]) path.push_back(boost::edge(pred[v], v, graph_).first);
  std::reverse(path.begin(), path.end());
  return path;
}

int Topology::diameter_hops() const {
  const auto n = boost::num_vertices(graph_);
  std::vector<int> hops(n);
  int diameter = 0;
  for (int server = 0; server < num_servers(); server++) {
    const Vertex source = static_cast<Vertex>(server * params_.gpus_per_server);
    std::fill(hops.begin(), hops.end(), -1);
    hops[source] = 0;
    auto hop_map = boost::make_iterator_property_map(hops.begin(), boost::get(boost::vertex_index, graph_));
    boost::breadth_first_search(
        graph_, source,
        boost::visitor(boost::make_bfs_visitor(boost::record_distances(hop_map, boost::on_tree_edge()))));
    for (int g = 0; g < num_gpus(); g++) {
      if (hops[static_cast<size_t>(g)] < 0)
        throw std::logic_error("diameter_hops: GPU " + graph_[static_cast<Vertex>(g)].name + " is unreachable");
      diameter = std::max(diameter, hops[static_cast<size_t>(g)]);
    }
  }
  return diameter;
}

Topology build_leaf_spine(const LeafSpineParams& params) {
  using Vertex = Topology::Vertex;
  validate(params);
  const int racks = params.racks;
  const int spr = params.servers_per_rack;
  const int gps = params.gpus_per_server;
  const int servers = racks * spr;
  const int gpus = servers * gps;

  Topology topo;
  topo.params_ = params;
  topo.first_nvswitch_ = gpus;
  topo.first_leaf_ = gpus + servers;
  topo.first_spine_ = gpus + servers + racks;
  TopologyGraph& g = topo.graph_;
  g = TopologyGraph(static_cast<TopologyGraph::vertices_size_type>(topo.first_spine_ + params.spines));

  for (int r = 0; r < racks; r++) {
    for (int s = 0; s < spr; s++) {
      const int server = r * spr + s;
      const std::string server_name = "r" + std::to_string(r) + "s" + std::to_string(s);
      g[static_cast<Vertex>(topo.first_nvswitch_ + server)] = {NodeKind::NVSWITCH, server_name + "-nvswitch", r,
                                                                server, -1};
      for (int k = 0; k < gps; k++)
        g[static_cast<Vertex>(server * gps + k)] = {NodeKind::GPU, server_name + "g" + std::to_string(k), r, server,
                                                    k};
    }
    g[static_cast<Vertex>(topo.first_leaf_ + r)] = {NodeKind::LEAF, "leaf" + std::to_string(r), r, -1, -1};
  }
  for (int s = 0; s < params.spines; s++)
    g[static_cast<Vertex>(topo.first_spine_ + s)] = {NodeKind::SPINE, "spine" + std::to_string(s), -1, -1, -1};

  const TopoLink nvlink{params.nvlink_bandwidth / 2, params.nvlink_latency_s, LinkTier::NVLINK};
  const TopoLink nic{params.nic_bandwidth, params.link_latency_s, LinkTier::NIC};
  const double rack_downlink = double(spr) * gps * params.nic_bandwidth;
  const TopoLink uplink{rack_downlink / params.oversubscription / params.spines, params.link_latency_s,
                        LinkTier::UPLINK};
  for (int gpu = 0; gpu < gpus; gpu++) {
    const int server = gpu / gps;
    boost::add_edge(static_cast<Vertex>(gpu), static_cast<Vertex>(topo.first_nvswitch_ + server), nvlink, g);
    boost::add_edge(static_cast<Vertex>(gpu), static_cast<Vertex>(topo.first_leaf_ + server / spr), nic, g);
  }
  for (int r = 0; r < racks; r++)
    for (int s = 0; s < params.spines; s++)
      boost::add_edge(static_cast<Vertex>(topo.first_leaf_ + r), static_cast<Vertex>(topo.first_spine_ + s), uplink,
                      g);
  return topo;
}

}  // namespace aif::models
