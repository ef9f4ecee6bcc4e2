// Continuous-batching scheduler and KV block manager, with no SimGrid and no model.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "../support/test_seed.hpp"
#include "aif/models/serving.hpp"

using namespace aif::models;

namespace {

SchedulerLimits limits(int blocks, int block_size = 16, int seqs = 8, int budget = 64, bool chunked = true) {
  SchedulerLimits l;
  l.num_blocks = blocks;
  l.block_size = block_size;
  l.max_num_seqs = seqs;
  l.max_num_batched_tokens = budget;
  l.chunked_prefill = chunked;
  return l;
}

}  // namespace

TEST(KvBlockManager, AllocatesAndFreesWithIntegrity) {
  KvBlockManager kv(10, 4);
  SeqState a, b;
  a.id = 1;
  b.id = 2;
  EXPECT_TRUE(kv.allocate(a, 9));  // ceil(9/4) = 3 blocks
  EXPECT_EQ(a.block_table.size(), 3u);
  EXPECT_TRUE(kv.allocate(a, 12));  // still 3
  EXPECT_EQ(a.block_table.size(), 3u);
  EXPECT_TRUE(kv.allocate(b, 28));  // 7 blocks: 10 in all
  EXPECT_EQ(kv.num_free(), 0);
  EXPECT_FALSE(kv.allocate(a, 13));  // a 4th block for a does not exist
  EXPECT_EQ(a.block_table.size(), 3u);
  kv.check_integrity({&a, &b});
  kv.release(a);
  EXPECT_EQ(kv.num_free(), 3);
  kv.check_integrity({&b});
  EXPECT_THROW(kv.check_integrity({}), std::logic_error);  // b's blocks would be leaked
  SeqState ghost;
  ghost.block_table = {b.block_table[0]};
  EXPECT_THROW(kv.check_integrity({&b, &ghost}), std::logic_error);  // one block, two owners
}

TEST(Scheduler, ChunkedPrefillSplitsPromptOverBudget) {
  Scheduler s(limits(64, 16, 8, 32));
  ASSERT_TRUE(s.add_request(7, 100, 3));
  std::vector<int> chunks;
  int first_token_step = -1, finish_step = -1;
  for (int step = 0; step < 20 && !s.idle(); ++step) {
    StepPlan p = s.schedule();
    ASSERT_EQ(p.chunks.size(), 1u);
    chunks.push_back(p.chunks[0].num_tokens);
    for (const SeqOutcome& o : s.complete(p)) {
      if (o.first_token) first_token_step = step;
      if (o.finished) finish_step = step;
    }
    s.check_integrity();
  }
  // 100 prompt tokens in chunks of the 32-token budget, then 2 decode steps (3 output tokens).
  EXPECT_EQ(chunks, (std::vector<int>{32, 32, 32, 4, 1, 1}));
  EXPECT_EQ(first_token_step, 3);
  EXPECT_EQ(finish_step, 5);
  EXPECT_EQ(s.blocks().num_free(), 64);
}

TEST(Scheduler, RejectsWhatCanNeverFit) {
  Scheduler s(limits(4, 16, 8, 32, /*chunked=*/false));
  EXPECT_FALSE(s.add_request(1, 60, 10));  // 69 KV tokens > 4 blocks x 16
  EXPECT_FALSE(s.add_request(2, 40, 1));   // no chunking and 40 > 32-token budget
  EXPECT_TRUE(s.add_request(3, 30, 3));    // 32 KV tokens: fits both
  EXPECT_EQ(s.num_waiting(), 1u);
}

TEST(Scheduler, DecodesFirstThenAdmitsWithinBudget) {
  Scheduler s(limits(64, 16, 8, 10));
  ASSERT_TRUE(s.add_request(1, 4, 5));
  s.complete(s.schedule());  // prefill of 1
  ASSERT_TRUE(s.add_request(2, 20, 5));
  StepPlan p = s.schedule();
  ASSERT_EQ(p.chunks.size(), 2u);
  EXPECT_EQ(p.chunks[0].id, 1);
  EXPECT_TRUE(p.chunks[0].decode);
  EXPECT_EQ(p.chunks[1].id, 2);
  EXPECT_EQ(p.chunks[1].num_tokens, 9);  // budget 10 minus the decode token
  EXPECT_EQ(p.shape.num_tokens, 10);
  EXPECT_EQ(p.shape.decode_seqs, 1);
  EXPECT_EQ(p.shape.prefill_tokens, 9);
  EXPECT_EQ(p.shape.sampled_seqs, 1);  // request 2's prompt is not done
  // Attention pairs by hand: decode 1 x (4 context + 1); prefill chunk 9 x 0 + 9*10/2.
  EXPECT_DOUBLE_EQ(p.shape.attended_pairs, 5 + 45);
}

