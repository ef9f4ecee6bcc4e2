// aifsim-gui under QtTest, offscreen: what a results file puts in the views (checked against aif::analysis reading
// the same file), the error path of bad files, the form's checks, and runs launched from the GUI (the same
// fingerprint as the CLI; Stop keeps partial results).
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QSignalSpy>
#include <QImage>
#include <QPainter>
#include <QSvgRenderer>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QRegularExpression>
#include <QLogValueAxis>
#include <QtTest>
#include <cmath>
#include <yaml-cpp/yaml.h>

#include "aif/analysis/glossary.hpp"
#include "aif/analysis/results.hpp"
#include "aif/gui/charts_panel.hpp"
#include "aif/gui/compare_view.hpp"
#include "aif/gui/help.hpp"
#include "aif/gui/main_window.hpp"
#include "aif/gui/run_controller.hpp"
#include "aif/gui/scenario_form.hpp"
#include "aif/gui/tables.hpp"
#include "aif/gui/timeline_strip.hpp"
#include "aif/gui/topology_view.hpp"

using aif::gui::MainWindow;

namespace {

QString source(const QString& rel) { return QStringLiteral(AIF_SOURCE_DIR) + "/" + rel; }
QString aifsim() { return qEnvironmentVariable("AIFSIM", QStringLiteral(AIF_BINARY_DIR) + "/sim/aifsim"); }

// Runs `aifsim args`, returning its exit code (stdout in *out).
int run_cli(const QStringList& args, QString* out = nullptr) {
  QProcess p;
  p.start(aifsim(), args);
  p.waitForFinished(300000);
  if (out) *out = QString::fromUtf8(p.readAllStandardOutput() + p.readAllStandardError());
  return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
}

}  // namespace

class GuiTest : public QObject {
  Q_OBJECT
 private:
  QTemporaryDir dir_;
  QString battery_h5_, failover_h5_;

 private slots:
  void initTestCase() {
    QVERIFY(dir_.isValid());
    battery_h5_ = dir_.filePath("battery.h5");
    failover_h5_ = dir_.filePath("failover.h5");
    QCOMPARE(run_cli({"run", source("tests/data/scenarios/power_capping_battery.yaml"), "-q", "-o", battery_h5_}), 0);
    QCOMPARE(run_cli({"run", source("tests/data/scenarios/reliability_failover.yaml"), "-q", "-o", failover_h5_}), 0);
  }

  // Every chart line holds the file's samples (fewer than MAX_POINTS here: no reduction).
  void loadingAResultsFileFillsTheCharts() {
    MainWindow w;
    w.set_dialogs_enabled(false);
    QVERIFY(w.open_results(battery_h5_));
    const aif::analysis::ResultsReader reader(battery_h5_.toStdString());
    auto finite = [&](const std::string& name) {
      int n = 0;
      for (double v : reader.series_values(name)) n += !std::isnan(v);
      return n;
    };
    const int samples = finite("facility_power");
    QVERIFY(samples > 10 && samples < aif::gui::ChartsPanel::MAX_POINTS);
    QCOMPARE(w.charts()->point_count("Facility and grid power", "facility"), samples);
    QCOMPARE(w.charts()->point_count("Facility and grid power", "grid draw"), finite("grid_draw"));
    QCOMPARE(w.charts()->point_count("Facility and grid power", "grid limit"), finite("grid_limit"));
    QCOMPARE(w.charts()->point_count("Battery state of charge", "state of charge"), finite("battery_soc"));
    QCOMPARE(w.charts()->point_count("Busy GPUs", "busy GPUs"), finite("busy_gpus"));
    QCOMPARE(w.charts()->point_count("Requests in the system", "waiting"), finite("waiting_requests"));
    // Latency windows: one point per window with finished requests (arrivals run through all 60 windows of the
    // 10 min run); CDF: 1,000 quantiles of the finished requests' TTFT.
    const auto finished = *reader.summary_value("finished");
    QVERIFY(finished > 100000);
    QCOMPARE(w.charts()->point_count("Latency percentiles over time", "TTFT p99"), aif::gui::RunData::LATENCY_WINDOWS);
    QCOMPARE(w.charts()->point_count("Latency CDF", "TTFT"),
             static_cast<int>(std::min<double>(finished, aif::gui::RunData::CDF_POINTS)));
    QCOMPARE(w.summary_model()->rowCount(), static_cast<int>(reader.summary().size()));
    // Every summary row says what it means (the glossary), with its value as the table shows it.
    for (int row = 0; row < w.summary_model()->rowCount(); ++row) {
      const QString meaning = w.summary_model()->data(w.summary_model()->index(row, 3), Qt::DisplayRole).toString();
      QVERIFY2(!meaning.isEmpty() && meaning != "(not in the glossary)",
               qPrintable(w.summary_model()->data(w.summary_model()->index(row, 0), Qt::DisplayRole).toString()));
    }
    // One time unit on every time axis: the 10 min run reads in minutes.
    QCOMPARE(w.charts()->time_unit(), QString("min"));
  }

