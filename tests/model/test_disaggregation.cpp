// Prefill/decode disaggregation and weight loading over the fabric, checked by hand on a tiny scenario
// (tests/data/scenarios/disaggregated.yaml): every time below is written out from the scenario's figures.
#include <gtest/gtest.h>

#include <map>

#include "../support/aifsim_process.hpp"
#include "aif/analysis/results.hpp"
#include "aif/models/hardware.hpp"
#include "aif/scenario/scenario.hpp"

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
  // What the links carried (link_load plugin), by tier: each KV flow crosses its source NIC up and its destination
  // NIC down; each weight share crosses its storage node's link up, the storage leaf's uplink up, the leaf's uplink
  // down and the GPU's NIC down. 16 shares of W / 8 = 2 W in all.
  const double kv_total = 2 * 1000 * m.kv_bytes_per_token(2);
  // SimGrid's link_load plugin also counts each flow at its rate during the route's latency (measured here: one
  // latency x bandwidth per link half crossed), so the NIC tier reads up to 32 x 50 GB/s x 2 us more for the 16 KV
  // flows (a 0.3 ms flow: +0.6 %); the long weight flows make it negligible elsewhere.
  const double nic_exact = 2 * kv_total + 2 * weights, latency_extra = 32 * 50e9 * 2e-6;
  std::printf("NIC bytes: simulated %.9g, by hand %.9g (+ up to %.3g counted during latency)\n",
              summary.at("fabric.nic.bytes"), nic_exact, latency_extra);
  EXPECT_GE(summary.at("fabric.nic.bytes"), nic_exact - 1e-6 * weights);
  EXPECT_LE(summary.at("fabric.nic.bytes"), nic_exact + latency_extra + 1e-6 * weights);
  EXPECT_NEAR(summary.at("fabric.storage.bytes"), 2 * weights, 1e-6 * weights);
  EXPECT_NEAR(summary.at("fabric.uplink.bytes"), 4 * weights, 1e-6 * weights);
  // While loading, each storage node's 1 GB/s link is full: the storage tier's busiest link is at 100 % in every
  // one-second interval that ends before `ready`.
  const auto times = res.series_time();
  const auto storage_max = res.series_values("link_util_storage_max");
  int full = 0;
  for (size_t i = 1; i < times.size() && times[i] < ready; ++i) {
    EXPECT_NEAR(storage_max[i], 1.0, 1e-9) << "interval ending at " << times[i];
    ++full;
  }
  EXPECT_EQ(full, 16);
  // The busiest shared links: the two storage leaf uplink halves and the leaf's downlink, each with 2 W.
  const auto busiest = res.busiest_links();
  ASSERT_GE(busiest.size(), 2u);
  EXPECT_EQ(busiest[0].tier, "uplink");
  EXPECT_NEAR(busiest[0].bytes, 2 * weights, 1e-6 * weights);
  ASSERT_EQ(busiest[0].util.size(), times.size());
  double integral = 0;  // utilization x interval x bandwidth over the run = bytes
  for (size_t i = 1; i < times.size(); ++i) integral += busiest[0].util[i] * (times[i] - times[i - 1]) * busiest[0].bandwidth;
  EXPECT_NEAR(integral, busiest[0].bytes, 1e-6 * weights);
  int ready_events = 0;
  for (const auto& e : res.events())
    if (e.kind == "replica_ready") ++ready_events;
  EXPECT_EQ(ready_events, 2);
}
