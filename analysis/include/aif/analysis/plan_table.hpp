// The table of a capacity plan's candidates, DIR/plan.csv (docs/plan.md, "Outputs"). `aifsim plan` writes it and
// `aifsim report` and the tests read it through these functions only, so that the file has one set of rules:
//   - RFC 4180 cells: a cell holding a comma, a double quote or a line break is quoted, its quotes doubled;
//   - numbers as printf's %.6g; a latency of requests that never finished as "unfinished" (read back as +infinity);
//     an empty cell where there is no value (no run, or no bound for an invalid candidate);
//   - columns: id, one per plan dimension, racks, gpus, gpu_cost_per_h, status, reason, min_step_s,
//     utilization_bound, one "<slo>_s" per SLO, availability, facility_energy_kwh, cost_per_h, meets; with a stated
//     failure of k racks the same for that run as "n<k>.<slo>_s", "n<k>.availability", "n<k>.meets"; then
//     frontier and chosen ("yes", "with failure", "both" or empty).
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace aif::analysis {

// What one run of a candidate measured.
struct PlanRunCells {
  std::vector<double> latency_s;  // one per PlanTable::slos, +infinity when unfinished
  double availability = 0;
  std::optional<double> facility_energy_kwh, cost_per_h;  // the run without the failure only
  bool meets = false;
};

struct PlanRow {
  std::string id;
  std::vector<std::string> settings;  // one per PlanTable::dimensions, as the plan gives them
  int racks = 0, gpus = 0;
  double gpu_cost_per_h = 0;
  std::string status;  // invalid, pruned: analytic bound, pruned: cost, run failed, simulated
  std::string reason;
  std::optional<double> min_step_s, utilization_bound;  // absent for an invalid candidate
  std::optional<PlanRunCells> normal, failure;           // the runs without and with the stated failure
  std::string frontier, chosen;
};

struct PlanTable {
  std::vector<std::string> dimensions;  // the plan's space, in order
  std::vector<std::string> slos;        // SLO metric names, e.g. "ttft_p99"
  int racks_down = 0;                   // the stated failure (0: none)
  std::vector<PlanRow> rows;
};

// The header and the rows as the file's cells, unquoted (what a report shows).
std::vector<std::vector<std::string>> plan_table_cells(const PlanTable& table);
std::string plan_table_csv(const PlanTable& table);
// Writes plan_table_csv(table) to "<path>.tmp" and renames it into place. Throws ResultsError.
void write_plan_table(const std::string& path, const PlanTable& table);
// Throws ResultsError "<file>:<line>: <column>: what was expected" for a table these rules did not write.
PlanTable parse_plan_table(const std::string& csv, const std::string& file);
PlanTable read_plan_table(const std::string& path);

}  // namespace aif::analysis
