// The reference engine and the simulator agree on prefix cache hits for the same trace. A Mooncake-format trace names
// its prompts' 512-token blocks; the engine turns equal ids into equal tokens (kernels: content_prompt) and caches
// blocks by their tokens, the simulator by the ids. Requests 1 s apart finish long before the next arrives, so the
// hits depend on the trace alone, and are worked out by hand (blocks of 16 tokens):
//   0  [1, 2]     1,024 tokens   nothing before it                                              0
//   1  [1, 2, 3]  1,500          request 0's whole prompt, 64 blocks                        1,024
//   2  [1, 4]     1,000          block id 1: 512 tokens, 32 blocks                            512
//   3  [5]          300          nothing with id 5 before                                       0
//   4  [1, 2, 3]  1,500          request 1's full blocks, 1,500 / 16 = 93 (at most 1,499 / 16) 1,488
//   5  [5, 6]       700          request 3's full blocks, 300 / 16 = 18                       288
//   6  [1, 2]     1,024          all but the last block: (1,024 - 1) / 16 = 63               1,008
//   7  [7]          100          nothing                                                        0
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "../support/aifsim_process.hpp"
#include "aif/analysis/results.hpp"

using namespace aif::testing;

TEST(EnginePrefixHits, EngineAndSimulatorFindTheSameCachedTokens) {
  const std::string dir = scratch_dir("engine_prefix_hits");
  const std::string trace = source_path("tests/data/traces/engine_prefix_hits.jsonl");
  const std::string engine = std::string(AIF_BINARY_DIR) + "/kernels/aifsim-engine";
  const auto served = run_command(engine + " serve --model tiny-llama --threads 2 --prefix-caching true --trace " + trace +
                                  " -o " + dir + "/engine.h5 2>&1");
  ASSERT_EQ(served.exit_code, 0) << served.output;
  const auto simulated = run_aifsim("run " + source_path("tests/data/scenarios/engine_prefix_hits.yaml") + " -o " + dir +
                                    "/sim.h5 --quiet");
  ASSERT_EQ(simulated.exit_code, 0) << simulated.output;

  const int expected[] = {0, 1024, 512, 0, 1488, 288, 1008, 0};
  auto cached = [](const std::string& path) {
    std::map<int64_t, int32_t> by_id;
    for (const auto& r : aif::analysis::ResultsReader(path).requests()) {
      EXPECT_EQ(r.outcome, aif::analysis::Outcome::FINISHED) << path << " request " << r.id;
      by_id[r.id] = r.cached_tokens;
    }
    return by_id;
  };
  // The hits by hand hold only while each request's prompt is computed (its blocks cached) before the next arrives.
  // An engine slowed down (under the sanitizers it is several times slower) overlaps the prefills and caches
  // differently: then this says so and skips.
  const auto engine_requests = aif::analysis::ResultsReader(dir + "/engine.h5").requests();
  for (size_t i = 0; i + 1 < engine_requests.size(); ++i) {
    if (engine_requests[i].first_token_s > engine_requests[i + 1].arrival_s)
      GTEST_SKIP() << "the engine is too slow here for the by-hand premise: request " << engine_requests[i].id
                   << " computed its prompt by " << engine_requests[i].first_token_s << " s, after request "
                   << engine_requests[i + 1].id << " arrived at " << engine_requests[i + 1].arrival_s << " s";
  }
  const auto e = cached(dir + "/engine.h5"), s = cached(dir + "/sim.h5");
  ASSERT_EQ(e.size(), 8u);
  ASSERT_EQ(s.size(), 8u);
  for (int64_t id = 0; id < 8; ++id) {
    EXPECT_EQ(e.at(id), expected[id]) << "engine, request " << id;
    EXPECT_EQ(s.at(id), expected[id]) << "simulator, request " << id;
  }
}
