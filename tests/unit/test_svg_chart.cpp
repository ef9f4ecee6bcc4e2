// SVG charts (analysis/svg_chart): ticks, pixel geometry against numbers worked out by hand, what each series style
// emits, downsampling and the Pareto front the sweep report highlights.
#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "aif/analysis/event_markers.hpp"
#include "aif/analysis/glossary.hpp"
#include "aif/analysis/report.hpp"
#include "aif/analysis/svg_chart.hpp"
#include "../support/svg_points.hpp"

using namespace aif::analysis;
using aif::testing::polylines;

namespace {

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}


}  // namespace

TEST(SvgChart, NiceTicksForKnownRanges) {
  // [0, 97] in at most 5 intervals: raw step 19.4 -> 20; 0..100.
  Ticks t = nice_ticks(0, 97, 5);
  EXPECT_DOUBLE_EQ(t.step, 20);
  EXPECT_EQ(t.values, (std::vector<double>{0, 20, 40, 60, 80, 100}));
  // [0.13, 0.87], 5: raw 0.148 -> 0.2; floor(0.13 / 0.2) = 0, ceil(0.87 / 0.2) = 5 -> 0, 0.2, ..., 1.0.
  t = nice_ticks(0.13, 0.87, 5);
  EXPECT_DOUBLE_EQ(t.step, 0.2);
  EXPECT_DOUBLE_EQ(t.first, 0);
  EXPECT_NEAR(t.last, 1.0, 1e-12);
  EXPECT_EQ(t.values.size(), 6u);
  // [-3, 17], 4: raw 5 -> 5; -5, 0, 5, 10, 15, 20 would be 5 intervals > 4, so step 10: -10, 0, 10, 20.
  t = nice_ticks(-3, 17, 4);
  EXPECT_DOUBLE_EQ(t.step, 10);
  EXPECT_EQ(t.values, (std::vector<double>{-10, 0, 10, 20}));
  // [1234, 5678], 6: raw 740.7 -> 1000; 1000..6000.
  t = nice_ticks(1234, 5678, 6);
  EXPECT_DOUBLE_EQ(t.step, 1000);
  EXPECT_DOUBLE_EQ(t.first, 1000);
  EXPECT_DOUBLE_EQ(t.last, 6000);
  // A flat series at 50: widened to [45, 55]; raw 10 / 6 = 1.67 -> 2; 44..56.
  t = nice_ticks(50, 50, 6);
  EXPECT_DOUBLE_EQ(t.step, 2);
  EXPECT_DOUBLE_EQ(t.first, 44);
  EXPECT_DOUBLE_EQ(t.last, 56);
  // No data: [0, 1].
  t = nice_ticks(std::nan(""), 3, 5);
  EXPECT_DOUBLE_EQ(t.first, 0);
  EXPECT_DOUBLE_EQ(t.last, 1);
}

TEST(SvgChart, TickLabels) {
  EXPECT_EQ(tick_label(0.6000000000000001, 0.2), "0.6");
  EXPECT_EQ(tick_label(-1e-17, 0.2), "0.0");
  EXPECT_EQ(tick_label(150, 50), "150");
  EXPECT_EQ(tick_label(0.05, 0.05), "0.05");
  EXPECT_EQ(tick_label(2e7, 1e7), "2e+07");
}

