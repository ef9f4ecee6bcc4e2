// GPU device profiles (docs/calibration-format.md, data/calibration/<device>.csv): measured kernel tables of one GPU
// type, read and validated into models::KernelTables; and the converter that writes them from public measurements
// (`aifsim calibrate --from aiconfigurator`).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "aif/models/hardware.hpp"
#include "aif/models/kernel_tables.hpp"

namespace aif::sim {

inline constexpr int DEVICE_PROFILE_FORMAT_VERSION = 1;

// Reads a device profile. Every problem is one ScenarioError(file, line, column, message); rows are checked for the
// fields their operator needs (and nothing else), positive sizes and times, and no point given twice.
std::shared_ptr<const models::KernelTables> read_device_profile(const std::string& path);

// The bundled profile of a catalog device, <data dir>/calibration/<device>.csv, or "" when there is none.
std::string device_profile_path(const std::string& device);

// The profile of a catalog device, read once per process (scenarios, plans and sweeps share it).
std::shared_ptr<const models::KernelTables> cached_device_profile(const std::string& path);

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
