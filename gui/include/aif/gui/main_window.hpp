// aifsim-gui's window: a scenario form and run controls on the left; the results of the open run on the right
// (linked charts, topology, events timeline, summary, comparison, live view of a run in progress); a time cursor
// shared by charts, topology and timeline. The GUI reads results through aif::analysis and runs simulations as
// `aifsim run` child processes: it adds no simulation logic.
#pragma once
#include <QLabel>
#include <QMainWindow>
#include <QTimer>
#include <memory>

#include "aif/gui/run_data.hpp"

class QChartView;
class QLineSeries;
class QProgressBar;
class QSlider;
class QTabWidget;
class QTableView;
class QComboBox;
class QMenu;
class QPushButton;

namespace aif::gui {

class ChartsPanel;
class CompareView;
class EventsModel;
class RunController;
class ScenarioForm;
class SummaryModel;
class TimelineStrip;
class TopologyView;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  // Opens a results file; false with the message in *error (also shown in a dialog when dialogs are enabled).
  bool open_results(const QString& path, QString* error = nullptr);
  bool open_scenario(const QString& path, QString* error = nullptr);
  bool add_to_compare(const QString& path, QString* error = nullptr);
  // Runs the form's scenario (with its edits) into `output` (default: results/gui/<name>-<time>.h5).
  bool start_run(const QString& output = {});
  void stop_run();
  void set_dialogs_enabled(bool enabled) { dialogs_ = enabled; }
  void set_cursor(double t_s);

  // The views, for tests and screenshots.
  const RunData* run() const { return run_.get(); }
  ChartsPanel* charts() const { return charts_; }
  TopologyView* topology() const { return topology_; }
  TimelineStrip* timeline() const { return timeline_; }
  EventsModel* events_model() const { return events_model_; }
  SummaryModel* summary_model() const { return summary_model_; }
  CompareView* compare() const { return compare_; }
  ScenarioForm* form() const { return form_; }
  RunController* runner() const { return runner_; }
  QTabWidget* tabs() const { return tabs_; }
  // Where what is on screen comes from: "" when the form and the open results agree (or one is missing), else a
  // warning that F5 would run another scenario than the one the results come from.
  QString source_mismatch() const;
  QString source_text() const { return source_label_->text(); }
  // Saves a PNG of each main view into dir (at the window's current size).
  QStringList save_screenshots(const QString& dir);

 signals:
  void run_finished(bool ok, const QString& message);

 protected:
  void closeEvent(QCloseEvent* event) override;
  void dragEnterEvent(QDragEnterEvent* event) override;
  void dropEvent(QDropEvent* event) override;

 private:
  void build_menus();
  void build_layout();
  void add_recent(const QString& path);
  void rebuild_recent_menu();
  void poll_progress();
  void on_run_finished(bool ok, const QString& message);
  void export_chart();
  void export_csv();
  void save_scenario();
  void show_error(const QString& title, const QString& message);
  QString pick_chart();
  void update_source();
  void refresh_topology();  // the form's scenario (with its edits) through aifsim topo

  std::shared_ptr<RunData> run_;
  std::vector<std::shared_ptr<const RunData>> compared_;
  ChartsPanel* charts_ = nullptr;
  TopologyView* topology_ = nullptr;
  TimelineStrip* timeline_ = nullptr;
  EventsModel* events_model_ = nullptr;
  SummaryModel* summary_model_ = nullptr;
  CompareView* compare_ = nullptr;
  ScenarioForm* form_ = nullptr;
  RunController* runner_ = nullptr;
  QTabWidget* tabs_ = nullptr;
  QTableView* events_view_ = nullptr;
  QSlider* cursor_slider_ = nullptr;
  QLabel* cursor_label_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QLabel* progress_label_ = nullptr;
  QPushButton* run_button_ = nullptr;
  QPushButton* stop_button_ = nullptr;
  QChartView* live_view_ = nullptr;
  QLineSeries* live_power_ = nullptr;
  QLineSeries* live_queue_ = nullptr;
  QLineSeries* live_ttft_ = nullptr;
  QChartView* live_latency_view_ = nullptr;
  QComboBox* colour_choice_ = nullptr;
  QLabel* source_label_ = nullptr;
  QLabel* form_label_ = nullptr;
  QMenu* recent_menu_ = nullptr;
  QTimer progress_timer_;
  bool dialogs_ = true;
  bool cursor_busy_ = false;
};

}  // namespace aif::gui
