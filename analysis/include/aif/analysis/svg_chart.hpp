// Charts as inline SVG text, for self-contained HTML reports (no scripts, fonts or images; a browser or any SVG
// viewer draws them, nothing here needs a display). A Chart holds series in data units; render_svg() lays out a plot
// area, picks "nice" axis ticks (1, 2 or 5 x 10^k) that cover the data, and maps every value linearly:
//   px(x) = plot_left + (x - x_lo) / (x_hi - x_lo) * plot_width
//   py(y) = plot_bottom - (y - y_lo) / (y_hi - y_lo) * plot_height      (SVG y grows downwards)
// where [x_lo, x_hi] and [y_lo, y_hi] are the first and last ticks. Pixel coordinates are written with 2 decimals.
//
// What each style emits (tests count these):
//   LINE     one <polyline class="series sN"> per run of consecutive finite points (NaN breaks the line);
//   STEP     the same, with a horizontal then a vertical segment between consecutive points: 2n - 1 vertices
//            for n points (a CDF is drawn as its own steps, see cdf_steps());
//   SCATTER  one <circle class="series sN"> per finite point, and a <line class="errbar sN"> (with caps) per point
//            whose error is finite and spans at least
//            one pixel.
#pragma once
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

namespace aif::analysis {

// Ticks at multiples of a step 1, 2 or 5 x 10^k, with first <= lo and last >= hi, at most max_ticks + 1 of them
// (fewer intervals than max_ticks when the range allows). lo == hi is widened to +-10 % of the value (+-0.5 around 0);
// NaN or infinite bounds give the ticks of [0, 1].
struct Ticks {
  double first = 0, last = 1, step = 1;
  std::vector<double> values;
};
Ticks nice_ticks(double lo, double hi, int max_ticks = 6);
// A tick label: as many decimals as the step needs (step 0.2 -> 1, step 0.05 -> 2, step 50 -> 0), never "-0";
// %g for very large or very small steps.
std::string tick_label(double value, double step);

// Linear map from [domain_lo, domain_hi] to [range_lo, range_hi] (a reversed range flips the axis).
struct LinearScale {
  double domain_lo = 0, domain_hi = 1, range_lo = 0, range_hi = 1;
  double operator()(double v) const;
};

enum class SeriesStyle { LINE, STEP, SCATTER };

struct ChartSeries {
  std::string name;  // legend entry; empty: not in the legend
  std::vector<double> x, y;
  std::vector<double> y_err;  // SCATTER: half-height of each error bar (empty: none)
  SeriesStyle style = SeriesStyle::LINE;
  std::string color;  // CSS colour; empty: the palette's colour for the series' position
  bool dashed = false;
  double marker_radius = 3;  // SCATTER, px
};

// A vertical line at an x value (an event on a time chart): failures, repairs, power caps, demand response.
struct ChartMarker {
  double x = 0;
  std::string label;  // drawn beside the line where neighbours leave room, and always as the line's <title> tooltip
  std::string color = "#888888";
};

struct Chart {
  std::string title;
  std::string x_label, y_label;  // with the unit, e.g. "time (h)", "power (MW)"
  std::vector<ChartSeries> series;
  int width = 760, height = 300;  // px
  // Fixed y range instead of the data's (e.g. [0, 1] for a CDF or a fraction); NaN: from the data.
  double y_min = std::nan(""), y_max = std::nan("");
  bool y_from_zero = false;  // include 0 in the y range
  // Categorical y axis: one lane per label at y = 0, 1, ... (an events timeline); replaces numeric y ticks.
  std::vector<std::string> y_categories;
  // Logarithmic axes (latency spans decades): values <= 0 are left out, ticks at 1, 2 and 5 x 10^k (decades only
  // when the range spans more than two).
  bool x_log = false, y_log = false;
  std::vector<ChartMarker> markers;  // drawn as <line class="marker">, under the series
};

// The plot area and the scales render_svg() uses for a chart (so that tests can check a value's pixel). On a log
// axis the ticks and the scale are in log10 of the value; px_x / px_y take data values on either kind of axis.
struct ChartLayout {
  double left = 0, right = 0, top = 0, bottom = 0;  // plot area, px
  Ticks x_ticks, y_ticks;
  LinearScale x, y;
  bool x_log = false, y_log = false;
  double px_x(double v) const { return x(x_log ? std::log10(v) : v); }
  double px_y(double v) const { return y(y_log ? std::log10(v) : v); }
};
// Ticks of a log axis over [lo, hi] (both > 0), as log10 values: every decade, with 2 and 5 between when the range
// spans at most two decades.
Ticks log_ticks(double lo, double hi);
ChartLayout chart_layout(const Chart& chart);

// A standalone <svg> element (xmlns set, viewBox = width x height), text escaped.
std::string render_svg(const Chart& chart);

// Escapes &, <, >, " and ' for HTML/XML text and attribute values.
std::string xml_escape(const std::string& text);

// At most max_points points of a time series, keeping its shape: the series is cut into max_points / 2 buckets of
// consecutive points and each keeps its smallest and largest value, in time order (peaks and dips survive; a NaN
// gap survives as one NaN point, so that the line still breaks there). max_points / 3 buckets, so the result never has
// more than max_points points. Series already short enough are returned as they are.
void downsample_min_max(const std::vector<double>& x, const std::vector<double>& y, size_t max_points,
                        std::vector<double>& out_x, std::vector<double>& out_y);

// The empirical CDF of sorted values as step-plot vertices: (v0, 0), (v0, 1/n), (v1, 1/n), (v1, 2/n), ...,
// (v[n-1], 1): 2n points for n values, drawn with SeriesStyle::LINE.
void cdf_steps(const std::vector<double>& sorted, std::vector<double>& out_x, std::vector<double>& out_y);

}  // namespace aif::analysis
