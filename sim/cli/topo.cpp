// `aifsim topo SCENARIO.yaml [--dot out.dot] [--set k=v]...`: the fabric a scenario describes, built as the
// simulator builds it, and what it is worth: counts, bisection bandwidth, diameter, oversubscription, build cost.
#include "topo.hpp"

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <iostream>
#include <nlohmann/json.hpp>

#include "aif/models/fabric.hpp"
#include "aif/world/placement.hpp"
#include "aif/world/training_job.hpp"
#include "aif/scenario/scenario.hpp"

namespace aif::cli {

namespace {

using aif::models::LinkTier;
using aif::models::NodeRole;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // KiB on Linux
}

const char* scenario_kind(sim::FabricKind kind) {
  switch (kind) {
    case sim::FabricKind::LEAF_SPINE:
      return "leaf-spine";
    case sim::FabricKind::FAT_TREE:
      return "fat-tree";
    case sim::FabricKind::RAIL_OPTIMIZED:
      return "rail-optimized";
    case sim::FabricKind::DRAGONFLY:
      return "dragonfly";
  }
  return "?";
}

// "GPU 64, NVSWITCH 8": the roles (or tiers) present, in enum order.
template <typename Enum, int N>
std::string counts(const models::Fabric& f, const Enum (&all)[N]) {
  std::string text;
  for (const Enum e : all) {
    const int n = f.count(e);
    if (n == 0) continue;
    text += (text.empty() ? "" : ", ") + std::string(models::to_string(e)) + " " + std::to_string(n);
  }
  return text.empty() ? "none" : text;
}

void write_dot_file(const models::Fabric& fabric, const std::string& path) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw std::runtime_error("cannot write " + tmp);
    fabric.write_dot(out);
    out.flush();
    if (!out) throw std::runtime_error("error while writing " + tmp);
  }
  std::filesystem::rename(tmp, path);  // a failed run leaves no half-written file under the real name
}

}  // namespace

CLI::App* add_topo_command(CLI::App& app, TopoOptions& options) {
  CLI::App* topo =
      app.add_subcommand("topo",
                         "Build the scenario's network fabric and print its counts, bisection bandwidth, diameter and "
                         "oversubscription");
  topo->add_option("scenario", options.scenario, "Scenario file (YAML)")->required();
  topo->add_option("--dot", options.dot, "Also write the fabric as Graphviz DOT to this file");
  topo->add_option("--json", options.json,
                   "Also write the fabric's counts and where each replica and job runs as JSON to this file ('-': "
                   "stdout, alone); what aifsim-gui draws before a run");
  topo->add_option("--set", options.sets, "Override a scenario value: key.path=value (repeatable)");
  return topo;
}

namespace {

// The fabric's counts and the run's placement (place_replica_slots, place_jobs: the rules a run uses).
nlohmann::json topology_json(const sim::Scenario& sc, const models::Fabric& f, const models::FabricParams& params) {
  using nlohmann::json;
  json out;
  out["scenario"] = sc.source_path;
  out["kind"] = scenario_kind(sc.fabric.kind);
  out["racks"] = sc.facility.racks;
  out["servers_per_rack"] = sc.facility.servers_per_rack;
  out["gpus_per_server"] = sc.facility.gpus_per_server;
  out["servers"] = f.num_servers();
  out["gpus"] = f.num_gpus();
  out["spare_servers"] = sc.failures.spare_servers;
  out["storage_nodes"] = f.num_storage();
  out["nvlink_domains"] = f.num_nvlink_domains();
  json switches = json::object(), links = json::object();
  for (const NodeRole role : {NodeRole::NVSWITCH, NodeRole::LEAF, NodeRole::SPINE, NodeRole::CORE, NodeRole::ROUTER,
                              NodeRole::STORAGE_LEAF})
    if (f.count(role) > 0) switches[models::to_string(role)] = f.count(role);
  for (const LinkTier tier : {LinkTier::NVLINK, LinkTier::NIC, LinkTier::UPLINK, LinkTier::CORE, LinkTier::LOCAL,
                              LinkTier::GLOBAL, LinkTier::STORAGE})
    if (f.count(tier) > 0) links[models::to_string(tier)] = f.count(tier);
  out["switches"] = switches;
  out["links"] = links;
  // The leaf each server reaches (its first GPU's NIC), so that a drawing can group servers under their leaf.
  json leaf_of = json::array();
  for (int s = 0; s < f.num_servers(); ++s) leaf_of.push_back(f.leaf_of_gpu(s * params.gpus_per_server));
  out["leaf_of_server"] = leaf_of;
  json services = json::array();
  const std::vector<sim::ReplicaSlot> slots = sim::place_replica_slots(sc);
  for (size_t s = 0; s < sc.services.size(); ++s) {
    json replicas = json::array();
    for (const sim::ReplicaSlot& slot : slots) {
      if (slot.service != s) continue;
      replicas.push_back({{"replica", slot.replica},
                          {"server", slot.server},
                          {"first_gpu", slot.first_gpu},
                          {"gpus", slot.gpus},
                          {"servers", slot.span},
                          {"initial", slot.replica < sc.services[s].total_replicas()}});
    }
    services.push_back({{"name", sc.services[s].name}, {"replicas", replicas}});
  }
  out["services"] = services;
  json jobs = json::array();
  std::vector<bool> free = sim::gpus_free_for_jobs(sc, slots);
  const std::vector<sim::JobLayout> layouts = sim::place_jobs(sc, f, free);
  for (size_t j = 0; j < sc.jobs.size() && j < layouts.size(); ++j)
    jobs.push_back({{"name", sc.jobs[j].name}, {"gpus", layouts[j].gpus}});
  out["jobs"] = jobs;
  return out;
}

}  // namespace

