// The network fabric of an AI factory as a Boost.Graph: GPUs, NVLink domains, switches of every tier, storage nodes,
// and the wires between them, with the routing the switches would do (shortest paths, ECMP over equal-cost uplinks).
// Pure C++ (no SimGrid): sim/platform turns a Fabric into a SimGrid platform whose routes are asked of Fabric::route,
// `aifsim topo` reports its analytic properties, the GUI can draw it.
//
// Units: bandwidth in bytes/s per direction, latency in seconds.
#pragma once
#include <boost/graph/adjacency_list.hpp>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace aif::models {

enum class FabricKind {
  FAT_TREE,        // folded Clos: 2 tiers (leaf-spine) or 3 tiers (leaf-spine-core, spines grouped in pods)
  RAIL_OPTIMIZED,  // GPU k of every server of a scalable unit on rail switch k of that unit; rail switches to spines
  DRAGONFLY,       // groups of routers, all-to-all local links inside a group, global links between groups
};

struct FabricParams {
  FabricKind kind = FabricKind::FAT_TREE;

  // Servers and their GPUs. GPU ids are global: server * gpus_per_server + local index.
  int servers = 8;
  int gpus_per_server = 8;

  // NVLink domain: GPUs that reach each other over NVLink through one NVSwitch vertex. 0 = one server (HGX);
  // 72 with 4-GPU servers = an NVL72 rack (18 servers). Must be a multiple of gpus_per_server dividing the GPU count.
  // A domain of one GPU has no NVSwitch and no NVLink edge.
  int nvlink_domain_gpus = 0;
  double nvlink_bandwidth = 900e9;   // bytes/s per GPU, both directions added (NVIDIA's convention)
  double nvlink_latency_s = 0.5e-6;  // per NVLink hop (GPU <-> NVSwitch)

  double nic_bandwidth = 50e9;   // bytes/s per GPU NIC, one direction (400 Gb/s)
  double link_latency_s = 1e-6;  // per network hop (NIC, uplink, core, local, global, storage)

  // FAT_TREE: a leaf (ToR) serves servers_per_leaf servers; RAIL_OPTIMIZED: a scalable unit is servers_per_leaf
  // servers, with gpus_per_server rail switches; DRAGONFLY: servers per router. Must divide servers.
  int servers_per_leaf = 4;
  int tiers = 2;                       // FAT_TREE only: 2 or 3
  int spines = 2;                      // 2 tiers / rail: spines in total; 3 tiers: spines per pod
  int leaves_per_pod = 0;              // 3 tiers: leaves in a pod (their spines form the pod); must divide the leaves
  int cores = 0;                       // 3 tiers: core switches (each spine has one uplink to every core)
  double oversubscription = 1.0;       // >= 1: a leaf's (rail switch's) downlink capacity / its uplink capacity
  double core_oversubscription = 1.0;  // 3 tiers: a spine's downlink capacity / its uplink capacity

  // DRAGONFLY: routers per group, all-to-all local links inside a group (each of local_bandwidth), and
  // global_links_per_router global ports per router (each link of global_bandwidth). groups = routers /
  // routers_per_group (must divide). Every pair of groups must be joined by at least one global link:
  // routers_per_group * global_links_per_router >= groups - 1.
  int routers_per_group = 4;
  int global_links_per_router = 2;
  double local_bandwidth = 0;   // 0 = servers_per_leaf * gpus_per_server * nic_bandwidth / 2
  double global_bandwidth = 0;  // 0 = nic_bandwidth * gpus_per_server

  // Storage: nodes on storage leaves that hang off the top tier (every spine, every core, or one router per group).
  // The last storage leaf may hold fewer nodes. Storage leaves carry no transit traffic between GPUs.
  int storage_nodes = 0;
  int storage_nodes_per_leaf = 8;
  double storage_bandwidth = 50e9;  // bytes/s per storage node NIC
};

enum class NodeRole { GPU, NVSWITCH, LEAF, SPINE, CORE, ROUTER, STORAGE_LEAF, STORAGE };
enum class LinkTier {
  NVLINK,   // GPU <-> NVSwitch
  NIC,      // GPU <-> leaf / rail switch / dragonfly router
  UPLINK,   // leaf <-> spine (and storage leaf <-> top tier)
  CORE,     // spine <-> core (3 tiers)
  LOCAL,    // dragonfly router <-> router of the same group
  GLOBAL,   // dragonfly router <-> router of another group
  STORAGE,  // storage node <-> storage leaf
};
const char* to_string(LinkTier tier);
const char* to_string(FabricKind kind);
const char* to_string(NodeRole role);

