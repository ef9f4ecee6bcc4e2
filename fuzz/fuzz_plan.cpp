// A plan file, read and enumerated into its candidates as `aifsim plan` does before it runs anything (its base
// scenario resolves in the scratch folder, where a small valid one is put).
#include <fstream>

#include "aif/studies/plan.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool base = [] {
    std::ofstream(aif::fuzz::scratch_dir() + "/base.yaml")
        << "simulation: {duration: 10min}\nservices:\n  - {name: chat, model: Llama-3.1-8B, replicas: 1,"
           " slo: {ttft: 1s, tpot: 50ms}}\nworkloads:\n  - {name: users, service: chat, arrival: {kind: poisson,"
           " rate: 1/s, prompt_tokens: 100, output_tokens: 50}}\n";
    return true;
  }();
  (void)base;
  const std::string path = aif::fuzz::write_input(data, size, "plan.yaml");
  aif::fuzz::expect_input_errors([&] { aif::sim::enumerate_candidates(aif::sim::load_plan(path)); });
  return 0;
}
