#include "aif/gui/main_window.hpp"

#include <QAction>
#include <QApplication>
#include <QChartView>
#include <QCloseEvent>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLineSeries>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QPushButton>
#include <QSaveFile>
#include <QScrollArea>
#include <QSettings>
#include <QSlider>
#include <QSplitter>
#include <QStatusBar>
#include <QSvgGenerator>
#include <QTabWidget>
#include <QTableView>
#include <QToolBar>
#include <QValueAxis>
#include <QVBoxLayout>
#include <cmath>

#include "aif/analysis/event_markers.hpp"
#include "aif/gui/charts_panel.hpp"
#include "aif/gui/compare_view.hpp"
#include "aif/gui/help.hpp"
#include "aif/gui/run_controller.hpp"
#include "aif/gui/scenario_form.hpp"
#include "aif/gui/tables.hpp"
#include "aif/gui/timeline_strip.hpp"
#include "aif/gui/topology.hpp"
#include "aif/gui/topology_view.hpp"

namespace aif::gui {

namespace {

constexpr int CURSOR_STEPS = 1000;
constexpr int MAX_RECENT = 8;

// scenarios/ and its schema: next to the build tree's source (AIF_SOURCE_DIR), or $AIFSIM_SOURCE_DIR.
QString source_dir() {
  const QString env = qEnvironmentVariable("AIFSIM_SOURCE_DIR");
  return env.isEmpty() ? QStringLiteral(AIF_SOURCE_DIR) : env;
}

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setWindowTitle(tr("aifsim"));
  setAcceptDrops(true);
  runner_ = new RunController(RunController::default_aifsim_path(), this);
  form_ = new ScenarioForm(source_dir() + "/scenarios/scenario.schema.json", runner_->aifsim_path(), this);
  build_layout();
  build_menus();
  connect(runner_, &RunController::finished, this, &MainWindow::on_run_finished);
  // Edits that change the facility or the replicas change the drawing: redrawn once the scenario validates.
  connect(form_, &ScenarioForm::validated, this, [this](bool ok) {
    if (ok) refresh_topology();
  });
  // Progress arrives as fast as the child writes it; the widgets change in batches, four times a second.
  progress_timer_.setInterval(250);
  connect(&progress_timer_, &QTimer::timeout, this, &MainWindow::poll_progress);
  QSettings settings;
  restoreGeometry(settings.value("window/geometry").toByteArray());
  restoreState(settings.value("window/state").toByteArray());
  if (!settings.contains("window/geometry")) resize(1366, 768);
  rebuild_recent_menu();
  statusBar()->showMessage(tr("Open a results file (Ctrl+O) or a scenario (Ctrl+Shift+O); drop files here"));
}

MainWindow::~MainWindow() = default;

void MainWindow::build_layout() {
  auto* split = new QSplitter(Qt::Horizontal, this);
  // Left: the scenario and the run.
  auto* left = new QWidget(split);
  auto* lv = new QVBoxLayout(left);
  form_label_ = new QLabel(tr("No scenario open"), left);
  form_label_->setWordWrap(true);
  form_label_->setStyleSheet("font-weight: bold");
  lv->addWidget(form_label_);
  auto* form_scroll = new QScrollArea(left);
  form_scroll->setWidgetResizable(true);
  form_scroll->setWidget(form_);
  lv->addWidget(form_scroll, 1);
  auto* buttons = new QHBoxLayout;
  run_button_ = new QPushButton(tr("Run (F5)"), left);
  stop_button_ = new QPushButton(tr("Stop (Esc)"), left);
  stop_button_->setEnabled(false);
  buttons->addWidget(run_button_);
  buttons->addWidget(stop_button_);
  lv->addLayout(buttons);
  progress_ = new QProgressBar(left);
  progress_->setRange(0, 1000);
  progress_->setValue(0);
  lv->addWidget(progress_);
  progress_label_ = new QLabel(left);
  progress_label_->setWordWrap(true);
  lv->addWidget(progress_label_);
  connect(run_button_, &QPushButton::clicked, this, [this] { start_run(); });
  connect(stop_button_, &QPushButton::clicked, this, &MainWindow::stop_run);

  // Right: the views of the open run, and the shared time cursor under them.
  auto* right = new QWidget(split);
  auto* rv = new QVBoxLayout(right);
  source_label_ = new QLabel(tr("No results open"), right);
  source_label_->setWordWrap(true);
  source_label_->setTextFormat(Qt::PlainText);
  rv->addWidget(source_label_);
  tabs_ = new QTabWidget(right);
  charts_ = new ChartsPanel;
  auto* chart_scroll = new QScrollArea;
  chart_scroll->setWidgetResizable(true);
  chart_scroll->setWidget(charts_);
  tabs_->addTab(chart_scroll, tr("Charts"));
  auto* topo_page = new QWidget;
  auto* tv = new QVBoxLayout(topo_page);
  colour_choice_ = new QComboBox(topo_page);
  // In TopologyView::Colour's order.
  colour_choice_->addItems({tr("Colour by placement (services, jobs, spares)"), tr("Colour by rack power"),
                            tr("Colour by share of the rack's peak"), tr("Colour by the services' GPU power"),
                            tr("Colour by failure state")});
  tv->addWidget(colour_choice_);
  topology_ = new TopologyView(topo_page);
  tv->addWidget(topology_, 1);
  tabs_->addTab(topo_page, tr("Topology"));
  connect(colour_choice_, &QComboBox::currentIndexChanged, this,
          [this](int i) { topology_->set_colour(static_cast<TopologyView::Colour>(i)); });
  events_model_ = new EventsModel(this);
  events_view_ = new QTableView;
  events_view_->setModel(events_model_);
  events_view_->setSelectionBehavior(QAbstractItemView::SelectRows);
  events_view_->horizontalHeader()->setStretchLastSection(true);
  events_view_->verticalHeader()->hide();
  auto* events_page = new QWidget;
  auto* ev = new QVBoxLayout(events_page);
  timeline_ = new TimelineStrip(events_page);
  ev->addWidget(timeline_);
  ev->addWidget(events_view_, 1);
  tabs_->addTab(events_page, tr("Events"));
  connect(timeline_, &TimelineStrip::cursor_moved, this, &MainWindow::set_cursor);
  connect(events_view_->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
          [this](const QModelIndex& current) {
            if (current.isValid() && !cursor_busy_)
              set_cursor(events_model_->events()[static_cast<size_t>(current.row())].time_s);
          });
  summary_model_ = new SummaryModel(this);
  auto* summary_view = new QTableView;
  summary_view->setModel(summary_model_);
  summary_view->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  summary_view->horizontalHeader()->setSectionResizeMode(3, QHeaderView::Stretch);  // the meaning: the rest, full in the tool tip
  summary_view->verticalHeader()->hide();
  tabs_->addTab(summary_view, tr("Summary"));
  compare_ = new CompareView;
  tabs_->addTab(compare_, tr("Compare"));
  // Live view of a run in progress.
  auto* live_chart = new QChart();
  live_chart->setTitle(tr("Run in progress"));
  live_power_ = new QLineSeries;
  live_power_->setName(tr("facility power (kW)"));
  live_queue_ = new QLineSeries;
  live_queue_->setName(tr("requests in flight"));
  live_chart->addSeries(live_power_);
  live_chart->addSeries(live_queue_);
  // One axis per unit: power on the left, requests on the right (on one axis, power in kW lay flat under counts).
  auto* live_time = new QValueAxis;
  live_time->setTitleText(tr("simulated time (s)"));
  auto* live_kw = new QValueAxis;
  live_kw->setTitleText(tr("facility power (kW)"));
  live_kw->setLabelFormat("%.4g");
  auto* live_requests = new QValueAxis;
  live_requests->setTitleText(tr("requests in flight"));
  live_requests->setLabelFormat("%.0f");
  live_chart->addAxis(live_time, Qt::AlignBottom);
  live_chart->addAxis(live_kw, Qt::AlignLeft);
  live_chart->addAxis(live_requests, Qt::AlignRight);
  live_power_->attachAxis(live_time);
  live_power_->attachAxis(live_kw);
  live_queue_->attachAxis(live_time);
  live_queue_->attachAxis(live_requests);
  live_view_ = new QChartView(live_chart);
  live_view_->setRenderHint(QPainter::Antialiasing);
  auto* latency_chart = new QChart();
  latency_chart->setTitle(tr("TTFT p99 of the requests finishing now"));
  live_ttft_ = new QLineSeries;
  live_ttft_->setName(tr("TTFT p99 (ms)"));
  latency_chart->addSeries(live_ttft_);
  latency_chart->createDefaultAxes();
  latency_chart->axes(Qt::Horizontal).value(0)->setTitleText(tr("simulated time (s)"));
  live_latency_view_ = new QChartView(latency_chart);
  live_latency_view_->setRenderHint(QPainter::Antialiasing);
  auto* live_page = new QSplitter(Qt::Vertical);
  live_page->addWidget(live_view_);
  live_page->addWidget(live_latency_view_);
  tabs_->addTab(live_page, tr("Live"));
  rv->addWidget(tabs_, 1);
  auto* cursor_row = new QHBoxLayout;
  cursor_row->addWidget(new QLabel(tr("Time:"), right));
  cursor_slider_ = new QSlider(Qt::Horizontal, right);
  cursor_slider_->setRange(0, CURSOR_STEPS);
  cursor_row->addWidget(cursor_slider_, 1);
  cursor_label_ = new QLabel(right);
  cursor_label_->setMinimumWidth(120);
  cursor_row->addWidget(cursor_label_);
  rv->addLayout(cursor_row);
  connect(cursor_slider_, &QSlider::valueChanged, this, [this](int v) {
    if (!cursor_busy_ && run_) set_cursor(run_->end_s() * v / CURSOR_STEPS);
  });
  connect(charts_, &ChartsPanel::cursor_moved, this, &MainWindow::set_cursor);
  split->addWidget(left);
  split->addWidget(right);
  split->setStretchFactor(0, 0);
  split->setStretchFactor(1, 1);
  split->setSizes({340, 1000});
  setCentralWidget(split);
}

void MainWindow::build_menus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  auto* open = file->addAction(tr("&Open results..."), QKeySequence::Open, this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open results"), {}, tr("Results (*.h5);;All files (*)"));
    if (!path.isEmpty()) open_results(path);
  });
  file->addAction(tr("Open &scenario..."), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O), this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, tr("Open scenario"), source_dir() + "/scenarios",
                                                      tr("Scenarios (*.yaml *.yml)"));
    if (!path.isEmpty()) open_scenario(path);
  });
  QMenu* examples = file->addMenu(tr("Start from an &example"));
  for (const char* rel : {"default.yaml", "examples/poisson.yaml", "examples/bursty_gamma.yaml",
                             "examples/diurnal.yaml", "examples/training.yaml", "energy/grid_cap_battery.yaml",
                             "reliability/rack_failure_peak.yaml"}) {
    const QString path = source_dir() + "/scenarios/" + QString::fromLatin1(rel);
    if (QFileInfo::exists(path)) examples->addAction(QString::fromLatin1(rel), this, [this, path] { open_scenario(path); });
  }
  file->addAction(tr("Open the open run's sce&nario"), this, [this] {
    // What F5 runs is then what the results show (the --set values it was run with are not applied: the form
    // shows the file).
    QString path;
    if (run_)
      if (const auto it = run_->meta.find("scenario_path"); it != run_->meta.end()) path = QString::fromStdString(it->second);
    if (!path.isEmpty() && QFileInfo::exists(path))
      open_scenario(path);
    else
      show_error(tr("No scenario"), tr("The open run's scenario file is not there any more (its text is in the "
                                       "Summary's run metadata and the HTML report)."));
  });
  recent_menu_ = file->addMenu(tr("&Recent files"));
  file->addAction(tr("&Save scenario as..."), QKeySequence::Save, this, &MainWindow::save_scenario);
  file->addSeparator();
  file->addAction(tr("Add results to &compare..."), QKeySequence(Qt::CTRL | Qt::Key_K), this, [this] {
    for (const QString& p : QFileDialog::getOpenFileNames(this, tr("Compare with"), {}, tr("Results (*.h5)")))
      add_to_compare(p);
  });
  file->addAction(tr("&Export chart (PNG/SVG)..."), QKeySequence(Qt::CTRL | Qt::Key_E), this, &MainWindow::export_chart);
  file->addAction(tr("Export series as &CSV..."), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_E), this,
                  &MainWindow::export_csv);
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
  QMenu* run = menuBar()->addMenu(tr("&Run"));
  run->addAction(tr("&Run scenario"), QKeySequence(Qt::Key_F5), this, [this] { start_run(); });
  run->addAction(tr("&Stop"), QKeySequence(Qt::Key_Escape), this, &MainWindow::stop_run);
  QMenu* view = menuBar()->addMenu(tr("&View"));
  for (int i = 0; i < tabs_->count(); ++i)
    view->addAction(tabs_->tabText(i), QKeySequence(Qt::CTRL | (Qt::Key_1 + i)), this, [this, i] { tabs_->setCurrentIndex(i); });
  view->addSeparator();
  view->addAction(tr("Show the &whole run (reset zoom)"), QKeySequence(Qt::CTRL | Qt::Key_0), this,
                  [this] { charts_->zoom_to(0, 0); });
  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&Guided tour of the examples..."), QKeySequence::HelpContents, this, [this] {
    QDialog* d = make_tour_dialog(this, source_dir() + "/scenarios", [this](const QString& p) { open_scenario(p); });
    d->setAttribute(Qt::WA_DeleteOnClose);
    d->show();
  });
  help->addAction(tr("G&lossary of metrics..."), this, [this] {
    QDialog* d = make_glossary_dialog(this);
    d->setAttribute(Qt::WA_DeleteOnClose);
    d->show();
  });
  help->addAction(tr("&Where things are documented"), this, [this] {
    QMessageBox::information(
        this, tr("Documentation"),
        tr("Scenario format: scenarios/README.md and scenarios/scenario.schema.json (hover a field for its help).\n"
           "Results file: docs/results-format.md.\nEvery metric: docs/glossary.md (Help > Glossary).\n"
           "This window: docs/gui.md.\nFolder: %1").arg(source_dir()));
  });
  auto* toolbar = addToolBar(tr("Main"));
  toolbar->setObjectName("main_toolbar");
  toolbar->addAction(open);
  (void)open;
}

