// Prefill/decode disaggregation and weight loading over the fabric, checked by hand on a tiny scenario
// (tests/data/scenarios/disaggregated.yaml): every time below is written out from the scenario's figures.
#include <gtest/gtest.h>

#include <map>

#include "../support/aifsim_process.hpp"
#include "aif/analysis/results.hpp"
#include "aif/models/hardware.hpp"
#include "aif/sim/scenario.hpp"

using namespace aif::testing;
using aif::analysis::Outcome;
using aif::analysis::ResultsReader;

TEST(Disaggregation, KvTransferAndWeightLoadingTakeTheirFabricTime) {
  const std::string dir = scratch_dir("disaggregated");
  const auto r = run_aifsim("run " + source_path("tests/data/scenarios/disaggregated.yaml") + " -q -o " + dir +
                            "/d.h5");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto archs = aif::sim::load_model_catalog(source_path("data/models.yaml"));
  const aif::models::ModelArch& m = archs.at("Llama-3.1-8B");

  // Weights: each of the 16 GPUs reads 1/8 of the bf16 weights; GPU i reads from storage node i % 2, so each node's
  // 1 GB/s NIC carries 8 equal flows of W/8 bytes: all of them end at W / 1 GB/s (plus the route's few microseconds).
  const double weights = m.parameters() * 2;
  const double ready = weights / 1e9;
  // Step 10 ms. Request 0 arrives at t = 0, before the replicas are ready: its prefill starts at `ready`.
  // KV: 1,000 prompt tokens x kv_bytes_per_token, split over the 8 GPU pairs (server 0 -> server 1), each flow alone
  // on its NICs at 50 GB/s (400 Gb/s), two 1 us hops (NIC up, NIC down).
  const double step = 0.010;
  const double kv = 1000 * m.kv_bytes_per_token(2) / 8 / 50e9 + 2e-6;
  ResultsReader res(dir + "/d.h5");
  const auto reqs = res.requests();
  ASSERT_EQ(reqs.size(), 2u);
  for (const auto& q : reqs) {
    ASSERT_EQ(q.outcome, Outcome::FINISHED);
    EXPECT_EQ(q.generated_tokens, 5);
  }
  const auto& a = reqs[0].arrival_s < reqs[1].arrival_s ? reqs[0] : reqs[1];
  const auto& b = reqs[0].arrival_s < reqs[1].arrival_s ? reqs[1] : reqs[0];
  std::printf("ready: simulated first token %.6f s, by hand %.6f s\n", a.first_token_s, ready + step);
  EXPECT_NEAR(a.first_token_s, ready + step, 1e-4);
  // After the first token: KV transfer, then 4 decode steps on the decode replica.
  std::printf("decode span: simulated %.7f s, by hand %.7f s (KV %.7f s)\n", b.finish_s - b.first_token_s,
              kv + 4 * step, kv);
  EXPECT_NEAR(b.first_token_s - b.arrival_s, step, 1e-9);
  EXPECT_NEAR(b.finish_s - b.first_token_s, kv + 4 * step, 1e-7);
  EXPECT_NEAR(a.finish_s - a.first_token_s, kv + 4 * step, 1e-7);
  // The prefill and decode replicas differ; the decode one records the request.
  EXPECT_EQ(b.replica, 1);

  std::map<std::string, double> summary;
  for (const auto& e : res.summary()) summary[e.name] = e.value;
  EXPECT_EQ(summary.at("split.kv_transfers"), 2);
  EXPECT_NEAR(summary.at("split.kv_transfer_bytes"), 2 * 1000 * m.kv_bytes_per_token(2), 1);
  int ready_events = 0;
  for (const auto& e : res.events())
    if (e.kind == "replica_ready") ++ready_events;
  EXPECT_EQ(ready_events, 2);
}