TEST(SvgChart, AValueMapsToThePixelWorkedOutByHand) {
  Chart c;  // 760 x 300, no legend (unnamed series), numeric axes
  c.series.push_back({"", {0, 5, 10}, {0, 50, 97}, {}, SeriesStyle::LINE, "", false});
  const ChartLayout l = chart_layout(c);
  // Plot area: left margin 64, right 760 - 18 = 742, top = title 24 + 6 = 30, bottom = 300 - 42 = 258.
  EXPECT_DOUBLE_EQ(l.left, 64);
  EXPECT_DOUBLE_EQ(l.right, 742);
  EXPECT_DOUBLE_EQ(l.top, 30);
  EXPECT_DOUBLE_EQ(l.bottom, 258);
  // x: at most (742 - 64) / 90 = 7 intervals over [0, 10] -> step 2, 0..10. y: (258 - 30) / 40 = 5 over [0, 97] ->
  // step 20, 0..100.
  EXPECT_DOUBLE_EQ(l.x_ticks.last, 10);
  EXPECT_DOUBLE_EQ(l.y_ticks.last, 100);
  // (5, 50): x = 64 + 5 / 10 * 678 = 403, y = 258 - 50 / 100 * 228 = 144. (10, 97): 742, 258 - 0.97 * 228 = 36.84.
  EXPECT_DOUBLE_EQ(l.x(5), 403);
  EXPECT_DOUBLE_EQ(l.y(50), 144);
  const auto lines = polylines(render_svg(c));
  ASSERT_EQ(lines.size(), 1u);
  ASSERT_EQ(lines[0].size(), 3u);
  EXPECT_DOUBLE_EQ(lines[0][0].first, 64);
  EXPECT_DOUBLE_EQ(lines[0][0].second, 258);
  EXPECT_DOUBLE_EQ(lines[0][1].first, 403);
  EXPECT_DOUBLE_EQ(lines[0][1].second, 144);
  EXPECT_DOUBLE_EQ(lines[0][2].first, 742);
  EXPECT_NEAR(lines[0][2].second, 36.84, 0.005);
}

TEST(SvgChart, FixedRangeAndCategories) {
  Chart c;
  c.y_min = 0;
  c.y_max = 1;
  c.series.push_back({"", {0, 4}, {0.25, 0.5}, {}, SeriesStyle::LINE, "", false});
  ChartLayout l = chart_layout(c);
  EXPECT_DOUBLE_EQ(l.y(0.25), 258 - 0.25 * 228);  // 201
  // Categories: lanes at 0..n-1 in [-0.5, n - 0.5], left margin 150.
  Chart e;
  e.y_categories = {"failure", "repair", "scale_up", "power_cap"};
  e.series.push_back({"", {1, 2}, {0, 3}, {}, SeriesStyle::SCATTER, "", false});
  l = chart_layout(e);
  EXPECT_DOUBLE_EQ(l.left, 150);
  EXPECT_DOUBLE_EQ(l.y(-0.5), 258);
  EXPECT_DOUBLE_EQ(l.y(3.5), 30);
  EXPECT_DOUBLE_EQ(l.y(0), 258 - 0.5 / 4 * 228);
  const std::string svg = render_svg(e);
  EXPECT_NE(svg.find(">scale_up</text>"), std::string::npos);
}

TEST(SvgChart, WhatEachStyleEmits) {
  Chart c;
  c.title = "a <b> & \"c\"";
  const double nan = std::nan("");
  c.series.push_back({"line", {0, 1, 2, 3, 4, 5}, {1, 2, nan, 4, 5, 6}, {}, SeriesStyle::LINE, "", false});
  c.series.push_back({"step", {0, 1, 2, 3}, {1, 2, 3, 4}, {}, SeriesStyle::STEP, "", true});
  c.series.push_back({"scatter", {0, 1, 2}, {1, 2, 3}, {0.5, 0, nan}, SeriesStyle::SCATTER, "", false});
  const std::string svg = render_svg(c);
  const auto lines = polylines(svg);
  // The NaN splits the line into 2 (2 points) and 3 (3 points); the step has 2 n - 1 = 7 vertices.
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].size(), 2u);
  EXPECT_EQ(lines[1].size(), 3u);
  ASSERT_EQ(lines[2].size(), 7u);
  EXPECT_DOUBLE_EQ(lines[2][1].first, lines[2][2].first);    // horizontal then vertical
  EXPECT_DOUBLE_EQ(lines[2][1].second, lines[2][0].second);
  EXPECT_EQ(count_of(svg, "<circle class=\"series s2\""), 3u);
  EXPECT_EQ(count_of(svg, "class=\"errbar s2\""), 1u);  // error 0 and NaN draw no bar
  EXPECT_EQ(count_of(svg, "stroke-dasharray"), 2u);     // the dashed series and its legend swatch
  EXPECT_NE(svg.find("a &lt;b&gt; &amp; &quot;c&quot;"), std::string::npos);
  EXPECT_EQ(svg.find("<b>"), std::string::npos);
  // The error bar spans y +- 0.5 in pixels: layout y(1.5) .. y(0.5) at x(0).
  const ChartLayout l = chart_layout(c);
  char bar[96];
  std::snprintf(bar, sizeof bar, "M%.2f %.2fV%.2f", l.x(0), l.y(0.5), l.y(1.5));
  EXPECT_NE(svg.find(bar), std::string::npos) << bar;
}

