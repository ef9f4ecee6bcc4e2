// HTML reports (analysis/report, `aifsim report`) of small runs and of a sweep folder: each chart holds the number of
// points its data gives (recomputed here from the results file), values sit at the pixel the printed axis ticks give,
// the page is well formed and self-contained, and every text from the run is escaped.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "../support/svg_points.hpp"
#include "../support/aifsim_process.hpp"
#include "../support/results_summary.hpp"
#include "aif/analysis/glossary.hpp"
#include "aif/analysis/report.hpp"
#include "aif/analysis/results.hpp"
#include "aif/analysis/sweep_table.hpp"

using namespace aif::analysis;
using namespace aif::testing;
namespace fs = std::filesystem;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The <figure> of chart `id`, or "" when the page has none.
std::string figure(const std::string& html, const std::string& id) {
  const size_t begin = html.find("<figure class=\"chart\" id=\"chart-" + id + "\">");
  if (begin == std::string::npos) return "";
  return html.substr(begin, html.find("</figure>", begin) - begin);
}


// The y axis as printed: each numeric tick label (right-aligned texts) and its baseline (label y - 4 = tick y).
// Returns the pixel of value v by linear interpolation between the lowest and the highest tick.
double y_pixel_from_ticks(const std::string& svg, double v) {
  const std::regex tick("<text x=\"[0-9.]+\" y=\"([0-9.]+)\" text-anchor=\"end\">([-0-9.e+]+)</text>");
  std::vector<std::pair<double, double>> ticks;  // value, pixel
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), tick); it != std::sregex_iterator(); ++it)
    ticks.emplace_back(std::stod((*it)[2].str()), std::stod((*it)[1].str()) - 4);
  EXPECT_GE(ticks.size(), 2u);
  const auto lo = ticks.front(), hi = ticks.back();
  return lo.second + (v - lo.first) / (hi.first - lo.first) * (hi.second - lo.second);
}

// Every tag the report emits is closed in order (void <meta> and self-closing SVG elements aside).
void expect_well_formed(const std::string& html) {
  ASSERT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  std::vector<std::string> stack;
  size_t tags = 0;
  for (size_t at = html.find('<'); at != std::string::npos; at = html.find('<', at + 1)) {
    const size_t end = html.find('>', at);
    ASSERT_NE(end, std::string::npos);
    const std::string tag = html.substr(at + 1, end - at - 1);
    if (tag.rfind("!DOCTYPE", 0) == 0) continue;
    const bool closing = !tag.empty() && tag[0] == '/';
    const std::string name = tag.substr(closing, tag.find_first_of(" \n/", closing) - closing);
    ASSERT_FALSE(name.empty()) << "a bare '<' at " << at;
    ++tags;
    if (name == "meta" || tag.back() == '/') continue;
    if (!closing) {
      stack.push_back(name);
    } else {
      ASSERT_FALSE(stack.empty()) << "</" << name << "> closes nothing";
      ASSERT_EQ(stack.back(), name) << "</" << name << "> closes <" << stack.back() << ">";
      stack.pop_back();
    }
    at = end;
  }
  EXPECT_TRUE(stack.empty()) << stack.size() << " tags left open, first <" << (stack.empty() ? "" : stack[0]) << ">";
  EXPECT_GT(tags, 100u);
  // Self-contained: nothing to fetch.
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("url("), std::string::npos);
}

std::string escape_by_hand(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '"') out += "&quot;";
    else if (c == '\'') out += "&#39;";
    else out += c;
  }
  return out;
}

}  // namespace