  // The incident of reliability_failover.yaml (rack 0 down from 60 s to 180 s) is marked on every time chart, and the
  // latency chart is on a log axis; zooming to the incident narrows the latency windows to the span shown.
  void eventsAreMarkedOnEveryTimeChartAndZoomNarrowsTheWindows() {
    MainWindow w;
    w.set_dialogs_enabled(false);
    QVERIFY(w.open_results(failover_h5_));
    const YAML::Node sc = YAML::LoadFile(source("tests/data/scenarios/reliability_failover.yaml").toStdString());
    const YAML::Node incident = sc["failures"]["incidents"][0];
    QCOMPARE(QString::fromStdString(incident["at"].as<std::string>()), QString("60s"));
    QCOMPARE(QString::fromStdString(incident["duration"].as<std::string>()), QString("2min"));
    int time_charts = 0;
    for (const QString& title : w.charts()->chart_titles()) {
      const QList<double> marks = w.charts()->marker_times(title);
      if (title == "Latency CDF") {
        QVERIFY(marks.isEmpty());
        continue;
      }
      ++time_charts;
      QVERIFY2(marks.contains(60.0) && marks.contains(180.0), qPrintable(title));
    }
    QVERIFY(time_charts >= 3);
    bool log_axis = false;
    for (QAbstractAxis* a : w.charts()->view(aif::gui::ChartsPanel::LATENCY_CHART)->chart()->axes(Qt::Vertical))
      log_axis |= a->type() == QAbstractAxis::AxisTypeLogValue;
    QVERIFY(log_axis);
    w.charts()->zoom_to(60, 180);
    QCOMPARE(w.charts()->latency_window_s(), (180.0 - 60.0) / aif::gui::RunData::LATENCY_WINDOWS);
    w.charts()->zoom_to(0, 0);  // the whole run again: 60 windows over [0, end]
    QVERIFY(w.charts()->latency_window_s() > 2.0);
  }

