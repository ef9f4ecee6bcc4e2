// The closed loop, short: calibrate on this machine, serve a slice of the Azure trace with the real
// engine, simulate the same requests, and check the simulator stays close. The tight targets
// (docs/validation.md) are benchmark figures; this guards against a broken model.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <tuple>
#include <vector>
#include <sys/wait.h>

#include "../support/aifsim_process.hpp"
#include "aif/analysis/stats.hpp"
#include "aif/analysis/validate.hpp"
#include "aif/inputs/calibration.hpp"

using namespace aif::testing;

namespace {

int run(const std::string& cmd) {
  const int status = std::system((cmd + " > /dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Median over the rows both tables time of (after / before): how much slower the machine ran the same operators at
// the second calibration than at the first.
double operator_drift(const std::string& before, const std::string& after) {
  const auto a = aif::sim::read_calibration_csv(before), b = aif::sim::read_calibration_csv(after);
  std::map<std::tuple<std::string, int, int, int, int>, double> first;
  for (const auto& r : a.rows) first[{r.op, r.tp, r.tokens, r.batch, r.kv_len}] = r.median_s;
  std::vector<double> ratios;
  for (const auto& r : b.rows) {
    const auto it = first.find({r.op, r.tp, r.tokens, r.batch, r.kv_len});
    if (it != first.end() && it->second > 0) ratios.push_back(r.median_s / it->second);
  }
  return aif::analysis::percentile(ratios, 50);
}

}  // namespace

TEST(EngineVsSim, TinyModelOnAzureSlice) {
  const std::string engine = std::string(AIF_BINARY_DIR) + "/kernels/aifsim-engine";
  if (!std::filesystem::exists(engine)) GTEST_SKIP() << "kernels/ not built (AIF_BUILD_KERNELS=OFF)";
  const std::string dir = scratch_dir("engine_vs_sim");
  auto calibrate = [&](const std::string& table) {
    return run(aifsim_binary() + " calibrate --device cpu-local --model tiny-llama --grid small --threads 2 -o " + table);
  };
  // The served run is bracketed by two calibrations. On a shared VM the machine's speed moves (a neighbour takes the
  // cores for a while); the run saw one of the machines the two calibrations saw, or a machine between them.
  ASSERT_EQ(calibrate(dir + "/before.csv"), 0);
  ASSERT_EQ(run(engine + " serve --model tiny-llama --threads 2 --trace " +
                source_path("data/traces/azure2023_conv.csv") +
                " --max-requests 40 --max-prompt 512 --max-output 64 --rate-scale 1 -o " + dir + "/measured.h5"),
            0);
  ASSERT_EQ(calibrate(dir + "/after.csv"), 0);
  std::printf("operators at the second calibration: %.3fx the time of the first (median over rows)\n",
              operator_drift(dir + "/before.csv", dir + "/after.csv"));
  aif::analysis::ResultsReader measured(dir + "/measured.h5");
  std::map<std::string, double> err;  // per metric, the smaller error of the two calibrations
  for (const std::string table : {"before", "after"}) {
    const auto v = run_aifsim("validate-against " + dir + "/measured.h5 --scenario " +
                              source_path("scenarios/validation/cpu-small-llama.yaml") +
                              " --set services[0].perf.table=" + dir + "/" + table + ".csv -o " + dir + "/simulated-" +
                              table + ".h5 --report " + dir + "/report-" + table + ".md");
    ASSERT_EQ(v.exit_code, 0) << v.output;
    std::printf("with the %s calibration:\n%s\n", table.c_str(), v.output.c_str());
    aif::analysis::ResultsReader simulated(dir + "/simulated-" + table + ".h5");
    for (const auto& m : aif::analysis::compare_request_metrics(measured, simulated)) {
      const double e = std::fabs(m.relative_error());
      err[m.name] = err.count(m.name) ? std::min(err[m.name], e) : e;
    }
  }
  // Bounds: a broken model (a missing operator, a unit slip, a wrong scheduler limit) is off by 2x or
  // more with either calibration. A working one, with the small grid and 40 requests of this short check, measured
  // between -13 % and +32 % over repeated runs on this shared 2-core VM, and TTFT p50 between +41.5 % and +67.9 % in
  // four runs since the prefill-pair overhead term (the small grid's fit overpredicts long prefills); one CI run with
  // a single calibration measured +92.8 %, its served prefills 1.7x faster than the calibration had timed them
  // (docs/validation.md). So the guard is 80 % for TTFT, still short of a 2x error, and 35 % for the rest, each met by
  // at least one of the two calibrations. The targets proper are benchmark figures.
  EXPECT_EQ(err.at("finished"), 0.0);
  EXPECT_LT(err.at("tpot_p50"), 0.35);
  EXPECT_LT(err.at("e2e_p50"), 0.35);
  EXPECT_LT(err.at("e2e_p99"), 0.35);
  EXPECT_LT(err.at("ttft_p50"), 0.80);
  const auto steps = measured.iterations();
  EXPECT_GT(steps.size(), 500u);

  // Refit the overhead on the served steps, reusing the measured table: the old fit is replaced.
  const auto refit = run_aifsim("calibrate --device cpu-local --model tiny-llama --table " + dir + "/before.csv" +
                                " --fit-from " + dir + "/measured.h5 -o " + dir + "/refit.csv");
  ASSERT_EQ(refit.exit_code, 0) << refit.output;
  const std::string text = read_bytes(dir + "/refit.csv");
  size_t fits = 0;
  for (size_t at = text.find("# iteration_overhead_s:"); at != std::string::npos;
       at = text.find("# iteration_overhead_s:", at + 1))
    ++fits;
  EXPECT_EQ(fits, 1u) << "exactly one fit in the header";
  const std::string table = read_bytes(dir + "/before.csv");
  EXPECT_EQ(text.substr(text.find("\nop,")), table.substr(table.find("\nop,"))) << "the measured rows are kept as they were";
}
