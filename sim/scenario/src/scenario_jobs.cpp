// jobs: training and fine-tuning jobs. One short parser per job, then the checks that need the whole scenario
// (GPU budget next to the services, storage for checkpoints).
#include "scenario_jobs.hpp"

#include <algorithm>
#include <set>
#include <sstream>
#include <stdexcept>

#include "aif/models/fabric.hpp"
#include "aif/models/training.hpp"
#include "aif/models/fabric.hpp"
#include "scenario_power.hpp"

namespace aif::sim {

using yaml::Node;
using yaml::Range;
using yaml::Unit;

const char* to_string(JobKind kind) { return kind == JobKind::TRAINING ? "training" : "fine_tuning"; }

const char* to_string(JobPlacement placement) {
  switch (placement) {
    case JobPlacement::PACKED:
      return "packed";
    case JobPlacement::SPREAD:
      return "spread";
    case JobPlacement::TOPOLOGY_AWARE:
      return "topology_aware";
  }
  return "?";
}

const char* to_string(JobAllreduce allreduce) {
  switch (allreduce) {
    case JobAllreduce::RING:
      return "ring";
    case JobAllreduce::TREE:
      return "tree";
    case JobAllreduce::HIERARCHICAL:
      return "hierarchical";
  }
  return "?";
}

namespace {

std::string gb(double bytes) {
  std::ostringstream text;
  text.precision(4);
  text << bytes / 1e9 << " GB";
  return text.str();
}

void parse_parallelism(const Node& n, const models::ModelArch& arch, const Scenario& scenario, JobConfig& job) {
  n.check_keys({"dp", "tp", "pp"});
  // A TP group lives in one NVLink domain: a server, or fabric.nvlink_domain_gpus GPUs (e.g. NVL72).
  const int per_server = scenario.facility.gpus_per_server;
  const int domain = scenario.fabric.nvlink_domain_gpus > 0 ? scenario.fabric.nvlink_domain_gpus : per_server;
  n.read("dp", job.dp, yaml::between(1, 1e6));
  if (const Node tp = n.child("tp"); tp.present()) {
    job.tp = static_cast<int>(tp.as_int(yaml::between(1, domain)));
    if (domain % job.tp != 0) {
      tp.fail(domain == per_server ? "expected a divisor of facility.gpus_per_server (" + std::to_string(per_server) +
                                         "): a tensor-parallel group lives on one server"
                                   : "expected a divisor of fabric.nvlink_domain_gpus (" + std::to_string(domain) +
                                         "): a tensor-parallel group lives in one NVLink domain");
    }
    if (arch.heads % job.tp != 0) {
      tp.fail("expected a divisor of the " + std::to_string(arch.heads) + " attention heads of " + arch.name);
    }
  }
  if (const Node pp = n.child("pp"); pp.present()) {
    job.pp = static_cast<int>(pp.as_int(yaml::between(1, arch.layers)));
    if (arch.layers % job.pp != 0) {
      pp.fail("expected a divisor of the " + std::to_string(arch.layers) + " layers of " + arch.name +
              ": every pipeline stage holds the same number of layers");
    }
  }
}

void parse_checkpoint(const Node& n, const Scenario& scenario, JobConfig& job) {
  n.check_keys({"every_steps", "every", "to", "write_time"});
  const Node steps = n.child("every_steps"), every = n.child("every");
  if (steps.present() && every.present()) every.fail("give every_steps or every, not both");
  if (!steps.present() && !every.present()) n.fail("expected every_steps (a step count) or every (a duration of progress)");
  if (steps.present()) job.checkpoint.every_steps = steps.as_int(yaml::between(1, 1e12));
  if (every.present()) job.checkpoint.every_s = every.as_quantity(Unit::DURATION, yaml::positive());
  if (const Node to = n.child("to"); to.present()) job.checkpoint.to = to.as_enum({"storage"});
  if (const Node write = n.child("write_time"); write.present()) {
    if (n.child("to").present()) write.fail("give write_time (a fixed time) or to: storage (flows), not both");
    job.checkpoint.write_time_s = write.as_quantity(Unit::DURATION, yaml::positive());
    return;
  }
  if (job.network == JobConfig::Network::ANALYTIC)
    n.fail("a job with network: analytic sends no flows: give the checkpoint a write_time");
  if (scenario.fabric.storage_nodes <= 0) {
    n.fail(
        "checkpoints go to the fabric's storage nodes, but fabric.storage_nodes is 0; add storage nodes to the "
        "fabric or remove the checkpoint");
  }
}

JobConfig parse_job(const Node& n, const std::map<std::string, models::ModelArch>& catalog, const Scenario& scenario) {
  n.check_keys({"name", "kind", "model", "dtype", "parallelism", "global_batch", "micro_batch", "seq_len", "steps",
                "start", "placement", "allreduce", "overlap", "efficiency", "checkpoint", "priority", "deferrable",
                "network"});
  JobConfig job;
  job.name = n.required("name").as_string();
  if (const Node kind = n.child("kind"); kind.present()) {
    job.kind = kind.as_enum({"training", "fine_tuning"}) == "training" ? JobKind::TRAINING : JobKind::FINE_TUNING;
  }
  const Node model = n.required("model");
  job.model = model.as_string();
  const auto arch = catalog.find(job.model);
  if (arch == catalog.end()) {
    std::vector<std::string> names;
    for (const auto& [name, a] : catalog) names.push_back(name);
    model.fail("unknown model '" + job.model + "' (valid models: " + yaml::join_or(names) + ")");
  }
  if (arch->second.is_moe())
    model.fail(job.model + " is a mixture of experts: training jobs model dense transformers only (no expert "
               "parallelism in the training step model)");
  if (const Node dtype = n.child("dtype"); dtype.present()) {
    std::vector<std::string> supported;
    for (const auto& [name, flops] : scenario.device.peak_flops) supported.push_back(name);
    job.dtype = dtype.as_enum(supported);
  } else if (scenario.device.peak_flops.count(job.dtype) == 0) {
    n.fail(scenario.gpu + " has no " + job.dtype + " peak in the catalog; set dtype");
  }
  const Node parallelism = n.required("parallelism");
  parse_parallelism(parallelism, arch->second, scenario, job);

  n.read("micro_batch", job.micro_batch, yaml::between(1, 1 << 20));
  const Node batch = n.required("global_batch");
  job.global_batch = static_cast<int>(batch.as_int(yaml::between(1, 1 << 30)));
  if (job.global_batch % (job.dp * job.micro_batch) != 0) {
    batch.fail("expected a multiple of parallelism.dp x micro_batch = " + std::to_string(job.dp) + " x " +
               std::to_string(job.micro_batch) + " = " + std::to_string(job.dp * job.micro_batch) + ", found " +
               std::to_string(job.global_batch));
  }
  job.seq_len = static_cast<int>(n.required("seq_len").as_int(
      Range{1, double(arch->second.max_context), false, false,
            "between 1 and the model's max_context (" + std::to_string(arch->second.max_context) + ")"}));
  job.steps = n.required("steps").as_int(yaml::between(1, 1e9));
  if (const Node start = n.child("start"); start.present()) {
    job.start_s = start.as_quantity(Unit::DURATION, yaml::non_negative());
    if (job.start_s >= scenario.simulation.duration_s) start.fail("expected a start before simulation.duration");
  }
  if (const Node placement = n.child("placement"); placement.present()) {
    const std::string p = placement.as_enum({"packed", "spread", "topology_aware"});
    job.placement = p == "packed"   ? JobPlacement::PACKED
                    : p == "spread" ? JobPlacement::SPREAD
                                    : JobPlacement::TOPOLOGY_AWARE;
  }
  if (const Node allreduce = n.child("allreduce"); allreduce.present()) {
    const std::string a = allreduce.as_enum({"ring", "tree", "hierarchical"});
    job.allreduce = a == "ring" ? JobAllreduce::RING : a == "tree" ? JobAllreduce::TREE : JobAllreduce::HIERARCHICAL;
  }
  n.read("overlap", job.overlap);
  n.read_number("efficiency", job.efficiency, Range{0, 1, true, false, "in (0, 1]"});
  if (const Node network = n.child("network"); network.present())
    job.network = network.as_enum({"flows", "analytic"}) == "flows" ? JobConfig::Network::FLOWS : JobConfig::Network::ANALYTIC;
  if (const Node checkpoint = n.child("checkpoint"); checkpoint.present()) parse_checkpoint(checkpoint, scenario, job);
  read_priority(n, job.priority);
  read_deferrable(n, job.deferrable, job.deadline_s);
  // A start moved past the end of the run would silently never happen.
  if (job.deferrable && job.start_s + job.deadline_s > scenario.simulation.duration_s) {
    std::ostringstream msg;
    msg << "start + deadline is " << job.start_s + job.deadline_s << " s, after simulation.duration ("
        << scenario.simulation.duration_s << " s): the start could move out of the run";
    n.child("deferrable").child("deadline").fail(msg.str());
  }

  // Weights, gradients and Adam state must fit in HBM next to nothing else (activations are not counted).
  const models::TrainingParams p = training_params(scenario.device, arch->second, job, fabric_params(scenario));
  try {
    const models::TrainingStep step = models::plan_training_step(p);
    if (step.state_bytes_per_gpu >= scenario.device.hbm_bytes) {
      parallelism.fail("the training state of " + job.model + " (weights, gradients and Adam state, " +
                       std::to_string(int(models::ADAM_MIXED_PRECISION_STATE_BYTES)) + " bytes per parameter) is " +
                       gb(step.state_bytes_per_gpu) + " on the fullest GPU at tp " + std::to_string(job.tp) + ", pp " +
                       std::to_string(job.pp) + ", more than the " + gb(scenario.device.hbm_bytes) + " of one " +
                       scenario.gpu + "; raise tp or pp");
    }
  } catch (const std::invalid_argument& e) {
    n.fail(e.what());  // every field was checked above: this names what the model still refused
  }
  return job;
}

int64_t facility_gpus(const Scenario& scenario) {
  const FacilityConfig& f = scenario.facility;
  return int64_t(f.racks) * f.servers_per_rack * f.gpus_per_server;
}

}  // namespace

void parse_jobs(const Node& jobs, const std::map<std::string, models::ModelArch>& catalog, Scenario& scenario) {
  const std::vector<Node> nodes = jobs.items();
  int64_t services_gpus = 0;
  for (const ServiceConfig& s : scenario.services) services_gpus += int64_t(s.total_replicas()) * s.tp;
  int64_t used = services_gpus;
  std::set<std::string> names;
  for (const Node& node : nodes) {
    JobConfig job = parse_job(node, catalog, scenario);
    if (!names.insert(job.name).second) node.child("name").fail("duplicate job name '" + job.name + "'");
    used += job.gpus();
    if (used > facility_gpus(scenario)) {
      node.child("parallelism")
          .fail("the job needs dp x tp x pp = " + std::to_string(job.dp) + " x " + std::to_string(job.tp) + " x " +
                std::to_string(job.pp) + " = " + std::to_string(job.gpus()) + " GPUs; with the services (" +
                std::to_string(services_gpus) + " GPUs) and the jobs before it, " + std::to_string(used) +
                " GPUs are needed but the facility has " + std::to_string(facility_gpus(scenario)));
    }
    scenario.models[job.model] = catalog.at(job.model);
    scenario.jobs.push_back(std::move(job));
  }
}

models::TrainingParams training_params(const Scenario& scenario, const JobConfig& job,
                                       const models::FabricParams& fabric) {
  return training_params(scenario.device, scenario.models.at(job.model), job, fabric);
}

models::TrainingParams training_params(const models::DeviceSpec& device, const models::ModelArch& model,
                                       const JobConfig& job, const models::FabricParams& fabric) {
  models::TrainingParams p;
  p.device = device;
  p.model = model;
  p.dtype = job.dtype;
  p.dp = job.dp;
  p.tp = job.tp;
  p.pp = job.pp;
  p.global_batch = job.global_batch;
  p.micro_batch = job.micro_batch;
  p.seq_len = job.seq_len;
  p.efficiency = job.efficiency;
  p.tp_bandwidth = fabric.nvlink_bandwidth / 2;
  p.tp_step_latency_s = 2 * fabric.nvlink_latency_s;  // GPU -> NVSwitch -> GPU
  return p;
}

}  // namespace aif::sim
