// Comparing two configurations run by run (`aifsim compare`): per summary metric, A, B, the difference B - A, the
// relative difference and whether it exceeds run-to-run noise (stats.hpp's welch_test /
// difference_test_known_noise; docs/report.md states the rule). Each side is one or more results files: several files
// per side are replicas (the same configuration over seeds), whose spread is the noise. With one file per side the
// noise is unknown unless it comes from elsewhere: a sweep folder whose points are one configuration over seeds.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "aif/analysis/stats.hpp"

namespace aif::analysis {

// Variance of each summary metric between runs of one configuration, with its degrees of freedom.
struct NoiseEstimate {
  std::string source;  // the sweep folder
  size_t runs = 0;
  std::map<std::string, std::pair<double, double>> variance_df;  // metric -> (sample variance, runs with it - 1)
};
// From an `aifsim sweep` folder (sweep.h5) whose ok points share one axis combination (different seeds).
// ResultsError naming the folder when it is not a sweep folder, has several combinations or fewer than two ok points.
NoiseEstimate noise_from_sweep(const std::string& dir);

struct MetricDifference {
  std::string name, unit;
  std::vector<double> a, b;  // the metric in each file of the side (NaN where absent)
  DifferenceTest test;
  double relative = 0;   // (mean_b - mean_a) / |mean_a|; NaN when mean_a is 0 or NaN
  std::string verdict;   // "significant", "not significant", "noise unknown (...)"
};

struct RunComparison {
  std::vector<std::string> a_files, b_files;
  std::string noise;  // how the noise was decided, one line
  std::vector<MetricDifference> metrics;
};

// Reads every file's /summary (request metrics computed from /requests for a file without one); ResultsError naming
// the file for a missing, foreign or damaged one. Metrics: those with a value on both sides, in the order of the
// first A file. noise: nullptr, or an estimate used instead of the sides' own spread.
RunComparison compare_runs(const std::vector<std::string>& a_files, const std::vector<std::string>& b_files,
                           const NoiseEstimate* noise = nullptr);

// Aligned text table: metric, unit, A, B, B - A, relative, p, verdict.
std::string format_comparison(const RunComparison& comparison);
// JSON: {"a": [...], "b": [...], "noise": "...", "metrics": [{"name", "unit", "a", "b", "mean_a", "mean_b",
// "difference", "relative", "std_error", "df", "t", "p_value", "ci95": [lo, hi], "significant", "verdict"}]},
// null for NaN.
std::string comparison_json(const RunComparison& comparison);

}  // namespace aif::analysis
