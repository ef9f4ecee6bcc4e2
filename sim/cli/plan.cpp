#include "plan.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <sstream>

#include "aif/analysis/report.hpp"
#include "aif/sim/plan.hpp"
#include "aif/sim/scenario.hpp"
#include "sweep_points.hpp"

namespace aif::cli {

namespace fs = std::filesystem;

namespace {

enum class Status { INVALID, PRUNED_ANALYTIC, PRUNED_COST, FAILED, SIMULATED };

const char* status_text(Status s) {
  switch (s) {
    case Status::INVALID: return "invalid";
    case Status::PRUNED_ANALYTIC: return "pruned: analytic bound";
    case Status::PRUNED_COST: return "pruned: cost";
    case Status::FAILED: return "run failed";
    case Status::SIMULATED: return "simulated";
  }
  return "?";
}

struct Row {
  sim::PlanCandidate candidate;
  sim::AnalyticBound bound;
  Status status = Status::SIMULATED;
  std::string reason;
  std::optional<sim::PlanOutcome> normal, failure;  // the runs without and with the stated failure
  // Meets the SLOs, and with the stated failure too when there is one.
  bool meets_all(bool with_failure) const {
    return normal && normal->meets && (!with_failure || (failure && failure->meets));
  }
};

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

std::string settings_text(const sim::PlanCandidate& c) {
  std::string s;
  for (const auto& [name, value] : c.settings) s += (s.empty() ? "" : ", ") + name + " " + value;
  return s;
}

sim::SweepPoint point_of(const std::string& id, size_t index, const std::vector<std::string>& overrides,
                         uint64_t seed) {
  sim::SweepPoint p;
  p.id = id;
  p.index = static_cast<int>(index);
  for (const std::string& o : overrides) {
    const size_t eq = o.find('=');
    p.values.emplace_back(o.substr(0, eq), o.substr(eq + 1));
  }
  p.seed = seed;
  return p;
}

}  // namespace

CLI::App* add_plan_command(CLI::App& app, PlanOptions& options) {
  CLI::App* plan = app.add_subcommand(
      "plan", "Cheapest deployment of a service meeting its SLOs (with a stated failure): prune, simulate, frontier");
  plan->add_option("plan", options.plan, "Plan file (YAML): base scenario, search space, SLOs, cost model")->required();
  plan->add_option("-o,--output", options.output, "Output folder (points/, plan.csv, plan.md)")->required();
  plan->add_option("--jobs", options.jobs, "Candidates simulated at once")->check(CLI::PositiveNumber);
  plan->add_flag("--dry-run", options.dry_run, "Enumerate and bound the candidates; simulate none");
  plan->add_flag("--check-pruned", options.check_pruned,
                 "Also simulate the candidates the perf model pruned and check that each misses the SLOs");
  return plan;
}

int run_plan(const PlanOptions& o) {
  const sim::PlanConfig plan = sim::load_plan(o.plan);
  std::vector<Row> rows;
  for (sim::PlanCandidate& c : sim::enumerate_candidates(plan)) {
    Row row;
    row.candidate = std::move(c);
    if (!row.candidate.invalid.empty()) {
      row.status = Status::INVALID;
      row.reason = row.candidate.invalid;
    } else {
      try {
        row.bound = sim::analytic_bound(plan, *row.candidate.scenario);
        if (!row.bound.infeasible.empty()) {
          row.status = Status::PRUNED_ANALYTIC;
          row.reason = row.bound.infeasible;
        }
      } catch (const sim::ScenarioError& e) {  // e.g. the weights leave no room for a KV cache
        row.status = Status::INVALID;
        row.reason = e.what();
      }
    }
    rows.push_back(std::move(row));
  }
  // Cheapest first (GPU cost: a lower bound of the whole cost), ties in enumeration order.
  std::vector<size_t> order;
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i].status == Status::SIMULATED) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return rows[a].candidate.gpu_cost_per_h < rows[b].candidate.gpu_cost_per_h;
  });
  const size_t invalid = std::count_if(rows.begin(), rows.end(), [](const Row& r) { return r.status == Status::INVALID; });
  const size_t pruned = std::count_if(rows.begin(), rows.end(),
                                      [](const Row& r) { return r.status == Status::PRUNED_ANALYTIC; });
  std::printf("plan     %zu candidates: %zu invalid, %zu pruned by the perf model, %zu to simulate cheapest first\n",
              rows.size(), invalid, pruned, order.size());
  if (o.dry_run) {
    for (const Row& r : rows)
      std::printf("%s  %-40s  %3d GPUs  %10.2f %s/h  %s%s%s\n", r.candidate.id.c_str(),
                  settings_text(r.candidate).c_str(), r.candidate.gpus, r.candidate.gpu_cost_per_h,
                  plan.cost.currency.c_str(), r.status == Status::SIMULATED ? "to simulate" : status_text(r.status),
                  r.reason.empty() ? "" : ": ", r.reason.c_str());
    return 0;
  }

  // The runs, as sweep points: the same child processes, files and resume check as `aifsim sweep`.
  SweepContext ctx;
  ctx.config.base_path = plan.base_path;
  ctx.dir = o.output;
  ctx.pdir = ctx.dir / "points";
  ctx.self = fs::read_symlink("/proc/self/exe").string();
  fs::create_directories(ctx.pdir);
  const uint64_t seed = plan.base->simulation.seed;
  // Point 2i: candidate i as it is; point 2i + 1: with the stated failure.
  for (size_t i = 0; i < rows.size(); ++i) {
    const sim::PlanCandidate& c = rows[i].candidate;
    ctx.points.push_back(point_of(c.id, i, c.overrides, seed));
    std::vector<std::string> with_failure = c.overrides;
    if (plan.racks_down > 0 && c.invalid.empty()) {
      for (const std::string& f : sim::failure_overrides(plan, *c.scenario))
        with_failure.push_back(f);
    }
    ctx.points.push_back(point_of(c.id + "-n" + std::to_string(plan.racks_down), i, with_failure, seed));
  }
  double best = std::numeric_limits<double>::infinity();  // cheapest cost meeting everything asked
  PointProcesses children(ctx);
  std::vector<size_t> ready;  // points done before (resume) or just ended, to account for
  std::vector<size_t> failure_queue;
  size_t next = 0, simulated = 0, reused = 0;
  auto account = [&](size_t point, bool ok) {
    Row& row = rows[point / 2];
    const bool failure_run = point % 2 == 1;
    if (!ok) {
      row.status = Status::FAILED;
      row.reason = "see " + (ctx.pdir / (ctx.points[point].id + ".error")).string();
      std::printf("  %s FAILED (%s)\n", ctx.points[point].id.c_str(), row.reason.c_str());
      return;
    }
    const sim::PlanOutcome out =
        sim::measure_plan_run(plan, row.candidate, (ctx.pdir / (ctx.points[point].id + ".h5")).string());
    (failure_run ? row.failure : row.normal) = out;
    std::printf("  %-10s %-40s %8.2f %s/h  %s%s\n", ctx.points[point].id.c_str(),
                settings_text(row.candidate).c_str(), out.cost_per_h, plan.cost.currency.c_str(),
                out.meets ? "meets the SLOs" : "misses: ", out.misses.c_str());
    std::fflush(stdout);
    if (!failure_run && out.meets && plan.racks_down > 0) failure_queue.push_back(point + 1);
    if (row.meets_all(plan.racks_down > 0)) best = std::min(best, row.normal->cost_per_h);
  };
  auto start = [&](size_t point) {
    if (ctx.done(point)) {
      ++reused;
      account(point, true);
    } else {
      ++simulated;
      children.launch(point);
    }
  };
  while (true) {
    while (static_cast<int>(children.running()) < o.jobs) {
      if (!failure_queue.empty()) {
        const size_t p = failure_queue.front();
        failure_queue.erase(failure_queue.begin());
        start(p);
        continue;
      }
      if (next >= order.size()) break;
      Row& row = rows[order[next]];
      const size_t point = 2 * order[next++];
      // Its GPUs alone cost more than the window above the cheapest feasible: it cannot be cheaper.
      if (row.candidate.gpu_cost_per_h > plan.max_cost_ratio * best) {
        row.status = Status::PRUNED_COST;
        continue;
      }
      start(point);
    }
    if (children.running() == 0 && failure_queue.empty() && next >= order.size()) break;
    if (const auto ended = children.reap(true)) account(ended->index, ended->ok);
  }
  // --check-pruned: the bounds' claim, tested. Every analytically pruned candidate is simulated as it is; one that
  // meets the SLOs would mean a wrong bound (reported, exit 1).
  size_t checked = 0, violated = 0;
  if (o.check_pruned) {
    std::vector<size_t> points;
    for (size_t i = 0; i < rows.size(); ++i)
      if (rows[i].status == Status::PRUNED_ANALYTIC) points.push_back(2 * i);
    auto check = [&](size_t point, bool ok) {
      Row& row = rows[point / 2];
      if (!ok) {
        row.reason += "; the check run failed";
        return;
      }
      const sim::PlanOutcome out =
          sim::measure_plan_run(plan, row.candidate, (ctx.pdir / (ctx.points[point].id + ".h5")).string());
      ++checked;
      if (out.meets) {
        ++violated;
        row.reason += "; CHECK FAILED: simulated, it meets the SLOs";
      } else {
        row.reason += "; checked: simulated, it misses (" + out.misses + ")";
      }
      std::printf("  check %-9s %-40s %s\n", ctx.points[point].id.c_str(), settings_text(row.candidate).c_str(),
                  out.meets ? "MEETS the SLOs: the bound is wrong" : ("misses: " + out.misses).c_str());
      std::fflush(stdout);
    };
    size_t next_check = 0;
    while (next_check < points.size() || children.running() > 0) {
      while (next_check < points.size() && static_cast<int>(children.running()) < o.jobs) {
        const size_t p = points[next_check++];
        if (ctx.done(p)) {
          check(p, true);
        } else {
          ++simulated;
          children.launch(p);
        }
      }
      if (const auto ended = children.reap(true)) check(ended->index, ended->ok);
    }
  }
  // Candidates outside the final window are reported as pruned whichever ran first: the table does not depend on
  // --jobs or timing.
  for (Row& row : rows)
    if (row.status == Status::SIMULATED && row.candidate.gpu_cost_per_h > plan.max_cost_ratio * best) {
      row.status = Status::PRUNED_COST;
      row.normal.reset();
      row.failure.reset();
    }

  // The choices, and the frontiers over the first SLO (or availability when there is no latency SLO).
  const std::string metric = plan.slos.empty() ? "availability" : plan.slos.front().name();
  auto latency_of = [&](const sim::PlanOutcome& out) {
    return plan.slos.empty() ? 1 - out.availability : out.latency_s.at(metric);
  };
  std::optional<size_t> chosen, chosen_failure;
  std::vector<size_t> ran, ran_failure;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    if (r.status != Status::SIMULATED || !r.normal) continue;
    ran.push_back(i);
    if (r.failure) ran_failure.push_back(i);
    if (r.normal->meets && (!chosen || r.normal->cost_per_h < rows[*chosen].normal->cost_per_h)) chosen = i;
    if (plan.racks_down > 0 && r.meets_all(true) &&
        (!chosen_failure || r.normal->cost_per_h < rows[*chosen_failure].normal->cost_per_h))
      chosen_failure = i;
  }
  auto frontier = [&](const std::vector<size_t>& set, bool failure) {
    std::vector<double> cost, latency;
    for (size_t i : set) {
      cost.push_back(rows[i].normal->cost_per_h);
      latency.push_back(latency_of(failure ? *rows[i].failure : *rows[i].normal));
    }
    std::vector<size_t> front;
    for (size_t k : analysis::pareto_front(cost, latency)) front.push_back(set[k]);
    return front;
  };
  const std::vector<size_t> front = frontier(ran, false), front_failure = frontier(ran_failure, true);

  // plan.csv: every candidate.
  std::ostringstream csv;
  csv << "id";
  for (const sim::PlanDimension& d : plan.space) csv << "," << d.name;
  csv << ",racks,gpus,gpu_cost_per_h,status,reason,min_step_s,utilization_bound";
  std::vector<std::string> columns;
  for (const sim::PlanSlo& s : plan.slos) columns.push_back(s.name() + "_s");
  columns.push_back("availability");
  columns.push_back("facility_energy_kwh");
  columns.push_back("cost_per_h");
  columns.push_back("meets");
  for (const std::string& c : columns) csv << "," << c;
  if (plan.racks_down > 0)
    for (const std::string& c : columns)
      if (c != "facility_energy_kwh" && c != "cost_per_h") csv << ",n" << plan.racks_down << "." << c;
  csv << ",frontier,chosen\n";
  auto outcome_cells = [&](const std::optional<sim::PlanOutcome>& out, bool with_cost) {
    std::string s;
    for (const sim::PlanSlo& slo : plan.slos) s += "," + (out ? general(out->latency_s.at(slo.name())) : "");
    s += "," + (out ? general(out->availability) : "");
    if (with_cost) s += "," + (out ? general(out->facility_energy_kwh) : "") + "," + (out ? general(out->cost_per_h) : "");
    s += "," + (out ? std::string(out->meets ? "yes" : "no") : "");
    return s;
  };
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    csv << r.candidate.id;
    for (const auto& [name, value] : r.candidate.settings) csv << "," << csv_cell(value);
    csv << "," << r.candidate.racks << "," << r.candidate.gpus << "," << general(r.candidate.gpu_cost_per_h) << ","
        << status_text(r.status) << "," << csv_cell(r.reason) << ","
        << (r.status == Status::INVALID ? "" : general(r.bound.min_step_s)) << ","
        << (r.status == Status::INVALID ? "" : general(r.bound.utilization));
    csv << outcome_cells(r.normal, true);
    if (plan.racks_down > 0) csv << outcome_cells(r.failure, false);
    const bool on_front = std::find(front.begin(), front.end(), i) != front.end();
    const bool on_front_failure = std::find(front_failure.begin(), front_failure.end(), i) != front_failure.end();
    csv << "," << (on_front ? (on_front_failure ? "both" : "yes") : (on_front_failure ? "with failure" : ""));
    csv << "," << (chosen == i ? (chosen_failure == i ? "both" : "yes") : (chosen_failure == i ? "with failure" : ""))
        << "\n";
  }
  write_atomically(ctx.dir / "plan.csv", csv.str());

  // plan.md: the answer first.
  std::ostringstream md;
  const std::string cur = plan.cost.currency;
  md << "# Plan: " << plan.service << " (" << fs::path(plan.path).filename().string() << ")\n\n";
  md << rows.size() << " candidates: " << invalid << " invalid, " << pruned << " pruned by the perf model, "
     << std::count_if(rows.begin(), rows.end(), [](const Row& r) { return r.status == Status::PRUNED_COST; })
     << " pruned by cost (GPU cost above " << general(plan.max_cost_ratio) << "x the cheapest feasible), " << ran.size()
     << " simulated";
  if (plan.racks_down > 0) md << " (" << ran_failure.size() << " also with " << plan.racks_down << " rack(s) down)";
  md << "; " << simulated << " runs now, " << reused << " reused from an earlier run of this plan.\n\n";
  if (o.check_pruned)
    md << "Pruning checked (--check-pruned): " << checked << " pruned candidate(s) simulated, "
       << (violated ? std::to_string(violated) + " of them MEET the SLOs: a bound is wrong (see plan.csv)"
                    : std::string("every one misses the SLOs"))
       << ".\n\n";
  auto describe = [&](const char* title, const std::optional<size_t>& pick, bool failure) {
    md << "## " << title << "\n\n";
    if (!pick) {
      md << "No candidate meets the SLOs" << (failure ? " with the failure" : "") << ".\n\n";
      return;
    }
    const Row& r = rows[*pick];
    md << "**" << r.candidate.id << "**: " << settings_text(r.candidate) << "; " << r.candidate.racks << " rack(s), "
       << r.candidate.gpus << " GPUs, **" << fixed(r.normal->cost_per_h, 2) << " " << cur << "/h** (GPUs "
       << fixed(r.candidate.gpu_cost_per_h, 2) << ", energy " << fixed(r.normal->cost_per_h - r.candidate.gpu_cost_per_h, 2)
       << ")\n\n";
    const sim::PlanOutcome& out = failure ? *r.failure : *r.normal;
    for (const sim::PlanSlo& slo : plan.slos)
      md << "- " << slo.name() << " " << general(out.latency_s.at(slo.name())) << " s (limit " << general(slo.max_s)
         << " s)\n";
    md << "- availability " << general(out.availability)
       << (plan.availability_min >= 0 ? " (at least " + general(plan.availability_min) + ")" : "") << "\n\n";
  };
  describe("Cheapest meeting the SLOs", chosen, false);
  if (plan.racks_down > 0)
    describe(("Cheapest meeting them with " + std::to_string(plan.racks_down) + " rack(s) down").c_str(),
             chosen_failure, true);
  auto table = [&](const char* title, const std::vector<size_t>& set, bool failure) {
    md << "## " << title << "\n\n| candidate | settings | cost " << cur << "/h | " << metric << " | meets |\n|---|---|---:|---:|---|\n";
    for (size_t i : set) {
      const sim::PlanOutcome& out = failure ? *rows[i].failure : *rows[i].normal;
      md << "| " << rows[i].candidate.id << " | " << settings_text(rows[i].candidate) << " | "
         << fixed(rows[i].normal->cost_per_h, 2) << " | " << general(latency_of(out)) << " | "
         << (out.meets ? "yes" : "no") << " |\n";
    }
    md << "\n";
  };
  table("Cost-latency frontier", front, false);
  if (plan.racks_down > 0)
    table(("Cost-latency frontier with " + std::to_string(plan.racks_down) + " rack(s) down").c_str(), front_failure,
          true);
  md << "Every candidate, with the reason it was pruned or its measurements: `plan.csv`.\n";
  write_atomically(ctx.dir / "plan.md", md.str());
  std::printf("\n%s", md.str().c_str());
  const bool failed_runs =
      std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.status == Status::FAILED; });
  const bool found = plan.racks_down > 0 ? chosen_failure.has_value() : chosen.has_value();
  return found && !failed_runs && violated == 0 ? 0 : 1;
}

}  // namespace aif::cli
