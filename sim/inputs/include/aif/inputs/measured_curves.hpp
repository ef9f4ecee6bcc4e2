// The outlier rule of every converter of measured kernel tables (docs/calibration-format.md): GPU device profiles
// (aifsim calibrate --from aiconfigurator) and this machine's kbench tables (aifsim calibrate --device cpu-local).
#pragma once
#include <limits>
#include <map>
#include <vector>

namespace aif::sim::measured {

// A measurement at least this much slower than one of a larger size on the same curve (more GEMM rows, a longer
// prompt, a larger message) is a fault of that measurement: a kernel that handles the larger size could handle the
// smaller one padded. Below this factor the measurements' own noise (and a library's real preference for some sizes,
// as OpenBLAS's for multiples of its block) is kept.
constexpr double OUTLIER_FACTOR = 1.5;

// The sizes of a curve (size -> seconds) measured at least OUTLIER_FACTOR slower than a larger size of the curve
// that is not itself an outlier.
inline std::vector<double> outlier_sizes(const std::map<double, double>& curve) {
  std::vector<double> out;
  double faster_beyond = std::numeric_limits<double>::infinity();  // min time over larger sizes kept
  for (auto it = curve.rbegin(); it != curve.rend(); ++it) {
    if (it->second > OUTLIER_FACTOR * faster_beyond) out.push_back(it->first);
    else faster_beyond = std::min(faster_beyond, it->second);
  }
  return out;
}

}  // namespace aif::sim::measured
