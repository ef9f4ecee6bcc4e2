#include "aif/gui/topology.hpp"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

namespace aif::gui {

int Topology::switch_count() const {
  int n = 0;
  for (const auto& [role, count] : switches) n += count;
  return n;
}

int Topology::count_servers(int owner_index) const {
  return static_cast<int>(std::count(owner.begin(), owner.end(), owner_index));
}

std::optional<Topology> parse_topology(const QByteArray& json, QString* error) {
  QJsonParseError parse_error{};
  const QJsonDocument doc = QJsonDocument::fromJson(json, &parse_error);
  if (!doc.isObject()) {
    if (error) *error = QObject::tr("aifsim topo gave no JSON (%1)").arg(parse_error.errorString());
    return std::nullopt;
  }
  const QJsonObject o = doc.object();
  Topology t;
  t.kind = o.value("kind").toString();
  t.racks = o.value("racks").toInt();
  t.servers_per_rack = o.value("servers_per_rack").toInt();
  t.gpus_per_server = o.value("gpus_per_server").toInt();
  t.spare_servers = o.value("spare_servers").toInt();
  t.storage_nodes = o.value("storage_nodes").toInt();
  if (t.racks <= 0 || t.servers_per_rack <= 0 || t.gpus_per_server <= 0 || o.value("servers").toInt() != t.servers()) {
    if (error) *error = QObject::tr("aifsim topo: the facility's shape is missing or inconsistent");
    return std::nullopt;
  }
  for (const char* key : {"switches", "links"}) {
    auto& into = std::string(key) == "switches" ? t.switches : t.links;
    const QJsonObject m = o.value(key).toObject();
    for (auto it = m.begin(); it != m.end(); ++it) into[it.key().toStdString()] = it.value().toInt();
  }
  for (const QJsonValue& v : o.value("leaf_of_server").toArray()) t.leaf_of_server.push_back(v.toInt());
  const int servers = t.servers();
  t.owner.assign(static_cast<size_t>(servers), -1);
  for (int s = servers - t.spare_servers; s < servers; ++s)
    if (s >= 0) t.owner[static_cast<size_t>(s)] = -2;
  t.label.assign(static_cast<size_t>(servers), QString());
  std::vector<int> first_replica(static_cast<size_t>(servers), -1);
  const QJsonArray services = o.value("services").toArray();
  t.services = static_cast<size_t>(services.size());
  for (int i = 0; i < services.size(); ++i) {
    const QJsonObject svc = services[i].toObject();
    const QString name = svc.value("name").toString();
    t.owners.push_back(name);
    auto& per_server = t.replicas_on_server[name.toStdString()];
    per_server.assign(static_cast<size_t>(servers), 0);
    for (const QJsonValue& r : svc.value("replicas").toArray()) {
      const QJsonObject rep = r.toObject();
      const int first = rep.value("server").toInt(), span = std::max(1, rep.value("servers").toInt());
      const int replica = rep.value("replica").toInt();
      for (int s = first; s < first + span && s < servers; ++s) {
        if (s < 0) continue;
        if (t.owner[static_cast<size_t>(s)] == -1) t.owner[static_cast<size_t>(s)] = i;
        ++per_server[static_cast<size_t>(s)];
        if (t.owner[static_cast<size_t>(s)] != i) {  // a second service on the server: said with a "+"
          if (!t.label[static_cast<size_t>(s)].endsWith('+')) t.label[static_cast<size_t>(s)] += '+';
          continue;
        }
        // Replicas of one service share a server in index order: "chat/4-7" for four of them.
        int& lowest = first_replica[static_cast<size_t>(s)];
        if (lowest < 0) lowest = replica;
        t.label[static_cast<size_t>(s)] =
            name + "/" + QString::number(lowest) + (replica != lowest ? "-" + QString::number(replica) : QString());
      }
    }
  }
  const QJsonArray jobs = o.value("jobs").toArray();
  for (int j = 0; j < jobs.size(); ++j) {
    const QJsonObject job = jobs[j].toObject();
    t.owners.push_back(job.value("name").toString());
    const int index = static_cast<int>(t.services) + j;
    for (const QJsonValue& g : job.value("gpus").toArray()) {
      const int s = g.toInt() / t.gpus_per_server;
      if (s >= 0 && s < servers && t.owner[static_cast<size_t>(s)] == -1) {
        t.owner[static_cast<size_t>(s)] = index;
        t.label[static_cast<size_t>(s)] = t.owners.back();
      }
    }
  }
  return t;
}

std::optional<Topology> load_topology(const QString& aifsim, const QString& scenario, const QStringList& sets,
                                      QString* error) {
  QStringList args{"topo", scenario, "--json", "-"};
  for (const QString& s : sets) args << "--set" << s;
  QProcess p;
  p.start(aifsim, args);
  if (!p.waitForFinished(60000) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
    if (p.state() != QProcess::NotRunning) p.kill();
    if (error) *error = QString::fromUtf8(p.readAllStandardError()).trimmed();
    if (error && error->isEmpty()) *error = QObject::tr("aifsim topo %1 did not finish").arg(scenario);
    return std::nullopt;
  }
  return parse_topology(p.readAllStandardOutput(), error);
}

QStringList sets_of_scenario_text(const std::string& text) {
  const QString first = QString::fromStdString(text.substr(0, text.find('\n')));
  const int at = first.indexOf(" with --set ");
  if (!first.startsWith("# aifsim: scenario ") || at < 0) return {};
  return first.mid(at + 12).split(' ', Qt::SkipEmptyParts);
}

}  // namespace aif::gui
