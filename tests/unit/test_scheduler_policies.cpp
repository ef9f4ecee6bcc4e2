// The scheduler's newer rules (serving.hpp): StepPolicy::PREFILL_FIRST (vLLM V0 without chunked prefill), shared-prefix
// caching (prefix groups), re-admission after a preemption taking back the blocks nobody reused, and the fast path's
// admission check (steady_steps) accounting for both. Step sequences are worked out by hand in the comments; the
// block integrity check runs after every step; the fast path is compared with stepping one iteration at a time.
#include <gtest/gtest.h>

#include <cmath>

#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "../support/test_seed.hpp"
#include "aif/models/serving.hpp"

using namespace aif::models;

namespace {

SchedulerLimits limits(int blocks, int block_size, int seqs, int budget, bool chunked, StepPolicy policy,
                       bool prefix_caching) {
  SchedulerLimits l;
  l.num_blocks = blocks;
  l.block_size = block_size;
  l.max_num_seqs = seqs;
  l.max_num_batched_tokens = budget;
  l.chunked_prefill = chunked;
  l.policy = policy;
  l.prefix_caching = prefix_caching;
  return l;
}

SchedulerLimits with_host(SchedulerLimits l, int host_blocks) {
  l.host_blocks = host_blocks;
  return l;
}

SchedulerLimits prefill_first(int seqs = 8, int budget = 64, int blocks = 64, int block_size = 16) {
  return limits(blocks, block_size, seqs, budget, /*chunked=*/false, StepPolicy::PREFILL_FIRST, false);
}

SchedulerLimits with_prefix_cache(int blocks, int block_size = 4, int budget = 64, bool chunked = true,
                                  StepPolicy policy = StepPolicy::UNIFIED) {
  return limits(blocks, block_size, 8, budget, chunked, policy, true);
}

// A step's chunks as (id, new tokens, context before, decode), for comparing with a hand-written list.
using Chunk = std::tuple<RequestId, int, int, bool>;
std::vector<Chunk> chunks(const StepPlan& p) {
  std::vector<Chunk> v;
  for (const ScheduledChunk& c : p.chunks) v.emplace_back(c.id, c.num_tokens, c.context_before, c.decode);
  return v;
}

// Plans a step, checks the books, completes it, checks them again; returns the plan.
StepPlan step(Scheduler& s) {
  StepPlan p = s.schedule();
  s.check_integrity();
  s.complete(p);
  s.check_integrity();
  return p;
}

}  // namespace

// ------------------------------------------------------------------------------------------------ PREFILL_FIRST

TEST(SchedulerPrefillFirst, WaitingPromptsGetStepsOfTheirOwn) {
  Scheduler s(prefill_first(/*seqs=*/8, /*budget=*/64));
  ASSERT_TRUE(s.add_request(1, 20, 3));
  ASSERT_TRUE(s.add_request(2, 30, 2));
  ASSERT_TRUE(s.add_request(3, 40, 2));
  // Step 0: 1 (20 tokens) and 2 (30) fit the 64-token budget; 3 (40) does not fit the 14 left and is not chunked.
  StepPlan p = step(s);
  EXPECT_EQ(chunks(p), (std::vector<Chunk>{{1, 20, 0, false}, {2, 30, 0, false}}));
  EXPECT_EQ(p.shape.num_tokens, 50);
  EXPECT_EQ(p.shape.prefill_seqs, 2);
  EXPECT_EQ(p.shape.decode_seqs, 0);
  EXPECT_EQ(p.shape.sampled_seqs, 2);
  // Step 1: 3 fits a step of its own; 1 and 2, which have their first token, do not decode beside it.
  p = step(s);
  EXPECT_EQ(chunks(p), (std::vector<Chunk>{{3, 40, 0, false}}));
  // Step 2: nobody waits: all three decode (context: their prompts).
  p = step(s);
  EXPECT_EQ(chunks(p), (std::vector<Chunk>{{1, 1, 20, true}, {2, 1, 30, true}, {3, 1, 40, true}}));
  EXPECT_EQ(p.shape.decode_seqs, 3);
  EXPECT_EQ(p.shape.prefill_tokens, 0);
  // 2 and 3 have their 2 tokens; step 3: 1 decodes its third.
  EXPECT_EQ(s.num_running(), 1u);
  p = step(s);
  EXPECT_EQ(chunks(p), (std::vector<Chunk>{{1, 1, 21, true}}));
  EXPECT_TRUE(s.idle());
  EXPECT_EQ(s.blocks().num_free(), 64);
  EXPECT_EQ(s.outstanding_tokens(), 0);

  // UNIFIED on the same requests (no chunking either) lets 3 join the decodes of step 1 in one mixed step.
  Scheduler u(limits(64, 16, 8, 64, false, StepPolicy::UNIFIED, false));
  ASSERT_TRUE(u.add_request(1, 20, 3));
  ASSERT_TRUE(u.add_request(2, 30, 2));
  ASSERT_TRUE(u.add_request(3, 40, 2));
  step(u);
  EXPECT_EQ(chunks(step(u)), (std::vector<Chunk>{{1, 1, 20, true}, {2, 1, 30, true}, {3, 40, 0, false}}));
}

TEST(SchedulerPrefillFirst, AnArrivalPausesTheDecodes) {
  Scheduler s(prefill_first());
  ASSERT_TRUE(s.add_request(1, 10, 4));
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{1, 10, 0, false}}));  // token 1
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{1, 1, 10, true}}));   // token 2
  ASSERT_TRUE(s.add_request(2, 12, 2));
  // 2's prompt runs alone: 1 waits with 2 tokens.
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{2, 12, 0, false}}));
  EXPECT_EQ(s.find(1)->generated, 2);
  // Then both decode: 1's third token, 2's second and last.
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{1, 1, 11, true}, {2, 1, 12, true}}));
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{1, 1, 12, true}}));  // 1's fourth and last
  EXPECT_TRUE(s.idle());
}

