#include "aif/gui/compare_view.hpp"

#include <QComboBox>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QSplitter>
#include <QTableView>
#include <QValueAxis>
#include <cmath>

#include "aif/analysis/glossary.hpp"
#include <QVBoxLayout>
#include <algorithm>
#include <set>

#include "aif/gui/charts_panel.hpp"

namespace aif::gui {

CompareView::CompareView(QWidget* parent) : QWidget(parent) {
  auto* layout = new QVBoxLayout(this);
  auto* top = new QHBoxLayout;
  top->addWidget(new QLabel(tr("Series:"), this));
  series_choice_ = new QComboBox(this);
  series_choice_->setMinimumContentsLength(24);
  top->addWidget(series_choice_);
  top->addSpacing(16);
  top->addWidget(new QLabel(tr("Latency CDF:"), this));
  cdf_choice_ = new QComboBox(this);
  cdf_choice_->addItems({"TTFT", "TPOT", "E2E"});
  top->addWidget(cdf_choice_);
  top->addStretch();
  layout->addLayout(top);
  auto* charts = new QSplitter(Qt::Horizontal, this);
  series_view_ = new QChartView(new QChart(), charts);
  cdf_view_ = new QChartView(new QChart(), charts);
  series_view_->setRenderHint(QPainter::Antialiasing);
  cdf_view_->setRenderHint(QPainter::Antialiasing);
  auto* split = new QSplitter(Qt::Vertical, this);
  split->addWidget(charts);
  table_ = new QTableView(split);
  differences_ = new DifferenceModel(this);
  table_->setModel(differences_);
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table_->verticalHeader()->hide();
  layout->addWidget(split, 1);
  connect(series_choice_, &QComboBox::currentTextChanged, this, &CompareView::show_series);
  connect(cdf_choice_, &QComboBox::currentTextChanged, this, &CompareView::show_cdf);
}

void CompareView::set_runs(std::vector<std::shared_ptr<const RunData>> runs) {
  runs_ = std::move(runs);
  std::vector<const RunData*> raw;
  for (const auto& r : runs_) raw.push_back(r.get());
  differences_->set_runs(raw);
  // The series every run has, in the first run's order.
  QStringList shared;
  if (!runs_.empty())
    for (const SeriesData& s : runs_.front()->series) {
      const bool everywhere = std::all_of(runs_.begin(), runs_.end(), [&](const auto& r) { return r->find(s.name); });
      if (everywhere) shared << QString::fromStdString(s.name);
    }
  const QString keep = series_choice_->currentText();
  series_choice_->blockSignals(true);
  series_choice_->clear();
  series_choice_->addItems(shared);
  series_choice_->setCurrentText(shared.contains(keep) ? keep : shared.contains("facility_power") ? "facility_power" : shared.value(0));
  series_choice_->blockSignals(false);
  show_series(series_choice_->currentText());
  show_cdf(cdf_choice_->currentText());
}

void CompareView::show_cdf(const QString& metric) {
  auto* chart = new QChart();
  chart->setTitle(tr("%1 CDF").arg(metric));
  auto* x_axis = new QLogValueAxis;
  x_axis->setTitleText(tr("%1 (s)").arg(metric));
  x_axis->setLabelFormat("%g");
  auto* y_axis = new QValueAxis;
  y_axis->setRange(0, 1);
  y_axis->setTitleText(tr("fraction of requests"));
  chart->addAxis(x_axis, Qt::AlignBottom);
  chart->addAxis(y_axis, Qt::AlignLeft);
  double lo = 1e300, hi = 0;
  for (const auto& r : runs_) {
    const std::vector<double>& values = metric == "TPOT" ? r->tpot_s : metric == "E2E" ? r->e2e_s : r->ttft_s;
    if (values.empty()) continue;
    auto* line = new QLineSeries;
    line->setName(QFileInfo(QString::fromStdString(r->path)).fileName());
    const size_t n = values.size();
    for (size_t i = 0; i < n; ++i) {
      const double v = std::max(values[i], 1e-6);
      line->append(v, n == 1 ? 1.0 : double(i) / double(n - 1));
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    chart->addSeries(line);
    line->attachAxis(x_axis);
    line->attachAxis(y_axis);
  }
  if (hi > 0) x_axis->setRange(lo, std::max(hi, lo * 10));
  QChart* old = cdf_view_->chart();
  cdf_view_->setChart(chart);
  delete old;
}

void CompareView::show_series(const QString& name) {
  auto* chart = new QChart();
  chart->setTitle(name);
  // One time unit and one value unit for all runs (the longest run's, the largest value's): kW, not 409166.6 W.
  double span = 0, biggest = 0;
  std::string base_unit;
  for (const auto& r : runs_) {
    const SeriesData* s = r->find(name.toStdString());
    if (!s) continue;
    span = std::max(span, r->end_s());
    base_unit = s->unit;
    for (double v : s->values)
      if (std::isfinite(v)) biggest = std::max(biggest, std::fabs(v));
  }
  const auto [time_name, time_scale] = analysis::time_display_unit(span);
  const auto [unit_name, unit_scale] = analysis::scaled_display_unit(biggest, base_unit);
  auto* x_axis = new QValueAxis;
  x_axis->setTitleText(tr("time (%1)").arg(QString::fromStdString(time_name)));
  auto* y_axis = new QValueAxis;
  y_axis->setLabelFormat("%.4g");
  y_axis->setTitleText(QString::fromStdString(name.toStdString() + (unit_name.empty() || unit_name == "1" ? "" : " (" + unit_name + ")")));
  chart->addAxis(x_axis, Qt::AlignBottom);
  chart->addAxis(y_axis, Qt::AlignLeft);
  double lo = 0, hi = 0, end = 0;
  for (const auto& r : runs_) {
    const SeriesData* s = r->find(name.toStdString());
    if (!s) continue;
    std::vector<double> t, y;
    for (double v : r->time_s) t.push_back(v / time_scale);
    for (double v : s->values) y.push_back(v / unit_scale);
    QList<QPointF> points;
    downsample(t, y, ChartsPanel::MAX_POINTS, &points);
    auto* line = new QLineSeries;
    line->setName(QFileInfo(QString::fromStdString(r->path)).fileName());
    line->replace(points);
    for (const QPointF& p : points) lo = std::min(lo, p.y()), hi = std::max(hi, p.y());
    end = std::max(end, r->end_s() / time_scale);
    chart->addSeries(line);
    line->attachAxis(x_axis);
    line->attachAxis(y_axis);
  }
  x_axis->setRange(0, std::max(end, 1e-9));
  y_axis->setRange(lo, hi > lo ? hi * 1.05 : lo + 1);
  y_axis->applyNiceNumbers();
  QChart* old = series_view_->chart();
  series_view_->setChart(chart);
  delete old;
}

}  // namespace aif::gui
