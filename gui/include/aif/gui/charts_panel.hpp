// The linked time-series charts of a run, with one shared cursor (a vertical line in every time chart), event markers
// (the same events the HTML report marks: failures, repairs, caps, demand response, rollouts), and the latency CDFs.
// One unit per axis: power, requests, GPUs, battery and carbon each have their own chart; every time axis uses the
// run's one time unit. Dragging across a time chart zooms all of them to that span (right click: back out); the
// latency windows are then recomputed over the span shown. Long series are reduced to MAX_POINTS per line (min and
// max of each bucket kept) so that a month at 1 s sampling still draws at once.
#pragma once
#include <QChartView>
#include <QMap>
#include <QTimer>
#include <QWidget>

#include "aif/gui/run_data.hpp"

class QGridLayout;
class QLineSeries;
class QValueAxis;

namespace aif::gui {

class ChartsPanel : public QWidget {
  Q_OBJECT
 public:
  static constexpr int MAX_POINTS = 4000;
  static inline const QString LATENCY_CHART = QStringLiteral("Latency percentiles over time");
  explicit ChartsPanel(QWidget* parent = nullptr);
  void show_run(const RunData& run);
  void set_cursor(double t_s);
  // Shows [from_s, to_s] of the run in every time chart (and recomputes the latency windows over it); to_s <= from_s:
  // the whole run.
  void zoom_to(double from_s, double to_s);

  QStringList chart_titles() const;
  QChartView* view(const QString& title) const;
  // Points of a named line in a named chart (-1 when either is missing).
  int point_count(const QString& chart, const QString& series) const;
  // The event markers drawn in a time chart, as times in seconds (empty for a chart without markers).
  QList<double> marker_times(const QString& chart) const;
  QString time_unit() const { return time_unit_; }
  double latency_window_s() const { return latency_window_s_; }  // width of the latency windows shown now

 signals:
  void cursor_moved(double t_s);  // a click in a time chart

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  struct TimeChart {
    QChartView* view = nullptr;
    QLineSeries* cursor = nullptr;
    QValueAxis* x_axis = nullptr;
    double y_min = 0, y_max = 1;
    QList<double> markers;  // s
  };
  QChartView* add_chart(const QString& title);
  void clear();
  void on_range_changed(QValueAxis* source);
  void set_time_range(QValueAxis* axis, double from, double to);
  void redraw_latency();

  QGridLayout* grid_;
  QMap<QString, QChartView*> views_;
  QMap<QString, TimeChart> time_charts_;
  double time_scale_ = 1;  // seconds per axis unit
  QString time_unit_ = QStringLiteral("s");
  double end_s_ = 0;
  std::string path_;       // results file, read again for the latency windows of a zoomed span
  bool syncing_ = false;   // a range change being copied to the other charts
  QTimer latency_timer_;   // recomputes the latency windows once zooming settles
  double latency_window_s_ = 0;
  QPoint press_pos_;
};

// Reduces (x, y) to at most max_points with analysis::downsample_min_max (each bucket's min and max: peaks and dips
// survive), without the missing (NaN) values.
void downsample(const std::vector<double>& x, const std::vector<double>& y, size_t max_points, QList<QPointF>* out);

}  // namespace aif::gui
