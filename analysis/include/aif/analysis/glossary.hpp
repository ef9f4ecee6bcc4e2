// What every number aifsim writes means: one definition per summary metric and per time series, shared by the
// HTML report, the GUI's tooltips and Summary tab, and docs/glossary.md (`aifsim glossary --markdown` writes it).
// Names with a per-run part (a service, a job, a link tier) are patterns: "<service>" stands for any non-empty text,
// so "<service>.ttft_p99" covers "chat.ttft_p99" (summary metrics of a service are named by the service alone; its
// series start with "service.").
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace aif::analysis {

enum class GlossaryKind { SUMMARY, SERIES };

struct GlossaryEntry {
  GlossaryKind kind = GlossaryKind::SUMMARY;
  std::string pattern;     // "power.mean_pue", "<service>.ttft_p99"
  std::string unit;        // as the results file writes it ("s", "J", "W"; "1" for a count or a ratio)
  std::string title;       // a few words, for a table row or an axis ("facility energy")
  std::string definition;  // one or two sentences: what is counted, over which time, and how
};

// Every entry, summary metrics first, in the order docs/glossary.md lists them.
const std::vector<GlossaryEntry>& glossary();

// Whether a name matches a pattern: the text outside "<...>" must match exactly; each "<...>" matches one or more
// characters.
bool glossary_matches(const std::string& pattern, const std::string& name);

// The entry that defines a summary metric (or a series), or nullptr when none does: an exact name first, else the
// first pattern that matches in glossary order (the table lists specific patterns, "job.<job>.grid_energy", before
// general ones, "<service>.grid_energy").
const GlossaryEntry* glossary_entry(const std::string& name, GlossaryKind kind = GlossaryKind::SUMMARY);

// The glossary as Markdown (docs/glossary.md): a table per kind, sorted as glossary() is.
std::string glossary_markdown();

// A value as a table shows it: whole numbers in full with thousands separators ("2,160,915"), others in 6
// significant digits without an exponent from 0.001 up (values of 100,000 and more rounded to whole numbers, which
// keeps 6 digits or more),
// "—" for NaN.
std::string format_metric_value(double value);
// A unit as a table shows it: "" for "1" (a count or a ratio), the unit otherwise.
std::string display_unit(const std::string& unit);
// The time unit a chart of a run of span_s seconds uses ("s", "min", "h", "d") and the seconds it holds; the report
// and the GUI use it for every time axis of a run, so that all read alike.
std::pair<std::string, double> time_display_unit(double span_s);
// The prefixed unit for values up to max_abs of a base unit ("W" -> "kW", "MW"; "s" -> "ms", "us") and the factor
// to divide by. Other units are returned as they are, factor 1.
std::pair<std::string, double> scaled_display_unit(double max_abs, const std::string& unit);

}  // namespace aif::analysis