void MainWindow::show_error(const QString& title, const QString& message) {
  statusBar()->showMessage(message, 10000);
  if (dialogs_) QMessageBox::critical(this, title, message);
}

bool MainWindow::open_results(const QString& path, QString* error) {
  std::string why;
  auto loaded = load_run(path.toStdString(), &why);
  if (!loaded) {
    const QString message = QString::fromStdString(why);
    if (error) *error = message;
    show_error(tr("Cannot open results"), message);
    return false;
  }
  run_ = std::make_shared<RunData>(std::move(*loaded));
  charts_->show_run(*run_);
  timeline_->show_run(run_.get());
  // The fabric and placement: the form's when it is this run's scenario, else the run's own scenario file (with the
  // --set values it was run with) when it is still there.
  if (!topology_->topology() || !source_mismatch().isEmpty()) {
    const auto it = run_->meta.find("scenario_path");
    if (it != run_->meta.end() && QFileInfo::exists(QString::fromStdString(it->second))) {
      QStringList sets;
      if (const auto text = run_->meta.find("scenario"); text != run_->meta.end()) sets = sets_of_scenario_text(text->second);
      QString topo_error;
      topology_->set_topology(load_topology(runner_->aifsim_path(), QString::fromStdString(it->second), sets, &topo_error));
    } else {
      topology_->set_topology(std::nullopt);
    }
  }
  topology_->show_run(run_.get());
  colour_choice_->setCurrentIndex(static_cast<int>(
      run_->rack_power ? TopologyView::Colour::POWER
                       : topology_->topology() ? TopologyView::Colour::PLACEMENT : TopologyView::Colour::FAILURES));
  events_model_->set_events(run_->events);
  summary_model_->set_entries(run_->summary);
  for (int i = 0; i < tabs_->count(); ++i)
    if (tabs_->tabText(i).startsWith(tr("Summary")))
      tabs_->setTabText(i, run_->partial ? tr("Summary (partial)") : tr("Summary"));
  compared_ = {run_};
  compare_->set_runs(compared_);
  set_cursor(0);
  const QString name = QFileInfo(path).fileName();
  setWindowTitle(tr("aifsim - %1%2").arg(name, run_->partial ? tr(" (partial)") : QString()));
  statusBar()->showMessage(tr("%1: %2 samples, %3 events%4")
                               .arg(name)
                               .arg(run_->time_s.size())
                               .arg(run_->events.size())
                               .arg(run_->partial ? tr("; PARTIAL: the run was stopped") : QString()));
  add_recent(path);
  update_source();
  return true;
}