int run_topo(const TopoOptions& options) {
  const sim::Scenario sc = sim::load_scenario(options.scenario, options.sets);
  const models::FabricParams params = sim::fabric_params(sc);
  if (options.json == "-") {  // JSON alone on stdout, for the GUI
    const models::Fabric f = models::build_fabric(params);
    std::cout << topology_json(sc, f, params).dump() << "\n";
    return 0;
  }
  const double rss_before = peak_rss_mib();
  const auto t0 = std::chrono::steady_clock::now();
  const models::Fabric f = models::build_fabric(params);
  const double build_s = seconds_since(t0);
  const double rss_built = peak_rss_mib();

  const auto t1 = std::chrono::steady_clock::now();
  const double bisection = f.bisection_bandwidth();
  const int diameter = f.diameter_hops();
  const double analysis_s = seconds_since(t1);

  std::printf("scenario          %s\n", options.scenario.c_str());
  std::printf("kind              %s", scenario_kind(sc.fabric.kind));
  if (params.kind == models::FabricKind::FAT_TREE) std::printf(" (%d tiers)", params.tiers);
  std::printf("\n");
  std::printf("GPUs              %d on %d servers (%d per server), %d NVLink domain(s) of %d GPUs\n", f.num_gpus(),
              f.num_servers(), params.gpus_per_server, f.num_nvlink_domains(), f.num_gpus() / f.num_nvlink_domains());
  static const NodeRole switch_roles[] = {NodeRole::NVSWITCH, NodeRole::LEAF,   NodeRole::SPINE,
                                          NodeRole::CORE,     NodeRole::ROUTER, NodeRole::STORAGE_LEAF};
  std::printf("switches          %s\n", counts(f, switch_roles).c_str());
  std::printf("storage nodes     %d\n", f.num_storage());
  static const LinkTier tiers[] = {LinkTier::NVLINK, LinkTier::NIC,    LinkTier::UPLINK, LinkTier::CORE,
                                   LinkTier::LOCAL,  LinkTier::GLOBAL, LinkTier::STORAGE};
  std::printf("links             %s (%d in all)\n", counts(f, tiers).c_str(), f.num_links());
  // What the first half's NICs could inject: the bisection's ceiling.
  const double injection = (f.num_gpus() / 2) * params.nic_bandwidth;
  std::printf("bisection         %.6g Tb/s = %.6g TB/s per direction (%.0f %% of the half's NICs, max-flow)\n",
              bisection * 8 / 1e12, bisection / 1e12, injection > 0 ? 100 * bisection / injection : 0.0);
  std::printf("diameter          %d hops (GPU to GPU, across NVLink domains)\n", diameter);
  std::printf("oversubscription  ");
  switch (params.kind) {
    case models::FabricKind::FAT_TREE:
      std::printf("leaf %.3g:1", f.oversubscription(NodeRole::LEAF));
      if (params.tiers == 3) std::printf(", spine %.3g:1", f.oversubscription(NodeRole::SPINE));
      break;
    case models::FabricKind::RAIL_OPTIMIZED:
      std::printf("rail switch %.3g:1", f.oversubscription(NodeRole::LEAF));
      break;
    case models::FabricKind::DRAGONFLY:
      std::printf("router %.3g:1 (NICs over global links)", f.oversubscription(NodeRole::ROUTER));
      break;
  }
  std::printf("\n");
  std::printf("build             %.3f s, peak RSS %.0f MiB (%.0f MiB before); bisection and diameter %.3f s\n", build_s,
              rss_built, rss_before, analysis_s);
  if (!options.json.empty()) {
    const std::string tmp = options.json + ".tmp";
    {
      std::ofstream out(tmp);
      out << topology_json(sc, f, params).dump(1) << "\n";
      out.flush();
      if (!out) throw std::runtime_error("cannot write " + tmp);
    }
    std::filesystem::rename(tmp, options.json);
    std::printf("json              %s\n", options.json.c_str());
  }
  if (!options.dot.empty()) {
    write_dot_file(f, options.dot);
    std::printf("graphviz          %s\n", options.dot.c_str());
  }
  return 0;
}

}  // namespace aif::cli
