// Where each replica of each service runs: the placement rule of a run, as a plain function of the scenario, so that
// `aifsim topo --json` (and the GUI's topology before a run) shows the placement the run will use.
#pragma once
#include <cstddef>
#include <vector>

#include "aif/scenario/scenario.hpp"

namespace aif::sim {

struct ReplicaSlot {
  size_t service = 0;  // index in Scenario::services
  int replica = 0;     // index within the service (autoscaled replicas included, up to the autoscaler's max)
  int server = 0;      // first server (global index, racks in order)
  int first_gpu = 0;   // first GPU within that server
  int span = 1;        // servers it covers (1, or gpus / gpus_per_server for pipeline stages on whole servers)
  int gpus = 1;        // tp x pp x dp
};

// Services in order, each replica packed from GPU 0: a replica within one server takes gpus of its free GPUs (first
// server with room), a larger one whole free servers in a row. Spare servers (failures.spare_servers, the last ones)
// take nothing. Throws ScenarioError (services[i].replicas) when a replica does not fit.
std::vector<ReplicaSlot> place_replica_slots(const Scenario& scenario);

// The GPUs training jobs may take (place_jobs): every GPU but those of the spare servers and those the replica slots
// hold. Indexed by global GPU id.
std::vector<bool> gpus_free_for_jobs(const Scenario& scenario, const std::vector<ReplicaSlot>& slots);

}  // namespace aif::sim
