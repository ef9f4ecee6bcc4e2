// aifsim-gui: explore scenarios and results (docs/gui.md).
//   aifsim-gui [RESULTS.h5 | SCENARIO.yaml ...] [--screenshots DIR]
// --screenshots: open the files, save a PNG of each view at 1366x768 into DIR and exit (gui/screenshots.sh).
#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>
#include <cstdio>

#include "aif/gui/main_window.hpp"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setOrganizationName("aifsim");
  QApplication::setApplicationName("aifsim-gui");
  QApplication::setApplicationVersion(AIF_VERSION);
  QCommandLineParser parser;
  parser.setApplicationDescription("aifsim desktop GUI: scenarios, runs, results");
  parser.addHelpOption();
  parser.addVersionOption();
  QCommandLineOption screenshots("screenshots", "Save a PNG of each view into DIR and exit.", "DIR");
  parser.addOption(screenshots);
  parser.addPositionalArgument("files", "Results files (.h5) and/or a scenario (.yaml) to open.");
  parser.process(app);
  aif::gui::MainWindow window;
  const bool shots = parser.isSet(screenshots);
  window.set_dialogs_enabled(!shots);
  int status = 0;
  for (const QString& f : parser.positionalArguments()) {
    QString error;
    const bool ok = f.endsWith(".yaml") || f.endsWith(".yml") ? window.open_scenario(f, &error)
                                                              : window.open_results(f, &error);
    if (!ok && shots) {
      std::fprintf(stderr, "error: %s\n", error.toLocal8Bit().constData());
      status = 2;
    }
  }
  if (shots) {
    if (status != 0) return status;
    window.resize(1366, 768);
    window.show();
    window.set_cursor(window.run() ? window.run()->end_s() / 2 : 0);
    QApplication::processEvents();
    for (const QString& written : window.save_screenshots(parser.value(screenshots)))
      std::printf("wrote %s\n", written.toLocal8Bit().constData());
    return 0;
  }
  window.show();
  return app.exec();
}
