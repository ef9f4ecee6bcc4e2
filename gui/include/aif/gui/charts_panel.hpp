// The linked time-series charts of a run, with one shared cursor (a vertical line in every time chart), and the
// latency CDFs. Long series are reduced to MAX_POINTS per line (min and max of each bucket kept) so that a month at
// 1 s sampling still draws at once.
#pragma once
#include <QChartView>
#include <QMap>
#include <QWidget>

#include "aif/gui/run_data.hpp"

class QGridLayout;
class QLineSeries;

namespace aif::gui {

class ChartsPanel : public QWidget {
  Q_OBJECT
 public:
  static constexpr int MAX_POINTS = 4000;
  explicit ChartsPanel(QWidget* parent = nullptr);
  void show_run(const RunData& run);
  void set_cursor(double t_s);

  QStringList chart_titles() const;
  QChartView* view(const QString& title) const;
  // Points of a named line in a named chart (-1 when either is missing).
  int point_count(const QString& chart, const QString& series) const;

 signals:
  void cursor_moved(double t_s);  // a click in a time chart

 protected:
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  struct TimeChart {
    QChartView* view = nullptr;
    QLineSeries* cursor = nullptr;
    double y_min = 0, y_max = 1;
  };
  QChartView* add_chart(const QString& title);
  void clear();

  QGridLayout* grid_;
  QMap<QString, QChartView*> views_;
  QMap<QString, TimeChart> time_charts_;
  double time_scale_ = 1;  // seconds per axis unit
};

// Reduces (x, y) to at most max_points with analysis::downsample_min_max (each bucket's min and max: peaks and dips
// survive), without the missing (NaN) values.
void downsample(const std::vector<double>& x, const std::vector<double>& y, size_t max_points, QList<QPointF>* out);

}  // namespace aif::gui
