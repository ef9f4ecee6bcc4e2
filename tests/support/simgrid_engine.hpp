// The one SimGrid engine of a test process, configured as aifsim runs it (sim::simgrid_config_args()).
// SimGrid's engine is a process-wide singleton: create it once, never destroy it.
#pragma once
#include <string>
#include <vector>

#include <simgrid/s4u/Engine.hpp>

#include "aif/world/platform.hpp"

namespace aif::testing {

// `extra` arguments (e.g. "--log=root.thresh:warning") are added on the first call only.
inline simgrid::s4u::Engine& simgrid_engine(const std::string& program, const std::vector<std::string>& extra = {}) {
  // Engine::Engine(int*, char**) keeps pointers into argv: storage that lives as long as the process.
  static std::vector<std::string> args = [&] {
    std::vector<std::string> a{program};
    a.insert(a.end(), extra.begin(), extra.end());
    for (const std::string& c : aif::sim::simgrid_config_args()) a.push_back(c);
    return a;
  }();
  static std::vector<char*> argv = [] {
    std::vector<char*> v;
    for (std::string& s : args) v.push_back(s.data());
    v.push_back(nullptr);
    return v;
  }();
  static int argc = static_cast<int>(args.size());
  static simgrid::s4u::Engine* engine = new simgrid::s4u::Engine(&argc, argv.data());
  return *engine;
}

}  // namespace aif::testing
