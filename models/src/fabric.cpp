// Fabric construction: parameter checks, vertex and link layout, and the small accessors.
// Routing is in fabric_route.cpp, the analytic properties in fabric_analysis.cpp.
#include "aif/models/fabric.hpp"

#include <algorithm>
#include <boost/range/iterator_range.hpp>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace aif::models {

const char* to_string(FabricKind kind) {
  switch (kind) {
    case FabricKind::FAT_TREE:
      return "fat-tree";
    case FabricKind::RAIL_OPTIMIZED:
      return "rail-optimized";
    case FabricKind::DRAGONFLY:
      return "dragonfly";
  }
  return "?";
}

const char* to_string(NodeRole role) {
  switch (role) {
    case NodeRole::GPU:
      return "GPU";
    case NodeRole::NVSWITCH:
      return "NVSWITCH";
    case NodeRole::LEAF:
      return "LEAF";
    case NodeRole::SPINE:
      return "SPINE";
    case NodeRole::CORE:
      return "CORE";
    case NodeRole::ROUTER:
      return "ROUTER";
    case NodeRole::STORAGE_LEAF:
      return "STORAGE_LEAF";
    case NodeRole::STORAGE:
      return "STORAGE";
  }
  return "?";
}

const char* to_string(LinkTier tier) {
  switch (tier) {
    case LinkTier::NVLINK:
      return "NVLINK";
    case LinkTier::NIC:
      return "NIC";
    case LinkTier::UPLINK:
      return "UPLINK";
    case LinkTier::CORE:
      return "CORE";
    case LinkTier::LOCAL:
      return "LOCAL";
    case LinkTier::GLOBAL:
      return "GLOBAL";
    case LinkTier::STORAGE:
      return "STORAGE";
  }
  return "?";
}

