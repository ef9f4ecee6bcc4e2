#include "aif/gui/topology_view.hpp"

#include <QPainter>
#include <algorithm>
#include <cmath>

namespace aif::gui {

namespace {

// Blue (low) to red (high), through yellow.
QColor heat(double share) {
  share = std::clamp(share, 0.0, 1.0);
  const QColor stops[] = {QColor(49, 54, 149), QColor(116, 173, 209), QColor(254, 224, 144), QColor(244, 109, 67),
                          QColor(165, 0, 38)};
  const double x = share * 4;
  const int i = std::min(3, static_cast<int>(x));
  const double f = x - i;
  const QColor& a = stops[i];
  const QColor& b = stops[i + 1];
  return QColor::fromRgbF(a.redF() + f * (b.redF() - a.redF()), a.greenF() + f * (b.greenF() - a.greenF()),
                          a.blueF() + f * (b.blueF() - a.blueF()));
}

}  // namespace

TopologyView::TopologyView(QWidget* parent) : QWidget(parent) { setMinimumSize(320, 200); }

void TopologyView::show_run(const RunData* run) {
  run_ = run;
  peak_w_.clear();
  max_w_ = 1;
  if (run_ && run_->rack_power) {
    const auto& rp = *run_->rack_power;
    peak_w_.assign(rp.racks(), 0.f);
    for (size_t s = 0; s < rp.samples(); ++s)
      for (size_t r = 0; r < rp.racks(); ++r)
        if (!std::isnan(rp.at(s, r))) peak_w_[r] = std::max(peak_w_[r], rp.at(s, r));
    for (float p : peak_w_) max_w_ = std::max(max_w_, p);
  }
  set_cursor(0);
}

void TopologyView::set_cursor(double t_s) {
  t_s_ = t_s;
  down_ = run_ ? down_at(*run_, t_s) : DownState{};
  update();
}

void TopologyView::set_colour(Colour c) {
  colour_ = c;
  update();
}

double TopologyView::rack_power_w(int rack) const {
  if (!run_ || !run_->rack_power || rack < 0 || static_cast<size_t>(rack) >= run_->rack_power->racks()) return std::nan("");
  const size_t s = std::min(run_->sample_at(t_s_), run_->rack_power->samples() - 1);
  return run_->rack_power->at(s, static_cast<size_t>(rack));
}

bool TopologyView::rack_down(int rack) const {
  return rack >= 0 && static_cast<size_t>(rack) < down_.rack_down.size() && down_.rack_down[static_cast<size_t>(rack)];
}

int TopologyView::down_servers() const {
  if (!run_) return 0;
  int n = 0;
  const int per_rack = std::max(1, run_->servers_per_rack);
  for (size_t s = 0; s < down_.server_down.size(); ++s) n += down_.server_down[s] || rack_down(static_cast<int>(s) / per_rack);
  return n;
}

void TopologyView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.setRenderHint(QPainter::Antialiasing);
  p.fillRect(rect(), palette().window());
  if (!run_ || run_->racks <= 0) {
    p.drawText(rect(), Qt::AlignCenter, tr("Open a results file to see its racks"));
    return;
  }
  const int racks = run_->racks, servers = std::max(1, run_->servers_per_rack);
  const int legend_h = 28, margin = 8;
  const int cols = std::min(racks, std::max(1, (width() - 2 * margin) / 36));
  const int rows_of_racks = (racks + cols - 1) / cols;
  const double rack_w = double(width() - 2 * margin) / cols;
  const double rack_h = double(height() - 2 * margin - legend_h) / rows_of_racks;
  const double server_h = std::max(1.0, (rack_h - 18) / servers);
  for (int r = 0; r < racks; ++r) {
    const double x = margin + (r % cols) * rack_w, y = margin + (r / cols) * rack_h;
    const double w = rack_power_w(r);
    QColor fill(200, 200, 200);
    if (colour_ == Colour::POWER && !std::isnan(w)) fill = heat(w / max_w_);
    if (colour_ == Colour::SHARE_OF_PEAK && !std::isnan(w) && r < static_cast<int>(peak_w_.size()) && peak_w_[r] > 0)
      fill = heat(w / peak_w_[static_cast<size_t>(r)]);
    if (colour_ == Colour::FAILURES) fill = QColor(120, 190, 120);
    for (int s = 0; s < servers; ++s) {
      const size_t global = static_cast<size_t>(r * servers + s);
      const bool down = rack_down(r) || (global < down_.server_down.size() && down_.server_down[global]);
      QRectF box(x + 3, y + 14 + s * server_h, rack_w - 6, server_h - 1);
      p.fillRect(box, down ? QColor(200, 40, 40) : fill);
      if (down) p.fillRect(box, QBrush(QColor(255, 255, 255, 90), Qt::BDiagPattern));
    }
    p.setPen(rack_down(r) ? QColor(200, 40, 40) : palette().text().color());
    p.drawRect(QRectF(x + 2, y + 13, rack_w - 4, servers * server_h + 1));
    if (rack_w > 24) p.drawText(QRectF(x, y, rack_w, 13), Qt::AlignCenter, QString::number(r));
  }
  // Legend.
  const QRectF legend(margin, height() - legend_h + 4, width() - 2 * margin, legend_h - 8);
  p.setPen(palette().text().color());
  if (colour_ == Colour::FAILURES) {
    p.drawText(legend, Qt::AlignLeft | Qt::AlignVCenter,
               tr("green: up   red: down at t = %1 s (%2 servers down)").arg(t_s_, 0, 'f', 0).arg(down_servers()));
    return;
  }
  if (!run_->rack_power) {
    p.drawText(legend, Qt::AlignLeft | Qt::AlignVCenter,
               tr("This run has no per-rack power (recorded when the power manager runs: a grid limit, rack limits "
                  "or the power chain); colour by failure state instead."));
    return;
  }
  const int bar_w = 160;
  for (int i = 0; i < bar_w; ++i) p.fillRect(QRectF(legend.x() + i, legend.y() + 2, 1, legend.height() - 4), heat(i / double(bar_w)));
  const QString scale = colour_ == Colour::POWER ? tr("rack IT power 0 - %1 kW").arg(max_w_ / 1e3, 0, 'f', 1)
                                                 : tr("rack power / its peak in the run, 0 - 100 %");
  p.drawText(QRectF(legend.x() + bar_w + 8, legend.y(), legend.width() - bar_w - 8, legend.height()),
             Qt::AlignLeft | Qt::AlignVCenter, scale + tr("   at t = %1 s").arg(t_s_, 0, 'f', 0));
}

}  // namespace aif::gui
