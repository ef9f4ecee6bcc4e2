#include "aif/analysis/svg_chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace aif::analysis {

namespace {

constexpr double NaN = std::numeric_limits<double>::quiet_NaN();

// Colour-blind-safe palette (Okabe & Ito, "Color Universal Design", 2008), then two greys.
const char* const PALETTE[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
                               "#999999"};
constexpr size_t PALETTE_SIZE = sizeof PALETTE / sizeof PALETTE[0];

// Fixed margins around the plot area (px): room for tick labels, axis labels and the title.
constexpr double MARGIN_LEFT = 64, MARGIN_LEFT_CATEGORIES = 150, MARGIN_RIGHT = 18, MARGIN_BOTTOM = 42;
constexpr double TITLE_HEIGHT = 24, LEGEND_ROW_HEIGHT = 16;
constexpr double CHAR_WIDTH = 6.2;  // average width of a 11 px sans-serif character, for legend layout

std::string px(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

const std::string& color_of(const ChartSeries& s, size_t index, std::string& storage) {
  if (!s.color.empty()) return s.color;
  storage = PALETTE[index % PALETTE_SIZE];
  return storage;
}

struct LegendEntry {
  size_t series;
  double x, y;
};

// Legend entries laid out left to right from the plot's left edge, wrapping at the chart's width.
std::vector<LegendEntry> legend_layout(const Chart& chart, double left) {
  std::vector<LegendEntry> out;
  double x = left, row = 0;
  for (size_t i = 0; i < chart.series.size(); ++i) {
    const std::string& name = chart.series[i].name;
    if (name.empty()) continue;
    const double w = 28 + CHAR_WIDTH * static_cast<double>(name.size()) + 14;
    if (x + w > chart.width - MARGIN_RIGHT && x > left) {
      x = left;
      ++row;
    }
    out.push_back({i, x, TITLE_HEIGHT + LEGEND_ROW_HEIGHT * row + 8});
    x += w;
  }
  return out;
}

bool finite(double v) { return std::isfinite(v); }

// A point the chart can place: finite, and positive on a log axis. Used for the axis range, the "no data" test and
// every style, so that all three agree.
bool drawable(const Chart& chart, double x, double y) {
  return finite(x) && finite(y) && !(chart.x_log && x <= 0) && !(chart.y_log && y <= 0);
}

}  // namespace

Ticks nice_ticks(double lo, double hi, int max_ticks) {
  Ticks t;
  if (!finite(lo) || !finite(hi)) {
    lo = 0;
    hi = 1;
  }
  if (lo > hi) std::swap(lo, hi);
  if (lo == hi) {
    const double d = lo == 0 ? 0.5 : std::fabs(lo) * 0.1;
    lo -= d;
    hi += d;
  }
  max_ticks = std::max(max_ticks, 1);
  const double raw = (hi - lo) / max_ticks;
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  static const double STEPS[] = {1, 2, 5};
  size_t k = 0;
  // Smallest nice step >= raw, then larger ones until floor/ceil rounding keeps the interval count in bounds.
  while (STEPS[k] * magnitude < raw * (1 - 1e-12)) {
    if (++k == 3) {
      k = 0;
      magnitude *= 10;
    }
  }
  for (;;) {
    const double step = STEPS[k] * magnitude;
    const double first = std::floor(lo / step + 1e-9) * step;
    const double last = std::ceil(hi / step - 1e-9) * step;
    const auto intervals = static_cast<long>(std::llround((last - first) / step));
    if (intervals <= max_ticks) {
      t.first = first;
      t.last = last;
      t.step = step;
      for (long i = 0; i <= intervals; ++i) {
        double v = first + static_cast<double>(i) * step;
        if (std::fabs(v) < step * 1e-9) v = 0;  // no "-0" or 1e-17 from rounding
        t.values.push_back(v);
      }
      return t;
    }
    if (++k == 3) {
      k = 0;
      magnitude *= 10;
    }
  }
}

std::string tick_label(double value, double step) {
  char buf[48];
  if (std::fabs(value) < std::fabs(step) * 1e-9) value = 0;
  const double biggest = std::max(std::fabs(value), std::fabs(step));
  if (step != 0 && (std::fabs(step) < 1e-4 || biggest >= 1e7)) {
    std::snprintf(buf, sizeof buf, "%g", value);
    return buf;
  }
  const int decimals = step == 0 ? 0 : std::max(0, static_cast<int>(-std::floor(std::log10(std::fabs(step)) + 1e-9)));
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  std::string s = buf;
  if (s.find_first_not_of("-0.") == std::string::npos) s = decimals ? "0." + std::string(decimals, '0') : "0";
  return s;
}

Ticks log_ticks(double lo, double hi) {
  Ticks t;
  if (!(lo > 0) || !(hi > 0) || !finite(lo) || !finite(hi)) lo = 1, hi = 10;
  if (lo > hi) std::swap(lo, hi);
  int d0 = static_cast<int>(std::floor(std::log10(lo) + 1e-9)), d1 = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
  if (d1 <= d0) d1 = d0 + 1;
  const bool minor = d1 - d0 <= 2;
  for (int d = d0; d <= d1; ++d) {
    t.values.push_back(d);
    if (minor && d < d1)
      for (double m : {2.0, 5.0})
        if (m * std::pow(10.0, d) > lo * (1 - 1e-9) && m * std::pow(10.0, d) < hi * (1 + 1e-9))
          t.values.push_back(d + std::log10(m));
  }
  t.first = d0;
  t.last = d1;
  t.step = 1;
  return t;
}

namespace {
// A log tick's label: the value itself, in as few digits as it needs ("0.05", "2", "1000").
std::string log_tick_label(double log_value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", std::pow(10.0, log_value));
  return buf;
}
}  // namespace

double LinearScale::operator()(double v) const {
  if (domain_hi == domain_lo) return (range_lo + range_hi) / 2;
  return range_lo + (v - domain_lo) / (domain_hi - domain_lo) * (range_hi - range_lo);
}

ChartLayout chart_layout(const Chart& chart) {
  ChartLayout l;
  l.left = chart.y_categories.empty() ? MARGIN_LEFT : MARGIN_LEFT_CATEGORIES;
  l.right = chart.width - MARGIN_RIGHT;
  const auto legend = legend_layout(chart, l.left);
  l.top = TITLE_HEIGHT + (legend.empty() ? 0 : legend.back().y - TITLE_HEIGHT + LEGEND_ROW_HEIGHT) + 6;
  l.bottom = chart.height - MARGIN_BOTTOM;
  l.x_log = chart.x_log;
  l.y_log = chart.y_log;
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (const ChartSeries& s : chart.series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!drawable(chart, s.x[i], s.y[i])) continue;
      x_lo = std::min(x_lo, s.x[i]);
      x_hi = std::max(x_hi, s.x[i]);
      const double e = i < s.y_err.size() && finite(s.y_err[i]) ? std::fabs(s.y_err[i]) : 0;
      y_lo = std::min(y_lo, s.y[i] - e);
      y_hi = std::max(y_hi, s.y[i] + e);
    }
  }
  if (chart.y_from_zero && finite(y_lo) && !chart.y_log) {
    y_lo = std::min(y_lo, 0.0);
    y_hi = std::max(y_hi, 0.0);
  }
  if (finite(chart.y_min)) y_lo = chart.y_min;
  if (finite(chart.y_max)) y_hi = chart.y_max;
  l.x_ticks = chart.x_log ? log_ticks(x_lo, x_hi)
                          : nice_ticks(x_lo, x_hi, std::max(2, static_cast<int>((l.right - l.left) / 90)));
  if (chart.y_log) {
    l.y_ticks = log_ticks(y_lo, y_hi);
  } else if (chart.y_categories.empty()) {
    l.y_ticks = nice_ticks(y_lo, y_hi, std::max(2, static_cast<int>((l.bottom - l.top) / 40)));
  } else {
    l.y_ticks.first = -0.5;
    l.y_ticks.last = static_cast<double>(chart.y_categories.size()) - 0.5;
    l.y_ticks.step = 1;
    for (size_t i = 0; i < chart.y_categories.size(); ++i) l.y_ticks.values.push_back(static_cast<double>(i));
  }
  l.x = {l.x_ticks.first, l.x_ticks.last, l.left, l.right};
  l.y = {l.y_ticks.first, l.y_ticks.last, l.bottom, l.top};
  return l;
}

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_svg(const Chart& chart) {
  const ChartLayout l = chart_layout(chart);
  std::ostringstream o;
  const std::string w = std::to_string(chart.width), h = std::to_string(chart.height);
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"" << w << "\" height=\"" << h
    << "\" viewBox=\"0 0 " << w << " " << h << "\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\">\n";
  o << "<title>" << xml_escape(chart.title) << "</title>\n";
  o << "<text class=\"chart-title\" x=\"" << px(l.left) << "\" y=\"16\" font-size=\"13\" font-weight=\"bold\">"
    << xml_escape(chart.title) << "</text>\n";
  // Grid and tick labels.
  o << "<g class=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\">\n";
  for (double v : l.x_ticks.values)
    o << "<line x1=\"" << px(l.x(v)) << "\" y1=\"" << px(l.top) << "\" x2=\"" << px(l.x(v)) << "\" y2=\""
      << px(l.bottom) << "\"/>\n";
  for (double v : l.y_ticks.values)
    o << "<line x1=\"" << px(l.left) << "\" y1=\"" << px(l.y(v)) << "\" x2=\"" << px(l.right) << "\" y2=\""
      << px(l.y(v)) << "\"/>\n";
  o << "</g>\n<g class=\"axes\" fill=\"#333\">\n";
  o << "<line x1=\"" << px(l.left) << "\" y1=\"" << px(l.bottom) << "\" x2=\"" << px(l.right) << "\" y2=\""
    << px(l.bottom) << "\" stroke=\"#666\"/>\n";
  o << "<line x1=\"" << px(l.left) << "\" y1=\"" << px(l.top) << "\" x2=\"" << px(l.left) << "\" y2=\""
    << px(l.bottom) << "\" stroke=\"#666\"/>\n";
  for (double v : l.x_ticks.values)
    o << "<text x=\"" << px(l.x(v)) << "\" y=\"" << px(l.bottom + 14) << "\" text-anchor=\"middle\">"
      << xml_escape(chart.x_log ? log_tick_label(v) : tick_label(v, l.x_ticks.step)) << "</text>\n";
  for (size_t i = 0; i < l.y_ticks.values.size(); ++i) {
    const double v = l.y_ticks.values[i];
    const std::string label = chart.y_log                  ? log_tick_label(v)
                              : chart.y_categories.empty() ? tick_label(v, l.y_ticks.step)
                                                           : chart.y_categories[i];
    o << "<text x=\"" << px(l.left - 5) << "\" y=\"" << px(l.y(v) + 4) << "\" text-anchor=\"end\">"
      << xml_escape(label) << "</text>\n";
  }
  o << "<text x=\"" << px((l.left + l.right) / 2) << "\" y=\"" << px(chart.height - 8.0)
    << "\" text-anchor=\"middle\">" << xml_escape(chart.x_label) << "</text>\n";
  if (!chart.y_label.empty())
    o << "<text x=\"12\" y=\"" << px((l.top + l.bottom) / 2) << "\" text-anchor=\"middle\" transform=\"rotate(-90 12 "
      << px((l.top + l.bottom) / 2) << ")\">" << xml_escape(chart.y_label) << "</text>\n";
  o << "</g>\n";
  // Markers under the series; a label only where the previous labelled one is 70 px away (all keep a tooltip).
  if (!chart.markers.empty()) {
    o << "<g class=\"markers\">\n";
    double last_label = -1e9;
    for (const ChartMarker& m : chart.markers) {
      if (!finite(m.x) || (chart.x_log && m.x <= 0)) continue;
      const double x = l.px_x(m.x);
      if (x < l.left - 0.5 || x > l.right + 0.5) continue;
      o << "<line class=\"marker\" x1=\"" << px(x) << "\" y1=\"" << px(l.top) << "\" x2=\"" << px(x) << "\" y2=\""
        << px(l.bottom) << "\" stroke=\"" << xml_escape(m.color) << "\" stroke-width=\"1\" stroke-dasharray=\"3 3\"><title>"
        << xml_escape(m.label) << "</title></line>\n";
      if (!m.label.empty() && x - last_label >= 70) {
        o << "<text class=\"marker-label\" x=\"" << px(x + 2) << "\" y=\"" << px(l.top + 10) << "\" font-size=\"9\" fill=\""
          << xml_escape(m.color) << "\">" << xml_escape(m.label.substr(0, 14)) << "</text>\n";
        last_label = x;
      }
    }
    o << "</g>\n";
  }
  bool any = false;
  for (const ChartSeries& s : chart.series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      any |= drawable(chart, s.x[i], s.y[i]);
  if (!any)
    o << "<text x=\"" << px((l.left + l.right) / 2) << "\" y=\"" << px((l.top + l.bottom) / 2)
      << "\" text-anchor=\"middle\" fill=\"#999\">no data</text>\n";
  // Series.
  for (size_t k = 0; k < chart.series.size(); ++k) {
    const ChartSeries& s = chart.series[k];
    std::string storage;
    const std::string& color = color_of(s, k, storage);
    const std::string cls = "s" + std::to_string(k);
    const size_t n = std::min(s.x.size(), s.y.size());
    if (s.style == SeriesStyle::SCATTER) {
      for (size_t i = 0; i < n; ++i) {
        if (!drawable(chart, s.x[i], s.y[i])) continue;
        const double cx = l.px_x(s.x[i]), cy = l.px_y(s.y[i]);
        // A bar under a pixel is rounding noise (a mean over identical values), not a spread worth drawing.
        const double e = i < s.y_err.size() && finite(s.y_err[i]) ? std::fabs(s.y_err[i]) : 0;
        const double y1 = l.px_y(s.y[i] - e), y2 = l.px_y(s.y[i] + e);
        if (std::fabs(y1 - y2) >= 1) {
          o << "<path class=\"errbar " << cls << "\" stroke=\"" << color << "\" fill=\"none\" d=\"M" << px(cx) << " "
            << px(y1) << "V" << px(y2) << "M" << px(cx - 3) << " " << px(y1) << "H" << px(cx + 3) << "M"
            << px(cx - 3) << " " << px(y2) << "H" << px(cx + 3) << "\"/>\n";
        }
        o << "<circle class=\"series " << cls << "\" cx=\"" << px(cx) << "\" cy=\"" << px(cy) << "\" r=\""
          << px(s.marker_radius) << "\" fill=\"" << color << "\"/>\n";
      }
      continue;
    }
    // LINE / STEP: one polyline per run of finite points (on a log axis, of positive ones).
    size_t i = 0;
    while (i < n) {
      while (i < n && !drawable(chart, s.x[i], s.y[i])) ++i;
      if (i == n) break;
      std::string points;
      double prev_y = NaN;
      for (; i < n && drawable(chart, s.x[i], s.y[i]); ++i) {
        const double x = l.px_x(s.x[i]), y = l.px_y(s.y[i]);
        if (s.style == SeriesStyle::STEP && finite(prev_y)) points += px(x) + "," + px(prev_y) + " ";
        points += px(x) + "," + px(y) + " ";
        prev_y = y;
      }
      points.pop_back();
      o << "<polyline class=\"series " << cls << "\" fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.5\""
        << (s.dashed ? " stroke-dasharray=\"6 4\"" : "") << " points=\"" << points << "\"/>\n";
    }
  }
  // Legend.
  const auto legend = legend_layout(chart, l.left);
  if (!legend.empty()) {
    o << "<g class=\"legend\">\n";
    for (const LegendEntry& e : legend) {
      const ChartSeries& s = chart.series[e.series];
      std::string storage;
      const std::string& color = color_of(s, e.series, storage);
      if (s.style == SeriesStyle::SCATTER)
        o << "<circle cx=\"" << px(e.x + 10) << "\" cy=\"" << px(e.y) << "\" r=\"4\" fill=\"" << color << "\"/>";
      else
        o << "<line x1=\"" << px(e.x) << "\" y1=\"" << px(e.y) << "\" x2=\"" << px(e.x + 22) << "\" y2=\""
          << px(e.y) << "\" stroke=\"" << color << "\" stroke-width=\"2\""
          << (s.dashed ? " stroke-dasharray=\"6 4\"" : "") << "/>";
      o << "<text x=\"" << px(e.x + 28) << "\" y=\"" << px(e.y + 4) << "\">" << xml_escape(s.name) << "</text>\n";
    }
    o << "</g>\n";
  }
  o << "</svg>\n";
  return o.str();
}

void downsample_min_max(const std::vector<double>& x, const std::vector<double>& y, size_t max_points,
                        std::vector<double>& out_x, std::vector<double>& out_y) {
  const size_t n = std::min(x.size(), y.size());
  out_x.clear();
  out_y.clear();
  if (n <= max_points || max_points < 3) {
    out_x.assign(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(n));
    out_y.assign(y.begin(), y.begin() + static_cast<std::ptrdiff_t>(n));
    return;
  }
  const size_t buckets = max_points / 3;
  for (size_t b = 0; b < buckets; ++b) {
    const size_t begin = n * b / buckets, end = n * (b + 1) / buckets;
    size_t lo = end, hi = end, gap = end;
    for (size_t i = begin; i < end; ++i) {
      if (!finite(y[i])) {
        if (gap == end) gap = i;
        continue;
      }
      if (lo == end || y[i] < y[lo]) lo = i;
      if (hi == end || y[i] > y[hi]) hi = i;
    }
    std::vector<size_t> keep;
    for (size_t i : {lo, hi, gap})
      if (i != end && std::find(keep.begin(), keep.end(), i) == keep.end()) keep.push_back(i);
    std::sort(keep.begin(), keep.end());
    for (size_t i : keep) {
      out_x.push_back(x[i]);
      out_y.push_back(y[i]);
    }
  }
}

void cdf_steps(const std::vector<double>& sorted, std::vector<double>& out_x, std::vector<double>& out_y) {
  out_x.clear();
  out_y.clear();
  const double n = static_cast<double>(sorted.size());
  for (size_t i = 0; i < sorted.size(); ++i) {
    out_x.push_back(sorted[i]);
    out_y.push_back(static_cast<double>(i) / n);
    out_x.push_back(sorted[i]);
    out_y.push_back(static_cast<double>(i + 1) / n);
  }
}

}  // namespace aif::analysis