namespace {

// Vertex and link ids are ints; this keeps every count (and SimGrid's own tables) far from overflowing.
constexpr int64_t MAX_ELEMENTS = 100'000'000;

[[noreturn]] void bad(const char* field, const std::string& what) {
  throw std::invalid_argument(std::string(field) + ": " + what);
}

std::string num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

std::string plural(int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

void at_least(int64_t value, int64_t lo, const char* field) {
  if (value < lo) bad(field, "expected >= " + std::to_string(lo) + ", got " + std::to_string(value));
}

void positive(double value, const char* field) {
  if (!(value > 0) || !std::isfinite(value)) bad(field, "expected a finite value > 0, got " + num(value));
}

void non_negative(double value, const char* field) {
  if (!(value >= 0) || !std::isfinite(value)) bad(field, "expected a finite value >= 0, got " + num(value));
}

void ratio(double value, const char* field) {
  if (!(value >= 1) || !std::isfinite(value))
    bad(field, "expected a finite ratio >= 1 (downlink capacity / uplink capacity), got " + num(value));
}

void unused_zero(int64_t value, const char* field, const char* why) {
  if (value != 0) bad(field, why);
}

// Sizes every part of the fabric from the parameters; the only place that validates them.
struct FabricShape {
  int64_t gpus = 0, domain_gpus = 1, domains = 0, nvswitches = 0;
  int64_t edge_switches = 0;  // leaves, rail switches or routers
  int64_t leaves = 0;         // FAT_TREE leaves / RAIL scalable units / DRAGONFLY routers (servers / servers_per_leaf)
  int64_t pods = 0, spines = 0, cores = 0;  // spines: in total
  int64_t groups = 0, rounds = 0;           // dragonfly
  int64_t sleaves = 0, top = 0;             // storage leaves, switches each hangs off
  int64_t vertices = 0, links = 0;
};

FabricShape fabric_shape(const FabricParams& p) {
  FabricShape s;
  at_least(p.servers, 1, "servers");
  at_least(p.gpus_per_server, 1, "gpus_per_server");
  s.gpus = int64_t{p.servers} * p.gpus_per_server;
  if (s.gpus > MAX_ELEMENTS)
    bad("servers", std::to_string(p.servers) + " servers x " + std::to_string(p.gpus_per_server) + " GPUs = " +
                       std::to_string(s.gpus) + " GPUs; at most " + std::to_string(MAX_ELEMENTS) + " are supported");

  at_least(p.nvlink_domain_gpus, 0, "nvlink_domain_gpus");
  if (p.nvlink_domain_gpus > 0) {
    if (p.nvlink_domain_gpus % p.gpus_per_server != 0)
      bad("nvlink_domain_gpus", std::to_string(p.nvlink_domain_gpus) + " is not a multiple of gpus_per_server " +
                                    std::to_string(p.gpus_per_server) + " (a domain is made of whole servers)");
    if (s.gpus % p.nvlink_domain_gpus != 0)
      bad("nvlink_domain_gpus", std::to_string(p.nvlink_domain_gpus) + " does not divide the " +
                                    std::to_string(s.gpus) + " GPUs into whole domains");
  }
  s.domain_gpus = p.nvlink_domain_gpus > 0 ? p.nvlink_domain_gpus : p.gpus_per_server;
  s.domains = s.gpus / s.domain_gpus;
  s.nvswitches = s.domain_gpus > 1 ? s.domains : 0;

  positive(p.nvlink_bandwidth, "nvlink_bandwidth");
  non_negative(p.nvlink_latency_s, "nvlink_latency_s");
  positive(p.nic_bandwidth, "nic_bandwidth");
  non_negative(p.link_latency_s, "link_latency_s");

  at_least(p.servers_per_leaf, 1, "servers_per_leaf");
  if (p.servers % p.servers_per_leaf != 0)
    bad("servers_per_leaf", std::to_string(p.servers_per_leaf) + " does not divide the " +
                                plural(p.servers, "server", "servers") + " into whole " +
                                (p.kind == FabricKind::FAT_TREE         ? "leaves"
                                 : p.kind == FabricKind::RAIL_OPTIMIZED ? "scalable units"
                                                                        : "routers"));
  s.leaves = p.servers / p.servers_per_leaf;

  const char* kind = to_string(p.kind);
  if (p.kind != FabricKind::FAT_TREE && p.tiers != 2)
    bad("tiers", std::string("only a fat-tree has tiers (") + kind + " has " +
                     (p.kind == FabricKind::RAIL_OPTIMIZED ? "rail switches and spines)" : "groups of routers)"));
  if (p.kind != FabricKind::DRAGONFLY) {
    if (p.local_bandwidth != 0) bad("local_bandwidth", "only a dragonfly has local links");
    if (p.global_bandwidth != 0) bad("global_bandwidth", "only a dragonfly has global links");
  }

  switch (p.kind) {
    case FabricKind::FAT_TREE: {
      if (p.tiers != 2 && p.tiers != 3)
        bad("tiers", "expected 2 (leaf-spine) or 3 (leaf-spine-core), got " + std::to_string(p.tiers));
      at_least(p.spines, 1, "spines");
      ratio(p.oversubscription, "oversubscription");
      s.edge_switches = s.leaves;
      if (p.tiers == 2) {
        unused_zero(p.leaves_per_pod, "leaves_per_pod", "only a 3-tier fat-tree has pods");
        unused_zero(p.cores, "cores", "only a 3-tier fat-tree has cores");
        if (p.core_oversubscription != 1) bad("core_oversubscription", "only a 3-tier fat-tree has cores");
        s.spines = p.spines;
        s.top = s.spines;
        s.links = s.leaves * s.spines;
      } else {
        at_least(p.leaves_per_pod, 1, "leaves_per_pod");
        if (s.leaves % p.leaves_per_pod != 0)
          bad("leaves_per_pod", std::to_string(p.leaves_per_pod) + " does not divide the " +
                                    plural(s.leaves, "leaf", "leaves") + " (" + std::to_string(p.servers) +
                                    " servers / " + std::to_string(p.servers_per_leaf) + " per leaf) into whole pods");
        at_least(p.cores, 1, "cores");
        ratio(p.core_oversubscription, "core_oversubscription");
        s.pods = s.leaves / p.leaves_per_pod;
        s.spines = s.pods * p.spines;
        s.cores = p.cores;
        s.top = s.cores;
        s.links = s.leaves * p.spines + s.spines * s.cores;
      }
      break;
    }
    case FabricKind::RAIL_OPTIMIZED:
      at_least(p.spines, 1, "spines");
      ratio(p.oversubscription, "oversubscription");
      unused_zero(p.leaves_per_pod, "leaves_per_pod", "only a 3-tier fat-tree has pods");
      unused_zero(p.cores, "cores", "only a 3-tier fat-tree has cores");
      s.edge_switches = s.leaves * p.gpus_per_server;
      s.spines = p.spines;
      s.top = s.spines;
      s.links = s.edge_switches * s.spines;
      break;
    case FabricKind::DRAGONFLY: {
      unused_zero(p.leaves_per_pod, "leaves_per_pod", "only a 3-tier fat-tree has pods");
      unused_zero(p.cores, "cores", "only a 3-tier fat-tree has cores");
      if (p.oversubscription != 1)
        bad("oversubscription", "a dragonfly has no leaves: size its links with local_bandwidth and global_bandwidth");
      at_least(p.routers_per_group, 1, "routers_per_group");
      at_least(p.global_links_per_router, 0, "global_links_per_router");
      non_negative(p.local_bandwidth, "local_bandwidth");
      non_negative(p.global_bandwidth, "global_bandwidth");
      s.edge_switches = s.leaves;
      if (s.edge_switches % p.routers_per_group != 0)
        bad("routers_per_group", std::to_string(p.routers_per_group) + " does not divide the " +
                                     plural(s.edge_switches, "router", "routers") + " (" + std::to_string(p.servers) +
                                     " servers / " + std::to_string(p.servers_per_leaf) +
                                     " per router) into whole groups");
      s.groups = s.edge_switches / p.routers_per_group;
      const int64_t ports = int64_t{p.routers_per_group} * p.global_links_per_router;
      if (s.groups > 1 && ports < s.groups - 1)
        bad("global_links_per_router",
            plural(p.routers_per_group, "router", "routers") + " x " +
                plural(p.global_links_per_router, "global link", "global links") + " cannot join " +
                std::to_string(s.groups) + " groups (every pair of groups needs a link: routers_per_group x " +
                "global_links_per_router >= groups - 1 = " + std::to_string(s.groups - 1) + ")");
      // Every global port is used: `rounds` links join each pair of groups (leftover ports stay dark).
      s.rounds = s.groups > 1 ? ports / (s.groups - 1) : 0;
      s.top = s.groups;
      const int64_t local = s.groups * (int64_t{p.routers_per_group} * (p.routers_per_group - 1) / 2);
      s.links = local + s.rounds * (s.groups * (s.groups - 1) / 2);
      break;
    }
  }

  at_least(p.storage_nodes, 0, "storage_nodes");
  at_least(p.storage_nodes_per_leaf, 1, "storage_nodes_per_leaf");
  positive(p.storage_bandwidth, "storage_bandwidth");
  s.sleaves = (int64_t{p.storage_nodes} + p.storage_nodes_per_leaf - 1) / p.storage_nodes_per_leaf;

  s.vertices = s.gpus + s.nvswitches + s.edge_switches + s.spines + s.cores + s.sleaves + p.storage_nodes;
  s.links += s.gpus + (s.nvswitches > 0 ? s.gpus : 0) + s.sleaves * s.top + p.storage_nodes;
  if (s.vertices > MAX_ELEMENTS || s.links > MAX_ELEMENTS) {
    const char* field = p.kind == FabricKind::DRAGONFLY                  ? "global_links_per_router"
                        : p.kind == FabricKind::FAT_TREE && p.tiers == 3 ? "cores"
                                                                         : "spines";
    bad(field, "the fabric would have " + std::to_string(s.vertices) + " nodes and " + std::to_string(s.links) +
                   " links; at most " + std::to_string(MAX_ELEMENTS) + " of each are supported");
  }
  return s;
}

}  // namespace

void check_fabric_params(const FabricParams& params) { fabric_shape(params); }

// Fills a Fabric in the documented vertex and link order, so that every structural lookup is arithmetic.
class FabricBuilder {
 public:
  FabricBuilder(const FabricParams& p, const FabricShape& s, Fabric& f) : p_(p), s_(s), f_(f) {}

