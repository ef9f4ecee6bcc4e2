// Parsers of the power sections (private to sim/): facility.power, grid, policies, and the per-entry keys the power
// policies read (services[].priority, jobs[].priority, workloads[].deferrable, jobs[].deferrable).
// parse_scenario calls them in this order: facility power and grid once facility and simulation are read, policies
// last, because their checks look at the grid, the facility power chain and which work is deferrable.
#pragma once
#include <filesystem>

#include "aif/models/facility_power.hpp"
#include "aif/sim/power_config.hpp"
#include "aif/sim/scenario.hpp"
#include "aif/sim/yaml_util.hpp"

namespace aif::sim {

// `facility` is the facility section (its `power` key is read; absent: the chain stays off).
FacilityPowerConfig parse_facility_power(const yaml::Node& facility, const std::filesystem::path& base_dir,
                                         const Scenario& scenario);
// The facility chain's parameters: model defaults where the scenario leaves them out; the design IT power is every GPU
// at its board limit plus every server's overhead. Throws std::invalid_argument when pue_free_cooling cannot be met
// (parse_facility_power turns that into a ScenarioError at the key).
models::FacilityPowerParams facility_power_params(const FacilityConfig& facility, const models::DeviceSpec& device,
                                                  const FacilityPowerConfig& power);
GridConfig parse_grid(const yaml::Node& grid, const std::filesystem::path& base_dir, const Scenario& scenario);
// Needs scenario.facility_power, scenario.grid, services, workloads and jobs already read.
PoliciesConfig parse_policies(const yaml::Node& policies, const Scenario& scenario);

// `priority` of a service or job: an integer, higher = more latency-critical. Leaves `out` unchanged when absent.
void read_priority(const yaml::Node& entry, int& out);
// `deferrable: {deadline}` of a workload or job. Leaves the outputs unchanged when absent.
void read_deferrable(const yaml::Node& entry, bool& deferrable, double& deadline_s);

}  // namespace aif::sim
