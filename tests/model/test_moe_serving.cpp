// Mixtures of experts and fp8 KV caches through the whole simulator: the expert all-to-all traffic a run reports
// against the tokens its requests say it computed, both fidelity modes request by request, and the KV cache an fp8
// cache holds against a bf16 one.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <regex>
#include <string>

#include "../support/aifsim_process.hpp"
#include "../support/results_summary.hpp"
#include "aif/analysis/results.hpp"

using namespace aif::testing;
using aif::analysis::ResultsReader;

namespace {

// The KV blocks of the first replica, from its replica_start event ("...; N KV blocks of 16 tokens; ...").
long kv_blocks(const ResultsReader& r) {
  for (const auto& e : r.events())
    if (e.kind == "replica_start") {
      std::smatch m;
      if (std::regex_search(e.detail, m, std::regex("(\\d+) KV blocks of"))) return std::stol(m[1].str());
    }
  ADD_FAILURE() << "no replica_start event";
  return -1;
}

}  // namespace

// Every step's tokens go to their 2 experts and back in each of Mixtral's 32 layers; 7 of the 8 experts are on another
// GPU: 2 (dispatch, combine) x 2 experts x 4,096 x 2 bytes x 7/8 = 28,672 bytes per token and layer, 917,504 per token.
// With no prefix cache hit and no preemption, the tokens of all steps are each request's prompt (its prefill chunks)
// and its output tokens but the first (which the last prefill step samples).
TEST(MoeServing, AllToAllBytesFollowTheTokensComputed) {
  const std::string dir = scratch_dir("moe_serving");
  const std::string scenario = source_path("tests/data/scenarios/moe_expert_parallel.yaml");
  const auto fast = run_aifsim("run " + scenario + " -o " + dir + "/fast.h5 --quiet");
  ASSERT_EQ(fast.exit_code, 0) << fast.output;
  const auto slow = run_aifsim("run " + scenario + " -o " + dir + "/slow.h5 --quiet --iteration-level");
  ASSERT_EQ(slow.exit_code, 0) << slow.output;
  const ResultsReader a(dir + "/fast.h5"), b(dir + "/slow.h5");

  int64_t tokens = 0;
  int preempted = 0;
  const auto requests = a.requests();
  for (const auto& r : requests) {
    ASSERT_EQ(r.outcome, aif::analysis::Outcome::FINISHED) << "request " << r.id;
    tokens += r.prompt_tokens + r.generated_tokens - 1;
    preempted += r.preemptions;
  }
  ASSERT_EQ(preempted, 0) << "the count below assumes no recomputation";
  ASSERT_GT(requests.size(), 200u);
  EXPECT_EQ(summary_metric(a, "mixtral.prefix_cached_tokens"), 0);
  EXPECT_DOUBLE_EQ(summary_metric(a, "mixtral.expert_alltoall_bytes"), static_cast<double>(tokens) * 917504);
  int64_t stepped = 0;
  for (const auto& it : b.iterations()) stepped += it.prefill_tokens + it.decode_tokens;
  EXPECT_EQ(stepped, tokens);

  // The fast mode runs the same steps: the same requests at the same times, the same fingerprint.
  std::map<int64_t, double> finish;
  for (const auto& r : b.requests()) finish[r.id] = r.finish_s;
  ASSERT_EQ(finish.size(), requests.size());
  for (const auto& r : requests) EXPECT_NEAR(r.finish_s, finish.at(r.id), 1e-9 * r.finish_s) << "request " << r.id;
  EXPECT_EQ(a.stored_fingerprint(), b.stored_fingerprint());
  EXPECT_DOUBLE_EQ(summary_metric(b, "mixtral.expert_alltoall_bytes"),
                   summary_metric(a, "mixtral.expert_alltoall_bytes"));

  // Each expert's weights on its own GPU instead of split over 4: with tp 4 alone there are no attention ranks and no
  // all-to-all (the experts' outputs meet in the all-reduce).
  const auto tp_only = run_aifsim("run " + scenario + " -o " + dir + "/tp.h5 --quiet --set services[0].data_parallel=1");
  ASSERT_EQ(tp_only.exit_code, 0) << tp_only.output;
  EXPECT_FALSE(ResultsReader(dir + "/tp.h5").summary_value("mixtral.expert_alltoall_bytes").has_value());
}

// The tokens' trips to the other server's experts are fabric flows, GPU i of one server to GPU i of the other. Per
// token of a step, each of the 8 GPUs sends its eighth of the token's 28,672 B per layer (above): 3,584 B in each of
// 32 layers, of which 4 of the 7 remote experts are on the other server: 3,584 x 32 x 4/7 = 65,536 B. The first
// request's prefill step, alone on the fabric, sends its prompt's 65,536 B x P over each GPU's NIC before computing:
// doubling the NICs' 50 GB/s saves P x 65,536 B x (1/50 - 1/100) ns of its first token, and nothing else changes.
TEST(MoeServing, AllToAllAcrossServersTakesItsTimeOnTheFabric) {
  const std::string dir = scratch_dir("moe_flows");
  const std::string scenario = source_path("tests/data/scenarios/moe_expert_parallel.yaml");
  const std::string first = " --quiet --set workloads[0].arrival.max_requests=1";
  ASSERT_EQ(run_aifsim("run " + scenario + " -o " + dir + "/50.h5" + first).exit_code, 0);
  ASSERT_EQ(run_aifsim("run " + scenario + " -o " + dir + "/100.h5" + first + " --set fabric.nic_bandwidth=800Gb/s")
                .exit_code,
            0);
  const auto a = ResultsReader(dir + "/50.h5").requests(), b = ResultsReader(dir + "/100.h5").requests();
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  const double prompt = a[0].prompt_tokens;
  const double saved = prompt * 65536 * (1 / 50e9 - 1 / 100e9);
  std::printf("first token: %.9f s at 50 GB/s, %.9f s at 100 GB/s; by hand %.9f s saved\n", a[0].first_token_s,
              b[0].first_token_s, saved);
  EXPECT_NEAR(a[0].first_token_s - b[0].first_token_s, saved, 1e-9);
  EXPECT_GT(*ResultsReader(dir + "/50.h5").summary_value("fabric.nic.bytes"), 0);
}

// An fp8 KV cache stores a token in half the bytes of a bf16 one: the same HBM left by the same fp8 weights holds
// twice the blocks (to the block: the count is a floor).
TEST(MoeServing, Fp8KvCacheHoldsTwiceTheTokens) {
  const std::string dir = scratch_dir("fp8_kv");
  const std::string scenario = source_path("scenarios/examples/llama70b_fp8.yaml");
  const std::string quick = " --quiet --set simulation.duration=30s";
  ASSERT_EQ(run_aifsim("run " + scenario + " -o " + dir + "/fp8.h5" + quick).exit_code, 0);
  ASSERT_EQ(run_aifsim("run " + scenario + " -o " + dir + "/bf16.h5" + quick + " --set services[0].kv_cache_dtype=auto")
                .exit_code,
            0);
  const long fp8 = kv_blocks(ResultsReader(dir + "/fp8.h5")), bf16 = kv_blocks(ResultsReader(dir + "/bf16.h5"));
  std::printf("KV blocks per replica: fp8 %ld, bf16 %ld\n", fp8, bf16);
  EXPECT_GE(fp8, 2 * bf16);
  EXPECT_LE(fp8, 2 * bf16 + 1);
}