  void build() {
    f_.params_ = p_;
    f_.graph_ = FabricGraph(static_cast<size_t>(s_.vertices));
    f_.links_.reserve(static_cast<size_t>(s_.links));
    layout();
    name_vertices();
    add_links();
    f_.link_up_.assign(f_.links_.size(), 1);
    f_.switch_up_.assign(static_cast<size_t>(s_.vertices), 1);
  }

 private:
  int role_first(NodeRole r) const { return f_.role_first_[static_cast<int>(r)]; }

  void set_role(NodeRole role, int first, int64_t count) {
    f_.role_first_[static_cast<int>(role)] = first;
    f_.role_count_[static_cast<int>(role)] = static_cast<int>(count);
  }

  void layout() {
    const bool df = p_.kind == FabricKind::DRAGONFLY;
    int next = 0;
    f_.num_gpus_ = static_cast<int>(s_.gpus);
    f_.domain_gpus_ = static_cast<int>(s_.domain_gpus);
    set_role(NodeRole::GPU, next, s_.gpus);
    next += static_cast<int>(s_.gpus);
    set_role(NodeRole::NVSWITCH, next, s_.nvswitches);
    next += static_cast<int>(s_.nvswitches);
    f_.first_switch_ = next;
    f_.num_edge_switches_ = static_cast<int>(s_.edge_switches);
    set_role(NodeRole::LEAF, next, df ? 0 : s_.edge_switches);
    set_role(NodeRole::ROUTER, next, df ? s_.edge_switches : 0);
    next += static_cast<int>(s_.edge_switches);
    f_.first_spine_ = next;
    set_role(NodeRole::SPINE, next, s_.spines);
    next += static_cast<int>(s_.spines);
    f_.first_core_ = next;
    set_role(NodeRole::CORE, next, s_.cores);
    next += static_cast<int>(s_.cores);
    f_.first_sleaf_ = next;
    f_.num_sleaves_ = static_cast<int>(s_.sleaves);
    set_role(NodeRole::STORAGE_LEAF, next, s_.sleaves);
    next += static_cast<int>(s_.sleaves);
    f_.first_storage_ = next;
    f_.num_storage_ = p_.storage_nodes;
    set_role(NodeRole::STORAGE, next, p_.storage_nodes);

    f_.top_count_ = static_cast<int>(s_.top);
    f_.cores_ = static_cast<int>(s_.cores);
    if (p_.kind == FabricKind::FAT_TREE && p_.tiers == 3) {
      f_.leaves_per_pod_ = p_.leaves_per_pod;
      f_.spines_per_pod_ = p_.spines;
      f_.uplinks_per_switch_ = p_.spines;
    } else if (!df) {
      f_.uplinks_per_switch_ = static_cast<int>(s_.spines);
    }
    f_.routers_per_group_ = df ? p_.routers_per_group : 0;
    f_.groups_ = static_cast<int>(s_.groups);
    f_.rounds_ = static_cast<int>(s_.rounds);
  }

