#include "aif/gui/scenario_form.hpp"

#include <yaml-cpp/yaml.h>

#include <QCompleter>
#include <QFile>
#include <QFormLayout>
#include <QJsonArray>
#include <QJsonDocument>
#include <QLabel>
#include <QLineEdit>
#include <QRegularExpression>
#include <QSaveFile>
#include <QVBoxLayout>
#include <algorithm>
#include <fstream>
#include <iterator>

namespace aif::gui {

namespace {

// "services[1].replicas" -> {"services", "[1]", "replicas"}
QStringList path_steps(const QString& key) {
  QStringList steps;
  for (const QString& part : key.split('.')) {
    const int bracket = part.indexOf('[');
    if (bracket < 0) {
      steps << part;
    } else {
      steps << part.left(bracket) << part.mid(bracket);
    }
  }
  return steps;
}

YAML::Node yaml_at(YAML::Node node, const QStringList& steps) {
  for (const QString& s : steps) {
    if (!node) return node;
    if (s.startsWith('[')) {
      const int i = s.mid(1, s.size() - 2).toInt();
      if (!node.IsSequence() || i >= static_cast<int>(node.size())) return YAML::Node(YAML::NodeType::Undefined);
      node.reset(node[i]);
    } else {
      if (!node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
      const YAML::Node child = node[s.toStdString()];
      if (!child) return YAML::Node(YAML::NodeType::Undefined);
      node.reset(child);
    }
  }
  return node;
}

}  // namespace

ScenarioForm::ScenarioForm(const QString& schema_path, const QString& aifsim_path, QWidget* parent)
    : QWidget(parent), aifsim_(aifsim_path) {
  QFile f(schema_path);
  if (f.open(QIODevice::ReadOnly)) schema_ = QJsonDocument::fromJson(f.readAll()).object();
  auto* layout = new QVBoxLayout(this);
  about_ = new QLabel(this);
  about_->setWordWrap(true);
  about_->setTextFormat(Qt::PlainText);
  about_->setStyleSheet("color: #444; background: #f4f4f4; padding: 4px");
  about_->hide();
  layout->addWidget(about_);
  form_ = new QFormLayout;
  form_->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
  layout->addLayout(form_);
  status_ = new QLabel(this);
  status_->setWordWrap(true);
  layout->addWidget(status_);
  layout->addStretch();
  debounce_.setSingleShot(true);
  debounce_.setInterval(350);
  connect(&debounce_, &QTimer::timeout, this, &ScenarioForm::run_validation);
  connect(&validator_, &QProcess::finished, this, [this](int code, QProcess::ExitStatus) { show_validation(code); });
}

QJsonObject ScenarioForm::schema_for(const QString& key) const {
  const QJsonObject defs = schema_.value("$defs").toObject();
  // A $ref's target, keeping the description and default written beside the $ref (they say what this key is; the
  // target says what kind of value it takes).
  auto resolve = [&](QJsonObject node) {
    for (int guard = 0; guard < 8 && node.contains("$ref"); ++guard) {
      QJsonObject target = defs.value(node.value("$ref").toString().section('/', -1)).toObject();
      for (const char* k : {"description", "default"})
        if (node.contains(k)) target.insert(k, node.value(k));
      node = target;
    }
    return node;
  };
  QJsonObject node = schema_;
  for (const QString& step : path_steps(key)) {
    node = resolve(node);
    if (step.startsWith('[')) {
      node = node.value("items").toObject();
      continue;
    }
    QJsonObject next = node.value("properties").toObject().value(step).toObject();
    if (next.isEmpty()) {  // a oneOf / anyOf of object shapes (arrival kinds): the first that has the key
      for (const char* alt : {"oneOf", "anyOf"})
        for (const QJsonValue& v : node.value(alt).toArray()) {
          const QJsonObject branch = resolve(v.toObject());
          if (next.isEmpty() && branch.value("properties").toObject().contains(step))
            next = branch.value("properties").toObject().value(step).toObject();
        }
    }
    if (next.isEmpty()) return {};
    node = next;
  }
  return resolve(node);
}

QString ScenarioForm::check_typed(const Field& f, const QString& text) const {
  if (text.isEmpty()) return {};  // unset: the scenario's default
  const QString type = f.schema.value("type").toString();
  if (type == "integer" || type == "number") {
    bool ok = false;
    const double v = type == "integer" ? double(text.toLongLong(&ok)) : text.toDouble(&ok);
    if (!ok) return type == "integer" ? tr("expected a whole number") : tr("expected a number");
    if (f.schema.contains("minimum") && v < f.schema.value("minimum").toDouble())
      return tr("expected at least %1").arg(f.schema.value("minimum").toDouble());
    if (f.schema.contains("exclusiveMinimum") && v <= f.schema.value("exclusiveMinimum").toDouble())
      return tr("expected more than %1").arg(f.schema.value("exclusiveMinimum").toDouble());
    if (f.schema.contains("maximum") && v > f.schema.value("maximum").toDouble())
      return tr("expected at most %1").arg(f.schema.value("maximum").toDouble());
    return {};
  }
  if (f.schema.contains("pattern") && !QRegularExpression(f.schema.value("pattern").toString()).match(text).hasMatch())
    return f.schema.value("description").toString(tr("does not match the expected form"));
  return {};
}

QString ScenarioForm::about() const { return about_->text(); }

QString ScenarioForm::help(const QString& key) const {
  return fields_.contains(key) ? fields_[key].edit->toolTip() : QString();
}

QString ScenarioForm::placeholder(const QString& key) const {
  return fields_.contains(key) ? fields_[key].edit->placeholderText() : QString();
}

void ScenarioForm::add_field(const QString& key, const QString& label, const QString& value, const QString& comment) {
  Field f;
  f.schema = schema_for(key);
  if (f.schema.isEmpty()) return;  // not in this schema: not offered
  f.original = value;
  f.edit = new QLineEdit(value, this);
  f.edit->setObjectName(key);
  // The default as a value ("default: 1h"); a key without one is required or means "none" (its description says).
  const QJsonValue def = f.schema.value("default");
  const QString def_text = def.isString() ? def.toString() : def.isDouble() ? QString::number(def.toDouble()) : QString();
  f.edit->setPlaceholderText(def_text.isEmpty() ? tr("not set") : tr("default: %1").arg(def_text));
  QString tip = key;
  if (const QString d = f.schema.value("description").toString(); !d.isEmpty()) tip += "\n" + d;
  if (!def_text.isEmpty()) tip += "\n" + tr("Default: %1").arg(def_text);
  if (!comment.isEmpty()) tip += "\n" + tr("The scenario says: %1").arg(comment);
  f.edit->setToolTip(tip);
  f.error = new QLabel(this);
  f.error->setStyleSheet("color: #b01e1e");
  f.error->setWordWrap(true);
  f.error->hide();
  auto* box = new QWidget(this);
  auto* v = new QVBoxLayout(box);
  v->setContentsMargins(0, 0, 0, 0);
  v->setSpacing(1);
  v->addWidget(f.edit);
  v->addWidget(f.error);
  if (key == "hardware.gpu") {
    // The device types of the bundled catalog, offered as the user types (a scenario may name its own catalog).
    QStringList devices;
    try {
      const YAML::Node catalog = YAML::LoadFile(QStringLiteral(AIF_SOURCE_DIR "/data/hardware.yaml").toStdString());
      for (const auto& entry : catalog) devices << QString::fromStdString(entry.first.as<std::string>());
    } catch (const YAML::Exception&) {
    }
    auto* completer = new QCompleter(devices, f.edit);
    completer->setCaseSensitivity(Qt::CaseInsensitive);
    completer->setCompletionMode(QCompleter::UnfilteredPopupCompletion);
    f.edit->setCompleter(completer);
    f.edit->setToolTip(f.edit->toolTip() + "\n" + tr("Catalog: %1").arg(devices.join(", ")));
  }
  form_->addRow(label, box);
  fields_.insert(key, f);
  connect(f.edit, &QLineEdit::textEdited, this, [this, key] { on_edited(key); });
}

bool ScenarioForm::load(const QString& path, QString* error) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path.toStdString());
  } catch (const YAML::Exception& e) {
    if (error) *error = path + ": " + QString::fromStdString(e.what());
    return false;
  }
  if (!root.IsMap()) {
    if (error) *error = path + ": not a scenario (expected a YAML map)";
    return false;
  }
  while (form_->rowCount() > 0) form_->removeRow(0);
  fields_.clear();
  path_ = path;
  // The file's lines, for the comments beside and above each key.
  QStringList lines;
  {
    QFile file(path);
    if (file.open(QIODevice::ReadOnly)) lines = QString::fromUtf8(file.readAll()).split('\n');
  }
  auto comment_at = [&](const YAML::Node& n) {
    if (!n || n.Mark().line < 0 || n.Mark().line >= lines.size()) return QString();
    const int line = n.Mark().line;
    QStringList parts;
    for (int i = line - 1; i >= 0 && lines[i].trimmed().startsWith('#'); --i)  // the comment block right above
      parts.prepend(lines[i].trimmed().mid(1).trimmed());
    const int hash = lines[line].indexOf(" #");  // and the one on the key's own line
    if (hash >= 0) parts << lines[line].mid(hash + 2).trimmed();
    return parts.join(' ');
  };
  auto text = [&](const QString& key) {
    const YAML::Node n = yaml_at(root, path_steps(key));
    return n && n.IsScalar() ? QString::fromStdString(n.Scalar()) : QString();
  };
  auto add = [&](const QString& key, const QString& label) {
    add_field(key, label, text(key), comment_at(yaml_at(root, path_steps(key))));
  };
  // What the scenario is about: its description and the comment block that opens the file.
  QStringList about;
  for (const QString& line : lines) {
    if (!line.trimmed().startsWith('#')) break;
    about << line.trimmed().mid(1).trimmed();
  }
  if (root["description"] && root["description"].IsScalar())
    about.prepend(QString::fromStdString(root["description"].Scalar()));
  about_->setText(about.join('\n').trimmed());
  about_->setVisible(!about_->text().isEmpty());
  add("simulation.duration", tr("Duration"));
  add("simulation.seed", tr("Seed"));
  add("hardware.gpu", tr("GPU"));
  add("facility.racks", tr("Racks"));
  add("facility.servers_per_rack", tr("Servers per rack"));
  add("facility.gpus_per_server", tr("GPUs per server"));
  add("facility.power.rack_power_limit", tr("Rack power cap"));
  add("grid.connection_limit", tr("Grid limit"));
  const YAML::Node services = root["services"];
  for (size_t i = 0; services && services.IsSequence() && i < services.size(); ++i) {
    const QString name = QString::fromStdString(services[i]["name"] ? services[i]["name"].as<std::string>() : "");
    add(QStringLiteral("services[%1].replicas").arg(i), tr("%1: replicas").arg(name));
    add(QStringLiteral("services[%1].tp").arg(i), tr("%1: TP degree").arg(name));
  }
  const YAML::Node workloads = root["workloads"];
  for (size_t i = 0; workloads && workloads.IsSequence() && i < workloads.size(); ++i) {
    const QString name = QString::fromStdString(workloads[i]["name"] ? workloads[i]["name"].as<std::string>() : "");
    const QString kind = QString::fromStdString(workloads[i]["arrival"]["kind"] ? workloads[i]["arrival"]["kind"].as<std::string>() : "");
    if (kind == "trace") add(QStringLiteral("workloads[%1].arrival.rate_scale").arg(i), tr("%1: load scale").arg(name));
    else add(QStringLiteral("workloads[%1].arrival.rate").arg(i), tr("%1: load").arg(name));
  }
  add("failures.scale", tr("Failure rate scale"));
  status_->setText(tr("%1 fields from %2").arg(fields_.size()).arg(path));
  return true;
}

