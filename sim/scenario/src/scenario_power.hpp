// Parsers of the power sections (private to sim/scenario): facility.power, grid, policies, and the per-entry keys the power
// policies read (services[].priority, jobs[].priority, workloads[].deferrable, jobs[].deferrable).
// parse_scenario calls them in this order: facility power and grid once facility and simulation are read, policies
// last, because their checks look at the grid, the facility power chain and which work is deferrable.
#pragma once
#include <filesystem>

#include "aif/models/facility_power.hpp"
#include "aif/scenario/power_config.hpp"
#include "aif/scenario/scenario.hpp"
#include "aif/inputs/yaml_util.hpp"

namespace aif::sim {

// `facility` is the facility section (its `power` key is read; absent: the chain stays off).
FacilityPowerConfig parse_facility_power(const yaml::Node& facility, const std::filesystem::path& base_dir,
                                         const Scenario& scenario);
GridConfig parse_grid(const yaml::Node& grid, const std::filesystem::path& base_dir, const Scenario& scenario);
// Needs scenario.facility_power, scenario.grid, services, workloads and jobs already read.
PoliciesConfig parse_policies(const yaml::Node& policies, const Scenario& scenario);

// A data file a scenario names (trace, signal, calibration table): absolute, "data/..." (the bundled data folder) or
// relative to the scenario's folder; "file not found" at the node, with both rules, when there is none.
std::string resolve_data_path(const yaml::Node& n, const std::filesystem::path& base_dir);

// `priority` of a service or job: an integer, higher = more latency-critical. Leaves `out` unchanged when absent.
void read_priority(const yaml::Node& entry, int& out);
// `deferrable: {deadline}` of a workload or job. Leaves the outputs unchanged when absent.
void read_deferrable(const yaml::Node& entry, bool& deferrable, double& deadline_s);

}  // namespace aif::sim