TEST(SchedulerPrefillFirst, AdmissionStopsAtTheSequenceLimitAndTheBlocks) {
  // At most 2 sequences: 3 waits while 1 and 2 decode, and the next steps are steady (nothing can join).
  Scheduler s(prefill_first(/*seqs=*/2));
  ASSERT_TRUE(s.add_request(1, 10, 5));
  ASSERT_TRUE(s.add_request(2, 10, 3));
  ASSERT_TRUE(s.add_request(3, 10, 2));
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{1, 10, 0, false}, {2, 10, 0, false}}));
  // 2 has 2 tokens to go: a steady window of 2 steps (the second finishes it).
  EXPECT_EQ(s.steady_steps(), 2);
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{1, 1, 10, true}, {2, 1, 10, true}}));
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{1, 1, 11, true}, {2, 1, 11, true}}));  // 2 finishes
  // Now 3 can join, in a step of its own.
  EXPECT_EQ(s.steady_steps(), 0);
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{3, 10, 0, false}}));

  // 4 blocks of 16 tokens, a budget of 96 tokens: 1 (prompt 40, 3 blocks) runs; 2's prompt of 30 fits the budget
  // left (56) but needs 2 blocks and one is free: 1 decodes alone.
  Scheduler b(prefill_first(/*seqs=*/8, /*budget=*/96, /*blocks=*/4));
  ASSERT_TRUE(b.add_request(1, 40, 4));
  ASSERT_TRUE(b.add_request(2, 30, 2));
  EXPECT_EQ(chunks(step(b)), (std::vector<Chunk>{{1, 40, 0, false}}));
  EXPECT_EQ(b.steady_steps(), 3);  // 2 cannot join before 1 finishes; 1 has 3 tokens to go in its 3 blocks (<= 48)
  EXPECT_EQ(chunks(step(b)), (std::vector<Chunk>{{1, 1, 40, true}}));
}

// ------------------------------------------------------------------------------------------------ prefix caching by content

namespace {
// Hashes of a prompt's full blocks of 4 tokens named block by block: ids[i] names block i's tokens (a chain of
// 4-token "large" blocks, so our blocks and the trace's coincide).
std::vector<uint64_t> named_blocks(const std::vector<int64_t>& ids, int prompt) {
  return prompt_block_hashes(chain_block_ids(ids), 4, 4, prompt);
}
}  // namespace

TEST(SchedulerContentCache, TraceBlockIdsMapOntoOurBlocks) {
  // Mooncake-style ids of 512-token blocks onto blocks of 16: block i ends at token 16 (i + 1) - 1 and is named by
  // the chain up to large block floor((16 (i + 1) - 1) / 512). A 1,000-token prompt has floor(1000 / 16) = 62 full
  // blocks: 0..31 end in large block 0, 32..61 in large block 1.
  const auto a = prompt_block_hashes(chain_block_ids({7, 8}), 512, 16, 1000);
  const auto b = prompt_block_hashes(chain_block_ids({7, 9}), 512, 16, 1000);
  const auto c = prompt_block_hashes(chain_block_ids({5, 8}), 512, 16, 1000);
  ASSERT_EQ(a.size(), 62u);
  ASSERT_EQ(b.size(), 62u);
  for (size_t i = 0; i < 62; ++i) EXPECT_EQ(a[i] == b[i], i < 32) << "block " << i;  // same first large block only
  for (size_t i = 0; i < 62; ++i) EXPECT_NE(a[i], c[i]) << "block " << i;  // a chain differs from its first id on
  EXPECT_EQ(std::set<uint64_t>(a.begin(), a.end()).size(), 62u);  // every position has its own name
  // A chain shorter than the prompt names the blocks it reaches: 1 id, 32 blocks. Blocks of 48 tokens (not dividing
  // 512): block i reaches token 48 (i + 1) - 1, so blocks 0..9 (up to token 479) are in large block 0 and block 10
  // (480..527) reaches into large block 1.
  EXPECT_EQ(prompt_block_hashes(chain_block_ids({7}), 512, 16, 1000).size(), 32u);
  EXPECT_EQ(prompt_block_hashes(chain_block_ids({7}), 512, 48, 1000).size(), 10u);
  EXPECT_EQ(prompt_block_hashes(chain_block_ids({7, 8}), 512, 48, 1000).size(), 20u);  // floor(1000 / 48)
}

TEST(SchedulerContentCache, EveryRequestRepeatsAPrefix) {
  // Ten requests one after the other, 12-token prompts (3 blocks of 4) whose first two blocks are the same content
  // (ids 1, 2) and the third their own. The first computes all 12 tokens; each later one finds 2 blocks (8 tokens)
  // and computes 4: hits 9 x 8 = 72 of 120 prompt tokens (60 %), prefill tokens 12 + 9 x 4 = 48.
  Scheduler s(with_prefix_cache(/*blocks=*/64));
  int64_t prefill = 0, cached = 0;
  for (int r = 0; r < 10; ++r) {
    ASSERT_TRUE(s.add_request(r, 12, 1, named_blocks({1, 2, 100 + r}, 12)));
    const StepPlan p = s.schedule();
    s.check_integrity();
    prefill += p.shape.prefill_tokens;
    EXPECT_EQ(chunks(p), (std::vector<Chunk>{{r, r == 0 ? 12 : 4, r == 0 ? 0 : 8, false}}));
    for (const SeqOutcome& o : s.complete(p)) cached += o.cached_tokens;
    s.check_integrity();
    EXPECT_TRUE(s.idle());
  }
  EXPECT_EQ(s.prefix_hit_tokens(), 72);
  EXPECT_EQ(cached, 72);
  EXPECT_EQ(prefill, 48);
  EXPECT_EQ(s.prefix_evictions(), 0);  // 64 blocks hold everything: 2 shared + 10 own
  // Without caching the same requests compute every token.
  Scheduler off(limits(64, 4, 8, 64, true, StepPolicy::UNIFIED, false));
  for (int r = 0; r < 3; ++r) {
    ASSERT_TRUE(off.add_request(r, 12, 1, named_blocks({1, 2, 100 + r}, 12)));
    EXPECT_EQ(chunks(step(off)), (std::vector<Chunk>{{r, 12, 0, false}}));
  }
  EXPECT_EQ(off.prefix_hit_tokens(), 0);
  // More hashes than full blocks is a caller's error.
  EXPECT_THROW(s.add_request(99, 7, 1, named_blocks({1, 2}, 8)), std::invalid_argument);
}

TEST(SchedulerContentCache, RequestsRunningTogetherShareTheBlocksInUse) {
  // Request 0 computes its 12 tokens; request 1 arrives while 0 still decodes and finds blocks 0..1 in use: one more
  // owner each, no free block taken for them.
  Scheduler s(with_prefix_cache(/*blocks=*/64));
  ASSERT_TRUE(s.add_request(0, 12, 5, named_blocks({1, 2, 3}, 12)));
  step(s);
  ASSERT_TRUE(s.add_request(1, 12, 1, named_blocks({1, 2, 4}, 12)));
  const int free_before = s.blocks().num_free();
  const StepPlan p = s.schedule();
  s.check_integrity();
  EXPECT_EQ(chunks(p), (std::vector<Chunk>{{0, 1, 12, true}, {1, 4, 8, false}}));
  // 0 grows into a 4th block (13 tokens), 1 takes 1 block of its own: 2 taken.
  EXPECT_EQ(s.blocks().num_free(), free_before - 2);
  EXPECT_EQ(s.find(1)->block_table[0], s.find(0)->block_table[0]);
  EXPECT_EQ(s.find(1)->block_table[1], s.find(0)->block_table[1]);
  s.complete(p);
  s.check_integrity();
}

