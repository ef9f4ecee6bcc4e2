// The scenario's fabric section: keys with units, defaults taken from the facility and the device catalog, the
// mapping to models::FabricParams, and errors that name the key (including combinations only build_fabric knows).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "aif/models/fabric.hpp"
#include "aif/scenario/scenario.hpp"

using aif::models::FabricKind;
using aif::sim::ScenarioError;

namespace {

const std::string SOURCE_DIR = AIF_SOURCE_DIR;

// 4 racks x 4 servers x 8 H100s and one small service; the fabric section is appended.
std::string scenario(const std::string& fabric) {
  return "facility: {racks: 4, servers_per_rack: 4, gpus_per_server: 8}\n" + fabric +
         "services:\n  - {name: chat, model: Llama-3.1-8B, tp: 1, replicas: 2}\n";
}

aif::models::FabricParams params_of(const std::string& fabric, const std::vector<std::string>& sets = {}) {
  return aif::sim::fabric_params(aif::sim::load_scenario_text(scenario(fabric), "inline.yaml", sets));
}

// The ScenarioError's key path and line, or "" when it loads.
std::string error_of(const std::string& fabric, int* line = nullptr) {
  try {
    aif::sim::load_scenario_text(scenario(fabric), "inline.yaml");
  } catch (const ScenarioError& e) {
    if (line != nullptr) *line = e.line();
    return e.key_path() + ": " +
           std::string(e.what()).substr(std::string(e.what()).find(e.key_path()) + e.key_path().size() + 2);
  }
  return "";
}

}  // namespace

TEST(FabricParams, DefaultScenarioIsALeafSpine) {
  const auto sc = aif::sim::load_scenario(SOURCE_DIR + "/scenarios/default.yaml");
  const auto p = aif::sim::fabric_params(sc);
  EXPECT_EQ(p.kind, FabricKind::FAT_TREE);
  EXPECT_EQ(p.tiers, 2);
  EXPECT_EQ(p.servers, 2 * 4);
  EXPECT_EQ(p.gpus_per_server, 8);
  EXPECT_EQ(p.servers_per_leaf, 4);             // facility.servers_per_rack: one leaf per rack
  EXPECT_DOUBLE_EQ(p.nic_bandwidth, 50e9);      // 400Gbps
  EXPECT_DOUBLE_EQ(p.nvlink_bandwidth, 900e9);  // H100-SXM in the catalog
  EXPECT_DOUBLE_EQ(p.link_latency_s, 1e-6);
  EXPECT_EQ(p.storage_nodes, 0);
  EXPECT_NO_THROW(aif::models::build_fabric(p));
}

