// What a plan run found (aifsim plan, docs/plan.md): the cheapest candidates meeting the SLOs, the cost-latency
// frontiers, the candidates' table (DIR/plan.csv, aif/analysis/plan_table.hpp) and the answer in Markdown (DIR/plan.md).
// The command line runs the candidates; everything it reports is decided here.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "aif/analysis/plan_table.hpp"
#include "aif/studies/plan.hpp"

namespace aif::sim {

enum class PlanStatus { INVALID, PRUNED_ANALYTIC, PRUNED_COST, FAILED, SIMULATED };
// As plan.csv writes it: invalid, pruned: analytic bound, pruned: cost, run failed, simulated.
const char* to_string(PlanStatus status);

// One candidate and what became of it.
struct PlanResult {
  PlanCandidate candidate;
  AnalyticBound bound;
  PlanStatus status = PlanStatus::SIMULATED;
  std::string reason;
  std::optional<PlanOutcome> normal, failure;  // the runs without and with the stated failure
  // Meets the SLOs, and with the stated failure too when there is one.
  bool meets_all(bool with_failure) const {
    return normal && normal->meets && (!with_failure || (failure && failure->meets));
  }
};

// How the candidates were run, for the answer's first lines.
struct PlanRunStats {
  size_t simulated = 0, reused = 0;   // runs done now, and found done by an earlier run of the plan
  bool check_pruned = false;          // --check-pruned: the analytically pruned candidates were simulated too
  size_t checked = 0, violated = 0;   // of those: how many ran, how many met the SLOs (a wrong bound)
};

// The choices among the simulated candidates, and the frontiers over the first SLO (availability without one).
struct PlanAnswer {
  std::string metric;  // the frontier's latency metric (an SLO name, or "availability")
  std::optional<size_t> chosen, chosen_failure;  // cheapest meeting the SLOs; also with the failure
  std::vector<size_t> ran, ran_failure;          // simulated, and also with the failure
  std::vector<size_t> front, front_failure;      // Pareto-optimal in (cost, metric)
};
PlanAnswer plan_answer(const PlanConfig& plan, const std::vector<PlanResult>& results);

// "gpu H100-SXM, tp 4": a candidate's settings in one line.
std::string settings_text(const PlanCandidate& candidate);

analysis::PlanTable plan_table(const PlanConfig& plan, const std::vector<PlanResult>& results, const PlanAnswer& answer);
std::string plan_markdown(const PlanConfig& plan, const std::vector<PlanResult>& results, const PlanAnswer& answer,
                          const PlanRunStats& stats);

}  // namespace aif::sim
