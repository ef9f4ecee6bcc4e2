// The serving-engine catalog (data/engines.yaml): what each engine adds around the GPU kernels of a step, and a
// service's `engine:` choice with its overrides. Every mistake is one ScenarioError naming the file, line and key.
#include <map>
#include <string>
#include <vector>

#include "engine_catalog.hpp"

namespace aif::sim {

namespace {

using yaml::Node;
using yaml::Range;
using yaml::Unit;

const Range CPU_TIME{0, 1, false, false, ">= 0 and at most 1s"};

models::ElementwiseOp elementwise_op(const Node& n, const std::string& name) {
  static const std::map<std::string, models::ElementwiseOp> OPS = {
      {"rms_norm", models::ElementwiseOp::RMS_NORM},     {"rope", models::ElementwiseOp::ROPE},
      {"activation", models::ElementwiseOp::ACTIVATION}, {"add", models::ElementwiseOp::ADD},
      {"embedding", models::ElementwiseOp::EMBEDDING}};
  const auto it = OPS.find(name);
  if (it == OPS.end()) {
    std::vector<std::string> names;
    for (const auto& kv : OPS) names.push_back(kv.first);
    n.fail("unknown operator '" + name + "' (valid: " + yaml::join_or(names) + ")");
  }
  return it->second;
}

std::vector<models::EngineProfile::Call> op_calls(const Node& n) {
  std::vector<models::EngineProfile::Call> calls;
  if (!n.present()) return calls;
  if (!n.is_map()) n.fail("expected a map of operator: calls, such as {rms_norm: 2, rope: 1}, found " + n.describe());
  for (const auto& [name, count] : n.entries())
    calls.push_back({elementwise_op(count, name), static_cast<int>(count.as_int(yaml::between(1, 16))), false});
  return calls;
}

// Keys an engine entry and a service's override map share.
void read_cpu_and_graphs(const Node& n, models::EngineProfile& e, double& tp_step_s) {
  n.read_quantity("step_overhead", Unit::DURATION, e.step_s, CPU_TIME);
  n.read_quantity("tp_step_overhead", Unit::DURATION, tp_step_s, CPU_TIME);
  n.read_quantity("seq_overhead", Unit::DURATION, e.per_seq_s, CPU_TIME);
  n.read_quantity("token_overhead", Unit::DURATION, e.per_token_s, CPU_TIME);
  n.read_quantity("kernel_launch", Unit::DURATION, e.launch_s, CPU_TIME);
  if (const Node g = n.child("cuda_graphs"); g.present()) {
    if (g.is_scalar()) {
      if (g.as_bool()) g.fail("expected false (eager) or a map {max_batch: 512, prefill: true}");
      e.cuda_graph_max_seqs = 0;
      e.graphs_for_prefill = false;
    } else {
      g.check_keys({"max_batch", "prefill"});
      e.cuda_graph_max_seqs = static_cast<int>(g.required("max_batch").as_int(yaml::between(1, 1 << 20)));
      g.read("prefill", e.graphs_for_prefill);
    }
  }
}

}  // namespace

std::map<std::string, EngineCatalogEntry> parse_engine_catalog(const Node& root) {
  std::map<std::string, EngineCatalogEntry> catalog;
  for (const auto& [name, entry] : root.entries()) {
    entry.check_keys({"description", "scheduling", "layer_ops", "final_ops", "step_overhead", "tp_step_overhead",
                      "seq_overhead", "token_overhead", "cuda_graphs", "kernel_launch", "sources"});
    EngineCatalogEntry c;
    c.profile.name = name;
    if (const Node d = entry.child("description"); d.present()) c.description = d.as_string();
    c.profile.policy = entry.required("scheduling").as_enum({"unified", "prefill-first"}) == "unified"
                           ? models::StepPolicy::UNIFIED
                           : models::StepPolicy::PREFILL_FIRST;
    c.profile.layer_ops = op_calls(entry.required("layer_ops"));
    c.profile.final_ops = op_calls(entry.child("final_ops"));
    for (const char* key : {"step_overhead", "seq_overhead", "cuda_graphs"}) entry.required(key);
    read_cpu_and_graphs(entry, c.profile, c.tp_step_s);
    if (const Node sources = entry.child("sources"); sources.present()) {
      std::string text;
      for (const auto& [field, source] : sources.entries()) {
        c.sources[field] = source.as_string();
        text += (text.empty() ? "" : "; ") + field + ": " + c.sources[field];
      }
      c.profile.source = text;
    }
    catalog[name] = c;
  }
  return catalog;
}

models::EngineProfile parse_service_engine(const Node& n, const std::map<std::string, EngineCatalogEntry>& catalog,
                                           int workers) {
  std::vector<std::string> names;
  for (const auto& kv : catalog) names.push_back(kv.first);
  std::string name = "vllm-0.11";
  if (n.present() && n.is_scalar()) name = n.as_string();
  if (n.present() && n.is_map()) {
    n.check_keys({"name", "step_overhead", "tp_step_overhead", "seq_overhead", "token_overhead", "cuda_graphs",
                  "kernel_launch"});
    name = n.required("name").as_string();
  } else if (n.present() && !n.is_scalar()) {
    n.fail("expected an engine name (" + yaml::join_or(names) + ") or a map {name: ..., cuda_graphs: false, ...}");
  }
  const auto it = catalog.find(name);
  if (it == catalog.end()) {
    const Node at = n.present() && n.is_map() ? n.child("name") : n;
    if (!at.present()) n.fail("the engine catalog has no default engine 'vllm-0.11'");
    at.fail("unknown engine '" + name + "' (valid engines: " + yaml::join_or(names) + ")");
  }
  models::EngineProfile e = it->second.profile;
  double tp_step_s = it->second.tp_step_s;
  if (n.present() && n.is_map()) read_cpu_and_graphs(n, e, tp_step_s);
  if (workers > 1) e.step_s += tp_step_s;
  return e;
}

}  // namespace aif::sim
