// Racks and servers of the facility, coloured at the cursor time by rack IT power, by power relative to the rack's
// peak over the run (a utilization proxy), or by failure state (from the events: down until repaired).
#pragma once
#include <QWidget>

#include "aif/gui/run_data.hpp"

namespace aif::gui {

class TopologyView : public QWidget {
  Q_OBJECT
 public:
  enum class Colour { POWER, SHARE_OF_PEAK, FAILURES };
  explicit TopologyView(QWidget* parent = nullptr);
  void show_run(const RunData* run);  // not owned; nullptr clears
  void set_cursor(double t_s);
  void set_colour(Colour c);
  QSize sizeHint() const override { return {640, 360}; }
  // What is drawn for a rack at the cursor (tests, tool tips): its power (W) and whether it is down.
  double rack_power_w(int rack) const;
  bool rack_down(int rack) const;
  int down_servers() const;

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  const RunData* run_ = nullptr;
  double t_s_ = 0;
  Colour colour_ = Colour::POWER;
  DownState down_;
  std::vector<float> peak_w_;  // per rack over the run
  float max_w_ = 1;
};

}  // namespace aif::gui
