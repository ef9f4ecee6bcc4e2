// Request traces: the first byte picks the format (Azure CSV, plain CSV, Mooncake JSONL), the rest is the file.
#include "aif/inputs/trace.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int format = data[0] % 3;
  const std::string path =
      aif::fuzz::write_input(data + 1, size - 1, format == 2 ? "trace.jsonl" : "trace.csv");
  aif::fuzz::expect_input_errors([&] {
    if (format == 0) aif::sim::read_azure_csv(path);
    if (format == 1) aif::sim::read_csv_trace(path);
    if (format == 2) aif::sim::read_mooncake_jsonl(path);
  });
  return 0;
}
