// Two or more runs side by side: one series overlaid (chosen from those they share), their latency CDFs (TTFT, TPOT
// or end to end) overlaid,
// and the table of summary differences from the first run.
#pragma once
#include <QChartView>
#include <QWidget>
#include <memory>

#include "aif/gui/run_data.hpp"
#include "aif/gui/tables.hpp"

class QComboBox;
class QTableView;

namespace aif::gui {

class CompareView : public QWidget {
  Q_OBJECT
 public:
  explicit CompareView(QWidget* parent = nullptr);
  void set_runs(std::vector<std::shared_ptr<const RunData>> runs);
  size_t run_count() const { return runs_.size(); }
  QChartView* series_view() const { return series_view_; }
  QChartView* cdf_view() const { return cdf_view_; }
  DifferenceModel* differences() const { return differences_; }
  void show_series(const QString& name);
  void show_cdf(const QString& metric);  // "TTFT", "TPOT" or "E2E"

 private:
  std::vector<std::shared_ptr<const RunData>> runs_;
  QComboBox* series_choice_;
  QComboBox* cdf_choice_;
  QChartView* series_view_;
  QChartView* cdf_view_;
  QTableView* table_;
  DifferenceModel* differences_;
};

}  // namespace aif::gui