TEST(FabricParams, EveryKeyReachesTheParams) {
  const auto ft = params_of(
      "fabric:\n  kind: fat-tree\n  tiers: 3\n  servers_per_leaf: 2\n  leaves_per_pod: 4\n  spines: 2\n"
      "  cores: 4\n  oversubscription: 2\n  core_oversubscription: 1.5\n  nvlink_domain_gpus: 16\n"
      "  nvlink_bandwidth: 1.8TB/s\n  nic_bandwidth: 800Gbps\n  link_latency: 2us\n  nvlink_latency: 0.3us\n"
      "  storage_nodes: 10\n  storage_nodes_per_leaf: 4\n  storage_bandwidth: 200Gbps\n");
  EXPECT_EQ(ft.kind, FabricKind::FAT_TREE);
  EXPECT_EQ(ft.tiers, 3);
  EXPECT_EQ(ft.servers_per_leaf, 2);
  EXPECT_EQ(ft.leaves_per_pod, 4);
  EXPECT_EQ(ft.spines, 2);
  EXPECT_EQ(ft.cores, 4);
  EXPECT_DOUBLE_EQ(ft.oversubscription, 2);
  EXPECT_DOUBLE_EQ(ft.core_oversubscription, 1.5);
  EXPECT_EQ(ft.nvlink_domain_gpus, 16);
  EXPECT_DOUBLE_EQ(ft.nvlink_bandwidth, 1.8e12);
  EXPECT_DOUBLE_EQ(ft.nic_bandwidth, 100e9);
  EXPECT_DOUBLE_EQ(ft.link_latency_s, 2e-6);
  EXPECT_DOUBLE_EQ(ft.nvlink_latency_s, 0.3e-6);
  EXPECT_EQ(ft.storage_nodes, 10);
  EXPECT_EQ(ft.storage_nodes_per_leaf, 4);
  EXPECT_DOUBLE_EQ(ft.storage_bandwidth, 25e9);
  const auto fabric = aif::models::build_fabric(ft);
  EXPECT_EQ(fabric.count(aif::models::NodeRole::CORE), 4);

  const auto df = params_of(
      "fabric:\n  kind: dragonfly\n  servers_per_leaf: 1\n  routers_per_group: 4\n  global_links_per_router: 1\n"
      "  local_bandwidth: 1.6Tbps\n  global_bandwidth: 400GB/s\n");
  EXPECT_EQ(df.kind, FabricKind::DRAGONFLY);
  EXPECT_EQ(df.routers_per_group, 4);  // 16 routers, 4 groups, 4 ports each >= 3
  EXPECT_EQ(df.global_links_per_router, 1);
  EXPECT_DOUBLE_EQ(df.local_bandwidth, 200e9);
  EXPECT_DOUBLE_EQ(df.global_bandwidth, 400e9);

  const auto rail = params_of("fabric:\n  kind: rail_optimized\n  spines: 8\n");  // '_' spelling accepted
  EXPECT_EQ(rail.kind, FabricKind::RAIL_OPTIMIZED);
  EXPECT_EQ(rail.spines, 8);
  EXPECT_EQ(params_of("fabric:\n  kind: leaf_spine\n").kind, FabricKind::FAT_TREE);
  // --set reaches the fabric like any key.
  EXPECT_EQ(params_of("", {"fabric.kind=dragonfly", "fabric.servers_per_leaf=1"}).kind, FabricKind::DRAGONFLY);
}

TEST(FabricParams, ErrorsNameTheKey) {
  int line = 0;
  // A combination build_fabric rejects, at the key's line (line 2 is "fabric:", the key is on line 3).
  EXPECT_EQ(error_of("fabric:\n  servers_per_leaf: 3\n", &line),
            "fabric.servers_per_leaf: 3 does not divide the 16 servers into whole leaves");
  EXPECT_EQ(line, 3);
  // A key for another kind.
  EXPECT_EQ(error_of("fabric:\n  kind: dragonfly\n  spines: 4\n", &line),
            "fabric.spines: not used by kind dragonfly (only by leaf-spine, fat-tree and rail-optimized)");
  EXPECT_EQ(line, 4);
  EXPECT_EQ(error_of("fabric:\n  tiers: 3\n"), "fabric.tiers: not used by kind leaf-spine (only by fat-tree)");
  // 3-tier keys on a 2-tier fat-tree, and missing 3-tier keys (no line of their own: the section's).
  EXPECT_EQ(error_of("fabric:\n  kind: fat-tree\n  cores: 2\n"), "fabric.cores: only a 3-tier fat-tree has cores");
  EXPECT_EQ(error_of("fabric:\n  kind: fat-tree\n  tiers: 3\n  cores: 2\n", &line),
            "fabric.leaves_per_pod: expected >= 1, got 0");
  EXPECT_EQ(line, 2);
  EXPECT_EQ(error_of("fabric:\n  kind: dragonfly\n  routers_per_group: 3\n"),
            "fabric.routers_per_group: 3 does not divide the 4 routers (16 servers / 4 per router) into whole groups");
  EXPECT_EQ(error_of("fabric:\n  nvlink_domain_gpus: 48\n"),
            "fabric.nvlink_domain_gpus: 48 does not divide the 128 GPUs into whole domains");
  EXPECT_EQ(error_of("fabric:\n  storage_bandwidth: 10\n").rfind("fabric.storage_bandwidth: ", 0), 0u);  // no unit
  EXPECT_EQ(error_of("fabric:\n  kind: dragonfly\n"), "");
}
