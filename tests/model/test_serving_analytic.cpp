// Analytic checks of the simulated serving path, through the aifsim binary.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "../support/aifsim_process.hpp"
#include "aif/analysis/results.hpp"
#include "aif/models/hardware.hpp"
#include "aif/scenario/scenario.hpp"

using namespace aif::testing;
using aif::analysis::Outcome;
using aif::analysis::ResultsReader;

// One replica, one request at a time, every request 10 iterations of 10 ms: an M/D/1 queue.
// Pollaczek-Khinchine for deterministic service: Wq = rho * D / (2 (1 - rho)).
TEST(ServingAnalytic, SingleServerMatchesMD1MeanWait) {
  const std::string dir = scratch_dir("md1");
  const auto r = run_aifsim("run " + source_path("tests/data/scenarios/md1.yaml") + " -q -o " + dir + "/md1.h5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ResultsReader results(dir + "/md1.h5");
  const double lambda = 5.0, iteration = 0.010, service = 10 * iteration, rho = lambda * service;
  const double expected_wq = rho * service / (2 * (1 - rho));
  std::vector<double> waits;
  for (const auto& q : results.requests()) {
    ASSERT_EQ(q.outcome, Outcome::FINISHED);
    // The first token comes at the end of the request's first iteration.
    waits.push_back(q.first_token_s - q.arrival_s - iteration);
    // Service is exactly 10 iterations once started.
    ASSERT_NEAR(q.finish_s - q.first_token_s, 9 * iteration, 1e-9);
  }
  ASSERT_GT(waits.size(), 90000u);  // 5/s over 20,000 s
  // Standard error from 20 batch means (waits are autocorrelated; batches of ~5,000 are not).
  const size_t batches = 20, per = waits.size() / batches;
  std::vector<double> means;
  for (size_t b = 0; b < batches; ++b)
    means.push_back(std::accumulate(waits.begin() + b * per, waits.begin() + (b + 1) * per, 0.0) / per);
  const double mean = std::accumulate(means.begin(), means.end(), 0.0) / batches;
  double var = 0;
  for (double m : means) var += (m - mean) * (m - mean);
  const double se = std::sqrt(var / (batches - 1) / batches);
  std::printf("M/D/1 mean wait: simulated %.5f s, Pollaczek-Khinchine %.5f s, standard error %.5f s\n", mean,
              expected_wq, se);
  EXPECT_LT(se, 0.05 * expected_wq) << "the run is too short to check anything";
  EXPECT_NEAR(mean, expected_wq, 4 * se);
}

// Eight equal requests at t = 0: one prefill step of 8 x 256 tokens, then 31 decode steps.
// Each step's time is written out here from the roofline definition and the catalog figures.
TEST(ServingAnalytic, ClosedBatchFinishesAtRooflineTime) {
  const std::string dir = scratch_dir("closed_batch");
  const auto r =
      run_aifsim("run " + source_path("tests/data/scenarios/closed_batch.yaml") + " -q -o " + dir + "/cb.h5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto devices = aif::sim::load_hardware_catalog(source_path("data/hardware.yaml"));
  const auto archs = aif::sim::load_model_catalog(source_path("data/models.yaml"));
  const aif::models::DeviceSpec& h100 = devices.at("H100-SXM");
  const aif::models::ModelArch& m = archs.at("Llama-3.1-8B");
  const double flops = h100.peak_flops.at("bf16") * h100.compute_efficiency;
  const double bw = h100.hbm_bandwidth * h100.memory_efficiency;
  // Parameters by hand: per layer Wq, Wo (h x h), Wk, Wv (h x kv_dim), 3 MLP matrices, 2 norms.
  const double h = m.hidden, kv_dim = static_cast<double>(m.kv_heads) * m.head_dim;
  const double layer = m.layers * (2 * h * h + 2 * h * kv_dim + 3 * h * m.ffn + 2 * h);
  const double head = static_cast<double>(m.vocab) * h;
  const double kv_per_token = 2.0 * m.layers * kv_dim * 2;  // K and V, bf16
  const int n = 8, prompt = 256, output = 32;
  auto step = [&](double tokens, double pairs, double kv_tokens) {
    const double lin = std::max(2 * (layer * tokens + head * n) / flops, (layer + head) * 2 / bw);
    const double attn = std::max(4.0 * m.layers * m.heads * m.head_dim * pairs / flops, kv_per_token * kv_tokens / bw);
    return lin + attn;
  };
  // Prefill: causal pairs 256*257/2 per request; KV read + written = 256 + 256 tokens each.
  double t = step(n * prompt, n * prompt * (prompt + 1) / 2.0, n * 2.0 * prompt);
  const double first_token = t;
  for (int i = 0; i < output - 1; ++i) {
    const double ctx = prompt + i + 1;  // keys seen by the new token
    t += step(n, n * ctx, n * (ctx + 1));
  }
  ResultsReader results(dir + "/cb.h5");
  const auto reqs = results.requests();
  ASSERT_EQ(reqs.size(), 8u);
  for (const auto& q : reqs) {
    EXPECT_EQ(q.generated_tokens, output);
    EXPECT_NEAR(q.first_token_s, first_token, 1e-9 * first_token);
    EXPECT_NEAR(q.finish_s, t, 1e-9 * t);
  }
  std::printf("closed batch: finish by hand %.6f s, simulated %.6f s (first token %.6f s)\n", t, reqs[0].finish_s,
              first_token);
}
