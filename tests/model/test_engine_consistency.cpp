// The reference engine's forward pass: against the float64 whole-model reference, and the equalities that
// paged, cached, chunked, batched execution must keep on the CPU (bitwise: every CPU operator computes a
// row from its own inputs in a fixed order, and small GEMMs are padded off OpenBLAS's small-matrix path).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <tuple>
#include <vector>

#include "../support/kernel_shapes.hpp"
#include "aif/kernels/engine.hpp"
#include "aif/kernels/platform_info.hpp"
#include "aif/kernels/reference.hpp"

namespace ak = aif::kernels;

namespace {

// Bitwise equalities need OpenBLAS's AVX-512 kernel family (see kernels/src/cpu_backend.cpp); without AVX-512 they
// cannot hold, and the test says so.
#define REQUIRE_ROW_INDEPENDENT_BLAS()                                                                          \
  if (!ak::blas_rows_independent())                                                                             \
  GTEST_SKIP() << "OpenBLAS runs " << ak::blas_version()                                                       \
               << ": without its AVX-512 kernels SGEMM rows depend on their position in the batch"

ak::ModelShape test_shape() { return aif::testing::test_model_shape("test-llama", 96, 128, 256); }

struct Fixture {
  std::unique_ptr<ak::Backend> backend = ak::make_cpu_backend(2);
  ak::HostWeights weights = ak::make_weights(test_shape(), 1234);
  ak::Model model{*backend, weights};
};

// Runs `tokens` through the model in chunks of the given sizes on a fresh cache whose block table is
// `table`, returning the logits after each chunk (the last token of the chunk).
std::vector<std::vector<float>> run_chunks(ak::Model& model, const std::vector<int32_t>& tokens,
                                           const std::vector<int>& chunks, const std::vector<int32_t>& table,
                                           int block_size = 4) {
  ak::KvCache cache(model.backend(), model.shape(), 64, block_size);
  std::vector<std::vector<float>> out;
  int done = 0;
  for (int c : chunks) {
    ak::ForwardInput in;
    in.tokens.assign(tokens.begin() + done, tokens.begin() + done + c);
    ak::SeqChunk sc;
    sc.q_len = c;
    sc.context_len = done + c;
    sc.block_table.assign(table.begin(), table.begin() + (done + c + block_size - 1) / block_size);
    sc.sample = true;
    in.seqs.push_back(sc);
    out.push_back(model.forward(in, cache));
    done += c;
  }
  return out;
}

std::vector<int32_t> identity_table(int n) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), 0);
  return t;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST(EngineForward, MatchesFloat64WholeModelReference) {
  Fixture f;
  const auto tokens = ak::synthetic_prompt(5, 1, 14, f.weights.shape.vocab);
  const ak::ref::Vec ref = ak::ref::model_forward(f.weights, tokens);  // [14][vocab], no cache
  // Prefill 10 tokens, then 4 single-token decode steps through the KV cache.
  const auto got = run_chunks(f.model, tokens, {10, 1, 1, 1, 1}, identity_table(16));
  const int vocab = f.weights.shape.vocab;
  // fp32 through 2 layers: each row passes sums of up to hidden+ffn+context terms per layer (Higham gamma_n)
  // and a few elementwise roundings: bound 10 * layers * (64 + 96 + 14) * 2^-24 = 2.1e-4.
  const double bound = 10.0 * 2 * (64 + 96 + 14) * 0x1.0p-24;
  for (size_t i = 0; i < got.size(); ++i) {
    const size_t pos = 9 + i;
    ak::ref::Vec row(ref.begin() + long(pos) * vocab, ref.begin() + long(pos + 1) * vocab);
    const double err = ak::ref::normalized_error(got[i], row);
    std::cout << "position " << pos << ": normalized error vs float64 " << err << " (bound " << bound << ")\n";
    EXPECT_LE(err, bound);
  }
  // Logits are not flat: their standard deviation is near the designed 3 (make_weights, logit_std).
  double s = 0, s2 = 0;
  for (float v : got.back()) s += v, s2 += double(v) * v;
  const double sd = std::sqrt(s2 / vocab - (s / vocab) * (s / vocab));
  std::cout << "logit standard deviation " << sd << " (designed 3)\n";
  EXPECT_GT(sd, 1.5);
  EXPECT_LT(sd, 6.0);
}

TEST(EngineForward, KvCacheEqualsRecomputationWithoutCache) {
  REQUIRE_ROW_INDEPENDENT_BLAS();
  Fixture f;
  const auto tokens = ak::synthetic_prompt(6, 2, 12, f.weights.shape.vocab);
  const auto cached = run_chunks(f.model, tokens, {8, 1, 1, 1, 1}, identity_table(16));
  for (int len = 8; len <= 12; ++len) {
    // Fresh cache, whole prefix in one pass: nothing reused.
    const auto recomputed = run_chunks(f.model, std::vector<int32_t>(tokens.begin(), tokens.begin() + len), {len},
                                       identity_table(16));
    EXPECT_TRUE(bitwise_equal(cached[size_t(len - 8)], recomputed[0])) << "length " << len;
  }
}

