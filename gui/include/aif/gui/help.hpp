// The Help menu's content: a guided tour of the example scenarios (what each shows and where to look in the window),
// and the glossary of every metric (the one the HTML report and docs/glossary.md use, aif/analysis/glossary.hpp).
#pragma once
#include <QDialog>
#include <QList>
#include <QString>
#include <functional>

namespace aif::gui {

struct TourStop {
  QString scenario;  // relative to scenarios/
  QString shows;     // what the scenario is about
  QString look;      // where to look after running it
};
const QList<TourStop>& guided_tour();

// A dialog listing the tour; "Open" on a stop calls open(absolute scenario path).
QDialog* make_tour_dialog(QWidget* parent, const QString& scenarios_dir, const std::function<void(const QString&)>& open);
// A dialog with the glossary as a filterable table (name, unit, meaning).
QDialog* make_glossary_dialog(QWidget* parent);

}  // namespace aif::gui