TEST(Scheduler, PreemptsByRecomputeWhenBlocksRunOut) {
  // 4 blocks of 4 tokens; two requests with 4-token prompts each grow past 8 tokens.
  Scheduler s(limits(4, 4, 8, 64));
  ASSERT_TRUE(s.add_request(1, 4, 9));
  ASSERT_TRUE(s.add_request(2, 4, 9));
  int preemptions = 0, steps = 0;
  std::map<RequestId, int> generated;
  while (!s.idle() && steps < 200) {
    StepPlan p = s.schedule();
    preemptions += static_cast<int>(p.preempted.size());
    for (const auto& c : p.chunks) EXPECT_LE(c.context_before + c.num_tokens, 12);
    for (const SeqOutcome& o : s.complete(p)) generated[o.id] = o.generated;
    s.check_integrity();
    ++steps;
  }
  EXPECT_TRUE(s.idle());
  EXPECT_GE(preemptions, 1);
  EXPECT_EQ(generated[1], 9);
  EXPECT_EQ(generated[2], 9);
  EXPECT_EQ(s.blocks().num_free(), 4);
}

// Random load with a small cache: limits hold after every step and every request finishes.
TEST(Scheduler, InvariantsUnderRandomLoad) {
  AIF_TEST_SEED(seed, 12345);
  std::mt19937_64 rng(seed);
  const SchedulerLimits l = limits(48, 8, 6, 40);
  Scheduler s(l);
  std::map<RequestId, int> expected, got;
  RequestId next = 0;
  int preempted = 0;
  for (int step = 0; step < 20000 && (next < 300 || !s.idle()); ++step) {
    if (next < 300 && rng() % 3 == 0) {
      const int prompt = 1 + static_cast<int>(rng() % 120), out = 1 + static_cast<int>(rng() % 60);
      if (s.add_request(next, prompt, out)) expected[next] = out;
      ++next;
    }
    StepPlan p = s.schedule();
    preempted += static_cast<int>(p.preempted.size());
    int tokens = 0;
    for (const auto& c : p.chunks) tokens += c.num_tokens;
    ASSERT_LE(tokens, l.max_num_batched_tokens);
    ASSERT_LE(static_cast<int>(p.chunks.size()), l.max_num_seqs);
    s.check_integrity();
    for (const SeqOutcome& o : s.complete(p))
      if (o.finished) got[o.id] = o.generated;
    s.check_integrity();
  }
  EXPECT_TRUE(s.idle());
  EXPECT_EQ(got, expected);  // every admitted request finished with exactly its output length
  EXPECT_EQ(s.blocks().num_free(), l.num_blocks);
  EXPECT_GT(preempted, 0) << "the cache is meant to be tight enough to force preemption";
  EXPECT_EQ(s.outstanding_tokens(), 0);
}