struct FabricNode {
  NodeRole role = NodeRole::GPU;
  std::string name;  // unique; also the SimGrid host (GPU, STORAGE) name
  int index = -1;    // index among nodes of its role (GPU: global GPU id; STORAGE: storage node id)
  int server = -1;   // GPU only
};

// An edge joins a "low" end (lower tier: GPU, leaf, ...) and a "high" end (NVSwitch, spine, ...); for links between
// peers (dragonfly LOCAL, GLOBAL) low is the smaller vertex index. Going low -> high is UP, high -> low DOWN, the
// two directions of a SimGrid split-duplex link.
struct FabricLink {
  int id = -1;  // 0..num_links()-1, stable: SimGrid links are stored by it
  LinkTier tier = LinkTier::NIC;
  double bandwidth = 0;  // bytes/s in each direction
  double latency_s = 0;
  int low = -1, high = -1;  // vertex indices
};

using FabricGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS, FabricNode, FabricLink>;

struct Hop {
  int link = -1;   // FabricLink::id
  bool up = true;  // traversed low -> high
};

// Vertex layout (each role contiguous, in this order): GPUs (vertex index == GPU id), NVSwitches, leaves / rail
// switches / routers, spines, cores, storage leaves, storage nodes.
class Fabric {
 public:
  using Vertex = boost::graph_traits<FabricGraph>::vertex_descriptor;

  const FabricParams& params() const { return params_; }
  const FabricGraph& graph() const { return graph_; }
  const FabricNode& node(Vertex v) const { return graph_[v]; }
  const FabricLink& link(int id) const;  // throws std::out_of_range
  int num_links() const;
  int num_vertices() const;
  int count(NodeRole role) const;
  int count(LinkTier tier) const;
  int num_gpus() const;
  int num_servers() const;
  int num_storage() const;
  int num_nvlink_domains() const;
  Vertex gpu_vertex(int gpu) const;               // throws std::out_of_range
  Vertex storage_vertex(int node) const;          // throws std::out_of_range
  Vertex vertex(NodeRole role, int index) const;  // the index-th node of a role; throws std::out_of_range
  // GPU or storage id of a vertex; -1 for switches.
  int endpoint_id(Vertex v) const;
  int server_of_gpu(int gpu) const;
  int nvlink_domain_of_gpu(int gpu) const;
  int leaf_of_gpu(int gpu) const;  // index of the first switch its NIC reaches (leaf, rail switch or router)
  int nic_link(int gpu) const;     // link id of the GPU's NIC
  int nvlink_link(int gpu) const;  // link id of the GPU's NVLink; -1 in a one-GPU domain
  // Id of a link joining a and b, -1 if none (O(degree of the smaller end)).
  int link_between(Vertex a, Vertex b) const;

  // The route a flow from a to b takes: a minimum-hop path, NVLink inside a domain; among equal-cost next hops
  // (uplinks to spines, cores, global links) one chosen by a deterministic hash of (a, b, flow) so that different
  // flows spread. Skips failed links and switches; throws std::runtime_error naming both ends when no path is left.
  // Empty when a == b. O(hops), worked out from the layout (a dragonfly route also scans the global links joining
  // its two groups): SimGrid asks it on every communication start. The ends must be GPUs or storage nodes
  // (std::invalid_argument otherwise); between NVLink domains only the network carries traffic (GPUs do not
  // forward), and storage leaves carry no traffic between GPUs. When failures leave no minimal path, it is the
  // shortest surviving path (a breadth-first search, O(V+E), as a fabric manager would reroute); see docs/fabric.md.
  std::vector<Hop> route(Vertex a, Vertex b, uint64_t flow = 0) const;

  // Failures: a failed link or switch carries no route (GPU and storage vertices cannot fail here: the failures
  // issue turns their hosts off instead). Throws std::out_of_range on a bad id or std::invalid_argument for a host.
  void set_link_up(int link, bool up);
  void set_switch_up(Vertex v, bool up);
  bool link_up(int link) const;
  bool switch_up(Vertex v) const;  // true for hosts

