// Fast mode (one event per change) equals iteration-level stepping, and runs are reproducible.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sstream>

#include <map>

#include "../support/aifsim_process.hpp"
#include "aif/analysis/results.hpp"

using namespace aif::testing;
using aif::analysis::ResultsReader;

namespace {
const std::string SCENARIO = source_path("tests/data/scenarios/trace_small.yaml");
}

TEST(Fidelity, FastModeEqualsIterationLevel) {
  const std::string dir = scratch_dir("fidelity");
  const auto fast = run_aifsim("run " + SCENARIO + " -q -o " + dir + "/fast.h5");
  ASSERT_EQ(fast.exit_code, 0) << fast.output;
  const auto slow = run_aifsim("run " + SCENARIO + " -q --iteration-level -o " + dir + "/slow.h5");
  ASSERT_EQ(slow.exit_code, 0) << slow.output;
  ResultsReader a(dir + "/fast.h5"), b(dir + "/slow.h5");
  std::map<int64_t, aif::analysis::RequestRecord> by_id;
  for (const auto& r : b.requests()) by_id[r.id] = r;
  const auto fast_requests = a.requests();
  ASSERT_EQ(fast_requests.size(), by_id.size());
  ASSERT_EQ(fast_requests.size(), 2500u);
  int preempted = 0;
  for (const auto& r : fast_requests) {
    const auto& s = by_id.at(r.id);
    ASSERT_EQ(r.outcome, s.outcome) << "request " << r.id;
    ASSERT_EQ(r.replica, s.replica) << "request " << r.id;
    ASSERT_EQ(r.generated_tokens, s.generated_tokens);
    ASSERT_EQ(r.preemptions, s.preemptions);
    preempted += r.preemptions > 0;
    ASSERT_NEAR(r.first_token_s, s.first_token_s, 1e-9 * s.first_token_s) << "request " << r.id;
    ASSERT_NEAR(r.finish_s, s.finish_s, 1e-9 * s.finish_s) << "request " << r.id;
  }
  EXPECT_GT(preempted, 0) << "the scenario is meant to exercise preemption";
  // Same energy, far fewer events.
  const double ea = *a.summary_value("gpu_energy"), eb = *b.summary_value("gpu_energy");
  EXPECT_NEAR(ea, eb, 1e-9 * eb);
  const double events_fast = *a.summary_value("events"), events_slow = *b.summary_value("events");
  std::printf("events: fast %.0f, iteration-level %.0f (%.1fx fewer)\n", events_fast, events_slow,
              events_slow / events_fast);
  EXPECT_LT(events_fast * 3, events_slow);
}

TEST(Determinism, SameSeedGivesIdenticalFileAndFingerprint) {
  const std::string dir = scratch_dir("determinism");
  const std::string out = dir + "/run.h5";
  auto r1 = run_aifsim("run " + SCENARIO + " -o " + out + " --seed 3");
  ASSERT_EQ(r1.exit_code, 0) << r1.output;
  const std::string first = read_bytes(out);
  auto r2 = run_aifsim("run " + SCENARIO + " -o " + out + " --seed 3");
  ASSERT_EQ(r2.exit_code, 0) << r2.output;
  EXPECT_EQ(first, read_bytes(out)) << "results files differ byte for byte";
  auto fp = [](const std::string& text) { return text.substr(text.find("fingerprint")); };
  EXPECT_EQ(fp(r1.output).substr(0, 40), fp(r2.output).substr(0, 40));
  auto r3 = run_aifsim("run " + SCENARIO + " -o " + dir + "/other.h5 --seed 4");
  ASSERT_EQ(r3.exit_code, 0) << r3.output;
  EXPECT_NE(ResultsReader(out).stored_fingerprint(), ResultsReader(dir + "/other.h5").stored_fingerprint());
}

// The live view's slicing (--progress-json, --partial-on-stop without a stop) changes nothing in a run: the same
// fingerprint and the same job steps, also for scenarios where training goes on after the last request (the slices
// used to stop at the first one when no request was left, cutting a job short when drain was off).
TEST(Determinism, ProgressSlicesDoNotChangeTheRun) {
  const std::string dir = scratch_dir("progress_slices");
  for (const std::string name : {"ops_shrink", "power_carbon_aware"}) {
    const std::string scenario = source_path("tests/data/scenarios/" + name + ".yaml") + " --set simulation.drain=false";
    const auto plain = run_aifsim("run " + scenario + " -q -o " + dir + "/" + name + "_plain.h5");
    ASSERT_EQ(plain.exit_code, 0) << plain.output;
    const auto sliced = run_aifsim("run " + scenario + " --progress-json --partial-on-stop -o " + dir + "/" + name +
                                   "_sliced.h5");
    ASSERT_EQ(sliced.exit_code, 0) << sliced.output;
    // The progress lines are JSON: the last slice reports fraction 1, and the done line a complete run.
    bool last_slice = false, complete = false;
    std::istringstream lines(sliced.output);
    for (std::string line; std::getline(lines, line);) {
      if (line.empty() || line[0] != '{' || !nlohmann::json::accept(line)) continue;
      const nlohmann::json j = nlohmann::json::parse(line);
      if (j.contains("fraction") && j["fraction"].get<double>() == 1.0) last_slice = true;
      if (j.contains("done") && j.contains("partial") && j["partial"] == false) complete = true;
    }
    EXPECT_TRUE(last_slice) << "no last slice: " << sliced.output;
    EXPECT_TRUE(complete) << sliced.output;
    aif::analysis::ResultsReader a(dir + "/" + name + "_plain.h5"), b(dir + "/" + name + "_sliced.h5");
    EXPECT_EQ(a.meta().at("fingerprint"), b.meta().at("fingerprint")) << name;
    EXPECT_EQ(a.job_step_count(), b.job_step_count()) << name;
    EXPECT_GT(a.job_step_count(), 0u) << name;
  }
}
