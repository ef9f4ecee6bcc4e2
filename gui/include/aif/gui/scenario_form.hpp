// The main parameters of a scenario as a form generated from the scenario schema (scenarios/scenario.schema.json):
// each field's type, range, unit pattern and help come from the schema, so typing is checked at once (a field that
// does not match turns red with the expected form beside it); the scenario's own validation (`aifsim validate` with
// the edits as --set, in a child process, a moment after typing stops) puts its message beside the field it names.
// Saving writes the YAML with the edits (through a temporary file): values the file already has are changed where
// they stand, so its comments and layout stay; a key it lacks makes it written anew (without comments, said in *error
// while save() still returns true).
#pragma once
#include <QJsonObject>
#include <QMap>
#include <QProcess>
#include <QTimer>
#include <QWidget>

class QFormLayout;
class QLabel;
class QLineEdit;

namespace aif::gui {

class ScenarioForm : public QWidget {
  Q_OBJECT
 public:
  ScenarioForm(const QString& schema_path, const QString& aifsim_path, QWidget* parent = nullptr);
  bool load(const QString& path, QString* error);
  const QString& path() const { return path_; }
  QStringList keys() const { return fields_.keys(); }
  QString value(const QString& key) const;
  void set_value(const QString& key, const QString& value);  // as typed
  QStringList overrides() const;                             // edited fields, key=value
  QString field_error(const QString& key) const;             // the message beside the field ("" when none)
  bool save(const QString& path, QString* error) const;
  bool schema_loaded() const { return !schema_.isEmpty(); }
  // What the scenario says of itself: its description: key and the comment lines at the top of the file (shown above
  // the fields).
  QString about() const;
  // A field's help (tool tip): what the schema says the key is, its default, and the comment the file has beside or
  // above it.
  QString help(const QString& key) const;
  // The placeholder of an empty field: the default it stands for ("default: 1h").
  QString placeholder(const QString& key) const;

 signals:
  void validated(bool ok, const QString& message);  // after each `aifsim validate` of the edits

 private:
  struct Field {
    QLineEdit* edit = nullptr;
    QLabel* error = nullptr;
    QJsonObject schema;
    QString original;
  };
  QJsonObject schema_for(const QString& key) const;
  QString check_typed(const Field& f, const QString& text) const;  // "" when the text matches the schema
  void add_field(const QString& key, const QString& label, const QString& value, const QString& comment);
  void on_edited(const QString& key);
  void run_validation();
  void show_validation(int exit_code);

  QJsonObject schema_;
  QString aifsim_, path_;
  QFormLayout* form_;
  QLabel* status_;
  QLabel* about_;
  QMap<QString, Field> fields_;
  QTimer debounce_;
  QProcess validator_;
};

}  // namespace aif::gui
