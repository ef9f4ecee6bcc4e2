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

// The host tier by hand (tests/data/scenarios/kv_host_reload.yaml). A (ids [0, 1]) computes its 64 blocks in one
// 10 ms step and leaves them cached. B (other content) takes the 6 blocks never used, then 58 of A's from the free
// list, tail first (A freed its tail first): A's positions 63..6 go to host memory (58 offloads), 0..5 stay in HBM.
// A again (C): 6 blocks found in HBM, the next 57 in host memory (at most (1,024 - 1) / 16 = 63 blocks from any cache):
// 57 x 16 = 912 tokens reloaded, 1,008 cached, 16 computed. Its step: 10 ms + 912 tokens x 131,072 B (Llama-3.1-8B:
// 32 layers x 8 KV heads x 128 x 2 (K, V) x 2 bytes) / 16 GB/s = 10 ms + 7.471104 ms. Its 58 new blocks evict B's
// content into host memory in turn: 116 offloads in all.
TEST(PrefixCacheRun, ReloadFromHostMemoryCostsBytesOverBandwidth) {
  const std::string dir = scratch_dir("kv_host_reload");
  const std::string scenario = source_path("tests/data/scenarios/kv_host_reload.yaml");
  for (const char* mode : {"", " --iteration-level"}) {
    const auto r = run_aifsim("run " + scenario + " -o " + dir + "/r.h5 --quiet" + mode);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto s = summary_of(dir + "/r.h5");
    EXPECT_EQ(s.at("llm.kv_host_reloaded_tokens"), 912) << mode;
    EXPECT_EQ(s.at("llm.kv_host_offloaded_blocks"), 116) << mode;
    EXPECT_DOUBLE_EQ(s.at("llm.kv_host_traffic"), (116.0 * 16 + 912) * 131072) << mode;
    std::map<int64_t, aif::analysis::RequestRecord> by_id;
    for (const auto& q : aif::analysis::ResultsReader(dir + "/r.h5").requests()) by_id[q.id] = q;
    ASSERT_EQ(by_id.size(), 3u);
    EXPECT_NEAR(by_id.at(0).first_token_s - by_id.at(0).arrival_s, 0.010, 1e-12) << mode;
    EXPECT_EQ(by_id.at(1).cached_tokens, 0) << mode;
    EXPECT_EQ(by_id.at(2).cached_tokens, 1008) << mode;
    EXPECT_NEAR(by_id.at(2).first_token_s - by_id.at(2).arrival_s, 0.010 + 912.0 * 131072 / 16e9, 1e-12) << mode;
  }
}

// The same three prompts with host memory for 20 blocks and a disk under it (tests/data/scenarios/kv_disk_reload.yaml).
// A's blocks 63..6 leave HBM tail first; host memory keeps the last 20 (25..6) and pushes the 38 before them (63..26)
// to disk. C (A again) finds 6 blocks in HBM, then 20 in host memory (320 tokens) and 37 on disk (26..62, 592 tokens):
// its step is longer by 320 x 131,072 B / 16 GB/s + 592 x 131,072 B / 8 GB/s = 2.62144 + 9.699328 ms. Disk writes: A's
// 38, then one per block of B's content that C's blocks push into full host memory, 58: 96.
TEST(PrefixCacheRun, ReloadFromDiskCostsBytesOverTheDrivesBandwidth) {
  const std::string dir = scratch_dir("kv_disk_reload");
  const std::string scenario = source_path("tests/data/scenarios/kv_disk_reload.yaml");
  for (const char* mode : {"", " --iteration-level"}) {
    const auto r = run_aifsim("run " + scenario + " -o " + dir + "/r.h5 --quiet" + mode);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto s = summary_of(dir + "/r.h5");
    EXPECT_EQ(s.at("llm.kv_host_reloaded_tokens"), 320) << mode;
    EXPECT_EQ(s.at("llm.kv_disk_reloaded_tokens"), 592) << mode;
    EXPECT_EQ(s.at("llm.kv_host_offloaded_blocks"), 116) << mode;
    EXPECT_EQ(s.at("llm.kv_disk_written_blocks"), 96) << mode;
    EXPECT_DOUBLE_EQ(s.at("llm.kv_disk_traffic"), (96.0 * 16 + 592) * 131072) << mode;
    std::map<int64_t, aif::analysis::RequestRecord> by_id;
    for (const auto& q : aif::analysis::ResultsReader(dir + "/r.h5").requests()) by_id[q.id] = q;
    ASSERT_EQ(by_id.size(), 3u);
    EXPECT_EQ(by_id.at(2).cached_tokens, 1008) << mode;
    EXPECT_NEAR(by_id.at(2).first_token_s - by_id.at(2).arrival_s, 0.010 + 320.0 * 131072 / 16e9 + 592.0 * 131072 / 8e9,
                1e-12)
        << mode;
  }
}

