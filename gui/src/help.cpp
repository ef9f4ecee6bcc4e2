#include "aif/gui/help.hpp"

#include <QDialogButtonBox>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include "aif/analysis/glossary.hpp"

namespace aif::gui {

const QList<TourStop>& guided_tour() {
  static const QList<TourStop> stops = {
      {"examples/poisson.yaml", QObject::tr("The smallest case: one server, requests arriving at random (Poisson) with fixed lengths."),
       QObject::tr("Charts > Latency CDF: how TTFT spreads when arrivals are random. Double the load in the form "
                   "and run again: the tail moves first.")},
      {"default.yaml", QObject::tr("The reference site: 2 racks x 4 servers x 8 H100, a conversation trace on a 70B model "
                                   "and bursty traffic on an 8B model."),
       QObject::tr("Summary: throughput, TTFT / TPOT p99, SLO attainment, energy per output token (hover a row for "
                   "its meaning). Charts: facility power follows the load.")},
      {"examples/bursty_gamma.yaml", QObject::tr("Bursty arrivals (gamma, cv 4) on A100s."),
       QObject::tr("Charts > Requests in the system: queues build in each burst; the TTFT p99 line jumps with them. "
                   "Drag across a chart to zoom: the latency windows narrow with the view.")},
      {"examples/diurnal.yaml", QObject::tr("A day of load following a 24-point daily curve on H200s."),
       QObject::tr("Charts > Facility and grid power and Busy GPUs rise and fall with the day.")},
      {"examples/training.yaml", QObject::tr("Training and fine-tuning jobs beside a service, checkpoints to storage."),
       QObject::tr("Events: job_start and checkpoint; Charts > Busy GPUs holds the jobs' GPUs.")},
      {"reliability/rack_failure_peak.yaml", QObject::tr("A rack fails at a chat service's peak; replicas move to spares."),
       QObject::tr("The red dashed line on every time chart is the failure. Latency (log scale) spikes while replicas "
                   "load their weights; Topology (colour by failure state) at the marker shows the rack down; Events "
                   "lists the failure, replicas going down and coming back.")},
      {"energy/grid_cap_battery.yaml", QObject::tr("A 20 MW factory under a 15 MW grid cap, with a battery."),
       QObject::tr("Charts > Facility and grid power: grid draw stays under the dashed limit while the facility draws "
                   "more; Battery state of charge falls at the peaks. Summary: power.hours_capped, power.peak_grid_draw.")},
      {"energy/demand_response_day.yaml", QObject::tr("A day with a demand-response event: the site sheds load on request."),
       QObject::tr("Orange markers at the event's start and end; the grid limit (dashed) drops during it; Events shows "
                   "training paused and resumed.")},
  };
  return stops;
}

QDialog* make_tour_dialog(QWidget* parent, const QString& scenarios_dir, const std::function<void(const QString&)>& open) {
  auto* dialog = new QDialog(parent);
  dialog->setWindowTitle(QObject::tr("Guided tour of the examples"));
  dialog->resize(720, 520);
  auto* layout = new QVBoxLayout(dialog);
  layout->addWidget(new QLabel(QObject::tr("Open an example, press Run (F5), then look where the tour says. Each run "
                                           "takes from seconds to a minute."),
                               dialog));
  auto* list = new QListWidget(dialog);
  list->setWordWrap(true);
  for (const TourStop& stop : guided_tour()) {
    auto* item = new QListWidgetItem(stop.scenario + "\n" + stop.shows + "\n" + QObject::tr("Where to look: ") + stop.look);
    item->setData(Qt::UserRole, scenarios_dir + "/" + stop.scenario);
    if (!QFileInfo::exists(scenarios_dir + "/" + stop.scenario)) item->setFlags(Qt::NoItemFlags);
    list->addItem(item);
  }
  layout->addWidget(list, 1);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, dialog);
  QPushButton* open_button = buttons->addButton(QObject::tr("Open this example"), QDialogButtonBox::ActionRole);
  QObject::connect(open_button, &QPushButton::clicked, dialog, [list, open, dialog] {
    if (QListWidgetItem* item = list->currentItem()) {
      open(item->data(Qt::UserRole).toString());
      dialog->accept();
    }
  });
  QObject::connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::reject);
  layout->addWidget(buttons);
  return dialog;
}

QDialog* make_glossary_dialog(QWidget* parent) {
  auto* dialog = new QDialog(parent);
  dialog->setWindowTitle(QObject::tr("Glossary: what every number means"));
  dialog->resize(900, 600);
  auto* layout = new QVBoxLayout(dialog);
  auto* filter = new QLineEdit(dialog);
  filter->setPlaceholderText(QObject::tr("Filter (e.g. energy, ttft, grid)"));
  layout->addWidget(filter);
  const auto& entries = analysis::glossary();
  auto* table = new QTableWidget(static_cast<int>(entries.size()), 4, dialog);
  table->setObjectName("glossary");
  table->setHorizontalHeaderLabels({QObject::tr("name"), QObject::tr("unit"), QObject::tr("kind"), QObject::tr("meaning")});
  for (int i = 0; i < static_cast<int>(entries.size()); ++i) {
    const analysis::GlossaryEntry& e = entries[static_cast<size_t>(i)];
    table->setItem(i, 0, new QTableWidgetItem(QString::fromStdString(e.pattern)));
    table->setItem(i, 1, new QTableWidgetItem(QString::fromStdString(analysis::display_unit(e.unit))));
    table->setItem(i, 2, new QTableWidgetItem(e.kind == analysis::GlossaryKind::SUMMARY ? QObject::tr("summary")
                                                                                         : QObject::tr("series")));
    auto* meaning = new QTableWidgetItem(QString::fromStdString(e.title + ": " + e.definition));
    meaning->setToolTip(meaning->text());
    table->setItem(i, 3, meaning);
  }
  table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  table->horizontalHeader()->setStretchLastSection(true);
  table->setWordWrap(true);
  table->resizeColumnsToContents();
  table->verticalHeader()->hide();
  layout->addWidget(table, 1);
  QObject::connect(filter, &QLineEdit::textChanged, table, [table](const QString& text) {
    for (int r = 0; r < table->rowCount(); ++r) {
      bool match = text.isEmpty();
      for (int c = 0; c < table->columnCount() && !match; ++c)
        match = table->item(r, c)->text().contains(text, Qt::CaseInsensitive);
      table->setRowHidden(r, !match);
    }
  });
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, dialog);
  QObject::connect(buttons, &QDialogButtonBox::rejected, dialog, &QDialog::reject);
  layout->addWidget(buttons);
  return dialog;
}

}  // namespace aif::gui
