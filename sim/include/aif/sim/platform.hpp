// The SimGrid platform (hosts, links, routes) built from a models::Topology.
//
// Structure (SimGrid 3.32 zones):
//   root Full zone "fabric"
//     one Full zone per server: its GPUs (hosts) and a gateway router "<server>-gw";
//       GPU -> GPU:     NVLink of the source (UP) + NVLink of the destination (DOWN)
//       GPU -> gateway: the GPU's own NIC (UP; DOWN on the way back): each GPU leaves the server through its NIC
//     server -> server (zone-to-zone routes between gateways, one per server pair):
//       same rack:  leaf
//       other rack: leaf, uplink (UP) to the spine, spine, uplink (DOWN), leaf
// so GPU-to-GPU routes are:
//   same server: nvlink_UP, nvlink_DOWN                                           latency 2 * nvlink_latency
//   same rack:   nic_UP, leaf, nic_DOWN                                           latency 2 * link_latency
//   other rack:  nic_UP, leaf, uplink_UP, spine, uplink_DOWN, leaf, nic_DOWN      latency 4 * link_latency
// NVLinks, NICs and uplinks are split-duplex SHARED links with the topology edge's per-direction bandwidth and latency.
// Leaves and spines are FATPIPE links of latency 0 whose bandwidth is the switch's total port capacity, so they never
// limit a flow: they stand for the (non-blocking) switch, give it a handle for failures (turn the link off) and let
// same-rack routes be non-empty as SimGrid requires. The spine between two racks is Topology::spine_for_racks.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Link.hpp>
#include <simgrid/s4u/NetZone.hpp>

#include "aif/models/topology.hpp"

namespace aif::sim {

// SimGrid configuration every aifsim simulation runs with; pass each string as a command-line argument to the
// s4u::Engine constructor (or strip the "--cfg=" prefix for Engine::set_config) before the platform is built.
//   network/model:CM02        plain max-min fair sharing with latency and bandwidth factors of 1, so a transfer of
//                             S bytes alone on a route takes exactly sum(latency) + S / min(bandwidth). The default
//                             LV08 multiplies latency by 13.01, bandwidth by 0.97 and weights flows by RTT: TCP
//                             corrections calibrated on wide-area TCP, not a data-center RDMA fabric.
//   network/crosstraffic:0    no reverse "ACK" flow taking 5% on the return path (it also couples the two directions
//                             of every link in the solver, which makes many-flow solves far slower).
//   network/TCP-gamma:0       no TCP window cap (rate <= gamma / (2 * latency)), which would otherwise bound a flow by
//                             its round-trip time rather than by link capacity.
std::vector<std::string> simgrid_config_args();

struct PlatformOptions {
  std::vector<double> gpu_speeds = {1e15};  // FLOP/s per power state (pstate 0 first); one core per GPU host
  // Called for each GPU host before it is sealed, e.g. to set the energy plugin's properties (which SimGrid reads
  // when the host is sealed). `gpu_id` is the global GPU index.
  std::function<void(simgrid::s4u::Host* gpu, int gpu_id)> before_seal;
};

struct Platform {
  // Index = global GPU id, as in the topology: rack-major, then server, then GPU.
  std::vector<simgrid::s4u::Host*> gpus;
  int gpus_per_server = 0;
  int servers = 0;
  int servers_per_rack = 0;
  int racks = 0;
  std::vector<simgrid::s4u::NetZone*> server_zones;  // index = global server
  // Links by role. Split-duplex ones are the SimGrid SplitDuplexLink (get_link_up()/get_link_down()).
  std::vector<simgrid::s4u::SplitDuplexLink*> nvlinks;  // index = global GPU id
  std::vector<simgrid::s4u::SplitDuplexLink*> nics;     // index = global GPU id
  std::vector<simgrid::s4u::SplitDuplexLink*> uplinks;  // index = rack * spines + spine
  std::vector<simgrid::s4u::Link*> leaves;              // index = rack (FATPIPE)
  std::vector<simgrid::s4u::Link*> spines;              // index = spine (FATPIPE)

  int num_gpus() const { return static_cast<int>(gpus.size()); }
  // `server` is the global server index; throws std::out_of_range on bad indices.
  simgrid::s4u::Host* gpu(int server, int local) const;
};

// Create the platform in the current SimGrid engine: call it once, after the s4u::Engine is constructed (with
// simgrid_config_args()) and before Engine::run. Host names are the topology's GPU vertex names.
Platform build_platform(const models::Topology& topology, const PlatformOptions& options = {});

}  // namespace aif::sim
