// The events of a run on a time axis, one lane per kind of action (failures, repairs, scaling and rollouts, power,
// jobs), with the shared cursor; a click moves the cursor there. Above the events table in the Events tab.
#pragma once
#include <QWidget>

#include "aif/gui/run_data.hpp"

namespace aif::gui {

class TimelineStrip : public QWidget {
  Q_OBJECT
 public:
  enum Lane { FAILURES, REPAIRS, SCALING, POWER, JOBS, LANES };
  static Lane lane_of(const std::string& kind);
  static QString lane_name(Lane lane);

  explicit TimelineStrip(QWidget* parent = nullptr);
  void show_run(const RunData* run);  // not owned
  void set_cursor(double t_s);
  int ticks(Lane lane) const;         // events drawn in a lane
  QSize sizeHint() const override { return {800, 24 * LANES + 24}; }

 signals:
  void cursor_moved(double t_s);

 protected:
  void paintEvent(QPaintEvent* event) override;
  void mousePressEvent(QMouseEvent* event) override;

 private:
  double x_of(double t_s) const;
  const RunData* run_ = nullptr;
  double t_s_ = 0;
  int label_w_ = 90;
};

}  // namespace aif::gui
