// A scenario file: the bytes as YAML, parsed, validated and resolved as `aifsim run` and `validate` do (paths in it
// resolve beside it, in the scratch folder).
#include "aif/scenario/scenario.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = aif::fuzz::write_input(data, size, "scenario.yaml");
  aif::fuzz::expect_input_errors([&] { aif::sim::load_scenario(path); });
  return 0;
}