void MainWindow::refresh_topology() {
  if (form_->path().isEmpty()) return;
  QString why;
  auto t = load_topology(runner_->aifsim_path(), form_->path(), form_->overrides(), &why);
  if (!t) statusBar()->showMessage(tr("Topology: %1").arg(why), 8000);
  // With a run of another scenario open, the run's own topology stays.
  if (run_ && !source_mismatch().isEmpty()) return;
  topology_->set_topology(std::move(t));
  if (!run_) colour_choice_->setCurrentIndex(static_cast<int>(TopologyView::Colour::PLACEMENT));
}

QString MainWindow::source_mismatch() const {
  if (!run_ || form_->path().isEmpty()) return {};
  const auto it = run_->meta.find("scenario_path");
  if (it == run_->meta.end() || it->second.empty()) return {};
  const QString results_scenario = QString::fromStdString(it->second);
  const QString a = QFileInfo(results_scenario).canonicalFilePath(), b = QFileInfo(form_->path()).canonicalFilePath();
  if (!a.isEmpty() && a == b) return {};
  if (a.isEmpty() && QFileInfo(results_scenario).fileName() == QFileInfo(form_->path()).fileName()) return {};
  return tr("The form shows %1, but the results on the right come from %2: Run (F5) runs the form's scenario, not "
            "the one these results show (File > Open the open run's scenario).")
      .arg(QFileInfo(form_->path()).fileName(), results_scenario);
}

