// Small text helpers shared by the CSV readers of sim/ (traces, calibration tables). Private to sim/.
#pragma once
#include <string>
#include <vector>

namespace aif::sim::csv {

inline std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t") - a + 1);
}

// Fields of one CSV line, each trimmed (no quoting: the formats read here have none).
inline std::vector<std::string> split_commas(const std::string& line) {
  std::vector<std::string> fields;
  size_t start = 0;
  for (;;) {
    const size_t comma = line.find(',', start);
    fields.push_back(trim(line.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) return fields;
    start = comma + 1;
  }
}

}  // namespace aif::sim::csv
