// Site signals read from files: time series (carbon intensity, price, normalised solar, outdoor temperature) from
// CSV, and the average grid carbon intensity of an Azure region. Every problem with a file is one SignalError
// "<file>:<line>: <what was expected, what was found>" (line 1-based; 0 when the file cannot be opened or the
// problem is not on one line). docs/power.md describes the formats.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

#include "aif/models/signals.hpp"

namespace aif::sim {

class SignalError : public std::runtime_error {
 public:
  SignalError(std::string file, int line, const std::string& message);
  const std::string& file() const { return file_; }
  int line() const { return line_; }

 private:
  std::string file_;
  int line_;
};

struct SignalCsvOptions {
  models::Interpolation interpolation = models::Interpolation::LINEAR;
  models::Extrapolation outside = models::Extrapolation::REPEAT;
  double period_s = 0;  // REPEAT period; 0 = the span plus the last step (see models::TimeSeries)
  double scale = 1;     // every value is multiplied by this (unit conversion); finite
};

// A CSV time series: a header line, then one row per sample with the same number of comma-separated fields.
// The first column is the time whatever its name (vessim's WattTime file names it "oootime"), either
//  - seconds (a number, e.g. vessim's solar file: 0, 300, 600, ...), or
//  - a date-time "YYYY-MM-DD HH:MM[:SS[.fff]]" ('T' may replace the space; a trailing "Z" or "+HH:MM"/"-HH:MM"
//    offset is applied), as in the WattTime file;
// every row in the same form, strictly increasing. Times are made relative to the first row (which gets 0 s).
// `column` names the value column; "" picks the only value column (an error when there are several).
// Fields are trimmed, may be wrapped in double quotes; a UTF-8 byte-order mark, CRLF line ends and blank lines at
// the end are accepted. Values must be finite numbers; they are multiplied by options.scale.
models::TimeSeries read_signal_csv(const std::string& path, const std::string& column,
                                   const SignalCsvOptions& options = {});

// The value columns of such a file (its header without the first, time, column), in file order.
std::vector<std::string> read_signal_columns(const std::string& path);

// Average grid carbon intensity (gCO2/kWh) of `region` in the Azure GreenSKU region table
// (data/grid/azure_greensku_dc_region_carbon.csv: columns Region, ..., Avg Grid Intensity, ...; any order).
// The region name must match exactly; an unknown one is an error listing the regions in the file.
double read_region_carbon(const std::string& path, const std::string& region);

}  // namespace aif::sim
