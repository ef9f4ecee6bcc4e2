#include "aif/analysis/chrome_trace.hpp"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

namespace aif::analysis {

namespace {

constexpr int REPLICAS = 1, JOBS = 2, EVENTS = 3;

nlohmann::json process_name(int pid, const std::string& name) {
  return {{"ph", "M"}, {"pid", pid}, {"tid", 0}, {"name", "process_name"}, {"args", {{"name", name}}}};
}

double us(double s) { return s * 1e6; }

}  // namespace

ChromeTraceCounts write_chrome_trace(const ResultsReader& results, const std::string& path) {
  ChromeTraceCounts counts;
  nlohmann::json events = nlohmann::json::array();
  events.push_back(process_name(REPLICAS, "replicas"));
  events.push_back(process_name(JOBS, "jobs"));
  events.push_back(process_name(EVENTS, "events"));
  results.for_each_iteration_chunk([&](const std::vector<IterationRecord>& chunk) {
    for (const IterationRecord& it : chunk) {
      events.push_back({{"ph", "X"},
                        {"pid", REPLICAS},
                        {"tid", it.replica},
                        {"name", it.prefill_tokens > 0 ? "step (prefill)" : "step"},
                        {"ts", us(it.start_s)},
                        {"dur", us(it.duration_s)},
                        {"args",
                         {{"seqs", it.num_seqs},
                          {"prefill_tokens", it.prefill_tokens},
                          {"decode_tokens", it.decode_tokens},
                          {"context_tokens", it.context_tokens}}}});
      ++counts.iterations;
    }
  });
  const std::vector<std::string> jobs = results.job_names();
  for (size_t j = 0; j < jobs.size(); ++j)
    events.push_back({{"ph", "M"}, {"pid", JOBS}, {"tid", j}, {"name", "thread_name"}, {"args", {{"name", jobs[j]}}}});
  results.for_each_job_step_chunk([&](const std::vector<JobStepRecord>& chunk) {
    for (const JobStepRecord& st : chunk) {
      events.push_back({{"ph", "X"},
                        {"pid", JOBS},
                        {"tid", st.job},
                        {"name", "step " + std::to_string(st.step)},
                        {"ts", us(st.start_s)},
                        {"dur", us(st.end_s - st.start_s)},
                        {"args",
                         {{"compute_s", st.compute_s},
                          {"exposed_comm_s", st.exposed_comm_s},
                          {"checkpoint_s", st.checkpoint_s}}}});
      ++counts.job_steps;
    }
  });
  for (const EventRecord& e : results.events()) {
    events.push_back({{"ph", "i"},
                      {"s", "g"},
                      {"pid", EVENTS},
                      {"tid", 0},
                      {"name", e.kind + " " + e.target},
                      {"ts", us(e.time_s)},
                      {"args", {{"target", e.target}, {"detail", e.detail}}}});
    ++counts.events;
  }
  const nlohmann::json trace = {{"traceEvents", std::move(events)}, {"displayTimeUnit", "ms"}};
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << trace.dump();
    if (!out) throw ResultsError(path + ": cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw ResultsError(path + ": cannot rename " + tmp + " to it");
  return counts;
}

}  // namespace aif::analysis
