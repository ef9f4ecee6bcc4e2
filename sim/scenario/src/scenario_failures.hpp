// Parsers of the `failures` and `ops` sections (private to sim/scenario). parse_scenario calls them last: incident targets
// name racks, servers, GPUs and services, and spare servers must leave the services and jobs room.
#pragma once
#include "aif/scenario/failures_config.hpp"
#include "aif/scenario/scenario.hpp"
#include "aif/inputs/yaml_util.hpp"

namespace aif::sim {

FailuresConfig parse_failures(const yaml::Node& failures, const Scenario& scenario);
OpsConfig parse_ops(const yaml::Node& ops, const Scenario& scenario);

}  // namespace aif::sim
