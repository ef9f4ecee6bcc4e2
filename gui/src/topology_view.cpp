#include "aif/gui/topology_view.hpp"

#include <QPainter>
#include <algorithm>
#include <cmath>
#include <cstdlib>

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

// Owners (services, then jobs): the colour-blind-safe palette of the reports (Okabe & Ito), lightened for fills.
QColor owner_colour(int owner) {
  static const QColor palette[] = {QColor("#56B4E9"), QColor("#E69F00"), QColor("#009E73"), QColor("#CC79A7"),
                                   QColor("#0072B2"), QColor("#D55E00"), QColor("#F0E442"), QColor("#999999")};
  return palette[static_cast<size_t>(owner) % 8];
}

const QColor DOWN(200, 40, 40), SPARE(215, 215, 215), FREE(250, 250, 250), REPLACEMENT(150, 150, 200);

}  // namespace

TopologyView::TopologyView(QWidget* parent) : QWidget(parent) {
  setMinimumSize(320, 240);
  setToolTip(tr("Switch tiers above the racks; links coloured by their tier's utilization at the cursor (blue 0 %, red "
                "100 %; grey when the run recorded none). Servers coloured as the box above says; red: down at the "
                "cursor."));
}

void TopologyView::set_topology(std::optional<Topology> topology) {
  topology_ = std::move(topology);
  index_service_power();
  update();
}

void TopologyView::index_service_power() {
  // Once per run and topology (a paint asks for every server): each service's GPU power series and its GPU count,
  // and the largest power per GPU over the run (the top of the colour scale).
  service_power_.clear();
  max_gpu_w_ = 1;
  if (!run_ || !topology_) return;
  for (size_t i = 0; i < topology_->services; ++i) {
    ServicePower sp;
    sp.series = run_->find("service." + topology_->owners[i].toStdString() + ".gpu_power");
    sp.gpus = topology_->count_servers(static_cast<int>(i)) * topology_->gpus_per_server;
    if (sp.series && sp.gpus > 0)
      for (double v : sp.series->values)
        if (std::isfinite(v)) max_gpu_w_ = std::max(max_gpu_w_, v / sp.gpus);
    service_power_.push_back(sp);
  }
}

int TopologyView::racks() const { return topology_ ? topology_->racks : run_ ? run_->racks : 0; }
int TopologyView::servers_per_rack() const {
  return std::max(1, topology_ ? topology_->servers_per_rack : run_ ? run_->servers_per_rack : 1);
}

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
  index_service_power();
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
  int n = 0;
  const int per_rack = servers_per_rack();
  for (size_t s = 0; s < down_.server_down.size(); ++s) n += down_.server_down[s] || rack_down(static_cast<int>(s) / per_rack);
  return n;
}

int TopologyView::spares_in_use() const {
  if (!run_ || !topology_) return 0;
  int taken = 0;
  for (const auto& e : run_->events) {
    if (e.time_s > t_s_) break;
    if (e.kind == "spares_taken") taken += std::atoi(e.detail.c_str());  // "4 spare server(s) for ..."
  }
  return std::min(taken, topology_->spare_servers);
}

double TopologyView::tier_utilization(const std::string& tier) const {
  if (!run_) return std::nan("");
  const SeriesData* s = run_->find("link_util_" + tier);
  if (!s || s->values.empty()) return std::nan("");
  return s->values[std::min(run_->sample_at(t_s_), s->values.size() - 1)];
}

double TopologyView::server_service_power_w(int server) const {
  if (!run_ || !topology_ || server < 0 || server >= topology_->servers()) return std::nan("");
  const int owner = topology_->owner[static_cast<size_t>(server)];
  if (owner < 0 || static_cast<size_t>(owner) >= service_power_.size()) return std::nan("");
  const ServicePower& sp = service_power_[static_cast<size_t>(owner)];
  if (!sp.series || sp.series->values.empty() || sp.gpus == 0) return std::nan("");
  return sp.series->values[std::min(run_->sample_at(t_s_), sp.series->values.size() - 1)] / sp.gpus;
}

