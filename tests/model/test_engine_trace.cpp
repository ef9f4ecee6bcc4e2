// The reference engine serving a scaled-down Azure conversation trace: every request finishes with the
// requested number of tokens, timestamps are ordered, and every KV block is free at the end.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "../support/kernel_shapes.hpp"
#include "aif/kernels/replay.hpp"

namespace ak = aif::kernels;

namespace {

// The first nine rows of AzureLLMInferenceTrace_conv.csv (Azure/AzurePublicDataset, 2023-11-16, CC-BY 4.0):
// arrival in seconds after 18:15:46.6805900, ContextTokens, GeneratedTokens.
std::vector<ak::TraceRequest> azure_conv_head() {
  const double t0 = 46.6805900;
  const std::vector<std::tuple<double, int, int>> rows{
      {46.6805900, 374, 44}, {50.9951690, 396, 109}, {51.2224670, 879, 55},
      {51.3910170, 91, 16},  {52.5732450, 91, 16},   {52.9921190, 381, 84},
      {54.4260870, 1313, 142}, {54.9320210, 388, 84}, {55.0176690, 242, 14}};
  std::vector<ak::TraceRequest> trace;
  int64_t id = 0;
  for (const auto& [ts, prompt, output] : rows) trace.push_back({id++, ts - t0, prompt, output});
  return trace;
}

ak::ModelShape small_shape() { return aif::testing::test_model_shape("trace-test", 128, 256, 0); }

void expect_complete(const ak::ReplayResult& res, const std::vector<ak::TraceRequest>& trace,
                     const ak::ReplayOptions& opt) {
  ASSERT_EQ(res.requests.size(), trace.size());
  for (size_t i = 0; i < trace.size(); ++i) {
    const ak::ReplayRequest& r = res.requests[i];
    const int want = std::min(trace[i].output_tokens, opt.max_output_tokens);
    EXPECT_FALSE(r.rejected) << "request " << r.id;
    EXPECT_EQ(r.generated_tokens, want) << "request " << r.id << " asked for " << want;
    EXPECT_EQ(r.output_tokens, want);
    EXPECT_EQ(r.prompt_tokens, std::min(trace[i].prompt_tokens, opt.max_prompt_tokens));
    EXPECT_DOUBLE_EQ(r.arrival_s, trace[i].arrival_s / opt.rate_scale);
    EXPECT_LE(r.arrival_s, r.first_token_s) << "request " << r.id;
    EXPECT_LE(r.first_token_s, r.finish_s) << "request " << r.id;
  }
  EXPECT_EQ(res.kv_blocks_free_at_end, res.kv_blocks) << "every KV block is free at the end";
  // Token accounting: every prompt token is prefilled at least once, every output token but the last of each
  // request is decoded once (the first comes from the prefill step); preemption only adds prefill work.
  long prefill = 0, decode = 0, want_prefill = 0, want_decode = 0;
  for (const auto& it : res.iterations) prefill += it.prefill_tokens, decode += it.decode_tokens;
  for (const auto& r : res.requests) want_prefill += r.prompt_tokens, want_decode += r.output_tokens - 1;
  EXPECT_EQ(decode, want_decode);
  EXPECT_GE(prefill, want_prefill);
}

}  // namespace

TEST(EngineTrace, AzureConvHeadFinishesEveryRequestAndFreesEveryBlock) {
  auto backend = ak::make_cpu_backend(2);
  const ak::HostWeights w = ak::make_weights(small_shape(), 3);
  ak::Model model(*backend, w);
  ak::EngineConfig cfg;
  cfg.limits.block_size = 16;
  cfg.limits.num_blocks = 12;  // 192 token slots; one request needs up to 64 + 32 - 1 = 95: a contended cache
  cfg.limits.max_num_batched_tokens = 96;
  cfg.limits.max_num_seqs = 8;
  ak::Engine engine(model, cfg);
  ak::ReplayOptions opt;
  opt.real_time = false;
  // The nine arrivals (8.3 s of trace) squeezed into 8.3 ns: all of them wait by the end of the first step, whatever
  // its measured time, so the steps below do not depend on the machine.
  opt.rate_scale = 1e9;
  opt.max_prompt_tokens = 64;  // scaled down: the trace's lengths clamped to a CPU-sized model
  opt.max_output_tokens = 32;
  const auto trace = azure_conv_head();
  const ak::ReplayResult res = ak::replay(engine, trace, opt);
  expect_complete(res, trace, opt);
  int preemptions = 0;
  for (const auto& r : res.requests) preemptions += r.preemptions;
  std::cout << res.iterations.size() << " iterations, " << preemptions << " preemptions\n";
  // Every prompt is clamped to 64 tokens (4 blocks of 16). Step 1: request 0 alone, its prompt in 4 blocks. Step 2:
  // its first decode takes a 5th block, request 1's whole prompt 4 more, and request 2 a chunk of the 31 tokens left
  // of the budget of 96 (2 blocks): 11 of 12 in use. Step 3: request 1's first decode takes the last block and
  // request 2's remaining 33 prompt tokens need 2 more, so request 2 is preempted (recomputed later).
  EXPECT_GE(preemptions, 1);
  EXPECT_GE(res.requests[2].preemptions, 1);
}

TEST(EngineTrace, RealTimeReplayWaitsForArrivals) {
  auto backend = ak::make_cpu_backend(2);
  const ak::HostWeights w = ak::make_weights(small_shape(), 3);
  ak::Model model(*backend, w);
  ak::EngineConfig cfg;
  cfg.limits.block_size = 16;
  cfg.limits.num_blocks = 64;
  ak::Engine engine(model, cfg);
  ak::ReplayOptions opt;
  opt.real_time = true;
  opt.rate_scale = 40;  // 8.3 s of trace in about 0.21 s of wall clock
  opt.max_prompt_tokens = 16;
  opt.max_output_tokens = 4;
  const auto trace = azure_conv_head();
  const ak::ReplayResult res = ak::replay(engine, trace, opt);
  expect_complete(res, trace, opt);
  // The last request arrives at 8.337 s / 40 = 0.208 s: the run cannot end before it.
  EXPECT_GE(res.wall_s, trace.back().arrival_s / 40);
  for (const auto& it : res.iterations) EXPECT_GT(it.duration_s, 0.0);
}

TEST(EngineTrace, RequestLargerThanTheCacheIsRejected) {
  auto backend = ak::make_cpu_backend(2);
  const ak::HostWeights w = ak::make_weights(small_shape(), 3);
  ak::Model model(*backend, w);
  ak::EngineConfig cfg;
  cfg.limits.block_size = 16;
  cfg.limits.num_blocks = 4;  // 64 tokens
  ak::Engine engine(model, cfg);
  ak::ReplayOptions opt;
  opt.real_time = false;
  const std::vector<ak::TraceRequest> trace{{0, 0.0, 60, 10}, {1, 0.1, 20, 5}};  // 60 + 10 - 1 > 64
  const ak::ReplayResult res = ak::replay(engine, trace, opt);
  EXPECT_TRUE(res.requests[0].rejected);
  EXPECT_TRUE(std::isnan(res.requests[0].finish_s));
  EXPECT_EQ(res.requests[1].generated_tokens, 5);
  EXPECT_EQ(res.kv_blocks_free_at_end, 4);
}
