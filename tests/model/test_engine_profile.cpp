// Profile runs record each step's composition: every field of a closed batch's iterations, worked out by hand
// from the scheduler's rules (prompt chunks under the token budget, one decode token per step, causal pairs:
// a chunk of n tokens after c cached ones attends n c + n (n + 1) / 2 query-key pairs).
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "../support/kernel_shapes.hpp"
#include "aif/kernels/profile.hpp"

namespace ak = aif::kernels;

namespace {

ak::ModelShape shape() { return aif::testing::test_model_shape("profile-test", 128, 256, 512); }

struct Want {
  int num_seqs, prefill_tokens, decode_tokens, context_tokens, prefill_seqs, sampled_seqs;
  double pairs, prefill_pairs;
};

double pairs(double n, double c) { return n * c + n * (n + 1) / 2; }

}  // namespace

TEST(EngineProfile, IterationsCarryTheStepComposition) {
  auto backend = ak::make_cpu_backend(2);
  ak::Model model(*backend, ak::make_weights(shape(), 3));
  ak::EngineConfig cfg;
  cfg.limits.block_size = 16;
  cfg.limits.num_blocks = 32;
  cfg.limits.max_num_seqs = 1;  // raised by run_profile to each phase's request count
  const std::vector<ak::ProfilePhase> phases{{"closed", 2, 8, 3, 64, 0}, {"chunked", 1, 20, 2, 8, 0}};
  const ak::ReplayResult r = ak::run_profile(model, cfg, phases);

  const std::vector<Want> want{
      // closed: both 8-token prompts in one step, then two decode steps at 8 and 9 cached tokens each.
      {2, 16, 0, 0, 2, 2, 2 * pairs(8, 0), 2 * pairs(8, 0)},
      {2, 0, 2, 16, 0, 2, 2 * pairs(1, 8), 0},
      {2, 0, 2, 18, 0, 2, 2 * pairs(1, 9), 0},
      // chunked: 20 prompt tokens under an 8-token budget: 8 @ 0, 8 @ 8, 4 @ 16 (samples), then one decode @ 20.
      {1, 8, 0, 0, 1, 0, pairs(8, 0), pairs(8, 0)},
      {1, 8, 0, 8, 1, 0, pairs(8, 8), pairs(8, 8)},
      {1, 4, 0, 16, 1, 1, pairs(4, 16), pairs(4, 16)},
      {1, 0, 1, 20, 0, 1, pairs(1, 20), 0},
  };
  ASSERT_EQ(r.iterations.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const ak::ReplayIteration& it = r.iterations[i];
    const Want& w = want[i];
    SCOPED_TRACE("iteration " + std::to_string(i));
    EXPECT_EQ(it.num_seqs, w.num_seqs);
    EXPECT_EQ(it.prefill_tokens, w.prefill_tokens);
    EXPECT_EQ(it.decode_tokens, w.decode_tokens);
    EXPECT_EQ(it.context_tokens, w.context_tokens);
    EXPECT_EQ(it.prefill_seqs, w.prefill_seqs);
    EXPECT_EQ(it.sampled_seqs, w.sampled_seqs);
    EXPECT_DOUBLE_EQ(it.attended_pairs, w.pairs) << "by hand " << w.pairs;
    EXPECT_DOUBLE_EQ(it.prefill_attended_pairs, w.prefill_pairs);
    EXPECT_GT(it.duration_s, 0.0);
    EXPECT_GT(it.forward_s, 0.0);
    EXPECT_LE(it.forward_s, it.duration_s) << "the forward pass is part of the step";
  }
  // Closed loop: each step starts where the previous one ended, across phases too.
  EXPECT_DOUBLE_EQ(r.iterations[0].start_s, 0.0);
  for (size_t i = 1; i < r.iterations.size(); ++i)
    EXPECT_NEAR(r.iterations[i].start_s, r.iterations[i - 1].start_s + r.iterations[i - 1].duration_s, 1e-9);
  // Requests: ids by phase, all finished with their full output, first token at the end of their prefill step.
  ASSERT_EQ(r.requests.size(), 3u);
  EXPECT_EQ(r.requests[2].id, 1000000);
  for (const auto& q : r.requests) {
    EXPECT_FALSE(q.rejected);
    EXPECT_EQ(q.generated_tokens, q.output_tokens);
  }
  EXPECT_NEAR(r.requests[0].first_token_s, r.iterations[0].start_s + r.iterations[0].duration_s, 1e-9);
  EXPECT_NEAR(r.requests[2].first_token_s, r.iterations[5].start_s + r.iterations[5].duration_s, 1e-9);
  EXPECT_NEAR(r.requests[2].arrival_s, r.iterations[3].start_s, 1e-9) << "phase 2 starts when phase 1 ended";
}

TEST(EngineProfile, DefaultPlanCoversDecodePrefillAndMixedSteps) {
  const auto phases = ak::default_profile_phases(4096);
  int max_batch = 0, max_prompt = 0, min_prompt = 1 << 30, chunked = 0, staggered = 0;
  for (const auto& p : phases) {
    max_batch = std::max(max_batch, p.requests);
    max_prompt = std::max(max_prompt, p.prompt);
    min_prompt = std::min(min_prompt, p.prompt);
    chunked += p.prompt > p.max_batched_tokens;  // prefill chunks over a cached prefix
    staggered += p.arrival_gap_s > 0;            // prompts arriving during decode: mixed steps
  }
  EXPECT_EQ(max_batch, 64);
  EXPECT_LE(min_prompt, 16);
  EXPECT_GE(max_prompt, 2000);
  EXPECT_GE(chunked, 2);
  EXPECT_GE(staggered, 1);
  // A short context clamps the prompts so that prompt + output fits.
  for (const auto& p : ak::default_profile_phases(256)) EXPECT_LE(p.prompt + p.output, 256) << p.name;
}
