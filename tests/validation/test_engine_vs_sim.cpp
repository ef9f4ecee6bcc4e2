// The closed loop, short: calibrate on this machine, serve a slice of the Azure trace with the real
// engine, simulate the same requests, and check the simulator stays close. The tight targets
// (docs/validation.md) are benchmark figures; this guards against a broken model.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <sys/wait.h>

#include "../support/aifsim_process.hpp"
#include "aif/analysis/validate.hpp"

using namespace aif::testing;

namespace {

int run(const std::string& cmd) {
  const int status = std::system((cmd + " > /dev/null 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST(EngineVsSim, TinyModelOnAzureSlice) {
  const std::string engine = std::string(AIF_BINARY_DIR) + "/kernels/aifsim-engine";
  if (!std::filesystem::exists(engine)) GTEST_SKIP() << "kernels/ not built (AIF_BUILD_KERNELS=OFF)";
  const std::string dir = scratch_dir("engine_vs_sim");
  ASSERT_EQ(run(aifsim_binary() + " calibrate --device cpu-local --model tiny-llama --grid small --threads 2 -o " +
                dir + "/tiny.csv"),
            0);
  ASSERT_EQ(run(engine + " serve --model tiny-llama --threads 2 --trace " +
                source_path("data/traces/azure2023_conv.csv") +
                " --max-requests 40 --max-prompt 512 --max-output 64 --rate-scale 1 -o " + dir + "/measured.h5"),
            0);
  const auto v = run_aifsim("validate-against " + dir + "/measured.h5 --scenario " +
                            source_path("scenarios/validation/cpu-small-llama.yaml") +
                            " --set services[0].perf.table=" + dir + "/tiny.csv -o " + dir + "/simulated.h5 --report " +
                            dir + "/report.md");
  ASSERT_EQ(v.exit_code, 0) << v.output;
  std::printf("%s\n", v.output.c_str());
  aif::analysis::ResultsReader measured(dir + "/measured.h5"), simulated(dir + "/simulated.h5");
  std::map<std::string, double> err;
  for (const auto& m : aif::analysis::compare_request_metrics(measured, simulated)) err[m.name] = m.relative_error();
  // Bounds: a broken model is off by 2x or more; a working one was measured within 3-17 % on this
  // 2-core machine over repeated runs (timing noise of a shared VM included), so 25 % catches the
  // first without flaking on the second. The targets proper are benchmark figures (docs/validation.md).
  EXPECT_EQ(err.at("finished"), 0.0);
  EXPECT_LT(std::fabs(err.at("tpot_p50")), 0.25);
  EXPECT_LT(std::fabs(err.at("e2e_p50")), 0.25);
  EXPECT_LT(std::fabs(err.at("e2e_p99")), 0.25);
  EXPECT_LT(std::fabs(err.at("ttft_p50")), 0.30);
  const auto steps = measured.iterations();
  EXPECT_GT(steps.size(), 500u);
}