TEST(SchedulerContentCache, TheOldestFreedContentIsEvictedFirst) {
  // 4 blocks of 4 tokens, one request at a time, each 8-token prompt (2 blocks) and 1 output token.
  Scheduler s(with_prefix_cache(/*blocks=*/4));
  ASSERT_TRUE(s.add_request(0, 8, 1, named_blocks({10, 11}, 8)));  // A: blocks 0, 1; freed tail first: [1, 0]
  step(s);
  ASSERT_TRUE(s.add_request(1, 8, 1, named_blocks({20, 21}, 8)));  // B: the never-used 2, 3 before cached 1, 0
  step(s);
  EXPECT_EQ(s.prefix_evictions(), 0);
  ASSERT_TRUE(s.add_request(2, 8, 1, named_blocks({30, 31}, 8)));  // C: cache full; evicts A's 1 then 0 (oldest)
  step(s);
  EXPECT_EQ(s.prefix_evictions(), 2);
  // B's content is still there: a 9-token prompt on it finds both blocks and computes its 9th token.
  ASSERT_TRUE(s.add_request(3, 9, 1, named_blocks({20, 21}, 9)));
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{3, 1, 8, false}}));
  EXPECT_EQ(s.prefix_evictions(), 3);  // its 3rd block took the oldest free one, C's second (freed first)
  // A's is gone: computed again in full.
  ASSERT_TRUE(s.add_request(4, 9, 1, named_blocks({10, 11}, 9)));
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{4, 9, 0, false}}));
  EXPECT_EQ(s.prefix_hit_tokens(), 8);
}

namespace {

// Three 8-token prompts of other contents one after the other, A (10, 11), B (20, 21) and C (30, 31), on a cache of
// 4 blocks of 4: C's allocation evicts A's blocks from HBM, 1 then 0.
void serve_three_contents(Scheduler& s) {
  ASSERT_TRUE(s.add_request(0, 8, 1, named_blocks({10, 11}, 8)));
  step(s);
  ASSERT_TRUE(s.add_request(1, 8, 1, named_blocks({20, 21}, 8)));
  step(s);
  ASSERT_TRUE(s.add_request(2, 8, 1, named_blocks({30, 31}, 8)));
  step(s);
}

}  // namespace

TEST(SchedulerContentCache, EvictedContentIsReloadedFromHostMemory) {
  // As TheOldestFreedContentIsEvictedFirst, with host memory for 2 blocks: C's allocation evicts A's blocks 1 then 0
  // from HBM into host memory (2 offloads). A 9-token prompt on A's content then finds nothing in HBM and both blocks
  // in host memory: 8 tokens reloaded (the step's reload_tokens), its 9th computed after a context of 8.
  SchedulerLimits l = with_prefix_cache(/*blocks=*/4);
  l.host_blocks = 2;
  Scheduler s(l);
  serve_three_contents(s);
  EXPECT_EQ(s.prefix_evictions(), 2);
  EXPECT_EQ(s.host_offloads(), 2);
  ASSERT_TRUE(s.add_request(3, 9, 1, named_blocks({10, 11}, 9)));
  const StepPlan p = s.schedule();
  s.check_integrity();
  EXPECT_EQ(chunks(p), (std::vector<Chunk>{{3, 1, 8, false}}));
  EXPECT_EQ(p.shape.reload_tokens, 8);
  EXPECT_EQ(p.shape.prefill_tokens, 1);
  // Its 3 blocks come off the free list (freed oldest first: B's second and first, C's second), each content going to
  // host memory in turn: 3 more offloads, 5 in all.
  EXPECT_EQ(s.host_offloads(), 5);
  s.complete(p);
  s.check_integrity();
  EXPECT_EQ(s.host_reload_tokens(), 8);
  EXPECT_EQ(s.prefix_hit_tokens(), 8);
  // Without host memory the same sequence computes the 9 tokens.
  Scheduler none(with_prefix_cache(/*blocks=*/4));
  for (int r = 0; r < 3; ++r) {
    ASSERT_TRUE(none.add_request(r, 8, 1, named_blocks({10 * (r + 1), 10 * (r + 1) + 1}, 8)));
    step(none);
  }
  ASSERT_TRUE(none.add_request(3, 9, 1, named_blocks({10, 11}, 9)));
  const StepPlan q = step(none);
  EXPECT_EQ(chunks(q), (std::vector<Chunk>{{3, 9, 0, false}}));
  EXPECT_EQ(q.shape.reload_tokens, 0);
  EXPECT_EQ(none.host_offloads(), 0);
}

// ------------------------------------------------------------------------------------------------ shared prefixes

TEST(SchedulerPrefixCache, SecondRequestStartsWithTheSharedFullBlocks) {
  // Blocks of 4 tokens; a shared prefix of 10 tokens: floor(10 / 4) = 2 full blocks (8 tokens) can be shared.
  Scheduler s(with_prefix_cache(/*blocks=*/64));
  ASSERT_TRUE(s.add_request(1, 12, 2, /*group=*/7, /*prefix=*/10));
  // Step 0: nothing cached yet: 1 computes its 12 tokens (3 blocks); afterwards its first 2 blocks are pinned.
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{1, 12, 0, false}}));
  EXPECT_EQ(s.prefix_hit_tokens(), 0);
  EXPECT_EQ(s.blocks().num_free(), 64 - 3);
  ASSERT_TRUE(s.add_request(2, 14, 2, 7, 10));
  // Step 1: 1 decodes (13 tokens: a 4th block); 2 starts with the 2 cached blocks (8 tokens computed) and computes
  // the other 6 in 2 blocks of its own (14 tokens = 4 blocks). Pairs of its chunk: 6 x 8 + 6 x 7 / 2 = 69.
  const StepPlan p = s.schedule();
  s.check_integrity();  // the shared blocks have 3 owners: 1, 2 and the cache
  EXPECT_EQ(chunks(p), (std::vector<Chunk>{{1, 1, 12, true}, {2, 6, 8, false}}));
  EXPECT_EQ(p.shape.prefill_tokens, 6);
  EXPECT_EQ(p.shape.prefill_attended_pairs, 69);
  EXPECT_EQ(s.prefix_hit_tokens(), 8);
  const SeqState* r1 = s.find(1);
  const SeqState* r2 = s.find(2);
  ASSERT_EQ(r2->block_table.size(), 4u);
  EXPECT_EQ(r2->block_table[0], r1->block_table[0]);
  EXPECT_EQ(r2->block_table[1], r1->block_table[1]);
  EXPECT_NE(r2->block_table[2], r1->block_table[2]);
  // 1 holds 4 blocks, 2 two more of its own: 64 - 6 = 58 free (57 had 2 copied the prefix into blocks of its own).
  EXPECT_EQ(s.blocks().num_free(), 58);
  s.complete(p);  // 1 finishes: its 2 unshared blocks are freed, the shared ones keep 2 owners
  s.check_integrity();
  EXPECT_EQ(s.blocks().num_free(), 60);
  step(s);  // 2 finishes: its own 2 blocks are freed; the cache keeps the prefix's 2
  EXPECT_TRUE(s.idle());
  EXPECT_EQ(s.blocks().num_free(), 62);
  EXPECT_EQ(s.outstanding_tokens(), 0);  // the 8 cached tokens were taken off 2's work
}

