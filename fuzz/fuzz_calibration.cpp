// Calibration tables (CPU kernel tables and GPU device profiles): the first byte picks which, the rest is the file.
#include "aif/inputs/calibration.hpp"
#include "aif/inputs/device_profile.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string path = aif::fuzz::write_input(data + 1, size - 1, "table.csv");
  aif::fuzz::expect_input_errors([&] {
    if (data[0] % 2 == 0) {
      aif::sim::read_calibration_csv(path);
    } else {
      aif::sim::read_device_profile(path);
    }
  });
  return 0;
}
