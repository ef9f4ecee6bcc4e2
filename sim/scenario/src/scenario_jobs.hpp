// The `jobs` section parser (private to sim/scenario): called by parse_scenario once facility, fabric and services are read,
// so that a job's checks can see the GPUs the services take and whether the fabric has storage nodes.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "aif/models/hardware.hpp"
#include "aif/scenario/scenario.hpp"
#include "aif/inputs/yaml_util.hpp"

namespace aif::sim {

// Reads the `jobs` list into scenario.jobs and adds each job's model (from `catalog`) to scenario.models.
// Every problem is a ScenarioError naming the job's key path.
void parse_jobs(const yaml::Node& jobs, const std::map<std::string, models::ModelArch>& catalog, Scenario& scenario);

}  // namespace aif::sim