QString ScenarioForm::value(const QString& key) const {
  return fields_.contains(key) ? fields_[key].edit->text() : QString();
}

void ScenarioForm::set_value(const QString& key, const QString& value) {
  if (!fields_.contains(key)) return;
  fields_[key].edit->setText(value);
  on_edited(key);
}

QStringList ScenarioForm::overrides() const {
  QStringList out;
  for (auto it = fields_.begin(); it != fields_.end(); ++it)
    if (it->edit->text() != it->original && !it->edit->text().isEmpty()) out << it.key() + "=" + it->edit->text();
  return out;
}

QString ScenarioForm::field_error(const QString& key) const {
  return fields_.contains(key) && fields_[key].error->isVisibleTo(this) ? fields_[key].error->text() : QString();
}

void ScenarioForm::on_edited(const QString& key) {
  Field& f = fields_[key];
  const QString problem = check_typed(f, f.edit->text());
  f.error->setText(problem);
  f.error->setVisible(!problem.isEmpty());
  f.edit->setStyleSheet(problem.isEmpty() ? QString() : QStringLiteral("border: 1px solid #b01e1e"));
  if (problem.isEmpty()) debounce_.start();  // the scenario's own checks once typing stops
}

void ScenarioForm::run_validation() {
  if (path_.isEmpty()) return;
  if (validator_.state() != QProcess::NotRunning) {
    debounce_.start();  // the previous check is still running: check again after it
    return;
  }
  QStringList args{"validate", path_};
  for (const QString& o : overrides()) args << "--set" << o;
  validator_.start(aifsim_, args);
}

