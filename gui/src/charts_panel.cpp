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

#include "aif/analysis/svg_chart.hpp"

namespace aif::gui {

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
  view->setMinimumHeight(200);
  view->viewport()->installEventFilter(this);
  const int index = static_cast<int>(views_.size());
  grid_->addWidget(view, index / 2, index % 2);
  views_.insert(title, view);
  return view;
}

void ChartsPanel::show_run(const RunData& run) {
  clear();
  const double end = run.end_s();
  time_scale_ = end > 3 * 3600 ? 3600 : 60;
  const QString time_unit = time_scale_ == 3600 ? tr("time (h)") : tr("time (min)");
  std::vector<double> t;
  for (double v : run.time_s) t.push_back(v / time_scale_);

  // A time chart of some series, each scaled (e.g. W -> kW), with the cursor line.
  auto time_chart = [&](const QString& title, const QString& y_title,
                        const std::vector<std::tuple<std::string, QString, double, bool>>& lines,
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
    QChart* chart = view->chart();
    auto* x_axis = new QValueAxis;
    x_axis->setTitleText(time_unit);
    x_axis->setRange(0, std::max(end / time_scale_, 1e-9));
    x_axis->applyNiceNumbers();
    auto* y_axis = new QValueAxis;
    y_axis->setTitleText(y_title);
    chart->addAxis(x_axis, Qt::AlignBottom);
    chart->addAxis(y_axis, Qt::AlignLeft);
    double lo = 0, hi = 0;
    const std::vector<double>& xs = x_override ? *x_override : t;
    for (const auto& [label, ys, scale, dashed] : present) {
      std::vector<double> scaled(ys->size());
      for (size_t i = 0; i < ys->size(); ++i) scaled[i] = (*ys)[i] * scale;
      QList<QPointF> points;
      downsample(xs, scaled, MAX_POINTS, &points);
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
    if (hi <= lo) hi = lo + 1;
    y_axis->setRange(lo, hi * 1.05);
    y_axis->applyNiceNumbers();
    auto* cursor = new QLineSeries;
    cursor->setName(QStringLiteral("cursor"));
    cursor->setPen(QPen(QColor(120, 120, 120), 1, Qt::DotLine));
    chart->addSeries(cursor);
    cursor->attachAxis(x_axis);
    cursor->attachAxis(y_axis);
    for (QLegendMarker* m : chart->legend()->markers(cursor)) m->setVisible(false);
    time_charts_.insert(title, TimeChart{view, cursor, y_axis->min(), y_axis->max()});
  };

  time_chart(tr("Facility and grid power"), tr("power (kW)"),
             {{"facility_power", tr("facility"), 1e-3, false},
              {"grid_draw", tr("grid draw"), 1e-3, false},
              {"it_power", tr("IT"), 1e-3, false},
              {"grid_limit", tr("grid limit"), 1e-3, true}});
  std::vector<double> windows;
  for (double v : run.latency.window_mid_s) windows.push_back(v / time_scale_);
  time_chart(tr("Latency percentiles over time"), tr("latency (ms)"),
             {{"ttft_p50", tr("TTFT p50"), 1e3, false},
              {"ttft_p99", tr("TTFT p99"), 1e3, false},
              {"tpot_p50", tr("TPOT p50"), 1e3, false},
              {"tpot_p99", tr("TPOT p99"), 1e3, false}},
             &windows, &run.latency.values);
  time_chart(tr("Queues and GPU use"), tr("count"),
             {{"waiting_requests", tr("waiting"), 1, false},
              {"running_requests", tr("running"), 1, false},
              {"busy_gpus", tr("busy GPUs"), 1, false}});
  time_chart(tr("Battery and carbon"), tr("share / g per kWh / 1000"),
             {{"battery_soc", tr("battery state of charge"), 1, false},
              {"carbon_intensity", tr("carbon (kg/kWh)"), 1e-3, false}});

  // Latency CDFs (not a time chart: no cursor).
  if (!run.ttft_s.empty()) {
    QChartView* view = add_chart(tr("Latency CDF"));
    QChart* chart = view->chart();
    auto* x_axis = new QLogValueAxis;
    x_axis->setTitleText(tr("latency (s)"));
    x_axis->setLabelFormat("%g");
    auto* y_axis = new QValueAxis;
    y_axis->setTitleText(tr("fraction of requests"));
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
    x_axis->setRange(lo, std::max(hi, lo * 10));
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

bool ChartsPanel::eventFilter(QObject* watched, QEvent* event) {
  if (event->type() == QEvent::MouseButtonPress) {
    for (const TimeChart& c : time_charts_) {
      if (c.view->viewport() != watched) continue;
      const auto* mouse = static_cast<QMouseEvent*>(event);
      const QPointF value = c.view->chart()->mapToValue(c.view->chart()->mapFromScene(c.view->mapToScene(mouse->pos())),
                                                        c.cursor);
      emit cursor_moved(std::max(0.0, value.x() * time_scale_));
      return true;
    }
  }
  return QWidget::eventFilter(watched, event);
}

}  // namespace aif::gui