void MainWindow::update_source() {
  form_label_->setText(form_->path().isEmpty() ? tr("No scenario open") : tr("Scenario: %1").arg(form_->path()));
  if (!run_) {
    source_label_->setText(tr("No results open"));
    return;
  }
  const auto meta = [&](const char* key) {
    const auto it = run_->meta.find(key);
    return it == run_->meta.end() ? QString() : QString::fromStdString(it->second);
  };
  QString text = tr("Results: %1").arg(QFileInfo(QString::fromStdString(run_->path)).fileName());
  if (!meta("scenario_path").isEmpty()) text += tr(" · scenario %1").arg(meta("scenario_path"));
  if (!meta("seed").isEmpty()) text += tr(" · seed %1").arg(meta("seed"));
  if (run_->partial) text += tr(" · PARTIAL: the run was stopped at %1 s; every view covers only that span").arg(run_->end_s(), 0, 'f', 0);
  const QString mismatch = source_mismatch();
  if (!mismatch.isEmpty()) text += "\n" + mismatch;
  source_label_->setText(text);
  source_label_->setStyleSheet(run_->partial || !mismatch.isEmpty() ? "color: #8a4b00; font-weight: bold" : QString());
}

bool MainWindow::open_scenario(const QString& path, QString* error) {
  QString why;
  if (!form_->load(path, &why)) {
    if (error) *error = why;
    show_error(tr("Cannot open scenario"), why);
    return false;
  }
  add_recent(path);
  statusBar()->showMessage(tr("Scenario %1: edit, then Run (F5)").arg(QFileInfo(path).fileName()));
  refresh_topology();
  update_source();
  return true;
}