  void set_node(int v, NodeRole role, std::string name, int index, int server = -1) {
    FabricNode& n = f_.graph_[static_cast<Fabric::Vertex>(v)];
    n.role = role;
    n.name = std::move(name);
    n.index = index;
    n.server = server;
  }

  void name_vertices() {
    const int gps = p_.gpus_per_server;
    for (int g = 0; g < f_.num_gpus_; ++g)
      set_node(g, NodeRole::GPU, "s" + std::to_string(g / gps) + "g" + std::to_string(g % gps), g, g / gps);
    for (int d = 0; d < s_.nvswitches; ++d)
      set_node(role_first(NodeRole::NVSWITCH) + d, NodeRole::NVSWITCH, "nvs" + std::to_string(d), d);
    for (int i = 0; i < s_.edge_switches; ++i) {
      const int v = f_.first_switch_ + i;
      switch (p_.kind) {
        case FabricKind::FAT_TREE:
          set_node(v, NodeRole::LEAF, "leaf" + std::to_string(i), i);
          break;
        case FabricKind::RAIL_OPTIMIZED:
          set_node(v, NodeRole::LEAF, "su" + std::to_string(i / gps) + "rail" + std::to_string(i % gps), i);
          break;
        case FabricKind::DRAGONFLY: {
          const int a = p_.routers_per_group;
          set_node(v, NodeRole::ROUTER, "g" + std::to_string(i / a) + "r" + std::to_string(i % a), i);
          break;
        }
      }
    }
    for (int t = 0; t < s_.spines; ++t) {
      std::string name = f_.spines_per_pod_ > 0 ? "pod" + std::to_string(t / f_.spines_per_pod_) + "spine" +
                                                      std::to_string(t % f_.spines_per_pod_)
                                                : "spine" + std::to_string(t);
      set_node(f_.first_spine_ + t, NodeRole::SPINE, std::move(name), t);
    }
    for (int c = 0; c < s_.cores; ++c) set_node(f_.first_core_ + c, NodeRole::CORE, "core" + std::to_string(c), c);
    for (int l = 0; l < s_.sleaves; ++l)
      set_node(f_.first_sleaf_ + l, NodeRole::STORAGE_LEAF, "sleaf" + std::to_string(l), l);
    for (int n = 0; n < p_.storage_nodes; ++n)
      set_node(f_.first_storage_ + n, NodeRole::STORAGE, "storage" + std::to_string(n), n);
  }

