// Calibration tables of aifsim-kbench (docs/calibration-format.md): reading and validating the CSV. The fit of the
// engine's per-step cost against them is a study (aif/studies/calibration_fit.hpp).
#pragma once
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "aif/models/calibration.hpp"
#include "aif/models/hardware.hpp"

namespace aif::sim {

// The format version this reader understands (header "# format_version: 1", or kbench's title line
// "# aifsim calibration table, format_version 1 (...)").
inline constexpr int CALIBRATION_FORMAT_VERSION = 1;

// Operators a table may time (the `op` column); anything else is an error that lists these.
const std::vector<std::string>& calibration_ops();

// Reads and validates a kbench calibration CSV. Every problem is one ScenarioError(file, line, column, message):
// the 1-based line (0 when the file cannot be opened) and the column name as key path ("" for whole-line problems;
// the header key, e.g. "peak_flop_per_s", for header problems). Columns are looked up by name; unknown ones are
// ignored. Required columns: op, tp, tokens, batch, kv_len, n, k, median_s, flop, bytes; p10_s and p90_s are read
// when present. Header keys peak_flop_per_s and peak_bytes_per_s (> 0) are required; the optional keys
// iteration_overhead_s, overhead_per_seq_s, overhead_per_token_s, overhead_per_key_s and overhead_per_prefill_pair_s
// (written by `aifsim calibrate`) must be
// numbers >= 0. A grid point (op, tp, tokens, batch, kv_len, n, k) may appear once.
models::CalibrationTable read_calibration_csv(const std::string& path);

// The rows of a kbench table whose measurement is an outlier on one of its curves (docs/calibration-format.md:
// at least 1.5x slower than a larger size of the same operator and shape), by operator: an operator's rows over
// tokens; attention's over keys at each batch (chunk) and over the batch (chunk) at each cached prefix.
struct KbenchOutliers {
  std::vector<int> lines;                // the rows' lines in the file
  std::map<std::string, size_t> by_op;   // how many per operator
  double factor = 0;                     // the rule's factor
};
KbenchOutliers kbench_outliers(const models::CalibrationTable& table);

// A header value of the table as a number, or `fallback` when the key is absent (read_calibration_csv has already
// checked the value).
double calibration_header_number(const models::CalibrationTable& table, const std::string& key, double fallback);

}  // namespace aif::sim
