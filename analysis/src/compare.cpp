#include "aif/analysis/compare.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "aif/analysis/results.hpp"
#include "aif/analysis/summary.hpp"
#include "aif/analysis/sweep_table.hpp"

namespace aif::analysis {

namespace {

constexpr double NaN = std::numeric_limits<double>::quiet_NaN();

std::vector<SummaryEntry> summary_of(const std::string& path) {
  const ResultsReader r(path);
  std::vector<SummaryEntry> s = r.summary();
  if (s.empty()) s = summary_entries(summarize_requests(r));
  return s;
}

std::string number(double v) {
  if (std::isnan(v)) return "-";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

NoiseEstimate noise_from_sweep(const std::string& dir) {
  const std::string table = (std::filesystem::path(dir) / "sweep.h5").string();
  std::error_code unreadable;
  if (!std::filesystem::is_regular_file(table, unreadable))
    throw ResultsError(dir + ": not a sweep folder (no sweep.h5; `aifsim sweep` writes it)");
  const SweepTable t = read_sweep_table(table);
  std::set<std::vector<std::string>> combinations;
  NoiseEstimate out;
  out.source = dir;
  for (size_t i = 0; i < t.ids.size(); ++i) {
    if (t.statuses[i] != "ok") continue;
    std::vector<std::string> key;
    for (const auto& axis : t.axes) key.push_back(axis.second[i]);
    combinations.insert(key);
    ++out.runs;
  }
  if (combinations.size() > 1)
    throw ResultsError(dir + ": the noise sweep must be one configuration over seeds; it has " +
                       std::to_string(combinations.size()) + " axis combinations");
  if (out.runs < 2)
    throw ResultsError(dir + ": the noise sweep needs at least two points that ran; it has " +
                       std::to_string(out.runs));
  for (const auto& [metric, column] : t.values) {
    std::vector<double> v;
    for (size_t i = 0; i < column.size(); ++i)
      if (t.statuses[i] == "ok") v.push_back(column[i]);
    const SampleMoments m = sample_moments(v);
    if (m.n >= 2) out.variance_df[metric] = {m.variance, static_cast<double>(m.n - 1)};
  }
  return out;
}

RunComparison compare_runs(const std::vector<std::string>& a_files, const std::vector<std::string>& b_files,
                           const NoiseEstimate* noise) {
  RunComparison out;
  out.a_files = a_files;
  out.b_files = b_files;
  std::vector<std::vector<SummaryEntry>> a, b;
  for (const std::string& f : a_files) a.push_back(summary_of(f));
  for (const std::string& f : b_files) b.push_back(summary_of(f));
  auto values_of = [](const std::vector<std::vector<SummaryEntry>>& side, const std::string& name) {
    std::vector<double> v;
    for (const auto& s : side) {
      const auto it = std::find_if(s.begin(), s.end(), [&](const SummaryEntry& e) { return e.name == name; });
      v.push_back(it == s.end() ? NaN : it->value);
    }
    return v;
  };
  auto has_value = [](const std::vector<double>& v) {
    return std::any_of(v.begin(), v.end(), [](double x) { return !std::isnan(x); });
  };
  const bool replicas = a_files.size() > 1 || b_files.size() > 1;
  if (noise)
    out.noise = "noise from " + noise->source + " (" + std::to_string(noise->runs) +
                " runs of one configuration): t-test with that variance";
  else if (replicas)
    out.noise = "noise from the replicas: Welch t-test over " + std::to_string(a_files.size()) + " A and " +
                std::to_string(b_files.size()) + " B runs";
  else
    out.noise = "noise unknown: one run per side (give replicas: A1.h5 A2.h5 ... --vs B1.h5 B2.h5 ..., or --noise DIR)";
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const auto& side : {&a, &b})
    for (const auto& s : *side)
      for (const SummaryEntry& e : s)
        if (seen.insert(e.name).second) names.push_back(e.name);
  for (const std::string& name : names) {
    MetricDifference d;
    d.name = name;
    d.a = values_of(a, name);
    d.b = values_of(b, name);
    if (!has_value(d.a) || !has_value(d.b)) continue;
    for (const auto& side : {&a, &b})
      for (const auto& s : *side)
        for (const SummaryEntry& e : s)
          if (e.name == name && d.unit.empty()) d.unit = e.unit;
    if (noise) {
      const auto it = noise->variance_df.find(name);
      // Not in the noise sweep: the means and difference still, with an unknown verdict (df 0).
      d.test = it == noise->variance_df.end() ? difference_test_known_noise(d.a, d.b, NaN, 0)
                                              : difference_test_known_noise(d.a, d.b, it->second.first, it->second.second);
      d.verdict = d.test.known ? (d.test.significant ? "significant" : "not significant")
                               : "noise unknown (not in the noise sweep)";
    } else {
      d.test = welch_test(d.a, d.b);
      d.verdict = d.test.known ? (d.test.significant ? "significant" : "not significant")
                               : "noise unknown (one run per side)";
    }
    d.relative = d.test.mean_a != 0 && std::isfinite(d.test.mean_a) ? d.test.difference / std::fabs(d.test.mean_a) : NaN;
    out.metrics.push_back(std::move(d));
  }
  return out;
}

std::string format_comparison(const RunComparison& c) {
  std::vector<std::vector<std::string>> rows{{"metric", "unit", "A", "B", "B - A", "relative", "p", "verdict"}};
  for (const MetricDifference& d : c.metrics) {
    char rel[32] = "-";
    if (std::isfinite(d.relative)) std::snprintf(rel, sizeof rel, "%+.2f%%", 100 * d.relative);
    std::string p = "-";
    if (d.test.known) {
      char buf[32];
      std::snprintf(buf, sizeof buf, d.test.p_value < 1e-4 ? "%.1e" : "%.4f", d.test.p_value);
      p = buf;
    }
    rows.push_back({d.name, d.unit, number(d.test.mean_a), number(d.test.mean_b), number(d.test.difference), rel, p,
                    d.verdict});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  std::ostringstream o;
  o << "A: ";
  for (size_t i = 0; i < c.a_files.size(); ++i) o << (i ? ", " : "") << c.a_files[i];
  o << "\nB: ";
  for (size_t i = 0; i < c.b_files.size(); ++i) o << (i ? ", " : "") << c.b_files[i];
  o << "\n" << c.noise << "\n\n";
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      const bool numeric = i >= 2 && i <= 6;
      const std::string pad(width[i] - r[i].size(), ' ');
      line += (i ? "  " : "") + (numeric ? pad + r[i] : r[i] + (i + 1 < r.size() ? pad : ""));
    }
    o << line << "\n";
  }
  return o.str();
}

std::string comparison_json(const RunComparison& c) {
  auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  auto list = [&](const std::vector<double>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (double x : v) a.push_back(num(x));
    return a;
  };
  nlohmann::json j;
  j["a"] = c.a_files;
  j["b"] = c.b_files;
  j["noise"] = c.noise;
  j["metrics"] = nlohmann::json::array();
  for (const MetricDifference& d : c.metrics) {
    const DifferenceTest& t = d.test;
    j["metrics"].push_back({{"name", d.name},
                            {"unit", d.unit},
                            {"a", list(d.a)},
                            {"b", list(d.b)},
                            {"mean_a", num(t.mean_a)},
                            {"mean_b", num(t.mean_b)},
                            {"difference", num(t.difference)},
                            {"relative", num(d.relative)},
                            {"std_error", num(t.std_error)},
                            {"df", num(t.df)},
                            {"t", num(t.t)},
                            {"p_value", num(t.p_value)},
                            {"ci95", {num(t.ci95_low), num(t.ci95_high)}},
                            {"significant", t.known ? nlohmann::json(t.significant) : nlohmann::json(nullptr)},
                            {"verdict", d.verdict}});
  }
  return j.dump(2) + "\n";
}

}  // namespace aif::analysis
