// A sweep file, read and expanded into its points as `aifsim sweep` does before it runs anything (its scenario,
// a relative path, resolves in the scratch folder: a copy of a small valid scenario is put there).
#include "aif/studies/sweep.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  aif::fuzz::write_base_scenario();
  const std::string path = aif::fuzz::write_input(data, size, "sweep.yaml");
  aif::fuzz::expect_input_errors([&] { aif::sim::expand_sweep(aif::sim::load_sweep(path)); });
  return 0;
}