void ScenarioForm::show_validation(int exit_code) {
  const QString err = QString::fromUtf8(validator_.readAllStandardError()).trimmed();
  const QString out = QString::fromUtf8(validator_.readAllStandardOutput()).trimmed();
  // Messages read "error: <file>:<line>: <key.path>: <what>"; the field whose key it names gets it.
  for (auto it = fields_.begin(); it != fields_.end(); ++it) {
    if (!check_typed(*it, it->edit->text()).isEmpty()) continue;  // keeps its own message
    it->error->hide();
    it->edit->setStyleSheet(QString());
  }
  QString owner;
  // "error: FILE:LINE: KEY: WHAT", "error: FILE: KEY: WHAT" (no line: a whole-scenario check) or "error: --set KEY:
  // WHAT" (a value from the command line: the form's own edits).
  static const QRegularExpression line_re(R"(^error: (?:--set |[^:]*:(?:\d+:)? )([^:]+): (.*)$)");
  const QRegularExpressionMatch m = line_re.match(err);
  if (exit_code != 0 && m.hasMatch()) {
    const QString key = m.captured(1);
    for (auto it = fields_.begin(); it != fields_.end(); ++it)
      if (key == it.key() || key.startsWith(it.key() + ".") || it.key().startsWith(key + ".")) owner = it.key();
    if (!owner.isEmpty()) {
      fields_[owner].error->setText(m.captured(2));
      fields_[owner].error->show();
      fields_[owner].edit->setStyleSheet(QStringLiteral("border: 1px solid #b01e1e"));
    }
  }
  status_->setText(exit_code == 0 ? out : err);
  emit validated(exit_code == 0, exit_code == 0 ? out : err);
}

