// Network topology of a GPU cluster as a Boost.Graph: who is wired to whom, with what bandwidth and latency.
// Pure C++ (no SimGrid): sim/platform turns a Topology into a SimGrid platform, analysis and the GUI can read it.
//
// Units: bandwidth in bytes/s per direction, latency in seconds.
#pragma once
#include <string>
#include <vector>

#include <boost/graph/adjacency_list.hpp>

namespace aif::models {

// A two-tier leaf-spine (folded Clos) fabric of GPU servers.
struct LeafSpineParams {
  int racks = 2;
  int servers_per_rack = 4;
  int gpus_per_server = 8;
  double nvlink_bandwidth = 900e9;   // bytes/s per GPU, both directions added (NVIDIA's convention)
  double nic_bandwidth = 50e9;       // bytes/s per GPU NIC, one direction (400 Gb/s)
  int spines = 2;
  double oversubscription = 1.0;     // >= 1: a leaf's downlink capacity / its uplink capacity
  double link_latency_s = 1e-6;      // per NIC or uplink hop
  double nvlink_latency_s = 0.5e-6;  // per NVLink hop (GPU <-> NVSwitch)
};

enum class NodeKind { GPU, NVSWITCH, LEAF, SPINE };
enum class LinkTier { NVLINK, NIC, UPLINK };

const char* to_string(NodeKind kind);
const char* to_string(LinkTier tier);

struct TopoNode {
  NodeKind kind = NodeKind::GPU;
  std::string name;  // unique, e.g. "r0s1g3", "r0s1-nvswitch", "leaf0", "spine1"; also the SimGrid host name
  int rack = -1;     // GPU, NVSWITCH, LEAF; -1 for SPINE
  int server = -1;   // global server index (rack-major); GPU and NVSWITCH only
  int gpu = -1;      // GPU index inside its server; GPU only
};

struct TopoLink {
  double bandwidth = 0;  // bytes/s in each direction
  double latency_s = 0;
  LinkTier tier = LinkTier::NIC;
};

// vecS vertex storage: a vertex descriptor is a stable index 0..V-1 (the graph is never modified after build).
using TopologyGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS, TopoNode, TopoLink>;

// Built by build_leaf_spine(); a default-constructed Topology is empty (every count is 0).
class Topology {
 public:
  using Vertex = boost::graph_traits<TopologyGraph>::vertex_descriptor;
  // Edge descriptors point into this object's graph: they are invalid in a copy of the Topology.
  using Edge = boost::graph_traits<TopologyGraph>::edge_descriptor;

  const TopologyGraph& graph() const { return graph_; }
  const LeafSpineParams& params() const { return params_; }
  const TopoNode& node(Vertex v) const { return graph_[v]; }
  const TopoLink& link(Edge e) const { return graph_[e]; }

  int count(NodeKind kind) const;
  int count(LinkTier tier) const;
  int num_gpus() const { return count(NodeKind::GPU); }
  int num_servers() const { return count(NodeKind::NVSWITCH); }
  int num_racks() const { return count(NodeKind::LEAF); }
  int num_vertices() const { return static_cast<int>(boost::num_vertices(graph_)); }
  int num_edges() const { return static_cast<int>(boost::num_edges(graph_)); }

  // Global GPU id = (rack * servers_per_rack + server) * gpus_per_server + gpu ("rack-major"); it is also the
  // GPU's vertex index. `server` here is the index inside the rack. Throw std::out_of_range on bad indices.
  Vertex gpu_vertex(int rack, int server, int gpu) const;
  Vertex gpu_vertex(int global_gpu) const;
  Vertex nvswitch_vertex(int global_server) const;
  Vertex leaf_vertex(int rack) const;
  Vertex spine_vertex(int spine) const;
  int gpu_id(Vertex gpu) const;     // global GPU id; throws std::invalid_argument if not a GPU
  int server_of(Vertex gpu) const;  // global server index (rack-major)
  int rack_of(Vertex gpu) const;

  // The wires of one GPU, one leaf-spine pair.
  Edge nvlink_edge(int global_gpu) const;
  Edge nic_edge(int global_gpu) const;
  Edge uplink_edge(int rack, int spine) const;

  // Spine carrying traffic between two different racks. Deterministic and symmetric in (a, b): a fixed hash of the
  // unordered rack pair, so a flow and its reverse use the same spine (per-flow ECMP hashing is a later issue).
  int spine_for_racks(int rack_a, int rack_b) const;

  // The path the fabric routes a GPU-to-GPU flow on (and sim/platform builds): same server: NVLink up, NVLink down;
  // same rack: NIC, NIC (through the leaf); other rack: NIC, uplink to spine_for_racks, uplink down, NIC.
  // Empty when a == b.
  std::vector<Edge> route(int gpu_a, int gpu_b) const;

  // Bisection bandwidth, bytes/s: the minimum total one-direction capacity of the edges crossing a cut that splits
  // the GPUs into two equal halves along rack boundaries (every rack's GPUs, NVSwitches and leaf on one side; each
  // spine on whichever side crosses less). Computed from the graph's edges: over every balanced split of the racks
  // when there are at most 20 racks; above that only over the split {first half, second half}, which is exact for
  // build_leaf_spine because its racks are interchangeable. Throws std::domain_error for an odd number of racks.
  double bisection_bandwidth() const;

  // A minimum-hop path between two vertices (Dijkstra); among minimum-hop paths, the one with the least sum of
  // 1/bandwidth, so two GPUs of one server go through NVLink rather than the leaf. Edges in order from a to b;
  // empty when a == b; throws std::invalid_argument when b cannot be reached.
  std::vector<Edge> shortest_path(Vertex a, Vertex b) const;

  // The largest number of edges on a minimum-hop path between two GPUs (BFS from one GPU per server: GPUs of a
  // server have the same neighbours, hence the same distances to every other vertex).
  int diameter_hops() const;

 private:
  friend Topology build_leaf_spine(const LeafSpineParams& params);
  Vertex checked_vertex(int index, int count, int first, const char* what) const;

  LeafSpineParams params_{0, 0, 0, 0, 0, 0, 0, 0, 0};  // all zero until built: every index is out of range
  TopologyGraph graph_;
  // Vertex layout: [0, G) GPUs, then S NVSwitches, then R leaves, then the spines.
  int first_nvswitch_ = 0;
  int first_leaf_ = 0;
  int first_spine_ = 0;
};

// Build the leaf-spine graph. Every GPU has one NVLink edge to its server's NVSwitch (bandwidth nvlink_bandwidth/2 per
// direction) and one NIC edge to its rack's leaf (nic_bandwidth); each leaf has one UPLINK edge to each spine with
// bandwidth (servers_per_rack * gpus_per_server * nic_bandwidth / oversubscription) / spines.
// Throws std::invalid_argument naming the field when a parameter is out of range.
Topology build_leaf_spine(const LeafSpineParams& params);

}  // namespace aif::models