  // Analytic properties (`aifsim topo`).
  // Bisection bandwidth, bytes/s in one direction: the max-flow between the first and the second half of the GPUs
  // (by id) through the network only (NVLink between halves excluded, storage leaves not used), computed on the graph
  // with Boost.Graph (push-relabel max-flow). Failed links and switches carry nothing. 0 with fewer than 2 GPUs.
  double bisection_bandwidth() const;
  // Largest number of links on route() between two GPUs of different NVLink domains (between any two GPUs when
  // there is only one domain), with every link and switch up.
  int diameter_hops() const;
  // A switch tier's downlink capacity over its uplink capacity, from the graph (leaf / rail switch: NIC over UPLINK;
  // spine in 3 tiers: UPLINK from leaves over CORE; router: NIC over GLOBAL); 1 where the tier does not exist or
  // has no uplinks (2-tier spines, cores).
  double oversubscription(NodeRole tier) const;
  // Graphviz DOT of the whole graph (nodes coloured by role, edges labelled with their bandwidth).
  void write_dot(std::ostream& out) const;

 private:
  friend Fabric build_fabric(const FabricParams& params);
  friend class FabricBuilder;
  bool is_endpoint(Vertex v) const { return static_cast<int>(v) < num_gpus_ || static_cast<int>(v) >= first_storage_; }
  Vertex edge_switch(Vertex endpoint) const;
  int edge_link(Vertex endpoint) const;
  bool alive(int link) const { return link_up_[link] != 0; }
  bool alive_vertex(int v) const { return switch_up_[v] != 0; }
  bool switch_route(int sa, int sb, uint64_t hash, std::vector<Hop>& hops) const;
  bool tree2_route(int sa, int sb, uint64_t hash, std::vector<Hop>& hops) const;
  bool tree3_route(int sa, int sb, uint64_t hash, std::vector<Hop>& hops) const;
  bool dragonfly_route(int sa, int sb, uint64_t hash, std::vector<Hop>& hops) const;
  bool bfs_route(int sa, int sb, std::vector<Hop>& hops) const;
  void push_hop(std::vector<Hop>& hops, int link, int from) const;
  int up_link(int edge_sw, int t) const;             // tree kinds: edge switch -> its t-th upper switch
  int core_link(int spine, int core) const;          // 3 tiers
  int local_link(int ra, int rb) const;              // dragonfly, same group, ra != rb
  int global_link(int ga, int gb, int round) const;  // dragonfly, ga != gb
  int dragonfly_router_distance_max() const;

  FabricParams params_;
  FabricGraph graph_;
  // The links again, by id: a copy of the edge properties (about 40 bytes a link) so that a copied or moved Fabric
  // needs no re-indexing (edge descriptors point into the graph they came from).
  std::vector<FabricLink> links_;

  // Sizes and the first vertex of each role (NodeRole order); links by tier.
  int role_first_[8] = {};
  int role_count_[8] = {};
  int tier_count_[7] = {};
  int num_gpus_ = 0, num_storage_ = 0, first_storage_ = 0;
  int domain_gpus_ = 1;   // GPUs per NVLink domain
  int first_switch_ = 0;  // first leaf / rail switch / router vertex
  int num_edge_switches_ = 0;
  int first_spine_ = 0, first_core_ = 0, first_sleaf_ = 0, num_sleaves_ = 0;
  int uplinks_per_switch_ = 0;  // tree kinds: upper switches per leaf (spines, or spines of the pod)
  int top_count_ = 0;           // switches a storage leaf hangs off (spines, cores or groups)
  int leaves_per_pod_ = 0, spines_per_pod_ = 0, cores_ = 0;
  int routers_per_group_ = 0, groups_ = 0, rounds_ = 0;  // dragonfly; rounds_: global links per pair of groups
  // First link id of each block (-1 when absent).
  int nvlink_base_ = -1, nic_base_ = -1, uplink_base_ = -1, core_base_ = -1, local_base_ = -1, global_base_ = -1;
  int sleaf_up_base_ = -1, storage_base_ = -1;
  // Dragonfly: global links of each router (CSR: router r's entries in [global_begin_[r], global_begin_[r + 1])).
  std::vector<int> global_begin_;
  std::vector<std::pair<int, int>> global_of_router_;  // (link id, peer router vertex)

  std::vector<unsigned char> link_up_, switch_up_;  // by link id / by vertex
  int links_down_ = 0, switches_down_ = 0;
};

// The checks build_fabric starts with, on their own (cheap: nothing is built), for scenario loading.
// Throws std::invalid_argument whose message starts with the offending field name.
void check_fabric_params(const FabricParams& params);

// Build the fabric. Throws std::invalid_argument whose message starts with the offending field name
// ("servers_per_leaf: ..."), for impossible combinations too (e.g. "nvlink_domain_gpus: 72 is not a multiple of
// gpus_per_server 8", "global_links_per_router: 4 routers x 1 global link cannot join 9 groups").
Fabric build_fabric(const FabricParams& params);

}  // namespace aif::models
