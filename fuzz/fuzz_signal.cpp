// Site signal CSVs (carbon intensity, price, outdoor temperature, solar): the columns, then the only value column
// as a time series, as a scenario's signal reads it; and the region table's lookup.
#include "aif/inputs/signals.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = aif::fuzz::write_input(data, size, "signal.csv");
  aif::fuzz::expect_input_errors([&] {
    const auto columns = aif::sim::read_signal_columns(path);
    const auto series = aif::sim::read_signal_csv(path, columns.empty() ? "" : columns.front());
    (void)series.at(3600.0);
  });
  aif::fuzz::expect_input_errors([&] { aif::sim::read_region_carbon(path, "westus"); });
  return 0;
}