  int add_link(LinkTier tier, int low, int high, double bandwidth, double latency) {
    FabricLink link;
    link.id = static_cast<int>(f_.links_.size());
    link.tier = tier;
    link.bandwidth = bandwidth;
    link.latency_s = latency;
    link.low = low;
    link.high = high;
    boost::add_edge(static_cast<Fabric::Vertex>(low), static_cast<Fabric::Vertex>(high), link, f_.graph_);
    f_.links_.push_back(link);
    ++f_.tier_count_[static_cast<int>(tier)];
    return link.id;
  }

  int edge_switch_of_gpu(int g) const {
    const int gps = p_.gpus_per_server;
    const int server = g / gps;
    if (p_.kind == FabricKind::RAIL_OPTIMIZED) return f_.first_switch_ + (server / p_.servers_per_leaf) * gps + g % gps;
    return f_.first_switch_ + server / p_.servers_per_leaf;
  }

  void add_links() {
    const double lat = p_.link_latency_s;
    const int gps = p_.gpus_per_server;
    if (s_.nvswitches > 0) {
      f_.nvlink_base_ = static_cast<int>(f_.links_.size());
      const int first_nvs = role_first(NodeRole::NVSWITCH);
      // nvlink_bandwidth adds both directions (NVIDIA's convention): half of it each way.
      for (int g = 0; g < f_.num_gpus_; ++g)
        add_link(LinkTier::NVLINK, g, first_nvs + g / f_.domain_gpus_, p_.nvlink_bandwidth / 2, p_.nvlink_latency_s);
    }
    f_.nic_base_ = static_cast<int>(f_.links_.size());
    for (int g = 0; g < f_.num_gpus_; ++g) add_link(LinkTier::NIC, g, edge_switch_of_gpu(g), p_.nic_bandwidth, lat);

    switch (p_.kind) {
      case FabricKind::FAT_TREE: {
        // A leaf's uplink capacity is its downlink capacity / oversubscription, split evenly over its spines.
        const double leaf_down = double(p_.servers_per_leaf) * gps * p_.nic_bandwidth;
        const double up = leaf_down / p_.oversubscription / p_.spines;
        f_.uplink_base_ = static_cast<int>(f_.links_.size());
        for (int i = 0; i < s_.edge_switches; ++i) {
          const int pod_first = p_.tiers == 3 ? f_.first_spine_ + (i / p_.leaves_per_pod) * p_.spines : f_.first_spine_;
          for (int t = 0; t < p_.spines; ++t) add_link(LinkTier::UPLINK, f_.first_switch_ + i, pod_first + t, up, lat);
        }
        if (p_.tiers == 3) {
          const double spine_down = double(p_.leaves_per_pod) * up;
          const double core = spine_down / p_.core_oversubscription / p_.cores;
          f_.core_base_ = static_cast<int>(f_.links_.size());
          for (int t = 0; t < s_.spines; ++t)
            for (int c = 0; c < p_.cores; ++c)
              add_link(LinkTier::CORE, f_.first_spine_ + t, f_.first_core_ + c, core, lat);
        }
        break;
      }
      case FabricKind::RAIL_OPTIMIZED: {
        // A rail switch serves one GPU of each server of its scalable unit.
        const double up = double(p_.servers_per_leaf) * p_.nic_bandwidth / p_.oversubscription / p_.spines;
        f_.uplink_base_ = static_cast<int>(f_.links_.size());
        for (int i = 0; i < s_.edge_switches; ++i)
          for (int t = 0; t < p_.spines; ++t)
            add_link(LinkTier::UPLINK, f_.first_switch_ + i, f_.first_spine_ + t, up, lat);
        break;
      }
      case FabricKind::DRAGONFLY:
        add_dragonfly_links();
        break;
    }
    add_storage_links();
  }

