// GPU device profiles (docs/calibration-format.md, data/calibration/<device>.csv): measured kernel tables of one GPU
// type, read and validated into models::KernelTables. The converter that writes them from public measurements is a
// study (aif/studies/device_profile_convert.hpp).
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

}  // namespace aif::sim
