#include "aif/gui/tables.hpp"

#include <QColor>
#include <QFileInfo>
#include <algorithm>
#include <cmath>

#include "aif/analysis/glossary.hpp"

namespace aif::gui {

QString format_value(double v) { return QString::fromStdString(analysis::format_metric_value(v)); }

void SummaryModel::set_entries(std::vector<analysis::SummaryEntry> entries) {
  beginResetModel();
  entries_ = std::move(entries);
  // Looked up once here: data() is called for every cell and role at each repaint.
  meanings_.clear();
  for (const analysis::SummaryEntry& e : entries_) {
    const analysis::GlossaryEntry* g = analysis::glossary_entry(e.name);
    meanings_.push_back(g ? QString::fromStdString(g->definition) : tr("(not in the glossary)"));
  }
  endResetModel();
}
int SummaryModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(entries_.size());
}
int SummaryModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : 4; }
QVariant SummaryModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid()) return {};
  const auto& e = entries_[static_cast<size_t>(index.row())];
  const QString& meaning = meanings_[static_cast<size_t>(index.row())];
  if (role == Qt::ToolTipRole) return QString::fromStdString(e.name) + "\n" + meaning;
  if (role == Qt::TextAlignmentRole && index.column() == 1) return int(Qt::AlignRight | Qt::AlignVCenter);
  if (role != Qt::DisplayRole) return {};
  switch (index.column()) {
    case 0: return QString::fromStdString(e.name);
    case 1: return format_value(e.value);
    case 2: return QString::fromStdString(analysis::display_unit(e.unit));
    default: return meaning;
  }
}
QVariant SummaryModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  return QStringList{tr("metric"), tr("value"), tr("unit"), tr("meaning")}.value(section);
}

void EventsModel::set_events(std::vector<analysis::EventRecord> events) {
  beginResetModel();
  events_ = std::move(events);
  endResetModel();
}
int EventsModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(events_.size());
}
int EventsModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : 4; }
QVariant EventsModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid()) return {};
  const auto& e = events_[static_cast<size_t>(index.row())];
  if (role == Qt::ForegroundRole) {
    if (e.kind == "failure" || e.kind == "incident_start" || e.kind == "replica_down") return QColor(190, 30, 30);
    if (e.kind == "repair_done" || e.kind == "incident_end" || e.kind == "replica_up") return QColor(20, 120, 40);
    return {};
  }
  if (role != Qt::DisplayRole) return {};
  switch (index.column()) {
    case 0: return QString::number(e.time_s, 'f', 3);
    case 1: return QString::fromStdString(e.kind);
    case 2: return QString::fromStdString(e.target);
    default: return QString::fromStdString(e.detail);
  }
}
QVariant EventsModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  return QStringList{tr("time (s)"), tr("kind"), tr("target"), tr("detail")}.value(section);
}
int EventsModel::row_at(double t) const {
  const auto it = std::upper_bound(events_.begin(), events_.end(), t,
                                   [](double v, const analysis::EventRecord& e) { return v < e.time_s; });
  return static_cast<int>(it - events_.begin()) - 1;
}

void DifferenceModel::set_runs(const std::vector<const RunData*>& runs) {
  beginResetModel();
  files_.clear();
  metrics_.clear();
  units_.clear();
  values_.clear();
  for (const RunData* r : runs) files_ << QFileInfo(QString::fromStdString(r->path)).fileName();
  if (!runs.empty()) {
    for (const auto& e : runs.front()->summary) {
      metrics_.push_back(QString::fromStdString(e.name));
      units_.push_back(QString::fromStdString(e.unit));
      std::vector<double> row;
      for (const RunData* r : runs) {
        double v = std::nan("");
        for (const auto& f : r->summary)
          if (f.name == e.name) v = f.value;
        row.push_back(v);
      }
      values_.push_back(std::move(row));
    }
  }
  endResetModel();
}
int DifferenceModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(metrics_.size());
}
int DifferenceModel::columnCount(const QModelIndex& parent) const {
  // metric, unit, each run, then change and relative change of each run after the first
  return parent.isValid() ? 0 : 2 + static_cast<int>(files_.size()) + 2 * std::max(0, int(files_.size()) - 1);
}
QVariant DifferenceModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || (role != Qt::DisplayRole && role != Qt::UserRole)) return {};
  const size_t row = static_cast<size_t>(index.row());
  const int runs = static_cast<int>(files_.size());
  const int c = index.column();
  if (c == 0) return metrics_[row];
  if (c == 1) return units_[row];
  const auto& v = values_[row];
  if (c < 2 + runs) return role == Qt::UserRole ? QVariant(v[size_t(c - 2)]) : QVariant(format_value(v[size_t(c - 2)]));
  const int k = (c - 2 - runs) / 2 + 1;  // the run compared with the first
  const bool relative = (c - 2 - runs) % 2 == 1;
  const double d = v[size_t(k)] - v[0];
  const double value = relative ? (v[0] != 0 ? d / std::abs(v[0]) : std::nan("")) : d;
  if (role == Qt::UserRole) return value;
  if (relative) return std::isnan(value) ? QStringLiteral("—") : QString::number(100 * value, 'f', 2) + " %";
  return format_value(value);
}
QVariant DifferenceModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  const int runs = static_cast<int>(files_.size());
  if (section == 0) return tr("metric");
  if (section == 1) return tr("unit");
  if (section < 2 + runs) return files_[section - 2];
  const int k = (section - 2 - runs) / 2 + 1;
  return ((section - 2 - runs) % 2 ? tr("%1 vs %2 (rel.)") : tr("%1 - %2")).arg(files_[k], files_[0]);
}

}  // namespace aif::gui
