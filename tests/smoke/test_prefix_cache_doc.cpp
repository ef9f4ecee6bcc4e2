// docs/prefix-caching.md quotes the Mooncake example per router and two capacity plans, README.md the plans' choices:
// rerun the commands and check every quoted figure (the runs are deterministic: they must match to the printed digit).
#include <gtest/gtest.h>

#include <cstdarg>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "../support/aifsim_process.hpp"
#include "aif/analysis/plan_table.hpp"
#include "aif/analysis/results.hpp"

using namespace aif::testing;

namespace {

std::string format(const char* pattern, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* pattern, ...) {
  char buf[512];
  va_list args;
  va_start(args, pattern);
  std::vsnprintf(buf, sizeof buf, pattern, args);
  va_end(args);
  return buf;
}

// plan.csv as rows of column -> cell, read through the table's one reader (aif/analysis/plan_table.hpp).
std::vector<std::map<std::string, std::string>> read_plan_csv(const std::string& path) {
  const auto cells = aif::analysis::plan_table_cells(aif::analysis::read_plan_table(path));
  std::vector<std::map<std::string, std::string>> rows;
  for (size_t r = 1; r < cells.size(); ++r) {
    rows.emplace_back();
    for (size_t c = 0; c < cells.front().size(); ++c) rows.back()[cells.front()[c]] = cells[r][c];
  }
  return rows;
}

}  // namespace

TEST(PrefixCacheDoc, RouterTableAndPlansAreWhatTheCommandsGive) {
  const std::string doc = read_bytes(source_path("docs/prefix-caching.md"));
  ASSERT_FALSE(doc.empty());
  std::string readme = read_bytes(source_path("README.md"));
  for (char& c : readme) c = c == '\n' ? ' ' : c;  // a quoted phrase may wrap
  const std::string dir = scratch_dir("prefix_cache_doc");
  for (const std::string router : {"round-robin", "least-outstanding-tokens", "cache-aware"}) {
    const std::string out = dir + "/" + router + ".h5";
    const auto r = run_aifsim("run " + source_path("scenarios/examples/mooncake_trace.yaml") + " -o " + out +
                              " --quiet --set services[0].router=" + router);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::map<std::string, double> s;
    for (const auto& e : aif::analysis::ResultsReader(out).summary()) s[e.name] = e.value;
    const std::string row = format("| %s | %.1f %% | %.2f | %.1f | %.0f |", router.c_str(),
                                   100 * s.at("kimi-like.prefix_cache_hit_rate"), s.at("ttft_p99"),
                                   1000 * s.at("tpot_p99"), s.at("kimi-like.prefix_cache_evictions"));
    EXPECT_NE(doc.find(row), std::string::npos) << "docs/prefix-caching.md lacks the row " << row;
  }
  for (const std::string capacity : {"512GB", "2TB"}) {
    const std::string out = dir + "/host-" + capacity + ".h5";
    const auto r = run_aifsim("run " + source_path("scenarios/examples/mooncake_trace.yaml") + " -o " + out +
                              " --quiet --set services[0].router=cache-aware --set 'services[0].kv_host={capacity: " +
                              capacity + ", bandwidth: 64GB/s}'");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::map<std::string, double> s;
    for (const auto& e : aif::analysis::ResultsReader(out).summary()) s[e.name] = e.value;
    const std::string row =
        format("| %s | %.1f %% | %.2f | %.1f | %.0f | %.0f |", capacity.c_str(), 100 * s.at("kimi-like.prefix_cache_hit_rate"),
               s.at("ttft_p99"), 1000 * s.at("tpot_p99"), s.at("kimi-like.kv_host_reloaded_tokens"),
               s.at("kimi-like.kv_host_offloaded_blocks"));
    EXPECT_NE(doc.find(row), std::string::npos) << "docs/prefix-caching.md lacks the row " << row;
  }
  const std::pair<const char*, const char*> plans[] = {{"mooncake_chat", "prefix caching, cache-aware router"},
                                                       {"mooncake_chat_no_cache", "no prefix caching"}};
  for (const auto& [plan, label] : plans) {
    const std::string out = dir + "/" + plan;
    const auto r = run_aifsim("plan " + source_path(std::string("scenarios/plans/") + plan + ".plan.yaml") + " -o " +
                              out + " --jobs 2");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    bool found = false;
    for (const auto& c : read_plan_csv(out + "/plan.csv")) {
      if (c.at("chosen") != "yes") continue;
      found = true;
      const std::string row =
          format("| %s | %s (%s) | %.2f | %.1f | %.2f |", label, c.at("replicas").c_str(), c.at("gpus").c_str(),
                 std::stod(c.at("ttft_p99_s")), 1000 * std::stod(c.at("tpot_p99_s")), std::stod(c.at("cost_per_h")));
      EXPECT_NE(doc.find(row), std::string::npos) << "docs/prefix-caching.md lacks the row " << row;
      const std::string headline = format("%s servers (%s GPUs) at %.2f USD/h", c.at("replicas").c_str(),
                                          c.at("gpus").c_str(), std::stod(c.at("cost_per_h")));
      EXPECT_NE(readme.find(headline), std::string::npos) << "README.md lacks " << headline;
    }
    EXPECT_TRUE(found) << plan << ": no candidate chosen";
  }
}