bool MainWindow::add_to_compare(const QString& path, QString* error) {
  std::string why;
  auto loaded = load_run(path.toStdString(), &why);
  if (!loaded) {
    if (error) *error = QString::fromStdString(why);
    show_error(tr("Cannot open results"), QString::fromStdString(why));
    return false;
  }
  compared_.push_back(std::make_shared<RunData>(std::move(*loaded)));
  compare_->set_runs(compared_);
  tabs_->setCurrentWidget(compare_);
  return true;
}

void MainWindow::set_cursor(double t_s) {
  if (!run_) return;
  cursor_busy_ = true;
  const double end = std::max(run_->end_s(), 1e-9);
  t_s = std::clamp(t_s, 0.0, end);
  cursor_slider_->setValue(static_cast<int>(std::lround(t_s / end * CURSOR_STEPS)));
  cursor_label_->setText(tr("%1 s").arg(t_s, 0, 'f', 1));
  charts_->set_cursor(t_s);
  topology_->set_cursor(t_s);
  timeline_->set_cursor(t_s);
  const int row = events_model_->row_at(t_s);
  if (row >= 0) events_view_->selectRow(row);
  cursor_busy_ = false;
}

bool MainWindow::start_run(const QString& output) {
  if (form_->path().isEmpty()) {
    show_error(tr("Nothing to run"), tr("Open a scenario first (File > Open scenario, or an example)."));
    return false;
  }
  QString out = output;
  if (out.isEmpty()) {
    QDir().mkpath("results/gui");
    out = QDir("results/gui").absoluteFilePath(QFileInfo(form_->path()).completeBaseName() + "-" +
                                               QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss") + ".h5");
  }
  if (!runner_->start(form_->path(), form_->overrides(), out)) {
    show_error(tr("Cannot run"), runner_->error());
    return false;
  }
  live_power_->clear();
  live_queue_->clear();
  live_ttft_->clear();
  progress_->setValue(0);
  run_button_->setEnabled(false);
  stop_button_->setEnabled(true);
  tabs_->setCurrentWidget(live_view_->parentWidget());
  progress_label_->setText(tr("starting %1").arg(runner_->aifsim_path()));
  progress_timer_.start();
  return true;
}

void MainWindow::stop_run() {
  if (!runner_->is_running()) return;
  runner_->stop();
  progress_label_->setText(tr("stopping at the next slice; the results so far are kept (partial)"));
}

void MainWindow::poll_progress() {
  const QVector<Progress> batch = runner_->take_progress();
  if (batch.isEmpty()) return;
  double max_power = 1, max_queue = 1, end = 1;
  for (const Progress& p : batch) {
    live_power_->append(p.sim_s, p.facility_power_w / 1e3);
    live_queue_->append(p.sim_s, static_cast<double>(p.in_flight));
    if (!std::isnan(p.ttft_p99_s)) live_ttft_->append(p.sim_s, p.ttft_p99_s * 1e3);
  }
  double max_ttft = 1;
  for (const QPointF& p : live_ttft_->points()) max_ttft = std::max(max_ttft, p.y());
  for (const QPointF& p : live_power_->points()) max_power = std::max(max_power, p.y());
  for (const QPointF& p : live_queue_->points()) max_queue = std::max(max_queue, p.y());
  const Progress& last = batch.back();
  end = std::max(last.duration_s, 1e-9);
  const auto axes = live_view_->chart()->axes();
  if (axes.size() >= 3) {
    axes[0]->setRange(0, end);
    axes[1]->setRange(0, max_power * 1.1);
    axes[2]->setRange(0, max_queue * 1.1);
  }
  const auto latency_axes = live_latency_view_->chart()->axes();
  if (latency_axes.size() >= 2) {
    latency_axes[0]->setRange(0, end);
    latency_axes[1]->setRange(0, max_ttft * 1.1);
  }
  progress_->setValue(static_cast<int>(last.fraction * 1000));
  progress_label_->setText(tr("simulated %1 of %2 s; ETA %3 s; %4 requests finished, %5 in flight; %6 kW")
                               .arg(last.sim_s, 0, 'f', 0)
                               .arg(last.duration_s, 0, 'f', 0)
                               .arg(last.eta_s, 0, 'f', 1)
                               .arg(last.finished)
                               .arg(last.in_flight)
                               .arg(last.facility_power_w / 1e3, 0, 'f', 1));
}

void MainWindow::on_run_finished(bool ok, const QString& message) {
  poll_progress();
  progress_timer_.stop();
  run_button_->setEnabled(true);
  stop_button_->setEnabled(false);
  progress_label_->setText(message + (runner_->fingerprint().isEmpty() ? QString() : "\nfingerprint " + runner_->fingerprint()));
  // Whatever the run reported writing (complete or partial) is opened, even when the process failed afterwards.
  if (runner_->reported_results()) {
    if (ok && !runner_->partial()) progress_->setValue(1000);
    if (open_results(runner_->results_path())) tabs_->setCurrentIndex(0);
  }
  if (!ok) show_error(tr("Run failed"), message);
  emit run_finished(ok, message);
}

QString MainWindow::pick_chart() {
  const QStringList titles = charts_->chart_titles();
  if (titles.isEmpty()) return {};
  bool ok = false;
  const QString t = QInputDialog::getItem(this, tr("Export chart"), tr("Chart:"), titles, 0, false, &ok);
  return ok ? t : QString();
}

void MainWindow::export_chart() {
  const QString title = pick_chart();
  QChartView* view = charts_->view(title);
  if (!view) return;
  const QString path = QFileDialog::getSaveFileName(this, tr("Export chart"), title + ".png", tr("PNG (*.png);;SVG (*.svg)"));
  if (path.isEmpty()) return;
  if (path.endsWith(".svg", Qt::CaseInsensitive)) {
    QSvgGenerator svg;
    svg.setFileName(path);
    svg.setSize(view->size());
    svg.setViewBox(view->rect());
    svg.setTitle(title);
    QPainter painter(&svg);
    view->render(&painter);
  } else if (!view->grab().save(path)) {
    show_error(tr("Export failed"), tr("cannot write %1").arg(path));
  }
}

void MainWindow::export_csv() {
  if (!run_) return;
  const QString path = QFileDialog::getSaveFileName(this, tr("Export series"), "series.csv", tr("CSV (*.csv)"));
  if (path.isEmpty()) return;
  QSaveFile f(path);
  if (!f.open(QIODevice::WriteOnly) || f.write(QByteArray::fromStdString(series_csv(*run_))) < 0 || !f.commit())
    show_error(tr("Export failed"), tr("cannot write %1").arg(path));
}

void MainWindow::save_scenario() {
  if (form_->path().isEmpty()) return;
  const QString path = QFileDialog::getSaveFileName(this, tr("Save scenario"), form_->path(), tr("Scenarios (*.yaml)"));
  if (path.isEmpty()) return;
  QString why;
  if (!form_->save(path, &why)) show_error(tr("Cannot save"), why);
  else statusBar()->showMessage(why.isEmpty() ? tr("saved %1").arg(path) : path + ": " + why, 8000);
}

void MainWindow::add_recent(const QString& path) {
  QSettings settings;
  QStringList recent = settings.value("recent").toStringList();
  recent.removeAll(QFileInfo(path).absoluteFilePath());
  recent.prepend(QFileInfo(path).absoluteFilePath());
  while (recent.size() > MAX_RECENT) recent.removeLast();
  settings.setValue("recent", recent);
  rebuild_recent_menu();
}

void MainWindow::rebuild_recent_menu() {
  if (!recent_menu_) return;
  recent_menu_->clear();
  for (const QString& path : QSettings().value("recent").toStringList()) {
    recent_menu_->addAction(QFileInfo(path).fileName(), this, [this, path] {
      path.endsWith(".h5") ? open_results(path) : open_scenario(path);
    })->setToolTip(path);
  }
  recent_menu_->setEnabled(!recent_menu_->isEmpty());
}

QStringList MainWindow::save_screenshots(const QString& dir) {
  QDir().mkpath(dir);
  QStringList written;
  // The cursor a minute after the run's first failure, if it has one: the views show the incident.
  if (run_)
    for (const analysis::EventMarker& m : analysis::event_markers(run_->events, run_->end_s()))
      if (m.lane == analysis::EventLane::FAILURES) {
        set_cursor(m.time_s + 60);
        break;
      }
  for (int i = 0; i < tabs_->count(); ++i) {
    tabs_->setCurrentIndex(i);
    QApplication::processEvents();
    const QString name = dir + "/gui-" + tabs_->tabText(i).toLower() + ".png";
    if (grab().save(name)) written << name;
  }
  tabs_->setCurrentIndex(0);
  return written;
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (runner_->is_running()) runner_->stop();
  QSettings settings;
  settings.setValue("window/geometry", saveGeometry());
  settings.setValue("window/state", saveState());
  event->accept();
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
  if (event->mimeData()->hasUrls()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
  for (const QUrl& url : event->mimeData()->urls()) {
    const QString path = url.toLocalFile();
    if (path.endsWith(".yaml") || path.endsWith(".yml")) open_scenario(path);
    else open_results(path);
  }
}

}  // namespace aif::gui