TEST(SvgChart, DownsamplingKeepsPeaksAndBounds) {
  std::vector<double> x, y;
  for (int i = 0; i < 100000; ++i) {
    x.push_back(i);
    y.push_back(std::sin(i * 0.001));
  }
  y[54321] = 7;  // a one-sample spike
  y[777] = -3;
  y[90000] = std::nan("");
  std::vector<double> ox, oy;
  downsample_min_max(x, y, 2000, ox, oy);
  EXPECT_LE(ox.size(), 2000u);
  EXPECT_GE(ox.size(), 1300u);  // 666 buckets x 2
  EXPECT_NE(std::find(oy.begin(), oy.end(), 7.0), oy.end());
  EXPECT_NE(std::find(oy.begin(), oy.end(), -3.0), oy.end());
  EXPECT_EQ(std::count_if(oy.begin(), oy.end(), [](double v) { return std::isnan(v); }), 1);
  EXPECT_TRUE(std::is_sorted(ox.begin(), ox.end()));
  downsample_min_max({1, 2, 3}, {4, 5, 6}, 2000, ox, oy);
  EXPECT_EQ(oy, (std::vector<double>{4, 5, 6}));
}

TEST(SvgChart, CdfSteps) {
  std::vector<double> x, y;
  cdf_steps({1, 2, 4, 8}, x, y);
  EXPECT_EQ(x, (std::vector<double>{1, 1, 2, 2, 4, 4, 8, 8}));
  EXPECT_EQ(y, (std::vector<double>{0, 0.25, 0.25, 0.5, 0.5, 0.75, 0.75, 1}));
}

TEST(SvgChart, ParetoFront) {
  // (cost, latency): (1, 9) (2, 5) (3, 6) dominated by (2, 5); (4, 2); (5, 2) dominated by (4, 2); (6, 1); NaN out.
  const std::vector<double> cost{3, 1, 2, 4, 5, 6, std::nan("")};
  const std::vector<double> latency{6, 9, 5, 2, 2, 1, 0};
  EXPECT_EQ(pareto_front(cost, latency), (std::vector<size_t>{1, 2, 3, 5}));
  EXPECT_EQ(xml_escape("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
}

// A log axis over [0.03, 40]: ticks at every decade from 0.01 to 100 (four decades: no 2 and 5), pixels from log10.
TEST(SvgChart, LogAxisMapsDecadesToEqualSpans) {
  const Ticks wide = log_ticks(0.03, 40);
  EXPECT_EQ(wide.values, (std::vector<double>{-2, -1, 0, 1, 2}));
  // Over [0.2, 30]: floor(log10 0.2) = -1 to ceil(log10 30) = 2, three decades: decades only.
  EXPECT_EQ(log_ticks(0.2, 30).values, (std::vector<double>{-1, 0, 1, 2}));
  // Over [1.5, 40] (two decades, 1 to 100): 1, 2, 5, 10, 20, 50, 100 (2 and 5 between, inside the data's range or at
  // its edges: 2 >= 1.5 and 50 > 40 is left out).
  const Ticks narrow = log_ticks(1.5, 40);
  ASSERT_EQ(narrow.values.size(), 6u);
  EXPECT_DOUBLE_EQ(narrow.values[1], std::log10(2.0));
  EXPECT_DOUBLE_EQ(narrow.values[4], std::log10(20.0));
  Chart c;
  c.x_log = true;
  c.series.push_back({"", {0.01, 1, 100, -5}, {0, 0.5, 1, 1}, {}, SeriesStyle::LINE, "", false});
  const ChartLayout l = chart_layout(c);
  // x from log10 0.01 = -2 to log10 100 = 2 over 64..742: 1 sits in the middle, 403; the point at -5 is left out.
  EXPECT_DOUBLE_EQ(l.px_x(1), 403);
  const auto lines = polylines(render_svg(c));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].size(), 3u);
  EXPECT_DOUBLE_EQ(lines[0][1].first, 403);
  EXPECT_NE(render_svg(c).find(">0.01</text>"), std::string::npos);
}

