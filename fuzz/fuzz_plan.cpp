// A plan file, read and enumerated into its candidates as `aifsim plan` does before it runs anything (its base
// scenario resolves in the scratch folder, where a small valid one is put).
#include "aif/studies/plan.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  aif::fuzz::write_base_scenario();
  const std::string path = aif::fuzz::write_input(data, size, "plan.yaml");
  aif::fuzz::expect_input_errors([&] { aif::sim::enumerate_candidates(aif::sim::load_plan(path)); });
  return 0;
}
