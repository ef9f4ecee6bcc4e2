// Runs `aifsim run` as a child process (SimGrid allows one engine per process: never in the GUI process) and
// collects its --progress-json lines. Stop sends SIGTERM: with --partial-on-stop the run stops at its next slice and
// still writes its results, marked partial. Lives on the GUI thread (QProcess signals arrive there); the window reads
// what arrived from a timer, in batches.
#pragma once
#include <QObject>
#include <QProcess>
#include <QString>
#include <QStringList>
#include <QVector>

namespace aif::gui {

struct Progress {
  double sim_s = 0, duration_s = 0, fraction = 0, wall_s = 0, eta_s = 0, facility_power_w = 0;
  double ttft_p50_s = 0, ttft_p99_s = 0;  // of the requests finished in the slice (NaN when none did)
  long long arrived = 0, finished = 0, in_flight = 0;
  int busy_gpus = 0, running = 0, waiting = 0;
};

class RunController : public QObject {
  Q_OBJECT
 public:
  explicit RunController(QString aifsim_path, QObject* parent = nullptr);
  ~RunController() override;
  // $AIFSIM, else the aifsim of the same build tree (<build>/sim/aifsim next to <build>/gui/aifsim-gui), else PATH.
  static QString default_aifsim_path();

  // Starts a run; false (and error()) when one is already running or the program cannot start.
  bool start(const QString& scenario, const QStringList& overrides, const QString& output);
  void stop();
  bool is_running() const { return process_.state() != QProcess::NotRunning; }

  QVector<Progress> take_progress();   // lines parsed since the last call, oldest first
  const Progress& latest() const { return latest_; }
  // After finished(): what the final line said.
  const QString& fingerprint() const { return fingerprint_; }
  const QString& results_path() const { return results_; }
  bool partial() const { return partial_; }
  // Whether the run's final line reported a written results file (complete or partial): true even when the process
  // then exited with an error, so that what it wrote can still be opened.
  bool reported_results() const { return reported_results_; }
  const QString& error() const { return error_; }
  const QString& aifsim_path() const { return aifsim_; }

 signals:
  void finished(bool ok, const QString& message);

 private:
  void read_output();
  void parse_line(const QByteArray& line);

  QString aifsim_;
  QProcess process_;
  QByteArray buffer_;
  QVector<Progress> pending_;
  Progress latest_;
  QString fingerprint_, results_, error_;
  bool partial_ = false;
  bool reported_results_ = false;
};

}  // namespace aif::gui
