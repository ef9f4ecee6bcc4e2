// Every bundled scenario runs end to end and its key outputs hold together.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "../support/aifsim_process.hpp"
#include "../support/in_glossary.hpp"
#include "../support/results_summary.hpp"
#include "../support/summary_window.hpp"
#include "aif/analysis/stats.hpp"
#include "aif/analysis/summary.hpp"

using namespace aif::testing;
using aif::analysis::ResultsReader;

namespace {

}  // namespace

TEST(DefaultScenario, RunsAndItsSummaryAgreesWithTheRecords) {
  const std::string dir = scratch_dir("default");
  const auto r = run_aifsim("run " + source_path("scenarios/default.yaml") + " -o " + dir + "/default.h5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("energy_per_output_token"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("fingerprint"), std::string::npos);
  ResultsReader res(dir + "/default.h5");
  expect_totals_cover_the_series_window(res, "scenarios/default.yaml");
  expect_every_name_in_the_glossary(res, "scenarios/default.yaml");
  EXPECT_NE(res.meta().at("scenario").find("azure2023_conv.csv"), std::string::npos);

  // The whole Azure conversation trace (19,366 requests) plus the synthetic workload, all drained.
  const double requests = summary_metric(res, "requests");
  EXPECT_EQ(static_cast<double>(res.request_count()), requests);
  EXPECT_EQ(summary_metric(res, "finished") + summary_metric(res, "rejected") + summary_metric(res, "unfinished"), requests);
  EXPECT_EQ(summary_metric(res, "chat.requests"), 19366);

  // Latency percentiles: the live summary's sketch vs exact ones recomputed from /requests.
  const auto exact = aif::analysis::summarize_requests(res);
  const double bound = aif::analysis::QuantileSketch::relative_error_bound();
  for (auto [name, stat] : {std::pair<const char*, const aif::analysis::LatencyStats*>{"ttft", &exact.ttft},
                            {"tpot", &exact.tpot}, {"e2e", &exact.e2e}}) {
    const std::string n = name;
    std::printf("%s p50 exact %.6f summary %.6f; p99 exact %.6f summary %.6f\n", name, stat->p50,
                summary_metric(res, n + "_p50"), stat->p99, summary_metric(res, n + "_p99"));
    EXPECT_NEAR(summary_metric(res, n + "_p50"), stat->p50, 2 * bound * stat->p50);
    EXPECT_NEAR(summary_metric(res, n + "_p99"), stat->p99, 2 * bound * stat->p99);
    EXPECT_NEAR(summary_metric(res, n + "_mean"), stat->mean, 1e-9 * stat->mean);
  }

  // Energy: facility = IT x PUE; GPU energy between all-idle and all-at-TDP (64 H100s, 75 W .. 700 W).
  const double t = summary_metric(res, "simulated_time");
  const double gpu_kwh = summary_metric(res, "gpu_energy"), it_kwh = summary_metric(res, "it_energy");
  EXPECT_NEAR(summary_metric(res, "facility_energy"), 1.3 * it_kwh, 1e-9 * it_kwh);
  // 8 servers beyond their GPUs (the default server model, docs/power.md's worked example): between all idle,
  // (1,200 + 8 x 75) / 0.90 - 600 = 1,400 W each, and all at full load, 8,389.2 - 5,600 = 2,789.2 W each.
  EXPECT_GT(it_kwh - gpu_kwh, 8 * 1400.0 * t / 3.6e6);
  EXPECT_LT(it_kwh - gpu_kwh, 8 * 2789.2 * t / 3.6e6);
  EXPECT_GT(gpu_kwh, 64 * 75.0 * t / 3.6e6);
  EXPECT_LT(gpu_kwh, 64 * 700.0 * t / 3.6e6);
  // The sampled facility power integrates to the exact energy within the sampling error.
  const auto time = res.series_time();
  const auto power = res.series_values("facility_power");
  ASSERT_GT(time.size(), 300u);
  double sampled_j = 0;
  for (size_t i = 0; i + 1 < time.size(); ++i) sampled_j += power[i] * (time[i + 1] - time[i]);
  const double exact_j = summary_metric(res, "facility_energy") * 3.6e6 * (time.back() - time.front()) / t;
  std::printf("facility energy: exact %.1f kWh, from 10 s samples %.1f kWh\n", exact_j / 3.6e6, sampled_j / 3.6e6);
  EXPECT_NEAR(sampled_j, exact_j, 0.02 * exact_j);
}

TEST(ExampleScenarios, EachRunsAndFinishesItsRequests) {
  const std::string dir = scratch_dir("examples");
  int ran = 0;
  for (const auto& entry : std::filesystem::directory_iterator(source_path("scenarios/examples"))) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string out = dir + "/" + entry.path().stem().string() + ".h5";
    // Shortened to 10 simulated minutes so the suite stays quick; the examples' full runs are in their READMEs.
    const auto r = run_aifsim("run " + entry.path().string() + " -q --set simulation.duration=10min -o " + out);
    ASSERT_EQ(r.exit_code, 0) << entry.path() << "\n" << r.output;
    ResultsReader res(out);
    expect_totals_cover_the_series_window(res, "scenarios/examples/" + entry.path().filename().string(),
                                          {"simulation.duration=10min"});
    expect_every_name_in_the_glossary(res, entry.path().string());
    const double requests = *res.summary_value("requests");
    EXPECT_GT(requests, 0) << entry.path();
    const double finished = *res.summary_value("finished");
    // Runs without drain stop at the horizon: what is in flight then is counted as unfinished.
    EXPECT_EQ(finished + *res.summary_value("rejected") + *res.summary_value("unfinished"), requests) << entry.path();
    EXPECT_GT(finished, 0.9 * requests) << entry.path();
    EXPECT_EQ(static_cast<double>(res.request_count()), requests) << entry.path();
    ++ran;
  }
  EXPECT_GE(ran, 5);
}