// A marker is a dashed vertical line at its x from the top to the bottom of the plot, its label as the tooltip.
TEST(SvgChart, MarkersAreVerticalLinesAtTheirTime) {
  Chart c;
  c.series.push_back({"", {0, 10}, {0, 97}, {}, SeriesStyle::LINE, "", false});
  c.markers = {{5, "failure rack/0", "#BE1E1E"}, {5.1, "repair_done rack/0", "#1E8232"}, {11, "outside", "#000"}};
  const std::string svg = render_svg(c);
  // 5 -> 403 px (AValueMapsToThePixelWorkedOutByHand); 11 lies beyond the last tick (10): not drawn.
  EXPECT_NE(svg.find("<line class=\"marker\" x1=\"403.00\" y1=\"30.00\" x2=\"403.00\" y2=\"258.00\""), std::string::npos);
  size_t lines = 0, labels = 0;
  for (size_t at = svg.find("class=\"marker\""); at != std::string::npos; at = svg.find("class=\"marker\"", at + 1)) ++lines;
  for (size_t at = svg.find("class=\"marker-label\""); at != std::string::npos; at = svg.find("class=\"marker-label\"", at + 1)) ++labels;
  EXPECT_EQ(lines, 2u);
  EXPECT_EQ(labels, 1u);  // 5.1 is 6.78 px from 5: too close for a second label
  EXPECT_NE(svg.find("<title>repair_done rack/0</title>"), std::string::npos);
}

// Patterns: "<...>" stands for one or more characters; an exact name wins over a pattern.
TEST(Glossary, PatternsMatchTheNamesTheyStandFor) {
  EXPECT_TRUE(glossary_matches("service.<service>.ttft_p99", "service.chat.ttft_p99"));
  EXPECT_TRUE(glossary_matches("service.<service>.ttft_p99", "service.a.b.ttft_p99"));  // a name with a dot
  EXPECT_FALSE(glossary_matches("service.<service>.ttft_p99", "service..ttft_p99"));    // empty name
  EXPECT_FALSE(glossary_matches("service.<service>.ttft_p99", "service.chat.ttft_p50"));
  EXPECT_FALSE(glossary_matches("ttft_p99", "ttft_p99x"));
  EXPECT_TRUE(glossary_matches("link_util_<tier>_max", "link_util_uplink_max"));
  // A job's grid energy is the job's entry, not a service's: specific patterns come first.
  const GlossaryEntry* job = glossary_entry("job.pretrain.grid_energy");
  ASSERT_NE(job, nullptr);
  EXPECT_EQ(job->pattern.rfind("job.", 0), 0u) << job->pattern;
  EXPECT_EQ(glossary_entry("link_util_uplink_max", GlossaryKind::SERIES)->pattern, "link_util_<tier>_max");
  // Every entry is complete, and no two entries have the same pattern and kind.
  std::set<std::pair<int, std::string>> seen;
  for (const GlossaryEntry& e : glossary()) {
    EXPECT_FALSE(e.unit.empty()) << e.pattern;
    EXPECT_FALSE(e.title.empty()) << e.pattern;
    EXPECT_GT(e.definition.size(), 20u) << e.pattern;
    EXPECT_TRUE(seen.insert({static_cast<int>(e.kind), e.pattern}).second) << "twice: " << e.pattern;
  }
  // The site's energy per output token is facility energy; a service's is its GPUs' energy: both say so.
  const GlossaryEntry* site = glossary_entry("energy_per_output_token");
  const GlossaryEntry* service = glossary_entry("chat.gpu_energy_per_output_token");
  ASSERT_TRUE(site && service);
  EXPECT_NE(site->definition.find("facility"), std::string::npos) << site->definition;
  EXPECT_NE(service->definition.find("GPU"), std::string::npos) << service->definition;
}

