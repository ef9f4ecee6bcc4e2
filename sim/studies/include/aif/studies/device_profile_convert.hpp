// `aifsim calibrate --from aiconfigurator`: writes a GPU's device profile (docs/calibration-format.md) from public
// kernel measurements.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "aif/models/hardware.hpp"

namespace aif::sim {

// Where `aifsim calibrate --from aiconfigurator` reads and what it keeps.
struct ProfileSources {
  std::string aiconfigurator;   // folder with <a100_sxm|h100_sxm|h200_sxm>/{gemm,attention,comm}/... (CSV)
  std::string vidur;            // folder with data/profiling/{compute,network}/... (elementwise ops, send/recv)
  std::string device;           // catalog key: A100-80GB, H100-SXM or H200-SXM
  std::vector<models::ModelArch> models;  // whose shapes (at tp 1, 2, 4, 8) the profile keeps
  std::string aiconfigurator_ref = "(commit not given)";  // the sources' commits, for the provenance header
  std::string vidur_ref = "(commit not given)";
  std::string command;          // how it was invoked, for the provenance header
};

// Writes the profile of `sources.device` to `output` (through a temporary file renamed into place). Returns the
// number of rows written. Problems with the inputs are ScenarioErrors naming the input file and line.
size_t write_device_profile(const ProfileSources& sources, const std::string& output);

}  // namespace aif::sim
