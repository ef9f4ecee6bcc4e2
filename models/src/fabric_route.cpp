// Fabric routing: structural minimum-hop routes with ECMP by flow hash, failures, and the fallback search.
// Every healthy route is computed from the vertex and link layout (arithmetic on ids), never by searching the graph.
#include <boost/range/iterator_range.hpp>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "aif/models/fabric.hpp"
#include "aif/models/mix64.hpp"

namespace aif::models {

namespace {

uint64_t flow_hash(uint64_t a, uint64_t b, uint64_t flow) { return mix64(mix64(mix64(a) ^ b) ^ flow); }

// An independent hash per decision of one route (spine, core, spine of the far pod, ...).
uint64_t sub_hash(uint64_t h, int k) { return mix64(h ^ (0x632be59bd9b4e019ULL * (k + 1))); }

}  // namespace

void Fabric::push_hop(std::vector<Hop>& hops, int link, int from) const {
  hops.push_back({link, links_[static_cast<size_t>(link)].low == from});
}

Fabric::Vertex Fabric::edge_switch(Vertex endpoint) const {
  return static_cast<Vertex>(links_[static_cast<size_t>(edge_link(endpoint))].high);
}

int Fabric::edge_link(Vertex endpoint) const {
  const int v = static_cast<int>(endpoint);
  return v < num_gpus_ ? nic_base_ + v : storage_base_ + (v - first_storage_);
}

int Fabric::up_link(int edge_sw, int t) const {
  if (edge_sw >= first_sleaf_) return sleaf_up_base_ + (edge_sw - first_sleaf_) * top_count_ + t;
  return uplink_base_ + (edge_sw - first_switch_) * uplinks_per_switch_ + t;
}

int Fabric::core_link(int spine, int core) const { return core_base_ + (spine - first_spine_) * cores_ + core; }

int Fabric::local_link(int ra, int rb) const {
  const int a = routers_per_group_;
  int i = (ra - first_switch_) % a, j = (rb - first_switch_) % a;
  if (i > j) std::swap(i, j);
  const int group = (ra - first_switch_) / a;
  return local_base_ + group * (a * (a - 1) / 2) + i * a - i * (i + 1) / 2 + (j - i - 1);
}

int Fabric::global_link(int ga, int gb, int round) const {
  if (ga > gb) std::swap(ga, gb);
  const int64_t g = groups_;
  const int64_t pairs = g * (g - 1) / 2;
  const int64_t pair = int64_t{ga} * g - int64_t{ga} * (ga + 1) / 2 + (gb - ga - 1);
  return static_cast<int>(global_base_ + round * pairs + pair);
}

namespace {

// ECMP among n equal-cost choices: the hash picks one of those `viable` accepts. Without failures every choice is
// viable and the pick costs nothing; with failures the viable ones are counted first, so flows stay spread evenly.
template <typename Viable>
int pick(int n, uint64_t h, bool healthy, Viable viable) {
  if (healthy) return static_cast<int>(h % static_cast<uint64_t>(n));
  int alive = 0;
  for (int i = 0; i < n; ++i) alive += viable(i) ? 1 : 0;
  if (alive == 0) return -1;
  int k = static_cast<int>(h % static_cast<uint64_t>(alive));
  for (int i = 0; i < n; ++i)
    if (viable(i) && k-- == 0) return i;
  return -1;
}

}  // namespace

std::vector<Hop> Fabric::route(Vertex a, Vertex b, uint64_t flow) const {
  std::vector<Hop> hops;
  if (a == b) return hops;
  const int n = num_vertices();
  if (static_cast<int>(a) >= n || static_cast<int>(b) >= n) throw std::out_of_range("route: vertex out of range");
  if (!is_endpoint(a) || !is_endpoint(b))
    throw std::invalid_argument("route: " + graph_[is_endpoint(a) ? b : a].name +
                                " is a switch; routes join GPUs and storage nodes");
  hops.reserve(8);
  const int va = static_cast<int>(a), vb = static_cast<int>(b);

  // Inside an NVLink domain: GPU -> NVSwitch -> GPU.
  if (nvlink_base_ >= 0 && va < num_gpus_ && vb < num_gpus_ && va / domain_gpus_ == vb / domain_gpus_) {
    const int la = nvlink_base_ + va, lb = nvlink_base_ + vb;
    if (alive(la) && alive(lb) && alive_vertex(links_[static_cast<size_t>(la)].high)) {
      hops.push_back({la, true});
      hops.push_back({lb, false});
      return hops;
    }
  }

  const int ea = edge_link(a), eb = edge_link(b);
  const int sa = links_[static_cast<size_t>(ea)].high, sb = links_[static_cast<size_t>(eb)].high;
  bool ok = alive(ea) && alive(eb) && alive_vertex(sa) && alive_vertex(sb);
  if (ok) {
    hops.push_back({ea, true});
    if (sa != sb) {
      ok = switch_route(sa, sb, flow_hash(a, b, flow), hops);
      if (!ok) {
        hops.resize(1);
        ok = bfs_route(sa, sb, hops);
      }
    }
    hops.push_back({eb, false});
  }
  if (!ok)
    throw std::runtime_error("route: no path from " + graph_[a].name + " to " + graph_[b].name +
                             " (failed links or switches)");
  return hops;
}

bool Fabric::switch_route(int sa, int sb, uint64_t hash, std::vector<Hop>& hops) const {
  switch (params_.kind) {
    case FabricKind::FAT_TREE:
      return params_.tiers == 3 ? tree3_route(sa, sb, hash, hops) : tree2_route(sa, sb, hash, hops);
    case FabricKind::RAIL_OPTIMIZED:
      return tree2_route(sa, sb, hash, hops);
    case FabricKind::DRAGONFLY:
      return dragonfly_route(sa, sb, hash, hops);
  }
  return false;
}

// Leaves (rail switches) and storage leaves all hang off every spine: up to one spine, down.
bool Fabric::tree2_route(int sa, int sb, uint64_t hash, std::vector<Hop>& hops) const {
  const bool healthy = links_down_ == 0 && switches_down_ == 0;
  const int t = pick(top_count_, hash, healthy, [&](int s) {
    return alive(up_link(sa, s)) && alive_vertex(first_spine_ + s) && alive(up_link(sb, s));
  });
  if (t < 0) return false;
  push_hop(hops, up_link(sa, t), sa);
  push_hop(hops, up_link(sb, t), first_spine_ + t);
  return true;
}

// Leaves reach the spines of their pod, spines every core, storage leaves every core. Same pod: one spine; else up
// to a core (through a spine of the pod for a leaf) and down the same way on the far side.
bool Fabric::tree3_route(int sa, int sb, uint64_t hash, std::vector<Hop>& hops) const {
  const bool healthy = links_down_ == 0 && switches_down_ == 0;
  const int S = spines_per_pod_;
  const auto is_leaf = [&](int sw) { return sw < first_sleaf_; };
  const auto pod = [&](int sw) { return (sw - first_switch_) / leaves_per_pod_; };
  const auto spine = [&](int sw, int j) { return first_spine_ + pod(sw) * S + j; };

  if (is_leaf(sa) && is_leaf(sb) && pod(sa) == pod(sb)) {
    const int j = pick(S, hash, healthy, [&](int k) {
      return alive(up_link(sa, k)) && alive_vertex(spine(sa, k)) && alive(up_link(sb, k));
    });
    if (j < 0) return false;
    push_hop(hops, up_link(sa, j), sa);
    push_hop(hops, up_link(sb, j), spine(sa, j));
    return true;
  }
  // Can a leaf reach core c through spine j of its pod?
  const auto via_spine = [&](int leaf, int c, int j) {
    return alive(up_link(leaf, j)) && alive_vertex(spine(leaf, j)) && alive(core_link(spine(leaf, j), c));
  };
  const auto side_ok = [&](int sw, int c) {
    if (!is_leaf(sw)) return alive(up_link(sw, c));
    for (int j = 0; j < S; ++j)
      if (via_spine(sw, c, j)) return true;
    return false;
  };
  const int c = pick(cores_, sub_hash(hash, 0), healthy,
                     [&](int k) { return alive_vertex(first_core_ + k) && side_ok(sa, k) && side_ok(sb, k); });
  if (c < 0) return false;
  const int core = first_core_ + c;
  if (is_leaf(sa)) {
    const int j = pick(S, sub_hash(hash, 1), healthy, [&](int k) { return via_spine(sa, c, k); });
    push_hop(hops, up_link(sa, j), sa);
    push_hop(hops, core_link(spine(sa, j), c), spine(sa, j));
  } else {
    push_hop(hops, up_link(sa, c), sa);
  }
  if (is_leaf(sb)) {
    const int j = pick(S, sub_hash(hash, 2), healthy, [&](int k) { return via_spine(sb, c, k); });
    push_hop(hops, core_link(spine(sb, j), c), core);
    push_hop(hops, up_link(sb, j), spine(sb, j));
  } else {
    push_hop(hops, up_link(sb, c), core);
  }
  return true;
}

// Minimal dragonfly routing: local, global, local (each local hop only when needed), among the global links joining
// the two groups the cheapest ones, spread by the hash. When none of those is shorter than three router hops but a
// router of a third group joins the ends with two global links, that two-hop path is taken instead, so every route
// is a minimum-hop path. A storage leaf hangs off router (leaf mod routers_per_group) of every group.
bool Fabric::dragonfly_route(int sa, int sb, uint64_t hash, std::vector<Hop>& hops) const {
  const bool healthy = links_down_ == 0 && switches_down_ == 0;
  const int a = routers_per_group_;
  const auto group = [&](int r) { return (r - first_switch_) / a; };
  const auto is_router = [&](int v) { return v < first_sleaf_; };
  // Router of group grp a storage leaf hangs off, and the link (its t-th uplink, t = group).
  const auto attach = [&](int sleaf, int grp) { return first_switch_ + grp * a + (sleaf - first_sleaf_) % a; };
  const auto local_ok = [&](int x, int y) { return x == y || alive(local_link(x, y)); };
  const auto push_local = [&](int x, int y) {
    if (x != y) push_hop(hops, local_link(x, y), x);
  };

  if (!is_router(sa) && !is_router(sb)) {  // storage leaf to storage leaf: through any group
    const int grp = pick(groups_, hash, healthy, [&](int g) {
      const int x = attach(sa, g), y = attach(sb, g);
      return alive(up_link(sa, g)) && alive_vertex(x) && local_ok(x, y) && alive_vertex(y) && alive(up_link(sb, g));
    });
    if (grp < 0) return false;
    const int x = attach(sa, grp), y = attach(sb, grp);
    push_hop(hops, up_link(sa, grp), sa);
    push_local(x, y);
    push_hop(hops, up_link(sb, grp), y);
    return true;
  }
  if (!is_router(sa) || !is_router(sb)) {  // router <-> storage leaf, inside the router's group
    const int r = is_router(sa) ? sa : sb, sleaf = is_router(sa) ? sb : sa;
    const int grp = group(r), x = attach(sleaf, grp);
    if (!(alive_vertex(x) && local_ok(r, x) && alive(up_link(sleaf, grp)))) return false;
    if (is_router(sa)) {
      push_local(r, x);
      push_hop(hops, up_link(sleaf, grp), x);
    } else {
      push_hop(hops, up_link(sleaf, grp), sleaf);
      push_local(x, r);
    }
    return true;
  }

  const int ga = group(sa), gb = group(sb);
  if (ga == gb) {
    if (!alive(local_link(sa, sb))) return false;
    push_hop(hops, local_link(sa, sb), sa);
    return true;
  }
  // Global links joining the two groups: router hops = [x != sa] + 1 + [y != sb].
  const auto ends = [&](int id, int& x, int& y) {
    const FabricLink& l = links_[static_cast<size_t>(id)];
    x = group(l.low) == ga ? l.low : l.high;
    y = x == l.low ? l.high : l.low;
  };
  const auto direct_cost = [&](int round) {
    const int id = global_link(ga, gb, round);
    int x, y;
    ends(id, x, y);
    if (!healthy && !(alive(id) && alive_vertex(x) && alive_vertex(y) && local_ok(sa, x) && local_ok(y, sb)))
      return 0;  // not usable
    return (x != sa) + 1 + (y != sb);
  };
  int best = 4, ties = 0;
  for (int r = 0; r < rounds_; ++r) {
    const int cost = direct_cost(r);
    if (cost == 0) continue;
    if (cost < best) best = cost, ties = 0;
    if (cost == best) ++ties;
  }
  if (best == 3 || best == 4) {
    // Two global hops through a router x of a third group: sa -> x -> sb.
    int found = 0;
    const auto each_two_hop = [&](auto&& visit) {
      for (int i = global_begin_[sa - first_switch_]; i < global_begin_[sa - first_switch_ + 1]; ++i) {
        const auto [l1, x] = global_of_router_[i];
        if (group(x) == gb || !alive(l1) || !alive_vertex(x)) continue;
        for (int k = global_begin_[x - first_switch_]; k < global_begin_[x - first_switch_ + 1]; ++k) {
          const auto [l2, y] = global_of_router_[k];
          if (y == sb && alive(l2) && visit(l1, x, l2)) return;
        }
      }
    };
    each_two_hop([&](int, int, int) { return ++found, false; });
    if (found > 0) {
      int k = static_cast<int>(hash % static_cast<uint64_t>(found));
      each_two_hop([&](int l1, int x, int l2) {
        if (k-- != 0) return false;
        push_hop(hops, l1, sa);
        push_hop(hops, l2, x);
        return true;
      });
      return true;
    }
  }
  if (ties == 0) return false;
  int k = static_cast<int>(hash % static_cast<uint64_t>(ties));
  for (int r = 0; r < rounds_; ++r) {
    if (direct_cost(r) != best || k-- != 0) continue;
    const int id = global_link(ga, gb, r);
    int x, y;
    ends(id, x, y);
    push_local(sa, x);
    push_hop(hops, id, x);
    push_local(y, sb);
    return true;
  }
  return false;
}

// Shortest surviving path between two switches when failures leave no structural one: breadth-first over switches
// whose links are up; hosts and storage leaves (except where the path starts) forward nothing.
bool Fabric::bfs_route(int sa, int sb, std::vector<Hop>& hops) const {
  const int n = num_vertices();
  std::vector<int> via(static_cast<size_t>(n), -2);  // link that reached each vertex; -1 at the start
  std::vector<int> queue;
  queue.push_back(sa);
  via[sa] = -1;
  for (size_t head = 0; head < queue.size() && via[sb] == -2; ++head) {
    const int u = queue[head];
    if (u != sa && graph_[static_cast<Vertex>(u)].role == NodeRole::STORAGE_LEAF) continue;
    for (const auto& e : boost::make_iterator_range(boost::out_edges(static_cast<Vertex>(u), graph_))) {
      const FabricLink& l = graph_[e];
      if (l.tier == LinkTier::NVLINK || l.tier == LinkTier::NIC || l.tier == LinkTier::STORAGE || !alive(l.id))
        continue;
      const int v = l.low == u ? l.high : l.low;
      if (via[v] != -2 || !alive_vertex(v)) continue;
      via[v] = l.id;
      queue.push_back(v);
    }
  }
  if (via[sb] == -2) return false;
  std::vector<int> path;
  for (int v = sb; v != sa;) {
    const FabricLink& l = links_[static_cast<size_t>(via[v])];
    path.push_back(l.id);
    v = l.low == v ? l.high : l.low;
  }
  int at = sa;
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    push_hop(hops, *it, at);
    const FabricLink& l = links_[static_cast<size_t>(*it)];
    at = l.low == at ? l.high : l.low;
  }
  return true;
}

// ---- failures -------------------------------------------------------------------------------------------------

void Fabric::set_link_up(int id, bool up) {
  link(id);  // range check
  unsigned char& state = link_up_[static_cast<size_t>(id)];
  if ((state != 0) == up) return;
  state = up ? 1 : 0;
  links_down_ += up ? -1 : 1;
}

void Fabric::set_switch_up(Vertex v, bool up) {
  if (static_cast<int>(v) >= num_vertices())
    throw std::out_of_range("set_switch_up: vertex " + std::to_string(v) + " out of range");
  if (is_endpoint(v)) throw std::invalid_argument("set_switch_up: " + graph_[v].name + " is a host, not a switch");
  unsigned char& state = switch_up_[v];
  if ((state != 0) == up) return;
  state = up ? 1 : 0;
  switches_down_ += up ? -1 : 1;
}

bool Fabric::link_up(int id) const {
  link(id);
  return alive(id);
}

bool Fabric::switch_up(Vertex v) const {
  if (static_cast<int>(v) >= num_vertices())
    throw std::out_of_range("switch_up: vertex " + std::to_string(v) + " out of range");
  return alive_vertex(static_cast<int>(v));
}

}  // namespace aif::models
