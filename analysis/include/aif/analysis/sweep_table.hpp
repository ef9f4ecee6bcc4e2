// The sweep table as HDF5 (`aifsim sweep` writes DIR/sweep.h5 beside sweep.csv): one row per point, as columns.
//   /points/id, /points/status            vlen UTF-8 strings
//   /points/seed                          uint64
//   /points/axes/<i>                      vlen UTF-8 strings (the value as given); attribute "key": the key path
//   /points/metrics/<name>                float64, NaN where a point has no value; attribute "unit"
// The file is written to "<path>.tmp" and renamed into place.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace aif::analysis {

struct SweepTable {
  std::vector<std::string> ids, statuses;
  std::vector<uint64_t> seeds;
  std::vector<std::pair<std::string, std::vector<std::string>>> axes;  // key path -> value per point
  std::vector<std::string> metrics;                                      // names, in column order
  std::map<std::string, std::string> units;                              // metric -> unit
  std::map<std::string, std::vector<double>> values;                     // metric -> value per point
};

// Throws ResultsError naming the file.
void write_sweep_table(const std::string& path, const SweepTable& table);
SweepTable read_sweep_table(const std::string& path);  // metrics in name order

}  // namespace aif::analysis
