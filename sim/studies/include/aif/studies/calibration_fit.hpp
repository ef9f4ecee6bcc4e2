// The fit behind `aifsim calibrate`: the per-step cost of the real engine that a kbench table's operator sum does not
// explain (docs/calibration-format.md).
#pragma once
#include <cstddef>
#include <string>

#include "aif/models/calibration.hpp"
#include "aif/models/hardware.hpp"
#include "aif/inputs/calibration.hpp"

namespace aif::sim {

// Per-step cost of the real engine that the operator sum of the table does not explain, fitted as per_step_s +
// per_seq_s * sequences + per_token_s * tokens + per_key_s * decode keys + per_prefill_pair_s * prefill query-key
// pairs over the /iterations of an `aifsim-engine profile` results file. 
struct StepOverhead {
  double per_step_s = 0, per_seq_s = 0, per_token_s = 0, per_key_s = 0;  // per_key: keys read by decode tokens
  double per_prefill_pair_s = 0;  // per query-key pair of the prefill chunks
  double mape_before = 0, mape_after = 0;  // median absolute percentage error of the step time, without / with it
  size_t iterations = 0;                   // steps used by the fit
};
StepOverhead fit_step_overhead(const models::CalibrationTable& table, const models::ModelArch& arch,
                               const std::string& profile_h5);

// What `aifsim calibrate` writes for this CPU: the kbench table at `kbench_table` without its outlier rows
// (kbench_outliers) and without an earlier fit, with the step overhead fitted on the steps of `profile_h5` at the
// end of its header (docs/calibration-format.md). Written to "<output>.tmp", read back, renamed into place.
struct CalibratedTable {
  StepOverhead fit;
  KbenchOutliers outliers;
  std::string outliers_text;  // "gate_up 2, down 1" or "none", as the header says it
  size_t rows = 0;  // measurements kept
};
CalibratedTable write_calibrated_table(const std::string& kbench_table, const models::ModelArch& arch,
                                       const std::string& profile_h5, const std::string& output);

}  // namespace aif::sim
