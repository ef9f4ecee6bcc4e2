#include "aif/sim/platform.hpp"

#include <stdexcept>
#include <string>

#include <simgrid/s4u/Engine.hpp>

namespace aif::sim {

namespace sg4 = simgrid::s4u;
using Direction = sg4::LinkInRoute::Direction;
using NetPoint = simgrid::kernel::routing::NetPoint;

std::vector<std::string> simgrid_config_args() {
  return {"--cfg=network/model:CM02", "--cfg=network/crosstraffic:0", "--cfg=network/TCP-gamma:0"};
}

sg4::Host* Platform::gpu(int server, int local) const {
  if (server < 0 || server >= servers || local < 0 || local >= gpus_per_server)
    throw std::out_of_range("Platform::gpu(" + std::to_string(server) + ", " + std::to_string(local) +
                            "): the platform has " + std::to_string(servers) + " servers of " +
                            std::to_string(gpus_per_server) + " GPUs");
  return gpus[static_cast<size_t>(server * gpus_per_server + local)];
}

namespace {

sg4::SplitDuplexLink* make_split_duplex(sg4::NetZone* zone, const std::string& name, const models::TopoLink& link) {
  auto* l = zone->create_split_duplex_link(name, link.bandwidth);
  l->set_latency(link.latency_s)->set_sharing_policy(sg4::Link::SharingPolicy::SHARED);
  l->seal();
  return l;
}

sg4::Link* make_switch(sg4::NetZone* zone, const std::string& name, double port_capacity) {
  return zone->create_link(name, port_capacity)
      ->set_latency(0)
      ->set_sharing_policy(sg4::Link::SharingPolicy::FATPIPE)
      ->seal();
}

// One Full zone per server: GPUs, their NVLinks and NICs, and a gateway router through which traffic leaves.
// Returns the gateway.
NetPoint* build_server_zone(const models::Topology& topo, int server, sg4::NetZone* root,
                            const PlatformOptions& options, Platform& platform) {
  const int gps = topo.params().gpus_per_server;
  const std::string server_name = topo.node(topo.nvswitch_vertex(server)).name;
  sg4::NetZone* zone = sg4::create_full_zone(server_name);
  zone->set_parent(root);
  const int first = server * gps;
  for (int k = 0; k < gps; k++) {
    const int id = first + k;
    const std::string& name = topo.node(topo.gpu_vertex(id)).name;
    sg4::Host* host = zone->create_host(name, options.gpu_speeds);
    host->set_core_count(1);
    if (options.before_seal) options.before_seal(host, id);
    host->seal();
    const auto i = static_cast<size_t>(id);
    platform.gpus[i] = host;
    platform.nvlinks[i] = make_split_duplex(zone, name + "-nvlink", topo.link(topo.nvlink_edge(id)));
    platform.nics[i] = make_split_duplex(zone, name + "-nic", topo.link(topo.nic_edge(id)));
  }
  NetPoint* gateway = zone->create_router(server_name + "-gw");
  for (int a = first; a < first + gps; a++) {
    const auto ua = static_cast<size_t>(a);
    // Symmetrical routes: SimGrid reverses the list and swaps UP/DOWN for the way back.
    zone->add_route(platform.gpus[ua]->get_netpoint(), gateway, nullptr, nullptr, {{platform.nics[ua], Direction::UP}},
                    true);
    for (int b = a + 1; b < first + gps; b++) {
      const auto ub = static_cast<size_t>(b);
      zone->add_route(platform.gpus[ua]->get_netpoint(), platform.gpus[ub]->get_netpoint(), nullptr, nullptr,
                      {{platform.nvlinks[ua], Direction::UP}, {platform.nvlinks[ub], Direction::DOWN}}, true);
    }
  }
  zone->seal();
  platform.server_zones[static_cast<size_t>(server)] = zone;
  return gateway;
}

// Server-to-server routes, one per unordered pair, in the root Full zone: servers^2 / 2 routes, fine up to a few
// hundred servers. For larger fabrics this is the function to replace with a hierarchy (rack zones under the root).
void add_server_routes(const models::Topology& topo, sg4::NetZone* root, const std::vector<NetPoint*>& gateways,
                       const Platform& platform) {
  const int spr = topo.params().servers_per_rack;
  const int spines = topo.params().spines;
  for (int a = 0; a < platform.servers; a++) {
    const int rack_a = a / spr;
    for (int b = a + 1; b < platform.servers; b++) {
      const int rack_b = b / spr;
      std::vector<sg4::LinkInRoute> links;
      if (rack_a == rack_b) {
        links = {sg4::LinkInRoute(platform.leaves[static_cast<size_t>(rack_a)])};
      } else {
        const int spine = topo.spine_for_racks(rack_a, rack_b);
        links = {sg4::LinkInRoute(platform.leaves[static_cast<size_t>(rack_a)]),
                 {platform.uplinks[static_cast<size_t>(rack_a * spines + spine)], Direction::UP},
                 sg4::LinkInRoute(platform.spines[static_cast<size_t>(spine)]),
                 {platform.uplinks[static_cast<size_t>(rack_b * spines + spine)], Direction::DOWN},
                 sg4::LinkInRoute(platform.leaves[static_cast<size_t>(rack_b)])};
      }
      root->add_route(platform.server_zones[static_cast<size_t>(a)]->get_netpoint(),
                      platform.server_zones[static_cast<size_t>(b)]->get_netpoint(), gateways[static_cast<size_t>(a)],
                      gateways[static_cast<size_t>(b)], links, true);
    }
  }
}

}  // namespace

Platform build_platform(const models::Topology& topo, const PlatformOptions& options) {
  if (topo.num_gpus() == 0) throw std::invalid_argument("build_platform: the topology has no GPUs");
  if (options.gpu_speeds.empty()) throw std::invalid_argument("build_platform: PlatformOptions.gpu_speeds is empty");
  for (double speed : options.gpu_speeds)
    if (!(speed > 0))
      throw std::invalid_argument("build_platform: PlatformOptions.gpu_speeds must be > 0, got " +
                                  std::to_string(speed));
  const models::LeafSpineParams& p = topo.params();
  Platform platform;
  platform.gpus_per_server = p.gpus_per_server;
  platform.servers = topo.num_servers();
  platform.servers_per_rack = p.servers_per_rack;
  platform.racks = topo.num_racks();
  const auto gpus = static_cast<size_t>(topo.num_gpus());
  platform.gpus.resize(gpus);
  platform.nvlinks.resize(gpus);
  platform.nics.resize(gpus);
  platform.server_zones.resize(static_cast<size_t>(platform.servers));

  sg4::NetZone* root = sg4::create_full_zone("fabric");  // the first zone created is the root
  std::vector<NetPoint*> gateways;
  gateways.reserve(static_cast<size_t>(platform.servers));
  for (int s = 0; s < platform.servers; s++) gateways.push_back(build_server_zone(topo, s, root, options, platform));

  // A switch's FATPIPE capacity: the sum of its ports in one direction, more than any single flow can reach.
  double leaf_ports = 0;
  for (auto [it, end] = boost::out_edges(topo.leaf_vertex(0), topo.graph()); it != end; ++it)
    leaf_ports += topo.link(*it).bandwidth;
  double spine_ports = 0;
  for (auto [it, end] = boost::out_edges(topo.spine_vertex(0), topo.graph()); it != end; ++it)
    spine_ports += topo.link(*it).bandwidth;
  for (int r = 0; r < platform.racks; r++) {
    const std::string& leaf_name = topo.node(topo.leaf_vertex(r)).name;
    platform.leaves.push_back(make_switch(root, leaf_name, leaf_ports));
    for (int s = 0; s < p.spines; s++)
      platform.uplinks.push_back(make_split_duplex(root, leaf_name + "-" + topo.node(topo.spine_vertex(s)).name,
                                                   topo.link(topo.uplink_edge(r, s))));
  }
  for (int s = 0; s < p.spines; s++)
    platform.spines.push_back(make_switch(root, topo.node(topo.spine_vertex(s)).name, spine_ports));

  add_server_routes(topo, root, gateways, platform);
  root->seal();
  return platform;
}

}  // namespace aif::sim