TEST(SchedulerPrefixCache, AWholePromptPrefixStillComputesItsLastToken) {
  Scheduler s(with_prefix_cache(/*blocks=*/64));
  ASSERT_TRUE(s.add_request(1, 8, 1, /*group=*/9, /*prefix=*/8));
  step(s);  // computes 8 tokens, pins its 2 blocks
  // A prompt that is all prefix (8 tokens): at least one token must run for its logits, and only whole blocks are
  // shared: (8 - 1) / 4 = 1 block cached, the last block's 4 tokens computed.
  ASSERT_TRUE(s.add_request(2, 8, 1, 9, 8));
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{2, 4, 4, false}}));
  EXPECT_EQ(s.prefix_hit_tokens(), 4);
  // One token more than the prefix: (9 - 1) / 4 = 2 blocks cached, 1 token computed.
  ASSERT_TRUE(s.add_request(3, 9, 1, 9, 8));
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{3, 1, 8, false}}));
  EXPECT_EQ(s.prefix_hit_tokens(), 4 + 8);
  // Another group, or no group: nothing cached.
  ASSERT_TRUE(s.add_request(4, 9, 1, 10, 8));
  ASSERT_TRUE(s.add_request(5, 9, 1));
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{4, 9, 0, false}, {5, 9, 0, false}}));
  EXPECT_EQ(s.prefix_hit_tokens(), 12);
  EXPECT_TRUE(s.idle());
  // A prefix longer than the prompt is refused.
  EXPECT_THROW(s.add_request(6, 8, 1, 9, 9), std::invalid_argument);

  // Without prefix caching the groups change nothing.
  Scheduler off(limits(64, 4, 8, 64, true, StepPolicy::UNIFIED, false));
  ASSERT_TRUE(off.add_request(1, 8, 1, 9, 8));
  step(off);
  ASSERT_TRUE(off.add_request(2, 9, 1, 9, 8));
  EXPECT_EQ(chunks(step(off)), (std::vector<Chunk>{{2, 9, 0, false}}));
  EXPECT_EQ(off.prefix_hit_tokens(), 0);
}

// A group's cached prefix stays pinned while requests come, but add_request accepts any request whose KV fits the
// whole cache: when pinned prefixes leave less than the first waiting request needs and nothing runs, they are
// dropped (vLLM evicts cached blocks nobody uses when it needs room). Here: 6 blocks of 4; request 1 (prompt 8 = its
// group's prefix) leaves its 2 blocks pinned; request 2 (20 tokens, 5 blocks <= 6) needs 5 with 4 free: the prefix
// goes, request 2 runs, and the next request of the group computes its prefix again.
TEST(SchedulerPrefixCache, PinnedPrefixesDoNotStarveARequestTheCacheCanHold) {
  Scheduler s(with_prefix_cache(/*blocks=*/6));
  ASSERT_TRUE(s.add_request(1, 8, 1, /*group=*/0, /*prefix=*/8));
  step(s);  // 1 computes its prompt, generates its one token and finishes; its 2 blocks stay pinned
  EXPECT_EQ(s.blocks().num_free(), 4);
  ASSERT_TRUE(s.add_request(2, 20, 1));  // 20 KV tokens: 5 blocks of the cache's 6
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{2, 20, 0, false}}));  // the whole prompt: budget 64
  EXPECT_TRUE(s.idle());
  EXPECT_EQ(s.blocks().num_free(), 6) << "nothing pinned any more";
  s.check_integrity();
  ASSERT_TRUE(s.add_request(3, 8, 1, /*group=*/0, /*prefix=*/8));
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{3, 8, 0, false}})) << "the prefix is computed again";
  EXPECT_EQ(s.prefix_hit_tokens(), 0);
}

TEST(SchedulerPrefixCache, PrefillFirstUsesTheCacheToo) {
  // PREFILL_FIRST (no chunking): the second request of the group starts with the first's 4 pinned blocks (16 of its
  // 20 prompt tokens) and computes the other 4, in a step of its own; then both decode.
  Scheduler s(limits(64, 4, 8, 32, false, StepPolicy::PREFILL_FIRST, true));
  ASSERT_TRUE(s.add_request(1, 20, 2, 3, 16));
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{1, 20, 0, false}}));
  ASSERT_TRUE(s.add_request(2, 20, 2, 3, 16));
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{2, 4, 16, false}}));
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{1, 1, 20, true}, {2, 1, 20, true}}));
  EXPECT_TRUE(s.idle());
  EXPECT_EQ(s.prefix_hit_tokens(), 16);
}

// ------------------------------------------------------------------------------------------------ re-admission

namespace {

// Blocks of 4 tokens, 8 blocks. Request 1 (prompt 8) and request 2 (prompt 6) decode side by side; both need a 3rd,
// then a 4th block (1 at steps 1 and 5, 2 at steps 3 and 7), which takes the 8 blocks. At step 9 request 1 needs a
// 5th block: request 2, the most recent, is preempted with 14 computed tokens, 3 full blocks (its 4th holds 2 tokens).
// It releases its blocks tail first, so request 1 takes 2's partly filled 4th block and the 3 full ones stay free.
// Returns 2's full blocks at the preemption.
std::vector<int> run_until_preemption(Scheduler& s, int output1) {
  EXPECT_TRUE(s.add_request(1, 8, output1));
  EXPECT_TRUE(s.add_request(2, 6, 20));
  std::vector<int> full;
  for (int i = 0; i <= 9; ++i) {
    if (i == 9) {
      const SeqState* r2 = s.find(2);
      EXPECT_EQ(r2->num_computed_tokens, 14);
      EXPECT_EQ(r2->block_table.size(), 4u);
      full.assign(r2->block_table.begin(), r2->block_table.begin() + 3);
    }
    const StepPlan p = step(s);
    EXPECT_EQ(p.preempted.empty(), i != 9) << "step " << i;
  }
  EXPECT_EQ(s.find(2)->released_blocks.size(), 3u);  // (block, generation) of the 3 full blocks
  EXPECT_EQ(s.find(2)->num_tokens, 6 + 9);           // 9 tokens generated before the preemption
  EXPECT_EQ(s.find(2)->num_computed_tokens, 0);
  return full;
}

}  // namespace