TEST(Cli, MissingScenarioAndBadOptionExitWithTwo) {
  EXPECT_EQ(run_aifsim("run /nonexistent/scenario.yaml").exit_code, 2);
  EXPECT_EQ(run_aifsim("run " + source_path("scenarios/default.yaml") + " --no-such-option").exit_code, 2);
  const auto bad_set = run_aifsim("validate " + source_path("scenarios/default.yaml") + " --set simulation.seed=abc");
  EXPECT_EQ(bad_set.exit_code, 2);
  EXPECT_NE(bad_set.output.find("simulation.seed"), std::string::npos) << bad_set.output;
  const auto version = run_aifsim("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.output.find("aifsim "), std::string::npos);
}

// What a user who mistypes sees: the closest command, values from the command line named as such (no line 0), a
// scenario whose service gets no requests said so, and --help pointing at examples and the format.
TEST(Cli, MessagesNameWhatTheUserTyped) {
  const auto typo = run_aifsim("rnu " + source_path("scenarios/default.yaml"));
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.output.find("'rnu' is not an aifsim command; did you mean 'run'?"), std::string::npos) << typo.output;
  EXPECT_NE(run_aifsim("valdiate x.yaml").output.find("did you mean 'validate'?"), std::string::npos);  // a swap
  EXPECT_NE(run_aifsim("rep").output.find("did you mean 'report'?"), std::string::npos);              // a prefix
  const auto far = run_aifsim("xyzzy");
  EXPECT_EQ(far.exit_code, 2);
  EXPECT_EQ(far.output.find("did you mean"), std::string::npos) << far.output;
  EXPECT_NE(far.output.find("commands: run, validate"), std::string::npos) << far.output;

  const auto set = run_aifsim("validate " + source_path("scenarios/default.yaml") + " --set services[0].tp=3");
  EXPECT_EQ(set.exit_code, 2);
  EXPECT_NE(set.output.find("error: --set services[0].tp: expected a divisor"), std::string::npos) << set.output;
  EXPECT_EQ(set.output.find(":0:"), std::string::npos) << set.output;
  EXPECT_EQ(set.output.find("<--set>"), std::string::npos) << set.output;

  // tests/data/scenarios/power_chain_idle.yaml has one service, "idle", and no workloads section.
  const auto idle = run_aifsim("validate " + source_path("tests/data/scenarios/power_chain_idle.yaml"));
  EXPECT_EQ(idle.exit_code, 0) << idle.output;
  EXPECT_NE(idle.output.find("warning: " + source_path("tests/data/scenarios/power_chain_idle.yaml") +
                             ": services[0]: no workload sends requests to service 'idle' (the scenario has no "
                             "workloads section)"),
            std::string::npos)
      << idle.output;
  const auto busy = run_aifsim("validate " + source_path("scenarios/default.yaml"));
  EXPECT_EQ(busy.output.find("warning:"), std::string::npos) << busy.output;

  const auto help = run_aifsim("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("Examples:\n  aifsim run scenarios/default.yaml"), std::string::npos) << help.output;
  EXPECT_NE(help.output.find("scenarios/README.md"), std::string::npos);
  EXPECT_NE(help.output.find("docs/glossary.md"), std::string::npos);
}

// docs/glossary.md is what `aifsim glossary --markdown` prints (the table the report and the GUI use), and a name
// is looked up through its pattern.
TEST(Cli, GlossaryDocIsTheGlossary) {
  const auto md = run_aifsim("glossary --markdown");
  ASSERT_EQ(md.exit_code, 0);
  std::ifstream in(source_path("docs/glossary.md"));
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(md.output, doc) << "docs/glossary.md is stale: aifsim glossary --markdown > docs/glossary.md";
  const auto one = run_aifsim("glossary chat.ttft_p99");
  EXPECT_EQ(one.exit_code, 0);
  EXPECT_EQ(one.output.rfind("chat.ttft_p99 (", 0), 0u) << one.output;
  EXPECT_EQ(run_aifsim("glossary no.such.metric").exit_code, 2);
}

// The two 1,024-GPU examples differ only in the rail switches' oversubscription (1 vs 4): the training job, whose
// DP rings cross the spines, slows down and exposes more communication; the site's outputs hang together.
TEST(ExampleScenarios, OversubscribedSpineSlowsTheTrainingJob) {
  const std::string dir = scratch_dir("rail_examples");
  std::map<std::string, std::map<std::string, double>> summary;
  for (const std::string name : {"rail_1024_train_and_serve", "rail_1024_train_and_serve_oversubscribed"}) {
    const auto r = run_aifsim("run " + source_path("scenarios/examples/" + name + ".yaml") +
                              " -q --set simulation.duration=5min -o " + dir + "/" + name + ".h5");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    ResultsReader res(dir + "/" + name + ".h5");
    for (const auto& e : res.summary()) summary[name][e.name] = e.value;
    // Every step record adds up, and the summary counts them.
    const auto steps = res.job_steps();
    ASSERT_GT(steps.size(), 10u);
    EXPECT_EQ(static_cast<double>(steps.size()), summary[name].at("job.pretrain-70b.steps"));
    for (const auto& s : steps)
      EXPECT_NEAR(s.end_s - s.start_s, s.compute_s + s.exposed_comm_s + s.checkpoint_s, 1e-6) << "step " << s.step;
    // Every finished request of the disaggregated service moved its KV cache once.
    EXPECT_EQ(summary[name].at("chat.kv_transfers"), summary[name].at("chat.finished"));
    // The uplinks carried the gradients: some of the busiest links are uplinks, with a series per sample.
    const auto links = res.busiest_links();
    ASSERT_FALSE(links.empty());
    EXPECT_EQ(links.front().util.size(), res.series_time().size());
    EXPECT_GT(summary[name].at("fabric.uplink.bytes"), 0);
  }
  const auto& base = summary["rail_1024_train_and_serve"];
  const auto& over = summary["rail_1024_train_and_serve_oversubscribed"];
  std::printf("step time: %.4f s non-blocking, %.4f s at 4:1; exposed communication %.3f vs %.3f\n",
              base.at("job.pretrain-70b.step_time_mean"), over.at("job.pretrain-70b.step_time_mean"),
              base.at("job.pretrain-70b.comm_share"), over.at("job.pretrain-70b.comm_share"));
  EXPECT_GT(over.at("job.pretrain-70b.step_time_mean"), base.at("job.pretrain-70b.step_time_mean") * 1.01);
  EXPECT_GT(over.at("job.pretrain-70b.comm_share"), base.at("job.pretrain-70b.comm_share"));
  // The same bytes cross the uplinks (same jobs, same steps) over a quarter of the capacity: 4x the utilization.
  EXPECT_NEAR(over.at("fabric.uplink.mean_utilization") / base.at("fabric.uplink.mean_utilization"), 4.0, 0.4);
}
