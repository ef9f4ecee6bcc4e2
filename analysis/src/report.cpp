#include "aif/analysis/report.hpp"
#include "aif/analysis/plan_table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "aif/analysis/event_markers.hpp"
#include "aif/analysis/glossary.hpp"
#include "aif/analysis/latency_windows.hpp"
#include "aif/analysis/stats.hpp"
#include "aif/analysis/summary.hpp"
#include "aif/analysis/svg_chart.hpp"
#include "aif/analysis/sweep_table.hpp"

namespace aif::analysis {

namespace {

namespace fs = std::filesystem;
constexpr double NaN = std::numeric_limits<double>::quiet_NaN();

const char* const CSS = R"(body{font-family:sans-serif;margin:24px auto;max-width:1000px;color:#222;line-height:1.4}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4}
pre{background:#f7f7f7;border:1px solid #ddd;padding:8px;overflow-x:auto;font-size:12px}
figure{margin:12px 0}figcaption{font-size:12px;color:#555;max-width:760px}
.note{color:#666;font-size:13px}.banner{background:#fff3cd;border:1px solid #e0c060;padding:8px 12px;margin:12px 0}
.headline{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}.headline div{border:1px solid #ddd;border-radius:4px;padding:6px 10px;min-width:140px}
.headline b{display:block;font-size:18px}.headline span{font-size:12px;color:#555}td.meaning{font-size:12px;color:#444;max-width:520px}.failed{color:#b00}.pareto{font-weight:bold}nav a{margin-right:12px}
)";

std::string esc(const std::string& s) { return xml_escape(s); }

std::string fmt_value(double v) {
  if (std::isnan(v)) return "&#8212;";
  return esc(format_metric_value(v));
}

// A page under construction: sections, a nav line and the chart count.
struct Page {
  std::ostringstream body;
  std::vector<std::pair<std::string, std::string>> nav;  // anchor, title
  size_t charts = 0;

  void section(const std::string& id, const std::string& title) {
    body << "<h2 id=\"" << id << "\">" << esc(title) << "</h2>\n";
    nav.emplace_back(id, title);
  }
  void note(const std::string& text) { body << "<p class=\"note\">" << esc(text) << "</p>\n"; }
  void chart(const std::string& id, const Chart& chart, const std::string& caption) {
    body << "<figure class=\"chart\" id=\"chart-" << esc(id) << "\">\n"
         << render_svg(chart) << "<figcaption>" << esc(caption) << "</figcaption>\n</figure>\n";
    ++charts;
  }
  std::string html(const std::string& title, const std::string& heading_html) const {
    std::ostringstream o;
    o << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" << esc(title)
      << "</title>\n<style>\n" << CSS << "</style>\n</head>\n<body>\n" << heading_html << "<nav>";
    for (const auto& [id, t] : nav) o << "<a href=\"#" << id << "\">" << esc(t) << "</a>";
    o << "</nav>\n" << body.str() << "</body>\n</html>\n";
    return o.str();
  }
};

void write_page(const std::string& path, const std::string& html) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << html;
    out.close();
    if (!out) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
      throw ResultsError(path + ": cannot write the report (" + tmp + ")");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw ResultsError(path + ": cannot rename " + tmp + " to it");
  }
}

double max_abs_finite(const std::vector<double>& v) {
  double m = 0;
  for (double x : v)
    if (std::isfinite(x)) m = std::max(m, std::fabs(x));
  return m;
}

bool any_finite(const std::vector<double>& v) {
  return std::any_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

// ---- results file -------------------------------------------------------------------------------------------------

struct SeriesSet {
  std::vector<double> time;  // s
  std::map<std::string, SeriesSpec> specs;
  const ResultsReader* reader = nullptr;
  bool has(const std::string& name) const { return specs.count(name) != 0; }
};

// What every time chart of a report shares: one time unit for the whole run, and the events it marks.
struct TimeAxis {
  std::string unit = "s";
  double scale = 1;  // seconds per unit
  std::vector<EventMarker> markers;
  void mark(Chart& c) const {
    for (const EventMarker& m : markers) c.markers.push_back({m.time_s / scale, m.label, event_lane_color(m.lane)});
  }
};

// Chart of several /timeseries series sharing a unit; values divided by `scale`, time by the time unit.
struct LineSpec {
  std::string name, label;
  bool dashed = false;
  std::string color;
};

void time_series_chart(Page& page, const SeriesSet& s, const TimeAxis& axis, const std::string& id,
                       const std::string& title, const std::vector<LineSpec>& lines, const std::string& y_name,
                       const std::string& base_unit, const std::string& caption, const ReportOptions& opt,
                       double y_min = NaN, double y_max = NaN) {
  std::vector<std::pair<LineSpec, std::vector<double>>> data;
  double biggest = 0;
  for (const LineSpec& l : lines) {
    if (!s.has(l.name)) continue;
    auto values = s.reader->series_values(l.name);
    if (!any_finite(values)) continue;
    biggest = std::max(biggest, max_abs_finite(values));
    data.emplace_back(l, std::move(values));
  }
  if (data.empty()) return;
  if (biggest == 0) {  // every value zero: a flat line on a made-up axis says nothing; a sentence does
    page.note(title + ": every sample is zero in this run (" + std::to_string(data.size()) +
              " series), so no chart is drawn.");
    return;
  }
  const std::string& tname = axis.unit;
  const double tscale = axis.scale;
  const auto [uname, uscale] = base_unit.empty() ? std::pair<std::string, double>{"", 1} : scaled_display_unit(biggest, base_unit);
  Chart c;
  c.title = title;
  c.x_label = "time (" + tname + ")";
  c.y_label = y_name + (uname.empty() ? "" : " (" + uname + ")");
  c.y_from_zero = true;
  c.y_min = y_min;
  c.y_max = y_max;
  axis.mark(c);
  for (auto& [l, values] : data) {
    ChartSeries cs;
    cs.name = l.label;
    cs.dashed = l.dashed;
    cs.color = l.color;
    std::vector<double> t(s.time.size());
    for (size_t i = 0; i < t.size(); ++i) t[i] = s.time[i] / tscale;
    for (double& v : values) v /= uscale;
    downsample_min_max(t, values, opt.max_points_per_line, cs.x, cs.y);
    c.series.push_back(std::move(cs));
  }
  page.chart(id, c, caption);
}

const char* const METRICS[] = {"ttft", "tpot", "e2e"};
const char* const METRIC_SHORT[] = {"TTFT", "TPOT", "E2E"};
const char* const METRIC_TITLES[] = {"time to first token (TTFT)", "time per output token (TPOT)",
                                     "end-to-end latency (E2E)"};

void latency_charts(Page& page, const ResultsReader& r, const ReportOptions& opt, const TimeAxis& axis) {
  const LatencyWindows p = latency_windows(r, opt.latency_windows, opt.cdf_exact_max, opt.request_chunk_rows);
  if (p.overall[0].count() == 0) {
    page.note("No finished request: no latency charts.");
    return;
  }
  const std::string& tname = axis.unit;
  const double tscale = axis.scale;
  const double width = (p.t1 - p.t0) / p.windows;
  for (size_t m = 0; m < 3; ++m) {
    if (p.overall[m].count() == 0) continue;
    const auto [uname, uscale] = scaled_display_unit(p.overall[m].quantile(99), "s");
    Chart c;
    c.title = std::string(METRIC_TITLES[m]) + " over time";
    c.x_label = "arrival time (" + tname + ")";
    c.y_label = std::string(METRIC_SHORT[m]) + " (" + uname + ", log scale)";
    // Log scale: a spike (replicas loading their weights after a failure) and the steady state both stay readable.
    c.y_log = true;
    axis.mark(c);
    ChartSeries p50{"p50", {}, {}, {}, SeriesStyle::LINE, "", false}, p99{"p99", {}, {}, {}, SeriesStyle::LINE, "", false};
    for (int w = 0; w < p.windows; ++w) {
      const QuantileSketch& sk = p.window_sketch[m][static_cast<size_t>(w)];
      if (sk.count() == 0) continue;  // no point: the line joins its neighbours
      const double mid = (p.t0 + (w + 0.5) * width) / tscale;
      p50.x.push_back(mid);
      p50.y.push_back(sk.quantile(50) / uscale);
      p99.x.push_back(mid);
      p99.y.push_back(sk.quantile(99) / uscale);
    }
    c.series = {p50, p99};
    char caption[256];
    std::snprintf(caption, sizeof caption,
                  "Finished requests by arrival time in %d windows of %.4g s; p50 and p99 of each non-empty window "
                  "(streaming quantiles, within 0.05 %%), on a log axis. Dashed lines mark events (failures red, "
                  "repairs green, power orange).",
                  p.windows, width);
    page.chart(std::string("latency-") + METRICS[m], c, caption);
  }
  for (size_t m = 0; m < 3; ++m) {
    if (p.overall[m].count() == 0) continue;
    const auto [uname, uscale] = scaled_display_unit(p.overall[m].quantile(99), "s");
    Chart c;
    c.title = std::string("CDF of ") + METRIC_TITLES[m];
    c.x_label = std::string(METRIC_SHORT[m]) + " (" + uname + ", log scale)";
    c.y_label = "fraction of requests";
    c.x_log = true;  // the body and the tail (often decades apart) both readable
    c.y_min = 0;
    c.y_max = 1;
    ChartSeries s;
    s.name = "";
    std::string caption;
    std::vector<double> values = p.cdf_values(static_cast<LatencyMetric>(m), opt.cdf_quantiles);
    for (double& v : values) v /= uscale;
    if (!p.exact_overflow[m]) {
      cdf_steps(values, s.x, s.y);
      caption = "Empirical CDF over the " + std::to_string(values.size()) + " finished requests, one step each.";
    } else {
      for (size_t i = 0; i < values.size(); ++i) {
        s.x.push_back(values[i]);
        s.y.push_back(static_cast<double>(i) / static_cast<double>(values.size() - 1));
      }
      caption = "CDF over " + std::to_string(p.overall[m].count()) + " finished requests, drawn through " +
                std::to_string(values.size()) + " quantiles of a streaming sketch (within 0.05 %).";
    }
    c.series.push_back(std::move(s));
    page.chart(std::string("cdf-") + METRICS[m], c, caption);
  }
}

void events_section(Page& page, const std::vector<EventRecord>& events, const ReportOptions& opt,
                    const TimeAxis& axis) {
  page.section("events", "Events");
  if (events.empty()) {
    page.note("No events recorded.");
    return;
  }
  std::vector<std::string> kinds;
  std::map<std::string, std::vector<double>> times;
  for (const EventRecord& e : events) {
    if (!times.count(e.kind)) kinds.push_back(e.kind);
    times[e.kind].push_back(e.time_s);
  }
  const std::string& tname = axis.unit;
  const double tscale = axis.scale;
  Chart c;
  c.title = "Events timeline";
  c.x_label = "time (" + tname + ")";
  c.y_categories = kinds;
  c.height = std::max(160, 80 + 22 * static_cast<int>(kinds.size()));
  for (size_t k = 0; k < kinds.size(); ++k) {
    const std::vector<double>& t = times[kinds[k]];
    ChartSeries s;
    s.style = SeriesStyle::SCATTER;
    s.marker_radius = 2.5;
    const size_t n = t.size(), keep = std::min(n, std::max<size_t>(opt.events_per_kind_max, 1));
    for (size_t i = 0; i < keep; ++i) {
      const size_t j = keep == n ? i : i * (n - 1) / (keep - 1 > 0 ? keep - 1 : 1);
      s.x.push_back(t[j] / tscale);
      s.y.push_back(static_cast<double>(k));
    }
    c.series.push_back(std::move(s));
  }
  page.chart("events", c,
             "One lane per event kind, a marker per event (at most " + std::to_string(opt.events_per_kind_max) +
                 " per kind, evenly thinned beyond).");
  page.body << "<table class=\"event-kinds\"><tr><th>kind</th><th>count</th><th>first (s)</th><th>last (s)</th></tr>\n";
  for (const std::string& k : kinds) {
    const auto& t = times[k];
    page.body << "<tr><td>" << esc(k) << "</td><td class=\"num\">" << t.size() << "</td><td class=\"num\">"
              << fmt_value(*std::min_element(t.begin(), t.end())) << "</td><td class=\"num\">"
              << fmt_value(*std::max_element(t.begin(), t.end())) << "</td></tr>\n";
  }
  page.body << "</table>\n";
  page.body << "<table class=\"events\"><tr><th>time (s)</th><th>kind</th><th>target</th><th>detail</th></tr>\n";
  for (size_t i = 0; i < events.size() && i < opt.event_rows_max; ++i) {
    const EventRecord& e = events[i];
    page.body << "<tr><td class=\"num\">" << fmt_value(e.time_s) << "</td><td>" << esc(e.kind) << "</td><td>"
              << esc(e.target) << "</td><td>" << esc(e.detail) << "</td></tr>\n";
  }
  page.body << "</table>\n";
  if (events.size() > opt.event_rows_max)
    page.note(std::to_string(events.size() - opt.event_rows_max) + " more events not listed (the first " +
              std::to_string(opt.event_rows_max) + " are).");
}

// ---- sweep folder -------------------------------------------------------------------------------------------------

// An axis value as a number with an optional unit suffix ("4", "2.5/s", "30kW"); nullopt when it does not start with
// a number.
bool parse_axis_value(const std::string& text, double& value, std::string& unit) {
  const char* begin = text.c_str();
  char* end = nullptr;
  value = std::strtod(begin, &end);
  if (end == begin || !std::isfinite(value)) return false;
  unit = std::string(end);
  unit.erase(0, unit.find_first_not_of(" \t"));
  return true;
}

struct KeyMetric {
  std::string name, title;
};
const KeyMetric KEY_METRICS[] = {{"throughput", "throughput"},
                                 {"ttft_p99", "TTFT p99"},
                                 {"tpot_p99", "TPOT p99"},
                                 {"facility_energy", "facility energy"},
                                 {"power.cost", "energy cost"}};

std::string safe_id(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::vector<size_t> pareto_front(const std::vector<double>& x, const std::vector<double>& y) {
  std::vector<size_t> order;
  for (size_t i = 0; i < std::min(x.size(), y.size()); ++i)
    if (std::isfinite(x[i]) && std::isfinite(y[i])) order.push_back(i);
  // By x, then y: a point is optimal when its y is below that of every point before it (or equals the last optimal
  // point exactly: equal points are all kept).
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return x[a] < x[b] || (x[a] == x[b] && y[a] < y[b]); });
  std::vector<size_t> out;
  for (size_t i : order) {
    const bool equal_to_last = !out.empty() && x[i] == x[out.back()] && y[i] == y[out.back()];
    if (out.empty() || y[i] < y[out.back()] || equal_to_last) out.push_back(i);
  }
  return out;
}

namespace {

const SummaryEntry* find_entry(const std::vector<SummaryEntry>& summary, const std::string& name) {
  for (const SummaryEntry& e : summary)
    if (e.name == name) return &e;
  return nullptr;
}

double value_of(const std::vector<SummaryEntry>& summary, const std::string& name) {
  const SummaryEntry* e = find_entry(summary, name);
  return e ? e->value : NaN;
}

// An energy in kWh as a readable quantity ("12.4 MWh").
std::string energy_text(double kwh) {
  char buf[64];
  if (kwh >= 1000) std::snprintf(buf, sizeof buf, "%.4g MWh", kwh / 1000);
  else std::snprintf(buf, sizeof buf, "%.4g kWh", kwh);
  return buf;
}

std::string power_text(double w) {
  const auto [unit, scale] = scaled_display_unit(std::fabs(w), "W");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g %s", w / scale, unit.c_str());
  return buf;
}

std::string latency_text(double s) {
  const auto [unit, scale] = scaled_display_unit(s, "s");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g %s", s / scale, unit.c_str());
  return buf;
}

// The headline: the few numbers a reader looks for first, each with what it is, before any table or chart.
void headline(Page& page, const std::vector<SummaryEntry>& summary, const std::vector<EventRecord>& events,
              bool partial, double end_s) {
  if (partial)
    page.body << "<p class=\"banner partial\"><b>Partial run.</b> The run was stopped before the end of its duration; "
                 "every figure below covers the simulated time up to the stop ("
              << esc(format_metric_value(end_s)) << " s), and requests still in flight count as unfinished.</p>\n";
  std::vector<std::pair<std::string, std::string>> cells;  // value, what
  const double requests = value_of(summary, "requests"), finished = value_of(summary, "finished");
  if (std::isfinite(requests)) {
    std::string what = "requests finished of " + format_metric_value(requests) + " arrived";
    const double not_done = requests - finished;
    if (not_done > 0) what += " (" + format_metric_value(not_done) + " did not finish)";
    cells.emplace_back(format_metric_value(finished), what);
  }
  if (const double slo = value_of(summary, "slo_attainment"); std::isfinite(slo))
    cells.emplace_back(format_metric_value(std::round(slo * 1000) / 10) + " %", "SLO attainment (arrived requests that met every SLO)");
  if (const double p99 = value_of(summary, "ttft_p99"); std::isfinite(p99))
    cells.emplace_back(latency_text(p99), "TTFT p99 (p50 " + latency_text(value_of(summary, "ttft_p50")) + ")");
  if (const double p99 = value_of(summary, "tpot_p99"); std::isfinite(p99))
    cells.emplace_back(latency_text(p99), "TPOT p99 (p50 " + latency_text(value_of(summary, "tpot_p50")) + ")");
  const double facility = value_of(summary, "facility_energy"), it = value_of(summary, "it_energy");
  if (std::isfinite(facility)) cells.emplace_back(energy_text(facility), "facility energy (IT, cooling, power losses)");
  // PUE: the power chain's own mean when it ran, else facility energy over IT energy.
  double pue = value_of(summary, "power.mean_pue");
  if (!std::isfinite(pue) && std::isfinite(facility) && it > 0) pue = facility / it;
  if (std::isfinite(pue)) cells.emplace_back(format_metric_value(std::round(pue * 1000) / 1000), "PUE (facility energy / IT energy)");
  // The power manager writes both these and the grid_draw series: a file without them has no grid draw to give.
  const double peak = value_of(summary, "power.peak_grid_draw"), p95 = value_of(summary, "power.p95_grid_draw");
  if (std::isfinite(peak))
    cells.emplace_back(power_text(peak), "peak grid draw" + (std::isfinite(p95) ? " (p95 " + power_text(p95) + ")" : std::string()));
  if (const double carbon = value_of(summary, "power.carbon"); std::isfinite(carbon))
    cells.emplace_back(format_metric_value(std::round(carbon)) + " " + display_unit(find_entry(summary, "power.carbon")->unit),
                       "carbon emitted (grid energy x carbon intensity)");
  if (const double cost = value_of(summary, "power.cost"); std::isfinite(cost))
    cells.emplace_back(format_metric_value(std::round(cost * 100) / 100) + " " + display_unit(find_entry(summary, "power.cost")->unit),
                       "energy cost (grid energy x price)");
  if (!cells.empty()) {
    page.body << "<div class=\"headline\">\n";
    for (const auto& [value, what] : cells) page.body << "<div><b>" << esc(value) << "</b><span>" << esc(what) << "</span></div>\n";
    page.body << "</div>\n";
  }
  // Key events: the marked ones (failures, repairs, caps, demand response, rollouts), counted by kind.
  std::map<std::string, std::pair<size_t, double>> key;  // kind -> count, first time
  for (const EventRecord& e : events)
    if (is_marked_event(e.kind)) {
      auto [it_kind, fresh] = key.try_emplace(e.kind, 0, e.time_s);
      ++it_kind->second.first;
    }
  if (!key.empty()) {
    std::string text = "Key events: ";
    bool first = true;
    for (const auto& [kind, cf] : key) {
      text += (first ? "" : "; ") + std::to_string(cf.first) + " " + kind + " (first at " + format_metric_value(cf.second) +
              " s" + (cf.second > end_s ? ", after the end of the run" : "") + ")";
      first = false;
    }
    page.body << "<p class=\"key-events\">" << esc(text) << ". Those within the run are marked on every time chart.</p>\n";
  }
  // The energy-per-token variants the summary holds, each defined: they count different energy.
  std::string variants;
  for (const SummaryEntry& e : summary)
    if (e.name == "energy_per_output_token" || e.name == "power.grid_energy_per_output_token") {
      const GlossaryEntry* g = glossary_entry(e.name);
      variants += "<li><code>" + esc(e.name) + "</code>: " + fmt_value(e.value) + " " + esc(e.unit) +
                  (g ? " &#8212; " + esc(g->definition) : std::string()) + "</li>\n";
    }
  if (!variants.empty())
    page.body << "<p class=\"note\">Energy per output token of the site, by the energy it counts (each service's "
                 "<code>&lt;service&gt;.gpu_energy_per_output_token</code>, its GPUs' energy only, is in the summary "
                 "table):</p>\n<ul class=\"energy-per-token\">\n"
              << variants << "</ul>\n";
}

}  // namespace

ReportInfo write_results_report(const ResultsReader& r, const std::string& path, const ReportOptions& opt) {
  Page page;
  const auto meta = r.meta();
  const std::string name = fs::path(r.path()).filename().string();
  const bool partial = meta.count("partial") && meta.at("partial") == "1";

  // Summary: the file's own, or the request summary for a file written without one.
  std::vector<SummaryEntry> summary = r.summary();
  const bool computed = summary.empty();
  if (computed) summary = summary_entries(summarize_requests(r));

  SeriesSet s;
  s.reader = &r;
  for (const SeriesSpec& spec : r.series()) s.specs[spec.name] = spec;
  s.time = r.series_time();
  const std::vector<EventRecord> events = r.events();
  // One time unit for every chart: from the run's end (its simulated time, else its last sample, else its last event).
  double end_s = value_of(summary, "simulated_time");
  if (!(end_s > 0) && !s.time.empty()) end_s = s.time.back();
  if (!(end_s > 0)) {
    end_s = 0;
    for (const EventRecord& e : events)
      if (std::isfinite(e.time_s)) end_s = std::max(end_s, e.time_s);
  }
  TimeAxis axis;
  std::tie(axis.unit, axis.scale) = time_display_unit(end_s);
  axis.markers = event_markers(events, end_s);

  headline(page, summary, events, partial, end_s);

  page.section("power", "Power and grid");
  if (s.time.empty()) {
    page.note("The file has no time series.");
  } else {
    const size_t before = page.charts;
    time_series_chart(page, s, axis, "power", "Power and grid draw",
                      {{"grid_limit", "grid limit", true, "#C00000"},
                       {"grid_draw", "grid draw", false, ""},
                       {"facility_power_chain", "facility (power chain)", false, ""},
                       {"facility_power", "facility", false, ""},
                       {"it_power", "IT", false, ""},
                       {"gpu_power", "GPUs", false, ""},
                       {"solar_power", "solar", false, ""},
                       {"battery_power", "battery (+ discharging)", false, ""}},
                      "power", "W",
                      "Sampled power by level (/timeseries). Grid draw = facility - solar - battery; the dashed line is "
                      "the grid connection limit as the power manager applied it (lowered during demand response). "
                      "Long series are downsampled to " +
                          std::to_string(opt.max_points_per_line) + " points keeping each bucket's min and max. "
                          "The summary's peak grid draw is taken at every power-manager step, finer than these samples, "
                          "so it can exceed the highest sample drawn here.",
                      opt);
    if (!s.has("grid_limit") && s.has("grid_draw"))
      page.note("This file records no grid_limit series (files written before it existed): the limit is in the "
                "scenario's grid.connection_limit below.");
    time_series_chart(page, s, axis, "battery", "Battery state of charge", {{"battery_soc", "state of charge", false, ""}},
                      "state of charge", "", "Fraction of the battery's capacity.", opt, 0, 1);
    time_series_chart(page, s, axis, "carbon", "Grid carbon intensity", {{"carbon_intensity", "carbon intensity", false, ""}},
                      "gCO2/kWh", "", "gCO2 per kWh drawn from the grid.", opt);
    time_series_chart(page, s, axis, "price", "Electricity price", {{"price", "price", false, ""}}, "price per kWh", "",
                      "Scenario currency per kWh.", opt);
    if (page.charts == before) page.note("No power series in this file.");
  }

  page.section("latency", "Latency");
  latency_charts(page, r, opt, axis);

  page.section("utilization", "Utilization");
  if (!s.time.empty()) {
    const size_t before = page.charts;
    time_series_chart(page, s, axis, "load", "Requests in the system",
                      {{"running_requests", "running requests", false, ""},
                       {"waiting_requests", "waiting requests", false, ""}},
                      "requests", "", "Counts at each sample: requests in a running batch; requests queued at replicas.",
                      opt);
    time_series_chart(page, s, axis, "busy-gpus", "Busy GPUs", {{"busy_gpus", "busy GPUs", false, ""}}, "GPUs", "",
                      "GPUs of replicas running a step, or of running training jobs, at each sample.", opt);
    std::vector<LineSpec> links;
    for (const SeriesSpec& spec : r.series())
      if (spec.name.rfind("link_util_", 0) == 0 && spec.name.size() > 4 &&
          spec.name.compare(spec.name.size() - 4, 4, "_max") != 0)
        links.push_back({spec.name, spec.name.substr(10), false, ""});
    if (links.empty())
      page.note("Fabric utilization: this run recorded no link series (no traffic crossed the fabric model: serving "
                "alone keeps its traffic inside each replica's servers).");
    time_series_chart(page, s, axis, "fabric", "Fabric utilization by tier", links, "utilization", "",
                      "Bytes a tier carried in each interval / (interval x the tier's capacity).", opt, 0, NaN);
    if (page.charts == before) page.note("No utilization series in this file.");
  } else {
    page.note("The file has no time series.");
  }

  events_section(page, events, opt, axis);

  // Every metric after the charts: the headline gave the few a reader starts with.
  page.section("summary", "Summary");
  if (computed) page.note("The file has no /summary; request metrics computed from /requests.");
  page.body << "<table class=\"summary\"><tr><th>metric</th><th>value</th><th>unit</th><th>meaning</th></tr>\n";
  for (const SummaryEntry& e : summary) {
    const GlossaryEntry* g = glossary_entry(e.name);
    page.body << "<tr><td>" << esc(e.name) << "</td><td class=\"num\">" << fmt_value(e.value) << "</td><td>"
              << esc(display_unit(e.unit)) << "</td><td class=\"meaning\">" << (g ? esc(g->definition) : "") << "</td></tr>\n";
  }
  page.body << "</table>\n";


  page.section("run", "Run and scenario");
  page.body << "<table class=\"meta\"><tr><th>attribute</th><th>value</th></tr>\n";
  for (const auto& [k, v] : meta)
    if (k != "scenario") page.body << "<tr><td>" << esc(k) << "</td><td>" << esc(v) << "</td></tr>\n";
  page.body << "</table>\n";
  const auto scenario = meta.find("scenario");
  if (scenario == meta.end())
    page.note("The file stores no scenario text.");
  else
    page.body << "<pre class=\"scenario\">" << esc(scenario->second) << "</pre>\n";

  std::string heading = "<h1>aifsim report: " + esc(name) + (partial ? " (partial)" : "") + "</h1>\n<p class=\"note\">" + esc(r.path());
  if (meta.count("scenario_path")) heading += " &#183; scenario " + esc(meta.at("scenario_path"));
  if (meta.count("seed")) heading += " &#183; seed " + esc(meta.at("seed"));
  if (meta.count("fingerprint")) heading += " &#183; fingerprint " + esc(meta.at("fingerprint"));
  heading += "</p>\n";
  const std::string html = page.html("aifsim report: " + name + (partial ? " (partial)" : ""), heading);
  write_page(path, html);
  return {page.charts, html.size()};
}

ReportInfo write_sweep_report(const std::string& dir, const std::string& path, const ReportOptions& opt) {
  (void)opt;
  const fs::path root = dir;
  const std::string table_path = (root / "sweep.h5").string();
  std::error_code unreadable;
  if (!fs::is_regular_file(table_path, unreadable))
    throw ResultsError(dir + ": not a sweep folder (no sweep.h5; `aifsim sweep` writes it)");
  const SweepTable t = read_sweep_table(table_path);
  const size_t n = t.ids.size();
  Page page;

  // Axis combinations in order of first appearance; the points of each (its seeds).
  std::vector<std::vector<std::string>> combo_values;
  std::vector<std::vector<size_t>> combo_points;
  std::map<std::vector<std::string>, size_t> combo_index;
  for (size_t i = 0; i < n; ++i) {
    std::vector<std::string> key;
    for (const auto& axis : t.axes) key.push_back(axis.second[i]);
    auto [it, inserted] = combo_index.emplace(key, combo_values.size());
    if (inserted) {
      combo_values.push_back(key);
      combo_points.emplace_back();
    }
    combo_points[it->second].push_back(i);
  }
  auto combo_stat = [&](size_t c, const std::string& metric) {
    std::vector<double> v;
    const auto it = t.values.find(metric);
    if (it == t.values.end()) return MeanCi{NaN, NaN, 0};
    for (size_t i : combo_points[c])
      if (t.statuses[i] == "ok") v.push_back(it->second[i]);
    return mean_ci95(v);
  };
  std::vector<KeyMetric> metrics;
  for (const KeyMetric& k : KEY_METRICS) {
    const auto it = t.values.find(k.name);
    if (it != t.values.end() && any_finite(it->second)) metrics.push_back(k);
  }
  auto unit_of = [&](const std::string& m) {
    const auto it = t.units.find(m);
    return it == t.units.end() ? std::string() : it->second;
  };
  size_t failed = 0;
  for (const std::string& st : t.statuses) failed += st != "ok";

  // Metric against each numeric axis.
  page.section("axes", "Metrics against each axis");
  size_t numeric_axes = 0;
  for (size_t a = 0; a < t.axes.size(); ++a) {
    std::vector<double> xs(combo_values.size());
    std::string unit;
    bool numeric = true;
    for (size_t c = 0; c < combo_values.size() && numeric; ++c) {
      std::string u;
      numeric = parse_axis_value(combo_values[c][a], xs[c], u);
      if (c == 0) unit = u;
      numeric = numeric && u == unit;
    }
    if (!numeric) {
      page.note("Axis " + t.axes[a].first + " is not numeric (or mixes units): no chart against it.");
      continue;
    }
    ++numeric_axes;
    // One line per combination of the other axes' values.
    std::vector<std::vector<std::string>> others;
    std::vector<size_t> line_of(combo_values.size());
    for (size_t c = 0; c < combo_values.size(); ++c) {
      std::vector<std::string> rest = combo_values[c];
      rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(a));
      auto it = std::find(others.begin(), others.end(), rest);
      line_of[c] = static_cast<size_t>(it - others.begin());
      if (it == others.end()) others.push_back(rest);
    }
    constexpr size_t MAX_LINES = 8;
    for (const KeyMetric& m : metrics) {
      const std::string munit = unit_of(m.name);
      double biggest = 0;
      for (size_t c = 0; c < combo_values.size(); ++c) biggest = std::max(biggest, std::fabs(combo_stat(c, m.name).mean));
      const auto [uname, uscale] = munit == "s" ? scaled_display_unit(biggest, "s") : std::pair<std::string, double>{munit, 1};
      Chart chart;
      chart.title = m.title + " vs " + t.axes[a].first;
      chart.x_label = t.axes[a].first + (unit.empty() ? "" : " (" + unit + ")");
      chart.y_label = m.title + (uname.empty() ? "" : " (" + uname + ")");
      chart.y_from_zero = true;
      for (size_t line = 0; line < others.size() && line < MAX_LINES; ++line) {
        std::string label;
        for (size_t b = 0, k = 0; b < t.axes.size(); ++b) {
          if (b == a) continue;
          label += (label.empty() ? "" : ", ") + t.axes[b].first + "=" + others[line][k++];
        }
        ChartSeries points, joined;
        points.name = label;
        points.style = SeriesStyle::SCATTER;
        points.color = joined.color = std::string(line == 0 ? "#0072B2" : line == 1 ? "#D55E00" : line == 2 ? "#009E73"
                                                  : line == 3 ? "#CC79A7" : line == 4 ? "#E69F00" : line == 5 ? "#56B4E9"
                                                  : line == 6 ? "#000000" : "#999999");
        std::vector<std::pair<double, MeanCi>> by_x;
        for (size_t c = 0; c < combo_values.size(); ++c)
          if (line_of[c] == line) by_x.emplace_back(xs[c], combo_stat(c, m.name));
        std::sort(by_x.begin(), by_x.end(), [](const auto& p, const auto& q) { return p.first < q.first; });
        for (const auto& [x, ci] : by_x) {
          points.x.push_back(x);
          points.y.push_back(ci.mean / uscale);
          points.y_err.push_back(ci.half_width / uscale);
          joined.x.push_back(x);
          joined.y.push_back(ci.mean / uscale);
        }
        chart.series.push_back(std::move(points));
        chart.series.push_back(std::move(joined));
      }
      std::string caption = "Mean over the seeds of each axis combination (points that ran); error bars: 95 % "
                            "confidence interval of the mean (Student's t, n - 1 degrees of freedom; none with one run).";
      if (others.size() > MAX_LINES)
        caption += " Only the first " + std::to_string(MAX_LINES) + " of " + std::to_string(others.size()) +
                   " combinations of the other axes are drawn.";
      page.chart("axis-" + std::to_string(a) + "-" + safe_id(m.name), chart, caption);
    }
  }
  if (numeric_axes == 0) page.note("No numeric axis to plot against.");

  // Cost-latency frontier over axis combinations.
  page.section("frontier", "Cost-latency frontier");
  std::string cost_metric = t.values.count("power.cost") && any_finite(t.values.at("power.cost")) ? "power.cost"
                            : t.values.count("facility_energy") && any_finite(t.values.at("facility_energy"))
                                ? "facility_energy"
                                : "";
  std::string latency_metric = t.values.count("ttft_p99") ? "ttft_p99" : t.values.count("e2e_p99") ? "e2e_p99" : "";
  std::set<size_t> pareto;
  std::vector<double> fx(combo_values.size(), NaN), fy(combo_values.size(), NaN);
  if (cost_metric.empty() || latency_metric.empty()) {
    page.note("No cost (power.cost) or energy (facility_energy) metric, or no latency metric: no frontier.");
  } else {
    for (size_t c = 0; c < combo_values.size(); ++c) {
      fx[c] = combo_stat(c, cost_metric).mean;
      fy[c] = combo_stat(c, latency_metric).mean;
    }
    const std::vector<size_t> front = pareto_front(fx, fy);
    pareto.insert(front.begin(), front.end());
    const auto [uname, uscale] = scaled_display_unit(max_abs_finite(fy), "s");
    Chart chart;
    chart.title = latency_metric + " vs " + cost_metric;
    chart.x_label = cost_metric + " (" + unit_of(cost_metric) + ")";
    chart.y_label = latency_metric + " (" + uname + ")";
    ChartSeries all, best, line;
    all.name = "axis combinations";
    all.style = SeriesStyle::SCATTER;
    all.color = "#999999";
    best.name = "Pareto-optimal";
    best.style = SeriesStyle::SCATTER;
    best.color = "#D55E00";
    best.marker_radius = 5;
    line.style = SeriesStyle::STEP;
    line.color = "#D55E00";
    line.dashed = true;
    for (size_t c = 0; c < combo_values.size(); ++c)
      if (!pareto.count(c)) {
        all.x.push_back(fx[c]);
        all.y.push_back(fy[c] / uscale);
      }
    for (size_t c : front) {
      best.x.push_back(fx[c]);
      best.y.push_back(fy[c] / uscale);
    }
    line.x = best.x;
    line.y = best.y;
    chart.series = {all, line, best};
    page.chart("frontier", chart,
               "Each axis combination at its mean over seeds. Pareto-optimal: no other combination is at most as "
               "costly and at most as slow, and better in one of the two.");
  }

  // Combination table.
  page.section("combinations", "Axis combinations");
  page.body << "<table class=\"combinations\"><tr>";
  for (const auto& axis : t.axes) page.body << "<th>" << esc(axis.first) << "</th>";
  page.body << "<th>runs ok</th>";
  for (const KeyMetric& m : metrics) page.body << "<th>" << esc(m.name) << " (" << esc(unit_of(m.name)) << ")</th>";
  page.body << "</tr>\n";
  for (size_t c = 0; c < combo_values.size(); ++c) {
    page.body << "<tr" << (pareto.count(c) ? " class=\"pareto\"" : "") << ">";
    for (const std::string& v : combo_values[c]) page.body << "<td>" << esc(v) << "</td>";
    size_t ok = 0;
    for (size_t i : combo_points[c]) ok += t.statuses[i] == "ok";
    page.body << "<td class=\"num\">" << ok << "/" << combo_points[c].size() << "</td>";
    for (const KeyMetric& m : metrics) {
      const MeanCi ci = combo_stat(c, m.name);
      page.body << "<td class=\"num\">" << fmt_value(ci.mean);
      if (std::isfinite(ci.half_width)) page.body << " &#177; " << fmt_value(ci.half_width);
      page.body << "</td>";
    }
    page.body << "</tr>\n";
  }
  page.body << "</table>\n";
  if (!pareto.empty()) page.note("Rows in bold are Pareto-optimal on the frontier above.");

  // Point table.
  page.section("points", "Points");
  page.body << "<table class=\"points\"><tr><th>id</th><th>seed</th>";
  for (const auto& axis : t.axes) page.body << "<th>" << esc(axis.first) << "</th>";
  page.body << "<th>status</th>";
  for (const KeyMetric& m : metrics) page.body << "<th>" << esc(m.name) << "</th>";
  page.body << "</tr>\n";
  for (size_t i = 0; i < n; ++i) {
    const bool ok = t.statuses[i] == "ok";
    page.body << "<tr" << (ok ? "" : " class=\"failed\"") << "><td>" << esc(t.ids[i]) << "</td><td class=\"num\">"
              << t.seeds[i] << "</td>";
    for (const auto& axis : t.axes) page.body << "<td>" << esc(axis.second[i]) << "</td>";
    page.body << "<td>" << esc(t.statuses[i]);
    if (!ok) {
      const fs::path error = root / "points" / (t.ids[i] + ".error");
      if (fs::is_regular_file(error, unreadable))
        page.body << "<pre class=\"error\">" << esc(read_text(error)) << "</pre>";
    }
    page.body << "</td>";
    for (const KeyMetric& m : metrics) page.body << "<td class=\"num\">" << fmt_value(t.values.at(m.name)[i]) << "</td>";
    page.body << "</tr>\n";
  }
  page.body << "</table>\n";

  const std::string name = fs::path(dir).lexically_normal().filename().string();
  char counts[160];
  std::snprintf(counts, sizeof counts, "%zu points, %zu axis combinations, %zu failed", n, combo_values.size(), failed);
  const std::string heading = "<h1>aifsim sweep report: " + esc(name.empty() ? dir : name) +
                              "</h1>\n<p class=\"note\">" + esc(dir) + " &#183; " + counts + "</p>\n";
  const std::string html = page.html("aifsim sweep report: " + dir, heading);
  write_page(path, html);
  return {page.charts, html.size()};
}

ReportInfo write_plan_report(const std::string& dir, const std::string& path) {
  const fs::path csv_path = fs::path(dir) / "plan.csv";
  std::error_code unreadable;
  if (!fs::exists(csv_path, unreadable)) throw ResultsError(dir + ": not a plan folder (no plan.csv; `aifsim plan -o DIR` writes it)");
  const PlanTable table = read_plan_table(csv_path.string());
  // The chart's metric: the first SLO.
  const std::string metric = table.slos.empty() ? "" : table.slos.front() + "_s";
  Page page;
  page.section("answer", "Answer");
  page.body << "<pre class=\"plan\">" << esc(read_text(fs::path(dir) / "plan.md")) << "</pre>\n";
  auto cost_chart = [&](const std::string& id, bool failure, const std::string& title) {
    if (metric.empty()) return;
    ChartSeries ok{"meets the SLOs", {}, {}, {}, SeriesStyle::SCATTER, "#1a9850"};
    ChartSeries miss{"misses", {}, {}, {}, SeriesStyle::SCATTER, "#d73027"};
    std::vector<double> cx, cy;
    for (const PlanRow& row : table.rows) {
      const std::optional<PlanRunCells>& run = failure ? row.failure : row.normal;
      if (!row.normal || !run) continue;
      const double x = *row.normal->cost_per_h, y = run->latency_s.front();
      if (!std::isfinite(x) || !std::isfinite(y)) continue;  // never finished: no point to draw
      (run->meets ? ok : miss).x.push_back(x);
      (run->meets ? ok : miss).y.push_back(y);
      cx.push_back(x);
      cy.push_back(y);
    }
    if (cx.empty()) return;
    ChartSeries front{"frontier", {}, {}, {}, SeriesStyle::LINE, "#444444"};
    for (size_t i : pareto_front(cx, cy)) front.x.push_back(cx[i]), front.y.push_back(cy[i]);
    // Candidates far off (minutes of queueing) would flatten the ones that matter: the axis stops at 3 x the
    // slowest candidate that meets the SLOs, and what lies above is drawn on that edge.
    const double cap = ok.y.empty() ? *std::max_element(cy.begin(), cy.end())
                                    : 3 * *std::max_element(ok.y.begin(), ok.y.end());
    size_t clipped = 0;
    for (ChartSeries* s : {&front, &ok, &miss})
      for (double& y : s->y)
        if (y > cap) y = cap, clipped += s != &front;
    Chart chart;
    chart.title = title;
    chart.x_label = "cost per hour";
    chart.y_label = metric.substr(0, metric.size() - 2) + " (s)";
    chart.series = {front, ok, miss};
    chart.y_min = 0;
    chart.y_max = cap;
    page.chart(id, chart,
               "Every simulated candidate within the cost window; the line joins the Pareto-optimal ones." +
                   (clipped ? " " + std::to_string(clipped) + " candidate(s) slower than " + fmt_value(cap) +
                                  " s are drawn on the top edge."
                            : std::string()));
  };
  page.section("frontier", "Cost and latency");
  const std::string shown = metric.size() > 2 ? metric.substr(0, metric.size() - 2) : metric;
  cost_chart("plan-cost", false, "Cost per hour vs " + shown);
  if (table.racks_down > 0) cost_chart("plan-cost-failure", true, "With the stated failure: cost per hour vs " + shown);
  page.section("candidates", "Candidates");
  const std::vector<std::vector<std::string>> cells = plan_table_cells(table);
  page.body << "<table class=\"candidates\"><tr>";
  for (const std::string& h : cells.front()) page.body << "<th>" << esc(h) << "</th>";
  page.body << "</tr>\n";
  for (size_t r = 1; r < cells.size(); ++r) {
    page.body << (table.rows[r - 1].chosen.empty() ? "<tr>" : "<tr class=\"pareto\">");
    for (const std::string& cell : cells[r]) page.body << "<td>" << esc(cell) << "</td>";
    page.body << "</tr>\n";
  }
  page.body << "</table>\n";
  const std::string html = page.html("aifsim plan " + fs::path(dir).filename().string(),
                                     "<h1>Capacity plan <code>" + esc(dir) + "</code></h1>\n");
  write_page(path, html);
  return ReportInfo{page.charts, html.size()};
}

}  // namespace aif::analysis