TEST(SchedulerReadmission, TakesBackTheReleasedBlocksNobodyReused) {
  Scheduler s(with_prefix_cache(/*blocks=*/8));
  // Request 1 generates its 10th and last token at step 9 and frees its 5 blocks.
  const std::vector<int> full = run_until_preemption(s, /*output1=*/10);
  EXPECT_EQ(s.num_running(), 0u);
  // Step 10: 2 comes back with its 3 full blocks (12 tokens) still holding its KV: it recomputes 15 - 12 = 3 tokens
  // (2 prompt-and-generated tokens of its old 4th block and the 15th) instead of 15.
  const StepPlan p = step(s);
  EXPECT_EQ(chunks(p), (std::vector<Chunk>{{2, 3, 12, false}}));
  const SeqState* r2 = s.find(2);
  ASSERT_EQ(r2->block_table.size(), 4u);
  EXPECT_EQ(std::vector<int>(r2->block_table.begin(), r2->block_table.begin() + 3), full);
  EXPECT_TRUE(r2->released_blocks.empty());
  EXPECT_EQ(s.prefix_hit_tokens(), 12);
  EXPECT_EQ(r2->preemptions, 1);
  while (!s.idle()) step(s);
  EXPECT_EQ(s.blocks().num_free(), 8);
  EXPECT_EQ(s.outstanding_tokens(), 0);
}

TEST(SchedulerReadmission, RecomputesWhatWasHandedOutAgain) {
  Scheduler s(with_prefix_cache(/*blocks=*/8));
  // Request 1 (24 tokens to generate, 31 KV tokens at most: all 8 blocks) keeps growing after the preemption: its
  // 6th, 7th and 8th blocks (steps 13, 17, 21) can only be 2's 3 released ones, the only free blocks. 2 cannot come
  // back before 1 finishes (step 23): it needs 4 blocks (15 tokens), 3 at most are free.
  run_until_preemption(s, /*output1=*/24);
  for (int i = 10; i <= 23; ++i) {
    const StepPlan p = step(s);
    EXPECT_EQ(chunks(p).size(), 1u) << "step " << i;  // 1 alone
  }
  EXPECT_EQ(s.num_running(), 0u);
  // Step 24: none of 2's blocks holds its KV any more: it recomputes all 15 tokens.
  EXPECT_EQ(chunks(step(s)), (std::vector<Chunk>{{2, 15, 0, false}}));
  // The blocks it took back while trying to come back were given up again each time: no hits remain counted.
  EXPECT_EQ(s.prefix_hit_tokens(), 0);
  while (!s.idle()) step(s);
  EXPECT_EQ(s.blocks().num_free(), 8);
  EXPECT_EQ(s.outstanding_tokens(), 0);
}

TEST(KvBlockManager, ReclaimOnlyAnUnreusedFreeBlock) {
  KvBlockManager kv(2, 4);
  SeqState a, b;
  a.id = 1;
  b.id = 2;
  ASSERT_TRUE(kv.allocate(a, 4));  // block 0, generation 1
  const int block = a.block_table[0];
  const uint32_t gen = kv.generation(block);
  EXPECT_FALSE(kv.is_reclaimable(block, gen));  // in use
  kv.release(a);
  EXPECT_TRUE(kv.is_reclaimable(block, gen));
  EXPECT_FALSE(kv.is_reclaimable(block, gen + 1));
  EXPECT_TRUE(kv.reclaim(a, block, gen));  // back, as it was
  EXPECT_EQ(a.block_table, std::vector<int>{block});
  EXPECT_EQ(kv.num_free(), 1);
  kv.check_integrity({&a});
  EXPECT_FALSE(kv.reclaim(b, block, gen));  // not free any more
  kv.release(a);
  // Handed out again (the free list is served oldest first: block 0, freed before block 1 was ever used): the old
  // generation no longer matches.
  ASSERT_TRUE(kv.allocate(b, 4));
  EXPECT_EQ(b.block_table, std::vector<int>{block});
  EXPECT_EQ(kv.generation(block), gen + 1);
  kv.release(b);
  EXPECT_FALSE(kv.is_reclaimable(block, gen));
  EXPECT_FALSE(kv.reclaim(a, block, gen));
  EXPECT_FALSE(kv.is_reclaimable(5, 0));  // never allocated
  kv.check_integrity({});
}

// ------------------------------------------------------------------------------------------------ fast path

TEST(SchedulerSteady, ACachedPrefixMakesTheHeadAdmissible) {
  // 10 blocks of 4. Request 1 (prompt 16 = the group's prefix) computes 16 tokens in 4 blocks, which stay pinned.
  // Request 2 (prompt 28, same prefix) needs 7 blocks, 4 of them cached: 3 from the 6 free, less the 1 that 1's next
  // decode takes: it can join now, so the next step is not steady. Counting its whole prompt (7 > 5) would say it
  // cannot, and a steady window would wrongly leave it waiting.
  for (const bool caching : {true, false}) {
    Scheduler s(limits(10, 4, 8, 64, true, StepPolicy::UNIFIED, caching));
    ASSERT_TRUE(s.add_request(1, 16, 10, /*group=*/1, /*prefix=*/16));
    step(s);
    ASSERT_TRUE(s.add_request(2, 28, 2, 1, 16));
    const int steady = s.steady_steps();
    const StepPlan p = s.schedule();
    s.check_integrity();
    if (caching) {
      EXPECT_EQ(steady, 0);
      EXPECT_EQ(chunks(p), (std::vector<Chunk>{{1, 1, 16, true}, {2, 12, 16, false}}));
      EXPECT_EQ(s.blocks().num_free(), 10 - 5 - 3);  // 1's 5 blocks (4 shared), 2's own 3
    } else {
      // Without the cache 2 indeed cannot join (7 blocks, 5 free after 1's decode): 1 decodes alone, steadily, until
      // it finishes (9 tokens to go; its 7 blocks hold 25 tokens >= 16 + 9) and frees its blocks.
      EXPECT_EQ(steady, 9);
      EXPECT_EQ(chunks(p), (std::vector<Chunk>{{1, 1, 16, true}}));
    }
    s.complete(p);
    s.check_integrity();
  }
}

