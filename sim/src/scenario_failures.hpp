// Parsers of the `failures` and `ops` sections (private to sim/). parse_scenario calls them last: incident targets
// name racks, servers, GPUs and services, and spare servers must leave the services and jobs room.
#pragma once
#include "aif/sim/failures_config.hpp"
#include "aif/sim/scenario.hpp"
#include "aif/sim/yaml_util.hpp"

namespace aif::sim {

FailuresConfig parse_failures(const yaml::Node& failures, const Scenario& scenario);
OpsConfig parse_ops(const yaml::Node& ops, const Scenario& scenario);

}  // namespace aif::sim