  // Before a run, the topology is the scenario's own (aifsim topo): switch and storage counts as `aifsim topo` prints
  // them, servers by service and the spare rack as the scenario places them.
  void theTopologyBeforeARunIsTheScenarios() {
    MainWindow w;
    w.set_dialogs_enabled(false);
    const QString scenario = source("scenarios/reliability/rack_failure_peak.yaml");
    QVERIFY(w.open_scenario(scenario));
    const auto& t = w.topology()->topology();
    QVERIFY(t.has_value());
    QString text;
    QCOMPARE(run_cli({"topo", scenario}, &text), 0);
    // "switches          LEAF 9, SPINE 4" and "storage nodes     4": the text report, another path through the CLI.
    const QRegularExpression switches_re(R"(switches\s+(.*)\n)"), storage_re(R"(storage nodes\s+(\d+))");
    for (const QString& part : switches_re.match(text).captured(1).split(", ")) {
      const QStringList role_count = part.split(' ');
      QCOMPARE(t->switches.at(role_count[0].toStdString()), role_count[1].toInt());
    }
    QCOMPARE(t->storage_nodes, storage_re.match(text).captured(1).toInt());
    const YAML::Node sc = YAML::LoadFile(scenario.toStdString());
    QCOMPARE(t->racks, sc["facility"]["racks"].as<int>());
    QCOMPARE(t->spare_servers, sc["failures"]["spare_servers"].as<int>());
    QCOMPARE(t->count_servers(-2), t->spare_servers);
    // One server per replica of the chat service (tp 8 on 8-GPU servers).
    QCOMPARE(sc["services"][0]["tp"].as<int>(), sc["facility"]["gpus_per_server"].as<int>());
    QCOMPARE(t->count_servers(0), sc["services"][0]["replicas"].as<int>());
    // Replicas packed in order, one per server: server k holds chat/k; the spares (the last 4 servers) none.
    QCOMPARE(t->label[0], QString("chat/0"));
    QCOMPARE(t->label[31], QString("chat/31"));
    QVERIFY(t->label[35].isEmpty());
    w.topology()->resize(900, 500);
    w.topology()->grab();  // paints it: the legend names what the colours stand for
    QVERIFY2(w.topology()->legend_text().contains("chat"), qPrintable(w.topology()->legend_text()));
  }

  // The HTML report as a renderer draws it (Qt's SVG renderer, no browser needed): every chart puts coloured pixels on
  // its plot, so no chart of the report is empty.
  void everyChartOfTheReportRendersItsData() {
    const QString page = dir_.filePath("failover.html");
    QCOMPARE(run_cli({"report", failover_h5_, "-o", page}), 0);
    QFile f(page);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QString html = QString::fromUtf8(f.readAll());
    int charts = 0;
    for (qsizetype at = html.indexOf("<svg"); at >= 0; at = html.indexOf("<svg", at + 1)) {
      const qsizetype end = html.indexOf("</svg>", at) + 6;
      QSvgRenderer svg(html.mid(at, end - at).toUtf8());
      QVERIFY(svg.isValid());
      QImage image(svg.defaultSize(), QImage::Format_ARGB32);
      image.fill(Qt::white);
      QPainter painter(&image);
      svg.render(&painter);
      painter.end();
      // Series are drawn in the palette's saturated colours; axes, grid and text are grey or black.
      int coloured = 0;
      for (int y = 0; y < image.height(); ++y)
        for (int x = 0; x < image.width(); ++x) coloured += image.pixelColor(x, y).hsvSaturation() > 80;
      const qsizetype title = html.indexOf("<title>", at);
      QVERIFY2(coloured > 100, qPrintable(html.mid(title, html.indexOf("</title>", title) - title)));
      ++charts;
    }
    QVERIFY(charts >= 8);  // power, 3 latency, 3 CDFs, requests, busy GPUs, events
  }

  // The form and the results say where they come from, and the window warns when they differ.
  void theWindowSaysWhereTheFormAndTheResultsComeFrom() {
    MainWindow w;
    w.set_dialogs_enabled(false);
    QVERIFY(w.open_results(battery_h5_));
    QVERIFY(w.source_mismatch().isEmpty());  // no scenario in the form yet
    QVERIFY(w.open_scenario(source("scenarios/examples/poisson.yaml")));
    QVERIFY2(w.source_mismatch().contains("poisson.yaml") && w.source_mismatch().contains("power_capping_battery.yaml"),
             qPrintable(w.source_mismatch()));
    QVERIFY(w.source_text().contains(w.source_mismatch()));
    QVERIFY(w.open_scenario(source("tests/data/scenarios/power_capping_battery.yaml")));
    QVERIFY(w.source_mismatch().isEmpty());
  }