TEST(EngineForward, PagedEqualsContiguous) {
  REQUIRE_ROW_INDEPENDENT_BLAS();
  Fixture f;
  const auto tokens = ak::synthetic_prompt(7, 3, 23, f.weights.shape.vocab);
  const std::vector<int32_t> scattered{41, 3, 17, 60, 0, 22, 9, 33};  // 8 blocks of 4 cover 32 tokens
  const auto contiguous = run_chunks(f.model, tokens, {15, 1, 1, 6}, identity_table(8));
  const auto paged = run_chunks(f.model, tokens, {15, 1, 1, 6}, scattered);
  for (size_t i = 0; i < contiguous.size(); ++i) EXPECT_TRUE(bitwise_equal(contiguous[i], paged[i])) << "step " << i;
  // Block size 8 with the same tokens: a different paging, same logits.
  const auto paged8 = run_chunks(f.model, tokens, {15, 1, 1, 6}, {5, 1, 7, 2}, 8);
  for (size_t i = 0; i < contiguous.size(); ++i) EXPECT_TRUE(bitwise_equal(contiguous[i], paged8[i])) << "step " << i;
}

TEST(EngineForward, ChunkedPrefillEqualsOneShot) {
  REQUIRE_ROW_INDEPENDENT_BLAS();
  Fixture f;
  const auto tokens = ak::synthetic_prompt(8, 4, 21, f.weights.shape.vocab);
  const auto one_shot = run_chunks(f.model, tokens, {20, 1}, identity_table(8));
  const auto chunked = run_chunks(f.model, tokens, {7, 7, 6, 1}, identity_table(8));
  EXPECT_TRUE(bitwise_equal(one_shot[0], chunked[2])) << "logits after the prompt";
  EXPECT_TRUE(bitwise_equal(one_shot[1], chunked[3])) << "logits of the next decode step";
  // And both within fp32 error of the float64 reference (so equality is not two equal wrong answers).
  const ak::ref::Vec ref = ak::ref::model_forward(f.weights, std::vector<int32_t>(tokens.begin(), tokens.begin() + 20));
  const int vocab = f.weights.shape.vocab;
  EXPECT_LE(ak::ref::normalized_error(chunked[2], ak::ref::Vec(ref.end() - vocab, ref.end())), 2e-4);
}

namespace {

// Runs requests through the engine (greedy) and records every logits row each request sampled from.
struct Recorded {
  std::map<int64_t, std::vector<std::vector<float>>> logits;
  std::map<int64_t, std::vector<int32_t>> tokens;
  int preemptions = 0;
  int steps = 0;
};

struct Req {
  int64_t id;
  int prompt;
  int output;
  int arrive_step;  // added before this step
};

Recorded run_engine(ak::Model& model, const std::vector<Req>& reqs, int num_blocks, int token_budget) {
  ak::EngineConfig cfg;
  cfg.limits.block_size = 4;
  cfg.limits.num_blocks = num_blocks;
  cfg.limits.max_num_batched_tokens = token_budget;
  cfg.limits.max_num_seqs = 8;
  ak::Engine engine(model, cfg);
  Recorded rec;
  engine.on_logits = [&](int64_t id, int, const float* row) {
    rec.logits[id].emplace_back(row, row + model.shape().vocab);
  };
  size_t next = 0;
  std::vector<int64_t> live;
  for (int step = 0; step < 10000; ++step) {
    while (next < reqs.size() && reqs[next].arrive_step <= step) {
      const Req& r = reqs[next++];
      EXPECT_TRUE(engine.add_request(r.id, ak::synthetic_prompt(99, r.id, r.prompt, model.shape().vocab), r.output));
      live.push_back(r.id);
    }
    if (next == reqs.size() && engine.idle()) break;
    const auto rep = engine.step();
    rec.preemptions += static_cast<int>(rep.plan.preempted.size());
    engine.scheduler().check_integrity();
    ++rec.steps;
  }
  EXPECT_TRUE(engine.idle());
  EXPECT_EQ(engine.scheduler().blocks().num_free(), num_blocks) << "every KV block is back on the free list";
  for (int64_t id : live) rec.tokens[id] = engine.tokens(id);
  return rec;
}

}  // namespace

TEST(EngineBatching, LogitsDoNotDependOnBatchMates) {
  REQUIRE_ROW_INDEPENDENT_BLAS();
  Fixture f;
  const Req target{7, 13, 6, 0};
  const Recorded alone = run_engine(f.model, {target}, 64, 64);
  // Same request among others: arriving before, with and after it; a small token budget so prompts are
  // chunked and mixed with decodes in the same steps.
  const std::vector<Req> crowd{{1, 9, 8, 0}, {7, 13, 6, 0}, {2, 17, 3, 1}, {3, 5, 9, 2}, {4, 30, 2, 3}};
  const Recorded mixed = run_engine(f.model, crowd, 64, 10);
  ASSERT_EQ(alone.logits.at(7).size(), 6u);
  ASSERT_EQ(mixed.logits.at(7).size(), 6u);
  for (size_t i = 0; i < 6; ++i)
    EXPECT_TRUE(bitwise_equal(alone.logits.at(7)[i], mixed.logits.at(7)[i])) << "output token " << i;
  EXPECT_EQ(alone.tokens.at(7), mixed.tokens.at(7));
  for (const Req& r : crowd)
    EXPECT_EQ(static_cast<int>(mixed.tokens.at(r.id).size()), r.prompt + r.output) << "request " << r.id;
}

