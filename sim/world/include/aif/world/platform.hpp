// The SimGrid platform built from a models::Fabric: one host per GPU and per storage node, one split-duplex SHARED
// link per fabric link, and a single routing zone that asks Fabric::route for every route.
//
// Why one custom zone: in SimGrid 3.32 a route between two zones passes through one gateway per zone, which cannot
// express a rail-optimized fabric (each GPU leaves its server through its own NIC and rail), and a Full zone stores
// N x N routes (10^10 at 100,000 GPUs). The zone here stores nothing per pair: SimGrid asks it for a route when a
// communication starts (or on Host::route_to) and it answers with the fabric's route, O(hops).
//
// Links: fabric link `id` is the SimGrid split-duplex link `links[id]`, named "<low end>-<high end>" after the
// fabric's vertex names (a suffix "#<id>" only when two links join the same pair of vertices). SimGrid names its
// halves "<name>_UP" (low -> high, e.g. GPU -> leaf) and "<name>_DOWN". Bandwidth (bytes/s, each direction) and
// latency are the FabricLink's. A route's latency is the sum of its links' latencies; a transfer of S bytes alone on
// an idle route takes exactly latency + S / min(bandwidth) under simgrid_config_args().
//
// Hosts are named after their fabric vertex. GPU hosts have one core and PlatformOptions::gpu_speeds; storage hosts
// have one core of PlatformOptions::storage_speed (they never compute; SimGrid needs a speed).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Link.hpp>

#include "aif/models/fabric.hpp"

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
//   contexts/stack-size:256   256 KiB actor stacks (SimGrid's 8 MiB were mapped and unmapped per training step);
//                             not under AddressSanitizer (platform.cpp says why).
std::vector<std::string> simgrid_config_args();

struct PlatformOptions {
  std::vector<double> gpu_speeds = {1e15};  // FLOP/s per power state (pstate 0 first); one core per GPU host
  // Called for each GPU host before it is sealed, e.g. to set the energy plugin's properties (which SimGrid reads
  // when the host is sealed). `gpu_id` is the global GPU index.
  std::function<void(simgrid::s4u::Host* gpu, int gpu_id)> before_seal;
  double storage_speed = 1e9;  // FLOP/s of a storage host
  // Passed as `flow` to every Fabric::route: another seed moves flows to other equal-cost uplinks (ECMP hashing).
  uint64_t ecmp_seed = 0;
};

struct Platform {
  std::vector<simgrid::s4u::Host*> gpus;              // index = GPU id (server * gpus_per_server + local)
  std::vector<simgrid::s4u::Host*> storage;           // index = storage node id
  std::vector<simgrid::s4u::SplitDuplexLink*> links;  // index = FabricLink::id
  models::Fabric* fabric = nullptr;                   // the fabric routes come from; must outlive the simulation
  int gpus_per_server = 0;
  int servers = 0;

  int num_gpus() const { return static_cast<int>(gpus.size()); }
  // `server` is the global server index; throws std::out_of_range on bad indices.
  simgrid::s4u::Host* gpu(int server, int local) const;
  // The SimGrid link a hop of Fabric::route crosses: the UP or DOWN half of links[hop.link].
  simgrid::s4u::Link* link(const models::Hop& hop) const;
  // Fail (up = false) or repair a fabric link: the fabric stops (resumes) routing over it, so communications started
  // later avoid it, and both SimGrid halves are turned off (on), so communications crossing it now fail with
  // simgrid::NetworkFailureException. A communication started between hosts the failures leave without a path throws
  // the fabric's std::runtime_error in the actor that starts it. Throws std::out_of_range on a bad id. Callable before
  // or during the run.
  void set_link_state(int link, bool up);
};

// Create the platform in the current SimGrid engine: call it once, after the s4u::Engine is constructed (with
// simgrid_config_args()), before any other zone is created and before Engine::run. Its zone becomes the root zone.
// Throws std::invalid_argument for an empty fabric or bad options, std::logic_error if a zone already exists.
Platform build_platform(models::Fabric& fabric, const PlatformOptions& options = {});

}  // namespace aif::sim