  // Help: the tour's scenarios exist; the glossary dialog lists every entry; form fields carry the schema's help and
  // default, and the scenario's own words.
  void helpExplainsTheExamplesTheMetricsAndTheFields() {
    for (const aif::gui::TourStop& stop : aif::gui::guided_tour())
      QVERIFY2(QFile::exists(source("scenarios/" + stop.scenario)), qPrintable(stop.scenario));
    std::unique_ptr<QDialog> glossary(aif::gui::make_glossary_dialog(nullptr));
    auto* table = glossary->findChild<QTableWidget*>("glossary");
    QVERIFY(table);
    QCOMPARE(table->rowCount(), static_cast<int>(aif::analysis::glossary().size()));
    aif::gui::ScenarioForm form(source("scenarios/scenario.schema.json"), aifsim());
    QString error;
    QVERIFY(form.load(source("scenarios/default.yaml"), &error));
    QVERIFY2(form.help("services[0].replicas").contains("Copies of the model"), qPrintable(form.help("services[0].replicas")));
    QCOMPARE(form.placeholder("simulation.duration"), QString("default: 1h"));
    QCOMPARE(form.placeholder("facility.racks"), QString("default: 2"));
    QVERIFY(form.help("simulation.duration").contains("Simulated time"));
    QVERIFY2(!form.about().isEmpty(), "default.yaml opens with a comment block");
  }