TEST(SchedulerSteady, BlocksTakenBackMakeTheHeadFitTheBudget) {
  // 8 blocks of 4 tokens, a budget of 13 tokens, no chunking. Requests 1 (prompt 2, 8 tokens to generate) from step 0,
  // 2 (prompt 5, 8) from step 2 and 3 (prompt 11, 3) from step 4; 3's prompt runs at step 4 (3 blocks: 4, 5, 6).
  // Step 6: 2 needs its 3rd block and takes the last free one; 3 needs a 4th (13 tokens): it preempts itself with 12
  // computed tokens, 3 full blocks, released tail first (6, 5, 4). Step 7: 1 takes block 6 for its 9th token and
  // finishes (8 generated), freeing its 3 blocks. Step 8: 2 decodes (11 tokens, in its 3 blocks); 3 waits with 13
  // tokens (11 + 2 generated), of which its blocks 4 and 5 still hold 8. Beside 2's decode the budget has 12 tokens
  // left: its 13 would not fit (no chunking), the 5 it has to recompute do, in 4 blocks of the 5 free.
  Scheduler s(limits(8, 4, 8, 13, false, StepPolicy::UNIFIED, true));
  const std::vector<std::pair<int, std::pair<int, int>>> arrivals = {{0, {2, 8}}, {2, {5, 8}}, {4, {11, 3}}};
  for (int i = 0; i < 8; ++i) {
    for (size_t r = 0; r < arrivals.size(); ++r) {
      if (arrivals[r].first == i) {
        ASSERT_TRUE(s.add_request(static_cast<RequestId>(r + 1), arrivals[r].second.first, arrivals[r].second.second));
      }
    }
    const StepPlan p = step(s);
    EXPECT_EQ(p.preempted, i == 6 ? std::vector<RequestId>{3} : std::vector<RequestId>{}) << "step " << i;
  }
  ASSERT_EQ(s.num_running(), 1u);
  ASSERT_EQ(s.find(3)->released_blocks.size(), 3u);
  ASSERT_EQ(s.find(3)->num_tokens, 13);
  EXPECT_EQ(s.steady_steps(), 0);  // counting 3's 13 tokens against the 12 left would claim a steady window
  const StepPlan p = step(s);
  EXPECT_EQ(chunks(p), (std::vector<Chunk>{{2, 1, 10, true}, {3, 5, 8, false}}));
  EXPECT_EQ(s.prefix_hit_tokens(), 8);
}

namespace {

struct Arrival {
  int step;
  int prompt, output, group, prefix;
  bool by_content = false;  // the group's prefix named by content hashes (blocks of 4) instead of a prefix group
};

// A prompt's block hashes: its group's prefix blocks shared with the group (ids 1000 g + i), the rest its own.
std::vector<uint64_t> content_of(const Arrival& a, RequestId id) {
  std::vector<int64_t> ids;
  for (int i = 0; i < a.prompt / 4; ++i)
    ids.push_back(a.group >= 0 && (i + 1) * 4 <= a.prefix ? 1000 * a.group + i : 1000000 + 1000 * id + i);
  return prompt_block_hashes(chain_block_ids(ids), 4, 4, a.prompt);
}

struct RunResult {
  std::map<RequestId, std::tuple<int64_t, int64_t, int>> times;  // first token step, finish step, preemptions
  int64_t steady_windows = 0, preemptions = 0, prefix_hits = 0, reloads = 0;
  bool admissions_beside_running = false;
};

RunResult run(const SchedulerLimits& l, const std::vector<Arrival>& arrivals, bool fast) {
  RunResult r;
  Scheduler s(l);
  int64_t step = 0;
  size_t next = 0;
  while (next < arrivals.size() || !s.idle()) {
    while (next < arrivals.size() && arrivals[next].step <= step) {
      const Arrival& a = arrivals[next];
      if (a.by_content)
        s.add_request(static_cast<RequestId>(next), a.prompt, a.output, content_of(a, static_cast<RequestId>(next)));
      else
        s.add_request(static_cast<RequestId>(next), a.prompt, a.output, a.group, a.prefix);
      ++next;
    }
    if (s.idle()) {
      // Idle with nothing left to arrive: the last arrivals were refused (found by AddressSanitizer: the test read
      // one past the end of the arrivals here).
      if (next == arrivals.size()) break;
      step = arrivals[next].step;
      continue;
    }
    int n = fast ? s.steady_steps() : 0;
    if (n > 0 && next < arrivals.size()) n = static_cast<int>(std::min<int64_t>(n, arrivals[next].step - step));
    if (n > 0) {
      const int64_t stop_at = step + n;
      for (const SeqOutcome& o : s.advance_steady(n)) {
        std::get<1>(r.times[o.id]) = stop_at - 1;
        std::get<2>(r.times[o.id]) = o.preemptions;
      }
      step = stop_at;
      ++r.steady_windows;
    } else {
      std::set<RequestId> was_running;
      for (size_t id = 0; id < next; ++id) {
        const SeqState* q = s.find(static_cast<RequestId>(id));
        if (q && q->num_computed_tokens > 0) was_running.insert(q->id);
      }
      const StepPlan p = s.schedule();
      s.check_integrity();
      r.preemptions += static_cast<int64_t>(p.preempted.size());
      // A step that runs requests that were running before it beside requests it admits (PREFILL_FIRST never does:
      // its admissions get a step of their own). Waiting requests hold no KV here (no transferred prompts).
      bool admitted = false, continued = false;
      for (const ScheduledChunk& c : p.chunks) (was_running.count(c.id) ? continued : admitted) = true;
      if (admitted && continued) r.admissions_beside_running = true;
      for (const SeqOutcome& o : s.complete(p)) {
        if (o.first_token) std::get<0>(r.times[o.id]) = step;
        if (o.finished) std::get<1>(r.times[o.id]) = step, std::get<2>(r.times[o.id]) = o.preemptions;
      }
      ++step;
    }
    s.check_integrity();
    if (step > 100000) {
      ADD_FAILURE() << "the run does not end: " << s.num_running() << " running, " << s.num_waiting() << " waiting, "
                    << s.blocks().num_free() << " blocks free of " << s.blocks().num_blocks();
      break;
    }
  }
  EXPECT_EQ(s.outstanding_tokens(), 0);
  r.prefix_hits = s.prefix_hit_tokens();
  r.reloads = s.host_reload_tokens();
  return r;
}

std::vector<Arrival> random_arrivals(uint64_t seed, int count, int max_prompt, int max_output, bool by_content) {
  std::mt19937_64 rng(seed);
  std::vector<Arrival> v;
  for (int i = 0, step = 0; i < count; ++i) {
    step += static_cast<int>(rng() % 10);
    const int group = static_cast<int>(rng() % 4) - 1;  // -1 (none), 0, 1, 2
    const int prefix = 8 + 8 * group;                  // groups' prefixes: 8, 16, 24 tokens
    const int prompt = (group >= 0 ? prefix : 0) + 1 + static_cast<int>(rng() % max_prompt);
    v.push_back({step, prompt, 1 + static_cast<int>(rng() % max_output), group, group >= 0 ? prefix : 0, by_content});
  }
  return v;
}

}  // namespace