TEST(Glossary, ValuesAndUnitsAsTablesShowThem) {
  EXPECT_EQ(format_metric_value(2160915), "2,160,915");
  EXPECT_EQ(format_metric_value(-1234567), "-1,234,567");
  EXPECT_EQ(format_metric_value(999), "999");
  EXPECT_EQ(format_metric_value(409166.6), "409,167");    // 100,000 and more: whole, grouped
  EXPECT_EQ(format_metric_value(2160915.4), "2,160,915");
  EXPECT_EQ(format_metric_value(1234.5678), "1234.57");    // below: 6 significant digits
  EXPECT_EQ(format_metric_value(0.0123456789), "0.0123457");
  EXPECT_EQ(format_metric_value(0.00012345), "0.000123");
  EXPECT_EQ(format_metric_value(std::nan("")), "\u2014");
  EXPECT_EQ(display_unit("1"), "");
  EXPECT_EQ(display_unit("kWh"), "kWh");
  EXPECT_EQ(scaled_display_unit(409166.6, "W"), (std::pair<std::string, double>{"kW", 1e3}));
  EXPECT_EQ(scaled_display_unit(8.16e6, "W"), (std::pair<std::string, double>{"MW", 1e6}));
  EXPECT_EQ(scaled_display_unit(0.05, "s"), (std::pair<std::string, double>{"ms", 1e-3}));
  EXPECT_EQ(scaled_display_unit(5000, "tokens/s").second, 1);  // no prefixes on other units
  EXPECT_EQ(time_display_unit(7200).first, "min");  // 2 h: at most 3 h reads in minutes
  EXPECT_EQ(time_display_unit(25200).first, "h");
  EXPECT_EQ(time_display_unit(30 * 86400).first, "d");
}

// The events a chart marks: failures, repairs, power caps, demand response, rollouts; a burst of one lane within
// end / 200 of its first event is one marker.
TEST(EventMarkers, MarkedKindsAndMerging) {
  std::vector<EventRecord> events = {{0, "replica_start", "chat/0", ""},       {100, "failure", "rack/1", ""},
                                     {100, "replica_down", "chat/4", ""},     {101, "failure", "server/5", ""},
                                     {130, "failure", "server/9", ""},         {3700, "repair_done", "rack/1", ""},
                                     {5000, "demand_response_start", "", ""}, {5000, "job_start", "train", ""}};
  const auto m = event_markers(events, 7200);  // merge within 7200 / 200 = 36 s
  ASSERT_EQ(m.size(), 3u);  // replica_down follows its failure and job_start is routine: not marked
  EXPECT_EQ(m[0].time_s, 100);
  EXPECT_EQ(m[0].count, 3u);  // 100, 101, 130 (130 - 100 <= 36)
  EXPECT_EQ(m[0].label, "3 failures");
  EXPECT_EQ(m[1].time_s, 3700);
  EXPECT_EQ(m[1].lane, EventLane::REPAIRS);
  EXPECT_EQ(m[2].label, "demand_response_start");
  EXPECT_EQ(m[2].lane, EventLane::POWER);
  EXPECT_FALSE(is_marked_event("replica_start"));
  EXPECT_FALSE(is_marked_event("job_start"));
  EXPECT_EQ(event_markers(events, 7200, 2).size(), 2u);  // the earliest kept
}
