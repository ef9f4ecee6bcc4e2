// failures: random failures per component class (overrides of models/failure.hpp's defaults), the repair crew, spare
// servers and scripted incidents. ops: what operations do about them.
#include "scenario_failures.hpp"

#include <string>
#include <vector>

namespace aif::sim {

using yaml::Node;
using yaml::Range;
using yaml::Unit;

const char* to_string(IncidentKind kind) {
  switch (kind) {
    case IncidentKind::FAILURE:
      return "failure";
    case IncidentKind::BAD_ROLLOUT:
      return "bad_rollout";
    case IncidentKind::SECURITY_ISOLATION:
      return "security_isolation";
    case IncidentKind::MAINTENANCE:
      return "maintenance";
  }
  return "?";
}

namespace {

const std::vector<std::string> CLASS_NAMES{"gpu", "host", "switch", "link", "pdu", "cooling", "software"};

FailureClassOverride parse_class(const Node& n) {
  n.check_keys({"mtbf", "distribution", "shape", "detection", "repair"});
  FailureClassOverride c;
  if (const Node mtbf = n.child("mtbf"); mtbf.present()) c.mtbf_s = mtbf.as_quantity(Unit::DURATION, yaml::non_negative());
  if (const Node dist = n.child("distribution"); dist.present())
    c.weibull = dist.as_enum({"exponential", "weibull"}) == "weibull";
  if (const Node shape = n.child("shape"); shape.present()) {
    if (!c.weibull.value_or(false)) shape.fail("a shape applies to distribution: weibull only");
    c.weibull_shape = shape.as_number(Range{0, 20, true, false, "> 0 and at most 20"});
  }
  if (const Node d = n.child("detection"); d.present()) c.detection_s = d.as_quantity(Unit::DURATION, yaml::non_negative());
  if (const Node repair = n.child("repair"); repair.present()) {
    repair.check_keys({"median", "sigma"});
    if (const Node m = repair.child("median"); m.present()) c.repair_median_s = m.as_quantity(Unit::DURATION, yaml::non_negative());
    if (const Node s = repair.child("sigma"); s.present()) c.repair_sigma = s.as_number(Range{0, 5, false, false, ">= 0 and at most 5"});
  }
  return c;
}

int servers_of(const Scenario& sc) { return sc.facility.racks * sc.facility.servers_per_rack; }

IncidentTarget parse_target(const Node& n, const Scenario& sc) {
  IncidentTarget t;
  t.text = n.as_string();
  const auto slash = t.text.find('/');
  const std::string kind = slash == std::string::npos ? t.text : t.text.substr(0, slash);
  const std::string rest = slash == std::string::npos ? "" : t.text.substr(slash + 1);
  const std::string expected = "expected rack/<i>, server/<i>, gpu/<i>, leaf/<i> or service/<name>, found '" + t.text + "'";
  if (kind == "service") {
    t.kind = IncidentTarget::Kind::SERVICE;
    t.service = rest;
    std::vector<std::string> names;
    for (const auto& s : sc.services) {
      if (s.name == rest) return t;
      names.push_back(s.name);
    }
    n.fail("no service '" + rest + "' (services: " + (names.empty() ? std::string("none") : yaml::join_or(names)) + ")");
  }
  int limit = 0;
  if (kind == "rack") {
    t.kind = IncidentTarget::Kind::RACK;
    limit = sc.facility.racks;
  } else if (kind == "server") {
    t.kind = IncidentTarget::Kind::SERVER;
    limit = servers_of(sc);
  } else if (kind == "gpu") {
    t.kind = IncidentTarget::Kind::GPU;
    limit = servers_of(sc) * sc.facility.gpus_per_server;
  } else if (kind == "leaf") {
    t.kind = IncidentTarget::Kind::LEAF;
    limit = -1;  // the fabric's leaf count is checked when the run builds it
  } else {
    n.fail(expected);
  }
  size_t used = 0;
  long value = -1;
  try {
    value = std::stol(rest, &used);
  } catch (const std::exception&) {
    n.fail(expected);
  }
  if (used != rest.size() || value < 0) n.fail(expected);
  if (limit >= 0 && value >= limit)
    n.fail(kind + " index " + std::to_string(value) + " out of range: the facility has " + std::to_string(limit) + " (0 to " +
           std::to_string(limit - 1) + ")");
  t.index = static_cast<int>(value);
  return t;
}

IncidentConfig parse_incident(const Node& n, const Scenario& sc) {
  n.check_keys({"at", "duration", "kind", "target", "cause"});
  IncidentConfig inc;
  const Node at = n.required("at");
  inc.at_s = at.as_quantity(Unit::DURATION, yaml::non_negative());
  if (inc.at_s >= sc.simulation.duration_s) at.fail("expected a time before simulation.duration");
  inc.duration_s = n.required("duration").as_quantity(Unit::DURATION, yaml::positive());
  if (const Node kind = n.child("kind"); kind.present()) {
    const std::string k = kind.as_enum({"failure", "bad_rollout", "security_isolation", "maintenance"});
    inc.kind = k == "failure" ? IncidentKind::FAILURE
               : k == "bad_rollout" ? IncidentKind::BAD_ROLLOUT
               : k == "security_isolation" ? IncidentKind::SECURITY_ISOLATION
                                           : IncidentKind::MAINTENANCE;
  }
  const Node target = n.required("target");
  if (target.is_list()) {
    for (const Node& item : target.items()) inc.targets.push_back(parse_target(item, sc));
    if (inc.targets.empty()) target.fail("expected at least one target");
  } else {
    inc.targets.push_back(parse_target(target, sc));
  }
  inc.cause = to_string(inc.kind);
  n.read("cause", inc.cause);
  return inc;
}

}  // namespace

FailuresConfig parse_failures(const Node& n, const Scenario& sc) {
  FailuresConfig f;
  f.seed = sc.simulation.seed;
  if (!n.present()) return f;
  n.check_keys({"seed", "scale", "classes", "technicians", "spare_servers", "incidents"});
  f.present = true;
  n.read("seed", f.seed);
  n.read_number("scale", f.scale, Range{0, 1e6, false, false, ">= 0 (0: no random failures)"});
  if (const Node classes = n.child("classes"); classes.present()) {
    classes.check_keys(CLASS_NAMES);
    for (const auto& [name, node] : classes.entries()) f.classes[name] = parse_class(node);
  }
  n.read("technicians", f.technicians, yaml::between(0, 1000000));
  n.read("spare_servers", f.spare_servers, yaml::between(0, 1000000));
  if (f.spare_servers >= servers_of(sc))
    n.child("spare_servers").fail("expected fewer than the facility's " + std::to_string(servers_of(sc)) + " servers");
  if (const Node incidents = n.child("incidents"); incidents.present())
    for (const Node& item : incidents.items()) f.incidents.push_back(parse_incident(item, sc));
  return f;
}

namespace {

size_t service_named(const Node& n, const Scenario& sc) {
  const std::string name = n.as_string();
  std::vector<std::string> names;
  for (size_t s = 0; s < sc.services.size(); ++s) {
    if (sc.services[s].name == name) return s;
    names.push_back(sc.services[s].name);
  }
  n.fail("no service '" + name + "' (services: " + (names.empty() ? std::string("none") : yaml::join_or(names)) + ")");
}

AutoscalerConfig parse_autoscaler(const Node& n, const Scenario& sc) {
  n.check_keys({"service", "metric", "target", "min", "max", "interval", "cooldown"});
  AutoscalerConfig a;
  const Node service = n.required("service");
  a.service = service.as_string();
  a.service_index = service_named(service, sc);
  const ServiceConfig& cfg = sc.services[a.service_index];
  if (cfg.disaggregated()) service.fail("autoscaling a disaggregated service is not supported: scale one without disaggregation");
  if (const Node metric = n.child("metric"); metric.present())
    a.metric = metric.as_enum({"utilization", "queue"}) == "utilization" ? AutoscalerConfig::Metric::UTILIZATION
                                                                        : AutoscalerConfig::Metric::QUEUE;
  const Node target = n.required("target");
  a.target = a.metric == AutoscalerConfig::Metric::UTILIZATION
                 ? target.as_number(Range{0, 1, true, false, "in (0, 1] (share of the replicas' time busy)"})
                 : target.as_number(Range{0, 1e6, true, false, "> 0 (requests running or waiting per replica)"});
  a.min_replicas = static_cast<int>(n.required("min").as_int(yaml::between(1, 1e6)));
  const Node max = n.required("max");
  a.max_replicas = static_cast<int>(max.as_int(yaml::between(1, 1e6)));
  if (a.max_replicas < a.min_replicas) max.fail("expected at least min (" + std::to_string(a.min_replicas) + ")");
  if (cfg.replicas < a.min_replicas || cfg.replicas > a.max_replicas)
    n.child("min").fail("the service starts with " + std::to_string(cfg.replicas) + " replicas, outside [min, max] = [" +
                        std::to_string(a.min_replicas) + ", " + std::to_string(a.max_replicas) + "]");
  n.read_quantity("interval", Unit::DURATION, a.interval_s, yaml::positive());
  n.read_quantity("cooldown", Unit::DURATION, a.cooldown_s, yaml::non_negative());
  return a;
}

RolloutConfig parse_rollout(const Node& n, const Scenario& sc) {
  n.check_keys({"service", "at", "canary_share", "canary_duration", "step", "canary_fails"});
  RolloutConfig r;
  const Node service = n.required("service");
  r.service = service.as_string();
  r.service_index = service_named(service, sc);
  const Node at = n.required("at");
  r.at_s = at.as_quantity(Unit::DURATION, yaml::non_negative());
  if (r.at_s >= sc.simulation.duration_s) at.fail("expected a time before simulation.duration");
  n.read_number("canary_share", r.canary_share, Range{0, 1, true, false, "in (0, 1]"});
  n.read_quantity("canary_duration", Unit::DURATION, r.canary_duration_s, yaml::non_negative());
  n.read_quantity("step", Unit::DURATION, r.step_s, yaml::non_negative());
  n.read("canary_fails", r.canary_fails);
  return r;
}

}  // namespace

namespace {

void parse_ops_keys(const Node& n, const Scenario& sc, OpsConfig& ops) {
  n.check_keys({"inference", "training", "autoscaler", "rollouts"});
  if (const Node inf = n.child("inference"); inf.present()) {
    inf.check_keys({"on_failure", "replace_on_spare", "replica_start"});
    if (const Node p = inf.child("on_failure"); p.present())
      ops.on_failure = p.as_enum({"retry", "drop"}) == "retry" ? FailedRequestPolicy::RETRY : FailedRequestPolicy::DROP;
    inf.read("replace_on_spare", ops.replace_on_spare);
    inf.read_quantity("replica_start", Unit::DURATION, ops.replica_start_s, yaml::non_negative());
  }
  if (const Node tr = n.child("training"); tr.present()) {
    tr.check_keys({"restart_overhead", "restart_on"});
    tr.read_quantity("restart_overhead", Unit::DURATION, ops.restart_overhead_s, yaml::non_negative());
    if (const Node on = tr.child("restart_on"); on.present()) {
      const std::string how = on.as_enum({"spares", "repair", "shrink"});
      ops.job_restart_on_spares = how == "spares";
      ops.job_restart_shrink = how == "shrink";
    }
  }
  if (const Node list = n.child("autoscaler"); list.present()) {
    for (const Node& item : list.items()) {
      AutoscalerConfig a = parse_autoscaler(item, sc);
      for (const AutoscalerConfig& other : ops.autoscalers)
        if (other.service == a.service) item.child("service").fail("the service already has an autoscaler");
      ops.autoscalers.push_back(std::move(a));
    }
  }
  if (const Node list = n.child("rollouts"); list.present())
    for (const Node& item : list.items()) ops.rollouts.push_back(parse_rollout(item, sc));
}

}  // namespace

OpsConfig parse_ops(const Node& n, const Scenario& sc) {
  OpsConfig ops;
  if (n.present()) parse_ops_keys(n, sc, ops);
  // Autoscaled services hold GPUs for their max replicas; spares hold whole servers.
  int64_t needed = static_cast<int64_t>(sc.failures.spare_servers) * sc.facility.gpus_per_server;
  for (size_t s = 0; s < sc.services.size(); ++s) {
    int replicas = sc.services[s].total_replicas();
    for (const AutoscalerConfig& a : ops.autoscalers)
      if (a.service_index == s) replicas = std::max(replicas, a.max_replicas);
    needed += static_cast<int64_t>(replicas) * sc.services[s].tp;
  }
  for (const JobConfig& j : sc.jobs) needed += j.gpus();
  const int64_t available = static_cast<int64_t>(servers_of(sc)) * sc.facility.gpus_per_server;
  if (needed > available) {
    const Node where = n.child("autoscaler").present() ? n.child("autoscaler") : n;
    where.fail("services at their max replicas, jobs and spare servers need " + std::to_string(needed) +
               " GPUs; the facility has " + std::to_string(available));
  }
  return ops;
}

}  // namespace aif::sim