TEST(EngineBatching, PreemptionByRecomputeGivesTheSameTokens) {
  Fixture f;
  const std::vector<Req> reqs{{1, 10, 12, 0}, {2, 11, 12, 0}, {3, 9, 12, 0}, {4, 12, 12, 0}};
  const Recorded roomy = run_engine(f.model, reqs, 64, 64);
  // 14 blocks of 4 = 56 token slots for 4 requests that grow to ~22 each: some must be preempted.
  const Recorded tight = run_engine(f.model, reqs, 14, 64);
  std::cout << "preemptions with 14 blocks: " << tight.preemptions << "\n";
  EXPECT_GT(tight.preemptions, 0);
  EXPECT_EQ(roomy.preemptions, 0);
  for (const Req& r : reqs) {
    EXPECT_EQ(static_cast<int>(tight.tokens.at(r.id).size()), r.prompt + r.output);
    EXPECT_EQ(roomy.tokens.at(r.id), tight.tokens.at(r.id)) << "request " << r.id;
  }
}

// Prefix caching by content: a request whose prompt begins with the tokens of an earlier one finds their KV blocks
// (32 of its 40 prompt tokens: 8 blocks of 4; the ninth holds its own tokens), computes only the rest, and gets the
// logits it gets on an engine without the cache (the cached KV is what it would compute itself): within float
// rounding everywhere (1e-4 of the largest logit; a wrong KV block moves them by their own size), bit for bit where
// SGEMM rows are independent of their batch, and then the same tokens.
TEST(EnginePrefixCache, ACachedPrefixGivesTheSameLogits) {
  Fixture f;
  const int vocab = f.model.shape().vocab;
  const std::vector<int32_t> first = ak::synthetic_prompt(5, 1, 40, vocab);
  std::vector<int32_t> second(first.begin(), first.begin() + 32);
  const std::vector<int32_t> own = ak::synthetic_prompt(5, 2, 8, vocab);
  second.insert(second.end(), own.begin(), own.end());
  struct Served {
    int cached = -1, prefill = 0;
    std::vector<int32_t> tokens;
    std::vector<std::vector<float>> logits;
  };
  auto serve = [&](bool cache, bool with_first) {
    ak::EngineConfig cfg;
    cfg.limits.block_size = 4;
    cfg.limits.num_blocks = 64;
    cfg.limits.max_num_batched_tokens = 64;
    cfg.limits.max_num_seqs = 8;
    cfg.limits.prefix_caching = cache;
    ak::Engine engine(f.model, cfg);
    Served out;
    engine.on_logits = [&](int64_t id, int, const float* row) {
      if (id == 2) out.logits.emplace_back(row, row + vocab);
    };
    auto run = [&](int64_t id, const std::vector<int32_t>& prompt) {
      EXPECT_TRUE(engine.add_request(id, prompt, 6));
      while (!engine.idle()) {
        const auto rep = engine.step();
        engine.scheduler().check_integrity();
        if (id == 2) out.prefill += rep.prefill_tokens;
        for (const auto& o : rep.outcomes)
          if (o.id == id && o.finished) out.cached = o.cached_tokens;
      }
    };
    if (with_first) run(1, first);
    run(2, second);
    out.tokens = engine.tokens(2);
    return out;
  };
  const Served cached = serve(true, true), plain = serve(false, true);
  EXPECT_EQ(cached.cached, 32);
  EXPECT_EQ(cached.prefill, 8);  // the 8 tokens after the cached blocks
  EXPECT_EQ(plain.cached, 0);
  EXPECT_EQ(plain.prefill, 40);
  ASSERT_EQ(cached.logits.size(), 6u);
  ASSERT_EQ(plain.logits.size(), 6u);
  // The first output token's logits come from the same prompt either way: compared before the tokens can diverge.
  float largest = 0, worst = 0;
  for (int v = 0; v < vocab; ++v) {
    largest = std::max(largest, std::abs(plain.logits[0][size_t(v)]));
    worst = std::max(worst, std::abs(cached.logits[0][size_t(v)] - plain.logits[0][size_t(v)]));
  }
  EXPECT_LE(worst, 1e-4f * largest) << "largest logit " << largest;
  if (!ak::blas_rows_independent())
    GTEST_SKIP() << "OpenBLAS runs " << ak::blas_version() << ": the bitwise comparison needs row-independent SGEMM";
  for (size_t i = 0; i < 6; ++i) EXPECT_TRUE(bitwise_equal(cached.logits[i], plain.logits[i])) << "output token " << i;
  EXPECT_EQ(cached.tokens, plain.tokens);
  EXPECT_EQ(cached.tokens, serve(true, false).tokens);  // alone on a fresh cache
}
