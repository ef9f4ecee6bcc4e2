// The engine catalog's YAML readers, for scenario.cpp. Private to sim/.
#pragma once
#include <map>
#include <string>

#include "aif/scenario/scenario.hpp"
#include "aif/inputs/yaml_util.hpp"

namespace aif::sim {

std::map<std::string, EngineCatalogEntry> parse_engine_catalog(const yaml::Node& root);
// A service's `engine:` (a name, or a map {name, step_overhead, seq_overhead, token_overhead, tp_step_overhead,
// cuda_graphs, kernel_launch} overriding the catalog's values); absent: vllm-0.11. `workers` is the replica's GPU
// count: above 1 the engine's tp_step_overhead is added.
models::EngineProfile parse_service_engine(const yaml::Node& n, const std::map<std::string, EngineCatalogEntry>& catalog,
                                           int workers);

}  // namespace aif::sim