// The fast path (steady windows) equals stepping one iteration at a time: the same steps, and under preemption with
// the prefix cache on, the same blocks reclaimed by the preempted requests (which blocks a request holds, and the
// order of the free list, must not depend on how the steps were taken, nor on the admissions that were attempted and
// failed in single steps).
class SteadyWindows : public testing::TestWithParam<int> {};
INSTANTIATE_TEST_SUITE_P(Scheduler, SteadyWindows, testing::Values(160, 40));
TEST_P(SteadyWindows, EqualSingleSteps) {
  const int num_blocks = GetParam();
  struct Arrival {
    int step;
    int prompt, output;
  };
  AIF_TEST_SEED(seed, 7);
  std::mt19937_64 rng(seed);
  std::vector<Arrival> arrivals;
  for (int i = 0, step = 0; i < 200; ++i) {
    step += static_cast<int>(rng() % 12);
    arrivals.push_back({step, 1 + static_cast<int>(rng() % 200), 1 + static_cast<int>(rng() % 150)});
  }
  struct Trace {
    std::map<RequestId, std::pair<int64_t, int64_t>> times;  // first token step, finish step
    std::map<RequestId, int> preemptions;
    int64_t reclaimed_tokens = 0;  // prompt tokens spared by blocks taken back after a preemption
    std::map<int64_t, std::vector<int>> blocks;  // at the start of a step: every live request's blocks, in id order
  };
  auto run = [&](bool fast) {
    SchedulerLimits l = limits(num_blocks, 16, 16, 128);
    l.prefix_caching = true;
    Scheduler s(l);
    Trace trace;
    auto& times = trace.times;
    int64_t step = 0;
    size_t next = 0;
    int64_t steady_windows = 0;
    while (next < arrivals.size() || !s.idle()) {
      while (next < arrivals.size() && arrivals[next].step <= step) {
        EXPECT_TRUE(s.add_request(static_cast<RequestId>(next), arrivals[next].prompt, arrivals[next].output));
        ++next;
      }
      if (s.idle()) {
        step = arrivals[next].step;
        continue;
      }
      std::vector<int>& held = trace.blocks[step];
      for (RequestId id = 0; id < static_cast<RequestId>(next); ++id)
        if (const SeqState* q = s.find(id)) held.insert(held.end(), q->block_table.begin(), q->block_table.end());
      int n = fast ? s.steady_steps() : 0;
      if (n > 0 && next < arrivals.size()) n = static_cast<int>(std::min<int64_t>(n, arrivals[next].step - step));
      if (n > 0) {
        const int64_t stop_at = step + n;
        for (const SeqOutcome& o : s.advance_steady(n)) {
          times[o.id].second = stop_at - 1;
          trace.preemptions[o.id] = o.preemptions;
        }
        step = stop_at;
        ++steady_windows;
      } else {
        for (const SeqOutcome& o : s.complete(s.schedule())) {
          if (o.first_token) times[o.id].first = step;
          if (o.finished) times[o.id].second = step;
          if (o.finished) trace.preemptions[o.id] = o.preemptions;
        }
        ++step;
      }
      s.check_integrity();
    }
    if (fast) {
      EXPECT_GT(steady_windows, 10);
    }
    trace.reclaimed_tokens = s.prefix_hit_tokens();
    return trace;
  };
  const Trace slow = run(false), fast = run(true);
  EXPECT_EQ(slow.times.size(), arrivals.size());
  EXPECT_EQ(slow.times, fast.times);
  EXPECT_EQ(slow.preemptions, fast.preemptions);
  EXPECT_EQ(slow.reclaimed_tokens, fast.reclaimed_tokens);
  // Where the fast run stops between windows, every request holds the very blocks it holds in the single-step run.
  int compared = 0;
  for (const auto& kv : fast.blocks) {
    ASSERT_TRUE(slow.blocks.count(kv.first)) << "step " << kv.first;
    ASSERT_EQ(kv.second, slow.blocks.at(kv.first)) << "blocks held at step " << kv.first;
    ++compared;
  }
  EXPECT_GT(compared, 100);
  int preempted = 0;
  for (const auto& kv : slow.preemptions) preempted += kv.second > 0;
  if (num_blocks < 100) {
    EXPECT_GT(preempted, 10) << "the small cache is meant to preempt";
    EXPECT_GT(slow.reclaimed_tokens, 0) << "preempted requests are meant to take blocks back";
  }
}

TEST(Scheduler, SteadyShapeMatchesPlannedShape) {
  Scheduler a(limits(100, 16, 8, 64)), b(limits(100, 16, 8, 64));
  for (Scheduler* s : {&a, &b}) {
    ASSERT_TRUE(s->add_request(1, 30, 40));
    ASSERT_TRUE(s->add_request(2, 17, 25));
    s->complete(s->schedule());  // both prompts in one step: 47 tokens
  }
  const int n = a.steady_steps();
  ASSERT_EQ(n, 24);  // request 2 has 24 tokens to go
  for (int i = 0; i < n; ++i) {
    const BatchShape fast = a.steady_shape(i);
    const StepPlan p = b.schedule();
    EXPECT_EQ(fast.num_tokens, p.shape.num_tokens);
    EXPECT_DOUBLE_EQ(fast.attended_pairs, p.shape.attended_pairs) << "step " << i;
    EXPECT_DOUBLE_EQ(fast.kv_read_tokens, p.shape.kv_read_tokens);
    b.complete(p);
  }
}

