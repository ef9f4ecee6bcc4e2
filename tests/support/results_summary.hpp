// The /summary of a results file as a name -> value map, for tests that compare many metrics.
#pragma once
#include <map>
#include <string>

#include "aif/analysis/results.hpp"

namespace aif::testing {

inline std::map<std::string, double> summary_of(const aif::analysis::ResultsReader& r) {
  std::map<std::string, double> out;
  for (const auto& e : r.summary()) out[e.name] = e.value;
  return out;
}

}  // namespace aif::testing
