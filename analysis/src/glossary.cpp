#include "aif/analysis/glossary.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace aif::analysis {

namespace {

// The entries themselves: glossary_entries.inc, one brace-initialised GlossaryEntry per line, read by the code that
// writes each metric (sim/world, analysis/src/summary.cpp).
const std::vector<GlossaryEntry> ENTRIES = {
#include "glossary_entries.inc"
};

bool match_from(const std::string& p, size_t pi, const std::string& n, size_t ni) {
  while (pi < p.size()) {
    if (p[pi] == '<') {
      const size_t close = p.find('>', pi);
      if (close == std::string::npos) return false;
      // One or more characters, then the rest of the pattern (shortest first).
      for (size_t take = 1; ni + take <= n.size(); ++take)
        if (match_from(p, close + 1, n, ni + take)) return true;
      return false;
    }
    if (ni >= n.size() || p[pi] != n[ni]) return false;
    ++pi;
    ++ni;
  }
  return ni == n.size();
}

std::string cell(const std::string& text) {
  std::string out;
  for (char c : text) out += c == '|' ? std::string("\\|") : std::string(1, c);
  return out;
}

}  // namespace

const std::vector<GlossaryEntry>& glossary() { return ENTRIES; }

bool glossary_matches(const std::string& pattern, const std::string& name) { return match_from(pattern, 0, name, 0); }

const GlossaryEntry* glossary_entry(const std::string& name, GlossaryKind kind) {
  const GlossaryEntry* best = nullptr;
  for (const GlossaryEntry& e : ENTRIES) {
    if (e.kind != kind) continue;
    if (e.pattern == name) return &e;
    // Among patterns, the first in the table's order (specific ones are listed before general ones).
    if (!best && glossary_matches(e.pattern, name)) best = &e;
  }
  return best;
}

std::string format_metric_value(double value) {
  if (std::isnan(value)) return "\u2014";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buf[64];
  const double a = std::fabs(value);
  if ((value == std::floor(value) && a < 1e15) || (a >= 1e5 && a < 1e15)) {
    std::snprintf(buf, sizeof buf, "%.0f", std::round(a));
    std::string digits = buf, grouped;
    for (size_t i = 0; i < digits.size(); ++i) {
      if (i > 0 && (digits.size() - i) % 3 == 0) grouped += ',';
      grouped += digits[i];
    }
    return (value < 0 && std::round(a) != 0 ? "-" : "") + grouped;
  }
  std::snprintf(buf, sizeof buf, a >= 1e-3 || a == 0 ? "%.6g" : "%.3g", value);
  return buf;
}

std::string display_unit(const std::string& unit) { return unit == "1" ? std::string() : unit; }

std::pair<std::string, double> time_display_unit(double span_s) {
  if (span_s > 3 * 86400) return {"d", 86400};
  if (span_s > 3 * 3600) return {"h", 3600};
  if (span_s > 3 * 60) return {"min", 60};
  return {"s", 1};
}

std::pair<std::string, double> scaled_display_unit(double max_abs, const std::string& unit) {
  if (unit == "s") {
    if (max_abs < 1e-3) return {"us", 1e-6};
    if (max_abs < 1) return {"ms", 1e-3};
    return {"s", 1};
  }
  if (unit != "W" && unit != "J" && unit != "B" && unit != "Wh") return {unit, 1};
  if (max_abs >= 1e9) return {"G" + unit, 1e9};
  if (max_abs >= 1e6) return {"M" + unit, 1e6};
  if (max_abs >= 1e3) return {"k" + unit, 1e3};
  return {unit, 1};
}

std::string glossary_markdown() {
  std::ostringstream o;
  o << "# Glossary: what every number means\n\n"
       "Written by `aifsim glossary --markdown` from the table the HTML report and the GUI use "
       "(`analysis/src/glossary_entries.inc`); a test checks that this file is that output and that every summary "
       "metric an example scenario writes has an entry. `<service>`, `<job>`, `<tier>` and the like stand for a name "
       "from the scenario. Unit `1` is a count or a ratio.\n";
  for (const auto& [kind, heading] : {std::pair{GlossaryKind::SUMMARY, "Summary metrics (`/summary`)"},
                                      std::pair{GlossaryKind::SERIES, "Time series (`/timeseries`)"}}) {
    o << "\n## " << heading << "\n\n| name | unit | meaning |\n|---|---|---|\n";
    for (const GlossaryEntry& e : ENTRIES)
      if (e.kind == kind)
        o << "| `" << e.pattern << "` | " << cell(e.unit) << " | **" << cell(e.title) << "**: " << cell(e.definition)
          << " |\n";
  }
  return o.str();
}

}  // namespace aif::analysis