bool ScenarioForm::save(const QString& path, QString* error) const {
  std::string text;
  YAML::Node root;
  try {
    std::ifstream in(path_.toStdString(), std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    if (error) *error = path_ + ": " + QString::fromStdString(e.what());
    return false;
  }
  // Edits of values the file already has are made in its text, where they stand: comments and layout stay.
  // A key the file does not have yet (or a value written in a form that is not its plain text) means writing the
  // whole tree out again, which yaml-cpp does without the comments.
  struct Replacement {
    size_t pos, length;
    std::string value;
  };
  std::vector<Replacement> replacements;
  bool in_place = true;
  for (auto it = fields_.begin(); it != fields_.end(); ++it) {
    if (it->edit->text() == it->original || it->edit->text().isEmpty()) continue;
    const std::string value = it->edit->text().toStdString();
    const YAML::Node node = yaml_at(root, path_steps(it.key()));
    if (node && node.IsScalar()) {
      const size_t pos = static_cast<size_t>(node.Mark().pos);
      const std::string& old = node.Scalar();
      if (pos < text.size() && text.compare(pos, old.size(), old) == 0) {
        replacements.push_back({pos, old.size(), value});
        continue;
      }
    }
    in_place = false;
  }
  std::string out_text;
  if (in_place) {
    std::sort(replacements.begin(), replacements.end(),
              [](const Replacement& a, const Replacement& b) { return a.pos > b.pos; });
    out_text = text;
    for (const Replacement& r : replacements) out_text.replace(r.pos, r.length, r.value);
  } else {
    for (auto it = fields_.begin(); it != fields_.end(); ++it) {
      if (it->edit->text() == it->original || it->edit->text().isEmpty()) continue;
      // Walk to the parent, creating maps on the way (a section the file did not have yet).
      const QStringList steps = path_steps(it.key());
      YAML::Node node;
      node.reset(root);
      for (int i = 0; i + 1 < steps.size(); ++i) {
        YAML::Node next = steps[i].startsWith('[') ? node[steps[i].mid(1, steps[i].size() - 2).toInt()]
                                                   : node[steps[i].toStdString()];
        node.reset(next);
      }
      node[steps.last().toStdString()] = YAML::Load(it->edit->text().toStdString());
    }
    YAML::Emitter out;
    out << root;
    out_text = std::string(out.c_str()) + "\n";
  }
  QSaveFile file(path);  // written to a temporary file, renamed on commit
  if (!file.open(QIODevice::WriteOnly)) {
    if (error) *error = path + ": " + file.errorString();
    return false;
  }
  file.write(out_text.data(), static_cast<qint64>(out_text.size()));
  if (!file.commit()) {
    if (error) *error = path + ": " + file.errorString();
    return false;
  }
  if (!in_place && error) *error = tr("saved; a new key was added, so the file was written anew without its comments");
  return true;
}

}  // namespace aif::gui
