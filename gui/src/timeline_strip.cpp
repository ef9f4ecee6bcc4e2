#include "aif/gui/timeline_strip.hpp"

#include <QMouseEvent>
#include <QPainter>
#include <algorithm>

#include "aif/analysis/event_markers.hpp"

namespace aif::gui {

namespace {

const QColor LANE_COLOURS[] = {QColor(190, 30, 30), QColor(30, 130, 50), QColor(40, 90, 180), QColor(200, 120, 0),
                               QColor(110, 60, 160)};

}  // namespace

// The report's and the charts' lanes (analysis::event_lane), in the same order.
TimelineStrip::Lane TimelineStrip::lane_of(const std::string& kind) {
  return static_cast<Lane>(static_cast<int>(analysis::event_lane(kind)));
}

QString TimelineStrip::lane_name(Lane lane) {
  switch (lane) {
    case FAILURES: return tr("failures");
    case REPAIRS: return tr("repairs");
    case SCALING: return tr("replicas");
    case POWER: return tr("power");
    case JOBS: return tr("jobs");
    default: return {};
  }
}

TimelineStrip::TimelineStrip(QWidget* parent) : QWidget(parent) {
  setMinimumHeight(24 * LANES + 24);
  setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
  setToolTip(tr("Events by kind over the run; click to move the time cursor"));
}

void TimelineStrip::show_run(const RunData* run) {
  run_ = run;
  t_s_ = 0;
  update();
}

void TimelineStrip::set_cursor(double t_s) {
  t_s_ = t_s;
  update();
}

int TimelineStrip::ticks(Lane lane) const {
  if (!run_) return 0;
  return static_cast<int>(std::count_if(run_->events.begin(), run_->events.end(),
                                        [&](const analysis::EventRecord& e) { return lane_of(e.kind) == lane; }));
}

double TimelineStrip::x_of(double t_s) const {
  const double end = run_ ? std::max(run_->end_s(), 1e-9) : 1;
  return label_w_ + (width() - label_w_ - 8) * std::clamp(t_s / end, 0.0, 1.0);
}

void TimelineStrip::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().base());
  const int lane_h = (height() - 20) / LANES;
  for (int l = 0; l < LANES; ++l) {
    const int y = l * lane_h;
    if (l % 2) p.fillRect(QRect(0, y, width(), lane_h), palette().alternateBase());
    p.setPen(palette().text().color());
    p.drawText(QRect(4, y, label_w_ - 8, lane_h), Qt::AlignVCenter | Qt::AlignLeft,
               lane_name(static_cast<Lane>(l)) + QStringLiteral(" (%1)").arg(ticks(static_cast<Lane>(l))));
  }
  if (!run_) return;
  for (const analysis::EventRecord& e : run_->events) {
    const int l = lane_of(e.kind);
    p.setPen(QPen(LANE_COLOURS[l], 2));
    const double x = x_of(e.time_s);
    p.drawLine(QPointF(x, l * lane_h + 3), QPointF(x, (l + 1) * lane_h - 3));
  }
  // Time axis: start and end, and the cursor.
  p.setPen(palette().text().color());
  const int axis_y = LANES * lane_h;
  p.drawText(QRect(label_w_, axis_y, 200, 20), Qt::AlignLeft | Qt::AlignVCenter, QStringLiteral("0 s"));
  p.drawText(QRect(width() - 208, axis_y, 200, 20), Qt::AlignRight | Qt::AlignVCenter,
             QStringLiteral("%1 s").arg(run_->end_s(), 0, 'f', 0));
  p.setPen(QPen(QColor(90, 90, 90), 1, Qt::DashLine));
  p.drawLine(QPointF(x_of(t_s_), 0), QPointF(x_of(t_s_), axis_y));
}

void TimelineStrip::mousePressEvent(QMouseEvent* event) {
  if (!run_ || event->position().x() < label_w_) return;
  const double share = (event->position().x() - label_w_) / std::max(1, width() - label_w_ - 8);
  emit cursor_moved(std::clamp(share, 0.0, 1.0) * run_->end_s());
}

}  // namespace aif::gui
