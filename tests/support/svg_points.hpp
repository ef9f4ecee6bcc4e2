// The vertices of every <polyline> of an SVG text, in document order (the report and chart tests read charts back).
#pragma once
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace aif::testing {

inline std::vector<std::vector<std::pair<double, double>>> polylines(const std::string& svg) {
  // Scanned by hand: std::regex recurses per character and overflows the stack on long point lists.
  std::vector<std::vector<std::pair<double, double>>> out;
  for (size_t at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1)) {
    const size_t begin = svg.find(" points=\"", at) + 9, end = svg.find('"', begin);
    std::vector<std::pair<double, double>> points;
    std::istringstream in(svg.substr(begin, end - begin));
    for (std::string xy; in >> xy;) {
      const size_t comma = xy.find(',');
      points.emplace_back(std::stod(xy.substr(0, comma)), std::stod(xy.substr(comma + 1)));
    }
    out.push_back(points);
  }
  return out;
}

}  // namespace aif::testing
