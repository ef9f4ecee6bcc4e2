// Sweeps: a base scenario and axes over any of its key paths, expanded into points that `aifsim sweep` runs as
// separate processes (one SimGrid engine each). The sweep file (YAML, relative paths from its folder):
//
//   base: ../default.yaml
//   axes:
//     - {key: services[0].replicas, values: [1, 2, 4]}
//     - {key: workloads[0].arrival.rate, range: {from: 1/s, to: 10/s, steps: 4}}      # linear, ends included
//                                     (steps: grid values; a sampled sweep draws in [from, to] without them)
//     - {key: facility.power.rack_power_limit, log_range: {from: 10kW, to: 40kW, steps: 3}}
//   sample: grid            # or {latin_hypercube: N} or {random: N}
//   seeds: 3                # each point with simulation.seed = seed, seed + 1, ...
//   seed: 1
//
// Range ends are a number with an optional unit suffix (the same on both ends); values are YAML scalars as the
// scenario would take them. Every point's scenario is validated before anything runs.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace aif::sim {

struct SweepAxis {
  std::string key;
  std::vector<std::string> values;  // grid values, as YAML text
  // Ranges (for latin_hypercube and random sampling: drawn in [from, to], log-uniformly for log_range).
  bool range = false, log = false;
  double from = 0, to = 0;
  std::string unit;  // suffix of the range ends ("/s", "kW", "")
};

struct SweepConfig {
  std::string path;       // the sweep file
  std::string base_path;  // resolved base scenario
  std::vector<SweepAxis> axes;
  enum class Sample { GRID, LATIN_HYPERCUBE, RANDOM } sample = Sample::GRID;
  int samples = 0;        // latin_hypercube / random
  int seeds = 1;
  uint64_t seed = 1;
};

struct SweepPoint {
  std::string id;                                      // "p0003" or "p0003-s1"
  int index = 0;                                       // the axis combination
  int seed_index = 0;
  std::vector<std::pair<std::string, std::string>> values;  // axis key -> value (YAML text)
  uint64_t seed = 0;
  std::vector<std::string> overrides() const;          // "key=value" for --set, the seed last
};

// Every combination of the named value lists, the last list varying fastest: each combination is (name, value)
// pairs in list order. Shared by sweeps' grids and capacity plans' spaces.
using Combination = std::vector<std::pair<std::string, std::string>>;
std::vector<Combination> grid_product(const std::vector<std::pair<std::string, std::vector<std::string>>>& lists);

// Throws ScenarioError naming the sweep file, line and key.
SweepConfig load_sweep(const std::string& path);
// The points in a fixed order (combination, then seed); with check_scenarios, loads each point's scenario (a
// ScenarioError names the point's overrides).
std::vector<SweepPoint> expand_sweep(const SweepConfig& config, bool check_scenarios = true);

}  // namespace aif::sim
