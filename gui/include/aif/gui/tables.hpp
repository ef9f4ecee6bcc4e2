// Model/view tables of a run: the summary and the events (the timeline the cursor scrubs through).
#pragma once
#include <QAbstractTableModel>

#include "aif/gui/run_data.hpp"

namespace aif::gui {

class SummaryModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  using QAbstractTableModel::QAbstractTableModel;
  void set_entries(std::vector<analysis::SummaryEntry> entries);
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

 private:
  std::vector<analysis::SummaryEntry> entries_;
  std::vector<QString> meanings_;  // per entry: its glossary definition
};

class EventsModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  using QAbstractTableModel::QAbstractTableModel;
  void set_events(std::vector<analysis::EventRecord> events);
  const std::vector<analysis::EventRecord>& events() const { return events_; }
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;
  // The last event at or before t (-1 before the first).
  int row_at(double t) const;

 private:
  std::vector<analysis::EventRecord> events_;
};

// Per summary metric of two or more runs: the value in each, and the change from the first (the baseline).
class DifferenceModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  using QAbstractTableModel::QAbstractTableModel;
  void set_runs(const std::vector<const RunData*>& runs);
  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

 private:
  QStringList files_;
  std::vector<QString> metrics_;
  std::vector<QString> units_;
  std::vector<std::vector<double>> values_;  // metric x run (NaN when absent)
};

QString format_value(double v);

}  // namespace aif::gui