  void add_dragonfly_links() {
    const double lat = p_.link_latency_s;
    const int a = p_.routers_per_group;
    const int g = f_.groups_;
    const double local = p_.local_bandwidth > 0
                             ? p_.local_bandwidth
                             : double(p_.servers_per_leaf) * p_.gpus_per_server * p_.nic_bandwidth / 2;
    const double global = p_.global_bandwidth > 0 ? p_.global_bandwidth : p_.nic_bandwidth * p_.gpus_per_server;
    f_.local_base_ = static_cast<int>(f_.links_.size());
    for (int grp = 0; grp < g; ++grp)
      for (int i = 0; i < a; ++i)
        for (int j = i + 1; j < a; ++j)
          add_link(LinkTier::LOCAL, f_.first_switch_ + grp * a + i, f_.first_switch_ + grp * a + j, local, lat);

    // Group i's global ports are numbered round * (g - 1) + (offset - 1), offset = (j - i) mod g the distance to the
    // peer group j, and port p sits on router p mod a: each round joins every pair of groups once, and a group's
    // links to different groups leave from different routers (the "consecutive" arrangement of Kim et al., ISCA 2008).
    f_.global_base_ = static_cast<int>(f_.links_.size());
    std::vector<int> per_router(static_cast<size_t>(f_.num_edge_switches_), 0);
    for (int r = 0; r < f_.rounds_; ++r) {
      for (int i = 0; i < g; ++i) {
        for (int j = i + 1; j < g; ++j) {
          const int port_i = r * (g - 1) + (j - i) - 1;
          const int port_j = r * (g - 1) + (g - (j - i)) - 1;
          const int x = f_.first_switch_ + i * a + port_i % a;
          const int y = f_.first_switch_ + j * a + port_j % a;
          add_link(LinkTier::GLOBAL, x, y, global, lat);  // x < y: i < j
          ++per_router[x - f_.first_switch_];
          ++per_router[y - f_.first_switch_];
        }
      }
    }
    // Each router's global links, for the two-global-hop search of routing and the diameter.
    f_.global_begin_.assign(static_cast<size_t>(f_.num_edge_switches_) + 1, 0);
    for (int r = 0; r < f_.num_edge_switches_; ++r) f_.global_begin_[r + 1] = f_.global_begin_[r] + per_router[r];
    f_.global_of_router_.assign(static_cast<size_t>(f_.global_begin_.back()), {-1, -1});
    std::vector<int> fill(f_.global_begin_.begin(), f_.global_begin_.end() - 1);
    for (int id = f_.global_base_; id < static_cast<int>(f_.links_.size()); ++id) {
      const FabricLink& l = f_.links_[id];
      f_.global_of_router_[fill[l.low - f_.first_switch_]++] = {id, l.high};
      f_.global_of_router_[fill[l.high - f_.first_switch_]++] = {id, l.low};
    }
  }

  void add_storage_links() {
    if (p_.storage_nodes == 0) return;
    const double lat = p_.link_latency_s;
    f_.sleaf_up_base_ = static_cast<int>(f_.links_.size());
    for (int l = 0; l < f_.num_sleaves_; ++l) {
      const int nodes = std::min(p_.storage_nodes_per_leaf, p_.storage_nodes - l * p_.storage_nodes_per_leaf);
      // Non-blocking: the storage leaf's uplinks carry all its nodes' bandwidth.
      const double up = nodes * p_.storage_bandwidth / f_.top_count_;
      for (int t = 0; t < f_.top_count_; ++t) {
        int top = 0;
        if (p_.kind == FabricKind::DRAGONFLY)
          top = f_.first_switch_ + t * p_.routers_per_group + l % p_.routers_per_group;
        else if (p_.kind == FabricKind::FAT_TREE && p_.tiers == 3)
          top = f_.first_core_ + t;
        else
          top = f_.first_spine_ + t;
        add_link(LinkTier::UPLINK, f_.first_sleaf_ + l, top, up, lat);
      }
    }
    f_.storage_base_ = static_cast<int>(f_.links_.size());
    for (int n = 0; n < p_.storage_nodes; ++n)
      add_link(LinkTier::STORAGE, f_.first_storage_ + n, f_.first_sleaf_ + n / p_.storage_nodes_per_leaf,
               p_.storage_bandwidth, lat);
  }