// Fast path and single steps agree, with prefix groups or content hashes, preemptions and re-admissions, under both
// policies.
TEST(SchedulerSteady, FastPathEqualsSingleStepsWithPrefixesAndPreemptions) {
  struct Config {
    const char* name;
    SchedulerLimits limits;
  };
  const Config configs[] = {
      {"unified chunked", limits(40, 4, 12, 48, true, StepPolicy::UNIFIED, true)},
      {"unified whole prompts", limits(40, 4, 12, 96, false, StepPolicy::UNIFIED, true)},
      {"prefill-first", limits(40, 4, 12, 96, false, StepPolicy::PREFILL_FIRST, true)},
      {"prefill-first, no cache", limits(40, 4, 12, 96, false, StepPolicy::PREFILL_FIRST, false)},
      {"unified chunked, host memory", with_host(limits(40, 4, 12, 48, true, StepPolicy::UNIFIED, true), 16)},
      {"prefill-first, host memory", with_host(limits(40, 4, 12, 96, false, StepPolicy::PREFILL_FIRST, true), 16)},
  };
  for (const Config& c : configs) {
    for (uint64_t seed : {1u, 2u, 3u, 4u, 5u, 6u}) {
      const bool by_content = seed > 3;  // seeds 4-6: the prefixes named by content hashes
      const std::vector<Arrival> arrivals = random_arrivals(seed, 150, 40, 40, by_content);
      const RunResult slow = run(c.limits, arrivals, false), fast = run(c.limits, arrivals, true);
      EXPECT_EQ(slow.times, fast.times) << c.name << " seed " << seed;
      EXPECT_EQ(slow.prefix_hits, fast.prefix_hits) << c.name << " seed " << seed;
      EXPECT_EQ(slow.reloads, fast.reloads) << c.name << " seed " << seed;
      if (c.limits.host_blocks > 0 && by_content) {
        EXPECT_GT(slow.reloads, 0) << c.name << " seed " << seed;
      }
      // The run exercised what it is meant to: steady windows, preemptions, cache hits where caching is on.
      EXPECT_GT(fast.steady_windows, 10) << c.name << " seed " << seed;
      EXPECT_GT(slow.preemptions, 0) << c.name << " seed " << seed;
      if (c.limits.prefix_caching) {
        EXPECT_GT(slow.prefix_hits, 0) << c.name << " seed " << seed;
      }
      // PREFILL_FIRST never runs an admission beside the running requests; UNIFIED does all the time. (Not "never a
      // prompt chunk beside a decode chunk": a request re-admitted after a preemption with all but its last token in
      // blocks it took back computes one token after its context, which the scheduler labels a decode.)
      EXPECT_EQ(slow.admissions_beside_running, c.limits.policy == StepPolicy::UNIFIED) << c.name << " seed " << seed;
    }
  }
}

// Small, tight scenarios (a few requests, a handful of blocks, budgets of a dozen tokens) reach the corners of the
// admission check: a head that fits only thanks to blocks it takes back, a cached prefix, the budget beside decodes.
TEST(SchedulerSteady, FastPathEqualsSingleStepsOnSmallTightScenarios) {
  AIF_TEST_SEED(seed, 99);
  std::mt19937_64 rng(seed);
  int failures = 0;
  int64_t runs = 0, steady_windows = 0, preemptions = 0, hits = 0, reloads = 0;
  for (int trial = 0; trial < 20000 && failures < 3; ++trial) {
    const bool prefill_first = rng() % 2 == 0;
    const bool chunked = !prefill_first && rng() % 2 == 0;
    const int budget = 12 + static_cast<int>(rng() % 12), blocks = 4 + static_cast<int>(rng() % 8);
    SchedulerLimits l = limits(blocks, 4, 1 + static_cast<int>(rng() % 8), budget, chunked,
                               prefill_first ? StepPolicy::PREFILL_FIRST : StepPolicy::UNIFIED, true);
    if (trial % 4 == 3) l.host_blocks = 1 + static_cast<int>(rng() % 6);  // content arrivals with host memory
    std::vector<Arrival> arrivals;
    const int n = 2 + static_cast<int>(rng() % 3);
    for (int i = 0, at = 0; i < n; ++i) {
      at += static_cast<int>(rng() % 4);
      const int prompt = 1 + static_cast<int>(rng() % (budget - 1));
      const int output = 1 + static_cast<int>(rng() % (budget - prompt + 1));
      const int group = static_cast<int>(rng() % 3) - 1;  // none, 0 or 1
      arrivals.push_back({at, prompt, output, group, group < 0 ? 0 : std::min(prompt, 4 + 4 * group), trial % 2 == 1});
    }
    if (arrivals.empty()) continue;
    const RunResult slow = run(l, arrivals, false), fast = run(l, arrivals, true);
    ++runs;
    steady_windows += fast.steady_windows;
    preemptions += slow.preemptions;
    hits += slow.prefix_hits;
    reloads += slow.reloads;
    if (slow.times != fast.times || slow.prefix_hits != fast.prefix_hits || slow.reloads != fast.reloads) {
      ++failures;
      std::string text;
      for (const Arrival& a : arrivals)
        text += " (step " + std::to_string(a.step) + " prompt " + std::to_string(a.prompt) + " out " +
                std::to_string(a.output) + " group " + std::to_string(a.group) + ")";
      ADD_FAILURE() << "trial " << trial << ": fast path and single steps differ; budget " << budget << " blocks "
                    << blocks << " seqs " << l.max_num_seqs << (prefill_first ? " prefill-first" : " unified")
                    << (chunked ? " chunked" : "") << ":" << text;
    }
  }
  // What the scenarios exercised, in all: many runs, steady windows, preemptions and cache hits.
  EXPECT_GT(runs, 15000);
  EXPECT_GT(steady_windows, 20000);
  EXPECT_GT(preemptions, 1000);
  EXPECT_GT(hits, 20000);
  EXPECT_GT(reloads, 0);
  std::printf("%lld runs, %lld steady windows, %lld preemptions, %lld prefix hit tokens\n", static_cast<long long>(runs),
              static_cast<long long>(steady_windows), static_cast<long long>(preemptions), static_cast<long long>(hits));
}

