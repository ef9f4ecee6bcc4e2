// Prefix caching by content through the whole simulator: a Mooncake-format trace whose prompts name their blocks,
// served by one replica (tests/data/scenarios/plan_prefix_cache.yaml), against counts worked out by hand; both
// fidelity modes agree request by request.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "../support/aifsim_process.hpp"
#include "aif/analysis/results.hpp"

using namespace aif::testing;

namespace {

std::map<std::string, double> summary_of(const std::string& path) {
  std::map<std::string, double> out;
  for (const auto& e : aif::analysis::ResultsReader(path).summary()) out[e.name] = e.value;
  return out;
}

}  // namespace

// 100 requests 0.1 s apart, each the same 1,024-token prompt (ids [0, 1]) and one output token; 10 ms steps of at most
// 64 tokens, blocks of 16. The first request computes its prompt in 16 steps (0 to 0.16 s), registering 4 blocks a
// step; the second, arriving at 0.1 s, waits for the budget and is admitted once the first's prompt is done, finding
// all 64 blocks of which it may use (1,024 - 1) / 16 = 63: 1,008 tokens cached, 16 computed. So does every later one.
// Cached: 99 x 1,008 = 99,792 of 102,400 prompt tokens (0.97453125); prefill tokens computed 1,024 + 99 x 16 = 2,608.
TEST(PrefixCacheRun, EveryRequestRepeatsAPrefix) {
  const std::string dir = scratch_dir("prefix_cache_run");
  const std::string scenario = source_path("tests/data/scenarios/plan_prefix_cache.yaml");
  const auto fast = run_aifsim("run " + scenario + " -o " + dir + "/fast.h5 --quiet");
  ASSERT_EQ(fast.exit_code, 0) << fast.output;
  const auto slow = run_aifsim("run " + scenario + " -o " + dir + "/slow.h5 --quiet --iteration-level");
  ASSERT_EQ(slow.exit_code, 0) << slow.output;

  auto s = summary_of(dir + "/fast.h5");
  EXPECT_EQ(s.at("finished"), 100);
  EXPECT_EQ(s.at("llm.prefix_cached_tokens"), 99 * 1008);
  EXPECT_DOUBLE_EQ(s.at("llm.prefix_cache_hit_rate"), 99.0 * 1008 / 102400);
  EXPECT_EQ(s.at("llm.prefix_cache_evictions"), 0);  // 64 blocks of content, never handed out again

  aif::analysis::ResultsReader slow_results(dir + "/slow.h5");
  int64_t prefill = 0;
  for (const auto& it : slow_results.iterations()) prefill += it.prefill_tokens;
  EXPECT_EQ(prefill, 1024 + 99 * 16);

  // Both modes: the same requests at the same times, with the same cached tokens.
  const auto a = aif::analysis::ResultsReader(dir + "/fast.h5").requests();
  const auto b = slow_results.requests();
  ASSERT_EQ(a.size(), b.size());
  std::map<int64_t, std::pair<double, int32_t>> by_id;
  for (const auto& r : a) by_id[r.id] = {r.finish_s, r.cached_tokens};
  for (const auto& r : b) {
    EXPECT_EQ(by_id.at(r.id).first, r.finish_s) << "request " << r.id;
    EXPECT_EQ(by_id.at(r.id).second, r.cached_tokens) << "request " << r.id;
    EXPECT_EQ(r.cached_tokens, r.id == 0 ? 0 : 1008) << "request " << r.id;
  }
  EXPECT_EQ(aif::analysis::ResultsReader(dir + "/fast.h5").stored_fingerprint(),
            slow_results.stored_fingerprint());

  // Without prefix caching every prompt is computed in full.
  const auto off = run_aifsim("run " + scenario + " -o " + dir + "/off.h5 --quiet --iteration-level" +
                              " --set services[0].scheduler.prefix_caching=false");
  ASSERT_EQ(off.exit_code, 0) << off.output;
  int64_t off_prefill = 0;
  for (const auto& it : aif::analysis::ResultsReader(dir + "/off.h5").iterations()) off_prefill += it.prefill_tokens;
  EXPECT_EQ(off_prefill, 100 * 1024);
  EXPECT_EQ(summary_of(dir + "/off.h5").count("llm.prefix_cache_hit_rate"), 0u);
}