  const FabricParams& p_;
  const FabricShape& s_;
  Fabric& f_;
};

Fabric build_fabric(const FabricParams& params) {
  const FabricShape shape = fabric_shape(params);
  Fabric fabric;
  FabricBuilder(params, shape, fabric).build();
  return fabric;
}

// ---- accessors ------------------------------------------------------------------------------------------------

const FabricLink& Fabric::link(int id) const {
  if (id < 0 || id >= num_links())
    throw std::out_of_range("link " + std::to_string(id) + " out of range [0, " + std::to_string(num_links()) + ")");
  return links_[static_cast<size_t>(id)];
}

int Fabric::num_links() const { return static_cast<int>(links_.size()); }
int Fabric::num_vertices() const { return static_cast<int>(boost::num_vertices(graph_)); }
int Fabric::count(NodeRole role) const { return role_count_[static_cast<int>(role)]; }
int Fabric::count(LinkTier tier) const { return tier_count_[static_cast<int>(tier)]; }
int Fabric::num_gpus() const { return num_gpus_; }
int Fabric::num_servers() const { return num_gpus_ > 0 ? num_gpus_ / params_.gpus_per_server : 0; }
int Fabric::num_storage() const { return num_storage_; }
int Fabric::num_nvlink_domains() const { return num_gpus_ / domain_gpus_; }

Fabric::Vertex Fabric::vertex(NodeRole role, int index) const {
  const int n = count(role);
  if (index < 0 || index >= n)
    throw std::out_of_range(std::string(to_string(role)) + " " + std::to_string(index) + " out of range [0, " +
                            std::to_string(n) + ")");
  return static_cast<Vertex>(role_first_[static_cast<int>(role)] + index);
}

Fabric::Vertex Fabric::gpu_vertex(int gpu) const { return vertex(NodeRole::GPU, gpu); }
Fabric::Vertex Fabric::storage_vertex(int node) const { return vertex(NodeRole::STORAGE, node); }

int Fabric::endpoint_id(Vertex v) const {
  const int i = static_cast<int>(v);
  if (i < num_gpus_) return i;
  if (i >= first_storage_ && i < num_vertices()) return i - first_storage_;
  return -1;
}

namespace {
void check_gpu(int gpu, int n) {
  if (gpu < 0 || gpu >= n)
    throw std::out_of_range("GPU " + std::to_string(gpu) + " out of range [0, " + std::to_string(n) + ")");
}
}  // namespace

int Fabric::server_of_gpu(int gpu) const {
  check_gpu(gpu, num_gpus_);
  return gpu / params_.gpus_per_server;
}

int Fabric::nvlink_domain_of_gpu(int gpu) const {
  check_gpu(gpu, num_gpus_);
  return gpu / domain_gpus_;
}

int Fabric::leaf_of_gpu(int gpu) const {
  check_gpu(gpu, num_gpus_);
  return links_[static_cast<size_t>(nic_base_ + gpu)].high - first_switch_;
}

int Fabric::nic_link(int gpu) const {
  check_gpu(gpu, num_gpus_);
  return nic_base_ + gpu;
}

int Fabric::nvlink_link(int gpu) const {
  check_gpu(gpu, num_gpus_);
  return nvlink_base_ < 0 ? -1 : nvlink_base_ + gpu;
}

int Fabric::link_between(Vertex a, Vertex b) const {
  const auto n = boost::num_vertices(graph_);
  if (a >= n || b >= n) throw std::out_of_range("link_between: vertex out of range");
  const Vertex from = boost::out_degree(a, graph_) <= boost::out_degree(b, graph_) ? a : b;
  const Vertex to = from == a ? b : a;
  for (const auto& e : boost::make_iterator_range(boost::out_edges(from, graph_)))
    if (boost::target(e, graph_) == to) return graph_[e].id;
  return -1;
}

}  // namespace aif::models
