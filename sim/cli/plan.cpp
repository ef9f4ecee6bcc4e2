#include "plan.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <sstream>

#include "aif/analysis/plan_table.hpp"
#include "aif/analysis/report.hpp"
#include "aif/studies/plan.hpp"
#include "aif/studies/plan_answer.hpp"
#include "aif/scenario/scenario.hpp"
#include "files.hpp"
#include "sweep_points.hpp"

namespace aif::cli {

namespace fs = std::filesystem;

namespace {

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
  plan->add_flag("--no-limits", options.no_limits, "Run each candidate even beyond the size limits (docs/reliability.md)");
  plan->add_flag("--check-pruned", options.check_pruned,
                 "Also simulate the candidates the perf model pruned and check that each misses the SLOs");
  return plan;
}

int run_plan(const PlanOptions& o) {
  const sim::PlanConfig plan = sim::load_plan(o.plan);
  std::vector<sim::PlanResult> rows;
  for (sim::PlanCandidate& c : sim::enumerate_candidates(plan)) {
    sim::PlanResult row;
    row.candidate = std::move(c);
    if (!row.candidate.invalid.empty()) {
      row.status = sim::PlanStatus::INVALID;
      row.reason = row.candidate.invalid;
    } else {
      try {
        row.bound = sim::analytic_bound(plan, *row.candidate.scenario);
        if (!row.bound.infeasible.empty()) {
          row.status = sim::PlanStatus::PRUNED_ANALYTIC;
          row.reason = row.bound.infeasible;
        }
      } catch (const sim::ScenarioError& e) {  // e.g. the weights leave no room for a KV cache
        row.status = sim::PlanStatus::INVALID;
        row.reason = e.what();
      }
    }
    rows.push_back(std::move(row));
  }
  // Cheapest first (GPU cost: a lower bound of the whole cost), ties in enumeration order.
  std::vector<size_t> order;
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i].status == sim::PlanStatus::SIMULATED) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return rows[a].candidate.gpu_cost_per_h < rows[b].candidate.gpu_cost_per_h;
  });
  const size_t invalid = std::count_if(rows.begin(), rows.end(), [](const sim::PlanResult& r) { return r.status == sim::PlanStatus::INVALID; });
  const size_t pruned = std::count_if(rows.begin(), rows.end(),
                                      [](const sim::PlanResult& r) { return r.status == sim::PlanStatus::PRUNED_ANALYTIC; });
  std::printf("plan     %zu candidates: %zu invalid, %zu pruned by the perf model, %zu to simulate cheapest first\n",
              rows.size(), invalid, pruned, order.size());
  if (o.dry_run) {
    for (const sim::PlanResult& r : rows)
      std::printf("%s  %-40s  %3d GPUs  %10.2f %s/h  %s%s%s\n", r.candidate.id.c_str(),
                  sim::settings_text(r.candidate).c_str(), r.candidate.gpus, r.candidate.gpu_cost_per_h,
                  plan.cost.currency.c_str(), r.status == sim::PlanStatus::SIMULATED ? "to simulate" : sim::to_string(r.status),
                  r.reason.empty() ? "" : ": ", r.reason.c_str());
    return 0;
  }

  // The runs, as sweep points: the same child processes, files and resume check as `aifsim sweep`.
  SweepContext ctx;
  ctx.config.base_path = plan.base_path;
  ctx.dir = o.output;
  ctx.pdir = ctx.dir / "points";
  ctx.self = fs::read_symlink("/proc/self/exe").string();
  ctx.no_limits = o.no_limits;
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
  size_t next = 0;
  sim::PlanRunStats stats;
  stats.check_pruned = o.check_pruned;
  auto account = [&](size_t point, bool ok) {
    sim::PlanResult& row = rows[point / 2];
    const bool failure_run = point % 2 == 1;
    if (!ok) {
      row.status = sim::PlanStatus::FAILED;
      row.reason = "see " + (ctx.pdir / (ctx.points[point].id + ".error")).string();
      std::printf("  %s FAILED (%s)\n", ctx.points[point].id.c_str(), row.reason.c_str());
      return;
    }
    const sim::PlanOutcome out =
        sim::measure_plan_run(plan, row.candidate, (ctx.pdir / (ctx.points[point].id + ".h5")).string());
    (failure_run ? row.failure : row.normal) = out;
    std::printf("  %-10s %-40s %8.2f %s/h  %s%s\n", ctx.points[point].id.c_str(),
                sim::settings_text(row.candidate).c_str(), out.cost_per_h, plan.cost.currency.c_str(),
                out.meets ? "meets the SLOs" : "misses: ", out.misses.c_str());
    std::fflush(stdout);
    if (!failure_run && out.meets && plan.racks_down > 0) failure_queue.push_back(point + 1);
    if (row.meets_all(plan.racks_down > 0)) best = std::min(best, row.normal->cost_per_h);
  };
  auto start = [&](size_t point) {
    if (ctx.done(point)) {
      ++stats.reused;
      account(point, true);
    } else {
      ++stats.simulated;
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
      sim::PlanResult& row = rows[order[next]];
      const size_t point = 2 * order[next++];
      // Its GPUs alone cost more than the window above the cheapest feasible: it cannot be cheaper.
      if (row.candidate.gpu_cost_per_h > plan.max_cost_ratio * best) {
        row.status = sim::PlanStatus::PRUNED_COST;
        continue;
      }
      start(point);
    }
    if (children.running() == 0 && failure_queue.empty() && next >= order.size()) break;
    if (const auto ended = children.reap(true)) account(ended->index, ended->ok);
  }
  // --check-pruned: the bounds' claim, tested. Every analytically pruned candidate is simulated as it is; one that
  // meets the SLOs would mean a wrong bound (reported, exit 1).
  if (o.check_pruned) {
    std::vector<size_t> points;
    for (size_t i = 0; i < rows.size(); ++i)
      if (rows[i].status == sim::PlanStatus::PRUNED_ANALYTIC) points.push_back(2 * i);
    auto check = [&](size_t point, bool ok) {
      sim::PlanResult& row = rows[point / 2];
      if (!ok) {
        row.reason += "; the check run failed";
        return;
      }
      const sim::PlanOutcome out =
          sim::measure_plan_run(plan, row.candidate, (ctx.pdir / (ctx.points[point].id + ".h5")).string());
      ++stats.checked;
      if (out.meets) {
        ++stats.violated;
        row.reason += "; CHECK FAILED: simulated, it meets the SLOs";
      } else {
        row.reason += "; checked: simulated, it misses (" + out.misses + ")";
      }
      std::printf("  check %-9s %-40s %s\n", ctx.points[point].id.c_str(), sim::settings_text(row.candidate).c_str(),
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
          ++stats.simulated;
          children.launch(p);
        }
      }
      if (const auto ended = children.reap(true)) check(ended->index, ended->ok);
    }
  }
  // Candidates outside the final window are reported as pruned whichever ran first: the table does not depend on
  // --jobs or timing.
  for (sim::PlanResult& row : rows)
    if (row.status == sim::PlanStatus::SIMULATED && row.candidate.gpu_cost_per_h > plan.max_cost_ratio * best) {
      row.status = sim::PlanStatus::PRUNED_COST;
      row.normal.reset();
      row.failure.reset();
    }

  // What the runs found: the choices, plan.csv and plan.md (aif/studies/plan_answer.hpp).
  const sim::PlanAnswer answer = sim::plan_answer(plan, rows);
  analysis::write_plan_table((ctx.dir / "plan.csv").string(), sim::plan_table(plan, rows, answer));
  const std::string md = sim::plan_markdown(plan, rows, answer, stats);
  write_atomically(ctx.dir / "plan.md", md);
  std::printf("\n%s", md.c_str());
  const bool failed_runs =
      std::any_of(rows.begin(), rows.end(), [](const sim::PlanResult& r) { return r.status == sim::PlanStatus::FAILED; });
  const bool found = plan.racks_down > 0 ? answer.chosen_failure.has_value() : answer.chosen.has_value();
  return found && !failed_runs && stats.violated == 0 ? 0 : 1;
}

}  // namespace aif::cli
