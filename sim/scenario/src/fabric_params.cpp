// Scenario -> models::FabricParams: the facility gives the servers, the fabric section the wiring, the device
// catalog the NVLink bandwidth unless the fabric section overrides it.
#include "aif/models/fabric.hpp"
#include "aif/scenario/scenario.hpp"

namespace aif::sim {

models::FabricParams fabric_params(const Scenario& sc) {
  const FacilityConfig& facility = sc.facility;
  const FabricConfig& f = sc.fabric;
  models::FabricParams p;
  switch (f.kind) {
    case FabricKind::LEAF_SPINE:
    case FabricKind::FAT_TREE:
      p.kind = models::FabricKind::FAT_TREE;
      break;
    case FabricKind::RAIL_OPTIMIZED:
      p.kind = models::FabricKind::RAIL_OPTIMIZED;
      break;
    case FabricKind::DRAGONFLY:
      p.kind = models::FabricKind::DRAGONFLY;
      break;
  }
  p.servers = facility.racks * facility.servers_per_rack;
  p.gpus_per_server = facility.gpus_per_server;
  p.nvlink_domain_gpus = f.nvlink_domain_gpus;
  p.nvlink_bandwidth = f.nvlink_bandwidth > 0 ? f.nvlink_bandwidth : sc.device.nvlink_bandwidth;
  p.nvlink_latency_s = f.nvlink_latency_s;
  p.nic_bandwidth = f.nic_bandwidth;
  p.link_latency_s = f.link_latency_s;
  p.servers_per_leaf = f.servers_per_leaf > 0 ? f.servers_per_leaf : facility.servers_per_rack;
  p.tiers = f.kind == FabricKind::LEAF_SPINE ? 2 : f.tiers;
  p.spines = f.spines;
  p.leaves_per_pod = f.leaves_per_pod;
  p.cores = f.cores;
  p.oversubscription = f.oversubscription;
  p.core_oversubscription = f.core_oversubscription;
  p.routers_per_group = f.routers_per_group;
  p.global_links_per_router = f.global_links_per_router;
  p.local_bandwidth = f.local_bandwidth;
  p.global_bandwidth = f.global_bandwidth;
  p.storage_nodes = f.storage_nodes;
  p.storage_nodes_per_leaf = f.storage_nodes_per_leaf;
  p.storage_bandwidth = f.storage_bandwidth;
  return p;
}

}  // namespace aif::sim