  // Series as CSV: a header with each series and its unit, then one row per sample with the file's values.
  void seriesExportAsCsv() {
    std::string error;
    const auto run = aif::gui::load_run(battery_h5_.toStdString(), &error);
    QVERIFY2(run.has_value(), error.c_str());
    const QString csv = QString::fromStdString(aif::gui::series_csv(*run));
    const QStringList lines = csv.split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), static_cast<int>(run->time_s.size()) + 1);
    const QStringList header = lines[0].split(',');
    QCOMPARE(header.size(), static_cast<int>(run->series.size()) + 1);
    const int column = static_cast<int>(header.indexOf("facility_power [W]"));
    QVERIFY(column > 0);
    const aif::analysis::ResultsReader reader(battery_h5_.toStdString());
    const std::vector<double> power = reader.series_values("facility_power");
    for (int row : {1, 5, static_cast<int>(power.size())}) {
      const double written = lines[row].split(',')[column].toDouble();
      QVERIFY(std::abs(written - power[size_t(row - 1)]) <= 1e-9 * std::abs(power[size_t(row - 1)]));
    }
  }

  void downsamplingKeepsExtremes() {
    std::vector<double> x(100000), y(100000);
    for (size_t i = 0; i < x.size(); ++i) x[i] = double(i), y[i] = std::sin(i * 0.001);
    y[54321] = 7;  // a spike must survive
    QList<QPointF> out;
    aif::gui::downsample(x, y, 4000, &out);
    QVERIFY(out.size() <= 4000);
    bool spike = false;
    for (const QPointF& p : out) spike |= p.y() == 7;
    QVERIFY(spike);
  }

  void theTimelineListsTheEventsAndMovesTheCursor() {
    MainWindow w;
    w.set_dialogs_enabled(false);
    QVERIFY(w.open_results(failover_h5_));
    const aif::analysis::ResultsReader reader(failover_h5_.toStdString());
    QCOMPARE(static_cast<size_t>(w.events_model()->rowCount()), reader.event_count());
    // The strip draws every event once, in its lane: the incident's start among failures, its end among repairs.
    using Strip = aif::gui::TimelineStrip;
    int drawn = 0;
    for (int l = 0; l < Strip::LANES; ++l) drawn += w.timeline()->ticks(static_cast<Strip::Lane>(l));
    QCOMPARE(static_cast<size_t>(drawn), reader.event_count());
    int starts = 0, ends = 0;
    for (const auto& e : reader.events()) starts += e.kind == "incident_start", ends += e.kind == "incident_end";
    QVERIFY(starts == 1 && ends == 1);
    QCOMPARE(Strip::lane_of("incident_start"), Strip::FAILURES);
    QCOMPARE(Strip::lane_of("incident_end"), Strip::REPAIRS);
    QCOMPARE(Strip::lane_of("power_cap"), Strip::POWER);
    // A click in the strip moves the shared cursor.
    w.resize(1366, 768);
    w.timeline()->resize(1000, w.timeline()->height());
    QSignalSpy moved(w.timeline(), &Strip::cursor_moved);
    QTest::mouseClick(w.timeline(), Qt::LeftButton, {}, QPoint(90 + (1000 - 90 - 8) / 2, 10));
    QCOMPARE(moved.count(), 1);
    QVERIFY(std::abs(moved.first().at(0).toDouble() - w.run()->end_s() / 2) < w.run()->end_s() / 100);
    // The incident takes rack 0 down from 60 s to 180 s: the topology shows it at 100 s, not at 30 s or 200 s.
    w.set_cursor(30);
    QVERIFY(!w.topology()->rack_down(0));
    w.set_cursor(100);
    QVERIFY(w.topology()->rack_down(0));
    QCOMPARE(w.topology()->down_servers(), w.run()->servers_per_rack);  // the rack's servers
    w.set_cursor(200);
    QVERIFY(!w.topology()->rack_down(0));
    // The timeline row at the cursor is the last event at or before it.
    const int row = w.events_model()->row_at(100);
    QVERIFY(row >= 0);
    QVERIFY(w.events_model()->events()[size_t(row)].time_s <= 100);
  }

  void aDamagedOrForeignFileGivesAnErrorNotACrash() {
    MainWindow w;
    w.set_dialogs_enabled(false);
    const QString garbage = dir_.filePath("garbage.h5");
    QFile f(garbage);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write("this is not HDF5");
    f.close();
    QString error;
    QVERIFY(!w.open_results(garbage, &error));
    QVERIFY2(error.contains(garbage), qPrintable(error));
    QVERIFY(!w.open_results(dir_.filePath("missing.h5"), &error));
    QVERIFY2(error.contains("missing.h5"), qPrintable(error));
    // A truncated results file (the first 4 KiB of a real one).
    QFile real(battery_h5_);
    QVERIFY(real.open(QIODevice::ReadOnly));
    QFile cut(dir_.filePath("cut.h5"));
    QVERIFY(cut.open(QIODevice::WriteOnly));
    cut.write(real.read(4096));
    cut.close();
    QVERIFY(!w.open_results(cut.fileName(), &error));
    QVERIFY(w.run() == nullptr);  // nothing half-loaded
  }

  void theFormChecksAsTypedAndWithTheScenarioRules() {
    aif::gui::ScenarioForm form(source("scenarios/scenario.schema.json"), aifsim());
    QVERIFY(form.schema_loaded());
    QString error;
    QVERIFY(form.load(source("scenarios/examples/poisson.yaml"), &error));
    QVERIFY(form.keys().contains("services[0].replicas"));
    QVERIFY(form.keys().contains("workloads[0].arrival.rate"));
    form.set_value("workloads[0].arrival.rate", "fast");  // the schema's pattern for a rate
    QVERIFY(!form.field_error("workloads[0].arrival.rate").isEmpty());
    form.set_value("workloads[0].arrival.rate", "7/s");
    QVERIFY(form.field_error("workloads[0].arrival.rate").isEmpty());
    form.set_value("services[0].replicas", "0");  // schema minimum 1
    QVERIFY(form.field_error("services[0].replicas").contains("at least 1"));
    // Valid for the schema, not for this facility (8 GPUs): the scenario's own message, beside the field.
    QSignalSpy spy(&form, &aif::gui::ScenarioForm::validated);
    form.set_value("services[0].replicas", "9");
    QVERIFY(spy.wait(20000));
    QCOMPARE(spy.last().at(0).toBool(), false);
    QVERIFY2(form.field_error("services[0].replicas").contains("GPUs"), qPrintable(form.field_error("services[0].replicas")));
    // Saved with the edits; the saved file is a valid scenario.
    form.set_value("services[0].replicas", "4");
    const QString saved = dir_.filePath("edited.yaml");
    QVERIFY(form.save(saved, &error));
    const YAML::Node root = YAML::LoadFile(saved.toStdString());
    QCOMPARE(root["services"][0]["replicas"].as<int>(), 4);
    QCOMPARE(QString::fromStdString(root["workloads"][0]["arrival"]["rate"].as<std::string>()), QString("7/s"));
    QCOMPARE(run_cli({"validate", saved}), 0);
    // Values the file had are edited in place: the file is the original but for those two values, comments kept.
    QFile original(source("scenarios/examples/poisson.yaml")), edited(saved);
    QVERIFY(original.open(QIODevice::ReadOnly) && edited.open(QIODevice::ReadOnly));
    QString expected = QString::fromUtf8(original.readAll());
    expected.replace("    replicas: 2\n", "    replicas: 4\n").replace("      rate: 5/s\n", "      rate: 7/s\n");
    QCOMPARE(QString::fromUtf8(edited.readAll()), expected);
  }

  // Launched from the GUI on a tiny scenario, with an edit: the same fingerprint as the CLI with that --set.
  void aRunFromTheGuiMatchesTheCli() {
    MainWindow w;
    w.set_dialogs_enabled(false);
    QVERIFY(w.open_scenario(source("scenarios/examples/poisson.yaml")));
    w.form()->set_value("simulation.duration", "90s");
    QSignalSpy done(&w, &MainWindow::run_finished);
    QVERIFY(w.start_run(dir_.filePath("gui_run.h5")));
    QVERIFY(done.wait(120000));
    QCOMPARE(done.last().at(0).toBool(), true);
    QVERIFY(!w.runner()->partial());
    QVERIFY(w.run() != nullptr);
    // The last progress line: the whole run, and the TTFT of the requests that finished in its slice.
    QCOMPARE(w.runner()->latest().fraction, 1.0);
    QCOMPARE(w.runner()->latest().sim_s, 90.0);
    QVERIFY(std::isfinite(w.runner()->latest().ttft_p99_s) && w.runner()->latest().ttft_p99_s > 0);
    const QString cli = dir_.filePath("cli_run.h5");
    QCOMPARE(run_cli({"run", source("scenarios/examples/poisson.yaml"), "--set", "simulation.duration=90s", "-q", "-o", cli}), 0);
    const aif::analysis::ResultsReader a(dir_.filePath("gui_run.h5").toStdString()), b(cli.toStdString());
    QCOMPARE(QString::fromStdString(a.meta().at("fingerprint")), QString::fromStdString(b.meta().at("fingerprint")));
    QCOMPARE(w.runner()->fingerprint(), QString::fromStdString(b.meta().at("fingerprint")));
  }

  // Stop during a long run: the child stops at its next slice and the file it leaves is marked partial.
  void stopLeavesAPartialFileMarkedPartial() {
    MainWindow w;
    w.set_dialogs_enabled(false);
    QVERIFY(w.open_scenario(source("scenarios/reliability/llama3-scale.yaml")));
    QSignalSpy done(&w, &MainWindow::run_finished);
    const QString out = dir_.filePath("stopped.h5");
    QVERIFY(w.start_run(out));
    QTRY_VERIFY_WITH_TIMEOUT(w.runner()->latest().fraction > 0, 60000);  // it is running
    w.stop_run();
    QVERIFY(done.wait(60000));
    QCOMPARE(done.last().at(0).toBool(), true);
    QVERIFY(w.runner()->partial());
    QVERIFY(w.run() && w.run()->partial);
    QVERIFY(w.source_text().contains("PARTIAL"));
    bool labelled = false;
    for (int i = 0; i < w.tabs()->count(); ++i) labelled |= w.tabs()->tabText(i) == "Summary (partial)";
    QVERIFY(labelled);
    const aif::analysis::ResultsReader r(out.toStdString());
    QCOMPARE(QString::fromStdString(r.meta().at("partial")), QString("1"));
    QVERIFY(std::stod(r.meta().at("partial_end_s")) < 54 * 86400.0);
  }

  // A child that reports its results and then fails (a stand-in for aifsim: the final line, then SIGSEGV, as every
  // stopped run did before the engine was torn down in order): the window still opens the file it reported, marked
  // partial, and reports the failure.
  void resultsTheRunReportedAreOpenedEvenWhenItThenFails() {
    const QString script = dir_.filePath("reports_then_crashes.sh");
    QFile f(script);
    QVERIFY(f.open(QIODevice::WriteOnly));
    const QString line = QStringLiteral(R"({"done":true,"partial":true,"simulated_s":1,"fingerprint":"0","results":"%1"})")
                             .arg(failover_h5_);
    f.write(("#!/bin/sh\necho '" + line + "'\nkill -SEGV $$\n").toUtf8());
    f.close();
    QVERIFY(f.setPermissions(f.permissions() | QFileDevice::ExeOwner));
    const QByteArray saved = qgetenv("AIFSIM");
    qputenv("AIFSIM", script.toUtf8());
    MainWindow w;
    if (saved.isEmpty()) qunsetenv("AIFSIM"); else qputenv("AIFSIM", saved);
    w.set_dialogs_enabled(false);
    QVERIFY(w.open_scenario(source("scenarios/examples/poisson.yaml")));
    QSignalSpy done(&w, &MainWindow::run_finished);
    QVERIFY(w.start_run(dir_.filePath("never_written.h5")));
    QVERIFY(done.wait(30000));
    QCOMPARE(done.last().at(0).toBool(), false);
    QVERIFY(done.last().at(1).toString().contains(failover_h5_));
    QVERIFY(w.runner()->reported_results() && w.runner()->partial());
    QCOMPARE(w.runner()->results_path(), failover_h5_);
    QVERIFY(w.run() != nullptr);
    const aif::analysis::ResultsReader r(failover_h5_.toStdString());
    QCOMPARE(w.run()->summary.size(), r.summary().size());
  }

  void compareShowsTheDifferenceFromTheFirstRun() {
    MainWindow w;
    w.set_dialogs_enabled(false);
    const QString a = dir_.filePath("cmp_a.h5"), b = dir_.filePath("cmp_b.h5");
    QCOMPARE(run_cli({"run", source("scenarios/examples/poisson.yaml"), "--set", "simulation.duration=60s", "-q", "-o", a}), 0);
    QCOMPARE(run_cli({"run", source("scenarios/examples/poisson.yaml"), "--set", "simulation.duration=60s", "--set",
                      "services[0].replicas=1", "-q", "-o", b}),
             0);
    QVERIFY(w.open_results(a));
    QVERIFY(w.add_to_compare(b));
    // One CDF line per run, for each latency; one overlaid line per run for the chosen series.
    for (const QString& metric : {QString("TTFT"), QString("TPOT"), QString("E2E")}) {
      w.compare()->show_cdf(metric);
      QCOMPARE(w.compare()->cdf_view()->chart()->series().size(), 2);
      QCOMPARE(w.compare()->cdf_view()->chart()->title(), metric + " CDF");
    }
    w.compare()->show_series("facility_power");
    QCOMPARE(w.compare()->series_view()->chart()->series().size(), 2);
    aif::gui::DifferenceModel* d = w.compare()->differences();
    const aif::analysis::ResultsReader ra(a.toStdString()), rb(b.toStdString());
    for (int row = 0; row < d->rowCount(); ++row) {
      if (d->data(d->index(row, 0), Qt::DisplayRole).toString() != "gpu_utilization") continue;
      const double expected = *rb.summary_value("gpu_utilization") - *ra.summary_value("gpu_utilization");
      QCOMPARE(d->data(d->index(row, 4), Qt::UserRole).toDouble(), expected);
      return;
    }
    QFAIL("no gpu_utilization row");
  }
};

QTEST_MAIN(GuiTest)
#include "gui_test.moc"
