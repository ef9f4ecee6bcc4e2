// The plan table's one contract (aif/analysis/plan_table.hpp): what `aifsim plan` writes, the report and the tests
// read back unchanged, with RFC 4180 quoting; a table it did not write is refused with file, line and column.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "aif/analysis/plan_table.hpp"
#include "aif/analysis/results.hpp"

using namespace aif::analysis;

namespace {

// Two candidates of a plan over (gpu, tp) with two SLOs and one rack down: one invalid, one simulated whose reason
// holds a comma and a quote, and whose TTFT never finished with the rack down.
PlanTable example() {
  PlanTable t;
  t.dimensions = {"gpu", "tp"};
  t.slos = {"ttft_p99", "tpot_p50"};
  t.racks_down = 1;
  PlanRow invalid;
  invalid.id = "c000";
  invalid.settings = {"A100-80GB", "1"};
  invalid.racks = 1;
  invalid.gpus = 1;
  invalid.gpu_cost_per_h = 1.5;
  invalid.status = "invalid";
  invalid.reason = "the weights, 140 GB, leave no room";
  PlanRow simulated;
  simulated.id = "c001";
  simulated.settings = {"H100-SXM", "4"};
  simulated.racks = 2;
  simulated.gpus = 8;
  simulated.gpu_cost_per_h = 20;
  simulated.status = "simulated";
  simulated.reason = "said \"fine\", twice";
  simulated.min_step_s = 0.0125;
  simulated.utilization_bound = 0.25;
  simulated.normal = PlanRunCells{{0.5, 0.0484}, 1, 12.25, 21.3, true};
  simulated.failure = PlanRunCells{{std::numeric_limits<double>::infinity(), 0.06}, 0.97, std::nullopt, std::nullopt,
                                   false};
  simulated.frontier = "yes";
  simulated.chosen = "yes";
  t.rows = {invalid, simulated};
  return t;
}

std::string error_of(const std::string& csv) {
  try {
    parse_plan_table(csv, "plan.csv");
  } catch (const ResultsError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST(PlanTable, WritesTheDocumentedColumnsAndQuotesOnlyWhatNeedsIt) {
  const std::string csv = plan_table_csv(example());
  const std::string header = csv.substr(0, csv.find('\n'));
  EXPECT_EQ(header,
            "id,gpu,tp,racks,gpus,gpu_cost_per_h,status,reason,min_step_s,utilization_bound,ttft_p99_s,tpot_p50_s,"
            "availability,facility_energy_kwh,cost_per_h,meets,n1.ttft_p99_s,n1.tpot_p50_s,n1.availability,n1.meets,"
            "frontier,chosen");
  // The invalid candidate: a reason with a comma is quoted; no bound, no runs: empty cells.
  EXPECT_NE(csv.find("\nc000,A100-80GB,1,1,1,1.5,invalid,\"the weights, 140 GB, leave no room\",,,,,,,,,,,,,,\n"),
            std::string::npos)
      << csv;
  // %.6g numbers; quotes doubled; the unfinished latency as a word.
  EXPECT_NE(csv.find("\nc001,H100-SXM,4,2,8,20,simulated,\"said \"\"fine\"\", twice\",0.0125,0.25,0.5,0.0484,1,12.25,"
                     "21.3,yes,unfinished,0.06,0.97,no,yes,yes\n"),
            std::string::npos)
      << csv;
}

TEST(PlanTable, ReadsBackWhatItWrote) {
  const PlanTable t = example();
  const PlanTable back = parse_plan_table(plan_table_csv(t), "plan.csv");
  EXPECT_EQ(back.dimensions, t.dimensions);
  EXPECT_EQ(back.slos, t.slos);
  EXPECT_EQ(back.racks_down, 1);
  ASSERT_EQ(back.rows.size(), 2u);
  EXPECT_EQ(back.rows[0].reason, t.rows[0].reason);
  EXPECT_FALSE(back.rows[0].min_step_s.has_value());
  EXPECT_FALSE(back.rows[0].normal.has_value());
  const PlanRow& r = back.rows[1];
  EXPECT_EQ(r.settings, t.rows[1].settings);
  EXPECT_EQ(r.reason, "said \"fine\", twice");
  EXPECT_EQ(r.gpus, 8);
  ASSERT_TRUE(r.normal && r.failure);
  EXPECT_EQ(r.normal->latency_s, t.rows[1].normal->latency_s);  // all exact in 6 significant digits
  EXPECT_EQ(*r.normal->cost_per_h, 21.3);
  EXPECT_TRUE(std::isinf(r.failure->latency_s[0]));
  EXPECT_FALSE(r.failure->meets);
  EXPECT_FALSE(r.failure->cost_per_h.has_value());
  // And the text is stable: writing what was read gives the same bytes.
  EXPECT_EQ(plan_table_csv(back), plan_table_csv(t));
}

TEST(PlanTable, RefusesATableItDidNotWriteNamingLineAndColumn) {
  const std::string csv = plan_table_csv(example());
  const std::string header = csv.substr(0, csv.find('\n') + 1);
  EXPECT_EQ(error_of(""), "plan.csv:1: empty: not a plan table");
  EXPECT_EQ(error_of("id,gpu,status\n"), "plan.csv:1: no column 'racks': not a plan table");
  // A row one cell short (the header has 22).
  EXPECT_EQ(error_of(header + "c000,A100-80GB,1,1,1,1.5,invalid,x,,,,,,,,,,,,,\n"),
            "plan.csv:2: expected 22 cells as in the header, found 21");
  EXPECT_EQ(error_of(header + "c000,A100-80GB,1,one,1,1.5,invalid,x,,,,,,,,,,,,,,\n"),
            "plan.csv:2: racks: expected a number, found 'one'");
  EXPECT_EQ(error_of(header + "c000,A100-80GB,1,1,1,1.5,invalid,\"x,,,,,,,,,,,,,,\n"),
            "plan.csv:2: a quoted cell is not closed");
  // A run with latencies but no verdict.
  EXPECT_EQ(error_of(header + "c001,H100-SXM,4,2,8,20,simulated,x,0.01,0.2,0.5,0.05,1,12,21,,,,,,,\n"),
            "plan.csv:2: ttft_p99_s: expected an empty cell, as the run's 'meets' is empty, found '0.5'");
  EXPECT_EQ(error_of(header + "c001,H100-SXM,4,2,8,20,simulated,x,0.01,0.2,0.5,0.05,1,12,21,maybe,,,,,,\n"),
            "plan.csv:2: meets: expected yes, no or an empty cell, found 'maybe'");
}
