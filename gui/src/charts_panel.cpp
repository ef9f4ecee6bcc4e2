#include "aif/gui/charts_panel.hpp"

#include <QGridLayout>
#include <QLegendMarker>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QMouseEvent>
#include <QPen>
#include <QValueAxis>
#include <algorithm>
#include <cmath>

#include "aif/analysis/event_markers.hpp"
#include "aif/analysis/glossary.hpp"
#include "aif/analysis/svg_chart.hpp"

namespace aif::gui {

namespace {

// A line that is drawn but not listed in the legend (cursor, markers).
void hide_from_legend(QChart* chart, QAbstractSeries* s) {
  for (QLegendMarker* m : chart->legend()->markers(s)) m->setVisible(false);
}

}  // namespace

void downsample(const std::vector<double>& x, const std::vector<double>& y, size_t max_points, QList<QPointF>* out) {
  // The reports' reduction (min and max of each bucket); Qt Charts draws no gaps, so missing values are left out.
  std::vector<double> rx, ry;
  analysis::downsample_min_max(x, y, max_points, rx, ry);
  out->clear();
  for (size_t i = 0; i < rx.size(); ++i)
    if (!std::isnan(ry[i])) out->append({rx[i], ry[i]});
}

ChartsPanel::ChartsPanel(QWidget* parent) : QWidget(parent), grid_(new QGridLayout(this)) {
  grid_->setContentsMargins(0, 0, 0, 0);
  grid_->setSpacing(4);
  latency_timer_.setSingleShot(true);
  latency_timer_.setInterval(150);
  connect(&latency_timer_, &QTimer::timeout, this, &ChartsPanel::redraw_latency);
}

void ChartsPanel::clear() {
  for (QChartView* v : views_) v->deleteLater();
  views_.clear();
  time_charts_.clear();
}

QChartView* ChartsPanel::add_chart(const QString& title) {
  auto* chart = new QChart();
  chart->setTitle(title);
  chart->legend()->setAlignment(Qt::AlignBottom);
  chart->setMargins(QMargins(4, 4, 4, 4));
  auto* view = new QChartView(chart, this);
  view->setRenderHint(QPainter::Antialiasing);
  view->setMinimumHeight(220);
  view->viewport()->installEventFilter(this);
  const int index = static_cast<int>(views_.size());
  grid_->addWidget(view, index / 2, index % 2);
  views_.insert(title, view);
  return view;
}

void ChartsPanel::show_run(const RunData& run) {
  clear();
  path_ = run.path;
  end_s_ = run.end_s();
  const auto [unit_name, unit_seconds] = analysis::time_display_unit(end_s_);
  time_scale_ = unit_seconds;
  time_unit_ = QString::fromStdString(unit_name);
  const QString time_title = tr("time (%1)").arg(time_unit_);
  std::vector<double> t;
  for (double v : run.time_s) t.push_back(v / time_scale_);
  const std::vector<analysis::EventMarker> markers = analysis::event_markers(run.events, end_s_);

  // A time chart of some series, each scaled (e.g. W -> kW), with the cursor line and the event markers.
  auto time_chart = [&](const QString& title, const QString& y_title,
                        const std::vector<std::tuple<std::string, QString, double, bool>>& lines, bool log_y = false,
                        const std::vector<double>* x_override = nullptr,
                        const std::map<std::string, std::vector<double>>* values = nullptr) {
    std::vector<std::tuple<QString, const std::vector<double>*, double, bool>> present;
    for (const auto& [name, label, scale, dashed] : lines) {
      if (values) {
        if (const auto it = values->find(name); it != values->end()) present.emplace_back(label, &it->second, scale, dashed);
      } else if (const SeriesData* s = run.find(name)) {
        present.emplace_back(label, &s->values, scale, dashed);
      }
    }
    if (present.empty()) return;
    QChartView* view = add_chart(title);
    view->setRubberBand(QChartView::HorizontalRubberBand);
    QChart* chart = view->chart();
    auto* x_axis = new QValueAxis;
    x_axis->setTitleText(time_title);
    x_axis->setLabelFormat("%g");
    x_axis->setTickType(QValueAxis::TicksDynamic);
    x_axis->setTickAnchor(0);
    set_time_range(x_axis, 0, std::max(end_s_ / time_scale_, 1e-9));
    QAbstractAxis* y_axis = nullptr;
    if (log_y) {
      auto* log_axis = new QLogValueAxis;
      log_axis->setLabelFormat("%g");
      log_axis->setMinorTickCount(-1);
      y_axis = log_axis;
    } else {
      auto* value_axis = new QValueAxis;
      value_axis->setLabelFormat("%.4g");
      y_axis = value_axis;
    }
    y_axis->setTitleText(y_title);
    chart->addAxis(x_axis, Qt::AlignBottom);
    chart->addAxis(y_axis, Qt::AlignLeft);
    double lo = log_y ? 1e300 : 0, hi = 0;
    const std::vector<double>& xs = x_override ? *x_override : t;
    for (const auto& [label, ys, scale, dashed] : present) {
      std::vector<double> scaled(ys->size());
      for (size_t i = 0; i < ys->size(); ++i) scaled[i] = (*ys)[i] * scale;
      QList<QPointF> points;
      downsample(xs, scaled, MAX_POINTS, &points);
      if (log_y) points.removeIf([](const QPointF& p) { return p.y() <= 0; });
      auto* line = new QLineSeries;
      line->setName(label);
      line->replace(points);
      for (const QPointF& p : points) hi = std::max(hi, p.y()), lo = std::min(lo, p.y());
      chart->addSeries(line);
      line->attachAxis(x_axis);
      line->attachAxis(y_axis);
      if (dashed) {
        QPen pen = line->pen();
        pen.setStyle(Qt::DashLine);
        pen.setWidthF(2);
        line->setPen(pen);
      }
    }
    double y_min = lo, y_max = hi;
    if (log_y) {
      if (!(hi > 0)) lo = 1, hi = 10;
      y_min = std::pow(10.0, std::floor(std::log10(lo)));
      y_max = std::pow(10.0, std::ceil(std::log10(hi * 1.0001)));
      static_cast<QLogValueAxis*>(y_axis)->setRange(y_min, y_max);
    } else {
      if (hi <= lo) hi = lo + 1;
      auto* value_axis = static_cast<QValueAxis*>(y_axis);
      value_axis->setRange(lo, hi * 1.05);
      value_axis->applyNiceNumbers();
      y_min = value_axis->min();
      y_max = value_axis->max();
    }
    TimeChart tc{view, nullptr, x_axis, y_min, y_max, {}};
    for (const analysis::EventMarker& m : markers) {
      auto* line = new QLineSeries;
      line->setName(QStringLiteral("marker"));
      line->setPen(QPen(QColor(analysis::event_lane_color(m.lane)), 1, Qt::DashLine));
      const double x = m.time_s / time_scale_;
      line->replace(QList<QPointF>{{x, y_min}, {x, y_max}});
      chart->addSeries(line);
      line->attachAxis(x_axis);
      line->attachAxis(y_axis);
      hide_from_legend(chart, line);
      tc.markers.append(m.time_s);
    }
    tc.cursor = new QLineSeries;
    tc.cursor->setName(QStringLiteral("cursor"));
    tc.cursor->setPen(QPen(QColor(120, 120, 120), 1, Qt::DotLine));
    chart->addSeries(tc.cursor);
    tc.cursor->attachAxis(x_axis);
    tc.cursor->attachAxis(y_axis);
    hide_from_legend(chart, tc.cursor);
    time_charts_.insert(title, tc);
    connect(x_axis, &QValueAxis::rangeChanged, this, [this, x_axis] { on_range_changed(x_axis); });
  };

  // Power: kW or MW, whichever the largest value reads best in.
  double peak_w = 0;
  for (const char* name : {"facility_power", "grid_draw", "it_power", "grid_limit"})
    if (const SeriesData* s = run.find(name))
      for (double v : s->values)
        if (std::isfinite(v)) peak_w = std::max(peak_w, std::fabs(v));
  const auto [power_unit, power_scale] = analysis::scaled_display_unit(peak_w, "W");
  const double to_power = 1 / power_scale;
  time_chart(tr("Facility and grid power"), tr("power (%1)").arg(QString::fromStdString(power_unit)),
             {{"facility_power", tr("facility"), to_power, false},
              {"grid_draw", tr("grid draw"), to_power, false},
              {"it_power", tr("IT"), to_power, false},
              {"grid_limit", tr("grid limit"), to_power, true}});
  std::vector<double> windows;
  for (double v : run.latency.window_mid_s) windows.push_back(v / time_scale_);
  latency_window_s_ = run.latency.window_s;
  // Latency on a log axis: a 25 s spike while replicas load their weights and a 50 ms steady state both read.
  time_chart(LATENCY_CHART, tr("ms (log)"),
             {{"ttft_p50", tr("TTFT p50"), 1e3, false},
              {"ttft_p99", tr("TTFT p99"), 1e3, false},
              {"tpot_p50", tr("TPOT p50"), 1e3, false},
              {"tpot_p99", tr("TPOT p99"), 1e3, false}},
             true, &windows, &run.latency.values);
  time_chart(tr("Requests in the system"), tr("requests"),
             {{"waiting_requests", tr("waiting"), 1, false}, {"running_requests", tr("running"), 1, false}});
  time_chart(tr("Busy GPUs"), tr("GPUs"), {{"busy_gpus", tr("busy GPUs"), 1, false}});
  time_chart(tr("Battery state of charge"), tr("share of capacity"), {{"battery_soc", tr("state of charge"), 1, false}});
  time_chart(tr("Grid carbon intensity"), tr("gCO2 per kWh"), {{"carbon_intensity", tr("carbon intensity"), 1, false}});

  // Latency CDFs (not a time chart: no cursor), on a log axis.
  if (!run.ttft_s.empty()) {
    QChartView* view = add_chart(tr("Latency CDF"));
    QChart* chart = view->chart();
    auto* x_axis = new QLogValueAxis;
    x_axis->setTitleText(tr("latency (s, log)"));
    x_axis->setLabelFormat("%g");
    auto* y_axis = new QValueAxis;
    y_axis->setTitleText(tr("fraction"));
    y_axis->setRange(0, 1);
    chart->addAxis(x_axis, Qt::AlignBottom);
    chart->addAxis(y_axis, Qt::AlignLeft);
    double lo = 1e300, hi = 0;
    for (const auto& [label, values] : {std::pair<QString, const std::vector<double>*>{tr("TTFT"), &run.ttft_s},
                                        {tr("TPOT"), &run.tpot_s},
                                        {tr("end to end"), &run.e2e_s}}) {
      if (values->empty()) continue;
      auto* line = new QLineSeries;
      line->setName(label);
      const size_t n = values->size();
      for (size_t i = 0; i < n; ++i) {
        const double v = std::max((*values)[i], 1e-6);
        line->append(v, n == 1 ? 1.0 : static_cast<double>(i) / (n - 1));
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      chart->addSeries(line);
      line->attachAxis(x_axis);
      line->attachAxis(y_axis);
    }
    x_axis->setRange(std::pow(10.0, std::floor(std::log10(lo))), std::pow(10.0, std::ceil(std::log10(std::max(hi, lo * 10)))));
  }
}

void ChartsPanel::set_time_range(QValueAxis* axis, double from, double to) {
  // The run's own span (not rounded out to 150 for a 120-minute run), ticks at a round step within it.
  axis->setRange(from, to);
  axis->setTickInterval(analysis::nice_ticks(from, to, 6).step);
}

void ChartsPanel::on_range_changed(QValueAxis* source) {
  if (syncing_) return;
  syncing_ = true;
  source->setTickInterval(analysis::nice_ticks(source->min(), source->max(), 6).step);
  for (const TimeChart& c : time_charts_)
    if (c.x_axis != source) set_time_range(c.x_axis, source->min(), source->max());
  syncing_ = false;
  latency_timer_.start();
}

void ChartsPanel::zoom_to(double from_s, double to_s) {
  if (time_charts_.isEmpty()) return;
  if (to_s <= from_s) from_s = 0, to_s = std::max(end_s_, 1e-9);
  set_time_range(time_charts_.first().x_axis, from_s / time_scale_, to_s / time_scale_);  // the others follow
  redraw_latency();
}

void ChartsPanel::redraw_latency() {
  latency_timer_.stop();
  const auto it = time_charts_.find(LATENCY_CHART);
  if (it == time_charts_.end() || path_.empty()) return;
  const double from = std::max(0.0, it->x_axis->min() * time_scale_), to = it->x_axis->max() * time_scale_;
  const std::optional<LatencyOverTime> lat = latency_over_time(path_, from, to, RunData::LATENCY_WINDOWS);
  if (!lat) return;
  latency_window_s_ = lat->window_s;
  const QMap<QString, std::string> names{{tr("TTFT p50"), "ttft_p50"}, {tr("TTFT p99"), "ttft_p99"},
                                         {tr("TPOT p50"), "tpot_p50"}, {tr("TPOT p99"), "tpot_p99"}};
  for (QAbstractSeries* s : it->view->chart()->series()) {
    if (!names.contains(s->name())) continue;
    const auto values = lat->values.find(names.value(s->name()));
    QList<QPointF> points;
    if (values != lat->values.end())
      for (size_t i = 0; i < lat->window_mid_s.size(); ++i)
        if (values->second[i] > 0) points.append({lat->window_mid_s[i] / time_scale_, values->second[i] * 1e3});
    static_cast<QXYSeries*>(s)->replace(points);
  }
}

void ChartsPanel::set_cursor(double t_s) {
  const double x = t_s / time_scale_;
  for (const TimeChart& c : time_charts_) c.cursor->replace(QList<QPointF>{{x, c.y_min}, {x, c.y_max}});
}

QStringList ChartsPanel::chart_titles() const { return views_.keys(); }

QChartView* ChartsPanel::view(const QString& title) const { return views_.value(title, nullptr); }

int ChartsPanel::point_count(const QString& chart, const QString& series) const {
  const QChartView* v = view(chart);
  if (!v) return -1;
  for (QAbstractSeries* s : v->chart()->series())
    if (s->name() == series) return static_cast<int>(static_cast<QXYSeries*>(s)->count());
  return -1;
}

QList<double> ChartsPanel::marker_times(const QString& chart) const {
  const auto it = time_charts_.find(chart);
  return it == time_charts_.end() ? QList<double>{} : it->markers;
}

bool ChartsPanel::eventFilter(QObject* watched, QEvent* event) {
  // A click (press and release at one spot) moves the cursor; a drag is the rubber band's zoom.
  if (event->type() == QEvent::MouseButtonPress) {
    press_pos_ = static_cast<QMouseEvent*>(event)->pos();
  } else if (event->type() == QEvent::MouseButtonRelease) {
    const auto* mouse = static_cast<QMouseEvent*>(event);
    if (mouse->button() == Qt::LeftButton && (mouse->pos() - press_pos_).manhattanLength() <= 3) {
      for (const TimeChart& c : time_charts_) {
        if (c.view->viewport() != watched) continue;
        const QPointF value =
            c.view->chart()->mapToValue(c.view->chart()->mapFromScene(c.view->mapToScene(mouse->pos())), c.cursor);
        emit cursor_moved(std::max(0.0, value.x() * time_scale_));
        break;
      }
    }
  }
  return QWidget::eventFilter(watched, event);
}

}  // namespace aif::gui