void TopologyView::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.setRenderHint(QPainter::Antialiasing);
  p.fillRect(rect(), palette().window());
  const int n_racks = racks(), per_rack = servers_per_rack();
  if (n_racks <= 0) {
    p.drawText(rect(), Qt::AlignCenter, tr("Open a scenario or a results file to see its racks and fabric"));
    legend_.clear();
    return;
  }
  const int margin = 8, legend_h = 30;
  const QColor text = palette().text().color();
  // Switch tiers (top), drawn as rows of boxes: at most 24 per row, the rest counted.
  int fabric_h = 0;
  std::vector<std::pair<QString, int>> rows;  // label, count
  std::vector<std::string> row_tier;          // the tier of the links from this row down to the next
  if (topology_) {
    for (const char* role : {"CORE", "SPINE", "ROUTER", "LEAF"}) {
      const auto it = topology_->switches.find(role);
      if (it == topology_->switches.end() || it->second <= 0) continue;
      rows.emplace_back(QString(role).toLower(), it->second);
      // CORE-SPINE links are the core tier, SPINE-LEAF the leaves' uplinks, between routers the global links.
      row_tier.push_back(std::string(role) == "CORE" ? "core" : std::string(role) == "ROUTER" ? "global" : "uplink");
    }
    fabric_h = static_cast<int>(rows.size()) * 34 + (rows.empty() ? 0 : 6);
  }
  const double left = margin + 70, right = width() - margin - (topology_ && topology_->storage_nodes > 0 ? 90 : 0);
  std::vector<std::vector<QPointF>> row_centres;
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto& [label, count] = rows[r];
    const int shown = std::min(count, 24);
    const double y = margin + r * 34.0;
    const double w = (right - left) / shown;
    p.setPen(text);
    p.drawText(QRectF(margin, y, 68, 20), Qt::AlignLeft | Qt::AlignVCenter,
               QStringLiteral("%1 x%2").arg(label).arg(count));
    std::vector<QPointF> centres;
    for (int i = 0; i < shown; ++i) {
      const QRectF box(left + i * w + 2, y + 2, std::max(3.0, w - 4), 16);
      p.fillRect(box, QColor(90, 90, 110));
      centres.emplace_back(box.center().x(), box.bottom());
    }
    if (count > shown) p.drawText(QRectF(right - 60, y + 18, 60, 14), Qt::AlignRight, tr("+%1 more").arg(count - shown));
    row_centres.push_back(centres);
  }
  // Links between consecutive rows, coloured by their tier's utilization at the cursor when the run recorded it.
  for (size_t r = 0; r + 1 < row_centres.size(); ++r) {
    const double u = tier_utilization(row_tier[r]);
    p.setPen(QPen(std::isnan(u) ? QColor(170, 170, 170) : heat(u), 1));
    for (const QPointF& a : row_centres[r])
      for (const QPointF& b : row_centres[r + 1]) p.drawLine(a, QPointF(b.x(), b.y() - 16));
  }
  if (topology_ && topology_->storage_nodes > 0) {
    const QRectF box(width() - margin - 84, margin + std::max(0, fabric_h - 40), 80, 28);
    p.fillRect(box, QColor(120, 100, 60));
    p.setPen(Qt::white);
    p.drawText(box, Qt::AlignCenter, tr("storage x%1").arg(topology_->storage_nodes));
    const auto sw = topology_->switches.find("STORAGE_LEAF");
    p.setPen(text);
    if (sw != topology_->switches.end())
      p.drawText(QRectF(box.x() - 20, box.bottom() + 2, box.width() + 20, 14), Qt::AlignRight,
                 tr("via %1 storage switch%2").arg(sw->second).arg(sw->second == 1 ? "" : "es"));
  }
  if (!rows.empty()) {
    const bool recorded = !std::isnan(tier_utilization("uplink")) || !std::isnan(tier_utilization("nic"));
    QFont small = p.font();
    small.setPointSizeF(small.pointSizeF() * 0.85);
    p.setFont(small);
    p.setPen(text);
    p.drawText(QRectF(margin, margin + rows.size() * 34.0 - 12, 70, 14), Qt::AlignLeft,
               recorded ? tr("links: util.") : tr("links"));
    p.setFont(font());
  }
  // Racks of servers.
  const int top = margin + fabric_h;
  const int cols = std::min(n_racks, std::max(1, (width() - 2 * margin) / 36));
  const int rows_of_racks = (n_racks + cols - 1) / cols;
  const double rack_w = double(width() - 2 * margin) / cols;
  const double rack_h = double(height() - top - margin - legend_h) / rows_of_racks;
  const double server_h = std::max(1.0, (rack_h - 18) / per_rack);
  if (!row_centres.empty()) {  // NIC links from the last switch row down to the racks
    const double u = tier_utilization("nic");
    p.setPen(QPen(std::isnan(u) ? QColor(200, 200, 200) : heat(u), 1, Qt::DotLine));
    for (const QPointF& a : row_centres.back()) p.drawLine(a, QPointF(a.x(), top + 10));
  }
  const bool have_run = run_ != nullptr;
  const int spares_used = spares_in_use();
  const int first_spare = topology_ ? topology_->servers() - topology_->spare_servers : 0;
  for (int r = 0; r < n_racks; ++r) {
    const double x = margin + (r % cols) * rack_w, y = top + (r / cols) * rack_h;
    const double w = rack_power_w(r);
    for (int s = 0; s < per_rack; ++s) {
      const int global = r * per_rack + s;
      const bool down = rack_down(r) || (static_cast<size_t>(global) < down_.server_down.size() && down_.server_down[static_cast<size_t>(global)]);
      int owner = topology_ && global < topology_->servers() ? topology_->owner[static_cast<size_t>(global)] : -1;
      // A spare taken by replacement replicas runs the service now (the only one, or else an unnamed replacement).
      const bool replacement = owner == -2 && global - first_spare < spares_used;
      if (replacement) owner = topology_->services == 1 ? 0 : -3;
      QColor fill(200, 200, 200);
      switch (colour_) {
        case Colour::PLACEMENT:
          fill = owner >= 0 ? owner_colour(owner) : owner == -2 ? SPARE : owner == -3 ? REPLACEMENT : FREE;
          break;
        case Colour::POWER:
          if (!std::isnan(w)) fill = heat(w / max_w_);
          break;
        case Colour::SHARE_OF_PEAK:
          if (!std::isnan(w) && r < static_cast<int>(peak_w_.size()) && peak_w_[static_cast<size_t>(r)] > 0)
            fill = heat(w / peak_w_[static_cast<size_t>(r)]);
          break;
        case Colour::SERVICE_POWER: {
          const double g = server_service_power_w(global);
          fill = std::isnan(g) ? (owner == -2 ? SPARE : FREE) : heat(g / max_gpu_w_);
          break;
        }
        case Colour::FAILURES:
          fill = QColor(120, 190, 120);
          break;
      }
      QRectF box(x + 3, y + 14 + s * server_h, rack_w - 6, server_h - 1);
      p.fillRect(box, down ? DOWN : fill);
      if (down) p.fillRect(box, QBrush(QColor(255, 255, 255, 90), Qt::BDiagPattern));
      else if (owner == -2) p.fillRect(box, QBrush(QColor(150, 150, 150), Qt::FDiagPattern));
      else if (replacement) p.fillRect(box, QBrush(QColor(255, 255, 255, 160), Qt::Dense6Pattern));
      // The replica (or job) on the server, where the box has room for it.
      if (colour_ == Colour::PLACEMENT && topology_ && box.height() >= 14 && global < topology_->servers()) {
        const QString& label = topology_->label[static_cast<size_t>(global)];
        if (!label.isEmpty() && p.fontMetrics().horizontalAdvance(label) + 4 <= box.width()) {
          p.setPen(down ? Qt::white : QColor(30, 30, 30));
          p.drawText(box, Qt::AlignCenter, label);
        }
      }
    }
    p.setPen(rack_down(r) ? DOWN : text);
    p.drawRect(QRectF(x + 2, y + 13, rack_w - 4, per_rack * server_h + 1));
    if (rack_w > 24) p.drawText(QRectF(x, y, rack_w, 13), Qt::AlignCenter, QString::number(r));
  }
  // Legend.
  const QRectF legend(margin, height() - legend_h + 2, width() - 2 * margin, legend_h - 4);
  p.setPen(text);
  const QString at = have_run ? tr("   at t = %1 s").arg(t_s_, 0, 'f', 0) : tr("   (before a run: the placement the run will use)");
  if (colour_ == Colour::PLACEMENT || colour_ == Colour::FAILURES) {
    double x = legend.x();
    auto swatch = [&](const QColor& c, const QString& name) {
      p.fillRect(QRectF(x, legend.y() + 7, 12, 12), c);
      p.setPen(text);
      const double w = p.fontMetrics().horizontalAdvance(name) + 8;
      p.drawText(QRectF(x + 15, legend.y(), w, legend.height()), Qt::AlignLeft | Qt::AlignVCenter, name);
      x += 15 + w + 6;
    };
    QStringList parts;
    if (colour_ == Colour::PLACEMENT && topology_) {
      for (size_t i = 0; i < topology_->owners.size(); ++i) {
        swatch(owner_colour(static_cast<int>(i)), topology_->owners[i]);
        parts << topology_->owners[i];
      }
      if (topology_->spare_servers > 0) swatch(SPARE, tr("spare"));
      if (spares_used > 0) swatch(topology_->services == 1 ? owner_colour(0).lighter(115) : REPLACEMENT,
                                  tr("spare in use (%1, dotted)").arg(spares_used));
      swatch(FREE, tr("free"));
    } else {
      swatch(QColor(120, 190, 120), tr("up"));
    }
    if (have_run) swatch(DOWN, tr("down (%1 servers)").arg(down_servers()));
    legend_ = parts.join(", ");
    if (!topology_ && colour_ == Colour::PLACEMENT)
      p.drawText(QRectF(x, legend.y(), legend.right() - x, legend.height()), Qt::AlignLeft | Qt::AlignVCenter,
                 tr("placement unknown: open the run's scenario"));
    else
      p.drawText(QRectF(x, legend.y(), legend.right() - x, legend.height()), Qt::AlignLeft | Qt::AlignVCenter, at);
    return;
  }
  const bool no_rack_power = !run_ || !run_->rack_power;
  if (colour_ != Colour::SERVICE_POWER && no_rack_power) {
    legend_ = tr("This run has no per-rack power (recorded when the power manager runs: a grid limit, rack limits or "
                 "the power chain); colour by the services' GPU power instead.");
    p.drawText(legend, Qt::AlignLeft | Qt::AlignVCenter | Qt::TextWordWrap, legend_);
    return;
  }
  const int bar_w = 160;
  for (int i = 0; i < bar_w; ++i) p.fillRect(QRectF(legend.x() + i, legend.y() + 4, 1, legend.height() - 8), heat(i / double(bar_w)));
  legend_ = colour_ == Colour::POWER           ? tr("rack IT power 0 - %1 kW").arg(max_w_ / 1e3, 0, 'f', 1)
            : colour_ == Colour::SHARE_OF_PEAK ? tr("rack power / its peak in the run, 0 - 100 %")
                                               : tr("GPU power per GPU of the service on the server, 0 - %1 W").arg(max_gpu_w_, 0, 'f', 0);
  p.drawText(QRectF(legend.x() + bar_w + 8, legend.y(), legend.width() - bar_w - 8, legend.height()),
             Qt::AlignLeft | Qt::AlignVCenter, legend_ + at);
}

}  // namespace aif::gui
