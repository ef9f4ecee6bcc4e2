#include "aif/gui/run_controller.hpp"

#include <QCoreApplication>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStandardPaths>
#include <cmath>

namespace aif::gui {

RunController::RunController(QString aifsim_path, QObject* parent) : QObject(parent), aifsim_(std::move(aifsim_path)) {
  process_.setProcessChannelMode(QProcess::SeparateChannels);
  connect(&process_, &QProcess::readyReadStandardOutput, this, &RunController::read_output);
  connect(&process_, &QProcess::finished, this, [this](int code, QProcess::ExitStatus status) {
    read_output();
    const QString err = QString::fromUtf8(process_.readAllStandardError()).trimmed();
    const bool ok = status == QProcess::NormalExit && code == 0;
    if (!ok) {
      // A crash reports no exit code (QProcess gives 0 or the signal's number): say so rather than "status 0".
      const QString how = status == QProcess::CrashExit ? tr("aifsim crashed") : tr("aifsim exited with status %1").arg(code);
      error_ = err.isEmpty() ? how : how + ": " + err;
      if (reported_results_) error_ += "\n" + tr("It had written its results first: %1").arg(results_);
    }
    emit finished(ok, ok ? (partial_ ? tr("stopped: partial results in %1").arg(results_)
                                     : tr("finished: %1").arg(results_))
                         : error_);
  });
  connect(&process_, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
    if (e == QProcess::FailedToStart) {
      error_ = tr("cannot start %1").arg(aifsim_);
      emit finished(false, error_);
    }
  });
}

RunController::~RunController() {
  if (is_running()) {
    process_.kill();
    process_.waitForFinished(2000);
  }
}

QString RunController::default_aifsim_path() {
  const QString env = qEnvironmentVariable("AIFSIM");
  if (!env.isEmpty()) return env;
  const QString sibling = QCoreApplication::applicationDirPath() + "/../sim/aifsim";
  if (QFileInfo(sibling).isExecutable()) return QFileInfo(sibling).canonicalFilePath();
  const QString in_path = QStandardPaths::findExecutable("aifsim");
  return in_path.isEmpty() ? QStringLiteral("aifsim") : in_path;
}

bool RunController::start(const QString& scenario, const QStringList& overrides, const QString& output) {
  if (is_running()) {
    error_ = tr("a run is already in progress");
    return false;
  }
  buffer_.clear();
  pending_.clear();
  latest_ = Progress{};
  fingerprint_.clear();
  results_ = output;
  error_.clear();
  partial_ = false;
  reported_results_ = false;
  QStringList args{"run", scenario, "-o", output, "--progress-json", "--partial-on-stop", "--no-progress"};
  for (const QString& o : overrides) args << "--set" << o;
  process_.start(aifsim_, args);
  return true;
}

void RunController::stop() {
  if (is_running()) process_.terminate();  // SIGTERM: aifsim stops at its next slice and writes partial results
}

QVector<Progress> RunController::take_progress() {
  QVector<Progress> out;
  out.swap(pending_);
  return out;
}

void RunController::read_output() {
  buffer_ += process_.readAllStandardOutput();
  for (int nl = buffer_.indexOf('\n'); nl >= 0; nl = buffer_.indexOf('\n')) {
    parse_line(buffer_.left(nl));
    buffer_.remove(0, nl + 1);
  }
}

void RunController::parse_line(const QByteArray& line) {
  const QJsonDocument doc = QJsonDocument::fromJson(line);
  if (!doc.isObject()) return;  // not a progress line (SimGrid warnings go to stderr anyway)
  const QJsonObject o = doc.object();
  if (o.value("done").toBool()) {
    fingerprint_ = o.value("fingerprint").toString();
    results_ = o.value("results").toString(results_);
    partial_ = o.value("partial").toBool();
    reported_results_ = o.value("results").isString() && !results_.isEmpty();
    return;
  }
  Progress p;
  p.sim_s = o.value("sim_s").toDouble();
  p.duration_s = o.value("duration_s").toDouble();
  p.fraction = o.value("fraction").toDouble();
  p.wall_s = o.value("wall_s").toDouble();
  p.eta_s = o.value("eta_s").toDouble();
  p.facility_power_w = o.value("facility_power_w").toDouble();
  p.ttft_p50_s = o.value("ttft_p50_s").isDouble() ? o.value("ttft_p50_s").toDouble() : std::nan("");
  p.ttft_p99_s = o.value("ttft_p99_s").isDouble() ? o.value("ttft_p99_s").toDouble() : std::nan("");
  p.arrived = static_cast<long long>(o.value("arrived").toDouble());
  p.finished = static_cast<long long>(o.value("finished").toDouble());
  p.in_flight = static_cast<long long>(o.value("in_flight").toDouble());
  p.busy_gpus = o.value("busy_gpus").toInt();
  p.running = o.value("running").toInt();
  p.waiting = o.value("waiting").toInt();
  latest_ = p;
  pending_.push_back(p);
}

}  // namespace aif::gui
