#include "aif/studies/plan_answer.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "aif/analysis/report.hpp"

namespace aif::sim {

namespace fs = std::filesystem;

namespace {

std::string fixed(double v, int digits) {
  if (v >= 1e299) return "unfinished";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string general(double v) {
  if (v >= 1e299) return "unfinished";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

const char* to_string(PlanStatus s) {
  switch (s) {
    case PlanStatus::INVALID: return "invalid";
    case PlanStatus::PRUNED_ANALYTIC: return "pruned: analytic bound";
    case PlanStatus::PRUNED_COST: return "pruned: cost";
    case PlanStatus::FAILED: return "run failed";
    case PlanStatus::SIMULATED: return "simulated";
  }
  return "?";
}

std::string settings_text(const PlanCandidate& c) {
  std::string s;
  for (const auto& [name, value] : c.settings) s += (s.empty() ? "" : ", ") + name + " " + value;
  return s;
}

PlanAnswer plan_answer(const PlanConfig& plan, const std::vector<PlanResult>& results) {
  PlanAnswer a;
  a.metric = plan.slos.empty() ? "availability" : plan.slos.front().name();
  auto latency_of = [&](const PlanOutcome& out) {
    return plan.slos.empty() ? 1 - out.availability : out.latency_s.at(a.metric);
  };
  for (size_t i = 0; i < results.size(); ++i) {
    const PlanResult& r = results[i];
    if (r.status != PlanStatus::SIMULATED || !r.normal) continue;
    a.ran.push_back(i);
    if (r.failure) a.ran_failure.push_back(i);
    if (r.normal->meets && (!a.chosen || r.normal->cost_per_h < results[*a.chosen].normal->cost_per_h)) a.chosen = i;
    if (plan.racks_down > 0 && r.meets_all(true) &&
        (!a.chosen_failure || r.normal->cost_per_h < results[*a.chosen_failure].normal->cost_per_h))
      a.chosen_failure = i;
  }
  auto frontier = [&](const std::vector<size_t>& set, bool failure) {
    std::vector<double> cost, latency;
    for (size_t i : set) {
      cost.push_back(results[i].normal->cost_per_h);
      latency.push_back(latency_of(failure ? *results[i].failure : *results[i].normal));
    }
    std::vector<size_t> front;
    for (size_t k : analysis::pareto_front(cost, latency)) front.push_back(set[k]);
    return front;
  };
  a.front = frontier(a.ran, false);
  a.front_failure = frontier(a.ran_failure, true);
  return a;
}

analysis::PlanTable plan_table(const PlanConfig& plan, const std::vector<PlanResult>& results, const PlanAnswer& a) {
  analysis::PlanTable candidates_table;
  for (const PlanDimension& d : plan.space) candidates_table.dimensions.push_back(d.name);
  for (const PlanSlo& s : plan.slos) candidates_table.slos.push_back(s.name());
  candidates_table.racks_down = plan.racks_down;
  auto run_cells = [&](const std::optional<PlanOutcome>& out, bool with_cost) -> std::optional<analysis::PlanRunCells> {
    if (!out) return std::nullopt;
    analysis::PlanRunCells c;
    for (const PlanSlo& slo : plan.slos) c.latency_s.push_back(out->latency_s.at(slo.name()));
    c.availability = out->availability;
    if (with_cost) c.facility_energy_kwh = out->facility_energy_kwh, c.cost_per_h = out->cost_per_h;
    c.meets = out->meets;
    return c;
  };
  auto mark = [](bool normal, bool with_failure) {
    return std::string(normal ? (with_failure ? "both" : "yes") : (with_failure ? "with failure" : ""));
  };
  for (size_t i = 0; i < results.size(); ++i) {
    const PlanResult& r = results[i];
    analysis::PlanRow row;
    row.id = r.candidate.id;
    for (const auto& [name, value] : r.candidate.settings) row.settings.push_back(value);
    row.racks = r.candidate.racks;
    row.gpus = r.candidate.gpus;
    row.gpu_cost_per_h = r.candidate.gpu_cost_per_h;
    row.status = to_string(r.status);
    row.reason = r.reason;
    if (r.status != PlanStatus::INVALID) row.min_step_s = r.bound.min_step_s, row.utilization_bound = r.bound.utilization;
    row.normal = run_cells(r.normal, true);
    if (plan.racks_down > 0) row.failure = run_cells(r.failure, false);
    row.frontier = mark(std::find(a.front.begin(), a.front.end(), i) != a.front.end(),
                        std::find(a.front_failure.begin(), a.front_failure.end(), i) != a.front_failure.end());
    row.chosen = mark(a.chosen == i, a.chosen_failure == i);
    candidates_table.rows.push_back(std::move(row));
  }
  return candidates_table;
}

std::string plan_markdown(const PlanConfig& plan, const std::vector<PlanResult>& results, const PlanAnswer& a,
                          const PlanRunStats& stats) {
  auto latency_of = [&](const PlanOutcome& out) {
    return plan.slos.empty() ? 1 - out.availability : out.latency_s.at(a.metric);
  };
  const auto count = [&](PlanStatus s) {
    return std::count_if(results.begin(), results.end(), [s](const PlanResult& r) { return r.status == s; });
  };
  const auto invalid = count(PlanStatus::INVALID), pruned = count(PlanStatus::PRUNED_ANALYTIC);
  std::ostringstream md;
  const std::string cur = plan.cost.currency;
  md << "# Plan: " << plan.service << " (" << fs::path(plan.path).filename().string() << ")\n\n";
  md << results.size() << " candidates: " << invalid << " invalid, " << pruned << " pruned by the perf model, "
     << std::count_if(results.begin(), results.end(), [](const PlanResult& r) { return r.status == PlanStatus::PRUNED_COST; })
     << " pruned by cost (GPU cost above " << general(plan.max_cost_ratio) << "x the cheapest feasible), " << a.ran.size()
     << " simulated";
  if (plan.racks_down > 0) md << " (" << a.ran_failure.size() << " also with " << plan.racks_down << " rack(s) down)";
  md << "; " << stats.simulated << " runs now, " << stats.reused << " reused from an earlier run of this plan.\n\n";
  if (stats.check_pruned)
    md << "Pruning checked (--check-pruned): " << stats.checked << " pruned candidate(s) simulated, "
       << (stats.violated ? std::to_string(stats.violated) + " of them MEET the SLOs: a bound is wrong (see plan.csv)"
                    : std::string("every one misses the SLOs"))
       << ".\n\n";
  auto describe = [&](const char* title, const std::optional<size_t>& pick, bool failure) {
    md << "## " << title << "\n\n";
    if (!pick) {
      md << "No candidate meets the SLOs" << (failure ? " with the failure" : "") << ".\n\n";
      return;
    }
    const PlanResult& r = results[*pick];
    md << "**" << r.candidate.id << "**: " << settings_text(r.candidate) << "; " << r.candidate.racks << " rack(s), "
       << r.candidate.gpus << " GPUs, **" << fixed(r.normal->cost_per_h, 2) << " " << cur << "/h** (GPUs "
       << fixed(r.candidate.gpu_cost_per_h, 2) << ", energy " << fixed(r.normal->cost_per_h - r.candidate.gpu_cost_per_h, 2)
       << ")\n\n";
    const PlanOutcome& out = failure ? *r.failure : *r.normal;
    for (const PlanSlo& slo : plan.slos)
      md << "- " << slo.name() << " " << general(out.latency_s.at(slo.name())) << " s (limit " << general(slo.max_s)
         << " s)\n";
    md << "- availability " << general(out.availability)
       << (plan.availability_min >= 0 ? " (at least " + general(plan.availability_min) + ")" : "") << "\n\n";
  };
  describe("Cheapest meeting the SLOs", a.chosen, false);
  if (plan.racks_down > 0)
    describe(("Cheapest meeting them with " + std::to_string(plan.racks_down) + " rack(s) down").c_str(),
             a.chosen_failure, true);
  auto table = [&](const char* title, const std::vector<size_t>& set, bool failure) {
    md << "## " << title << "\n\n| candidate | settings | cost " << cur << "/h | " << a.metric << " | meets |\n|---|---|---:|---:|---|\n";
    for (size_t i : set) {
      const PlanOutcome& out = failure ? *results[i].failure : *results[i].normal;
      md << "| " << results[i].candidate.id << " | " << settings_text(results[i].candidate) << " | "
         << fixed(results[i].normal->cost_per_h, 2) << " | " << general(latency_of(out)) << " | "
         << (out.meets ? "yes" : "no") << " |\n";
    }
    md << "\n";
  };
  table("Cost-latency frontier", a.front, false);
  if (plan.racks_down > 0)
    table(("Cost-latency frontier with " + std::to_string(plan.racks_down) + " rack(s) down").c_str(), a.front_failure,
          true);
  md << "Every candidate, with the reason it was pruned or its measurements: `plan.csv`.\n";
  return md.str();
}

}  // namespace aif::sim
