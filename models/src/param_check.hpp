// Checks of model parameters shared by the models' sources (private to models/src): the message names the parameter,
// the range expected and the value found.
#pragma once
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>

namespace aif::models::detail {

inline std::string number(double x) {
  std::ostringstream s;
  s.precision(10);
  s << x;
  return s.str();
}

// Throws "<what>: expected <range>, found <x>" unless lo <= x <= hi (open ends when the flags say so).
inline void require(const std::string& what, double x, double lo, double hi, bool lo_open, bool hi_open,
                    const char* range) {
  const bool ok = std::isfinite(x) && (lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi);
  if (!ok) throw std::invalid_argument(what + ": expected " + range + ", found " + number(x));
}

constexpr double INF = std::numeric_limits<double>::infinity();

}  // namespace aif::models::detail
