// A scenario's fabric and placement as `aifsim topo SCENARIO --json -` gives them (the rules a run uses: no
// simulation logic in the GUI): racks, servers, switches by role, storage, links by tier, the leaf of each server, and
// where each replica and job runs. Read before a run, from the scenario alone.
#pragma once
#include <QString>
#include <QStringList>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace aif::gui {

struct Topology {
  QString kind;  // leaf-spine, fat-tree, rail-optimized, dragonfly
  int racks = 0, servers_per_rack = 0, gpus_per_server = 0, spare_servers = 0, storage_nodes = 0;
  std::map<std::string, int> switches;  // role -> count (LEAF, SPINE, CORE, ROUTER, NVSWITCH, STORAGE_LEAF)
  std::map<std::string, int> links;     // tier -> count (NVLINK, NIC, UPLINK, CORE, ...)
  std::vector<int> leaf_of_server;
  // Per server: what runs there. owner < services.size(): a service; then jobs; -1 free; -2 spare.
  std::vector<int> owner;
  std::vector<QString> owners;  // names of the services, then of the jobs
  size_t services = 0;
  std::map<std::string, std::vector<int>> replicas_on_server;  // service name -> replicas per server
  std::vector<QString> label;  // per server: the replica on it ("chat/3"; "chat/0-1" for several), or the job

  int servers() const { return racks * servers_per_rack; }
  int switch_count() const;
  int count_servers(int owner_index) const;
};

// Parses the JSON of `aifsim topo --json -`; nullopt with *error on anything unexpected.
std::optional<Topology> parse_topology(const QByteArray& json, QString* error);
// Runs `aifsim topo SCENARIO --json - --set ...` (at most 60 s) and parses it.
std::optional<Topology> load_topology(const QString& aifsim, const QString& scenario, const QStringList& sets,
                                      QString* error);
// The --set assignments a run was made with, from the header its /meta scenario text starts with
// ("# aifsim: scenario FILE with --set a=1 b=2"); empty when there were none.
QStringList sets_of_scenario_text(const std::string& text);

}  // namespace aif::gui