TEST(Report, ResultsFileChartsHoldTheirData) {
  const std::string dir = scratch_dir("report_results");
  const std::string h5 = run_scenario_file(dir, "tests/data/scenarios/reliability_failover.yaml", "failover");
  const auto run = run_aifsim("report " + h5);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::string out = dir + "/failover.html";
  ASSERT_TRUE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".tmp"));
  const std::string html = read_all(out);
  expect_well_formed(html);
  const ResultsReader r(h5);

  // Summary table: every /summary entry by name, with its meaning from the glossary.
  for (const SummaryEntry& e : r.summary()) {
    EXPECT_NE(html.find("<td>" + e.name + "</td>"), std::string::npos) << e.name;
    const GlossaryEntry* g = glossary_entry(e.name);
    ASSERT_NE(g, nullptr) << e.name;
    EXPECT_NE(html.find("<td class=\"meaning\">" + escape_by_hand(g->definition) + "</td>"), std::string::npos) << e.name;
  }
  // The headline comes first: finished of arrived requests, written with thousands separators.
  const size_t headline = html.find("<div class=\"headline\">");
  ASSERT_NE(headline, std::string::npos);
  EXPECT_LT(headline, html.find("<h2 id=\"summary\">"));
  EXPECT_NE(html.find("<b>" + format_metric_value(*r.summary_value("finished")) + "</b><span>requests finished of " +
                      format_metric_value(*r.summary_value("requests")) + " arrived"),
            std::string::npos);
  // No chart without data: every figure draws a line or a marker of its own (a flat or empty one is a sentence).
  for (size_t at = html.find("<figure"); at != std::string::npos; at = html.find("<figure", at + 1)) {
    const std::string fig = html.substr(at, html.find("</figure>", at) - at);
    EXPECT_TRUE(fig.find("<polyline class=\"series") != std::string::npos ||
                fig.find("<circle class=\"series") != std::string::npos)
        << fig.substr(0, 120);
    EXPECT_EQ(fig.find(">no data</text>"), std::string::npos) << fig.substr(0, 120);
  }
  // The incident (rack 0 isolated from 60 s to 180 s) is marked on the time charts: its start and end, as tooltips.
  for (const char* id : {"power", "latency-ttft", "load"}) {
    const std::string fig = figure(html, id);
    EXPECT_NE(fig.find("<title>incident_start rack/0</title>"), std::string::npos) << id;
    EXPECT_NE(fig.find("<title>incident_end rack/0</title>"), std::string::npos) << id;
  }
  // Latency on log axes (over time and the CDFs), said in the axis label.
  EXPECT_NE(figure(html, "cdf-ttft").find("log scale"), std::string::npos);
  EXPECT_NE(figure(html, "latency-ttft").find("log scale"), std::string::npos);
  // Scenario text, escaped.
  const std::string scenario = r.meta().at("scenario");
  EXPECT_NE(html.find("<pre class=\"scenario\">" + escape_by_hand(scenario) + "</pre>"), std::string::npos);

  // Power: one polyline per power series, one vertex per sample (fewer than 2000 samples: no downsampling).
  const size_t samples = r.series_time().size();
  ASSERT_GT(samples, 10u);
  ASSERT_LT(samples, 2000u);
  const std::string power = figure(html, "power");
  ASSERT_FALSE(power.empty());
  const auto power_lines = polylines(power);
  size_t power_series = 0;
  for (const auto& spec : r.series())
    for (const char* name : {"grid_limit", "grid_draw", "facility_power_chain", "facility_power", "it_power",
                             "gpu_power", "solar_power", "battery_power"})
      power_series += spec.name == name;
  EXPECT_EQ(power_lines.size(), power_series);
  for (const auto& line : power_lines) EXPECT_EQ(line.size(), samples);

  // Latency over time: the windows with a finished request (40 windows over the arrivals), recomputed here.
  const auto requests = r.requests();
  double lo = 1e300, hi = -1e300;
  size_t finished = 0;
  for (const auto& q : requests)
    if (q.outcome == Outcome::FINISHED) {
      lo = std::min(lo, q.arrival_s);
      hi = std::max(hi, q.arrival_s);
      ++finished;
    }
  std::set<int> windows;
  for (const auto& q : requests)
    if (q.outcome == Outcome::FINISHED)
      windows.insert(std::clamp(static_cast<int>((q.arrival_s - lo) / ((hi - lo) / 40)), 0, 39));
  const auto ttft_lines = polylines(figure(html, "latency-ttft"));
  ASSERT_EQ(ttft_lines.size(), 2u);  // p50, p99
  EXPECT_EQ(ttft_lines[0].size(), windows.size());
  EXPECT_EQ(ttft_lines[1].size(), windows.size());

  // CDFs: more finished requests than drawn exactly -> 1000 quantiles from 0 to 1.
  ASSERT_GT(finished, 2000u);
  const auto cdf = polylines(figure(html, "cdf-e2e"));
  ASSERT_EQ(cdf.size(), 1u);
  EXPECT_EQ(cdf[0].size(), 1000u);

  // Events: one marker per event (no kind has more than 2000 here).
  const auto events = r.events();
  std::map<std::string, size_t> kinds;
  for (const auto& e : events) ++kinds[e.kind];
  for (const auto& [k, n] : kinds) ASSERT_LE(n, 2000u) << k;
  const std::string timeline = figure(html, "events");
  EXPECT_EQ(count_of(timeline, "<circle class=\"series"), events.size());
  for (const auto& [k, n] : kinds) EXPECT_NE(timeline.find(">" + k + "</text>"), std::string::npos) << k;
  ASSERT_GT(kinds.count("failure") + kinds.count("replica_down"), 0u);

  // Exact CDF on request: one step (two vertices) per finished request.
  ReportOptions exact;
  exact.cdf_exact_max = 1000000;
  write_results_report(r, dir + "/exact.html", exact);
  const auto exact_cdf = polylines(figure(read_all(dir + "/exact.html"), "cdf-ttft"));
  ASSERT_EQ(exact_cdf.size(), 1u);
  EXPECT_EQ(exact_cdf[0].size(), 2 * finished);
}

