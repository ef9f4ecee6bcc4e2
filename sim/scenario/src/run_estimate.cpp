#include "aif/scenario/run_estimate.hpp"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "aif/inputs/input_error.hpp"

namespace aif::sim {

namespace {

double mean_of(const LengthDist& d) {
  switch (d.kind) {
    case LengthDist::Kind::FIXED: return d.value;
    case LengthDist::Kind::UNIFORM: return (d.min + d.max) / 2;
    case LengthDist::Kind::LOGNORMAL: {
      const double m = d.median * std::exp(d.sigma * d.sigma / 2);
      return d.max > 0 ? std::min(m, d.max) : m;
    }
  }
  return d.value;
}

double file_bytes(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0.0 : static_cast<double>(size);
}

// The line of a key path ("simulation.sample_interval", "workloads[1].arrival.rate") in the scenario file, 0 when
// it is not written there (a default, or given with --set).
int line_of(const Scenario& sc, const std::string& key_path) {
  if (sc.source_path.empty()) return 0;
  try {
    YAML::Node node = YAML::LoadFile(sc.source_path);
    std::istringstream parts(key_path);
    for (std::string part; std::getline(parts, part, '.');) {
      const auto bracket = part.find('[');
      const std::string key = part.substr(0, bracket);
      if (!node.IsMap() || !node[key]) return 0;
      node = node[key];
      if (bracket != std::string::npos) {
        const size_t index = std::stoul(part.substr(bracket + 1));
        if (!node.IsSequence() || index >= node.size()) return 0;
        node = node[index];
      }
    }
    return node.Mark().line + 1;
  } catch (const std::exception&) {
    return 0;
  }
}

std::string human(double v) {
  char buf[32];
  if (v >= 1e9) std::snprintf(buf, sizeof buf, "%.3gG", v / 1e9);
  else if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.3gM", v / 1e6);
  else if (v >= 1e4) std::snprintf(buf, sizeof buf, "%.3gk", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

std::string bytes(double v) {
  char buf[32];
  if (v >= 1e12) std::snprintf(buf, sizeof buf, "%.3g TB", v / 1e12);
  else if (v >= 1e9) std::snprintf(buf, sizeof buf, "%.3g GB", v / 1e9);
  else if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.3g MB", v / 1e6);
  else std::snprintf(buf, sizeof buf, "%.3g kB", v / 1e3);
  return buf;
}

// Bytes of a row as the results file stores it (HDF5 compound types, packed).
constexpr double REQUEST_ROW = 8 + 3 * 4 + 3 * 8 + 4 * 4 + 1 + 4;
constexpr double ITERATION_ROW = 64;
constexpr double SAMPLE = 8;
// Events per request in fast mode: arrival, admission, first token, finish (bench/: 3.9 measured).
constexpr double FAST_EVENTS_PER_REQUEST = 4;
// Iteration-level steps: one per output token of a request run alone, and no more than 200 steps a second per
// replica (5 ms, below the shortest decode step of the catalog's models on its GPUs).
constexpr double MAX_STEPS_PER_S = 200;
// Fixed series of every run (power, GPUs, requests, link utilisation) and the power model's (grid, battery, cooling)
// at most; four per service.
constexpr int FIXED_SERIES = 8 + 9 + 16;
constexpr int SERIES_PER_SERVICE = 4;
// Write buffers: one chunk of rows per table (ResultsWriter::DEFAULT_CHUNK_ROWS).
constexpr double CHUNK_ROWS = 65536;

}  // namespace

RunEstimate estimate_run(const Scenario& sc, bool iteration_level) {
  RunEstimate e;
  const double duration = sc.simulation.duration_s;
  e.samples = std::floor(duration / sc.simulation.sample_interval_s) + 1;
  e.series = FIXED_SERIES + SERIES_PER_SERVICE * static_cast<int>(sc.services.size());
  double output_tokens = 0, largest_requests = -1, trace_memory = 0;
  for (size_t w = 0; w < sc.workloads.size(); ++w) {
    const WorkloadConfig& wl = sc.workloads[w];
    const ArrivalConfig& a = wl.arrival;
    double n = 0;
    switch (a.kind) {
      case ArrivalConfig::Kind::POISSON:
      case ArrivalConfig::Kind::GAMMA: n = a.rate_per_s * duration; break;
      case ArrivalConfig::Kind::DIURNAL: {
        double mean = 0;
        for (double v : a.diurnal_curve) mean += v;
        n = a.rate_per_s * (a.diurnal_curve.empty() ? 1 : mean / static_cast<double>(a.diurnal_curve.size())) * duration;
        break;
      }
      case ArrivalConfig::Kind::TRACE:
        n = static_cast<double>(sc.traces.at(a.trace_path)->size());
        trace_memory += 3 * file_bytes(a.trace_path);  // rows and their block-hash lists, held for the run
        break;
    }
    if (wl.conversation.present()) n *= std::max(1.0, mean_of(wl.conversation.turns));
    if (a.max_requests >= 0) n = std::min(n, static_cast<double>(a.max_requests));
    e.requests += n;
    if (a.kind != ArrivalConfig::Kind::TRACE) output_tokens += n * mean_of(a.output_tokens);
    else output_tokens += n * 256;  // traces: a typical chat answer, as the Azure and Mooncake traces' medians go
    if (n > largest_requests) {
      largest_requests = n;
      const std::string key = "workloads[" + std::to_string(w) + "].arrival";
      e.largest_key = a.kind == ArrivalConfig::Kind::TRACE ? key + ".max_requests" : key + ".rate";
      e.largest_advice = a.kind == ArrivalConfig::Kind::TRACE ? "replay fewer rows (max_requests)"
                                                              : "lower the rate or shorten simulation.duration";
    }
  }
  int replicas = 0;
  for (const ServiceConfig& s : sc.services) replicas += s.total_replicas();
  if (iteration_level) {
    e.iteration_rows = std::min(output_tokens, replicas * duration * MAX_STEPS_PER_S);
    e.events = e.iteration_rows + 2 * e.requests;
  } else {
    e.events = FAST_EVENTS_PER_REQUEST * e.requests;
  }
  const double request_bytes = e.requests * REQUEST_ROW;
  const double sample_bytes = e.samples * e.series * SAMPLE;
  const double iteration_bytes = e.iteration_rows * ITERATION_ROW;
  e.results_bytes = request_bytes + sample_bytes + iteration_bytes;
  if (sample_bytes >= request_bytes && sample_bytes >= iteration_bytes) {
    e.largest_key = "simulation.sample_interval";
    e.largest_advice = "sample less often";
  } else if (iteration_bytes > request_bytes) {
    e.largest_key = "simulation.duration";
    e.largest_advice = "run iteration-level for a shorter time, or in fast mode";
  }
  e.memory_bytes = trace_memory + CHUNK_ROWS * (REQUEST_ROW + ITERATION_ROW + e.series * SAMPLE);
  return e;
}

namespace {

double memory_limit_of(const RunLimits& limits) {
  return limits.max_memory_bytes > 0
             ? limits.max_memory_bytes
             : static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

}  // namespace

int64_t max_requests_held(const RunLimits& limits) {
  return static_cast<int64_t>(memory_limit_of(limits) / 2 / BYTES_PER_HELD_REQUEST);
}

void check_run_limits(const Scenario& sc, const RunEstimate& e, const RunLimits& limits) {
  const double memory_limit = memory_limit_of(limits);
  auto refuse = [&](const std::string& key, const std::string& what, const std::string& advice) {
    throw ScenarioError(sc.source_path.empty() ? "<scenario>" : sc.source_path, line_of(sc, key), key,
                        what + "; " + advice + ", or run with --no-limits to go ahead (" + describe(e) + ")");
  };
  if (e.samples > limits.max_samples) {
    char what[256];
    std::snprintf(what, sizeof what, "a sample every %g s over %g s is %s rows per time series, above the limit of %s",
                  sc.simulation.sample_interval_s, sc.simulation.duration_s, human(e.samples).c_str(),
                  human(limits.max_samples).c_str());
    refuse("simulation.sample_interval", what, "raise sample_interval");
  }
  if (e.results_bytes > limits.max_results_bytes)
    refuse(e.largest_key, "the results file would hold about " + bytes(e.results_bytes) + ", above the limit of " +
                              bytes(limits.max_results_bytes),
           e.largest_advice);
  if (e.memory_bytes > memory_limit)
    refuse(e.largest_key, "the run would need about " + bytes(e.memory_bytes) + " of memory, more than this machine's " +
                              bytes(memory_limit),
           e.largest_advice);
}

std::string describe(const RunEstimate& e) {
  std::string s = "estimate: ~" + human(e.requests) + " requests, " + human(e.samples) + " samples x " +
                  std::to_string(e.series) + " series, ~" + human(e.events) + " events";
  if (e.iteration_rows > 0) s += ", up to " + human(e.iteration_rows) + " iteration rows";
  return s + ", results ~" + bytes(e.results_bytes) + ", memory ~" + bytes(e.memory_bytes) + " beyond the base";
}

}  // namespace aif::sim
