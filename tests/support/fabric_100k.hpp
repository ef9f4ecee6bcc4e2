// The three 100,000-GPU fabrics the scale test checks by count and the benchmark times (12,500 servers x 8 GPUs).
#pragma once
#include "aif/models/fabric.hpp"

namespace aif::testing {

// Scalable units of 25 servers (500 units, 4,000 rail switches), 64 spines; 1,000 storage nodes, 25 per storage leaf.
inline aif::models::FabricParams rail_optimized_100k() {
  aif::models::FabricParams p;
  p.kind = aif::models::FabricKind::RAIL_OPTIMIZED;
  p.servers = 12500;
  p.gpus_per_server = 8;
  p.servers_per_leaf = 25;
  p.spines = 64;
  p.storage_nodes = 1000;
  p.storage_nodes_per_leaf = 25;
  return p;
}

// 3 tiers: 4 servers per leaf (3,125 leaves), 25 leaves per pod (125 pods x 8 spines), 64 cores.
inline aif::models::FabricParams fat_tree_100k() {
  aif::models::FabricParams p;
  p.kind = aif::models::FabricKind::FAT_TREE;
  p.tiers = 3;
  p.servers = 12500;
  p.gpus_per_server = 8;
  p.servers_per_leaf = 4;
  p.leaves_per_pod = 25;
  p.spines = 8;
  p.cores = 64;
  return p;
}

// 4 servers per router (3,125 routers), 25 routers per group (125 groups), 5 global links per router.
inline aif::models::FabricParams dragonfly_100k() {
  aif::models::FabricParams p;
  p.kind = aif::models::FabricKind::DRAGONFLY;
  p.servers = 12500;
  p.gpus_per_server = 8;
  p.servers_per_leaf = 4;
  p.routers_per_group = 25;
  p.global_links_per_router = 5;
  return p;
}

}  // namespace aif::testing
