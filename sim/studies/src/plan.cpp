#include "aif/studies/plan.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <unordered_set>
#include <sstream>

#include "aif/analysis/results.hpp"
#include "aif/analysis/stats.hpp"
#include "aif/models/perf.hpp"
#include "aif/models/serving.hpp"
#include "aif/world/simulation.hpp"
#include "aif/studies/sweep.hpp"
#include "aif/inputs/yaml_util.hpp"

namespace aif::sim {

using yaml::Node;
using yaml::Unit;

namespace {

// Latencies of requests that never got there: above any SLO, and still ordered by the percentile code.
constexpr double NEVER_S = 1e300;

const std::vector<std::string> DIMENSIONS = {"gpu",          "tp", "replicas", "max_num_seqs", "max_num_batched_tokens",
                                             "clock_fraction"};

std::string service_key(size_t index) { return "services[" + std::to_string(index) + "]"; }

std::string text_of(double v) {
  std::ostringstream s;
  s.precision(12);
  s << v;
  return s.str();
}

// The scenario key a dimension sets, and the YAML value it gets (clock_fraction rewrites the perf section).
std::string dimension_override(const PlanConfig& plan, const Scenario& base, const std::string& name,
                               const std::string& value) {
  const std::string svc = service_key(plan.service_index);
  if (name == "gpu") return "hardware.gpu=" + value;
  if (name == "tp") return svc + ".tp=" + value;
  if (name == "replicas") return svc + ".replicas=" + value;
  if (name == "max_num_seqs") return svc + ".scheduler.max_num_seqs=" + value;
  if (name == "max_num_batched_tokens") return svc + ".scheduler.max_num_batched_tokens=" + value;
  // clock_fraction: the service's perf section with the clock (its other settings kept).
  const PerfConfig& perf = base.services[plan.service_index].perf;
  if (perf.kind == PerfConfig::Kind::CALIBRATED) return svc + ".perf.clock_fraction=" + value;
  return svc + ".perf={kind: roofline, iteration_overhead: " + text_of(perf.iteration_overhead_s) +
         "s, clock_fraction: " + value + "}";
}

PlanSlo parse_slo(const std::string& metric, const Node& n) {
  if (!n.is_map()) n.fail("expected one percentile and its limit, e.g. {p99: 500ms}, found " + n.describe());
  PlanSlo slo;
  slo.metric = metric;
  const auto entries = n.entries();
  if (entries.size() != 1) n.fail("expected one percentile and its limit, e.g. {p99: 500ms}");
  const auto& [key, value] = entries.front();
  double p = -1;
  if (key.size() > 1 && key[0] == 'p') {
    try {
      size_t used = 0;
      p = std::stod(key.substr(1), &used);
      if (used != key.size() - 1) p = -1;
    } catch (const std::exception&) {
      p = -1;
    }
  }
  if (!(p > 0 && p <= 100)) n.fail("expected a percentile key pNN (p50, p99, p99.9), found '" + key + "'");
  slo.percentile = p;
  slo.max_s = value.as_quantity(Unit::DURATION, yaml::positive());
  return slo;
}

std::vector<std::string> values_of(const Node& n, bool allow_range) {
  std::vector<std::string> values;
  if (n.is_list()) {
    for (const Node& v : n.items()) {
      if (!v.is_scalar()) v.fail("expected a scalar value, found " + v.describe());
      values.push_back(v.raw().Scalar());
    }
    if (values.empty()) n.fail("expected at least one value");
    return values;
  }
  if (allow_range && n.is_map()) {
    n.check_keys({"from", "to", "step"});
    const int64_t from = n.required("from").as_int(yaml::at_least(1));
    const int64_t to = n.required("to").as_int(yaml::at_least(1));
    int64_t step = 1;
    n.read("step", step, yaml::between(1, 1e6));
    if (to < from) n.child("to").fail("expected to >= from (" + std::to_string(from) + ")");
    if ((to - from) / step >= 10000) n.fail("more than 10,000 values");
    for (int64_t v = from; v <= to; v += step) values.push_back(std::to_string(v));
    return values;
  }
  n.fail(allow_range ? "expected a list of values or {from, to, step}" : "expected a list of values");
}

PlanCost parse_cost(const Node& n) {
  n.check_keys({"gpu_hour", "capex", "amortization", "opex_gpu_hour", "energy_per_kwh", "currency"});
  PlanCost cost;
  const Node gpu_hour = n.child("gpu_hour"), capex = n.child("capex");
  if (gpu_hour.present() == capex.present()) n.fail("expected one of gpu_hour (price per GPU-hour) or capex");
  for (const auto& [device, price] : (gpu_hour.present() ? gpu_hour : capex).entries())
    (gpu_hour.present() ? cost.gpu_hour : cost.capex)[device] = price.as_number(yaml::non_negative());
  if (capex.present()) {
    cost.amortization_h = n.required("amortization").as_quantity(Unit::DURATION, yaml::positive()) / 3600;
    n.read_number("opex_gpu_hour", cost.opex_gpu_hour, yaml::non_negative());
  } else if (n.child("amortization").present() || n.child("opex_gpu_hour").present()) {
    n.fail("amortization and opex_gpu_hour go with capex");
  }
  n.read_number("energy_per_kwh", cost.energy_per_kwh, yaml::non_negative());
  n.read("currency", cost.currency);
  return cost;
}

int jobs_gpus(const Scenario& sc) {
  int gpus = 0;
  for (const JobConfig& j : sc.jobs) gpus += j.dp * j.tp * j.pp;
  return gpus;
}

int services_gpus(const Scenario& sc) {
  int gpus = 0;
  for (const ServiceConfig& s : sc.services) gpus += s.total_replicas() * s.gpus_per_replica();
  return gpus;
}

bool is_budget_error(const ScenarioError& e) {
  return std::string(e.what()).find("but the facility has") != std::string::npos;
}

}  // namespace

std::string PlanSlo::name() const { return metric + "_p" + text_of(percentile); }

double PlanCost::gpu_hourly(const std::string& device) const {
  if (const auto it = gpu_hour.find(device); it != gpu_hour.end()) return it->second;
  if (const auto it = capex.find(device); it != capex.end()) return it->second / amortization_h + opex_gpu_hour;
  throw std::out_of_range("no price for " + device);
}

PlanConfig load_plan(const std::string& path) {
  const Node root = yaml::parse_file(path, "plan file");
  root.check_keys({"description", "base", "set", "service", "space", "slo", "cost", "failure", "search"});
  PlanConfig plan;
  plan.path = path;
  const Node base = root.required("base");
  plan.base_path = yaml::existing_file(base, "scenario file");
  if (const Node set = root.child("set"); set.present()) {
    if (!set.is_map()) set.fail("expected a map of key.path: value, found " + set.describe());
    for (const auto& [key, value] : set.entries()) {
      if (!value.is_scalar()) value.fail("expected a scalar value (key.path: value), found " + value.describe());
      plan.overrides.push_back(key + "=" + value.raw().Scalar());
    }
  }
  // The base with `set` must load: a bad key there is the plan's error, at its line.
  try {
    plan.base = std::make_shared<const Scenario>(load_scenario(plan.base_path, plan.overrides));
  } catch (const ScenarioError& e) {
    // At the `set` entry the scenario rejected, when it was one of them.
    Node at = base;
    if (const Node set = root.child("set"); set.present()) {
      at = set;
      for (const auto& [key, value] : set.entries())
        if (e.file() == "<--set>" && e.key_path().rfind(key, 0) == 0) at = value;
    }
    at.fail(std::string("the base scenario does not load: ") + e.what());
  }
  const Node service = root.required("service");
  plan.service = service.as_string();
  const Scenario& scenario = *plan.base;
  std::vector<std::string> names;
  for (const ServiceConfig& s : scenario.services) names.push_back(s.name);
  const auto found = std::find(names.begin(), names.end(), plan.service);
  if (found == names.end()) service.fail("unknown service '" + plan.service + "' (services: " + yaml::join_or(names) + ")");
  plan.service_index = static_cast<size_t>(found - names.begin());
  const ServiceConfig& svc = scenario.services[plan.service_index];

  const Node space = root.required("space");
  space.check_keys(DIMENSIONS);
  for (const auto& [name, values] : space.entries()) {
    PlanDimension d{name, values_of(values, name == "replicas")};
    // Counts are checked here, at their own lines, and kept in canonical form: the candidates' rack counts are
    // worked out from them before any candidate scenario is loaded.
    if (values.is_list() && (name == "tp" || name == "replicas" || name == "max_num_seqs" ||
                             name == "max_num_batched_tokens")) {
      const std::vector<Node> items = values.items();
      for (size_t i = 0; i < items.size(); ++i)
        d.values[i] = std::to_string(items[i].as_int(yaml::between(1, std::numeric_limits<int>::max())));
    }
    if (name == "clock_fraction") {
      if (svc.perf.kind == PerfConfig::Kind::CONSTANT)
        values.fail("the service's perf model is constant: a clock cannot change its step time");
      for (const Node& v : values.items()) v.as_number(yaml::Range{0, 1, true, false, "in (0, 1]"});
    }
    plan.space.push_back(std::move(d));
  }
  if (plan.space.empty()) space.fail("expected at least one dimension (" + yaml::join_or(DIMENSIONS) + ")");

  const Node slo = root.required("slo");
  slo.check_keys({"ttft", "tpot", "e2e", "availability"});
  for (const char* metric : {"ttft", "tpot", "e2e"})
    if (const Node m = slo.child(metric); m.present()) plan.slos.push_back(parse_slo(metric, m));
  if (const Node a = slo.child("availability"); a.present()) plan.availability_min = a.as_number(yaml::between(0, 1));
  if (plan.slos.empty() && plan.availability_min < 0) slo.fail("expected at least one of ttft, tpot, e2e, availability");

  const Node cost = root.required("cost");
  plan.cost = parse_cost(cost);
  // Every device a candidate can use needs a price.
  std::vector<std::string> devices{scenario.gpu};
  for (const PlanDimension& d : plan.space)
    if (d.name == "gpu") devices = d.values;
  for (const std::string& device : devices) {
    try {
      plan.cost.gpu_hourly(device);
    } catch (const std::out_of_range&) {
      cost.child(plan.cost.gpu_hour.empty() ? "capex" : "gpu_hour").fail("no price for " + device);
    }
  }
  if (const Node failure = root.child("failure"); failure.present()) {
    failure.check_keys({"racks_down"});
    failure.read("racks_down", plan.racks_down, yaml::between(0, 1000));
  }
  if (const Node search = root.child("search"); search.present()) {
    search.check_keys({"max_cost_ratio"});
    search.read_number("max_cost_ratio", plan.max_cost_ratio, yaml::at_least(1));
  }
  return plan;
}

std::vector<PlanCandidate> enumerate_candidates(const PlanConfig& plan) {
  const Scenario& base = *plan.base;
  std::vector<std::pair<std::string, std::vector<std::string>>> lists;
  for (const PlanDimension& d : plan.space) lists.emplace_back(d.name, d.values);
  const std::vector<Combination> combos = grid_product(lists);
  const FacilityConfig& f = base.facility;
  const int per_rack = f.servers_per_rack * f.gpus_per_server;
  std::vector<PlanCandidate> out;
  for (size_t i = 0; i < combos.size(); ++i) {
    PlanCandidate c;
    char id[32];
    std::snprintf(id, sizeof id, "c%04zu", i);
    c.id = id;
    c.settings = combos[i];
    c.gpu = base.gpu;
    std::vector<std::string> overrides = plan.overrides;
    for (const auto& [name, value] : c.settings) {
      overrides.push_back(dimension_override(plan, base, name, value));
      if (name == "gpu") c.gpu = value;
    }
    // The fewest racks that hold the services and jobs; more only if the scenario's own budget asks for more
    // (spares, autoscaler maxima).
    try {
      int tp = base.services[plan.service_index].tp, replicas = base.services[plan.service_index].total_replicas();
      for (const auto& [name, value] : c.settings) {
        if (name == "tp") tp = std::stoi(value);
        if (name == "replicas") replicas = std::stoi(value);
      }
      const int others = services_gpus(base) - base.services[plan.service_index].total_replicas() *
                                                   base.services[plan.service_index].tp;
      c.racks = std::max(1, (others + replicas * tp + jobs_gpus(base) + per_rack - 1) / per_rack);
      for (int extra = 0;; ++extra) {
        try {
          auto o = overrides;
          o.push_back("facility.racks=" + std::to_string(c.racks));
          c.scenario = std::make_shared<const Scenario>(load_scenario(plan.base_path, o));
          c.overrides = std::move(o);
          break;
        } catch (const ScenarioError& e) {
          if (!is_budget_error(e) || extra >= 16) throw;
          ++c.racks;
        }
      }
    } catch (const ScenarioError& e) {
      c.invalid = e.what();
      c.overrides = overrides;
    }
    c.gpus = c.racks * per_rack;
    c.gpu_cost_per_h = c.gpus * plan.cost.gpu_hourly(c.gpu);
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<std::string> failure_overrides(const PlanConfig& plan, const Scenario& candidate) {
  if (plan.racks_down <= 0) return {};
  std::string targets;
  for (int r = 0; r < std::min(plan.racks_down, candidate.facility.racks); ++r)
    targets += (targets.empty() ? "" : ", ") + std::string("rack/") + std::to_string(r);
  return {"failures.incidents[" + std::to_string(candidate.failures.incidents.size()) + "]={at: 0s, duration: " +
          text_of(candidate.simulation.duration_s) + "s, kind: failure, target: [" + targets +
          "], cause: plan N-" + std::to_string(plan.racks_down) + "}"};
}

AnalyticBound analytic_bound(const PlanConfig& plan, const Scenario& sc) {
  AnalyticBound b;
  const ServiceConfig& svc = sc.services.at(plan.service_index);
  const auto perf = make_perf_model(sc, svc);
  auto decode_step = [&](int seqs) {
    models::BatchShape shape;
    shape.num_seqs = seqs;
    shape.num_tokens = seqs;
    shape.decode_seqs = seqs;
    shape.sampled_seqs = seqs;
    shape.attended_pairs = seqs;  // one key each: the least context a sequence can have
    shape.kv_read_tokens = seqs;
    return perf->iteration(shape).seconds;
  };
  b.min_step_s = decode_step(1);
  for (const PlanSlo& slo : plan.slos) {
    if (slo.max_s < b.min_step_s) {
      b.infeasible = slo.name() + " <= " + text_of(slo.max_s) + " s is below the shortest step a replica can take (" +
                     text_of(b.min_step_s) + " s)";
      return b;
    }
  }
  // The service's own arrivals, as the run draws them, with the workload each comes from.
  std::vector<std::pair<models::Arrival, size_t>> drawn;
  for (size_t w = 0; w < sc.workloads.size(); ++w) {
    if (sc.workloads[w].service != svc.name) continue;
    auto process = make_arrivals(sc, sc.workloads[w], w);
    while (const auto a = process->next()) drawn.emplace_back(*a, w);
  }
  if (drawn.empty()) return b;
  std::stable_sort(drawn.begin(), drawn.end(), [](const auto& x, const auto& y) { return x.first.time_s < y.first.time_s; });
  std::vector<models::Arrival> arrivals;
  for (const auto& d : drawn) arrivals.push_back(d.first);
  // The prompt tokens each request computes at least. With prefix caching, a cache can spare only blocks whose content
  // an earlier request computed (the same content hashes, or the same workload's shared prefix), wherever it ran;
  // whatever it keeps, one prompt token is always computed.
  std::vector<double> prompt_work;
  bool may_share = false;
  {
    const int bs = svc.scheduler.block_size;
    std::unordered_set<uint64_t> seen;  // the trace's chained blocks computed so far
    std::set<size_t> prefix_computed;
    for (const auto& [a, w] : drawn) {
      int spared_blocks = 0;
      if (svc.scheduler.prefix_caching && a.prefix_chain) {
        // The leading trace blocks seen before; a block of ours can be cached only if it ends inside them (counted
        // per trace block, fewer lookups than per block of ours and never fewer tokens spared).
        const std::vector<uint64_t>& chain = *a.prefix_chain;
        size_t seen_blocks = 0;
        while (seen_blocks < chain.size() && seen.count(chain[seen_blocks])) ++seen_blocks;
        seen.insert(chain.begin(), chain.end());
        spared_blocks = static_cast<int>(static_cast<int64_t>(seen_blocks) * a.chain_block_tokens / bs);
        may_share = true;
      } else if (svc.scheduler.prefix_caching && sc.workloads[w].shared_prefix_tokens > 0) {
        if (!prefix_computed.insert(w).second) spared_blocks = sc.workloads[w].shared_prefix_tokens / bs;
        may_share = true;
      }
      spared_blocks = std::min(spared_blocks, (a.prompt_tokens - 1) / bs);
      prompt_work.push_back(static_cast<double>(a.prompt_tokens) - static_cast<double>(spared_blocks) * bs);
    }
  }
  const double duration = sc.simulation.duration_s;
  double tokens = 0;
  int32_t min_prompt = std::numeric_limits<int32_t>::max(), max_output = 0;
  for (const auto& a : arrivals) {
    tokens += a.output_tokens;
    min_prompt = std::min(min_prompt, a.prompt_tokens);
    max_output = std::max(max_output, a.output_tokens);
  }
  b.offered_tokens_per_s = tokens / duration;
  // Decode: full batches of the shortest steps (the scheduler's limits, and what the KV cache holds of the shortest
  // request). Prefill: chunks of max_num_batched_tokens with one key per token (fewer FLOPs than any real prompt).
  // Step times grow no faster than linearly with the batch, so these are the highest rates a replica reaches.
  // Sequences sharing cached blocks hold fewer of their own: then one block each is the least.
  const int blocks_per_seq =
      may_share ? 1 : (min_prompt + 1 + svc.scheduler.block_size - 1) / svc.scheduler.block_size;
  const int kv_seqs = std::max(1, kv_blocks(sc, svc, plan.service_index) / blocks_per_seq);
  const int batch = std::max(1, std::min({svc.scheduler.max_num_seqs, svc.scheduler.max_num_batched_tokens, kv_seqs}));
  const int chunk = svc.scheduler.max_num_batched_tokens;
  models::BatchShape prefill;
  prefill.num_seqs = prefill.prefill_seqs = 1;
  prefill.num_tokens = prefill.prefill_tokens = chunk;
  prefill.attended_pairs = prefill.prefill_attended_pairs = prefill.kv_read_tokens = chunk;
  const int decoders = svc.disaggregated() ? svc.decode_replicas : svc.replicas;
  const int prefillers = svc.disaggregated() ? svc.prefill_replicas : svc.replicas;
  b.capacity_tokens_per_s = decoders * batch / decode_step(batch);
  const double prefill_capacity = prefillers * chunk / perf->iteration(prefill).seconds;
  double prompt_tokens = 0;
  for (double t : prompt_work) prompt_tokens += t;
  b.utilization = std::max(b.offered_tokens_per_s / b.capacity_tokens_per_s, prompt_tokens / duration / prefill_capacity);
  if (b.utilization <= 1) return b;
  // Fluid bounds, requests in arrival order (the scheduler admits and prefills first come, first served):
  //  - prefill: request i's first token comes after every prompt token up to its own was computed, at most
  //    prefill_capacity per second: first token >= (prompt tokens up to i) / prefill_capacity;
  //  - decode: when i is admitted every earlier request was, and at most replicas x batch of them still owe tokens
  //    (max_output each): admission >= (output tokens before i - replicas x batch x max_output) / capacity.
  const double slack = static_cast<double>(decoders) * batch * max_output;
  std::vector<double> waits;
  waits.reserve(arrivals.size());
  double before = 0, prompts = 0;
  for (size_t i = 0; i < arrivals.size(); ++i) {
    const models::Arrival& a = arrivals[i];
    prompts += prompt_work[i];
    const double admitted = std::max((before - slack) / b.capacity_tokens_per_s, prompts / prefill_capacity);
    waits.push_back(std::max(admitted - a.time_s, 0.0) + b.min_step_s);
    before += a.output_tokens;
  }
  for (const PlanSlo& slo : plan.slos) {
    if (slo.metric == "tpot") continue;  // waiting for admission does not stretch the time between tokens
    const double bound = analysis::percentile(waits, slo.percentile);
    b.backlog_wait_s = std::max(b.backlog_wait_s, bound);
    if (bound > slo.max_s) {
      b.infeasible = "load above capacity (utilization bound " + text_of(b.utilization) + "): " + slo.name() +
                     " >= " + text_of(bound) + " s by the backlog bound, limit " + text_of(slo.max_s) + " s";
      return b;
    }
  }
  return b;
}

PlanOutcome measure_plan_run(const PlanConfig& plan, const PlanCandidate& candidate, const std::string& results_path) {
  const analysis::ResultsReader r(results_path);
  std::vector<double> ttft, tpot, e2e;
  size_t arrived = 0, finished = 0;
  const auto service = static_cast<int32_t>(plan.service_index);
  r.for_each_request_chunk([&](const std::vector<analysis::RequestRecord>& chunk) {
    for (const auto& q : chunk) {
      if (q.service != service) continue;
      ++arrived;
      const bool done = q.outcome == analysis::Outcome::FINISHED;
      finished += done;
      const bool first = done || (q.first_token_s >= q.arrival_s && q.generated_tokens > 0);
      ttft.push_back(first ? q.first_token_s - q.arrival_s : NEVER_S);
      e2e.push_back(done ? q.finish_s - q.arrival_s : NEVER_S);
      if (!done) {
        tpot.push_back(NEVER_S);
      } else if (q.generated_tokens > 1) {
        tpot.push_back((q.finish_s - q.first_token_s) / (q.generated_tokens - 1));
      }
    }
  });
  PlanOutcome o;
  o.availability = arrived ? static_cast<double>(finished) / arrived : 1.0;
  for (const PlanSlo& slo : plan.slos) {
    const std::vector<double>& v = slo.metric == "ttft" ? ttft : slo.metric == "tpot" ? tpot : e2e;
    o.latency_s[slo.name()] = v.empty() ? 0 : analysis::percentile(v, slo.percentile);
  }
  const auto energy = r.summary_value("facility_energy");
  const auto simulated = r.summary_value("simulated_time");
  o.facility_energy_kwh = energy ? *energy : 0;
  o.duration_h = simulated ? *simulated / 3600 : 0;
  o.cost_per_h = candidate.gpu_cost_per_h +
                 (o.duration_h > 0 ? o.facility_energy_kwh / o.duration_h * plan.cost.energy_per_kwh : 0);
  o.meets = true;
  for (const PlanSlo& slo : plan.slos) {
    const double v = o.latency_s.at(slo.name());
    if (v > slo.max_s) {
      o.meets = false;
      o.misses = slo.name() + " " + (v >= NEVER_S ? std::string("unfinished") : text_of(v) + " s") + " > " +
                 text_of(slo.max_s) + " s";
      return o;
    }
  }
  if (plan.availability_min >= 0 && o.availability < plan.availability_min) {
    o.meets = false;
    o.misses = "availability " + text_of(o.availability) + " < " + text_of(plan.availability_min);
  }
  return o;
}

}  // namespace aif::sim