// Synthetic conversations (tests/data/scenarios/conversations.yaml). Turn 1: 1,600 + 160 = 1,760 tokens (110 blocks of
// 16); turn 2: 1,760 + 16 + 160 = 1,936 (121); turn 3: 1,936 + 16 + 160 = 2,112. Each later turn comes 20 s after the
// one before, long after its prompt was computed: it finds that prompt's blocks (the answer's 16 tokens are not
// named, as only prompts are), 1,760 and 1,936 tokens. A first turn finds the 100 blocks of the system prompt, 1,600
// tokens, once any request has computed them: all but the very first. Conversations opened in the last 40 s lose the
// turns that would come after the run, so the counts come from /requests.
TEST(PrefixCacheRun, ConversationsFindTheirEarlierTurnsAndTheSystemPrompt) {
  const std::string dir = scratch_dir("conversations_run");
  const std::string scenario = source_path("tests/data/scenarios/conversations.yaml");
  const auto fast = run_aifsim("run " + scenario + " -o " + dir + "/fast.h5 --quiet");
  ASSERT_EQ(fast.exit_code, 0) << fast.output;
  const auto slow = run_aifsim("run " + scenario + " -o " + dir + "/slow.h5 --quiet --iteration-level");
  ASSERT_EQ(slow.exit_code, 0) << slow.output;
  const aif::analysis::ResultsReader results(dir + "/fast.h5");
  std::map<int, int64_t> turns;  // prompt tokens -> requests
  int64_t expected = 0, prompts = 0;
  bool first = true;
  for (const auto& r : results.requests()) {
    ++turns[r.prompt_tokens];
    prompts += r.prompt_tokens;
    const int32_t cached = r.prompt_tokens == 1760 ? (first ? 0 : 1600) : r.prompt_tokens == 1936 ? 1760 : 1936;
    if (r.prompt_tokens == 1760) first = false;
    EXPECT_EQ(r.cached_tokens, cached) << "request " << r.id << " of " << r.prompt_tokens << " tokens";
    expected += cached;
  }
  ASSERT_EQ(turns.size(), 3u);  // 1,760, 1,936 and 2,112 tokens only
  EXPECT_GT(turns.at(2112), 40);
  auto s = summary_of(dir + "/fast.h5");
  EXPECT_EQ(s.at("chat.prefix_cached_tokens"),
            static_cast<double>((turns.at(1760) - 1) * 1600 + turns.at(1936) * 1760 + turns.at(2112) * 1936));
  EXPECT_EQ(s.at("chat.prefix_cached_tokens"), static_cast<double>(expected));
  EXPECT_DOUBLE_EQ(s.at("chat.prefix_cache_hit_rate"), static_cast<double>(expected) / static_cast<double>(prompts));
  EXPECT_EQ(results.stored_fingerprint(), aif::analysis::ResultsReader(dir + "/slow.h5").stored_fingerprint());
}

// With prefill/decode disaggregation the prefill replica's cache does the sparing, and the request's record (written by
// the decode replica) says so (tests/data/scenarios/disaggregated_prefix_cache.yaml): request 0 computes its prompt,
// each later one finds 63 of its 64 blocks, 1,008 tokens; the service's hit rate is 9 x 1,008 / 10,240.
TEST(PrefixCacheRun, DisaggregatedRequestsCarryThePrefillReplicasHits) {
  const std::string dir = scratch_dir("disaggregated_prefix_cache");
  const auto r = run_aifsim("run " + source_path("tests/data/scenarios/disaggregated_prefix_cache.yaml") + " -o " + dir +
                            "/run.h5 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const aif::analysis::ResultsReader results(dir + "/run.h5");
  int finished = 0;
  for (const auto& q : results.requests()) {
    ASSERT_EQ(q.outcome, aif::analysis::Outcome::FINISHED) << "request " << q.id;
    EXPECT_EQ(q.generated_tokens, 4) << "request " << q.id;
    EXPECT_EQ(q.cached_tokens, q.id == 0 ? 0 : 1008) << "request " << q.id;
    ++finished;
  }
  EXPECT_EQ(finished, 10);
  auto s = summary_of(dir + "/run.h5");
  EXPECT_EQ(s.at("llm.prefix_cached_tokens"), 9 * 1008);
  EXPECT_DOUBLE_EQ(s.at("llm.prefix_cache_hit_rate"), 9.0 * 1008 / 10240);
}
