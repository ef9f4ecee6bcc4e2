#include <set>
#include <fstream>
#include <filesystem>
#include <cstdio>
#include <algorithm>
#include <array>
#include <cmath>

#include "aif/analysis/results.hpp"
#include "aif/analysis/stats.hpp"
#include "aif/models/perf.hpp"
#include "aif/inputs/calibration.hpp"
#include "aif/studies/calibration_fit.hpp"
#include "aif/scenario/scenario.hpp"
#include "aif/studies/validate.hpp"

namespace aif::sim {

namespace {

// Weighted least squares for y ~ X b with up to 5 columns (normal equations, Gaussian elimination with
// pivoting). Weights 1 / measured^2 make it minimise the relative error of the step time: a 5 ms decode
// step counts as much as a 200 ms prefill, which is what latency percentiles need.
std::vector<double> least_squares(const std::vector<std::array<double, 5>>& x, const std::vector<double>& y,
                                  const std::vector<double>& w, const std::vector<int>& columns) {
  const size_t k = columns.size();
  std::vector<std::vector<double>> a(k, std::vector<double>(k + 1, 0));
  for (size_t i = 0; i < x.size(); ++i)
    for (size_t r = 0; r < k; ++r) {
      for (size_t c = 0; c < k; ++c) a[r][c] += w[i] * x[i][columns[r]] * x[i][columns[c]];
      a[r][k] += w[i] * x[i][columns[r]] * y[i];
    }
  for (size_t c = 0; c < k; ++c) {
    size_t p = c;
    for (size_t r = c + 1; r < k; ++r)
      if (std::fabs(a[r][c]) > std::fabs(a[p][c])) p = r;
    std::swap(a[c], a[p]);
    if (std::fabs(a[c][c]) < 1e-300) return std::vector<double>(k, 0);
    for (size_t r = 0; r < k; ++r) {
      if (r == c) continue;
      const double f = a[r][c] / a[c][c];
      for (size_t j = c; j <= k; ++j) a[r][j] -= f * a[c][j];
    }
  }
  std::vector<double> b(k);
  for (size_t r = 0; r < k; ++r) b[r] = a[r][k] / a[r][r];
  return b;
}

double overhead(const std::array<double, 5>& coef, const std::array<double, 5>& x) {
  double o = 0;
  for (size_t c = 0; c < coef.size(); ++c) o += coef[c] * x[c];
  return o;
}

}  // namespace

StepOverhead fit_step_overhead(const models::CalibrationTable& table, const models::ModelArch& arch,
                               const std::string& profile_h5) {
  std::vector<analysis::IterationRecord> steps;
  try {
    steps = analysis::ResultsReader(profile_h5).iterations();
  } catch (const analysis::ResultsError& e) {
    throw ScenarioError(profile_h5, 0, "/iterations", e.what());
  }
  if (steps.size() < 10)
    throw ScenarioError(profile_h5, 0, "/iterations",
                        "a profile needs at least 10 measured steps to fit the overhead, found " +
                            std::to_string(steps.size()));
  const models::CalibratedPerfModel ops(table, arch, 1, {});
  // Residual of each step that the operator table does not explain; regressors 1, sequences, tokens, keys read by
  // decode tokens (context-dependent costs: block-table walks, cache misses on a long KV) and query-key pairs of the
  // prefill chunks (attention inside the step slower than timed alone: caches shared with the GEMMs around it).
  std::vector<std::array<double, 5>> x;
  std::vector<double> y, measured, predicted;
  for (const auto& s : steps) {
    const models::BatchShape shape = batch_shape_of(s);
    const double p = ops.iteration(shape).seconds;
    x.push_back({1.0, static_cast<double>(shape.num_seqs), static_cast<double>(shape.num_tokens),
                 shape.attended_pairs - shape.prefill_attended_pairs, shape.prefill_attended_pairs});
    y.push_back(s.duration_s - p);
    measured.push_back(s.duration_s);
    predicted.push_back(p);
  }
  // Fit, then drop steps whose residual is far off (a preempted process, a page fault storm) and refit.
  // Negative per-sequence or per-token terms are not physical: such a term is dropped and the rest refitted.
  auto fit = [&](const std::vector<size_t>& rows) {
    std::vector<int> columns{0, 1, 2, 3, 4};
    for (;;) {
      std::vector<std::array<double, 5>> xs;
      std::vector<double> ys, ws;
      for (size_t i : rows) {
        xs.push_back(x[i]);
        ys.push_back(y[i]);
        ws.push_back(1 / (measured[i] * measured[i]));
      }
      const std::vector<double> b = least_squares(xs, ys, ws, columns);
      std::array<double, 5> coef{0, 0, 0, 0, 0};
      int worst = -1;
      for (size_t c = 0; c < columns.size(); ++c) {
        coef[static_cast<size_t>(columns[c])] = b[c];
        if (columns[c] != 0 && b[c] < 0 && (worst < 0 || b[c] < b[static_cast<size_t>(worst)])) worst = static_cast<int>(c);
      }
      if (worst < 0) {
        coef[0] = std::max(coef[0], 0.0);
        return coef;
      }
      columns.erase(columns.begin() + worst);
    }
  };
  std::vector<size_t> all(x.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  std::array<double, 5> coef = fit(all);
  std::vector<double> abs_resid;  // relative to the step time, like the fit
  for (size_t i = 0; i < x.size(); ++i)
    abs_resid.push_back(std::fabs(y[i] - overhead(coef, x[i])) / measured[i]);
  const double mad = analysis::percentile(abs_resid, 50);
  std::vector<size_t> kept;
  for (size_t i = 0; i < x.size(); ++i)
    if (abs_resid[i] <= 5 * mad + 1e-12) kept.push_back(i);
  coef = fit(kept);

  StepOverhead out;
  out.per_step_s = coef[0];
  out.per_seq_s = coef[1];
  out.per_token_s = coef[2];
  out.per_key_s = coef[3];
  out.per_prefill_pair_s = coef[4];
  out.iterations = kept.size();
  std::vector<double> before, after;
  for (size_t i = 0; i < x.size(); ++i) {
    before.push_back(std::fabs(predicted[i] - measured[i]) / measured[i]);
    const double with = predicted[i] + overhead(coef, x[i]);
    after.push_back(std::fabs(with - measured[i]) / measured[i]);
  }
  out.mape_before = analysis::percentile(before, 50);
  out.mape_after = analysis::percentile(after, 50);
  return out;
}

CalibratedTable write_calibrated_table(const std::string& kbench_table, const models::ModelArch& arch,
                                       const std::string& profile_h5, const std::string& output) {
  CalibratedTable result;
  models::CalibrationTable table = read_calibration_csv(kbench_table);
  // Measurements slower than a larger size of the same curve are left out (the rule of every measured table,
  // docs/calibration-format.md), before the overhead is fitted on what remains.
  result.outliers = kbench_outliers(table);
  const std::set<int> outlier_lines(result.outliers.lines.begin(), result.outliers.lines.end());
  table.rows.erase(std::remove_if(table.rows.begin(), table.rows.end(),
                                  [&](const auto& r) { return outlier_lines.count(r.line) > 0; }),
                   table.rows.end());
  result.rows = table.rows.size();
  result.fit = fit_step_overhead(table, arch, profile_h5);
  const StepOverhead& fit = result.fit;

  std::string& left_out = result.outliers_text;
  for (const auto& [op, n] : result.outliers.by_op) left_out += (left_out.empty() ? "" : ", ") + op + " " + std::to_string(n);
  if (left_out.empty()) left_out = "none";
  char values[384];
  std::snprintf(values, sizeof values,
                "# iteration_overhead_s: %.6e\n# overhead_per_seq_s: %.6e\n# overhead_per_token_s: %.6e\n"
                "# overhead_per_key_s: %.6e\n# overhead_per_prefill_pair_s: %.6e\n"
                "# overhead_fit: %zu profile steps, step-time median APE %.2f%% without the overhead, %.2f%% with it\n",
                fit.per_step_s, fit.per_seq_s, fit.per_token_s, fit.per_key_s, fit.per_prefill_pair_s, fit.iterations,
                100 * fit.mape_before, 100 * fit.mape_after);
  // The fit goes at the end of the '# key: value' header, before the column header; an earlier fit goes.
  const std::string tmp = output + ".tmp";
  std::ifstream in(kbench_table);
  std::ofstream os(tmp);
  bool inserted = false;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const bool old_fit = line.rfind("# iteration_overhead_s:", 0) == 0 || line.rfind("# overhead_", 0) == 0 ||
                         line.rfind("# outliers_left_out:", 0) == 0;
    if (old_fit) continue;
    if (!inserted && !line.empty() && line[0] != '#') {
      os << values << "# outliers_left_out: " << left_out << " (a measurement over " << result.outliers.factor
         << "x slower than one of a larger size on the same curve)\n";
      inserted = true;
    }
    if (!outlier_lines.count(number)) os << line << "\n";
  }
  os.close();
  if (!os) throw std::runtime_error("cannot write " + tmp);
  try {
    read_calibration_csv(tmp);  // what is renamed into place reads back
  } catch (...) {
    std::filesystem::remove(tmp);
    throw;
  }
  std::filesystem::rename(tmp, output);
  return result;
}

}  // namespace aif::sim