// Prefill/decode disaggregation: a request whose prompt KV arrives from a prefill replica starts decoding at once.
TEST(Scheduler, PrefilledRequestDecodesFromTransferredKv) {
  Scheduler s(limits(/*blocks=*/20, /*block_size=*/16));
  ASSERT_TRUE(s.add_prefilled_request(7, /*prompt=*/40, /*output=*/4));
  // Outstanding work: the 3 tokens still to generate (prompt and first token done elsewhere).
  EXPECT_EQ(s.outstanding_tokens(), 3);
  s.check_integrity();
  StepPlan p = s.schedule();
  ASSERT_EQ(p.chunks.size(), 1u);
  EXPECT_EQ(p.chunks[0].num_tokens, 1);
  EXPECT_EQ(p.chunks[0].context_before, 40);
  EXPECT_TRUE(p.chunks[0].decode);
  EXPECT_EQ(p.shape.prefill_tokens, 0);
  EXPECT_EQ(s.find(7)->block_table.size(), 3u);  // ceil(41 / 16): the prompt's KV plus the first token's
  s.check_integrity();
  int steps = 1;
  std::vector<SeqOutcome> out = s.complete(p);
  while (s.num_running() > 0) {
    ASSERT_EQ(out.size(), 1u);
    EXPECT_FALSE(out[0].first_token);  // the first token was the prefill replica's
    out = s.complete(s.schedule());
    s.check_integrity();
    ++steps;
  }
  EXPECT_EQ(steps, 3);  // tokens 2, 3, 4
  ASSERT_EQ(out.size(), 1u);
  EXPECT_TRUE(out[0].finished);
  EXPECT_EQ(out[0].generated, 4);
  EXPECT_EQ(s.blocks().num_free(), 20);
  EXPECT_EQ(s.outstanding_tokens(), 0);
  EXPECT_THROW(s.add_prefilled_request(8, 10, 1), std::invalid_argument);  // nothing left to decode
}

// A prefilled request preempted by recompute drops the transferred KV and recomputes prompt + generated tokens.
TEST(Scheduler, PreemptedPrefilledRequestRecomputes) {
  Scheduler s(limits(/*blocks=*/4, /*block_size=*/16, /*seqs=*/8, /*budget=*/256));
  ASSERT_TRUE(s.add_request(1, 16, 40));           // admitted first: 2 blocks after its first decode
  ASSERT_TRUE(s.add_prefilled_request(2, 31, 30)); // 2 blocks at admission (32 tokens)
  s.complete(s.schedule());
  s.check_integrity();
  // Grow until request 1 needs a third block while none is free: the most recent (2) is preempted.
  bool preempted = false;
  for (int i = 0; i < 40 && !preempted; ++i) {
    StepPlan p = s.schedule();
    preempted = !p.preempted.empty();
    if (preempted) {
      EXPECT_EQ(p.preempted[0], 2);
      const SeqState* r = s.find(2);
      EXPECT_EQ(r->num_computed_tokens, 0);
      EXPECT_EQ(r->transferred_kv_tokens, 0);
    }
    s.complete(p);
    s.check_integrity();
  }
  EXPECT_TRUE(preempted);
}

// Only running requests decode: a preempted request admitted again with a single token left to compute (it took back
// all its other KV from its released blocks) recomputes that token as prompt work. Random load, tight cache, blocks of
// 4 tokens so that such re-admissions happen.
TEST(Scheduler, OnlyRunningRequestsDecode) {
  AIF_TEST_SEED(seed, 99);
  std::mt19937_64 rng(seed);
  SchedulerLimits l = limits(24, 4, 6, 40);
  l.prefix_caching = true;
  Scheduler s(l);
  std::set<RequestId> running;
  RequestId next = 0;
  int single_token_readmissions = 0, decodes = 0;
  for (int step = 0; step < 20000 && (next < 400 || !s.idle()); ++step) {
    if (next < 400 && rng() % 2 == 0) {
      s.add_request(next, 1 + static_cast<int>(rng() % 30), 1 + static_cast<int>(rng() % 40));
      ++next;
    }
    const StepPlan p = s.schedule();
    for (RequestId id : p.preempted) running.erase(id);
    for (const ScheduledChunk& c : p.chunks) {
      const bool was_running = running.count(c.id) > 0;
      if (c.decode) {
        ++decodes;
        EXPECT_TRUE(was_running) << "request " << c.id << " decodes in the step that admits it";
      }
      if (!was_running && c.num_tokens == 1 && c.context_before > 0) ++single_token_readmissions;
      running.insert(c.id);
    }
    for (const SeqOutcome& o : s.complete(p))
      if (o.finished) running.erase(o.id);
  }
  EXPECT_TRUE(s.idle());
  EXPECT_GT(decodes, 1000);
  EXPECT_GT(single_token_readmissions, 0) << "the load is meant to re-admit a request with one token left";
}
