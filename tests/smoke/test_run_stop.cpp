// How `aifsim run` ends when actors are still alive at the end (a stop, training jobs cut at the horizon): the
// results are written and the process exits with status 0 (no crash in the engine's teardown), and the final
// --progress-json line is valid JSON whatever the results path holds. A run whose services fall behind stops at
// the bound of requests held.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../support/aifsim_process.hpp"
#include "aif/analysis/results.hpp"

using namespace aif::testing;
using aif::analysis::ResultsReader;

namespace {

// The last non-empty line of a process's output.
std::string last_line(const std::string& output) {
  std::string s = output;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  const size_t nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

// The output without AddressSanitizer's warning that it cannot unpoison a stack it does not know (three lines,
// printed once per process when code throws on a SimGrid actor's stack); unchanged in a normal build.
std::string without_asan_stack_warning(const std::string& output) {
  const size_t at = output.find("WARNING: ASan is ignoring requested __asan_handle_no_return");
  if (at == std::string::npos) return output;
  const size_t begin = output.rfind('\n', at) == std::string::npos ? 0 : output.rfind('\n', at) + 1;
  const std::string last = "google/sanitizers/issues/189\n";
  const size_t end = output.find(last, at);
  return end == std::string::npos ? output : output.substr(0, begin) + output.substr(end + last.size());
}

// Single-quoted for sh: a ' inside becomes '\''.
std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

// SIGTERM during a run (the GUI's Stop and Esc): partial results, the done line saying so, and exit status 0. The
// signal is sent once the first progress line is out, so that the run is under way (the default scenario takes
// seconds, its 200 slices far longer than the wait).
TEST(RunStop, SigtermWritesPartialResultsAndExitsZero) {
  const std::string dir = scratch_dir("run_stop");
  const std::string out = dir + "/stopped.h5", log = dir + "/stdout.jsonl";
  const std::string script = aifsim_binary() + " run " + source_path("scenarios/default.yaml") + " -o " + out +
                             " --progress-json --partial-on-stop > " + log +
                             " & pid=$!; while [ ! -s " + log + " ]; do sleep 0.05; done; kill -TERM $pid; wait $pid";
  const auto r = run_command("sh -c " + sh_quote(script));
  EXPECT_EQ(r.exit_code, 0) << r.output;  // 139 was the segmentation fault in SimGrid's exit handler
  const nlohmann::json done = nlohmann::json::parse(last_line(read_bytes(log)));
  EXPECT_TRUE(done.at("done").get<bool>());
  EXPECT_TRUE(done.at("partial").get<bool>());
  EXPECT_EQ(done.at("results").get<std::string>(), out);
  const ResultsReader res(out);
  EXPECT_EQ(res.meta().at("partial"), "1");
  EXPECT_LT(done.at("simulated_s").get<double>(), 3600.0);
  EXPECT_EQ(done.at("simulated_s").get<double>(), std::stod(res.meta().at("partial_end_s")));
  EXPECT_EQ(res.stored_fingerprint(), res.compute_fingerprint());
}

// Training jobs cut at the horizon without a drain: their actors are alive when the run ends (mid-step, waiting on
// the fabric or on a condition variable). They are killed and unwound before the engine goes: exit 0, nothing on
// stderr from SimGrid, and the same results as the sliced run (the live view's slices change nothing). The plain
// run is unsliced: --no-limits, so no bound on requests held (which is checked between slices).
TEST(RunStop, TrainingJobsCutAtTheHorizonExitCleanly) {
  const std::string dir = scratch_dir("run_horizon");
  const std::string scenario = source_path("scenarios/examples/training.yaml") +
                               " --set simulation.duration=8min --set simulation.drain=false";
  const auto plain = run_command(aifsim_binary() + " run " + scenario + " -q --no-limits -o " + dir + "/plain.h5");
  EXPECT_EQ(plain.exit_code, 0) << plain.output;
  // -q: errors only; no engine warning about actors left behind either. An AddressSanitizer build adds one warning
  // of its own when an actor throws on SimGrid's stacks (Debian's SimGrid has no ASan fiber hooks): not SimGrid's.
  EXPECT_EQ(without_asan_stack_warning(plain.output), "");
  const auto sliced =
      run_command(aifsim_binary() + " run " + scenario + " --progress-json --partial-on-stop -o " + dir + "/sliced.h5");
  EXPECT_EQ(sliced.exit_code, 0) << sliced.output;
  const nlohmann::json done = nlohmann::json::parse(last_line(sliced.output));
  EXPECT_FALSE(done.at("partial").get<bool>());
  const ResultsReader a(dir + "/plain.h5"), b(dir + "/sliced.h5");
  EXPECT_EQ(a.meta().at("fingerprint"), b.meta().at("fingerprint"));
  EXPECT_GT(a.job_step_count(), 0u);
}

// The done line is written by a JSON library: a results path with a quote and a backslash stays one valid string.
TEST(RunStop, TheDoneLineIsValidJsonForAnyResultsPath) {
  const std::string dir = scratch_dir("run_done_line");
  const std::string out = dir + "/a \"quoted\" back\\slash.h5";
  const auto r = run_command(aifsim_binary() + " run " + source_path("scenarios/examples/poisson.yaml") +
                             " --set simulation.duration=30s --progress-json -o " + sh_quote(out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  size_t lines = 0;
  std::string line, text = r.output;
  for (size_t start = 0, nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    line = text.substr(start, nl - start);
    EXPECT_TRUE(nlohmann::json::accept(line)) << line;  // every progress line too
    ++lines;
  }
  EXPECT_EQ(lines, 201u);  // 200 slices and the done line
  const nlohmann::json done = nlohmann::json::parse(last_line(r.output));
  EXPECT_EQ(done.at("results").get<std::string>(), out);
  EXPECT_FALSE(done.at("partial").get<bool>());
  EXPECT_EQ(done.at("fingerprint").get<std::string>(), ResultsReader(out).meta().at("fingerprint"));
}

// A load the services cannot serve (20,000 requests/s of 1,000-token prompts on one Llama-3.1-8B replica: none
// finishes in the first second) stops at the first slice after more than --max-requests-held requests are waiting,
// with partial results and one message that names the bound, the service and what to change. 10,001 Poisson
// arrivals at 20,000/s come at about 0.50 s (sd 0.005 s); the 60 s run has 200 slices of 0.3 s, so it stops at 0.6 s,
// having taken about 12,000 arrivals (sd 110). With --no-limits nothing stops it.
TEST(RunStop, ALoadTheServicesCannotServeStopsAtTheBoundOfRequestsHeld) {
  const std::string dir = scratch_dir("run_backlog");
  const std::string scenario = dir + "/overloaded.yaml", out = dir + "/overloaded.h5";
  std::ofstream(scenario) << "simulation: {duration: 60s, drain: false}\n"
                             "services:\n  - {name: chat, model: Llama-3.1-8B, replicas: 1}\n"
                             "workloads:\n  - {name: users, service: chat, arrival: {kind: poisson, rate: 20000/s,"
                             " prompt_tokens: 1000, output_tokens: 200}}\n";
  const auto r = run_aifsim("run " + scenario + " -q --max-requests-held 10000 -o " + out);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  const std::vector<std::string> message{"the run stopped early", "above the bound of 10000", "service 'chat'",
                                     "--max-requests-held", "--no-limits", out};
  for (const std::string& says : message)
    EXPECT_NE(r.output.find(says), std::string::npos) << says << "\n" << r.output;
  const ResultsReader res(out);
  EXPECT_EQ(res.meta().at("partial"), "1");
  EXPECT_NEAR(std::stod(res.meta().at("partial_end_s")), 0.6, 1e-9);
  const double requests = static_cast<double>(res.request_count());
  EXPECT_GT(requests, 12000 - 5 * 110);
  EXPECT_LT(requests, 12000 + 5 * 110);
  EXPECT_EQ(*res.summary_value("finished"), 0);
  bool said = false;
  for (const auto& e : res.events())
    if (e.kind == "run_stopped") said = e.detail.find("above the bound of 10000") != std::string::npos;
  EXPECT_TRUE(said) << "the run_stopped event gives the reason";
  // Its report says it is partial before anything else, and up to when (0.6 s).
  const auto report = run_aifsim("report " + out + " -o " + dir + "/partial.html");
  ASSERT_EQ(report.exit_code, 0) << report.output;
  std::ifstream html_in(dir + "/partial.html");
  const std::string html((std::istreambuf_iterator<char>(html_in)), std::istreambuf_iterator<char>());
  const size_t banner = html.find("<p class=\"banner partial\"><b>Partial run.</b>");
  ASSERT_NE(banner, std::string::npos);
  EXPECT_LT(banner, html.find("<h2 id=\"summary\">"));
  EXPECT_NE(html.find("up to the stop (0.6 s)"), std::string::npos);
  EXPECT_NE(html.find("<title>aifsim report: overloaded.h5 (partial)</title>"), std::string::npos);

  const auto unbounded = run_aifsim("run " + scenario + " -q --no-limits --set simulation.duration=2s -o " + out);
  EXPECT_EQ(unbounded.exit_code, 0) << unbounded.output;
  EXPECT_EQ(ResultsReader(out).meta().count("partial"), 0u);
}
