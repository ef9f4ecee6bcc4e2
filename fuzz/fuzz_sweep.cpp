// A sweep file, read and expanded into its points as `aifsim sweep` does before it runs anything (its scenario,
// a relative path, resolves in the scratch folder: a copy of a small valid scenario is put there).
#include <fstream>

#include "aif/studies/sweep.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool base = [] {
    std::ofstream(aif::fuzz::scratch_dir() + "/base.yaml")
        << "simulation: {duration: 10min}\nservices:\n  - {name: chat, model: Llama-3.1-8B, replicas: 1}\n"
           "workloads:\n  - {name: users, service: chat, arrival: {kind: poisson, rate: 1/s, prompt_tokens: 100,"
           " output_tokens: 50}}\n";
    return true;
  }();
  (void)base;
  const std::string path = aif::fuzz::write_input(data, size, "sweep.yaml");
  aif::fuzz::expect_input_errors([&] { aif::sim::expand_sweep(aif::sim::load_sweep(path)); });
  return 0;
}