// ------------------------------------------------------------------------------------------- speculative decoding

namespace {

SchedulerLimits speculative(int drafts, double acceptance) {
  SchedulerLimits l = limits(256, 16, 8, 256, true, StepPolicy::UNIFIED, false);
  l.spec_tokens = drafts;
  l.spec_acceptance = acceptance;
  l.spec_seed = 11;
  return l;
}

// Steps until every request has finished (each step planned, checked and completed).
int run_out(Scheduler& s) {
  int steps = 0;
  while (!s.idle()) step(s), ++steps;
  return steps;
}

}  // namespace

// Acceptance 1: every draft is taken. A 64-token prompt and 100 output tokens with 4 drafts: the prefill step gives the
// first token; each later step verifies the last token and 4 drafts (5 tokens through the model) and yields 5 tokens,
// capped by what is left: 99 = 19 x 5 + 4, so 20 verify steps, the last with 3 drafts.
TEST(SchedulerSpeculative, AcceptingEveryDraftYieldsDraftsPlusOneTokensAStep) {
  Scheduler s(speculative(4, 1.0));
  ASSERT_TRUE(s.add_request(1, 64, 100));
  const StepPlan prefill = step(s);
  EXPECT_EQ(chunks(prefill), (std::vector<Chunk>{{1, 64, 0, false}}));
  EXPECT_EQ(prefill.shape.verify_seqs, 0);
  const StepPlan verify = s.schedule();
  // The last token after 64 computed, and 4 drafts: 5 tokens, all 5 sampled, a prefill-like chunk.
  EXPECT_EQ(chunks(verify), (std::vector<Chunk>{{1, 5, 64, false}}));
  EXPECT_EQ(verify.chunks[0].drafts, 4);
  EXPECT_EQ(verify.shape.verify_seqs, 1);
  EXPECT_EQ(verify.shape.draft_tokens, 4);
  EXPECT_EQ(verify.shape.sampled_seqs, 5);
  EXPECT_EQ(verify.shape.verify_context, 64);
  EXPECT_EQ(verify.shape.verify_attended_pairs, 5 * 64 + 15);  // n context + n (n + 1) / 2, n = 5
  const auto out = s.complete(verify);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].generated, 6);  // the first token and 5 more
  EXPECT_EQ(run_out(s), 19);
  EXPECT_EQ(s.verifications(), 20);
  EXPECT_EQ(s.drafts_proposed(), 19 * 4 + 3);
  EXPECT_EQ(s.drafts_accepted(), 19 * 4 + 3);
  EXPECT_EQ(s.steady_steps(), 0);
}

// Acceptance 0: every step yields one token, as without drafts, but verifies 4 drafts each time (to the last 4 tokens,
// which leave fewer to propose: 3, 2, 1, 0 drafts).
TEST(SchedulerSpeculative, RejectingEveryDraftYieldsOneTokenAStep) {
  Scheduler s(speculative(4, 0.0));
  ASSERT_TRUE(s.add_request(1, 64, 20));
  step(s);
  EXPECT_EQ(run_out(s), 19);
  EXPECT_EQ(s.drafts_accepted(), 0);
  EXPECT_EQ(s.drafts_proposed(), 15 * 4 + 3 + 2 + 1);
  EXPECT_EQ(s.verifications(), 18);  // the last token is decoded alone: no draft left to propose
}

// Each draft accepted with probability a until the first rejection: a verification of k drafts yields on average
// (1 - a^(k+1)) / (1 - a) tokens (Leviathan et al. 2023): with a = 0.7, k = 4, 2.77309, and accepts a (1 - a^k) / (1 - a)
// = 1.77309 of its 4 drafts (0.44327 each). Over 400 requests of 4,000 output tokens (about 577,000 verifications;
// the tokens of one have a standard deviation of 1.56, so the mean's standard error is 0.002) the means are within
// 0.01 of these; the last verification of each request, with fewer drafts, moves them by about 0.001.
TEST(SchedulerSpeculative, MeanTokensPerVerificationFollowTheAcceptanceRate) {
  SchedulerLimits l = speculative(4, 0.7);
  l.num_blocks = 1 << 17;
  l.max_num_seqs = 256;
  l.max_num_batched_tokens = 1 << 16;
  Scheduler s(l);
  for (int i = 0; i < 400; ++i) ASSERT_TRUE(s.add_request(i, 16, 4000));
  while (!s.idle()) s.complete(s.schedule());
  const double per_step = static_cast<double>(s.verifications() + s.drafts_accepted()) / s.verifications();
  EXPECT_NEAR(per_step, (1 - std::pow(0.7, 5)) / (1 - 0.7), 0.01) << "tokens per verification";
  EXPECT_NEAR(static_cast<double>(s.drafts_accepted()) / s.drafts_proposed(), 0.7 * (1 - std::pow(0.7, 4)) / 0.3 / 4,
              0.01);
}

TEST(SchedulerContentCache, HostMemoryPushesOutToDiskAndReloadsComeFromBoth) {
  // As EvictedContentIsReloadedFromHostMemory with host memory for 1 block and a disk for 2: C's allocation evicts A's
  // blocks 1 then 0 from HBM; A1 goes to host memory, then A0 pushes it out to disk. A 9-token prompt on A's content
  // then reloads block 0 from host memory and block 1 from disk: 8 tokens, 4 of them from disk.
  SchedulerLimits l = with_prefix_cache(/*blocks=*/4);
  l.host_blocks = 1;
  l.disk_blocks = 2;
  Scheduler s(l);
  serve_three_contents(s);
  EXPECT_EQ(s.host_offloads(), 2);
  EXPECT_EQ(s.disk_offloads(), 1);
  ASSERT_TRUE(s.add_request(3, 9, 1, named_blocks({10, 11}, 9)));
  const StepPlan p = s.schedule();
  s.check_integrity();
  EXPECT_EQ(chunks(p), (std::vector<Chunk>{{3, 1, 8, false}}));
  EXPECT_EQ(p.shape.reload_tokens, 8);
  EXPECT_EQ(p.shape.reload_disk_tokens, 4);
  // Its 3 blocks evict B1, B0 and C1 into host memory, each pushing the one before down to disk: A0, B1, B0.
  EXPECT_EQ(s.host_offloads(), 5);
  EXPECT_EQ(s.disk_offloads(), 4);
  s.complete(p);
  s.check_integrity();
  EXPECT_EQ(s.host_reload_tokens(), 4);
  EXPECT_EQ(s.disk_reload_tokens(), 4);
  EXPECT_EQ(s.prefix_hit_tokens(), 8);
}