TEST(Report, GridLimitSitsWhereTheTicksSay) {
  const std::string dir = scratch_dir("report_power");
  const std::string h5 = run_scenario_file(dir, "tests/data/scenarios/power_demand_response.yaml", "dr");
  const ResultsReader r(h5);
  const std::string out = dir + "/dr_report.html";
  write_results_report(r, out);
  const std::string power = figure(read_all(out), "power");
  ASSERT_FALSE(power.empty());
  // The limit is the first series (dashed); its vertices at the printed axis' pixel for each limit (in kW: the
  // axis unit for a ~40 kW site).
  ASSERT_NE(power.find("power (kW)"), std::string::npos);
  const auto lines = polylines(power);
  ASSERT_FALSE(lines.empty());
  const auto limit = r.series_values("grid_limit");
  ASSERT_EQ(lines[0].size(), limit.size());
  std::set<double> levels(limit.begin(), limit.end());
  EXPECT_GE(levels.size(), 2u);  // the connection and the demand-response target
  for (size_t i = 0; i < limit.size(); ++i)
    EXPECT_NEAR(lines[0][i].second, y_pixel_from_ticks(power, limit[i] / 1e3), 0.02) << i;
}

TEST(Report, EscapesEverythingAndDownsamplesLongSeries) {
  const std::string dir = scratch_dir("report_escape");
  const std::string h5 = dir + "/evil.h5";
  const std::string scenario = "name: \"<script>alert('x')</script> & co\"\n";
  {
    ResultsWriter w(h5);
    w.write_meta({{"scenario", scenario}, {"note", "<b>bold</b>"}});
    w.define_series({{"facility_power", "W", ""}, {"grid_draw", "W", ""}});
    for (int i = 0; i < 5000; ++i) w.add_sample(i, {1e6 + (i == 2500 ? 5e5 : 0.0), 9e5});
    w.add_event({10, "failure", "rack/0", "a <bad> & \"odd\" detail"});
    RequestRecord q;
    q.arrival_s = 1;
    q.first_token_s = 1.5;
    q.finish_s = 3;
    q.generated_tokens = 4;
    w.add_request(q);
    w.finish({});
  }
  const std::string out = dir + "/evil.html";
  const auto run = run_aifsim("report " + h5 + " -o " + out);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::string html = read_all(out);
  expect_well_formed(html);
  EXPECT_NE(html.find(escape_by_hand(scenario)), std::string::npos);
  EXPECT_NE(html.find("&lt;b&gt;bold&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(html.find("a &lt;bad&gt; &amp; &quot;odd&quot; detail"), std::string::npos);
  // 5000 samples -> at most 2000 vertices, the one-sample peak (1.5 MW) kept: the highest point of the line.
  const std::string power = figure(html, "power");
  const auto lines = polylines(power);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_LE(lines[1].size(), 2000u);  // facility (grid draw first)
  double top = 1e9;
  for (const auto& p : lines[1]) top = std::min(top, p.second);
  EXPECT_NEAR(top, y_pixel_from_ticks(power, 1.5), 0.02);
  // One finished request: its exact CDF is one step.
  EXPECT_EQ(polylines(figure(html, "cdf-ttft"))[0].size(), 2u);
  // A foreign file: exit 2 naming it.
  std::ofstream(dir + "/foreign.h5") << "nope";
  const auto bad = run_aifsim("report " + dir + "/foreign.h5");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("error: " + dir + "/foreign.h5: "), std::string::npos) << bad.output;
  EXPECT_FALSE(fs::exists(dir + "/foreign.html"));
}

TEST(Report, SweepFolderAxisChartsFrontierAndFailedPoints) {
  const std::string dir = scratch_dir("report_sweep");
  fs::create_directories(dir + "/points");
  // One axis, replicas 1, 2, 4, 8, three seeds each. throughput = 10 r + (-1, 0, +1); ttft_p99 and power.cost fixed
  // per replica count. p0002-s2 (r = 4, seed 3) failed.
  SweepTable t;
  const int reps[] = {1, 2, 4, 8};
  const double ttft[] = {0.5, 0.2, 0.1, 0.1};
  std::vector<std::string> axis;
  std::vector<double> throughput, ttft_p99, cost;
  for (int p = 0; p < 4; ++p)
    for (int s = 0; s < 3; ++s) {
      t.ids.push_back("p000" + std::to_string(p) + "-s" + std::to_string(s));
      const bool failed = p == 2 && s == 2;
      t.statuses.push_back(failed ? "failed" : "ok");
      t.seeds.push_back(static_cast<uint64_t>(s + 1));
      axis.push_back(std::to_string(reps[p]));
      throughput.push_back(failed ? std::nan("") : 10.0 * reps[p] + (s - 1));
      ttft_p99.push_back(failed ? std::nan("") : ttft[p]);
      cost.push_back(failed ? std::nan("") : 100.0 * reps[p]);
    }
  t.axes = {{"services[0].replicas", axis}};
  t.metrics = {"power.cost", "throughput", "ttft_p99"};
  t.units = {{"power.cost", "EUR"}, {"throughput", "req/s"}, {"ttft_p99", "s"}};
  t.values = {{"power.cost", cost}, {"throughput", throughput}, {"ttft_p99", ttft_p99}};
  write_sweep_table(dir + "/sweep.h5", t);
  std::ofstream(dir + "/points/p0002-s2.error") << "exit 2\nerror: <bad> & worse\n";

  const auto run = run_aifsim("report " + dir);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::string html = read_all(dir + "/report.html");
  expect_well_formed(html);

  // Throughput vs replicas: 4 means with 95 % bars. r = 1: mean 10, half-width t_{0.975,2} x 1 / sqrt(3) =
  // 4.3027 x 0.57735 = 2.4841. r = 4: two runs (39, 40), mean 39.5, half-width t_{0.975,1} x 0.70711 / sqrt(2) =
  // 12.7062 x 0.5 = 6.3531 (t from the published table, tests/unit/test_compare.cpp).
  const std::string chart = figure(html, "axis-0-throughput");
  ASSERT_FALSE(chart.empty());
  EXPECT_EQ(count_of(chart, "<circle class=\"series"), 4u);
  EXPECT_EQ(count_of(chart, "class=\"errbar"), 4u);
  const std::regex circle("<circle class=\"series s0\" cx=\"([0-9.]+)\" cy=\"([0-9.]+)\"");
  std::vector<double> cy;
  for (auto it = std::sregex_iterator(chart.begin(), chart.end(), circle); it != std::sregex_iterator(); ++it)
    cy.push_back(std::stod((*it)[2].str()));
  ASSERT_EQ(cy.size(), 4u);
  EXPECT_NEAR(cy[0], y_pixel_from_ticks(chart, 10), 0.02);
  EXPECT_NEAR(cy[2], y_pixel_from_ticks(chart, 39.5), 0.02);
  const std::regex bar("<path class=\"errbar s0\"[^>]* d=\"M[0-9.]+ ([0-9.]+)V([0-9.]+)");
  std::vector<std::pair<double, double>> bars;
  for (auto it = std::sregex_iterator(chart.begin(), chart.end(), bar); it != std::sregex_iterator(); ++it)
    bars.emplace_back(std::stod((*it)[1].str()), std::stod((*it)[2].str()));
  ASSERT_EQ(bars.size(), 4u);
  EXPECT_NEAR(bars[0].first, y_pixel_from_ticks(chart, 10 - 2.4841), 0.05);
  EXPECT_NEAR(bars[0].second, y_pixel_from_ticks(chart, 10 + 2.4841), 0.05);
  EXPECT_NEAR(bars[2].first, y_pixel_from_ticks(chart, 39.5 - 6.3531), 0.05);
  // TTFT p99 is the same over seeds: no bars.
  EXPECT_EQ(count_of(figure(html, "axis-0-ttft_p99"), "class=\"errbar"), 0u);

  // Frontier (cost, TTFT p99): (100, 0.5), (200, 0.2), (400, 0.1) optimal; (800, 0.1) dominated by (400, 0.1).
  const std::string frontier = figure(html, "frontier");
  EXPECT_EQ(count_of(frontier, "r=\"5.00\""), 3u);  // Pareto-optimal markers
  EXPECT_EQ(count_of(frontier, "r=\"3.00\""), 1u);  // the other combination
  EXPECT_EQ(count_of(html, "<tr class=\"pareto\">"), 3u);
  // The failed point, with its error escaped.
  EXPECT_NE(html.find("<tr class=\"failed\"><td>p0002-s2</td>"), std::string::npos);
  EXPECT_NE(html.find("error: &lt;bad&gt; &amp; worse"), std::string::npos);
  // Runs ok per combination, in the row of its replica count: 2 of 3 for r = 4 (p0002-s2 failed), 3 of 3 elsewhere.
  const size_t table_at = html.find("<table class=\"combinations\">");
  ASSERT_NE(table_at, std::string::npos);
  const std::string table = html.substr(table_at);
  for (const auto& [r, ok] :
       {std::pair<const char*, const char*>{"1", "3/3"}, {"2", "3/3"}, {"4", "2/3"}, {"8", "3/3"}})
    EXPECT_NE(table.find(std::string("<td>") + r + "</td><td class=\"num\">" + ok + "</td>"), std::string::npos)
        << "replicas " << r << ": " << ok;

  // Not a sweep folder: exit 2.
  const auto bad = run_aifsim("report " + dir + "/points");
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("not a sweep folder"), std::string::npos) << bad.output;
}
