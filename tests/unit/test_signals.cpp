// Site signals: models::TimeSeries (interpolation, hold/repeat, exact integrals, all by hand) and the CSV readers of
// sim/signals.hpp against the real files in data/grid (row counts, first and last values from the files) and
// malformed files under tests/data/bad_signals (one SignalError naming the file and line).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "../support/expect_hand.hpp"
#include "aif/models/signals.hpp"
#include "aif/inputs/signals.hpp"

namespace fs = std::filesystem;
using aif::models::Extrapolation;
using aif::models::Interpolation;
using aif::models::TimeSeries;
using aif::sim::SignalError;

using aif::testing::expect_invalid;

namespace {

std::string grid_path(const std::string& name) { return std::string(AIF_SOURCE_DIR) + "/data/grid/" + name; }
std::string bad_path(const std::string& name) {
  return std::string(AIF_SOURCE_DIR) + "/tests/data/bad_signals/" + name;
}

const char* const WATTTIME = "vessim_watttime_example.csv";
const char* const SOLAR = "vessim_solar_example.csv";
const char* const REGIONS = "azure_greensku_dc_region_carbon.csv";

// A file written by a test, removed at the end.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& text)
      : path_((fs::temp_directory_path() / ("aif_test_signals_" + std::to_string(::getpid()) + "_" + name)).string()) {
    std::ofstream(path_, std::ios::binary) << text;
  }
  ~TempFile() { fs::remove(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs f, expects exactly one SignalError on `line` of `file` whose message contains `fragment`.
template <class F>
void expect_signal_error(F f, const std::string& file, int line, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "no error for " << file << " (expected line " << line << ": " << fragment << ")";
  } catch (const SignalError& e) {
    std::printf("  %s\n", e.what());
    EXPECT_EQ(e.file(), file);
    EXPECT_EQ(e.line(), line) << e.what();
    const std::string prefix = file + ":" + std::to_string(line) + ": ";
    EXPECT_EQ(std::string(e.what()).rfind(prefix, 0), 0u) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

// 0 -> 10 -> 0 over [0, 20] s, linear.
TimeSeries triangle(Extrapolation outside) {
  return TimeSeries({{0, 0}, {10, 10}, {20, 0}}, Interpolation::LINEAR, outside);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------------
// TimeSeries

TEST(TimeSeries, LinearInterpolatesAndHoldsTheEndValues) {
  const TimeSeries s = triangle(Extrapolation::HOLD);
  EXPECT_DOUBLE_EQ(s.at(0), 0);
  EXPECT_DOUBLE_EQ(s.at(5), 5);
  EXPECT_DOUBLE_EQ(s.at(10), 10);
  EXPECT_DOUBLE_EQ(s.at(15), 5);
  EXPECT_DOUBLE_EQ(s.at(-3), 0);
  EXPECT_DOUBLE_EQ(s.at(25), 0);
  // Trapezoids by hand: the whole triangle 100; [5, 15] = 37.5 + 37.5; nothing added outside (values 0 there).
  EXPECT_DOUBLE_EQ(s.integral(0, 20), 100);
  EXPECT_DOUBLE_EQ(s.integral(5, 15), 75);
  EXPECT_DOUBLE_EQ(s.integral(-10, 30), 100);
  EXPECT_DOUBLE_EQ(s.integral(7, 7), 0);
  EXPECT_DOUBLE_EQ(s.mean(0, 20), 5);
  // Non-zero ends held: 2 x 5 before, the trapezoid 30 inside, 4 x 5 after.
  const TimeSeries ramp({{0, 2}, {10, 4}});
  EXPECT_DOUBLE_EQ(ramp.integral(-5, 15), 60);
  EXPECT_DOUBLE_EQ(ramp.integral(-5, -1), 8);
  EXPECT_DOUBLE_EQ(ramp.integral(12, 14), 8);
}

TEST(TimeSeries, StepHoldsEachValueUntilTheNextPoint) {
  const TimeSeries s({{0, 1}, {10, 3}, {20, 2}}, Interpolation::STEP);
  EXPECT_DOUBLE_EQ(s.at(0), 1);
  EXPECT_DOUBLE_EQ(s.at(9.99), 1);
  EXPECT_DOUBLE_EQ(s.at(10), 3);
  EXPECT_DOUBLE_EQ(s.at(25), 2);
  EXPECT_DOUBLE_EQ(s.at(-1), 1);
  EXPECT_DOUBLE_EQ(s.integral(5, 25), 1 * 5 + 3 * 10 + 2 * 5);
  EXPECT_DOUBLE_EQ(s.integral(-5, 0), 5);
  EXPECT_DOUBLE_EQ(s.integral(12, 13), 3);
}

TEST(TimeSeries, RepeatWrapsAroundWithThePeriod) {
  // Automatic period = span 10 + last step 10 = 20: the wrap segment [10, 20) goes back from 10 to 0.
  const TimeSeries s({{0, 0}, {10, 10}}, Interpolation::LINEAR, Extrapolation::REPEAT);
  EXPECT_DOUBLE_EQ(s.period_s(), 20);
  EXPECT_DOUBLE_EQ(s.at(15), 5);
  EXPECT_DOUBLE_EQ(s.at(20), 0);
  EXPECT_DOUBLE_EQ(s.at(25), 5);
  EXPECT_DOUBLE_EQ(s.at(-5), 5);
  EXPECT_DOUBLE_EQ(s.at(-15), 5);
  EXPECT_DOUBLE_EQ(s.at(1e6 + 10), 10);
  // 100 per period: [5, 65] is three periods; [0, 50] two periods and the rising half (50); [-15, 5] one period.
  EXPECT_DOUBLE_EQ(s.integral(5, 65), 300);
  EXPECT_DOUBLE_EQ(s.integral(0, 50), 250);
  EXPECT_DOUBLE_EQ(s.integral(-15, 5), 100);
  // A year of a 20 s wave: 1,576,800 periods of 100, to rounding.
  EXPECT_NEAR(s.integral(0, 365 * 86400.0), 1576800 * 100.0, 1e-6);
  EXPECT_EQ(s.breakpoints(5, 45), (std::vector<double>{10, 20, 30, 40}));

  // STEP with an explicit period 30: 1 on [0, 10), 3 on [10, 30); 70 per period.
  const TimeSeries step({{0, 1}, {10, 3}}, Interpolation::STEP, Extrapolation::REPEAT, 30);
  EXPECT_DOUBLE_EQ(step.at(35), 1);
  EXPECT_DOUBLE_EQ(step.at(45), 3);
  EXPECT_DOUBLE_EQ(step.at(-5), 3);
  EXPECT_DOUBLE_EQ(step.integral(0, 100), 3 * 70 + 10);

  // Period equal to the span: a sawtooth; at a period boundary the next period's first value applies.
  const TimeSeries saw({{0, 0}, {10, 10}}, Interpolation::LINEAR, Extrapolation::REPEAT, 10);
  EXPECT_DOUBLE_EQ(saw.at(10), 0);
  EXPECT_DOUBLE_EQ(saw.at(19), 9);
  EXPECT_DOUBLE_EQ(saw.integral(0, 30), 150);
}

TEST(TimeSeries, ProductIntegralsAreExact) {
  const TimeSeries up({{0, 0}, {2, 2}});
  const TimeSeries down({{0, 2}, {2, 0}});
  // integral_0^2 t (2 - t) dt = 4 - 8/3; integral_0^2 t^2 dt = 8/3; held ends: up = 2, down = 0 after t = 2.
  EXPECT_NEAR(up.integral_product(down, 0, 2), 4.0 / 3.0, 1e-12);
  EXPECT_NEAR(up.integral_product(down, 0, 3), 4.0 / 3.0, 1e-12);
  EXPECT_NEAR(up.integral_product(up, 0, 2), 8.0 / 3.0, 1e-12);
  EXPECT_NEAR(up.integral_product(up, 1, 3), (8.0 - 1.0) / 3.0 + 4.0, 1e-12);
  // STEP 1 then 3 at t = 1, against t: integral_0^1 t + integral_1^2 3 t = 0.5 + 4.5.
  const TimeSeries step({{0, 1}, {1, 3}}, Interpolation::STEP);
  EXPECT_NEAR(step.integral_product(up, 0, 2), 5.0, 1e-12);
  EXPECT_NEAR(up.integral_product(step, 0, 2), 5.0, 1e-12);
  // A repeating triangle (period 20) times 2: twice its integral; times itself over one period: 2 x 1000/3.
  const TimeSeries wave({{0, 0}, {10, 10}}, Interpolation::LINEAR, Extrapolation::REPEAT);
  EXPECT_NEAR(wave.integral_product(TimeSeries::constant(2), 5, 65), 600, 1e-9);
  EXPECT_NEAR(wave.integral_product(wave, 0, 20), 2000.0 / 3.0, 1e-9);
  EXPECT_NEAR(wave.integral_product(wave, 0, 60), 2000.0, 1e-9);
  // Breakpoints that do not line up: a 20 s wave against a 7 s step series; check against fine sums of exact pieces.
  const TimeSeries odd({{0, 1}, {7, 2}}, Interpolation::STEP, Extrapolation::REPEAT, 14);
  double by_pieces = 0;
  for (int k = 0; k < 70; ++k) by_pieces += odd.at(k + 0.5) * wave.integral(k, k + 1.0);  // odd is constant per 1 s
  EXPECT_NEAR(wave.integral_product(odd, 0, 70), by_pieces, 1e-9);
}

TEST(TimeSeries, ConstantScaledAndExtremes) {
  const TimeSeries c = TimeSeries::constant(7);
  EXPECT_DOUBLE_EQ(c.at(-1e9), 7);
  EXPECT_DOUBLE_EQ(c.integral(-5, 5), 70);
  const TimeSeries s = triangle(Extrapolation::REPEAT).scaled(3);
  EXPECT_DOUBLE_EQ(s.integral(0, 20), 300);
  EXPECT_DOUBLE_EQ(s.max_value(), 30);
  EXPECT_DOUBLE_EQ(s.min_value(), 0);
  EXPECT_DOUBLE_EQ(s.mean(0, 7), 10.5);  // 3 x 3.5
}

TEST(TimeSeries, InvalidInputIsNamed) {
  expect_invalid([] { TimeSeries({}); }, "no points");
  expect_invalid([] { TimeSeries({{0, 1}, {0, 2}}); }, "strictly increasing");
  expect_invalid([] { TimeSeries({{0, 1}, {5, 2}, {3, 2}}); }, "point 2 has t = 3 s after point 1 at t = 5 s");
  expect_invalid([] { TimeSeries({{0, 1}, {5, std::nan("")}}); }, "non-finite value");
  expect_invalid(
      [] {
        TimeSeries({{0, 1}, {10, 2}}, Interpolation::LINEAR, Extrapolation::REPEAT, 5);
      },
      "shorter than the span");
  expect_invalid([] { TimeSeries::constant(1).integral(5, 1); }, "expected finite t0 <= t1");
}

// ---------------------------------------------------------------------------------------------------------------------
// Real files

TEST(SignalCsv, WattTimeCarbonSeriesParses) {
  // Header "oootime,Caiso_North" (the malformed first name is taken as the time column), 8,928 rows every 5 min
  // from 2023-06-08 00:00:00 to 2023-07-08 23:55:00: 31 days minus 300 s.
  const TimeSeries s = aif::sim::read_signal_csv(grid_path(WATTTIME), "Caiso_North");
  const auto& p = s.points();
  std::printf("WattTime: %zu rows, last at %.0f s (expected 8928, 2678100), first %.8f, last %.8f\n", p.size(),
              p.back().time_s, p.front().value, p.back().value);
  ASSERT_EQ(p.size(), 8928u);
  EXPECT_EQ(p.front().time_s, 0);
  EXPECT_EQ(p[1].time_s, 300);
  EXPECT_EQ(p.back().time_s, 31 * 86400.0 - 300);
  EXPECT_DOUBLE_EQ(p.front().value, 425.01605069);
  EXPECT_DOUBLE_EQ(p[1].value, 432.27352861);
  EXPECT_DOUBLE_EQ(p.back().value, 441.79896838);
  EXPECT_DOUBLE_EQ(s.period_s(), 31 * 86400.0);  // repeats by default, one step after the last row
  EXPECT_DOUBLE_EQ(s.at(150), (425.01605069 + 432.27352861) / 2);
  EXPECT_DOUBLE_EQ(s.integral(0, 300), 150 * (425.01605069 + 432.27352861));
  EXPECT_DOUBLE_EQ(s.at(31 * 86400.0), 425.01605069);  // a month later the series starts again
  // "" picks the only value column; HOLD keeps the last value after the end.
  aif::sim::SignalCsvOptions hold;
  hold.outside = Extrapolation::HOLD;
  hold.scale = 1e-3;  // to kgCO2/kWh
  const TimeSeries held = aif::sim::read_signal_csv(grid_path(WATTTIME), "", hold);
  EXPECT_DOUBLE_EQ(held.at(1e8), 0.44179896838);
  EXPECT_EQ(aif::sim::read_signal_columns(grid_path(WATTTIME)), (std::vector<std::string>{"Caiso_North"}));
}

TEST(SignalCsv, VessimSolarSeriesParses) {
  const std::vector<std::string> cities = aif::sim::read_signal_columns(grid_path(SOLAR));
  ASSERT_EQ(cities.size(), 10u);
  EXPECT_EQ(cities.front(), "Berlin");
  EXPECT_EQ(cities.back(), "São Paulo");
  const TimeSeries sf = aif::sim::read_signal_csv(grid_path(SOLAR), "San Francisco");
  const auto& p = sf.points();
  std::printf("solar San Francisco: %zu rows, last at %.0f s (expected 8352, 2505300)\n", p.size(), p.back().time_s);
  ASSERT_EQ(p.size(), 8352u);
  EXPECT_EQ(p.back().time_s, 2505300);
  EXPECT_DOUBLE_EQ(p.front().value, 0.298997);
  EXPECT_DOUBLE_EQ(p[1].value, 0.361937);
  EXPECT_DOUBLE_EQ(p.back().value, 0.498582);
  EXPECT_GE(sf.min_value(), 0);
  EXPECT_LE(sf.max_value(), 1);
  EXPECT_DOUBLE_EQ(aif::sim::read_signal_csv(grid_path(SOLAR), "São Paulo").points().front().value, 0.0);
}

TEST(SignalCsv, AzureRegionCarbon) {
  EXPECT_DOUBLE_EQ(aif::sim::read_region_carbon(grid_path(REGIONS), "useast"), 397);
  EXPECT_DOUBLE_EQ(aif::sim::read_region_carbon(grid_path(REGIONS), "uswest2"), 24);
  EXPECT_DOUBLE_EQ(aif::sim::read_region_carbon(grid_path(REGIONS), "europewest"), 291);
  EXPECT_DOUBLE_EQ(aif::sim::read_region_carbon(grid_path(REGIONS), "usnorth"), 397);  // last row, no final newline
  expect_signal_error([] { aif::sim::read_region_carbon(grid_path(REGIONS), "mars"); }, grid_path(REGIONS), 0,
                      "no region 'mars' in the table; regions: europewest, useast");
}

TEST(SignalCsv, DateTimesOffsetsQuotesAndLineEnds) {
  // 01:00:00.5 at +01:00 is 00:00:00.5 UTC; 2024 is a leap year: Feb 28 23:00 to Mar 1 01:00 is 26 h.
  const TempFile zoned("zoned.csv", "time,v\n2023-06-08T00:00:00Z,1\n2023-06-08T01:00:00.5+01:00,2\n");
  EXPECT_EQ(aif::sim::read_signal_csv(zoned.path(), "v").points().back().time_s, 0.5);
  const TempFile leap("leap.csv", "time,v\n2024-02-28 23:00,1\n2024-03-01 01:00,2\n");
  EXPECT_EQ(aif::sim::read_signal_csv(leap.path(), "v").points().back().time_s, 26 * 3600.0);
  const TempFile quoted("quoted.csv", "\xEF\xBB\xBF\"time\",\"v\"\r\n\"100\",\"1\"\r\n\"110\",\"+2.5\"\r\n\r\n");
  const TimeSeries q = aif::sim::read_signal_csv(quoted.path(), "v");
  ASSERT_EQ(q.points().size(), 2u);
  EXPECT_EQ(q.points()[1].time_s, 10);  // relative to the first row
  EXPECT_EQ(q.points()[1].value, 2.5);
}

// ---------------------------------------------------------------------------------------------------------------------
// Malformed files: one SignalError with the file and the line

TEST(SignalCsv, MalformedFilesNameFileAndLine) {
  auto read = [](const std::string& name, const std::string& column) {
    return [name, column] { aif::sim::read_signal_csv(bad_path(name), column); };
  };
  expect_signal_error(read("01_empty.csv", "carbon"), bad_path("01_empty.csv"), 1, "the file is empty");
  expect_signal_error(read("02_header_only.csv", "carbon"), bad_path("02_header_only.csv"), 1, "no data rows");
  expect_signal_error(read("03_missing_column.csv", "carbon_intensity"), bad_path("03_missing_column.csv"), 1,
                      "no column 'carbon_intensity' in the header; value columns: carbon, price");
  expect_signal_error(read("03_missing_column.csv", "time"), bad_path("03_missing_column.csv"), 1,
                      "'time' is the time column");
  expect_signal_error(read("03_missing_column.csv", ""), bad_path("03_missing_column.csv"), 1,
                      "the file has 2 value columns; name one of them: carbon, price");
  expect_signal_error(read("04_non_numeric_value.csv", "carbon"), bad_path("04_non_numeric_value.csv"), 4,
                      "column 'carbon': expected a finite number, found 'abc'");
  expect_signal_error(read("05_time_backwards.csv", "carbon"), bad_path("05_time_backwards.csv"), 4,
                      "time '2023-06-08 00:03:00' is not after '2023-06-08 00:05:00' on line 3");
  expect_signal_error(read("06_time_repeated.csv", "carbon"), bad_path("06_time_repeated.csv"), 4,
                      "times must be strictly increasing");
  expect_signal_error(read("07_too_few_fields.csv", "carbon"), bad_path("07_too_few_fields.csv"), 3,
                      "expected 2 comma-separated fields like the header, found 1");
  expect_signal_error(read("08_blank_line_in_middle.csv", "carbon"), bad_path("08_blank_line_in_middle.csv"), 3,
                      "blank line in the middle");
  expect_signal_error(read("09_mixed_time_kinds.csv", "carbon"), bad_path("09_mixed_time_kinds.csv"), 3,
                      "the first row gives seconds, but this row has '2023-06-08 00:05:00'");
  expect_signal_error(read("10_empty_value.csv", "carbon"), bad_path("10_empty_value.csv"), 3,
                      "expected a number, found an empty field");
  expect_signal_error(read("11_bad_time.csv", "carbon"), bad_path("11_bad_time.csv"), 2,
                      "expected seconds (a number) or a date-time like 2023-06-08 00:05:00, found 'noon'");
  expect_signal_error(read("12_nan_value.csv", "carbon"), bad_path("12_nan_value.csv"), 3, "found 'nan'");
  expect_signal_error(read("13_invalid_date.csv", "carbon"), bad_path("13_invalid_date.csv"), 2,
                      "found '2023-02-29 00:00:00'");
  expect_signal_error(read("does_not_exist.csv", "carbon"), bad_path("does_not_exist.csv"), 0, "cannot open");
  // A repeat period shorter than the file's span is not on one line.
  aif::sim::SignalCsvOptions short_period;
  short_period.period_s = 1000;
  expect_signal_error([&] { aif::sim::read_signal_csv(grid_path(WATTTIME), "Caiso_North", short_period); },
                      grid_path(WATTTIME), 0, "shorter than the span");
  // Region tables.
  expect_signal_error([] { aif::sim::read_region_carbon(bad_path("20_region_no_intensity.csv"), "europewest"); },
                      bad_path("20_region_no_intensity.csv"), 1, "no column 'Avg Grid Intensity'");
  EXPECT_DOUBLE_EQ(aif::sim::read_region_carbon(bad_path("21_region_bad_intensity.csv"), "europewest"), 291);
  expect_signal_error([] { aif::sim::read_region_carbon(bad_path("21_region_bad_intensity.csv"), "useast"); },
                      bad_path("21_region_bad_intensity.csv"), 3, "found 'n/a'");
}
